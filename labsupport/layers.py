"""Pure: the layer format: a blob's compression, the entries of its tar, whiteouts, and deterministic tars.

A layer is a tar of what one build step added, changed or deleted, usually gzip-compressed in a registry
(zstd on request) and often plain in `docker save`. A deletion is an entry of its own, a whiteout:
`.wh.<name>` deletes <name> (a file, or a folder with all it holds) of the layers below, and `.wh..wh..opq`
empties its folder of what the layers below put there. A container sees the union of the layers: each path
from the highest layer that holds it, unless a layer above that one whites it out. The lower layers keep the
bytes all the same, which is why a deleted secret still ships with the image.

No I/O here: callers hand in layer bytes and get bytes, entries or the union back.
"""

from __future__ import annotations

import gzip
import io
import posixpath
import tarfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
WHITEOUT_PREFIX = ".wh."
OPAQUE_WHITEOUT = ".wh..wh..opq"

T = TypeVar("T")


def decompress(blob: bytes) -> bytes:
    """The plain tar of a layer blob: gunzipped when its magic says gzip, else as it is.

    ValueError for a zstd blob (the standard library cannot read it) or a damaged gzip stream.
    """
    if blob[:2] == GZIP_MAGIC:
        try:
            return gzip.decompress(blob)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"the layer's gzip stream is damaged: {exc}") from exc
    if blob[:4] == ZSTD_MAGIC:
        raise ValueError("the layer is zstd-compressed, which this scan does not read; push it with gzip")
    return blob


def member_path(name: str) -> str:
    """A tar entry's name as a path relative to / (`./app/x` and `/app/x` are `app/x`; "" for the root)."""
    return posixpath.normpath("/" + name).lstrip("/")


@dataclass(frozen=True)
class Whiteout:
    """A deletion entry of a layer: `<folder>/.wh.<name>` deletes <name>, `<folder>/.wh..wh..opq` (name None)
    empties <folder>; both only of the layers below."""

    folder: str          # "" for the root
    name: str | None     # the deleted entry; None for the opaque marker

    @property
    def opaque(self) -> bool:
        return self.name is None

    @property
    def path(self) -> str:
        """What it deletes: the entry's path, or the folder an opaque marker empties."""
        return self.folder if self.name is None else posixpath.join(self.folder, self.name)

    def hides(self, path: str) -> bool:
        """Whether a lower layer's `path` is gone: the entry and all below it, or the opaque folder's content.

        A bare `.wh.` deletes its own folder, as the engine's os.RemoveAll(join(folder, "")) does.
        """
        if self.name is None:
            return self.folder == "" or path.startswith(self.folder + "/")
        gone = self.path.rstrip("/")
        return gone == "" or path == gone or path.startswith(gone + "/")


def whiteout_target(path: str) -> Whiteout | None:
    """The whiteout an entry's path (as member_path gives it) is, or None for a file, folder or link."""
    folder, base = posixpath.split(path)
    if base == OPAQUE_WHITEOUT:
        return Whiteout(folder, None)
    if base.startswith(WHITEOUT_PREFIX):
        return Whiteout(folder, base[len(WHITEOUT_PREFIX):])
    return None


@dataclass(frozen=True)
class Member:
    """One entry of a layer's tar: its clean path, its tar header, and the whiteout it is (None otherwise)."""

    path: str
    info: tarfile.TarInfo
    whiteout: Whiteout | None
    _tar: tarfile.TarFile = field(repr=False, compare=False)

    def content(self, size: int = -1) -> bytes | None:
        """The bytes of a regular file (or of a hard link's target), up to `size`; None for other entries.

        Readable only while layer_members is on this entry's layer.
        """
        if not (self.info.isreg() or self.info.islnk()):
            return None
        handle = self._tar.extractfile(self.info)
        return handle.read(size) if handle is not None else b""


def layer_members(blob: bytes) -> Iterator[Member]:
    """Each entry of a layer (gzip blob or plain tar), in tar order; tarfile.TarError when it is no tar."""
    with tarfile.open(fileobj=io.BytesIO(decompress(blob)), mode="r:") as tar:
        for info in tar:
            path = member_path(info.name)
            yield Member(path, info, whiteout_target(path), tar)


@dataclass(frozen=True)
class Hidden(Generic[T]):
    """An entry of a lower layer that a later layer's whiteout deletes, with what the union kept of it."""

    path: str
    layer: int           # index (bottom 0) of the layer that still holds it
    deleted_by: int      # index of the layer whose whiteout hides it
    kept: T | None


class LayerUnion(Generic[T]):
    """The files a container sees, built bottom up one layer at a time.

    `files` maps each visible path (every entry but folders and whiteouts) to the index of its top layer and
    what `keep` took of that entry (e.g. its content, or None to keep nothing).
    """

    def __init__(self, keep: Callable[[Member], T | None] = lambda _member: None) -> None:
        self.keep = keep
        self.files: dict[str, tuple[int, T | None]] = {}
        self.count = 0

    def add(self, blob: bytes) -> list[Hidden[T]]:
        """Lay one layer on top: its whiteouts hide the layers below, then its own entries win.

        Returns what its whiteouts hid, in the order of the whiteouts, then of the files below.
        """
        index, self.count = self.count, self.count + 1
        whiteouts: list[Whiteout] = []
        entries: list[tuple[str, T | None]] = []
        for member in layer_members(blob):
            if member.whiteout is not None:
                whiteouts.append(member.whiteout)
            elif not member.info.isdir():
                entries.append((member.path, self.keep(member)))
        hidden: list[Hidden[T]] = []
        for whiteout in whiteouts:
            for path in [path for path in self.files if whiteout.hides(path)]:
                layer, kept = self.files.pop(path)
                hidden.append(Hidden(path, layer, index, kept))
        for path, kept in entries:
            self.files[path] = (index, kept)
        return hidden

    def kept(self, path: str) -> T | None:
        """What `keep` took of the entry the container sees at `path`; None when it sees none there."""
        return self.files.get(path, (0, None))[1]

    def add_all(self, blobs: Iterable[bytes]) -> list[Hidden[T]]:
        """Lay every layer on, bottom first; what their whiteouts hid, layer by layer."""
        return [item for blob in blobs for item in self.add(blob)]


def _folders(paths: Iterable[str]) -> list[str]:
    """Every parent folder of the paths, shallowest first, so a tar creates them before their files."""
    found: set[str] = set()
    for path in paths:
        parts = path.split("/")[:-1]
        found.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    return sorted(found, key=lambda p: (p.count("/"), p))


def _entry(name: str) -> tarfile.TarInfo:
    """A tar header that depends on the name only: time 0, owner 0:0 without user or group names."""
    info = tarfile.TarInfo(name)
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
    return info


def deterministic_tar(files: Mapping[str, tuple[bytes, int]]) -> bytes:
    """An uncompressed tar of `files` (relative path → (bytes, mode)) that is the same bytes on every machine.

    Each parent folder first (0755, shallowest first), then the files sorted by path, in PAX format with
    fixed times and owners: only paths, bytes and modes decide its digest.
    """
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for folder in _folders(files):
            info = _entry(folder + "/")
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for name in sorted(files):
            data, mode = files[name]
            info = _entry(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()

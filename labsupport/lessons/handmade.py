"""Push an image by hand over the registry's HTTP API, as lesson 09 teaches it.

An image in a registry is three kinds of documents: layer blobs (gzip-compressed tars of files), one config
blob (JSON: what to run, the uncompressed layers' sha256 "diff ids", the platform) and a manifest that lists
the config and the layers by digest. `push_by_hand` makes a one-layer image from a few files and sends it in
the order a registry demands: each blob (POST an upload, PUT the bytes with `?digest=`), a HEAD to see that it
arrived, then the manifest PUT under a tag. `docker pull` can then fetch it like any other image.

Everything built here is deterministic (fixed times, owners and order), so the same files give the same
digests on every machine: a learner can compute each sha256 and compare it with what the registry says.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import platform as host_platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ..errors import LabError
from ..layers import deterministic_tar, layer_members
from ..registry import MANIFEST_V2

LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
IMAGE_CONFIG = "application/vnd.docker.container.image.v1+json"
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_MACHINES = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}

#: A file of the layer: its bytes, or (bytes, mode). Bytes starting with `#!` or an ELF header get 0755.
FileContent = bytes | tuple[bytes, int]


class BlobStore(Protocol):
    """What push_by_hand needs of a registry client (labsupport.registry.RegistryClient has it)."""

    def upload_blob(self, repository: str, data: bytes) -> str: ...

    def blob_exists(self, repository: str, digest: str) -> int | None: ...

    def put_manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> str: ...


def sha256(data: bytes) -> str:
    """The `sha256:<hex>` digest of some bytes, exactly as a registry names a blob."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def engine_architecture(machine: str | None = None) -> str:
    """The Go-style architecture name (amd64, arm64…) for a machine name such as `uname -m` prints."""
    name = (machine or host_platform.machine()).lower()
    return _MACHINES.get(name, name)


def _mode(content: FileContent) -> tuple[bytes, int]:
    if isinstance(content, tuple):
        return content
    executable = content.startswith((b"#!", b"\x7fELF"))
    return content, 0o755 if executable else 0o644


def pack_files(files: Mapping[str, FileContent]) -> bytes:
    """A deterministic uncompressed layer tar of `files` (paths relative to /), with their parent folders."""
    if not files:
        raise LabError("a layer needs at least one file", fix='push_by_hand(..., {"hello.txt": b"hi"})')
    clean = {}
    for path, content in files.items():
        name = path.strip().lstrip("/")
        if not name or name.endswith("/") or ".." in name.split("/"):
            raise LabError(
                f"{path!r} is not a file path inside the image", fix="use paths such as app/hello.sh"
            )
        clean[name] = _mode(content)
    return deterministic_tar(clean)


def pick_files(layer: bytes, paths: Sequence[str]) -> dict[str, tuple[bytes, int]]:
    """Copy files out of a layer's tar (e.g. the base image's bin/busybox), with their modes."""
    wanted = {path.lstrip("/") for path in paths}
    picked: dict[str, tuple[bytes, int]] = {}
    for member in layer_members(layer):
        if member.path in wanted:
            content = member.content()
            if content is not None:
                picked[member.path] = (content, member.info.mode & 0o7777)
    missing = wanted - set(picked)
    if missing:
        raise LabError(
            f"the layer holds no regular file {', '.join(sorted(missing))}",
            fix="list its files with: tar -tvf LAYER.tar (a symlink's target is the file to pick)",
        )
    return picked


def image_config(diff_id: str, cmd: Sequence[str] | None, architecture: str, os: str = "linux") -> bytes:
    """The image config blob: platform, what to run, and the diff id of the one layer."""
    settings: dict[str, object] = {"Env": [DEFAULT_PATH]}
    if cmd:
        settings["Cmd"] = list(cmd)
    document = {
        "architecture": architecture,
        "os": os,
        "config": settings,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": "labsupport.handmade.push_by_hand (one layer, uploaded over HTTP)"}],
    }
    return json.dumps(document, indent=2, sort_keys=True).encode()


def manifest_document(config: bytes, layer: bytes) -> bytes:
    """The image manifest (Docker schema 2) listing the config blob and the compressed layer blob."""
    document = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_V2,
        "config": {"mediaType": IMAGE_CONFIG, "size": len(config), "digest": sha256(config)},
        "layers": [{"mediaType": LAYER_GZIP, "size": len(layer), "digest": sha256(layer)}],
    }
    return json.dumps(document, indent=2).encode()


@dataclass(frozen=True)
class HandPush:
    """What push_by_hand sent: every digest involved and a line per HTTP step, for the lesson to show."""

    repository: str
    tag: str
    digest: str  # the manifest's digest: pull by it with repository@digest
    layer_digest: str  # sha256 of the gzip blob the registry stores
    diff_id: str  # sha256 of the uncompressed tar, as the config lists it
    config_digest: str
    manifest: bytes = field(repr=False)
    steps: tuple[str, ...] = ()

    def __str__(self) -> str:
        return "\n".join(self.steps)


def _send_blob(registry: BlobStore, repository: str, data: bytes, what: str, steps: list[str]) -> str:
    """Upload one blob (POST, then PUT ?digest=) and confirm it with HEAD; returns its digest."""
    digest = registry.upload_blob(repository, data)
    steps.append(
        f"POST /v2/{repository}/blobs/uploads/ then PUT ?digest={digest}  ({what}, {len(data)} bytes)"
    )
    size = registry.blob_exists(repository, digest)
    if size != len(data):
        raise LabError(
            f"the registry does not hold the {what} just uploaded ({digest}: {size} bytes)",
            fix="upload it again; if it keeps failing, labsupport doctor",
        )
    steps.append(f"HEAD /v2/{repository}/blobs/{digest} -> 200, Content-Length {size}")
    return digest


def push_by_hand(
    registry: BlobStore,
    repository: str,
    tag: str,
    files: Mapping[str, FileContent],
    *,
    cmd: Sequence[str] | None = None,
    architecture: str | None = None,
    os: str = "linux",
) -> HandPush:
    """Build a one-layer image from `files` and push it blob by blob, then its manifest under `tag`.

    `repository` is the path in the registry (`learner/handmade`). `cmd` is what a container runs; the files
    must hold that program (e.g. bin/busybox picked from the base image with `pick_files`).
    """
    tar = pack_files(files)
    layer = gzip.compress(tar, compresslevel=6, mtime=0)
    diff_id = sha256(tar)
    steps: list[str] = [f"layer: {len(tar)} bytes of tar (diff id {diff_id}), {len(layer)} bytes gzipped"]
    layer_digest = _send_blob(registry, repository, layer, "layer blob", steps)
    config = image_config(diff_id, cmd, architecture or engine_architecture(), os)
    config_digest = _send_blob(registry, repository, config, "config blob", steps)
    manifest = manifest_document(config, layer)
    digest = registry.put_manifest(repository, tag, manifest, MANIFEST_V2)
    steps.append(f"PUT /v2/{repository}/manifests/{tag} ({MANIFEST_V2}) -> {digest}")
    return HandPush(repository, tag, digest, layer_digest, diff_id, config_digest, manifest, tuple(steps))

"""Pure model of images here and there: local layers, what a registry holds, their diff, and push results.

No I/O in this module: engine.py and registry.py build these objects, widgets and checks read them.
Digests are full `sha256:<hex>` strings; sizes are bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from enum import Enum


class LayerState(str, Enum):
    """Where a local layer stands against a registry repository."""

    THERE = "there"            # the repository already holds this layer's blob: a push skips it
    UPLOAD = "upload"          # nowhere in the registry: a push uploads it
    MOUNTABLE = "mountable"    # another repository of the registry holds it: a push mounts it, no upload


@dataclass(frozen=True)
class Layer:
    """One step of a local image, bottom to top. Empty steps (ENV, CMD…) have no diff id and size 0."""

    diff_id: str               # sha256 of the uncompressed layer tar; "" for an empty step
    size: int                  # uncompressed bytes this step added
    instruction: str           # the Dockerfile instruction that made it, cleaned of /bin/sh -c #(nop)
    empty: bool = False        # True for a history step that made no filesystem layer

    @property
    def short_id(self) -> str:
        """The 12 hex characters docker shows for a layer; "" for an empty step."""
        return self.diff_id.split(":", 1)[-1][:12] if self.diff_id else ""


@dataclass(frozen=True)
class ImageView:
    """A local image: its id, its tags and its steps bottom to top (empty ones included)."""

    image_id: str
    tags: tuple[str, ...]
    layers: tuple[Layer, ...]

    @property
    def fs_layers(self) -> tuple[Layer, ...]:
        """The steps that made a filesystem layer, in the order of the config's rootfs.diff_ids."""
        return tuple(layer for layer in self.layers if not layer.empty)

    @property
    def diff_ids(self) -> tuple[str, ...]:
        return tuple(layer.diff_id for layer in self.fs_layers)

    @property
    def size(self) -> int:
        return sum(layer.size for layer in self.layers)


@dataclass(frozen=True)
class Blob:
    """A blob as a manifest lists it: digest of the compressed content, its size and media type."""

    digest: str
    size: int
    media_type: str = ""


@dataclass(frozen=True)
class RemoteView:
    """A tag in a registry repository: its manifest and, paired in order, layer blobs and the config's diff ids.

    When the tag names an image index (what BuildKit pushes: the image plus an attestation), the view is of
    the index's image for one platform, and says which.
    """

    repository: str
    tag: str
    manifest_digest: str
    media_type: str
    config_digest: str
    blobs: tuple[Blob, ...]
    diff_ids: tuple[str, ...] = ()
    platform: str = ""                 # the platform chosen in an image index; "" for a plain manifest
    index_digest: str = ""             # that index's digest (what the tag names), "" for a plain manifest

    def blob_for(self, diff_id: str) -> Blob | None:
        """The compressed blob that holds the layer with this diff id, if this manifest has it."""
        for blob, known in zip(self.blobs, self.diff_ids):
            if known == diff_id:
                return blob
        return None

    @property
    def size(self) -> int:
        return sum(blob.size for blob in self.blobs)


@dataclass(frozen=True)
class LayerDiff:
    """One local layer's standing against a repository, and the bytes a push would send for it."""

    layer: Layer
    state: LayerState
    blob: Blob | None = None           # the registry's blob for it, when known
    source: str | None = None          # for MOUNTABLE: a repository that holds it
    upload_bytes: int = 0              # estimated: the uncompressed size when the compressed one is unknown


@dataclass(frozen=True)
class ImageDiff:
    """An image against a repository: each filesystem layer's state and the total a push would send."""

    image: ImageView
    repository: str
    layers: tuple[LayerDiff, ...]

    @property
    def upload_bytes(self) -> int:
        return sum(item.upload_bytes for item in self.layers)

    def count(self, state: LayerState) -> int:
        return sum(1 for item in self.layers if item.state is state)


def diff_image(image: ImageView, repository: str, target: RemoteView | None,
               others: Iterable[RemoteView] = ()) -> ImageDiff:
    """Compare an image's filesystem layers with a repository and with the registry's other repositories.

    A layer is THERE when `target` (the repository's tag of the same name, or None) or another tag of the same
    repository in `others` holds it: a push checks blobs per repository, whatever the tag. It is MOUNTABLE when
    another repository holds it, else UPLOAD with its uncompressed size as the estimate of what a push sends.
    """
    views = list(others)
    same_repository = [view for view in views if view.repository == repository]
    other_repositories = [view for view in views if view.repository != repository]
    items = []
    for layer in image.fs_layers:
        blob = _holder(([target] if target else []) + same_repository, layer.diff_id)
        if blob is not None:
            items.append(LayerDiff(layer, LayerState.THERE, blob=blob[1]))
            continue
        found = _holder(other_repositories, layer.diff_id)
        if found:
            items.append(LayerDiff(layer, LayerState.MOUNTABLE, blob=found[1], source=found[0]))
        else:
            items.append(LayerDiff(layer, LayerState.UPLOAD, upload_bytes=layer.size))
    return ImageDiff(image=image, repository=repository, layers=tuple(items))


def _holder(views: Iterable[RemoteView], diff_id: str) -> tuple[str, Blob] | None:
    """The first view's repository and blob holding the layer with this diff id, if any."""
    for view in views:
        blob = view.blob_for(diff_id)
        if blob is not None:
            return view.repository, blob
    return None


class PushPhase(str, Enum):
    """A layer's phase during a push, as the engine's progress stream reports it."""

    WAITING = "waiting"
    PREPARING = "preparing"
    PUSHING = "pushing"
    RETRYING = "retrying"
    PUSHED = "pushed"
    EXISTS = "exists"
    MOUNTED = "mounted"

    @property
    def done(self) -> bool:
        return self in (PushPhase.PUSHED, PushPhase.EXISTS, PushPhase.MOUNTED)


@dataclass(frozen=True)
class PushEvent:
    """One progress update of one layer. `layer` is the stream's short id (diff id or blob digest prefix)."""

    layer: str
    phase: PushPhase
    current: int = 0           # bytes of the uncompressed tar read so far (the stream's own count)
    total: int = 0             # the stream's total for that layer, 0 when unknown
    source: str | None = None  # for MOUNTED: the repository it was mounted from


_OUTCOMES = {PushPhase.PUSHED: "pushed", PushPhase.EXISTS: "exists", PushPhase.MOUNTED: "mounted"}


@dataclass
class LayerProgress:
    """What a push's events said so far about one id: its phase, byte counts, mount source and retries.

    The one fold of a layer's events, for the engine's report (pushstream) and the live bars (PushMonitor).
    """

    id: str
    phase: PushPhase
    current: int = 0
    total: int = 0
    source: str | None = None
    retries: int = 0
    retry_in: int = 0           # seconds of the last "Retrying in N seconds" (pushstream reads N)
    not_a_layer: bool = False   # the containerd store said "Already exists": its word for a blob not a layer

    @property
    def outcome(self) -> str | None:
        """"pushed", "exists" or "mounted" once the id is done; None before."""
        return _OUTCOMES.get(self.phase)

    def advance(self, event: PushEvent) -> bool:
        """Take the id's next event; False, changing nothing, for a late progress line after it finished."""
        if self.phase.done and not event.phase.done:
            return False
        self.phase = event.phase
        self.total = max(self.total, event.total)
        if event.phase is PushPhase.PUSHING:
            self.current = event.current
        elif event.phase is PushPhase.PUSHED:
            self.current = max(self.current, event.current, self.total)  # a finished upload fills its bar
        elif event.phase is PushPhase.RETRYING:
            self.retries += 1
            self.current = event.current or self.current
        elif event.phase is PushPhase.MOUNTED:
            self.source = event.source
        return True


@dataclass(frozen=True)
class LayerOutcome:
    """What a push did with one layer: pushed, exists or mounted, and the compressed bytes involved."""

    id: str                    # the stream's short id
    outcome: str               # "pushed" | "exists" | "mounted"
    bytes: int                 # the blob's compressed size from the pushed manifest
    digest: str = ""           # the blob digest, when matched to the manifest


@dataclass(frozen=True)
class PushReport:
    """The result of one push: the manifest digest and each layer's outcome with byte counts."""

    reference: str
    digest: str
    size: int                          # the manifest's size in bytes, as the engine reports it
    layers: tuple[LayerOutcome, ...] = field(default_factory=tuple)
    seconds: float = 0.0

    @property
    def bytes_uploaded(self) -> int:
        return sum(item.bytes for item in self.layers if item.outcome == "pushed")

    @property
    def bytes_skipped(self) -> int:
        return sum(item.bytes for item in self.layers if item.outcome != "pushed")

    def to_json(self) -> dict:
        """The `labsupport push --json` document."""
        return {
            "reference": self.reference,
            "digest": self.digest,
            "layers": [asdict(item) for item in self.layers],
            "bytes_uploaded": self.bytes_uploaded,
            "bytes_skipped": self.bytes_skipped,
            "seconds": round(self.seconds, 3),
        }

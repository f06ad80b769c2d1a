"""Pure: read the engine's push stream (the docker SDK's decoded JSON lines) as layer events and a result.

The engine writes one JSON object per progress update. Lines with an `id` talk about one blob:
`Preparing`, `Waiting`, `Pushing` (with `progressDetail.current/total`), `Pushed`, `Layer already exists`,
`Already exists`, `Mounted from <repo>`, `Retrying in N seconds`. Lines without an id are messages: "The push
refers to repository [...]" first and "<tag>: digest: sha256:… size: N" last, followed on the classic image
store by an `aux` line `{"Tag", "Digest", "Size"}`. A failure is a line with `error`/`errorDetail` (docker-py
does not raise for it): `PushAccumulator.feed` turns it into `PushFailed` with an explanation and a fix.

The ids differ by image store (both seen in the streams recorded in tests/data/push-streams). The classic
store names a layer by the first 12 hex digits of its diff id (the sha256 of the uncompressed tar), starts
each with `Preparing` and counts `Pushing` bytes in tar bytes against the layer's file bytes. The containerd
store (Docker Desktop's default) names blobs by the first 12 hex digits of their compressed digest, has no
`Preparing` step (it repeats `Waiting` instead), counts compressed bytes, ends without an `aux` line, and
pushes what the tag names: with BuildKit an image index, whose digest the last line gives. It lists every
blob of that index except its manifests and configs, so besides the image's layers the stream names the
attestation manifest's blob (the provenance statement, an in-toto document), which it reports as "Already
exists" (not "Layer already exists") when the registry has it. Neither store lists the image config.
`layer_outcomes` maps either kind of id to the pushed manifest's layers and leaves the others out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from . import refs
from .errors import InvalidReference, PushFailed
from .model import Blob, LayerOutcome, LayerProgress, PushEvent, PushPhase, RemoteView

_PHASES = {
    "Preparing": PushPhase.PREPARING,
    "Waiting": PushPhase.WAITING,
    "Pushing": PushPhase.PUSHING,
    "Pushed": PushPhase.PUSHED,
    "Layer already exists": PushPhase.EXISTS,
    "Already exists": PushPhase.EXISTS,
}
_MOUNTED = "Mounted from "
_NOT_A_LAYER_EXISTS = "Already exists"  # containerd's status for a blob that is not a layer; layers get "Layer …"
_RETRYING = re.compile(r"^Retrying in (\d+) seconds?")
_REFERS = re.compile(r"^The push refers to (?:a )?repository \[(?P<repository>[^\]]+)\]")
_DIGEST_LINE = re.compile(r"^(?P<tag>\S+): digest: (?P<digest>[a-z0-9]+:[0-9a-f]+) size: (?P<size>\d+)")


@dataclass(frozen=True)
class PushResult:
    """The engine's last word on a successful push: the tag, the manifest digest and the manifest's size."""

    tag: str
    digest: str
    size: int


def event_from_line(line: Mapping) -> PushEvent | None:
    """One stream line as a PushEvent, or None for a message line or a status this module does not know."""
    layer = line.get("id")
    status = line.get("status")
    if not layer or not isinstance(status, str):
        return None
    detail = line.get("progressDetail") or {}
    current, total = int(detail.get("current") or 0), int(detail.get("total") or 0)
    if status.startswith(_MOUNTED):
        return PushEvent(layer, PushPhase.MOUNTED, source=status[len(_MOUNTED):].strip() or None)
    if _RETRYING.match(status):
        return PushEvent(layer, PushPhase.RETRYING)
    phase = _PHASES.get(status)
    if phase is None:
        return None
    return PushEvent(layer, phase, current=current, total=total)


class PushAccumulator:
    """Fold a push stream into per-layer state (for progress widgets and the report) and the final result.

    `feed` takes one decoded line and returns its PushEvent (or None); an error line raises PushFailed.
    `lab_registry`, `learner` and `lab_container` only shape the fix lines of errors.
    """

    def __init__(self, reference: str, *, lab_registry: str | None = None,
                 learner: str | None = None, lab_container: str | None = None) -> None:
        self.reference = reference
        self.lab_registry = lab_registry
        self.learner = learner
        self.lab_container = lab_container
        self.repository: str | None = None      # as in "The push refers to repository [...]"
        self.results: list[PushResult] = []
        self.messages: list[str] = []           # other lines without an id, in order
        self.aux: list[dict] = []               # aux lines that are not the push result
        self._layers: dict[str, LayerProgress] = {}

    def feed(self, line: Mapping) -> PushEvent | None:
        """Take one line: update the state; raise PushFailed on an error line."""
        if line.get("error") or line.get("errorDetail"):
            raw = (line.get("errorDetail") or {}).get("message") or line.get("error") or "unknown error"
            raise self.failure(str(raw))
        aux = line.get("aux")
        if isinstance(aux, Mapping):
            if "Digest" in aux:
                tag, size = str(aux.get("Tag", "")), int(aux.get("Size", 0))
                self._add_result(PushResult(tag, str(aux["Digest"]), size))
            else:
                self.aux.append(dict(aux))
            return None
        event = event_from_line(line)
        if event is not None:
            self._apply(event, str(line.get("status", "")))
            return event
        status = line.get("status")
        if isinstance(status, str) and not line.get("id"):
            self._message(status)
        return None

    def consume(self, lines: Iterable[Mapping]) -> Iterator[PushEvent]:
        """Feed every line, yielding the layer events; raises PushFailed at the first error line."""
        for line in lines:
            event = self.feed(line)
            if event is not None:
                yield event

    def failure(self, raw: str) -> PushFailed:
        """The PushFailed for an engine error text met in this push (or sent as an HTTP error instead)."""
        return explain(self.reference, raw, lab_registry=self.lab_registry, learner=self.learner,
                       lab_container=self.lab_container)

    def finish(self) -> PushResult:
        """The push's result; PushFailed when the stream ended without one (the engine stopped mid-push)."""
        if not self.results:
            raise self.failure("the push stream ended without a manifest digest")
        return self.results[-1]

    @property
    def result(self) -> PushResult | None:
        return self.results[-1] if self.results else None

    @property
    def layers(self) -> tuple[LayerProgress, ...]:
        """Every id the stream named, in the order it first named them."""
        return tuple(self._layers.values())

    def count(self, phase: PushPhase) -> int:
        return sum(1 for item in self._layers.values() if item.phase is phase)

    def _apply(self, event: PushEvent, status: str) -> None:
        state = self._layers.get(event.layer)
        if state is None:
            state = self._layers[event.layer] = LayerProgress(event.layer, event.phase)
        if not state.advance(event):
            return  # a late progress line never undoes a finished layer
        if status == _NOT_A_LAYER_EXISTS:
            state.not_a_layer = True
        if event.phase is PushPhase.RETRYING:
            state.retry_in = int(_RETRYING.match(status).group(1))  # type: ignore[union-attr]

    def _message(self, status: str) -> None:
        refers = _REFERS.match(status)
        if refers:
            self.repository = refers["repository"]
            return
        digest = _DIGEST_LINE.match(status)
        if digest:
            self._add_result(PushResult(digest["tag"], digest["digest"], int(digest["size"])))
            return
        self.messages.append(status)

    def _add_result(self, result: PushResult) -> None:
        """The digest line and the aux line say the same thing: keep one result per tag and digest."""
        if not any(known.digest == result.digest and known.tag == result.tag for known in self.results):
            self.results.append(result)


# -- the mapping of stream ids to the pushed manifest's blobs -----------------------------------------------

def _hex(digest: str) -> str:
    return digest.split(":", 1)[-1]


def layer_outcomes(layers: Iterable[LayerProgress], *, diff_ids: Sequence[str] = (),
                   remote: RemoteView | None = None) -> tuple[LayerOutcome, ...]:
    """Each finished layer's outcome with its compressed blob and byte count, bottom layer first.

    An id is matched first against `diff_ids` (classic store: diff-id prefixes; the blob then comes from the
    remote view's diff_ids→blobs pairing, or from pairing `diff_ids` with its blobs in order), then against
    the remote view's blob digests (containerd store). Ids that match neither while a remote view is given
    are not layers of the pushed image (the containerd store lists the attestation's blob too) and are left
    out; so is, without one, an id the stream itself called no layer ("Already exists"). Without a remote
    view the bytes are the stream's own `Pushing` totals: for the classic store the layer's uncompressed file
    bytes, for containerd its compressed size, and 0 for a layer that already existed or was mounted (the
    stream gives no size then).
    """
    blobs = remote.blobs if remote else ()
    pairs = _diff_id_pairs(diff_ids, remote)
    placed: list[tuple[int, LayerOutcome]] = []
    for order, item in enumerate(layers):
        if item.outcome is None:
            continue
        position, blob = _match(item.id, diff_ids, pairs, blobs)
        if blob is None and position is None and (remote is not None or item.not_a_layer):
            continue  # not a layer of the pushed image: the attestation's blob (containerd lists it)
        if blob is not None:
            outcome = LayerOutcome(item.id, item.outcome, blob.size, blob.digest)
        else:
            outcome = LayerOutcome(item.id, item.outcome, item.total if item.outcome == "pushed" else 0)
        placed.append((position if position is not None else len(diff_ids) + len(blobs) + order, outcome))
    return tuple(outcome for _, outcome in sorted(placed, key=lambda pair: pair[0]))


def _diff_id_pairs(diff_ids: Sequence[str], remote: RemoteView | None) -> dict[str, Blob]:
    """diff id → blob, from the remote view's config pairing, else the local diff ids in manifest order."""
    if remote is None:
        return {}
    if remote.diff_ids and len(remote.diff_ids) == len(remote.blobs):
        return dict(zip(remote.diff_ids, remote.blobs))
    if len(diff_ids) == len(remote.blobs):
        return dict(zip(diff_ids, remote.blobs))
    return {}


def _match(layer_id: str, diff_ids: Sequence[str], pairs: Mapping[str, Blob],
           blobs: Sequence[Blob]) -> tuple[int | None, Blob | None]:
    """(position bottom-up, blob) for a stream id: a diff-id prefix first, then a blob-digest prefix."""
    short = layer_id.lower()
    for position, diff_id in enumerate(diff_ids):
        if _hex(diff_id).startswith(short):
            return position, pairs.get(diff_id)
    for position, blob in enumerate(blobs):
        if _hex(blob.digest).startswith(short):
            return position, blob
    return None, None


# -- errors: what an engine error means, and the command that fixes it --------------------------------------

_KNOWN = (  # (kind, substrings of the engine's text, lowercased; a tuple: all of them); the first match wins
    ("no-local-image", ("an image does not exist locally with the tag",)),
    ("tag-missing", ("tag does not exist",)),
    ("https-required", ("server gave http response to https client",)),
    # the registry's storage driver said it (classic), or the registry's log that engine.py adds says it
    ("registry-full", (("no space left on device", "filesystem: "), ("no space left on device", "registry's log"))),
    # the registry read a link file its full disk cut short (the containerd store stops at that HEAD's 500)
    ("registry-damaged", ("invalid checksum digest",)),   # its format (empty), its length (cut)
    ("disk-full", ("no space left on device",)),
    ("no-credentials", ("no basic auth credentials",)),
    ("unauthorized", ("unauthorized:", "incorrect username or password", ": 401 unauthorized")),
    ("denied", ("requested access to the resource is denied", "insufficient_scope", "push access denied")),
    ("registry-down", ("connection refused", "dial tcp", "no such host", "i/o timeout", "no route to host",
                       "connection reset by peer", "network is unreachable", "tls handshake timeout",
                       # containerd: the registry died mid-request (its reply cut off, or the upload's write)
                       (": eof", "failed to do request"), ("broken pipe", "failed to do request"),
                       ("use of closed network connection", "failed to do request"))),
)
_HUB_KINDS = {"no-credentials", "unauthorized", "denied", "registry-down"}


def classify(raw: str) -> str:
    """The kind of a push error text, one of `_KNOWN`'s, else "unknown" (see kind_for for the reference's)."""
    text = raw.lower()
    for kind, needles in _KNOWN:
        if any(all(part in text for part in ((needle,) if isinstance(needle, str) else needle))
               for needle in needles):
            return kind
    return "unknown"


def kind_for(reference: str, raw: str) -> str:
    """The kind of a push error, given the reference pushed: a Docker Hub destination explains auth and
    network errors as "no-registry-host" (the learner's tag lacks the lab registry's host)."""
    kind = classify(raw)
    parsed = _parse(reference)
    if kind in _HUB_KINDS and parsed is not None and parsed.host == refs.DOCKER_HUB:
        return "no-registry-host"
    return kind


def explain(reference: str, raw: str, *, lab_registry: str | None = None,
            learner: str | None = None, lab_container: str | None = None) -> PushFailed:
    """A PushFailed for the engine's error text `raw`, with what it means and the command that fixes it."""
    kind = kind_for(reference, raw)
    parsed = _parse(reference)
    lab = lab_registry or "localhost:5000"
    who = learner or "<learner>"
    host = parsed.host if parsed else "the registry"
    tag = (parsed.tag if parsed and parsed.tag else "latest")
    last = parsed.repository.rsplit("/", 1)[-1] if parsed else "<repository>"
    target = f"{lab}/{who}/{last}:{tag}"
    shown = parsed.familiar if parsed else reference
    name = shown.rsplit(":", 1)[0] if parsed and parsed.tag else shown
    explanation, fix = _TEXTS[kind](host=host, lab=lab, who=who, target=target, shown=shown, name=name,
                                    tag=tag, explicit=bool(parsed and parsed.explicit_host),
                                    alias=bool(parsed and _alias(parsed.host, lab)),
                                    container=lab_container or "lab-registry")
    return PushFailed(reference, raw, explanation, fix=fix, kind=kind)


def _parse(reference: str) -> refs.Reference | None:
    try:
        return refs.parse(reference)
    except InvalidReference:
        return None


def _alias(host: str, lab: str) -> bool:
    try:
        return refs.is_loopback_alias(host, lab)
    except InvalidReference:
        return False


def _no_local_image(*, shown: str, name: str, **_: object) -> tuple[str, str]:
    return ((f"there is no local image named {name}: docker push sends an image the engine already holds "
             "under exactly that name, so give the image that name first"),
            f"docker tag <image> {shown}   (docker images lists the images you have)")


def _tag_missing(*, shown: str, name: str, tag: str, **_: object) -> tuple[str, str]:
    # The classic store says this only when `name` exists with other tags; the containerd store says it for
    # a name that does not exist locally at all too, so the text covers both.
    explanation = (f"no local image is named {shown}: {name} has no tag {tag} here (or no local image has "
                   "that name at all), and docker push sends only an image the engine holds under exactly "
                   "that name")
    return explanation, f"docker images {name}   (the tags it has, if any), then: docker tag <image> {shown}"


def _https_required(*, host: str, shown: str, name: str, lab: str, tag: str, **_: object) -> tuple[str, str]:
    port = host.rsplit(":", 1)[1] if ":" in host else "5000"
    path = name.split("/", 1)[1] if "/" in name else name
    explanation = (f"the engine speaks HTTPS to every registry except localhost and 127.0.0.0/8, and {host} "
                   "answered in plain HTTP. Use the registry through localhost, or list it under "
                   "insecure-registries in the engine's daemon.json (only on a network you trust)")
    fix = (f"docker tag {shown} localhost:{port}/{path}:{tag}   or add \"insecure-registries\": "
           f"[\"{host}\"] to /etc/docker/daemon.json (Docker Desktop: Settings → Docker Engine) and "
           "restart the engine")
    return explanation, fix


def _disk_full(*, shown: str, **_: object) -> tuple[str, str]:
    fix = f"docker system df (what takes the space), free some (docker image prune), then docker push {shown}"
    return "a disk filled up during the push: the registry's storage or the engine's own", fix


def _cut_links(container: str) -> str:
    """The command that deletes the registry's link files a full disk cut short: every whole link is the 71
    characters `sha256:<64 hex>`; busybox, because the registry image has it (ours and the public one)."""
    return f"docker exec {container} busybox find /var/lib/registry -name link -size -71c -exec busybox rm {{}} +"


def _registry_full(*, host: str, lab: str, alias: bool, container: str, shown: str,
                   **_: object) -> tuple[str, str]:
    why = (f"the registry at {host} is out of disk space (no space left on device in its storage), so it "
           "cannot store the image's blobs. Deleting tags frees nothing by itself: a blob stays until the "
           "registry's garbage collection removes the blobs no manifest uses")
    if host != lab and not alias:
        return why, f"ask that registry's operator to free space, then docker push {shown}"
    return why, (f"labsupport reset <exercise> (deletes its tags), then docker exec {container} registry "
                 f"garbage-collect /etc/docker/registry/config.yml && {_cut_links(container)} && "
                 f"docker restart {container}; then docker push {shown}")


def _registry_damaged(*, host: str, lab: str, alias: bool, container: str, shown: str,
                      **_: object) -> tuple[str, str]:
    why = (f"the registry at {host} holds a link file that is cut short (written while its disk was full), "
           "so it answers 500 where it should say whether it has a layer; the classic engine uploads the "
           "layer again, the containerd image store stops there")
    if host != lab and not alias:
        return why, f"ask that registry's operator to repair its storage, then docker push {shown}"
    return why, f"{_cut_links(container)}; then docker push {shown}"


def _no_credentials(*, host: str, who: str, alias: bool, lab: str, **_: object) -> tuple[str, str]:
    text = (f"the Docker client holds no credential for {host}, and that registry does not take anonymous "
            "pushes")
    if alias:
        text += (f". The client keys credentials by the exact host text: a login to {lab} does not cover "
                 f"{host} (same registry, different name)")
    return text, f"docker login {host} --username {who} --password-stdin   (labsupport credentials shows it)"


def _unauthorized(*, host: str, who: str, **_: object) -> tuple[str, str]:
    return ((f"{host} rejected the credential the Docker client sent: the password is wrong or out of date "
             "(the lab makes a new one when its state folder is reset)"),
            f"docker logout {host} && docker login {host} --username {who} --password-stdin")


def _denied(*, host: str, who: str, target: str, shown: str, **_: object) -> tuple[str, str]:
    return ((f"{host} knows who you are but does not let this account push to that repository "
             f"(outside your namespace {who}/, or a token scoped to other repositories)"),
            f"docker tag {shown} {target} && docker push {target}")


def _registry_down(*, host: str, **_: object) -> tuple[str, str]:
    return (f"nothing answers at {host}: the lab registry is not running, or listens on another port",
            "labsupport up   (then labsupport status)")


def _no_registry_host(*, explicit: bool, target: str, shown: str, **_: object) -> tuple[str, str]:
    why = ("this reference names Docker Hub (docker.io), not the lab registry" if explicit else
           f"the tag {shown} has no registry host, so Docker sent it to Docker Hub (docker.io), not the lab "
           "registry")
    why += ": Docker Hub refuses it or cannot be reached from here. A push goes to the registry in the tag"
    return why, f"docker tag {shown} {target} && docker push {target}"


def _unknown(*, shown: str, **_: object) -> tuple[str, str]:
    why = "the engine reported an error this course does not know; the line above is the engine's own words"
    return why, f"labsupport doctor, then docker push {shown} to see the error in full"


_TEXTS: dict[str, Callable[..., tuple[str, str]]] = {
    "no-local-image": _no_local_image, "tag-missing": _tag_missing, "https-required": _https_required,
    "registry-full": _registry_full, "registry-damaged": _registry_damaged, "disk-full": _disk_full,
    "no-credentials": _no_credentials,
    "unauthorized": _unauthorized,
    "denied": _denied, "registry-down": _registry_down, "no-registry-host": _no_registry_host,
    "unknown": _unknown,
}

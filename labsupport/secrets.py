"""Pure: find secrets in image layers, also in files that a later layer deletes (whiteouts) or overwrites.

A layer is a tar of the files one build step added or changed. Deleting a file in a later step does not take
it out of the earlier layer: the later layer only carries a whiteout entry `.wh.<name>` (or `.wh..wh..opq`
for "everything that was in this folder"), which hides the file from a running container while the earlier
layer's blob still ships its bytes to everyone who pulls the image. So a scan reads every layer, records
what later layers hide, and reports each finding with its layer, its path and the layer that hid it.

No I/O here: callers hand in layer bytes (gzip-compressed blobs or plain tars) and image config documents;
labsupport.layers reads the layers and says what a whiteout hides. Findings never hold a matched secret
value, only a masked excerpt.
"""

from __future__ import annotations

import posixpath
import re
import tarfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .layers import Whiteout, layer_members

#: The fake API token lesson 07 plants in notebooks/apps/secret (its Dockerfile's `ARG LAB_SECRET` default).
PLANTED_SECRET = "labtoken-Q7vX2mK9pL4wR8sN3tB6"
#: Where the secret app writes it, and the instruction that plants it (for messages and tests).
PLANTED_PATH = "app/.env"
PLANTED = "planted"

MAX_SCANNED_FILE = 32 * 1024 * 1024  # larger files are checked for the planted secret only

#: Well-known secret shapes: (kind, what it is, pattern over raw bytes), anchored so binaries do not match.
PATTERNS: tuple[tuple[str, str, re.Pattern[bytes]], ...] = (
    (
        "private-key",
        "a private key",
        re.compile(rb"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----"),
    ),
    (
        "aws-access-key",
        "an AWS access key id",
        re.compile(rb"(?<![A-Z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Z0-9])"),
    ),
    (
        "github-token",
        "a GitHub token",
        re.compile(rb"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})"),
    ),
    ("slack-token", "a Slack token", re.compile(rb"(?<![A-Za-z0-9])xox[abprs]-[A-Za-z0-9-]{10,}")),
    (
        "registry-auth",
        'a registry credential (an "auth" value, base64 of user:password)',
        re.compile(rb'"auth"\s*:\s*"[A-Za-z0-9+/]{8,}={0,2}"'),
    ),
)

#: `NAME_TOKEN=value` lines count only in files made for settings, where they are almost always real.
_ASSIGNMENT = re.compile(
    rb"(?im)^[ \t]*(?:export[ \t]+)?[A-Z0-9_.-]*(?:TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|_AUTH|AUTHTOKEN)"
    rb"[A-Z0-9_.-]*[ \t]*[=:][ \t]*[\"']?(?![$<{])([^\s\"'#]{6,})"
)
_SETTINGS_NAMES = {".env", ".npmrc", ".pypirc", ".netrc", "credentials", ".git-credentials", ".dockercfg"}
_SETTINGS_SUFFIXES = (".env", ".ini", ".cfg", ".conf", ".properties", ".yaml", ".yml", ".toml")


@dataclass(frozen=True)
class Finding:
    """One secret found: in which layer (0 = bottom; None for the image config), at which path, of what kind.

    `hidden_in` is the later layer that deleted or overwrote the file (`hidden_how` says which): the running
    container no longer shows it, yet the layer `layer` still holds it for anyone who pulls the image.
    """

    layer: int | None
    path: str
    kind: str
    what: str
    excerpt: str = ""
    hidden_in: int | None = None
    hidden_how: str = ""

    @property
    def planted(self) -> bool:
        """Whether this is the course's planted secret (not another secret-shaped value)."""
        return self.kind == PLANTED

    def describe(self) -> str:
        """One line for a learner: what, where, and whether a later layer only hid it."""
        if self.layer is None:
            text = f"{self.what} in the image config ({self.path})"
        else:
            text = f"{self.what} in layer {self.layer + 1} at /{self.path}"
        if self.excerpt:
            text += f" ({self.excerpt})"
        if self.hidden_in is not None and self.layer is not None:
            text += (
                f"; layer {self.hidden_in + 1} {self.hidden_how} the file, "
                f"yet layer {self.layer + 1} still ships it to everyone who pulls"
            )
        return text


def mask(value: bytes | str) -> str:
    """A value shown safely: its first four characters, then its length."""
    text = value.decode(errors="replace") if isinstance(value, bytes) else value
    return f"{text[:4]}… ({len(text)} characters)" if len(text) > 4 else "…"


def _settings_file(path: str) -> bool:
    base = posixpath.basename(path).lower()
    return base in _SETTINGS_NAMES or base.endswith(_SETTINGS_SUFFIXES)


def scan_bytes(content: bytes, path: str, layer: int | None, planted: str = PLANTED_SECRET) -> list[Finding]:
    """Secrets in one file's content (or one config text): the planted one and well-known shapes."""
    found: list[Finding] = []
    if planted and planted.encode() in content:
        found.append(Finding(layer, path, PLANTED, "the planted secret (lesson 07's API token)"))
    if len(content) > MAX_SCANNED_FILE:
        return found
    for kind, what, pattern in PATTERNS:
        match = pattern.search(content)
        if match:
            found.append(Finding(layer, path, kind, what, excerpt=mask(match.group(0))))
    if _settings_file(path) and not found:
        match = _ASSIGNMENT.search(content)
        if match:
            found.append(
                Finding(
                    layer,
                    path,
                    "assignment",
                    "a token or password set in a settings file",
                    excerpt=mask(match.group(1)),
                )
            )
    return found


@dataclass(frozen=True)
class LayerScan:
    """What one layer holds for the scan: findings in its files, the whiteouts it carries, the files it writes."""

    findings: tuple[Finding, ...]
    whiteouts: tuple[Whiteout, ...]
    files: frozenset[str]  # regular files (and links) this layer writes

    @property
    def deleted(self) -> tuple[str, ...]:
        """Whole paths removed by `.wh.<name>` entries."""
        return tuple(item.path for item in self.whiteouts if not item.opaque)

    @property
    def opaque(self) -> tuple[str, ...]:
        """Folders whose earlier content `.wh..wh..opq` hides."""
        return tuple(item.path for item in self.whiteouts if item.opaque)


def scan_layer(data: bytes, layer: int = 0, planted: str = PLANTED_SECRET) -> LayerScan:
    """Scan one layer (gzip blob or plain tar): secrets in its regular files, and the whiteouts it carries."""
    findings: list[Finding] = []
    whiteouts: list[Whiteout] = []
    files: set[str] = set()
    try:
        for member in layer_members(data):
            if member.whiteout is not None:
                whiteouts.append(member.whiteout)
            elif member.info.isreg():
                files.add(member.path)
                content = member.content()
                if content is not None:
                    findings.extend(scan_bytes(content, member.path, layer, planted))
            elif not member.info.isdir():
                files.add(member.path)
    except tarfile.TarError as exc:
        raise ValueError(f"layer {layer + 1} is not a readable tar: {exc}") from exc
    return LayerScan(tuple(findings), tuple(whiteouts), frozenset(files))


def hidden_by(path: str, layer: int, later: Sequence[tuple[int, LayerScan]]) -> tuple[int, str] | None:
    """The first later layer that deletes or overwrites `path` of `layer`, as (index, how), else None."""
    for index, scan in later:
        if index <= layer:
            continue
        if any(whiteout.hides(path) for whiteout in scan.whiteouts):
            return index, "deletes"
        if path in scan.files:
            return index, "overwrites"
    return None


@dataclass(frozen=True)
class ImageScan:
    """A whole image scanned bottom up: each layer's scan, and every finding with what later hid it."""

    layers: tuple[LayerScan, ...]
    findings: tuple[Finding, ...]


def scan_image(layers: Iterable[bytes], planted: str = PLANTED_SECRET) -> ImageScan:
    """Scan an image's layers bottom up; each finding says which later layer deleted or overwrote it."""
    scans = [(index, scan_layer(data, index, planted)) for index, data in enumerate(layers)]
    results = []
    for index, scan in scans:
        for finding in scan.findings:
            hidden = hidden_by(finding.path, index, scans)
            results.append(replace(finding, hidden_in=hidden[0], hidden_how=hidden[1]) if hidden else finding)
    return ImageScan(tuple(scan for _, scan in scans), tuple(results))


def scan_layers(layers: Iterable[bytes], planted: str = PLANTED_SECRET) -> list[Finding]:
    """Every finding in an image's layers, bottom up (see scan_image)."""
    return list(scan_image(layers, planted).findings)


def scan_config(document: Mapping[str, Any], planted: str = PLANTED_SECRET) -> list[Finding]:
    """Secrets in an image config: its environment, labels and each history step (build args land there)."""
    found: list[Finding] = []
    settings = document.get("config") or {}
    places: list[tuple[str, str]] = [(f"Env[{i}]", str(v)) for i, v in enumerate(settings.get("Env") or [])]
    places += [(f"Labels[{k}]", f"{k}={v}") for k, v in (settings.get("Labels") or {}).items()]
    places += [
        (f"history[{i}]", str(step.get("created_by", "")))
        for i, step in enumerate(document.get("history") or [])
        if isinstance(step, Mapping)
    ]
    for where, text in places:
        hits = scan_bytes(text.encode(), where, None, planted)
        if where.startswith("Env") and not hits:
            match = _ASSIGNMENT.search(text.encode())
            if match:
                hits.append(
                    Finding(
                        None,
                        where,
                        "assignment",
                        "a token or password in the environment",
                        excerpt=mask(match.group(1)),
                    )
                )
        found.extend(hits)
    return found


def layer_history(document: Mapping[str, Any]) -> list[str]:
    """The `created_by` of each step that made a filesystem layer, bottom up ([] without a history)."""
    steps = [step for step in document.get("history") or [] if isinstance(step, Mapping)]
    layered = [str(step.get("created_by", "")) for step in steps if not step.get("empty_layer")]
    count = len((document.get("rootfs") or {}).get("diff_ids") or [])
    return layered if len(layered) == count else []

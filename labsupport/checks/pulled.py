"""What the checks of lessons 07-10 read back from the lab registry, and the build their hints print.

A repository's tags, the images behind a tag (an index's runnable platforms included), an image pulled apart
(its config and every layer blob, as anyone who pulls it gets them) and scanned for secrets, each finding told
by the layer and instruction that hold it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any

from .. import secrets
from ..config import DEFAULT_BASE_IMAGE, LabConfig, course_app
from ..errors import BlobUnknown, NameUnknown
from ..history import clean_instruction
from .base import CheckContext

_LONG_HEX = re.compile(r"[0-9a-f]{20,}")


def app_folder(name: str) -> str:
    """The path of a course app (config.course_app) as a command typed here would need it."""
    folder = course_app(name)
    try:
        relative = os.path.relpath(folder)
    except ValueError:  # another drive on Windows
        return str(folder)
    return relative if not relative.startswith(".." + os.sep + "..") else str(folder)


def build_command(config: LabConfig, app: str, ref: str, dockerfile: str | None = None) -> str:
    """`docker build … && docker push …` for a course app (with the lab's base image when not the default)."""
    folder = app_folder(app)
    parts = ["docker build"]
    if dockerfile:
        parts.append(f"-f {os.path.join(folder, dockerfile)}")
    if config.base_image != DEFAULT_BASE_IMAGE:
        parts.append(f"--build-arg BASE={config.base_image}")
    parts += [f"-t {ref}", folder]
    return " ".join(parts) + f" && docker push {ref}"


def repository_tags(ctx: CheckContext, repository: str) -> list[str]:
    """The tags of a repository in the lab registry; [] when the repository does not exist."""
    try:
        return ctx.registry.tags(repository)
    except NameUnknown:
        return []


def image_manifests(ctx: CheckContext, repository: str, reference: str) -> list[Any]:
    """The single-image manifests behind a tag or digest: itself, or an index's runnable platforms."""
    top = ctx.registry.manifest(repository, reference)
    if not top.is_index:
        return [top]
    return [ctx.registry.image_manifest(repository, reference, platform=platform, index=top)
            for platform in top.image_platforms]


@dataclass(frozen=True)
class PulledImage:
    """One image read back from the registry: its manifest, its config document and its layer blobs."""

    manifest: Any
    config: dict[str, Any]
    blobs: tuple[bytes, ...]

    @property
    def layer_digests(self) -> list[str]:
        return [blob.digest for blob in self.manifest.layers]

    def instruction(self, layer: int, width: int = 70) -> str:
        """The Dockerfile instruction that made a layer (from the config's history), shortened."""
        history = secrets.layer_history(self.config)
        if not 0 <= layer < len(history):
            return "instruction unknown"
        text = " ".join(clean_instruction(history[layer]).split())
        text = text.replace(secrets.PLANTED_SECRET, secrets.mask(secrets.PLANTED_SECRET))
        text = _LONG_HEX.sub(lambda match: match.group(0)[:12] + "…", text)  # COPY file:<64 hex> in /dst
        return text if len(text) <= width else text[: width - 1] + "…"


def read_image(ctx: CheckContext, manifest: Any) -> PulledImage:
    """Download the config and every layer blob a manifest lists (BlobUnknown when the registry lacks one)."""
    if not manifest.has_config:
        raise BlobUnknown(
            f"{manifest.repository}@{manifest.digest} lists no config blob", code="BLOB_UNKNOWN"
        )
    try:
        config = json.loads(ctx.registry.get_blob(manifest.repository, manifest.config.digest))
    except ValueError:
        config = {}
    blobs = tuple(ctx.registry.get_blob(manifest.repository, blob.digest) for blob in manifest.layers)
    return PulledImage(manifest, config if isinstance(config, dict) else {}, blobs)


def layer_name(image: PulledImage, layer: int) -> str:
    """`layer 3 of 4 (RUN rm /app/.env)`: a layer as a learner can find it in `docker history`."""
    return f"layer {layer + 1} of {len(image.blobs)} ({image.instruction(layer)})"


def explain(image: PulledImage, finding: secrets.Finding) -> str:
    """A finding in words: which layer and instruction hold it, and which one only hid it."""
    if finding.layer is None:
        return (
            f"{finding.what} is in the image config at {finding.path} "
            "(build arguments and ENV are recorded there)"
        )
    digest = image.layer_digests[finding.layer] if finding.layer < len(image.blobs) else "?"
    text = f"{layer_name(image, finding.layer)} holds /{finding.path} with {finding.what}"
    if finding.excerpt:
        text += f" ({finding.excerpt})"
    if finding.hidden_in is not None:
        text += (
            f"; {layer_name(image, finding.hidden_in)} {finding.hidden_how} the file, but the registry still "
            f"serves blob {digest[:19]}… to everyone who pulls, with the file inside"
        )
    return text


def scan_image(image: PulledImage) -> tuple[secrets.ImageScan, list[secrets.Finding]]:
    """Scan an image's layers and config; ValueError when a layer cannot be read (zstd, damaged)."""
    scan = secrets.scan_image(image.blobs)
    return scan, list(scan.findings) + secrets.scan_config(image.config)


def first_finding(findings: list[secrets.Finding]) -> tuple[str, secrets.Finding] | None:
    """The finding to report first, with its code: planted in a layer, in the config, then other shapes."""
    ranked = [
        ("secret-deleted-later", lambda f: f.planted and f.layer is not None and f.hidden_in is not None),
        ("secret-in-layer", lambda f: f.planted and f.layer is not None),
        ("secret-in-config", lambda f: f.planted),
        ("secret-pattern", lambda f: True),
    ]
    for code, wanted in ranked:
        for finding in findings:
            if wanted(finding):
                return code, finding
    return None

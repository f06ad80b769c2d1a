"""Lesson 07's check: `security.no-secrets`, plus the registry-reading helpers lessons 07-10 share.

The check reads `<learner>/hello-lab:secure` FROM THE REGISTRY (what anyone who pulls it gets), not from the
local engine: each layer blob is downloaded, gunzipped and scanned with labsupport.secrets, also for files a
later layer deletes, and the image config is scanned for build arguments and environment values.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any

from .. import secrets
from ..config import DEFAULT_BASE_IMAGE, LabConfig, repo_root
from ..errors import BlobUnknown, ManifestUnknown, NameUnknown
from ..history import clean_instruction
from .base import OK, CheckContext, CheckResult, exercise

EXERCISE = "security.no-secrets"
REPOSITORY = "hello-lab"
SECURE_TAG = "secure"
_LONG_HEX = re.compile(r"[0-9a-f]{20,}")


# -- helpers the checks of lessons 07-10 share --------------------------------------------------------------


def app_folder(name: str) -> str:
    """The path of a course app (notebooks/apps/NAME) as a command typed here would need it."""
    folder = repo_root() / "notebooks" / "apps" / name
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


# -- the check -------------------------------------------------------------------------------------------


@exercise(EXERCISE)
def check_no_secrets(ctx: CheckContext) -> CheckResult:
    """`<learner>/hello-lab:secure` is in the registry and no layer (nor its config) holds a secret."""
    config = ctx.config
    repository = f"{config.learner}/{REPOSITORY}"
    ref = config.ref(REPOSITORY, SECURE_TAG)
    fixed = build_command(config, "secret", ref, dockerfile="Dockerfile.secure")
    tags = repository_tags(ctx, repository)
    if SECURE_TAG not in tags:
        where = (
            f"{repository} has the tags {', '.join(sorted(tags))} but not {SECURE_TAG}"
            if tags
            else f"the registry has no repository {repository}"
        )
        return CheckResult(
            EXERCISE, False, "secure-tag-missing", f"{ref} is not in the registry: {where}", hint=fixed
        )
    try:
        images = [read_image(ctx, manifest) for manifest in image_manifests(ctx, repository, SECURE_TAG)]
    except (BlobUnknown, ManifestUnknown) as exc:
        return CheckResult(
            EXERCISE,
            False,
            "blob-missing",
            f"the registry cannot serve all of {ref}: {exc.message}",
            hint=fixed,
        )
    if not images:
        return CheckResult(
            EXERCISE, False, "blob-missing", f"{ref} is an index that lists no runnable image", hint=fixed
        )
    layers = 0
    for image in images:
        try:
            _, findings = scan_image(image)
        except ValueError as exc:
            return CheckResult(
                EXERCISE,
                False,
                "unreadable-layer",
                f"a layer of {ref} could not be scanned: {exc}",
                hint=f"push it again with gzip layers (the default): {fixed}",
            )
        layers += len(image.blobs)
        ranked = first_finding(findings)
        if ranked is None:
            continue
        code, finding = ranked
        more = f" ({len(findings) - 1} more finding(s))" if len(findings) > 1 else ""
        if finding.planted:
            hint = (
                f"{fixed}   (Dockerfile.secure bakes in no token; give it at run time: "
                f"docker run --rm -e API_TOKEN=… {ref})"
            )
        else:
            hint = f"take that file or value out of the build, then rebuild and push: {fixed}"
        return CheckResult(EXERCISE, False, code, f"{ref}: {explain(image, finding)}{more}", hint=hint)
    first = images[0].manifest
    digest = first.index_digest or first.digest          # what the tag names, as `docker push` printed it
    return CheckResult(
        EXERCISE,
        True,
        OK,
        f"{ref} ({digest}) is in the registry and none of its {layers} layers, nor its config, "
        "holds the planted secret or a secret-shaped value",
    )

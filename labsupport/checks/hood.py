"""Lesson 09's check: `hood.handmade`, an image pushed by hand over HTTP that Docker can pull and run.

The registry refuses a manifest whose blobs it lacks, but a blob can go afterwards (deleted, garbage
collected, pushed to another repository), so the check asks the registry for every blob the manifest lists,
then has the engine really pull the image (Engine.pull) and run a container of it.
"""

from __future__ import annotations

from ..config import LabConfig
from ..errors import EngineUnavailable, LabError, ManifestUnknown, RunFailed
from .base import OK, CheckContext, CheckResult, exercise
from .pulled import image_manifests, repository_tags

EXERCISE = "hood.handmade"
REPOSITORY = "handmade"
TAG = "1.0"
RUN_TIMEOUT = 30.0


def pull_hint(config: LabConfig, reference: str, failure: str) -> str:
    """The fix for a failed pull: a login when the registry wanted one, else the pull, to read it all."""
    if any(
        words in failure.lower() for words in ("no basic auth credentials", "unauthorized", "authentication")
    ):
        return (
            f"docker login {config.registry} --username {config.learner}   (labsupport credentials shows "
            f"the password), then: docker pull {reference}"
        )
    return f"docker pull {reference}   (to read the whole error)"


def run_output(ctx: CheckContext, reference: str) -> tuple[bool, str]:
    """Run a container of the image: (True, its output) or (False, why it failed). The engine may refuse."""
    try:
        return True, ctx.engine.run(reference, timeout=RUN_TIMEOUT)
    except RunFailed as exc:
        return False, exc.message
    except EngineUnavailable:
        raise
    except LabError as exc:  # e.g. "no command specified": the image's config, not the lab, is at fault
        return False, exc.message


def _missing_blob(ctx: CheckContext, repository: str) -> str | None:
    """The first blob (config or layer) a manifest of handmade:1.0 lists that the registry lacks, in words."""
    for manifest in image_manifests(ctx, repository, TAG):
        listed = ([("config blob", manifest.config)] if manifest.has_config else []) + [
            (f"layer {number}", blob) for number, blob in enumerate(manifest.layers, start=1)
        ]
        if not listed:
            return f"the manifest {manifest.digest} lists no config and no layers"
        for what, blob in listed:
            if ctx.registry.blob_exists(repository, blob.digest) is None:
                return f"the {what} {blob.digest} that the manifest lists"
    return None


@exercise(EXERCISE)
def check_handmade(ctx: CheckContext) -> CheckResult:
    """`<learner>/handmade:1.0` is in the registry with all its blobs, docker pulls it, and it runs."""
    config = ctx.config
    repository = f"{config.learner}/{REPOSITORY}"
    ref = config.ref(REPOSITORY, TAG)
    api = f"{config.registry_url}/v2/{repository}"
    by_hand = (
        f"lesson 09's steps: for each blob POST {api}/blobs/uploads/ then PUT ?digest=…, HEAD it; last, PUT "
        f"the manifest to {api}/manifests/{TAG} with Content-Type "
        f"application/vnd.docker.distribution.manifest.v2+json"
    )
    tags = repository_tags(ctx, repository)
    if TAG not in tags:
        return CheckResult(
            EXERCISE,
            False,
            "handmade-missing",
            f"{ref} is not in the registry ({repository} has {', '.join(sorted(tags)) or 'no tags'})",
            hint=by_hand,
        )
    try:
        missing = _missing_blob(ctx, repository)
    except ManifestUnknown as exc:
        missing = exc.message
    if missing:
        return CheckResult(
            EXERCISE,
            False,
            "blob-missing",
            f"the registry lacks {missing}, so no one can pull {ref}",
            hint=f"upload it again (POST {api}/blobs/uploads/, then PUT ?digest=…, then HEAD "
            f"{api}/blobs/<digest>), or redo it all: {by_hand}",
        )
    failed = ctx.engine.pull(ref).error
    if failed:
        hint = pull_hint(config, ref, failed)
        if hint.startswith("docker pull"):
            hint += (
                "; the config's rootfs.diff_ids must be the sha256 of each layer's uncompressed tar, in order"
            )
        return CheckResult(EXERCISE, False, "not-pullable", f"docker pull {ref} failed: {failed}", hint=hint)
    ran, output = run_output(ctx, ref)
    if not ran:
        return CheckResult(
            EXERCISE,
            False,
            "does-not-run",
            f"{ref} pulls, but running it fails: {output}",
            hint=f"docker run --rm {ref}   (to see it fail); the layer must hold the program the "
            "config's Cmd names, e.g. bin/busybox picked from the base image with pick_files",
        )
    shown = " ".join(output.split())
    return CheckResult(
        EXERCISE,
        True,
        OK,
        f"{ref} has every blob in the registry, docker pulled it and it ran"
        + (f", printing: {shown[:120]}" if shown else ""),
    )

"""Lesson 07's check: `security.no-secrets`.

The check reads `<learner>/hello-lab:secure` FROM THE REGISTRY (what anyone who pulls it gets), not from the
local engine: each layer blob is downloaded, gunzipped and scanned with labsupport.secrets, also for files a
later layer deletes, and the image config is scanned for build arguments and environment values.
"""

from __future__ import annotations

from ..course import HELLO_REPOSITORY
from ..errors import BlobUnknown, ManifestUnknown
from .base import OK, CheckContext, CheckResult, exercise
from .pulled import (
    build_command,
    explain,
    first_finding,
    image_manifests,
    read_image,
    repository_tags,
    scan_image,
)

EXERCISE = "security.no-secrets"
REPOSITORY = HELLO_REPOSITORY
SECURE_TAG = "secure"


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

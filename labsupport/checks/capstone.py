"""Lesson 10's check: `capstone.ship`, everything of the course on a second app (notebooks/apps/capstone).

From the registry: a semantic-version tag and a commit tag of `<learner>/capstone` on one digest; in that
image's layers (downloaded from the registry) the app's own files come last, so a change to the app rebuilds
and pushes only the top layer(s); no layer nor the config holds a secret; the engine can pull it by digest.
"""

from __future__ import annotations

import posixpath

from .. import secrets
from ..config import repo_root
from ..errors import BlobUnknown, ManifestUnknown
from ..refs import is_commit_tag, is_semver_tag
from .base import OK, CheckContext, CheckResult, exercise
from .hood import pull_hint
from .production import lesson_commit
from .pulled import (
    PulledImage,
    app_folder,
    build_command,
    explain,
    first_finding,
    image_manifests,
    layer_name,
    read_image,
    repository_tags,
    scan_image,
)

EXERCISE = "capstone.ship"
REPOSITORY = "capstone"
#: The file names of notebooks/apps/capstone that the image carries (a test keeps this equal to the folder).
APP_FILES = frozenset({"capstone.sh", "VERSION"})
APP_PROGRAM = "capstone.sh"


def cache_order_problem(image: PulledImage, scan: secrets.ImageScan) -> str | None:
    """Why the layer order is not cache-friendly, or None: after the app's layer only app files change."""
    holding = [
        index
        for index, layer in enumerate(scan.layers)
        if any(posixpath.basename(path) == APP_PROGRAM for path in layer.files)
    ]
    if not holding:
        return f"no layer holds {APP_PROGRAM}: the image was not built from the capstone app"
    app_layer = holding[0]
    for index in range(app_layer + 1, len(scan.layers)):
        others = sorted(
            path for path in scan.layers[index].files if posixpath.basename(path) not in APP_FILES
        )
        if others:
            return (
                f"{layer_name(image, index)} adds /{others[0]}"
                + (f" and {len(others) - 1} more file(s)" if len(others) > 1 else "")
                + f" after the app arrived in {layer_name(image, app_layer)}: every change to the app "
                "rebuilds and re-uploads it. Put the steps that rarely change first, the app's COPY last"
            )
    return None


@exercise(EXERCISE)
def check_ship(ctx: CheckContext) -> CheckResult:  # noqa: C901 (the capstone's mistakes, one after the other)
    """`<learner>/capstone`: semver + commit tag on one digest, cache-friendly, no secret, pullable."""
    config = ctx.config
    repository = f"{config.learner}/{REPOSITORY}"
    commit = lesson_commit(repo_root() / "notebooks" / "apps" / REPOSITORY)   # what lesson 10 tags with
    version_ref, commit_ref = config.ref(REPOSITORY, "1.0.0"), config.ref(REPOSITORY, commit)
    ship = (
        build_command(config, "capstone", version_ref) + f" && docker tag {version_ref} {commit_ref}"
        f" && docker push {commit_ref}"
    )
    tags = repository_tags(ctx, repository)
    if not tags:
        return CheckResult(
            EXERCISE, False, "capstone-missing", f"the registry has no repository {repository}", hint=ship
        )
    versions = sorted(tag for tag in tags if is_semver_tag(tag))
    commits = sorted(tag for tag in tags if is_commit_tag(tag))
    if not versions:
        return CheckResult(
            EXERCISE,
            False,
            "missing-semver-tag",
            f"{repository} has no semantic-version tag (MAJOR.MINOR.PATCH) among {', '.join(sorted(tags))}",
            hint=ship,
        )
    if not commits:
        return CheckResult(
            EXERCISE,
            False,
            "missing-commit-tag",
            f"{repository} has no commit-id tag (7-40 hex characters) among {', '.join(sorted(tags))}",
            hint=f"docker tag {config.ref(REPOSITORY, versions[-1])} {commit_ref} "
            f"&& docker push {commit_ref}",
        )
    digests = {tag: ctx.registry.head_manifest(repository, tag) for tag in versions + commits}
    pairs = [(v, c) for v in versions for c in commits if digests[v] and digests[v] == digests[c]]
    if not pairs:
        shown = ", ".join(f"{tag} → {(digests[tag] or 'gone')[:19]}…" for tag in versions + commits)
        return CheckResult(
            EXERCISE,
            False,
            "different-digests",
            f"no version tag and commit tag of {repository} share a digest ({shown})",
            hint=f"docker tag {config.ref(REPOSITORY, versions[-1])} {commit_ref} "
            f"&& docker push {commit_ref}",
        )
    version, commit = pairs[-1]
    digest = str(digests[version])
    pinned = f"{config.registry}/{repository}@{digest}"
    try:
        images = [read_image(ctx, manifest) for manifest in image_manifests(ctx, repository, digest)]
    except (BlobUnknown, ManifestUnknown) as exc:
        return CheckResult(
            EXERCISE,
            False,
            "not-pullable",
            f"{pinned} cannot be pulled: the registry lacks a part of it ({exc.message})",
            hint=f"{ship}   (pushes every missing blob again)",
        )
    if not images:
        return CheckResult(
            EXERCISE, False, "not-pullable", f"{pinned} is an index that lists no runnable image", hint=ship
        )
    for image in images:
        try:
            scan, findings = scan_image(image)
        except ValueError as exc:
            return CheckResult(
                EXERCISE,
                False,
                "unreadable-layer",
                f"a layer of {pinned} could not be read: {exc}",
                hint=f"push it again with gzip layers (the default): {ship}",
            )
        problem = cache_order_problem(image, scan)
        if problem:
            code = "app-missing" if problem.startswith("no layer") else "cache-unfriendly"
            return CheckResult(
                EXERCISE,
                False,
                code,
                f"{repository}:{version}: {problem}",
                hint=f"order the Dockerfile like {app_folder('capstone')}/Dockerfile (steps that rarely "
                f"change first, the COPY of the app last), then: {ship}"
                if code == "cache-unfriendly"
                else ship,
            )
        ranked = first_finding(findings)
        if ranked:
            return CheckResult(
                EXERCISE,
                False,
                "secret-found",
                f"{repository}:{version}: {explain(image, ranked[1])}",
                hint="take the secret out of every build step (a later rm does not help), "
                f"pass it at run time with docker run -e, then: {ship}",
            )
    failed = ctx.engine.pull(pinned).error
    if failed:
        return CheckResult(
            EXERCISE,
            False,
            "not-pullable",
            f"docker pull {pinned} failed: {failed}",
            hint=pull_hint(config, pinned, failed),
        )
    return CheckResult(
        EXERCISE,
        True,
        OK,
        f"{repository}:{version} and :{commit} are one digest ({digest}), the app comes in the top "
        "layer(s), no secret is inside, and docker pulled it by digest",
    )

"""Lesson 08's checks: release tags on one digest (`production.tags`) and an image index (`production.index`).

Both read the lab registry only: which tags a repository lists, the digest each resolves to (HEAD on the
manifest), and whether `multi:1.0` is an index of at least two runnable platforms.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from ..refs import COMMIT_TAG_LENGTH, commit_tag, is_commit_tag
from . import images
from .base import OK, CheckContext, CheckResult, exercise
from .pulled import app_folder, build_command, repository_tags

TAGS = "production.tags"
INDEX = "production.index"
REPOSITORY = "hello-lab"
VERSION, MINOR = "1.2.0", "1.2"
MULTI, MULTI_TAG = "multi", "1.0"


def lesson_commit(app: Path | None = None) -> str:
    """The commit tag lesson 08 makes: the id of HEAD of the git checkout that holds the app, at the course's
    length (refs.commit_tag); outside a git checkout, a stand-in id made from the app's files."""
    folder = app or images.app_dir()
    try:
        asked = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True,
                               timeout=30, check=False)
        full = asked.stdout.strip() if asked.returncode == 0 else ""
    except (OSError, subprocess.TimeoutExpired):  # no git on this machine
        full = ""
    if not full:
        full = hashlib.sha1(b"".join(p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file())).hexdigest()
    return commit_tag(full)


def _short(digest: str | None) -> str:
    return f"{digest[:19]}…" if digest else "nothing"


@exercise(TAGS)
def check_tags(ctx: CheckContext) -> CheckResult:
    """`1.2.0`, `1.2` and the commit tag lesson 08 makes (HEAD's id, `lesson_commit`) of
    `<learner>/hello-lab` all resolve to one manifest digest."""
    config = ctx.config
    repository = f"{config.learner}/{REPOSITORY}"
    version_ref, minor_ref = config.ref(REPOSITORY, VERSION), config.ref(REPOSITORY, MINOR)
    commit = lesson_commit()
    commit_ref = config.ref(REPOSITORY, commit)
    tags = repository_tags(ctx, repository)
    digests = {
        tag: ctx.registry.head_manifest(repository, tag)
        for tag in tags
        if tag in (VERSION, MINOR, commit) or is_commit_tag(tag)
    }
    digests = {tag: digest for tag, digest in digests.items() if digest}  # deleted since the listing
    others = sorted(tag for tag in digests if is_commit_tag(tag) and tag != commit)
    missing = [
        name
        for name, there in (
            (VERSION, VERSION in digests),
            (MINOR, MINOR in digests),
            (f"{commit} (HEAD's commit id at {COMMIT_TAG_LENGTH} characters, as the lesson makes it"
             + (f", which {', '.join(others)} is not" if others else "") + ")",
             commit in digests),
        )
        if not there
    ]
    if missing:
        if VERSION not in digests:
            hint = (
                build_command(config, "hello", version_ref) + f" && docker tag {version_ref} {minor_ref}"
                f" && docker tag {version_ref} {commit_ref}"
                f" && docker push --all-tags {config.ref(REPOSITORY)}"
            )
        elif MINOR not in digests:
            hint = f"docker tag {version_ref} {minor_ref} && docker push {minor_ref}"
        else:
            hint = f"docker tag {version_ref} {commit_ref} && docker push {commit_ref}"
        return CheckResult(
            TAGS,
            False,
            "missing-tag",
            f"{repository} lacks the tag(s) {', '.join(missing)}; it has "
            f"{', '.join(sorted(tags)) or 'no tags'}",
            hint=hint,
        )
    target = digests[VERSION]
    if digests[MINOR] != target:
        return CheckResult(
            TAGS,
            False,
            "different-digests",
            f"{MINOR} points at {_short(digests[MINOR])} but {VERSION} at {_short(target)}: "
            f"a moving tag {MINOR} should name the newest {MINOR}.x release",
            hint=f"docker pull {version_ref} && docker tag {version_ref} {minor_ref} "
            f"&& docker push {minor_ref}",
        )
    if digests[commit] != target:
        return CheckResult(
            TAGS,
            False,
            "different-digests",
            f"the commit tag {commit} points at {_short(digests[commit])} but {VERSION} at {_short(target)}: "
            "the commit tag must name the very image that was released",
            hint=f"docker tag {version_ref} {commit_ref} && docker push {commit_ref}",
        )
    return CheckResult(
        TAGS,
        True,
        OK,
        f"{VERSION}, {MINOR} and the commit tag {commit} of {repository} all resolve to {target}",
    )


@exercise(INDEX)
def check_index(ctx: CheckContext) -> CheckResult:
    """`<learner>/multi:1.0` is an image index (OCI index or manifest list) with two or more platforms."""
    config = ctx.config
    repository = f"{config.learner}/{MULTI}"
    ref = config.ref(MULTI, MULTI_TAG)
    lesson_way = (
        f'with registry() as reg: assemble_index(reg, "{repository}", "{MULTI_TAG}", '
        f'{{"linux/amd64": "{MULTI_TAG}-amd64", "linux/arm64": "{MULTI_TAG}-arm64"}})'
    )
    hint = (
        f"{lesson_way}   (after pushing {config.ref(MULTI, MULTI_TAG + '-amd64')} and "
        f"{config.ref(MULTI, MULTI_TAG + '-arm64')}; with buildx: docker buildx build "
        f"--platform linux/amd64,linux/arm64 -t {ref} --push {app_folder('hello')})"
    )
    tags = repository_tags(ctx, repository)
    if MULTI_TAG not in tags:
        return CheckResult(
            INDEX,
            False,
            "index-missing",
            f"{ref} is not in the registry ({repository} has {', '.join(sorted(tags)) or 'no tags'})",
            hint=hint,
        )
    manifest = ctx.registry.manifest(repository, MULTI_TAG)
    if not manifest.is_index:
        return CheckResult(
            INDEX,
            False,
            "not-an-index",
            f"{ref} is a plain image manifest ({manifest.media_type or 'no media type'}) for one "
            "platform, not an index that lists one manifest per platform",
            hint=hint,
        )
    platforms = sorted(set(manifest.image_platforms))
    if len(platforms) < 2:
        return CheckResult(
            INDEX,
            False,
            "single-platform",
            f"{ref} is an index, but it lists only {', '.join(platforms) or 'no platform'}"
            + (" (its unknown/unknown entry is BuildKit's attestation of that image, not a platform)"
               if manifest.attestations else "")
            + "; a multi-platform image lists at least two",
            hint=hint,
        )
    for entry in manifest.document.get("manifests") or []:
        digest = str(entry.get("digest", ""))
        if not digest or ctx.registry.head_manifest(repository, digest) is None:
            return CheckResult(
                INDEX,
                False,
                "child-missing",
                f"{ref} lists {digest or 'an entry without a digest'}, which {repository} does "
                "not hold: a pull for that platform would fail",
                hint=hint,
            )
    return CheckResult(
        INDEX, True, OK, f"{ref} is an image index ({manifest.media_type}) over {', '.join(platforms)}"
    )

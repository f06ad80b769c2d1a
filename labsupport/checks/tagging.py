"""Lesson 03's check: `tagging.tag`, the app's image named `<registry>/<learner>/hello-lab:1.0`.

A tag is a pointer, so the check compares image ids: the registry-qualified name must point at the very image
`hello-lab:1.0` points at. When it does not exist, the other names of that image tell which part of the
reference went wrong (no host, the loopback alias as host, another namespace, repository or tag).
"""

from __future__ import annotations

from collections.abc import Iterable
from difflib import SequenceMatcher

from .. import refs
from ..config import LabConfig
from ..errors import InvalidReference
from . import images
from .base import OK, CheckContext, CheckResult, exercise

#: Mistake codes from the farthest off to the nearest: the nearest attempt is the one reported.
CLOSENESS = ("missing-host", "wrong-host", "wrong-namespace", "wrong-repository", "wrong-tag")


def target_ref(config: LabConfig, tag: str = "1.0") -> str:
    """The exercise's reference: `<registry>/<learner>/hello-lab:<tag>`."""
    return config.ref(images.REPOSITORY, tag)


def tag_command(config: LabConfig, tag: str = "1.0") -> str:
    """The exact `docker tag` that makes the exercise's name for the local image."""
    return f"docker tag {images.local_ref(tag)} {target_ref(config, tag)}"


def _related(ref: refs.Reference, config: LabConfig) -> bool:
    """Whether a name looks like an attempt at the exercise's reference, not an unrelated tag of the image."""
    last = ref.repository.rsplit("/", 1)[-1]
    if last in (images.REPOSITORY, images.LOCAL_NAME.rsplit("/", 1)[-1]) or ref.namespace == config.learner:
        return True
    lab = ref.host == config.registry or refs.is_loopback_alias(ref.host, config.registry)
    return ref.explicit_host and lab


def diagnose_name(name: str, config: LabConfig, tag: str = "1.0") -> tuple[str, str] | None:
    """(code, why) for a local name that misses the exercise's reference; None if it is right or unrelated."""
    try:
        ref = refs.parse(name, default_tag="latest")
    except InvalidReference:
        return None
    if not _related(ref, config):
        return None
    where = f"{config.registry}/{config.learner}"
    if not ref.explicit_host:
        return "missing-host", (f"{name} names no registry host, so `docker push {name}` would send it to "
                                f"Docker Hub ({ref.name}), not to the lab at {config.registry}")
    if ref.host != config.registry:
        if refs.is_loopback_alias(ref.host, config.registry):
            return "wrong-host", (f"{name} names {ref.host}: the same registry, but the Docker client keeps "
                                  f"its login under {config.registry}, so use exactly that name")
        return "wrong-host", f"{name} names the registry {ref.host}, not the lab's {config.registry}"
    namespace, _, rest = ref.repository.partition("/")
    if not ref.namespace or namespace != config.learner:
        shown = f"the namespace {namespace!r}" if ref.namespace else "no namespace"
        return "wrong-namespace", (f"{name} has {shown}; your namespace in the registry is "
                                   f"{config.learner!r} ({where}/…)")
    if rest != images.REPOSITORY:
        return "wrong-repository", f"{name} names the repository {rest!r}, not {images.REPOSITORY!r}"
    if ref.tag != tag or ref.digest:
        return "wrong-tag", f"{name} has the tag {ref.tag!r}, not {tag!r}"
    return None


def closeness(name: str, config: LabConfig, code: str, tag: str = "1.0") -> tuple[float, int, float]:
    """How close a mistaken name is to the exercise's reference, to sort attempts by: first how alike its
    repository's last part is to `hello-lab` (difflib's ratio: a leftover `…/multi:1.0-amd64` is no attempt
    at it), then how near its mistake is (CLOSENESS), then how alike the whole names are."""
    target = target_ref(config, tag)
    try:
        last = refs.parse(name, default_tag="latest").repository.rsplit("/", 1)[-1]
    except InvalidReference:
        last = name
    return (SequenceMatcher(None, last, images.REPOSITORY).ratio(), CLOSENESS.index(code),
            SequenceMatcher(None, name, target).ratio())


def nearest_mistake(names: Iterable[str], config: LabConfig, tag: str = "1.0",
                    skip: Iterable[str] = ()) -> tuple[str, str] | None:
    """The mistake of the name closest to the exercise's reference among an image's names (None if none)."""
    skipped = set(skip)
    found = [(name, hit) for name in sorted(set(names)) if name not in skipped
             for hit in [diagnose_name(name, config, tag)] if hit is not None]
    if not found:
        return None
    return max(found, key=lambda pair: closeness(pair[0], config, pair[1][0], tag))[1]


def _result(code: str, message: str, hint: str = "") -> CheckResult:
    return CheckResult("tagging.tag", code == OK, code, message, hint=hint)


@exercise("tagging.tag")
def check_tag(ctx: CheckContext) -> CheckResult:
    """`<registry>/<learner>/hello-lab:1.0` exists and points at the image id of `hello-lab:1.0`."""
    config, engine = ctx.config, ctx.engine
    source, target = images.local_ref("1.0"), target_ref(config)
    fix = tag_command(config)
    if not engine.exists(source):
        return _result("source-missing", f"there is no local image {source} to tag: build it first "
                       "(lesson 01)", hint=f"{images.build_command(config)} && {fix}")
    source_id = engine.image_id(source)
    if engine.exists(target):
        target_id = engine.image_id(target)
        if target_id == source_id:
            return _result(OK, f"{target} and {source} are one image ({source_id[:19]}): a tag is only "
                           "a name")
        return _result("different-image", f"{target} points at the image {target_id[:19]}, but {source} is "
                       f"{source_id[:19]}: it names another image (an older build?)", hint=fix)
    mistake = nearest_mistake(engine.image_view(source).tags, config, skip=(source,))
    if mistake is not None:
        code, why = mistake
        return _result(code, why, hint=fix)
    return _result("not-tagged", f"{source} has no name with the registry host yet, so a push has nowhere to "
                   f"go but Docker Hub", hint=fix)

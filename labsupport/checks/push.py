"""Lesson 05's check: `push.pushed`, the registry holds `<learner>/hello-lab:1.0` with the local layers.

The registry is read through its HTTP API with the lab's own credential (what it holds does not depend on the
learner's login), and its config's diff ids are compared with the local image's: equal diff ids are the same
layer contents whatever the compression. Also the shared helpers of lessons 05-06: reading a tag's RemoteView
and the exact push commands.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ..config import LabConfig
from ..errors import (
    LabNotRunning,
    ManifestUnknown,
    NameUnknown,
    RegistryError,
    RegistryUnreachable,
    Unauthorized,
)
from ..model import RemoteView
from . import images, login, tagging
from .base import OK, CheckContext, CheckResult, exercise
from .fixes import LAB_UP, login_then

#: push.pushed's mistakes found before the login in the causal order (no image, no lab name): they keep their
#: code when the Docker client is not logged in either, and their hint gains the login before its push.
BEFORE_LOGIN = ("not-tagged",)


def repository(config: LabConfig) -> str:
    """The app's repository in the learner's namespace: `<learner>/hello-lab`."""
    return f"{config.learner}/{images.REPOSITORY}"


@contextmanager
def lab_registry_errors() -> Iterator[None]:
    """A registry that is down or refuses the lab's own credential raises a LabError: fix `labsupport up`."""
    try:
        yield
    except RegistryUnreachable as down:
        raise LabNotRunning(f"the lab registry does not answer: {down.message}", fix=LAB_UP) from down
    except Unauthorized as refused:
        raise LabNotRunning(f"the lab registry refuses the lab's own credential: {refused.message}",
                            fix=LAB_UP) from refused


def pushed_tags(ctx: CheckContext, repo: str) -> list[str]:
    """The tags of a lab repository ([] when it does not exist)."""
    with lab_registry_errors():
        try:
            return ctx.registry.tags(repo)
        except NameUnknown:
            return []


def remote_view(ctx: CheckContext, repo: str, tag: str) -> RemoteView | None:
    """The tag's manifest and layers in the lab registry; None when it is not there.

    An image index (what BuildKit pushes on the containerd image store: the image and its attestation) is
    read as its image for this machine's platform.
    """
    with lab_registry_errors():
        try:
            return ctx.registry.remote_view(repo, tag)
        except (NameUnknown, ManifestUnknown):
            return None


def push_command(config: LabConfig, tag: str, *, tagged: bool, same: bool = True) -> str:
    """The exact commands that push the app's `tag`: a `docker tag` first if the name is missing or stale."""
    push = f"docker push {tagging.target_ref(config, tag)}"
    return push if tagged and same else f"{tagging.tag_command(config, tag)} && {push}"


def other_namespaces(ctx: CheckContext, config: LabConfig) -> list[str]:
    """The registry's hello-lab repositories outside the learner's namespace (a push to a wrong name)."""
    with lab_registry_errors():
        try:
            catalog = ctx.registry.catalog()
        except RegistryError:
            return []  # the catalog is optional to this diagnosis
    mine = repository(config)
    return [repo for repo in catalog if repo != mine and repo.rsplit("/", 1)[-1] == images.REPOSITORY
            and pushed_tags(ctx, repo)]


def _tag_digest(remote: RemoteView) -> str:
    """The digest the tag names, as `docker push` printed it: an index's own where the tag names one."""
    if remote.index_digest:
        return f"{remote.index_digest[:19]}…, an index; its {remote.platform} image {remote.manifest_digest[:19]}…"
    return f"{remote.manifest_digest[:19]}…"


def _result(code: str, message: str, hint: str = "") -> CheckResult:
    return CheckResult("push.pushed", code == OK, code, message, hint=hint)


def logged_in_first(ctx: CheckContext, result: CheckResult, keep: tuple[str, ...] = BEFORE_LOGIN) -> CheckResult:
    """A failed result whose fix pushes, when the Docker client holds no credential the lab accepts: the login
    lesson 04 teaches comes first in its hint (a push without it fails with `no basic auth credentials`, and
    the same hint again would be a loop); a mistake made after the login in the causal order is named
    `not-logged-in`, as the first broken precondition; one in `keep` (found before it) keeps its code."""
    if result.passed or "docker push" not in result.hint:
        return result
    logged_in = login.check_logged_in(ctx)
    if logged_in.passed:
        return result
    refused = ("`docker push` fails with `no basic auth credentials`" if logged_in.code == "no-credential"
               else "the registry refuses a push")
    hint = login_then(logged_in.hint, result.hint)
    if result.code in keep:
        return CheckResult(result.exercise, False, result.code,
                           f"{result.message}; and {logged_in.message}, so {refused}: log in first", hint=hint)
    return CheckResult(result.exercise, False, "not-logged-in",
                       f"{logged_in.message}, so {refused} ({result.message}): log in first (lesson 04), "
                       "then push", hint=hint)


@exercise("push.pushed")
def check_pushed(ctx: CheckContext) -> CheckResult:
    """The registry holds `<learner>/hello-lab:1.0` and its layers are those of the local image.

    The preconditions in causal order, the first broken one reported: the registry answers (else a LabError),
    the local image exists, it has the lab's name, the Docker client holds a credential the lab accepts, the
    registry holds the tag, and its layers are the local image's.
    """
    return logged_in_first(ctx, _pushed(ctx))


def _pushed(ctx: CheckContext) -> CheckResult:
    config, engine = ctx.config, ctx.engine
    repo, tag = repository(config), "1.0"
    target, source = tagging.target_ref(config, tag), images.local_ref(tag)
    tagged = engine.exists(target)
    source_id = engine.image_id(source) if engine.exists(source) else None
    same = not tagged or source_id is None or engine.image_id(target) == source_id
    remote = remote_view(ctx, repo, tag)
    if remote is None:
        tags = pushed_tags(ctx, repo)
        elsewhere = other_namespaces(ctx, config) if not tags else []
        if elsewhere:
            return _result("wrong-namespace", f"the registry has {', '.join(elsewhere)} but not {repo}: the "
                           f"push went to another namespace; yours is {config.learner!r}",
                           hint=push_command(config, tag, tagged=tagged, same=same))
        if tags:
            return _result("wrong-tag", f"the registry has {repo} with the tag(s) {', '.join(sorted(tags))}, "
                           f"but not {tag}", hint=push_command(config, tag, tagged=tagged, same=same))
        if not tagged:
            if source_id is None:
                return _result("not-tagged", f"there is neither {source} nor {target} here, and the registry "
                               f"has no {repo}", hint=f"{images.build_command(config)} && "
                               f"{push_command(config, tag, tagged=False)}")
            return _result("not-tagged", f"the registry has no {repo}:{tag}, and {source} has no name with "
                           "the registry host to push it under", hint=push_command(config, tag, tagged=False))
        return _result("not-pushed", f"{target} is tagged here but the registry has no {repo}:{tag}: "
                       "it was never pushed (or the push failed)",
                       hint=push_command(config, tag, tagged=True))
    if not tagged and source_id is None:
        return _result(OK, f"the registry holds {repo}:{tag} ({_tag_digest(remote)}); there is no "
                       "local copy to compare it with, which is fine after `docker rmi`")
    local = engine.image_view(target if tagged else source)
    newest = engine.image_view(source) if source_id is not None else local
    if remote.diff_ids != local.diff_ids or remote.diff_ids != newest.diff_ids:
        differ = sum(1 for index, diff_id in enumerate(newest.diff_ids)
                     if index >= len(remote.diff_ids) or remote.diff_ids[index] != diff_id)
        verb = "differs" if differ == 1 else "differ"
        return _result("layers-differ", f"the registry's {repo}:{tag} is not the local {source}: {differ} of "
                       f"its {len(newest.diff_ids)} layers {verb}: {source} was rebuilt after the push (a rerun "
                       "of lesson 01, say); push the new build, so that the registry holds what you have here",
                       hint=push_command(config, tag, tagged=tagged, same=same))
    return _result(OK, f"the registry holds {repo}:{tag} ({_tag_digest(remote)}), layer for layer "
                   f"the local {source}")

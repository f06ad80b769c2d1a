"""Lesson 06's check: `caching.minimal-upload`, hello-lab:1.1 differs from 1.0 only in the app's top layer.

Both tags are read from the registry and their layer blob lists compared: with a cache-friendly Dockerfile an
app change rebuilds only the layers from the `COPY` of the app up, so every layer of 1.0 below its top one is
a layer of 1.1 too, and the push of 1.1 uploaded only what lies above them ("Layer already exists" for the
rest).
"""

from __future__ import annotations

from pathlib import Path

from ..config import LabConfig
from ..dockercli import builds_with_buildkit
from ..model import RemoteView
from . import images, push, tagging
from .base import OK, CheckContext, CheckResult, exercise

OLD, NEW = "1.0", "1.1"


def _same_layer(old: RemoteView, new: RemoteView, index: int) -> bool:
    """Whether layer `index` is the same in both: the same blob, or the same content (diff id) compressed
    into another blob (the builders and image stores may compress one layer differently)."""
    if old.blobs[index].digest == new.blobs[index].digest:
        return True
    return index < min(len(old.diff_ids), len(new.diff_ids)) and old.diff_ids[index] == new.diff_ids[index]


def shared_base(old: RemoteView, new: RemoteView) -> int:
    """How many layers, from the bottom, the two tags have in common."""
    count = 0
    while count < min(len(old.blobs), len(new.blobs)) and _same_layer(old, new, count):
        count += 1
    return count


def changed_lower_layers(old: RemoteView, new: RemoteView) -> int:
    """How many layers of `old` below its top one are not in place in `new` (0 when cache-friendly)."""
    lower = max(len(old.blobs) - 1, 0)
    return max(lower - shared_base(old, new), 0)


def same_layers(old: RemoteView, new: RemoteView) -> bool:
    """Whether two tags hold the very same layers (the app did not change, or 1.1 is 1.0 tagged again)."""
    return len(old.blobs) == len(new.blobs) == shared_base(old, new)


def work_dir(config: LabConfig) -> Path:
    """The learner's own copy of the hello app, where lesson 06 changes it (the course's app stays as shipped)."""
    return config.state_dir / "work" / "hello"


def build_new_command(config: LabConfig) -> str:
    """Copy the app, change its version, rebuild it as 1.1 reusing 1.0's layers, tag it and push it.

    `--cache-from` matters: after lesson 05 removed and pulled 1.0 back, the classic builder has no cache
    of its own for it and would make every layer anew.
    """
    work = work_dir(config)
    copy = images.display_path(work)
    build = images.build_command(config, NEW, folder=work).replace(
        "docker build ", f"docker build --cache-from {tagging.target_ref(config, OLD)} ", 1)
    return (f"mkdir -p {images.display_path(work.parent)} && rm -rf {copy} && "
            f"cp -r {images.display_path(images.app_dir())} {copy} && echo {NEW} > {copy}/VERSION && "
            f"{build} && {push.push_command(config, NEW, tagged=False)}")


def reorder_command(config: LabConfig) -> str:
    """Put the app's COPY last in the learner's copy, then rebuild and push both versions from it."""
    work = work_dir(config)
    copy = images.display_path(work)
    steps = [f"echo {tag} > {copy}/VERSION && {images.build_command(config, tag, folder=work)} && "
             f"{push.push_command(config, tag, tagged=False)}" for tag in (OLD, NEW)]
    return f"in {copy}/Dockerfile move `COPY hello.sh VERSION /app/` below the RUN step, then: " + " && ".join(
        steps)


#: BuildKit keeps every result a step ever had (a --no-cache build adds one) and a build reuses the chain of
#: results it matches, not always the one 1.0 was made of; emptying its cache first leaves one chain.
PRUNE_BUILD_CACHE = "docker builder prune -f"


def rebuild_both_command(config: LabConfig, buildkit: bool = False) -> str:
    """Build 1.0 and then 1.1 from one build cache and push both: their lower layers are then the same ones.
    Under BuildKit the cache is emptied first, so both builds find one and the same result of each step."""
    work = work_dir(config)
    new = (f"{images.build_command(config, NEW, folder=work)} && {push.push_command(config, NEW, tagged=False)}"
           if work.is_dir() else build_new_command(config))
    both = f"{images.build_command(config, OLD)} && {push.push_command(config, OLD, tagged=False)} && {new}"
    return f"{PRUNE_BUILD_CACHE} && {both}" if buildkit else both


def first_changed_instruction(ctx: CheckContext, new: RemoteView, index: int) -> str | None:
    """The instruction that made layer `index` of the pushed 1.1, from the local image when it is that one."""
    for ref in (tagging.target_ref(ctx.config, NEW), images.local_ref(NEW)):
        if ctx.engine.exists(ref):
            local = ctx.engine.image_view(ref)
            if local.diff_ids == new.diff_ids and index < len(local.fs_layers):
                return local.fs_layers[index].instruction
    return None


def _result(code: str, message: str, hint: str = "") -> CheckResult:
    return CheckResult("caching.minimal-upload", code == OK, code, message, hint=hint)


#: The mistakes of the build (1.1 is in the registry): a missing login only adds itself to their hint.
BUILD_MISTAKES = ("unchanged", "no-app-layer", "lower-layers-rebuilt", "lower-layers-changed")


@exercise("caching.minimal-upload")
def check_minimal_upload(ctx: CheckContext) -> CheckResult:
    """`<learner>/hello-lab:1.1` is in the registry and shares every layer of 1.0 but the top one(s).

    A hint that pushes starts with the login when the Docker client holds no credential the lab accepts.
    """
    return push.logged_in_first(ctx, _minimal_upload(ctx), keep=BUILD_MISTAKES)


def _minimal_upload(ctx: CheckContext) -> CheckResult:
    config, engine = ctx.config, ctx.engine
    repo = push.repository(config)
    old = push.remote_view(ctx, repo, OLD)
    if old is None:
        tagged = engine.exists(tagging.target_ref(config, OLD))
        return _result("old-not-pushed", f"the registry has no {repo}:{OLD} to compare {NEW} with: push "
                       f"{OLD} first (lesson 05)", hint=push.push_command(config, OLD, tagged=tagged))
    new = push.remote_view(ctx, repo, NEW)
    if new is None:
        target, source = tagging.target_ref(config, NEW), images.local_ref(NEW)
        if engine.exists(target):
            same = not engine.exists(source) or engine.image_id(source) == engine.image_id(target)
            hint = push.push_command(config, NEW, tagged=True, same=same)
        elif engine.exists(source):
            hint = push.push_command(config, NEW, tagged=False)
        else:
            hint = build_new_command(config)
        return _result("not-pushed", f"the registry has no {repo}:{NEW} yet", hint=hint)
    if same_layers(old, new):
        return _result("unchanged", f"{repo}:{NEW} has exactly the layers of {OLD}: nothing in the app "
                       "changed, so its push uploaded nothing and taught nothing",
                       hint=build_new_command(config))
    changed = changed_lower_layers(old, new)
    shared = shared_base(old, new)
    if not changed and len(new.blobs) <= shared:
        return _result("no-app-layer", f"{repo}:{NEW} is only the lower layers of {OLD}, with no app layer "
                       "on top: the app's COPY is missing from its build", hint=build_new_command(config))
    if changed:
        lower = len(old.blobs) - 1
        instruction = first_changed_instruction(ctx, new, shared) or ""
        if instruction and not instruction.startswith("COPY"):
            buildkit = builds_with_buildkit()
            return _result("lower-layers-rebuilt",
                           f"{changed} of the {lower} layers below the app's top layer changed from {OLD} to "
                           f"{NEW}, though the Dockerfile copies the app last: the step `{instruction[:60]}` was "
                           f"built anew for one of them (a --no-cache build, or a build cache that did not hold "
                           f"{OLD}'s layer) instead of reused, so the push of {NEW} uploaded it again"
                           + (f". BuildKit keeps every result a step ever had and may reuse another one than "
                              f"{OLD}'s: empty its cache first" if buildkit else ""),
                           hint=rebuild_both_command(config, buildkit))
        return _result("lower-layers-changed",
                       f"{changed} of the {lower} layers below the app's top layer changed from {OLD} to "
                       f"{NEW}, so the push of {NEW} uploaded them again: the Dockerfile copies the app "
                       "before the steps that rarely change (or the build skipped the cache)",
                       hint=reorder_command(config))
    size = sum(blob.size for blob in new.blobs[shared:])
    return _result(OK, f"{repo}:{NEW} shares its {shared} lower layer(s) with {OLD}; its push uploaded only "
                   f"{len(new.blobs) - shared} layer(s), {size} bytes compressed")

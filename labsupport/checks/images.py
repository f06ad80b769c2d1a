"""Lesson 01's check: `images.build`, the hello app built as `hello-lab:1.0`.

The check reads the engine only: the image exists under that tag, holds the app's script `/app/hello.sh` (so
it was built from notebooks/apps/hello, not from another Dockerfile), and a container of it prints the
greeting.
Lessons 03-06 reuse the names and the build command defined here.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from ..config import DEFAULT_BASE_IMAGE, LabConfig, course_app
from ..errors import RunFailed
from ..layers import LayerUnion, Member, member_path
from .base import HELLO_GREETING, OK, CheckContext, CheckResult, exercise

#: The local name of the app's image, as the lessons build it. Tests set another one to stay apart.
LOCAL_NAME = "hello-lab"
#: The repository name of the app in the learner's registry namespace (`<learner>/hello-lab`).
REPOSITORY = "hello-lab"
#: The app's script inside the image, as a tar member path (no leading slash).
APP_SCRIPT = "app/hello.sh"


def local_ref(tag: str = "1.0") -> str:
    """The learner's local tag of the app: `hello-lab:<tag>`."""
    return f"{LOCAL_NAME}:{tag}"


def app_dir() -> Path:
    """The hello app's folder the learner works with (config.course_app)."""
    return course_app("hello")


def display_path(folder: Path, cwd: Path | None = None) -> str:
    """A folder as a learner types it: relative to the current directory when below it, else absolute."""
    here = (cwd or Path.cwd()).resolve()
    try:
        relative = os.path.relpath(folder.resolve(), here)
    except ValueError:  # another drive (Windows)
        return str(folder)
    return str(folder) if relative.startswith("..") else relative


def build_command(config: LabConfig, tag: str = "1.0", folder: Path | None = None) -> str:
    """The exact `docker build` of the app, with the lab's base image when it is not the Dockerfile's."""
    base = "" if config.base_image == DEFAULT_BASE_IMAGE else f" --build-arg BASE={config.base_image}"
    return f"docker build -t {local_ref(tag)}{base} {display_path(folder or app_dir())}"


def file_in_layers(layers: Iterable[tuple[str, bytes]], path: str) -> bytes | None:
    """The content of `path` in the image made of these layer tars (bottom up), or None.

    A later layer wins; its whiteout (`.wh.<name>`) deletes the file of the layers below, and its opaque
    marker (`.wh..wh..opq`) empties a folder of the layers below: the union the container would see.
    """
    wanted = member_path(path)

    def content(member: Member) -> bytes | None:
        return member.content() if member.path == wanted else None

    union: LayerUnion[bytes] = LayerUnion(content)
    union.add_all(data for _diff_id, data in layers)
    return union.kept(wanted)


def first_line(output: str) -> str:
    """The first non-empty line a container printed."""
    return next((line.strip() for line in output.splitlines() if line.strip()), "")


def _result(code: str, message: str, hint: str = "") -> CheckResult:
    return CheckResult("images.build", code == OK, code, message, hint=hint)


@exercise("images.build")
def check_build(ctx: CheckContext) -> CheckResult:
    """hello-lab:1.0 exists, holds the app's script and prints the app's greeting when run."""
    ref = local_ref("1.0")
    engine = ctx.engine
    build = build_command(ctx.config)
    if not engine.exists(ref):
        latest = local_ref("latest")
        if engine.exists(latest):
            return _result("wrong-tag", f"there is {latest} but no {ref}: without `:1.0` docker build names "
                           "the tag latest", hint=f"docker tag {latest} {ref}")
        return _result("image-missing", f"there is no local image {ref} yet", hint=build)
    script = file_in_layers(engine.layer_tars(ref), APP_SCRIPT)
    if script is None:
        return _result("not-from-app", f"{ref} has no /{APP_SCRIPT}, so it was not built from "
                       f"{display_path(app_dir())}", hint=build)
    try:
        output = engine.run(ref, timeout=60)
    except RunFailed as failed:
        return _result("does-not-run", f"{ref} was built but does not run: {failed.message}",
                       hint=f"{build}   (then: docker run --rm {ref})")
    said = first_line(output)
    if said != HELLO_GREETING:
        shown = f"{said!r}" if said else "nothing"
        return _result("wrong-greeting", f"a container of {ref} printed {shown}, not the app's greeting "
                       f"{HELLO_GREETING!r}", hint=build)
    return _result(OK, f"{ref} is the hello app: it runs and prints {HELLO_GREETING!r}")

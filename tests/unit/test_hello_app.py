"""The hello app: a cache-friendly Dockerfile whose image prints the course's greeting and version."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from pathlib import Path

import docker.errors
import pytest

from labsupport.checks.base import HELLO_GREETING

APP = Path(__file__).resolve().parents[2] / "notebooks" / "apps" / "hello"
OFFLINE_BASE = "labsupport/base:1.35"


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (APP / "Dockerfile").read_text())
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1] if " " in ln else "") for ln in lines]


def test_greeting_constant_is_what_the_app_prints():
    script = (APP / "hello.sh").read_text()
    assert f'echo "{HELLO_GREETING}"' in script
    assert (APP / "VERSION").read_text().strip() == "1.0"


def test_dockerfile_takes_the_base_from_an_arg_and_puts_the_app_last():
    steps = instructions()
    assert steps[0] == ("ARG", "BASE=busybox:1.36")
    assert steps[1] == ("FROM", "${BASE}")
    keywords = [k for k, _ in steps]
    assert keywords.index("RUN") < keywords.index("COPY")          # the slow-changing layer first
    filesystem = [(k, a) for k, a in steps if k in ("RUN", "COPY", "ADD")]
    assert filesystem[-1][0] == "COPY" and "hello.sh" in filesystem[-1][1]
    assert keywords[-1] == "CMD"


def run(client, image: str) -> str:
    """Run the image once in a named, removed-afterwards container and return what it printed."""
    return client.containers.run(image, name=f"he-hello-run-{uuid.uuid4().hex[:8]}", remove=True).decode()


@pytest.fixture(scope="module")
def base_image(docker_client) -> str:
    """LAB_BASE_IMAGE, else the offline busybox image this machine has, else the public default."""
    if os.environ.get("LAB_BASE_IMAGE"):
        return os.environ["LAB_BASE_IMAGE"]
    try:
        docker_client.images.get(OFFLINE_BASE)
        return OFFLINE_BASE
    except docker.errors.ImageNotFound:
        return "busybox:1.36"


@pytest.fixture
def built(docker_client, base_image):
    """Build a folder as he-hello-<id>:<tag> (this helper's prefix); remove exactly those tags at the end."""
    tags: list[str] = []

    def build(folder: Path, tag: str):
        name = f"he-hello-{uuid.uuid4().hex[:8]}:{tag}"
        image, _ = docker_client.images.build(path=str(folder), tag=name, buildargs={"BASE": base_image},
                                              rm=True, forcerm=True)
        tags.append(name)
        return image, name

    yield build
    for name in tags:
        with contextlib.suppress(docker.errors.ImageNotFound):  # already gone: nothing left to clean
            docker_client.images.remove(name, noprune=False)


@pytest.mark.docker
def test_built_image_prints_greeting_version_and_fact(docker_client, built):
    _image, name = built(APP, "1.0")
    output = run(docker_client, name)
    lines = output.splitlines()
    assert lines[0] == HELLO_GREETING
    assert lines[1] == "hello-lab version 1.0"
    assert "hash of their content" in lines[2]


@pytest.mark.docker
def test_changing_the_app_changes_only_the_top_layer(docker_client, built, tmp_path):
    first, _ = built(APP, "1.0")
    changed = tmp_path / "hello"
    shutil.copytree(APP, changed)
    (changed / "VERSION").write_text("1.1\n")
    second, name = built(changed, "1.1")
    before, after = first.attrs["RootFS"]["Layers"], second.attrs["RootFS"]["Layers"]
    assert len(before) == len(after)
    assert before[:-1] == after[:-1] and before[-1] != after[-1]
    assert "hello-lab version 1.1" in run(docker_client, name)

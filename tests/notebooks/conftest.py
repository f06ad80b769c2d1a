"""Fixtures of the notebook tests: the environment a notebook kernel gets, and cleanup of the images it makes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import docker.errors
import pytest

from tests.conftest import fresh_build_cache, lab_env, new_docker_config

from .harness import notebook_env

#: Local image names the lessons make outside the lab registry's namespace.
LESSON_IMAGES = ("hello-lab:1.0",)


@pytest.fixture(scope="session")
def lesson_images(docker_client, lab) -> Iterator[None]:
    """Remove, after the session, every tag under the test lab's registry and the lesson images it made."""
    existed = {name for name in LESSON_IMAGES if has_image(docker_client, name)}
    yield
    remove_lab_images(docker_client, lab.config.registry, [n for n in LESSON_IMAGES if n not in existed])


def remove_lab_images(client, registry: str, also: list[str]) -> None:
    """Remove `also` and every tag under `registry/`, then the untagged images pulled only from there."""
    prefix = registry + "/"
    names = [tag for image in client.images.list() for tag in image.tags if tag.startswith(prefix)]
    names += [name for name in also if has_image(client, name)]
    for name in names:
        _remove(client, name)
    for image in client.images.list():
        digests = image.attrs.get("RepoDigests") or []
        if not image.tags and digests and all(digest.startswith(prefix) for digest in digests):
            _remove(client, image.id)


def _remove(client, name: str) -> None:
    try:
        client.images.remove(name)
    except docker.errors.APIError:  # in use by another test's container, or gone already: leave it
        return


def has_image(client, name: str) -> bool:
    """Whether the engine holds an image by this name."""
    try:
        client.images.get(name)
        return True
    except docker.errors.ImageNotFound:
        return False


@pytest.fixture(scope="session")
def learners_build_cache(docker_client) -> None:
    """The lessons run in order from BuildKit's cache as a learner's machine has it, not as the integration
    tests leave it (they rebuild steps with --no-cache on purpose, and BuildKit then holds two results of a
    step, either of which a later build may reuse: lesson 06's check says so and how to fix it)."""
    fresh_build_cache()


@pytest.fixture
def kernel_env(lab, lesson_images, learners_build_cache, tmp_path) -> dict[str, str]:
    """The environment of a notebook run: the test lab's LAB_* variables and a fresh, logged-out DOCKER_CONFIG."""
    docker_config = new_docker_config(tmp_path / "docker-config")
    return notebook_env(lab_env(lab.config), docker_config)


@pytest.fixture
def known_secrets(lab) -> set[str]:
    """What must never show in an output: the lab password in every form it could take."""
    from .harness import lab_secrets

    return lab_secrets(lab.password(), lab.config.learner)


def docker_config_of(env: dict[str, str]) -> Path:
    return Path(env["DOCKER_CONFIG"])

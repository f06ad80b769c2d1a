"""Fixtures of the lesson 07-10 check tests (test_checks_07_10.py, test_checks_10_capstone.py)."""

from __future__ import annotations

import pytest

from labsupport.config import LabConfig
from labsupport.dockerconfig import Credential
from labsupport.registry import RegistryClient

from .lessons_07_10 import remove_made


@pytest.fixture(scope="module", autouse=True)
def remove_local_images(request):
    """Remove every local tag a lesson 07-10 module made, when it ends."""
    yield
    if request.module.__name__.rsplit(".", 1)[-1] in ("test_checks_07_10", "test_checks_10_capstone"):
        remove_made(request.getfixturevalue("docker_client"))


@pytest.fixture(scope="module")
def admin(lab):
    """A registry client with the lab's own credential, to set up and inspect registry state."""
    credential = Credential(lab.config.learner, lab.password())
    with RegistryClient.for_lab(lab.config, credential=credential) as client:
        yield client


@pytest.fixture
def lab_of(lab, docker_config_dir) -> LabConfig:
    """The lab's config, with a Docker client logged in to it (pushes and the checks' pulls need that)."""
    return lab.config

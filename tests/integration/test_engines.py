"""Which engine and builder this test pass runs on: the suite runs once per engine, and each pass must be on the
one it claims (CI sets LAB_EXPECT_STORE and LAB_EXPECT_BUILDER), building the way a learner's client does."""

from __future__ import annotations

import json
import os
import subprocess

from labsupport.dockercli import has_buildx
from labsupport.engine import Engine
from tests.conftest import cli_build, new_docker_config

EXPECT_STORE = os.environ.get("LAB_EXPECT_STORE")        # classic | containerd
EXPECT_BUILDER = os.environ.get("LAB_EXPECT_BUILDER")    # legacy | buildkit
INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")


def test_the_pass_runs_on_the_image_store_it_claims(docker_client):
    info = Engine(docker_client).info()
    driver = dict(docker_client.info().get("DriverStatus") or []).get("driver-type", "")
    assert info.image_store == ("containerd" if "io.containerd.snapshotter" in driver else "classic")
    print(f"engine {info.version}, {info.image_store} image store")
    if EXPECT_STORE:
        assert info.image_store == EXPECT_STORE, f"this pass should run on the {EXPECT_STORE} store"


def test_a_fresh_client_config_keeps_the_learners_builder(tmp_path):
    """A test's own DOCKER_CONFIG carries the plugins of the one it stands in for, so `docker build` stays the
    learner's builder: BuildKit with buildx, the legacy builder without."""
    folder = new_docker_config(tmp_path / "docker-config")
    assert json.loads((folder / "config.json").read_text()) == {}
    ambient = has_buildx()
    assert has_buildx({"DOCKER_CONFIG": str(folder)}) == ambient
    if EXPECT_BUILDER:
        assert ("buildkit" if ambient else "legacy") == EXPECT_BUILDER


def test_a_learners_build_makes_what_the_engine_and_builder_make(docker_client, lab_config, tmp_path):
    """BuildKit on the containerd store makes an image index holding an attestation; the legacy builder, or
    the classic store, a plain image. The course's own builds (Engine.build) make the same as the CLI."""
    (tmp_path / "Dockerfile").write_text("ARG BASE\nFROM $BASE\nRUN echo built > /built\n")
    engine = Engine(docker_client)
    refs = [f"hk-{os.getpid()}-cli:1", f"hk-{os.getpid()}-engine:1"]
    try:
        cli_build(tmp_path, refs[0], base=lab_config.base_image)
        engine.build(tmp_path, refs[1], buildargs={"BASE": lab_config.base_image})
        kinds = [_top_media_type(ref) for ref in refs]
    finally:
        for ref in refs:
            engine.remove(ref, missing_ok=True, force=True)
    buildkit_index = engine.info().image_store == "containerd" and has_buildx() is not None
    assert kinds[0] == kinds[1]
    assert (kinds[0] in INDEX_TYPES) is buildkit_index, kinds


def _top_media_type(ref: str) -> str:
    """The media type of what the engine stores under a name: an index or a single manifest ("" on the classic
    store, which keeps no manifest of a local build)."""
    done = subprocess.run(["docker", "image", "inspect", ref, "--format", "{{json .Descriptor}}"],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0 or done.stdout.strip() in ("", "null", "<no value>"):
        return ""
    try:
        return str(json.loads(done.stdout).get("mediaType", ""))
    except ValueError:
        return ""


"""The image and registry commands of `labsupport` on the real engine and registry, through their JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import RUN_ID, cli_build, lab_env

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(lab, docker_config_dir, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **lab_env(lab.config), "DOCKER_CONFIG": str(docker_config_dir)}
    return subprocess.run([sys.executable, "-m", "labsupport.cli", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=300, check=False)


@pytest.fixture
def image(lab, docker_client, tmp_path):
    """A two-layer image FROM the lab's base image, tagged for the lab registry."""
    (tmp_path / "Dockerfile").write_text(f"ARG BASE\nFROM $BASE\nRUN echo {RUN_ID} > /stamp\n")
    ref = lab.config.ref(f"cli-{RUN_ID}", "1")
    cli_build(tmp_path, ref, base=lab.config.base_image)
    yield ref
    docker_client.images.remove(ref, force=True)


def test_layers_push_and_registry_ls_tell_the_same_story(lab, docker_config_dir, image):
    before = json.loads(run(lab, docker_config_dir, "layers", image, "--json").stdout)
    base_state, top_state = (layer["state"] for layer in before["layers"])
    assert top_state == "upload"
    assert base_state in ("upload", "mountable")  # mountable when another repository holds the base already
    assert before["upload_bytes"] == sum(layer["size"] for layer in before["layers"]
                                         if layer["state"] == "upload") > 0

    first = run(lab, docker_config_dir, "push", image, "--json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    base, top = (layer["outcome"] for layer in report["layers"])
    assert top == "pushed"
    assert base in ("pushed", "mounted")  # mounted when another repository of the shared lab holds the base
    assert report["bytes_uploaded"] > 0

    again = json.loads(run(lab, docker_config_dir, "push", image, "--json").stdout)
    assert again["bytes_uploaded"] == 0
    assert again["digest"] == report["digest"]

    after = json.loads(run(lab, docker_config_dir, "layers", image, "--json").stdout)
    assert [layer["state"] for layer in after["layers"]] == ["there", "there"]
    assert after["upload_bytes"] == 0

    repository = f"{lab.config.learner}/cli-{RUN_ID}"
    catalog = json.loads(run(lab, docker_config_dir, "registry", "ls", "--json").stdout)
    assert repository in catalog["repositories"]
    tags = json.loads(run(lab, docker_config_dir, "registry", "ls", repository, "--json").stdout)
    assert tags["tags"] == ["1"]
    manifest = json.loads(run(lab, docker_config_dir, "registry", "ls", f"{repository}:1", "--json").stdout)
    assert manifest["digest"] == report["digest"]
    assert [blob["size"] for blob in manifest["layers"]] == [layer["bytes"] for layer in report["layers"]]


@pytest.mark.parametrize("args, expected", [
    (("layers", "Not A Reference"), "invalid image reference"),
    (("push", f"localhost:1/nobody/missing-{RUN_ID}:1"), "error:"),
    (("check", "no.such-exercise"), "push.pushed"),
    (("check",), "labsupport check --all"),
    (("registry", "ls", "UPPER/case"), "invalid"),
    (("check", "registries.anatomy", "--answer", "{not json"), "--answer is not JSON"),
])
def test_bad_input_gets_one_clear_message_and_exit_1(lab, docker_config_dir, args, expected):
    result = run(lab, docker_config_dir, *args)
    assert result.returncode == 1
    assert expected in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_check_all_lists_every_exercise_of_the_course(lab, docker_config_dir):
    from labsupport.course import EXERCISES

    result = run(lab, docker_config_dir, "check", "--all", "--json")
    rows = json.loads(result.stdout)
    assert [row["exercise"] for row in rows] == [info.id for info in EXERCISES]
    statuses = {row["exercise"]: row["status"] for row in rows}
    assert statuses["registries.anatomy"] == "answer"
    assert statuses["setup.registry"] == "passed"          # the test lab is up and answers
    assert statuses["capstone.ship"] == "not yet"          # nothing shipped in this lab
    assert result.returncode == 1                          # not every exercise is done
    assert "Traceback" not in result.stderr

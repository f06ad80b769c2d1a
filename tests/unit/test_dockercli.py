"""The one runner of the docker CLI, against a fake `docker` on PATH: login, logout, the builder decision.

No Docker is needed: the fake prints what the real CLI prints for each case (the engine's refusal of a login
on stderr, `docker version` that names the client then fails without an engine).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from labsupport import dockercli
from labsupport.dockercli import Builder, CliRun, builder, builds_with_buildkit, has_buildx, login, logout
from labsupport.doctor import buildkit_available
from labsupport.errors import LabError

PASSWORD = "s3cret-pa55"

FAKE_DOCKER = """#!/bin/sh
# A fake docker CLI: logs its arguments (never stdin), answers as the real one does.
printf '%s\\n' "$*" >> "{log}"
case "$1" in
  login)
    read -r password
    if [ "$password" = "{password}" ]; then
      echo "Login Succeeded"
    else
      echo "Error response from daemon: Get \\"http://$2/v2/\\": unauthorized: authentication required" >&2
      exit 1
    fi ;;
  logout) echo "Removing login credentials for $2" ;;
  buildx)
    if [ -n "$FAKE_BUILDX" ]; then echo "github.com/docker/buildx $FAKE_BUILDX 0123abc"
    else echo "docker: 'buildx' is not a docker command." >&2; exit 1; fi ;;
  version)
    echo "$FAKE_CLI_VERSION"
    echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2
    exit 1 ;;
  *) echo "unknown command $1" >&2; exit 125 ;;
esac
"""


@pytest.fixture
def fake(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment whose PATH starts with a fake docker, and the file where it logs its arguments."""
    folder, log = tmp_path / "bin", tmp_path / "docker.log"
    folder.mkdir()
    program = folder / "docker"
    program.write_text(FAKE_DOCKER.format(log=log, password=PASSWORD))
    program.chmod(program.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    env = {"PATH": f"{folder}{os.pathsep}{os.environ.get('PATH', '')}", "DOCKER_CONFIG": str(tmp_path / "dc"),
           "FAKE_BUILDX": "", "FAKE_CLI_VERSION": "28.5.2", "DOCKER_BUILDKIT": ""}
    return env, log


@pytest.mark.parametrize("output, code, words", [
    ("Error response from daemon: unauthorized\n", 1, "Error response from daemon: unauthorized"),
    ("WARNING! something first\nError: the real reason\n\n  \n", 1, "Error: the real reason"),
    ("", 1, "1"),
    ("x" * 400, 1, "x" * 300),
])
def test_the_last_words_of_a_failed_command(output, code, words):
    assert CliRun(("login",), output, code).last_words == words


def test_login_sends_the_password_on_stdin_only(fake):
    env, log = fake
    login("localhost:5000", "ada", PASSWORD, fix="never used", env=env)
    assert log.read_text() == "login localhost:5000 --username ada --password-stdin\n"


def test_a_refused_login_quotes_the_engine_and_gives_the_callers_fix(fake):
    env, log = fake
    with pytest.raises(LabError) as refused:
        login("localhost:5000", "ada", "wrong", fix="labsupport doctor", env=env)
    assert refused.value.message == ('docker login localhost:5000 failed: Error response from daemon: Get '
                                     '"http://localhost:5000/v2/": unauthorized: authentication required')
    assert refused.value.fix == "labsupport doctor"
    assert "wrong" not in str(refused.value) and "wrong" not in log.read_text()


def test_a_login_without_a_docker_command_says_so_with_the_callers_fix(tmp_path):
    env = {"PATH": str(tmp_path)}            # nothing named docker there
    with pytest.raises(LabError) as missing:
        login("localhost:5000", "ada", PASSWORD, fix="unused", cannot_run_fix="join with --no-docker-login", env=env)
    assert missing.value.message.startswith("docker login localhost:5000 did not run: the docker command is not")
    assert missing.value.fix == "join with --no-docker-login"


def test_logout_is_a_run(fake):
    env, _ = fake
    done = logout("localhost:5000", env=env)
    assert done.ok and done.output.strip() == "Removing login credentials for localhost:5000"


def test_buildx_and_the_client_version(fake):
    env, _ = fake
    assert has_buildx(env) is None and builds_with_buildkit(env) is False
    env["FAKE_BUILDX"] = "v0.29.1"
    assert has_buildx(env) == "v0.29.1" and builds_with_buildkit(env) is True
    assert builds_with_buildkit({**env, "DOCKER_BUILDKIT": "0"}) is False
    assert dockercli.client_version(env) == "28.5.2"     # the engine's error on the next line is not read
    assert dockercli.client_version({**env, "FAKE_CLI_VERSION": ""}) == ""


@pytest.mark.parametrize("buildx, version, off, buildkit, built_in", [
    ("v0.29.1", "28.5.2", False, True, False),
    ("v0.29.1", "28.5.2", True, False, False),
    (None, "28.5.2", False, False, False),
    (None, "20.10.24", False, False, True),
    (None, "", False, False, False),
])
def test_the_builder_decision(buildx, version, off, buildkit, built_in):
    found = Builder(buildx, version, off)
    assert (found.buildkit, found.buildkit_built_in) == (buildkit, built_in)


def test_builder_without_a_docker_command(tmp_path):
    found = builder({"PATH": str(tmp_path)})
    assert not found.cli_found and not found.buildkit and found.problem


@pytest.mark.parametrize("changes, answer", [
    ({"FAKE_BUILDX": "v0.29.1"}, (True, "BuildKit through buildx v0.29.1 (docker CLI 28.5.2, docker build uses it)")),
    ({"FAKE_BUILDX": "v0.29.1", "DOCKER_BUILDKIT": "0"},
     (False, "legacy builder: DOCKER_BUILDKIT=0 is set, though buildx v0.29.1 is installed")),
    ({"FAKE_CLI_VERSION": "20.10.24"}, (True, "docker CLI 20.10.24 (DOCKER_BUILDKIT=1 docker build)")),
])
def test_the_doctor_reads_the_same_decision(fake, changes, answer):
    env, _ = fake
    assert buildkit_available({**env, **changes}) == answer


def test_the_doctor_names_the_plugin_folder_it_looked_in(fake):
    env, _ = fake
    ok, detail = buildkit_available(env)
    plugins = os.path.join(env["DOCKER_CONFIG"], "cli-plugins")
    assert not ok
    assert detail == (f"legacy builder: docker CLI 28.5.2 without the buildx plugin (none in {plugins} nor the "
                      "system's plugin folders)")
    assert buildkit_available({"PATH": env["DOCKER_CONFIG"]}) == (False, "no docker command on PATH")

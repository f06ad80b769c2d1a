"""Shared fixtures: a real Docker engine, a lab registry on a free port, Docker client configs.

Tests that need Docker are marked `docker`. Without an engine they skip, except under LAB_REQUIRE_DOCKER=1
(CI), where they fail: a suite that silently skipped its integration tests would prove nothing.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from labsupport.config import LabConfig

REQUIRE_DOCKER = os.environ.get("LAB_REQUIRE_DOCKER") == "1"
OFFLINE_REGISTRY_IMAGE = "labsupport/registry:2.8"
OFFLINE_BASE_IMAGE = "labsupport/base:1.35"
RUN_ID = uuid.uuid4().hex[:6]
#: The Docker client config this run started with: its cli-plugins/ (buildx, compose) are the learner's.
AMBIENT_DOCKER_CONFIG = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def new_docker_config(folder: Path) -> Path:
    """A Docker client config folder that holds no credential but carries the plugins of the one it stands
    in for, as a learner's client has them: without buildx there, the docker CLI falls back to the legacy
    builder and a test would not build the way the learner does."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({}))
    plugins = AMBIENT_DOCKER_CONFIG / "cli-plugins"
    if plugins.is_dir() and not (folder / "cli-plugins").exists():
        (folder / "cli-plugins").symlink_to(plugins.resolve(), target_is_directory=True)
    return folder


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cli_build(folder: Path, tag: str, *, base: str, labels: dict[str, str] | None = None,
              dockerfile: str | None = None, env: dict[str, str] | None = None) -> str:
    """Build as the learner's `docker build` does (BuildKit where the client has buildx, else the legacy
    builder), with BASE and labels; the image id. Fails the test with the build's output when it fails."""
    with tempfile.TemporaryDirectory() as scratch:
        iidfile = Path(scratch) / "iid"
        args = ["docker", "build", "-q", "-t", tag, "--iidfile", str(iidfile), "--build-arg", f"BASE={base}"]
        for key, value in (labels or {}).items():
            args += ["--label", f"{key}={value}"]
        if dockerfile:
            args += ["-f", str(folder / dockerfile)]
        done = subprocess.run([*args, str(folder)], capture_output=True, text=True, timeout=600, check=False,
                              env={**os.environ, **(env or {})})
        assert done.returncode == 0, f"docker build -t {tag} failed: {done.stdout[-800:]}{done.stderr[-1500:]}"
        return iidfile.read_text().strip()


def fresh_build_cache() -> bool:
    """Empty BuildKit's build cache, as on a learner's machine where no test rebuilt a step with --no-cache
    (after one, BuildKit holds two results of that step and a build may reuse either); True when emptied.
    All of it (-a): `prune -f` keeps records a later build still reuses on a long-used engine.
    The legacy builder's cache is the local images themselves: nothing to empty."""
    from labsupport.dockercli import builds_with_buildkit

    if not builds_with_buildkit():
        return False
    done = subprocess.run(["docker", "builder", "prune", "-af"], capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, f"docker builder prune failed: {done.stderr[-800:]}"
    return True


def _engine_or_none():
    try:
        import docker

        client = docker.from_env(timeout=120)
        client.ping()
        return client
    except Exception as exc:  # noqa: BLE001 any failure to reach the engine is "no engine" here
        return exc


def pytest_collection_modifyitems(config, items):
    """Tests under tests/integration are docker tests even without the mark."""
    for item in items:
        if "integration" in Path(str(item.fspath)).parts:
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session")
def docker_client():
    client = _engine_or_none()
    if isinstance(client, Exception):
        message = f"no Docker engine: {client}"
        if REQUIRE_DOCKER:
            pytest.fail(message + " (LAB_REQUIRE_DOCKER=1)")
        pytest.skip(message)
    return client


@pytest.fixture(autouse=True)
def _docker_marked_tests_need_an_engine(request):
    """A test marked docker gets the engine check even when it does not ask for a Docker fixture."""
    if request.node.get_closest_marker("docker"):
        request.getfixturevalue("docker_client")


def _image_or_default(client, env_var: str, offline: str, default: str) -> str:
    if os.environ.get(env_var):
        return os.environ[env_var]
    try:
        client.images.get(offline)
        return offline
    except Exception:  # noqa: BLE001 (no such image, or no engine: the default then)
        return default


@pytest.fixture(scope="session")
def lab_config(docker_client, tmp_path_factory) -> LabConfig:
    """A lab on its own free port, container, volume and state folder, so it never touches a learner's lab."""
    port = free_port()
    env = {
        "LAB_REGISTRY": f"localhost:{port}",
        "LAB_LEARNER": "learner",
        "LAB_STATE_DIR": str(tmp_path_factory.mktemp("labstate")),
        "LAB_CONTAINER": f"labtest-{RUN_ID}-registry",
        "LAB_VOLUME": f"labtest-{RUN_ID}-data",
        "LAB_REGISTRY_IMAGE": _image_or_default(docker_client, "LAB_REGISTRY_IMAGE", OFFLINE_REGISTRY_IMAGE,
                                                "registry:2"),
        "LAB_BASE_IMAGE": _image_or_default(docker_client, "LAB_BASE_IMAGE", OFFLINE_BASE_IMAGE, "busybox:1.36"),
    }
    return LabConfig.from_env(env)


@pytest.fixture(scope="session")
def lab(lab_config, docker_client):
    """The running lab registry (htpasswd auth, delete enabled); purged when the session ends."""
    from labsupport.lab import Lab

    instance = Lab(lab_config, client=docker_client)
    instance.up()
    yield instance
    instance.down(purge=True)


def lab_env(config: LabConfig) -> dict[str, str]:
    """The LAB_* variables that reproduce `config` in a subprocess (the CLI, a notebook kernel)."""
    return {
        "LAB_REGISTRY": config.registry,
        "LAB_REGISTRY_URL": config.registry_url,
        "LAB_LEARNER": config.learner,
        "LAB_STATE_DIR": str(config.state_dir),
        "LAB_CONTAINER": config.container,
        "LAB_VOLUME": config.volume,
        "LAB_REGISTRY_IMAGE": config.registry_image,
        "LAB_BASE_IMAGE": config.base_image,
    }


def run_hint(hint: str, config: LabConfig, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run a check's hint as printed, the way a learner pastes it into a terminal: `bash -c` with the venv's
    bin on PATH (for `labsupport`), the lab's LAB_* variables and this test's DOCKER_CONFIG; fails the test
    with the hint's output when it fails."""
    env = {**os.environ, **lab_env(config),
           "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])}
    done = subprocess.run(["bash", "-c", hint], env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)
    assert done.returncode == 0, f"the hint {hint!r} failed ({done.returncode}): {done.stdout}{done.stderr}"
    return done


@pytest.fixture
def lab_environ(lab, monkeypatch):
    """os.environ set to the test lab's LAB_* variables, so LabConfig.from_env() finds it."""
    for key, value in lab_env(lab.config).items():
        monkeypatch.setenv(key, value)
    return lab


@pytest.fixture
def logged_out_docker_config_dir(tmp_path, monkeypatch) -> Path:
    """An empty DOCKER_CONFIG folder, set in os.environ for the test: the Docker client holds no credential."""
    folder = new_docker_config(tmp_path / "docker-config")
    monkeypatch.setenv("DOCKER_CONFIG", str(folder))
    return folder


@pytest.fixture
def docker_config_dir(lab, logged_out_docker_config_dir) -> Path:
    """A DOCKER_CONFIG folder logged in to the test lab with `docker login --password-stdin`."""
    result = subprocess.run(
        ["docker", "login", lab.config.registry, "--username", lab.config.learner, "--password-stdin"],
        input=lab.password(), capture_output=True, text=True,
        env={**os.environ, "DOCKER_CONFIG": str(logged_out_docker_config_dir)}, check=False,
    )
    assert result.returncode == 0, result.stderr
    return logged_out_docker_config_dir

"""The README's Docker-only route for real: docker-compose.yml's registry, and its `lab` service on the image
the Dockerfile builds, driving the engine through the mounted socket.

It runs against the engine DOCKER_HOST selects, with `docker compose` (v2) where the CLI has the plugin and
Debian's docker-compose 1.29 elsewhere. Nothing is pulled: the Dockerfile's base images are build arguments,
the stand-ins of scripts/make-python-base are used when they are here (LAB_PYTHON_BASE_IMAGE and
LAB_DOCKER_CLI_IMAGE choose others), and labsupport's dependencies come from a wheelhouse made on the host
with a Python of the image's own version. Each test has its own compose project, ports, registry container,
volume and image tag, and runs from a temporary copy of the files compose needs, so a learner's lab
(`lab-registry`, `.lab/`) is never touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml
from docker.errors import DockerException, ImageNotFound

from tests.conftest import REQUIRE_DOCKER, RUN_ID, free_port

ROOT = Path(__file__).resolve().parents[2]
#: What compose needs of the checkout: its file, the image's build context, and the notebooks JupyterLab serves.
PROJECT_FILES = ("docker-compose.yml", "Dockerfile", ".dockerignore", "pyproject.toml", "README.md")
PROJECT_DIRS = ("labsupport", "notebooks")
#: The stand-ins scripts/make-python-base makes, and the public images a learner's build pulls.
OFFLINE_PYTHON_IMAGE, PUBLIC_PYTHON_IMAGE = "labsupport/python:3.11", "python:3.12-slim"
OFFLINE_DOCKER_CLI_IMAGE, PUBLIC_DOCKER_CLI_IMAGE = "labsupport/docker-cli:28", "docker:28-cli"
BUILD_TIMEOUT = 600


def _fail_or_skip(message: str) -> None:
    if REQUIRE_DOCKER:
        pytest.fail(message + " (LAB_REQUIRE_DOCKER=1)")
    pytest.skip(message)


@pytest.fixture(scope="module")
def compose() -> list[str]:
    """`docker compose` when the docker CLI has the v2 plugin, else docker-compose (1.29 on Debian 12)."""
    try:
        v2 = subprocess.run(["docker", "compose", "version"], check=False, capture_output=True, text=True, timeout=30)
        if v2.returncode == 0:
            return ["docker", "compose"]
    except (OSError, subprocess.SubprocessError):
        pass
    legacy = shutil.which("docker-compose")
    if legacy is None:
        _fail_or_skip("neither `docker compose` (v2 plugin) nor docker-compose is installed")
    return [legacy]


@pytest.fixture(scope="module")
def engine_socket() -> str:
    """The unix socket of the engine under test: the one the `lab` service mounts (LAB_DOCKER_SOCKET)."""
    host = os.environ.get("DOCKER_HOST", "").strip() or "unix:///var/run/docker.sock"
    if not host.startswith("unix://"):
        pytest.fail(f"DOCKER_HOST={host}: the lab service mounts the engine's unix socket, so this route "
                    "needs a local engine")
    return host[len("unix://"):]


def _image_here(client, name: str) -> bool:
    try:
        client.images.get(name)
        return True
    except ImageNotFound:
        return False


def _remove_image(client, name: str) -> None:
    """Remove a tag this module made; one already gone is fine."""
    with contextlib.suppress(ImageNotFound):
        client.images.remove(name, force=True)


def _base_image(client, env_var: str, offline: str, public: str) -> str:
    """$env_var if set, else the lab-made stand-in when this engine has it, else the public image."""
    if os.environ.get(env_var, "").strip():
        return os.environ[env_var].strip()
    return offline if _image_here(client, offline) else public


def _python_of(client, image: str) -> str | None:
    """The full Python version (3.11.2) of a local image; None when the image is not here."""
    if not _image_here(client, image):
        return None
    out = client.containers.run(image, ["python3", "-c", "import platform; print(platform.python_version())"],
                                remove=True)
    return out.decode().strip()


def _host_python(version: str) -> str | None:
    """A host interpreter of exactly `version`: wheels and Requires-Python (even `>=3.11.5`) then agree."""
    major_minor = ".".join(version.split(".")[:2])
    for candidate in (sys.executable, "/usr/bin/python3", shutil.which(f"python{major_minor}"),
                      shutil.which("python3")):
        if not candidate or not os.path.exists(candidate):
            continue
        if candidate == sys.executable:
            found = platform.python_version()
        else:
            found = subprocess.run([candidate, "-c", "import platform; print(platform.python_version())"],
                                   check=False, capture_output=True, text=True).stdout.strip()
        if found == version:
            return candidate
    return None


def _make_wheelhouse(python: str, source: Path, wheelhouse: Path, scratch: Path) -> None:
    """labsupport's dependencies and build backend as wheels, made by `python` (a venv of it) from PyPI."""
    venv = scratch / "wheel-venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=120)
    made = subprocess.run([str(venv / "bin" / "pip"), "wheel", "--quiet", "--disable-pip-version-check",
                           "--wheel-dir", str(wheelhouse), str(source), "setuptools>=77", "wheel"],
                          check=False, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    assert made.returncode == 0, f"pip wheel failed:\n{made.stderr[-3000:]}"
    for leftover in ("build", "labsupport.egg-info"):  # what the in-tree build of labsupport left in the copy
        shutil.rmtree(source / leftover, ignore_errors=True)
    # The image installs labsupport from its sources: the wheelhouse holds only what it depends on.
    for own in wheelhouse.glob("labsupport-*.whl"):
        own.unlink()


def _remove_build_stages(client, build_log: str) -> None:
    """Remove the untagged images the legacy builder kept of this build (its install stage: ~0.5 GB each run).

    BuildKit keeps no such images (its cache is collected by itself); the legacy builder prints ` ---> ID`
    after each step. A tagged image (a base image's step) or one with children or in use is left alone.
    """
    for image_id in reversed(re.findall(r"^ ---> ([0-9a-f]{12})$", build_log, flags=re.MULTILINE)):
        with contextlib.suppress(DockerException):
            if not client.images.get(image_id).tags:
                client.images.remove(image_id)


@dataclass
class Route:
    """One compose project of the route: its folder, its LAB_* variables and the compose command."""

    compose: list[str]
    directory: Path
    project: str
    env: dict[str, str]
    notes: list[str] = field(default_factory=list)

    def run(self, *args: str, input: str | None = None, timeout: float = 300, check: bool = True,
            profile: bool = True) -> subprocess.CompletedProcess:
        """`compose -p PROJECT [--profile lab] ARGS` in the route's folder; `check` asserts it exited 0."""
        command = [*self.compose, "-p", self.project, *(["--profile", "lab"] if profile else []), *args]
        result = subprocess.run(command, check=False, cwd=self.directory, env=self.env, input=input,
                                capture_output=True, text=True, timeout=timeout)
        if check:
            assert result.returncode == 0, (f"`{' '.join(command[len(self.compose):])}` exited "
                                            f"{result.returncode}:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
        return result

    def down(self) -> None:
        self.run("down", "-v", "--remove-orphans", timeout=180, check=False)


def _route_env(**values: str) -> dict[str, str]:
    """os.environ without any LAB_* a caller set (a learner's own lab), plus this route's variables."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("LAB_")}
    return {**env, **values}


@pytest.fixture(scope="module")
def route_dir(tmp_path_factory) -> Path:
    """A copy of what compose needs, so the route's .lab/ (password, htpasswd) lands there, not in the checkout."""
    directory = tmp_path_factory.mktemp("compose-route") / "course"
    directory.mkdir()
    for name in PROJECT_FILES:
        shutil.copy2(ROOT / name, directory / name)
    for name in PROJECT_DIRS:
        shutil.copytree(ROOT / name, directory / name,
                        ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "*.pyc"))
    return directory


@pytest.fixture(scope="module")
def lab_image(docker_client, compose, route_dir, tmp_path_factory) -> Iterator[dict[str, str]]:
    """The route's image, built once with the stand-in base images and the wheelhouse; its build variables."""
    python_image = _base_image(docker_client, "LAB_PYTHON_BASE_IMAGE", OFFLINE_PYTHON_IMAGE, PUBLIC_PYTHON_IMAGE)
    cli_image = _base_image(docker_client, "LAB_DOCKER_CLI_IMAGE", OFFLINE_DOCKER_CLI_IMAGE,
                            PUBLIC_DOCKER_CLI_IMAGE)
    build_env = {"LAB_PYTHON_BASE_IMAGE": python_image, "LAB_DOCKER_CLI_IMAGE": cli_image,
                 "LAB_JUPYTERLAB_IMAGE": f"labsupport/jupyterlab:route-{RUN_ID}"}
    notes = [f"bases {python_image} and {cli_image}"]
    version = _python_of(docker_client, python_image)
    python = _host_python(version) if version else None
    if python:
        _make_wheelhouse(python, route_dir, route_dir / "wheelhouse", tmp_path_factory.mktemp("wheels"))
        build_env["LAB_WHEELHOUSE"] = "wheelhouse"
        notes.append(f"wheelhouse made by {python} (Python {version})")
    else:
        notes.append(f"no wheelhouse: no host Python matches {python_image}'s ({version or 'image not here'}); "
                     "pip installs from PyPI inside the build, which needs a container with internet")
    route = Route(compose, route_dir, f"labroute{RUN_ID}build", _route_env(**build_env))
    started = time.monotonic()
    # docker-compose 1.29 builds with the legacy builder, which keeps a failed step's container without this.
    force_rm = ["--force-rm"] if compose != ["docker", "compose"] else []
    built = route.run("build", *force_rm, "lab-auth", timeout=BUILD_TIMEOUT)
    notes.append(f"built in {time.monotonic() - started:.0f} s")
    print("compose route image:", "; ".join(notes))
    try:
        yield build_env
    finally:
        _remove_image(docker_client, build_env["LAB_JUPYTERLAB_IMAGE"])
        _remove_build_stages(docker_client, built.stdout + built.stderr)


@pytest.fixture
def route(docker_client, compose, route_dir, lab_image, lab_config, engine_socket) -> Iterator[Route]:
    """A compose project of its own (ports, registry container, volume), torn down with its volume."""
    name = f"labroute{RUN_ID}{uuid.uuid4().hex[:4]}"
    env = _route_env(
        **lab_image,
        LAB_PORT=str(free_port()),
        LAB_JUPYTER_PORT=str(free_port()),
        LAB_CONTAINER=f"{name}-registry",
        LAB_VOLUME=f"{name}-data",
        LAB_LEARNER="learner",
        LAB_REGISTRY_IMAGE=lab_config.registry_image,
        LAB_BASE_IMAGE=lab_config.base_image,
        LAB_DOCKER_SOCKET=engine_socket,
    )
    project = Route(compose, route_dir, name, env)
    try:
        yield project
    finally:
        project.down()
        shutil.rmtree(route_dir / ".lab", ignore_errors=True)


def _wait_for(what: str, answered: Callable[[], bool], seconds: float, logs: Callable[[], str]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if answered():
            return
        time.sleep(1)
    pytest.fail(f"{what} did not answer within {seconds:.0f} s; logs:\n{logs()[-4000:]}")


def _answers(url: str, status: int) -> Callable[[], bool]:
    def probe() -> bool:
        try:
            return httpx.get(url, timeout=2, trust_env=False).status_code == status
        except httpx.HTTPError:
            return False
    return probe


def _allow_traffic_on_bridge(client, network: str) -> Callable[[], None] | None:
    """Let the project's two containers talk on their bridge when the engine does not set firewall rules.

    This machine's second engine (scripts/modern-engine) runs with --iptables=false beside Debian's Docker,
    which sets the FORWARD policy to DROP; with bridge-nf-call-iptables on, that drops traffic between two
    containers of a bridge nobody wrote rules for. An engine that manages iptables (a learner's, or Debian's
    here) has rules naming its bridge, and then nothing is changed. Returns the undo, or None.
    """
    iptables = shutil.which("iptables")
    if iptables is None or os.geteuid() != 0:
        return None
    try:
        net = client.networks.get(network)
        bridge = net.attrs.get("Options", {}).get("com.docker.network.bridge.name") or f"br-{net.id[:12]}"
        rules = subprocess.run([iptables, "-S"], check=False, capture_output=True, text=True, timeout=30).stdout
        nf_call = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")
        if bridge in rules or "-P FORWARD DROP" not in rules or not nf_call.exists() \
                or nf_call.read_text().strip() != "1":
            return None
    except (OSError, subprocess.SubprocessError, DockerException):
        return None
    rule = ["FORWARD", "-i", bridge, "-o", bridge, "-j", "ACCEPT"]
    subprocess.run([iptables, "-I", *rule], check=True, capture_output=True, timeout=30)
    return lambda: subprocess.run([iptables, "-D", *rule], check=False, capture_output=True, timeout=30)


def _docker(*args: str, config_dir: Path, input: str | None = None, timeout: float = 180):
    return subprocess.run(["docker", *args], check=False, capture_output=True, text=True, input=input, timeout=timeout,
                          env={**os.environ, "DOCKER_CONFIG": str(config_dir)})


def test_the_compose_file_is_valid_for_compose_v2_and_docker_compose_1_29(compose):
    legacy = shutil.which("docker-compose")
    for command in [compose] + ([[legacy]] if legacy and compose != [legacy] else []):
        for profile in ([], ["--profile", "lab"]):
            result = subprocess.run([*command, *profile, "config"], check=False, cwd=ROOT,
                                    capture_output=True, text=True, timeout=60)
            assert result.returncode == 0, f"{' '.join(command)} config: {result.stderr}"
            services = yaml.safe_load(result.stdout)["services"]
            # Two services building one tag race in compose v2 ("image ... already exists"): lab-auth builds.
            assert [name for name, service in services.items() if "build" in service] == ["lab-auth"]


def test_compose_up_registry_serves_login_push_and_pull(route, docker_client, lab_config, tmp_path):
    route.run("up", "-d", "--no-build", "registry", profile=False)
    port = route.env["LAB_PORT"]
    _wait_for("the registry", _answers(f"http://127.0.0.1:{port}/v2/", 401), 60,
              lambda: route.run("logs", "registry", check=False).stdout)
    assert docker_client.containers.get(route.env["LAB_CONTAINER"]).status == "running"
    assert not _answers(f"http://127.0.0.1:{route.env['LAB_JUPYTER_PORT']}/api", 200)(), \
        "`up registry` must not start the lab service"

    password = (route.directory / ".lab" / "password").read_text().strip()  # written by the lab-auth service
    config_dir = tmp_path / "docker-config"
    config_dir.mkdir()
    (config_dir / "config.json").write_text("{}")
    registry = f"localhost:{port}"
    refused = _docker("login", registry, "-u", "learner", "--password-stdin", config_dir=config_dir,
                      input="not-the-password")
    assert refused.returncode != 0
    login = _docker("login", registry, "-u", "learner", "--password-stdin", config_dir=config_dir, input=password)
    assert login.returncode == 0, login.stderr
    assert password not in login.stdout + login.stderr

    ref = f"{registry}/learner/compose-route-{RUN_ID}:1"
    try:
        assert _docker("tag", lab_config.base_image, ref, config_dir=config_dir).returncode == 0
        pushed = _docker("push", ref, config_dir=config_dir)
        assert pushed.returncode == 0, pushed.stderr
        tags = httpx.get(f"http://127.0.0.1:{port}/v2/learner/compose-route-{RUN_ID}/tags/list",
                         auth=("learner", password), timeout=10, trust_env=False)
        assert tags.status_code == 200 and tags.json()["tags"] == ["1"]
        assert _docker("rmi", ref, config_dir=config_dir).returncode == 0
        pulled = _docker("pull", ref, config_dir=config_dir)
        assert pulled.returncode == 0, pulled.stderr
        assert _image_here(docker_client, ref)
    finally:
        _docker("rmi", ref, config_dir=config_dir)


def test_compose_profile_lab_serves_jupyterlab_that_drives_this_engine(route, docker_client):
    route.run("up", "-d", "--no-build")
    jupyter = f"http://127.0.0.1:{route.env['LAB_JUPYTER_PORT']}/api"
    _wait_for("JupyterLab in the lab container", _answers(jupyter, 200), 120,
              lambda: route.run("logs", "lab", check=False).stdout)
    assert "version" in httpx.get(jupyter, timeout=5, trust_env=False).json()

    undo = _allow_traffic_on_bridge(docker_client, f"{route.project}_default")
    if undo:
        print(f"this engine sets no firewall rules and FORWARD drops: allowed traffic on {route.project}_default")
    port = route.env["LAB_PORT"]
    ref = f"localhost:{port}/learner/compose-lab-{RUN_ID}:1"
    try:
        check = route.run("exec", "-T", "lab", "labsupport", "check", "setup.registry", check=False)
        assert check.returncode == 0 and "PASSED" in check.stdout, check.stdout + check.stderr

        doctor = route.run("exec", "-T", "lab", "labsupport", "doctor", "--json", check=False)
        findings = {item["name"]: item for item in json.loads(doctor.stdout)["checks"]}
        server = docker_client.version()["Version"]
        assert findings["engine"]["status"] == "ok" and server in findings["engine"]["detail"], findings["engine"]
        assert findings["registry"]["status"] == "ok", findings["registry"]
        assert route.env["LAB_CONTAINER"] in findings["registry"]["detail"]
        assert findings["v2"]["status"] == "ok", findings["v2"]
        assert findings["base-image"]["status"] == "ok", findings["base-image"]
        assert doctor.returncode == 0, doctor.stdout

        engine = route.run("exec", "-T", "lab", "docker", "version", "--format", "{{.Server.Version}}")
        assert engine.stdout.strip() == server

        # What lesson 04-05 do from the notebook: log in (the password never leaves a pipe), tag, push, list.
        push = route.run("exec", "-T", "lab", "sh", "-c",
                         f"labsupport credentials --password | docker login localhost:{port} -u learner "
                         f"--password-stdin && docker tag \"$LAB_BASE_IMAGE\" {ref} && docker push {ref} "
                         "&& labsupport registry ls --json", check=False)
        assert push.returncode == 0, push.stdout[-2000:] + push.stderr[-2000:]
        assert f"learner/compose-lab-{RUN_ID}" in push.stdout
        password = (route.directory / ".lab" / "password").read_text().strip()
        assert password not in push.stdout + push.stderr
    finally:
        if undo:
            undo()
        _remove_image(docker_client, ref)

"""The lab foundation on the real engine: up, down, status, doctor, the CLI's errors, compose, `labsupport lab`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid

import httpx
import pytest

from labsupport.checks.base import run_check
from labsupport.checks.fixes import LAB_UP, login_command
from labsupport.config import LabConfig
from labsupport.doctor import FAIL, OK, diagnose
from labsupport.errors import PortInUse
from labsupport.lab import Lab
from tests.conftest import free_port, lab_env, new_docker_config, run_hint
from tests.coursejupyter import in_terminal, served_course

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cli(config: LabConfig, *args: str, env: dict | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    """Run `labsupport ARGS` in a subprocess against `config`."""
    return subprocess.run([sys.executable, "-m", "labsupport.cli", *args], capture_output=True, text=True, check=False,
                          env={**os.environ, **lab_env(config), **(env or {})}, timeout=timeout, cwd=ROOT)


@pytest.fixture
def private_lab(lab_config, docker_client, tmp_path):
    """A lab of its own (port, container, volume, state), for tests that stop or break it."""
    tag = uuid.uuid4().hex[:6]
    port = free_port()
    config = LabConfig.from_env({**lab_env(lab_config), "LAB_REGISTRY": f"localhost:{port}",
                                 "LAB_REGISTRY_URL": f"http://localhost:{port}",
                                 "LAB_CONTAINER": f"labtest-{tag}-private", "LAB_VOLUME": f"labtest-{tag}-data",
                                 "LAB_STATE_DIR": str(tmp_path / "state")})
    instance = Lab(config, client=docker_client)
    yield instance
    instance.down(purge=True)


def test_up_answers_401_without_and_200_with_the_stored_credential(lab):
    url = lab.config.registry_url
    anonymous = httpx.get(f"{url}/v2/")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Basic")
    assert httpx.get(f"{url}/v2/", auth=(lab.config.learner, lab.password())).status_code == 200
    assert oct(lab.config.password_file.stat().st_mode & 0o777) == "0o600"


def test_up_twice_is_idempotent(lab, docker_client):
    before = docker_client.containers.get(lab.config.container).id
    notes = lab.up()
    assert notes == []
    assert docker_client.containers.get(lab.config.container).id == before
    assert lab.status().ready


def test_port_is_published_on_loopback_only(lab, docker_client):
    ports = docker_client.containers.get(lab.config.container).attrs["HostConfig"]["PortBindings"]
    assert ports == {"5000/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(lab.config.port)}]}


def test_a_wrong_password_gets_401_and_status_says_the_credential_is_not_accepted(private_lab):
    private_lab.up()
    url = private_lab.config.registry_url
    assert httpx.get(f"{url}/v2/", auth=(private_lab.config.learner, "not-the-password")).status_code == 401
    private_lab.config.password_file.write_text("a-wrong-password-for-this-registry\n")
    # The htpasswd file still holds the old hash: status must not call this working.
    private_lab.config.htpasswd_file.write_bytes(private_lab.config.htpasswd_file.read_bytes())
    result = cli(private_lab.config, "status")
    assert result.returncode == 1
    assert "lab credential not accepted" in result.stdout
    assert "fix: labsupport up" in result.stdout
    assert "a-wrong-password" not in result.stdout + result.stderr


def test_an_image_pushed_before_down_and_up_is_still_there(private_lab, docker_client, tmp_path):
    private_lab.up()
    config = private_lab.config
    target = f"{config.registry}/{config.learner}/keep:1"
    docker_client.images.get(config.base_image).tag(target)
    docker_env = {**os.environ, "DOCKER_CONFIG": str(new_docker_config(tmp_path / "docker-config"))}
    login = subprocess.run(["docker", "login", config.registry, "-u", config.learner, "--password-stdin"],
                           input=private_lab.password(), capture_output=True, text=True, env=docker_env, check=False)
    assert login.returncode == 0, login.stderr
    push = subprocess.run(["docker", "push", target], capture_output=True, text=True, env=docker_env, check=False)
    assert push.returncode == 0, push.stderr
    private_lab.down()
    assert private_lab.status().container == "missing"
    private_lab.up()
    tags = httpx.get(f"{config.registry_url}/v2/{config.learner}/keep/tags/list", auth=private_lab.auth())
    assert tags.json()["tags"] == ["1"]
    docker_client.images.remove(target)


def test_a_port_held_by_another_program_gets_the_clear_error(private_lab):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", private_lab.config.port))
        holder.listen(1)
        with pytest.raises(PortInUse) as caught:
            private_lab.up()
        assert caught.value.port == private_lab.config.port
        assert "LAB_REGISTRY" in caught.value.fix
        result = cli(private_lab.config, "up")
    assert result.returncode == 1
    assert f"port {private_lab.config.port}" in result.stderr
    assert "Traceback" not in result.stderr
    assert "LAB_REGISTRY=localhost:" in result.stderr


def test_doctor_reports_a_stopped_registry_with_its_fix(private_lab, docker_client):
    private_lab.up()
    findings = {f.name: f for f in diagnose(private_lab.config)}
    assert findings["engine"].status == OK
    assert findings["registry"].status == OK
    assert findings["v2"].status == OK
    docker_client.containers.get(private_lab.config.container).stop(timeout=2)
    findings = {f.name: f for f in diagnose(private_lab.config)}
    assert findings["registry"].status == FAIL
    assert findings["registry"].fix == LAB_UP
    assert findings["v2"].status == FAIL
    result = cli(private_lab.config, "doctor", "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert {c["name"]: c["status"] for c in report["checks"]}["registry"] == FAIL


def test_doctor_is_all_ok_on_a_running_lab_with_a_login(lab, docker_config_dir):
    result = cli(lab.config, "doctor", env={"DOCKER_CONFIG": str(docker_config_dir)})
    failing = [line for line in result.stdout.splitlines() if line.startswith(("FAIL", "WARN"))]
    # BuildKit may be missing on an engine without the buildx plugin: that is a warning, not a failure.
    assert [line for line in failing if "buildkit" not in line] == [], result.stdout
    assert result.returncode == 0


def test_doctor_names_the_image_store_and_the_builder_of_the_engine_it_runs_against(lab, docker_client,
                                                                                   docker_config_dir):
    """The store from `docker info` (DriverStatus driver-type), the builder from the client config's plugins:
    what this pass runs (classic + legacy builder, or containerd + BuildKit), not what the doctor assumes."""
    result = cli(lab.config, "doctor", "--json", env={"DOCKER_CONFIG": str(docker_config_dir)})
    findings = {item["name"]: item for item in json.loads(result.stdout)["checks"]}
    status = {str(key): str(value) for key, value in docker_client.info().get("DriverStatus") or []}
    store = "containerd" if status.get("driver-type") == "io.containerd.snapshotter.v1" else "classic"
    buildx = (docker_config_dir / "cli-plugins" / "docker-buildx").exists()
    assert findings["image-store"]["status"] == OK
    assert findings["image-store"]["detail"].startswith(f"{store} image store"), findings["image-store"]
    assert findings["buildkit"]["status"] == (OK if buildx else "warn"), findings["buildkit"]
    builder = "BuildKit through buildx" if buildx else "legacy builder: docker CLI"
    assert findings["buildkit"]["detail"].startswith(builder), findings["buildkit"]
    course = findings["course"]["detail"]
    assert course.startswith(f"{store} image store + {'BuildKit' if buildx else 'legacy builder'}: "), course
    if store == "containerd" and buildx:
        assert "index" in course and "attestation" in course and "new digest" in course
    if store == "classic":
        assert "config's digest" in course and "attestation" not in course.split(";")[0]
    text = cli(lab.config, "doctor", env={"DOCKER_CONFIG": str(docker_config_dir)}).stdout
    assert f"image-store {store} image store" in text and "course" in text


def test_a_deleted_state_folder_is_rebuilt_and_the_registry_follows(private_lab):
    private_lab.up()
    old = private_lab.password()
    shutil.rmtree(private_lab.config.state_dir)
    notes = private_lab.up()
    assert any("auth was updated" in note for note in notes)
    new = private_lab.password()
    assert new != old
    url = private_lab.config.registry_url
    assert httpx.get(f"{url}/v2/", auth=(private_lab.config.learner, new)).status_code == 200
    assert httpx.get(f"{url}/v2/", auth=(private_lab.config.learner, old)).status_code == 401


def test_credentials_json_is_for_scripts_and_up_never_prints_the_password(private_lab):
    result = cli(private_lab.config, "up")
    assert result.returncode == 0, result.stderr
    assert private_lab.password() not in result.stdout + result.stderr
    creds = json.loads(cli(private_lab.config, "credentials", "--json").stdout)
    assert creds == {"registry": private_lab.config.registry, "username": private_lab.config.learner,
                     "password": private_lab.password()}


def test_the_compose_file_is_accepted_by_docker_compose():
    compose = shutil.which("docker-compose")
    if compose is None:
        pytest.fail("docker-compose is not installed (apt-get install docker-compose)")
    for args in ([], ["--profile", "lab"]):
        result = subprocess.run([compose, *args, "config", "-q"], cwd=ROOT, capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr


def test_labsupport_lab_serves_jupyterlab_and_stops_cleanly_on_ctrl_c(lab, tmp_path):
    port = free_port()
    token = uuid.uuid4().hex
    env = {**os.environ, **lab_env(lab.config), "JUPYTER_TOKEN": token, "LAB_COURSE_DIR": str(tmp_path / "course")}
    process = subprocess.Popen([sys.executable, "-m", "labsupport.cli", "lab", "--no-browser", "--port", str(port)],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        status = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/api/status", params={"token": token}, timeout=2)
                if status.status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        assert status is not None and status.status_code == 200, process.stdout.read() if process.poll() else ""
        assert "started" in status.json()
        root = httpx.get(f"http://127.0.0.1:{port}/api/contents", params={"token": token}, timeout=10).json()
        names = {item["name"] for item in root["content"]}
        assert "00-setup.ipynb" in names and "apps" in names and "notebooks" not in names   # the learner's copies
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            pytest.fail("labsupport lab did not stop within 30 s of Ctrl-C")
        assert code == 0
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/api/status", timeout=2)
    finally:
        if process.poll() is None:
            process.kill()


def test_doctor_warns_when_the_login_is_for_127_0_0_1_but_the_lab_is_localhost(lab, logged_out_docker_config_dir):
    alias = lab.config.registry.replace("localhost", "127.0.0.1")
    login = subprocess.run(["docker", "login", alias, "-u", lab.config.learner, "--password-stdin"],
                           input=lab.password(), capture_output=True, text=True,
                           env={**os.environ, "DOCKER_CONFIG": str(logged_out_docker_config_dir)}, check=False)
    assert login.returncode == 0, login.stderr
    findings = {f.name: f for f in diagnose(lab.config)}
    assert findings["login"].status == "warn"
    assert alias in findings["login"].detail and "different keys" in findings["login"].detail
    assert findings["login"].fix == login_command(lab.config)


def test_doctor_login_fix_is_the_checks_and_run_as_printed_logs_in(lab, logged_out_docker_config_dir):
    """Logged out: doctor's login fix is the one login.logged-in and push.pushed give (lesson 04's
    `--password-stdin`, never an interactive prompt), and run as printed it makes both doctor and the check
    pass."""
    findings = {f.name: f for f in diagnose(lab.config)}
    assert findings["login"].status == "warn"
    assert findings["login"].fix == login_command(lab.config)
    assert run_check("login.logged-in", config=lab.config).hint == findings["login"].fix
    run_hint(findings["login"].fix, lab.config)
    assert {f.name: f for f in diagnose(lab.config)}["login"].status == OK
    assert run_check("login.logged-in", config=lab.config).passed


def test_the_registry_container_becomes_healthy(lab, docker_client):
    deadline = time.monotonic() + 30
    health = None
    while time.monotonic() < deadline:
        health = docker_client.containers.get(lab.config.container).attrs["State"]["Health"]["Status"]
        if health != "starting":
            break
        time.sleep(0.5)
    assert health == "healthy"


def test_in_a_terminal_of_the_lab_labsupport_check_setup_registry_runs_and_passes(lab, tmp_path):
    """The learner's route of lesson 00: a JupyterLab terminal (started as `labsupport lab` starts it, PATH
    without the venv), `labsupport check setup.registry`."""
    with served_course(tmp_path, {**lab_env(lab.config), "PYTHONPATH": ROOT}) as course:
        output = in_terminal(course, "labsupport check setup.registry", timeout=120)
    assert "setup.registry: PASSED" in output, output

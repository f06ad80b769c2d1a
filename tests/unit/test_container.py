"""The registry container's lifecycle without Docker: the tar of its files, the spec the engine is given, and
every docker SDK error turned into a labsupport error with its fix, on a fake engine that the lab and the
workshop are handed as their client."""

from __future__ import annotations

import io
import socket
import tarfile
from typing import Any

import docker.errors
import pytest
import requests

from labsupport import container as lifecycle
from labsupport.config import LabConfig
from labsupport.container import ContainerSpec, RegistryContainer, files_tar, port_is_free
from labsupport.errors import EngineUnavailable, LabError, LabNotRunning, PortInUse
from labsupport.lab import AUTH_LABEL, HEALTH_COMMAND, LABEL, PULL_FIX, Lab
from labsupport.sdk import START_ENGINE
from labsupport.workshop.control import Workshop
from labsupport.workshop.create import init_workshop
from labsupport.workshop.settings import WorkshopSettings
from tests.conftest import free_port

PORT_TAKEN = docker.errors.APIError("500 Server Error", explanation="driver failed programming external "
                                    "connectivity on endpoint lab-registry: Bind for 127.0.0.1:5000 failed: "
                                    "port is already allocated")


# -- a fake engine: what the lifecycle asks of the docker SDK, and the errors it may answer with -------------

class FakeContainer:
    def __init__(self, name: str, image: str, arguments: dict[str, Any], engine: FakeEngine) -> None:
        self.name, self.image, self.arguments, self.engine = name, image, arguments, engine
        self.status = "created"
        self.labels = dict(arguments.get("labels") or {})
        self.attrs: dict[str, Any] = {"State": {"Status": "created"}, "Config": {"Image": image}}
        self.archives: list[tuple[str, bytes]] = []
        self.printed = b"level=info msg=listening\nlevel=fatal msg=\"configuration error\"\n"

    def put_archive(self, path: str, data: bytes) -> bool:
        if self.engine.archive_error is not None:
            raise self.engine.archive_error
        self.archives.append((path, data))
        return True

    def start(self) -> None:
        if self.engine.start_error is not None:
            raise self.engine.start_error
        self.status = self.attrs["State"]["Status"] = "running"

    def logs(self, tail: str | int = "all") -> bytes:
        lines = self.printed.splitlines(keepends=True)
        return b"".join(lines if tail == "all" else lines[-int(tail):])

    def remove(self, force: bool = False) -> None:
        self.engine.containers.made.pop(self.name, None)

    def restart(self, timeout: float = 10) -> None:
        self.status = "running"


class FakeContainers:
    def __init__(self, engine: FakeEngine) -> None:
        self.engine = engine
        self.made: dict[str, FakeContainer] = {}

    def get(self, name: str) -> FakeContainer:
        if self.engine.lost:
            raise requests.exceptions.ConnectionError("('Connection aborted.', FileNotFoundError(2))")
        if name not in self.made:
            raise docker.errors.NotFound(f"No such container: {name}")
        return self.made[name]

    def create(self, image: str, **arguments: Any) -> FakeContainer:
        if self.engine.create_error is not None:
            raise self.engine.create_error
        made = self.made[arguments["name"]] = FakeContainer(arguments["name"], image, arguments, self.engine)
        return made


class FakeImages:
    def __init__(self, here: set[str], pull_error: Exception | None) -> None:
        self.here, self.pull_error, self.pulled = here, pull_error, []

    def get(self, name: str) -> object:
        if name not in self.here:
            raise docker.errors.ImageNotFound(f"No such image: {name}")
        return object()

    def pull(self, name: str) -> object:
        if self.pull_error is not None:
            raise self.pull_error
        self.pulled.append(name)
        self.here.add(name)
        return object()


class FakeVolume:
    def __init__(self, volumes: FakeVolumes, name: str) -> None:
        self.volumes, self.name = volumes, name

    def remove(self, force: bool = False) -> None:
        del self.volumes.made[self.name]


class FakeVolumes:
    def __init__(self) -> None:
        self.made: dict[str, dict[str, str]] = {}

    def create(self, name: str, labels: dict[str, str] | None = None) -> FakeVolume:
        self.made.setdefault(name, dict(labels or {}))
        return FakeVolume(self, name)

    def get(self, name: str) -> FakeVolume:
        if name not in self.made:
            raise docker.errors.NotFound(f"get {name}: no such volume")
        return FakeVolume(self, name)


class FakeEngine:
    """A docker SDK client's containers, images and volumes, in memory."""

    def __init__(self, images: set[str] | None = None, *, pull_error: Exception | None = None,
                 create_error: Exception | None = None, start_error: Exception | None = None) -> None:
        self.containers = FakeContainers(self)
        self.images = FakeImages(set(images or ()), pull_error)
        self.volumes = FakeVolumes()
        self.create_error, self.start_error = create_error, start_error
        self.archive_error: Exception | None = None
        self.lost = False


def registry_of(engine: FakeEngine, name: str = "reg", volume: str = "reg-data") -> RegistryContainer:
    return RegistryContainer(name, volume, lambda: engine)


def members(tar: bytes) -> list[tuple[str, str, int, bytes]]:
    """(name, "dir" or "file", mode, content) of every entry, in order."""
    with tarfile.open(fileobj=io.BytesIO(tar)) as opened:
        return [(entry.name, "dir" if entry.isdir() else "file", entry.mode,
                 b"" if entry.isdir() else opened.extractfile(entry).read())
                for entry in opened.getmembers()]


@pytest.fixture
def no_pause(monkeypatch):
    monkeypatch.setattr(lifecycle, "POLL_SECONDS", 0)


# -- pure: the files and the spec --------------------------------------------------------------------------

def test_the_tar_holds_each_file_at_its_path_after_its_folders():
    assert members(files_tar({"/auth/htpasswd": b"learner:$2b$10$x\n"})) == [
        ("auth", "dir", 0o755, b""), ("auth/htpasswd", "file", 0o644, b"learner:$2b$10$x\n")]
    tar = files_tar({"/etc/workshop/config.yml": b"version: 0.1\n", "/etc/workshop/ca.crt": b"PEM",
                     "/etc/other/x": b""})
    assert [(name, kind) for name, kind, _, _ in members(tar)] == [
        ("etc", "dir"), ("etc/workshop", "dir"), ("etc/other", "dir"),
        ("etc/workshop/config.yml", "file"), ("etc/workshop/ca.crt", "file"), ("etc/other/x", "file")]
    assert members(files_tar({})) == []


def test_a_published_spec_binds_the_registry_port_on_its_address_only():
    spec = ContainerSpec(image="registry:2", port=5123, labels={"a": "1"}, environment={"E": "v"})
    assert spec.create_arguments("lab-registry", "lab-data") == {
        "name": "lab-registry", "detach": True, "environment": {"E": "v"},
        "volumes": {"lab-data": {"bind": "/var/lib/registry", "mode": "rw"}}, "labels": {"a": "1"},
        "restart_policy": {"Name": "unless-stopped"}, "ports": {"5000/tcp": ("127.0.0.1", 5123)}}


def test_a_host_network_spec_publishes_nothing_and_runs_its_command():
    spec = ContainerSpec(image="registry:2", port=5500, bind="0.0.0.0", host_network=True,
                         command=("serve", "/etc/workshop/config.yml"), healthcheck={"test": ["NONE"]})
    arguments = spec.create_arguments("ws-registry", "ws-registry-data")
    assert "ports" not in arguments and arguments["network_mode"] == "host"
    assert arguments["command"] == ["serve", "/etc/workshop/config.yml"]
    assert arguments["healthcheck"] == {"test": ["NONE"]}


def test_the_lab_spec_is_htpasswd_auth_with_deletion_and_a_health_check(tmp_path):
    config = LabConfig.from_env({"LAB_REGISTRY": "localhost:5123", "LAB_STATE_DIR": str(tmp_path),
                                 "LAB_LEARNER": "learner", "LAB_REGISTRY_IMAGE": "labsupport/registry:2.8"})
    spec = Lab(config)._spec(b"learner:$2b$10$x\n", "abc123")
    assert (spec.image, spec.port, spec.bind, spec.host_network) == ("labsupport/registry:2.8", 5123,
                                                                      "127.0.0.1", False)
    assert spec.labels == {LABEL: "1", AUTH_LABEL: "abc123"} and spec.volume_labels == {LABEL: "1"}
    assert spec.environment["REGISTRY_AUTH_HTPASSWD_PATH"] == "/auth/htpasswd" in spec.files
    assert spec.environment["REGISTRY_STORAGE_DELETE_ENABLED"] == "true"
    assert spec.healthcheck is not None and spec.healthcheck["test"] == HEALTH_COMMAND


def test_port_is_free_sees_a_listener():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        assert not port_is_free(holder.getsockname()[1])


# -- the lifecycle on a fake engine: each docker SDK error becomes a labsupport error ------------------------

def test_find_and_state_of_a_missing_container():
    registry = registry_of(FakeEngine())
    assert registry.find() is None
    assert (registry.state().status, registry.state().health) == ("missing", None)


def test_a_lost_engine_is_engine_unavailable_with_the_start_fix():
    engine = FakeEngine()
    engine.lost = True
    with pytest.raises(EngineUnavailable) as caught:
        registry_of(engine).find()
    assert caught.value.message.startswith("lost the Docker engine at ") and caught.value.fix == START_ENGINE


def test_an_image_that_is_here_is_not_pulled_and_a_missing_one_once():
    engine, said = FakeEngine({"registry:2"}), []
    registry_of(engine).ensure_image("registry:2", said.append, fix="x")
    assert engine.images.pulled == [] and said == []
    registry_of(engine).ensure_image("other:1", said.append, fix="x")
    assert engine.images.pulled == ["other:1"] and said == ["pulling other:1 (once)"]


def test_an_image_that_cannot_be_pulled_says_where_else_it_comes_from():
    refused = docker.errors.NotFound("404 Client Error", explanation="pull access denied for registry")
    said: list[str] = []
    with pytest.raises(LabError) as caught:
        registry_of(FakeEngine(pull_error=refused)).ensure_image("registry:2", said.append, fix=PULL_FIX)
    assert caught.value.message == ("the registry image registry:2 is not on this machine and cannot be "
                                    "pulled: pull access denied for registry")
    assert caught.value.fix == PULL_FIX and said == ["pulling registry:2 (once)"]


def test_create_makes_the_volume_and_copies_the_files_in():
    engine = FakeEngine({"registry:2"})
    spec = ContainerSpec(image="registry:2", port=5123, volume_labels={"v": "1"},
                         files={"/auth/htpasswd": b"h"})
    made = registry_of(engine).create(spec)
    assert engine.volumes.made == {"reg-data": {"v": "1"}}
    assert made.archives == [("/", files_tar({"/auth/htpasswd": b"h"}))]
    assert registry_of(engine).find() is made


def test_a_refused_create_is_a_lab_error_with_the_doctor():
    engine = FakeEngine({"registry:2"}, create_error=docker.errors.APIError("409", explanation="name in use"))
    with pytest.raises(LabError) as caught:
        registry_of(engine).create(ContainerSpec(image="registry:2", port=5123))
    assert caught.value.message == "the engine refused to create the registry container: name in use"
    assert caught.value.fix == "labsupport doctor"


def test_a_container_whose_files_cannot_be_copied_in_is_not_left_behind():
    engine = FakeEngine({"registry:2"})
    engine.archive_error = docker.errors.APIError("500", explanation="no space left on device")
    with pytest.raises(LabError, match="copy the registry's files into reg: no space left on device"):
        registry_of(engine).create(ContainerSpec(image="registry:2", port=5123, files={"/auth/htpasswd": b"h"}))
    assert registry_of(engine).find() is None


def test_a_port_taken_at_start_is_the_callers_port_error_and_another_refusal_names_the_logs():
    def held(detail: str) -> PortInUse:
        return PortInUse(5000, f"port 5000 is in use ({detail})", fix="free it")

    spec = ContainerSpec(image="registry:2", port=5000)
    engine = FakeEngine({"registry:2"}, start_error=PORT_TAKEN)
    with pytest.raises(PortInUse) as caught:
        registry_of(engine).start(registry_of(engine).create(spec), held)
    assert caught.value.message == "port 5000 is in use (another container or program holds it)"
    engine = FakeEngine({"registry:2"}, start_error=docker.errors.APIError("500", explanation="no such file"))
    with pytest.raises(LabError) as other:
        registry_of(engine).start(registry_of(engine).create(spec), held)
    assert other.value.message == "the registry container did not start: no such file"
    assert other.value.fix == "docker logs reg; then labsupport doctor"


def test_wait_ends_when_the_probe_answers_when_the_container_stops_or_at_the_timeout(no_pause):
    engine = FakeEngine({"registry:2"})
    registry = registry_of(engine)
    container = registry.create(ContainerSpec(image="registry:2", port=5000))
    probes, ticks = iter([False, False, True]), []
    ready = registry.wait(lambda: next(probes), 5, tick=lambda: ticks.append("."))
    assert (ready.answered, ready.logs, ticks) == (True, None, [".", "."])
    container.status = "exited"
    stopped = registry.wait(lambda: False, 5, log_lines=1)
    assert (stopped.answered, stopped.logs) == (False, 'level=fatal msg="configuration error"')
    assert registry.wait(lambda: False, 0) == lifecycle.Readiness(answered=False)


def test_remove_and_remove_volume_accept_what_is_already_gone():
    engine = FakeEngine({"registry:2"})
    registry = registry_of(engine)
    container = registry.create(ContainerSpec(image="registry:2", port=5000))
    registry.remove(container)
    registry.remove(container)
    registry.remove_volume()
    registry.remove_volume()
    assert registry.find() is None and engine.volumes.made == {}


# -- the lab and the workshop on the fake engine: their own words, unchanged ------------------------------

@pytest.fixture
def lab(tmp_path) -> Lab:
    config = LabConfig.from_env({"LAB_REGISTRY": f"localhost:{free_port()}", "LAB_LEARNER": "learner",
                                 "LAB_STATE_DIR": str(tmp_path / "state"), "LAB_REGISTRY_IMAGE": "registry:2"})
    return Lab(config, client=FakeEngine({"registry:2"}, start_error=PORT_TAKEN))


def test_lab_up_on_a_port_taken_at_start_says_which_port_and_how_to_pick_another(lab):
    said: list[str] = []
    with pytest.raises(PortInUse) as caught:
        lab.up(progress=said.append)
    assert caught.value.port == lab.config.port
    assert caught.value.message.startswith(f"port {lab.config.port} on 127.0.0.1 is already in use, so the "
                                           f"lab registry ({lab.config.registry}) cannot start (another "
                                           "container or program holds it)")
    assert f"export LAB_REGISTRY=localhost:{lab.config.port + 1}" in (caught.value.fix or "")
    assert said == [f"creating the registry container {lab.config.container} on 127.0.0.1:{lab.config.port}"]


def test_lab_up_on_a_port_held_before_it_starts_makes_nothing(lab):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", lab.config.port))
        holder.listen(1)
        with pytest.raises(PortInUse, match="is already in use"):
            lab.up()
    assert lab.status().container == "missing" and lab.client.volumes.made == {}


def test_lab_down_keeps_or_purges_the_data_with_its_messages(lab):
    engine = lab.client
    registry = lab.registry_container
    registry.create(lab._spec(b"h", "a"))
    assert lab.status().container == "created"
    assert lab.down() == "the lab registry is stopped; its data is kept (labsupport up brings it back)"
    assert lab.status().container == "missing" and lab.config.volume in engine.volumes.made
    assert lab.down(purge=True) == "the lab registry is removed, with its data"
    assert engine.volumes.made == {}


def test_lab_up_when_the_registry_stops_says_what_it_logged(lab, no_pause):
    lab.client.start_error = None
    lab.client.containers.get = _exits_after_start(lab.client.containers.get)
    with pytest.raises(LabNotRunning) as caught:
        lab.up(timeout=5)
    assert caught.value.message == 'the registry container stopped: level=info msg=listening\nlevel=fatal ' \
                                   'msg="configuration error"'
    assert caught.value.fix == f"docker logs {lab.config.container}; then labsupport up"


def _exits_after_start(get):
    """containers.get that reports a started container as exited, as a registry with a broken config does."""
    def wrapped(name: str) -> FakeContainer:
        found = get(name)
        if found.status == "running":
            found.status = "exited"
        return found
    return wrapped


@pytest.fixture
def workshop(tmp_path) -> Workshop:
    settings = WorkshopSettings(name="unitws", container="hW-unit", registry_port=free_port())
    init_workshop(tmp_path / "class", ["ada"], settings=settings)
    return Workshop(tmp_path / "class", client=FakeEngine({"registry:2"}))


def test_the_workshop_registry_runs_on_the_host_network_with_its_files_copied_in(workshop, monkeypatch):
    monkeypatch.setenv("LAB_REGISTRY_IMAGE", "registry:2")
    settings, said = workshop.settings, []
    workshop._start_registry(settings, said.append)
    made = workshop.client.containers.made[settings.container]
    assert made.arguments["network_mode"] == "host" and "ports" not in made.arguments
    assert made.arguments["command"] == ["serve", "/etc/workshop/config.yml"]
    assert made.labels["io.labsupport.workshop"] == str(workshop.layout.root)
    names = [name for name, kind, _, _ in members(made.archives[0][1]) if kind == "file"]
    assert names == ["etc/workshop/config.yml", "etc/workshop/ca.crt"]
    assert said == [f"starting the registry {settings.container} on {settings.registry}"]
    said.clear()
    workshop._start_registry(settings, said.append)
    assert said == [f"the registry {settings.container} is already running"]


def test_the_workshop_image_that_cannot_be_pulled_names_the_bundle(workshop, monkeypatch):
    monkeypatch.setenv("LAB_REGISTRY_IMAGE", "registry:9")
    workshop.client.images.pull_error = docker.errors.APIError("500", explanation="dial tcp: no such host")
    with pytest.raises(LabError) as caught:
        workshop._start_registry(workshop.settings, lambda _text: None)
    said = caught.value.message
    assert "registry:9 is not on this machine and cannot be pulled: dial tcp: no such host" in said
    assert caught.value.fix.startswith("labsupport bundle load FILE")


def test_workshop_down_keeps_the_registry_log_and_purges_the_volume(workshop, monkeypatch):
    monkeypatch.setenv("LAB_REGISTRY_IMAGE", "registry:2")
    workshop._start_registry(workshop.settings, lambda _text: None)
    assert workshop.status().container == "running"
    message = workshop.down(purge=True)
    assert message == f"the registry of {workshop.layout.root.name} stopped, its images removed"
    assert b"configuration error" in workshop.layout.registry_log.read_bytes()
    assert workshop.status().container == "missing" and workshop.client.volumes.made == {}

"""I/O: one registry container's lifecycle on the Docker engine, shared by the lab and the workshop.

A registry container has a name, an image, a data volume (kept when the container goes, unless purged),
files copied into it before it starts (never mounted, so a remote engine works as a local one does), a port
published on the host or the engine's host network, labels and an environment. Here it is found, its image
made present, created, started, waited for until a readiness probe of the caller's answers, and removed.

Every docker SDK error met here becomes a labsupport error through sdk.docker_errors (the one translation),
worded for the step that failed; the caller words only what is its own (its port's error, its pull advice,
what to say when its container stops or never answers).
"""

from __future__ import annotations

import io
import socket
import tarfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container

from .errors import LabError, PortInUse
from .sdk import docker_errors

__all__ = ["ContainerSpec", "ContainerState", "Readiness", "RegistryContainer", "files_tar", "port_is_free"]

#: Where the registry keeps its data inside its container: the data volume is mounted there.
DATA_DIR = "/var/lib/registry"
#: The registry's own port inside its container, published on the host unless it runs on the host's network.
REGISTRY_PORT = "5000/tcp"
#: Seconds between two readiness probes.
POLL_SECONDS = 0.3
#: What the engine says when a published port is taken.
_PORT_HELD = ("port is already allocated", "address already in use")

Say = Callable[[str], None]
#: The caller's error for its port held by something else, given what holds it ("" when that is not known).
PortHeld = Callable[[str], PortInUse]


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on host:port (so the registry can publish it or listen there)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def files_tar(files: Mapping[str, bytes]) -> bytes:
    """A tar of files by their absolute path in the container, their folders first (0755, files 0644), to be
    extracted at / before the container starts."""
    paths = {path: path.strip("/") for path in files}
    folders: dict[str, None] = {}                      # insertion-ordered: parents before their children
    for name in paths.values():
        parts = name.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            folders.setdefault("/".join(parts[:depth]))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for folder in folders:
            entry = tarfile.TarInfo(folder)
            entry.type, entry.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(entry)
        for path, name in paths.items():
            data = files[path]
            entry = tarfile.TarInfo(name)
            entry.size, entry.mode = len(data), 0o644
            tar.addfile(entry, io.BytesIO(data))
    return buffer.getvalue()


@dataclass(frozen=True)
class ContainerSpec:
    """What a registry container is made from, beside its name and volume: `create_arguments` is what the
    engine is asked for, `files` what is copied in before it starts."""

    image: str
    port: int                                  # where it answers on the host
    bind: str = "127.0.0.1"                    # the host address of that port
    host_network: bool = False                 # on the engine's host network (its config: where it listens)
    labels: Mapping[str, str] = field(default_factory=dict)
    volume_labels: Mapping[str, str] = field(default_factory=dict)
    environment: Mapping[str, str] = field(default_factory=dict)
    command: tuple[str, ...] = ()              # () keeps the image's own
    files: Mapping[str, bytes] = field(default_factory=dict)   # absolute path in the container → content
    healthcheck: Mapping[str, Any] | None = None

    def create_arguments(self, name: str, volume: str) -> dict[str, Any]:
        """The keyword arguments of containers.create for this spec, named `name`, its data in `volume`."""
        arguments: dict[str, Any] = {
            "name": name,
            "detach": True,
            "environment": dict(self.environment),
            "volumes": {volume: {"bind": DATA_DIR, "mode": "rw"}},
            "labels": dict(self.labels),
            "restart_policy": {"Name": "unless-stopped"},
        }
        if self.command:
            arguments["command"] = list(self.command)
        if self.host_network:
            arguments["network_mode"] = "host"
        else:
            arguments["ports"] = {REGISTRY_PORT: (self.bind, self.port)}
        if self.healthcheck is not None:
            arguments["healthcheck"] = dict(self.healthcheck)
        return arguments


@dataclass(frozen=True)
class ContainerState:
    """The container's status ("running", "exited", … or "missing"); its health (None without a check)."""

    status: str
    health: str | None = None


@dataclass(frozen=True)
class Readiness:
    """How a wait ended: the probe answered, the container stopped (`logs`: its last lines), or timeout."""

    answered: bool
    logs: str | None = None


class RegistryContainer:
    """One registry container by name, and its data volume, on the engine that `client()` reaches."""

    def __init__(self, name: str, volume: str, client: Callable[[], docker.DockerClient]) -> None:
        self.name = name
        self.volume = volume
        self._client = client     # called at the first engine call: no engine is reached before one is needed

    # -- what is there ------------------------------------------------------------------------------------
    def find(self) -> Container | None:
        """The container by its name, or None when there is none."""
        with docker_errors(refused=f"the engine did not say whether {self.name} exists"):
            try:
                return self._client().containers.get(self.name)
            except docker.errors.NotFound:
                return None

    def state(self) -> ContainerState:
        """Its status and health as the engine reports them; "missing" when there is no such container."""
        container = self.find()
        if container is None:
            return ContainerState("missing")
        state = container.attrs.get("State") or {}
        return ContainerState(str(state.get("Status", "missing")), (state.get("Health") or {}).get("Status"))

    def has_image(self, image: str) -> bool:
        """Whether the engine holds this image."""
        with docker_errors(refused=f"the engine did not say whether it has {image}"):
            try:
                self._client().images.get(image)
            except docker.errors.ImageNotFound:
                return False
        return True

    def logs(self, container: Container, tail: int | None = None) -> bytes:
        """What the container printed (its last `tail` lines), stdout and stderr."""
        with docker_errors(refused=f"the engine did not give the logs of {self.name}"):
            return container.logs(tail="all" if tail is None else tail)

    # -- making it ----------------------------------------------------------------------------------------
    def ensure_image(self, image: str, say: Say, *, fix: str) -> None:
        """Have the image here, pulled once when it is missing; `fix` says where else it can come from."""
        if self.has_image(image):
            return
        say(f"pulling {image} (once)")
        with docker_errors(refused=f"the registry image {image} is not on this machine and cannot be pulled",
                           fix=fix):
            self._client().images.pull(image)

    def create(self, spec: ContainerSpec) -> Container:
        """The container made (not started), its data volume too when new, its files copied in."""
        with docker_errors(refused="the engine refused to create the registry container"):
            client = self._client()
            client.volumes.create(self.volume, labels=dict(spec.volume_labels))
            container = client.containers.create(spec.image, **spec.create_arguments(self.name, self.volume))
        try:
            with docker_errors(refused=f"the engine refused to copy the registry's files into {self.name}"):
                container.put_archive("/", files_tar(spec.files))
        except LabError:
            self.remove(container)        # without its files it would start broken, and be found again by up
            raise
        return container

    def start(self, container: Container, port_held: PortHeld) -> None:
        """Start it; a published port that another container or program holds is the caller's PortInUse."""
        with docker_errors(refused="the registry container did not start",
                           fix=f"docker logs {self.name}; then labsupport doctor"):
            try:
                container.start()
            except docker.errors.APIError as exc:
                if any(words in str(exc) for words in _PORT_HELD):
                    raise port_held("another container or program holds it") from exc
                raise

    def restart(self, container: Container) -> None:
        """Restart it (the registry rereads the files copied in)."""
        with docker_errors(refused=f"the registry container {self.name} did not restart",
                           fix=f"docker logs {self.name}; then labsupport doctor"):
            container.restart(timeout=5)

    def wait(self, answers: Callable[[], bool], timeout: float, *, log_lines: int = 5,
             tick: Callable[[], None] | None = None) -> Readiness:
        """Probe until `answers()` is true, the container stops or `timeout` seconds pass; `tick` after each
        probe that did not answer."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if answers():
                return Readiness(answered=True)
            container = self.find()
            if container is not None and container.status in ("exited", "dead"):
                logs = self.logs(container, tail=log_lines).decode(errors="replace").strip()
                return Readiness(answered=False, logs=logs)
            if tick is not None:
                tick()
            time.sleep(POLL_SECONDS)
        return Readiness(answered=False)

    # -- taking it down -----------------------------------------------------------------------------------
    def remove(self, container: Container) -> None:
        """Stop and remove the container (its volume keeps the data); one already gone is fine."""
        with docker_errors(refused=f"the engine did not remove the container {self.name}"):
            try:
                container.remove(force=True)
            except docker.errors.NotFound:
                pass

    def remove_volume(self) -> None:
        """Remove the data volume, with every image pushed to the registry; one already gone is fine."""
        with docker_errors(refused=f"the engine did not remove the volume {self.volume}",
                           fix=f"docker ps -a --filter volume={self.volume}; remove those containers first"):
            try:
                self._client().volumes.get(self.volume).remove(force=True)
            except docker.errors.NotFound:
                pass

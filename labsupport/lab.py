"""The lab's own registry container: its credentials, up, down and status.

The registry runs as one container with a fixed name, its port published on 127.0.0.1 only, htpasswd (bcrypt)
auth for the learner, a named volume for its data and deletion enabled. The password is generated once and kept
in the state folder (mode 0600); the htpasswd file is copied into the container, so the lab works the same on a
Linux engine, Docker Desktop, Colima or a remote DOCKER_HOST, with no host folder shared. The container's
lifecycle (find, image, create, start, wait, remove) and its docker SDK errors are container.py's.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import docker
from docker.models.containers import Container

from .config import LabConfig
from .container import ContainerSpec, ContainerState, RegistryContainer, port_is_free
from .dockerconfig import Credential
from .engine import Engine
from .errors import LabNotRunning, PortInUse
from .registry import RegistryClient, probe

LABEL = "io.labsupport.lab"
AUTH_LABEL = "io.labsupport.auth"
DEBUG_PORT = 5001
#: What a stored password may be: printable ASCII without spaces (else the file is damaged).
_PASSWORD = re.compile(r"[!-~]+")
# Exec form: the offline image has no shell. /bin/busybox is in it and in the public registry:2 (Alpine).
HEALTH_COMMAND = ["CMD", "/bin/busybox", "wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{DEBUG_PORT}/debug/health"]
#: Where the registry image can come from when it cannot be pulled.
PULL_FIX = ("connect to the internet once, or `labsupport bundle load FILE` from your instructor, "
            "or build it offline with scripts/make-offline-images and export LAB_REGISTRY_IMAGE")


def connect_engine() -> docker.DockerClient:
    """A docker SDK client for the engine (DOCKER_HOST, the docker context, the socket), or EngineUnavailable."""
    return Engine.connect().client


@dataclass(frozen=True)
class LabStatus:
    """What `labsupport status` reports."""

    container: str                  # "running", "exited", "missing", … or "workshop" (the instructor's registry)
    health: str | None              # "healthy", "starting", "unhealthy" or None without a health check
    answers: bool                   # /v2/ answered at the registry URL
    auth_ok: bool                   # the lab credential is accepted
    registry: str
    url: str

    @property
    def ready(self) -> bool:
        return self.container in ("running", "workshop") and self.answers and self.auth_ok


class Credentials:
    """The learner's lab password and the htpasswd file made from it, in the state folder."""

    def __init__(self, config: LabConfig) -> None:
        self.config = config

    @property
    def username(self) -> str:
        return self.config.learner

    def password(self) -> str:
        """The stored password; created (with the htpasswd file) when missing or damaged."""
        self.ensure()
        return self.config.password_file.read_text().strip()

    def ensure(self) -> str | None:
        """Make sure the password and a matching htpasswd exist: None when they did, else "new" or "repaired"."""
        pw_file, ht_file = self.config.password_file, self.config.htpasswd_file
        password = stored_password(self.config)
        if password and self._htpasswd_matches(password):
            return None
        outcome = "repaired" if (pw_file.exists() or ht_file.exists()) else "new"
        self.config.ensure_state_dir()
        if len(password) < 12:  # missing, garbage ("" from stored_password) or too short: a new one
            password = secrets.token_urlsafe(18)
        self._write_private(pw_file, password + "\n")
        digest = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()
        self._write_private(ht_file, f"{self.username}:{digest}\n")
        return outcome

    def _htpasswd_matches(self, password: str) -> bool:
        line = _read(self.config.htpasswd_file)
        user, _, digest = line.partition(":")
        if user != self.username or not digest.startswith("$2"):
            return False
        try:
            return bcrypt.checkpw(password.encode(), digest.encode())
        except ValueError:
            return False

    def htpasswd(self) -> bytes:
        self.ensure()
        return self.config.htpasswd_file.read_bytes()

    @staticmethod
    def _write_private(path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(path, 0o600)


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return ""


def stored_password(config: LabConfig) -> str:
    """The lab password in the state folder; "" when it is missing, unreadable or not a password (garbage)."""
    password = _read(config.password_file)
    return password if _PASSWORD.fullmatch(password) else ""




def port_in_use_error(config: LabConfig, detail: str = "") -> PortInUse:
    """The clear error for a registry port held by something else, with the macOS AirPlay note there."""
    port = config.port
    text = f"port {port} on 127.0.0.1 is already in use, so the lab registry ({config.registry}) cannot start"
    if detail:
        text += f" ({detail})"
    if sys.platform == "darwin" and port == 5000:
        text += ". On macOS the AirPlay Receiver holds port 5000 (System Settings → General → AirDrop & Handoff)"
    fix = (f"free the port, or pick another one: export LAB_REGISTRY=localhost:{port + 1 if port < 65535 else 5001}"
           " and run `labsupport up` again")
    return PortInUse(port, text, fix=fix)


class Lab:
    """Start, stop and inspect the lab registry container for a LabConfig."""

    def __init__(self, config: LabConfig | None = None, client: docker.DockerClient | None = None) -> None:
        self.config = config or LabConfig.from_env()
        self.credentials = Credentials(self.config)
        self._client = client
        self.registry_container = RegistryContainer(self.config.container, self.config.volume,
                                                    lambda: self.client)

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = connect_engine()
        return self._client

    def password(self) -> str:
        return self.credentials.password()

    def auth(self) -> tuple[str, str]:
        return (self.credentials.username, self.password())

    # -- state of the container -------------------------------------------------------------------------
    def status(self) -> LabStatus:
        """The container's state, its health, and whether /v2/ answers and accepts the lab credential.

        A joined workshop's registry runs on the instructor's machine: there is no container here to ask about.
        """
        state = ContainerState("workshop") if self.config.workshop else self.registry_container.state()
        answer = probe(self.config.registry_url)
        auth_ok = answer is not None and self._accepts_lab_credential()
        return LabStatus(
            container=state.status,
            health=state.health,
            answers=answer is not None,
            auth_ok=auth_ok,
            registry=self.config.registry,
            url=self.config.registry_url,
        )

    # -- up -----------------------------------------------------------------------------------------------
    def up(self, progress: Callable[[str], None] | None = None,  # noqa: C901 (each state the lab may be in)
           timeout: float = 60.0) -> list[str]:
        """Start the registry (idempotent) and wait until it answers; returns notes worth telling the learner."""
        say = progress or (lambda _text: None)
        if self.config.workshop:
            return self._workshop_up(say, timeout)
        notes = []
        before = stored_password(self.config)
        made = self.credentials.ensure()
        if made == "new":
            notes.append(f"made a lab password for {self.credentials.username} "
                         "(`labsupport credentials` shows it)")
        elif made == "repaired":
            what = ("made a new lab password" if self.password() != before
                    else "rewrote its htpasswd file from the lab password")
            notes.append(f"the lab's state folder was damaged: {what} and updated the registry's auth to "
                         "match (`labsupport credentials` shows it)")
        htpasswd = self.credentials.htpasswd()
        auth_hash = hashlib.sha256(htpasswd).hexdigest()[:16]
        registry = self.registry_container
        container = registry.find()
        if container is not None:
            labels = container.labels or {}
            outdated = (labels.get(AUTH_LABEL) != auth_hash
                        or container.attrs["Config"]["Image"] != self.config.registry_image)
            if labels.get(LABEL) and outdated:
                if labels.get(AUTH_LABEL) != auth_hash:
                    notes.append("the registry's auth was updated to the current lab password")
                say("replacing the registry container (its credentials or image changed; data is kept)")
                registry.remove(container)
                container = None
            elif container.status == "running":
                if self._accepts_lab_credential():
                    say(f"the lab registry is already running at {self.config.registry}")
                    return notes
                if not labels.get(LABEL):
                    registry.restart(container)  # e.g. started by docker compose: it rereads the htpasswd file
            else:
                say("starting the existing registry container")
                self._start(container)
        if container is None:
            container = self._create(htpasswd, auth_hash, say)
            self._start(container)
        self._wait_ready(say, timeout)
        return notes

    def _workshop_up(self, say: Callable[[str], None], timeout: float) -> list[str]:
        """A joined workshop's registry is the instructor's: no container here, only wait until it answers."""
        deadline = time.monotonic() + timeout
        say(f"the registry is the workshop's at {self.config.registry}: waiting for it ")
        while probe(self.config.registry_url) is None and time.monotonic() < deadline:
            say(".")
            time.sleep(0.5)
        if self._accepts_lab_credential():
            say("ready")
            return []
        raise LabNotRunning(f"the workshop registry at {self.config.registry_url} does not answer or does not "
                            f"accept {self.config.learner!r}",
                            fix="ask your instructor (labsupport workshop status), or labsupport join URL "
                                "--learner NAME again; labsupport join --leave goes back to the local lab")

    def _accepts_lab_credential(self) -> bool:
        answer = probe(self.config.registry_url, self.auth())
        return answer is not None and answer.status_code == 200

    def _spec(self, htpasswd: bytes, auth_hash: str) -> ContainerSpec:
        """The lab registry: htpasswd auth, deletion on, a debug port for its health check, 127.0.0.1 only."""
        return ContainerSpec(
            image=self.config.registry_image,
            port=self.config.port,
            labels={LABEL: "1", AUTH_LABEL: auth_hash},
            volume_labels={LABEL: "1"},
            environment={
                "REGISTRY_AUTH": "htpasswd",
                "REGISTRY_AUTH_HTPASSWD_REALM": "lab-registry",
                "REGISTRY_AUTH_HTPASSWD_PATH": "/auth/htpasswd",
                "REGISTRY_STORAGE_DELETE_ENABLED": "true",
                "REGISTRY_HTTP_DEBUG_ADDR": f":{DEBUG_PORT}",
            },
            files={"/auth/htpasswd": htpasswd},
            healthcheck={"test": HEALTH_COMMAND, "interval": 3_000_000_000,
                         "timeout": 3_000_000_000, "retries": 3, "start_period": 2_000_000_000},
        )

    def _create(self, htpasswd: bytes, auth_hash: str, say: Callable[[str], None]) -> Container:
        if not port_is_free(self.config.port):
            raise port_in_use_error(self.config)
        self.registry_container.ensure_image(self.config.registry_image, say, fix=PULL_FIX)
        say(f"creating the registry container {self.config.container} on 127.0.0.1:{self.config.port}")
        return self.registry_container.create(self._spec(htpasswd, auth_hash))

    def _start(self, container: Container) -> None:
        self.registry_container.start(container,
                                      port_held=lambda detail: port_in_use_error(self.config, detail))

    def _wait_ready(self, say: Callable[[str], None], timeout: float) -> None:
        say(f"waiting for {self.config.registry_url}/v2/ ")
        ready = self.registry_container.wait(self._accepts_lab_credential, timeout, log_lines=5,
                                             tick=lambda: say("."))
        if ready.answered:
            say("ready")
            return
        if ready.logs is not None:
            raise LabNotRunning(f"the registry container stopped: {ready.logs[-400:]}",
                                fix=f"docker logs {self.config.container}; then labsupport up")
        raise LabNotRunning(
            f"the registry did not answer at {self.config.registry_url}/v2/ within {timeout:.0f} s",
            fix=f"docker logs {self.config.container}; check LAB_REGISTRY_URL; then labsupport doctor")

    # -- down ---------------------------------------------------------------------------------------------
    def down(self, purge: bool = False) -> str:
        """Stop and remove the container (the volume keeps the data); `purge` also removes the data."""
        if self.config.workshop:
            return ("the registry is the workshop's, run by your instructor: nothing to stop here "
                    "(labsupport join --leave goes back to the local lab)")
        container = self.registry_container.find()
        if container is not None:
            self.registry_container.remove(container)
        if purge:
            self.registry_container.remove_volume()
            return "the lab registry is removed, with its data"
        return "the lab registry is stopped; its data is kept (labsupport up brings it back)"


def lab_credential(config: LabConfig) -> Credential:
    """The lab's own credential (learner + generated password), independent of the learner's docker login."""
    creds = Credentials(config)
    return Credential(creds.username, creds.password())


def lab_registry(config: LabConfig) -> RegistryClient:
    """A client of the lab registry that reads with the lab's own credential."""
    return RegistryClient.for_lab(config, credential=lab_credential(config))

"""`labsupport workshop up | down | status`: the registry container in token mode and the services process.

The registry runs in the engine's host network namespace, listening on 127.0.0.1 (or every interface with TLS
when the workshop has a public host), so its notifications reach the dashboard over loopback and no port is
published anywhere else. Its config and certificates are copied into the container, not mounted, and its data
lives in a named volume that `down` keeps unless told to purge. The token server and dashboard run as one
Python process whose pid `up` records, so `down` stops exactly that process.
"""

from __future__ import annotations

import hashlib
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import docker
import httpx

from ..config import DEFAULT_REGISTRY_IMAGE
from ..container import ContainerSpec, RegistryContainer, port_is_free
from ..engine import Engine
from ..errors import LabError, LabNotRunning, PortInUse
from .create import CONTAINER_DIR, configure
from .settings import Layout, WorkshopSettings, load_settings
from .web import client_verify

LABEL = "io.labsupport.workshop"
OFFLINE_REGISTRY_IMAGE = "labsupport/registry:2.8"
CONFIG_LABEL = "io.labsupport.workshop.config"
#: Where the registry image can come from when it cannot be pulled.
PULL_FIX = "labsupport bundle load FILE, or set LAB_REGISTRY_IMAGE to a local image and run workshop up again"


@dataclass(frozen=True)
class WorkshopStatus:
    """What `labsupport workshop status` reports."""

    container: str          # "running", "exited", "missing", …
    registry: bool          # /v2/ answers with the token challenge
    token_server: bool
    dashboard: bool
    settings: WorkshopSettings

    @property
    def ready(self) -> bool:
        return self.container == "running" and self.registry and self.token_server and self.dashboard


class Workshop:
    """Start, stop and inspect one workshop folder's registry and services."""

    def __init__(self, root: Path | str, client: docker.DockerClient | None = None) -> None:
        self.layout = Layout(root).require()
        self._client = client

    @property
    def settings(self) -> WorkshopSettings:
        return load_settings(self.layout)

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = Engine.connect().client
        return self._client

    def _verify(self) -> ssl.SSLContext | bool:
        return client_verify(self.layout.ca_cert if self.settings.tls else None)

    def _get(self, url: str, timeout: float = 2.0) -> httpx.Response | None:
        try:
            return httpx.get(url, timeout=timeout, verify=self._verify(), trust_env=False)
        except httpx.HTTPError:
            return None

    # -- the services process ----------------------------------------------------------------------------
    def services_pid(self) -> int | None:
        """The pid of this folder's services process when it runs, else None."""
        try:
            pid = int(self.layout.pid.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return None                       # our own child that has exited
        except ChildProcessError:
            pass
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return None
        cmdline = Path(f"/proc/{pid}/cmdline")
        if cmdline.exists():
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if "labsupport.workshop.services" not in text or str(self.layout.root) not in text:
                return None                       # the pid was reused by another program
        return pid

    def _start_services(self, settings: WorkshopSettings, say: Callable[[str], None], timeout: float) -> None:
        if self.services_pid() is not None:
            say("the token server and dashboard are already running")
            return
        for what, port in (("token server", settings.token_port), ("dashboard", settings.dashboard_port)):
            if not port_is_free(port, settings.bind):
                raise PortInUse(port, f"port {port} is in use, so the workshop's {what} cannot listen on it",
                                fix=f"free it, or choose another: labsupport workshop up {self.layout.root} "
                                    f"--{'token' if what == 'token server' else 'dashboard'}-port PORT")
        self.layout.services_log.parent.mkdir(parents=True, exist_ok=True)
        self.layout.pid.parent.mkdir(parents=True, exist_ok=True)
        with self.layout.services_log.open("ab") as log:
            command = [sys.executable, "-m", "labsupport.workshop.services", str(self.layout.root)]
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=True, cwd=str(self.layout.root))
        self.layout.pid.write_text(f"{process.pid}\n")
        say(f"started the token server and dashboard (pid {process.pid})")
        deadline = time.monotonic() + timeout
        token, board = (f"{settings.scheme}://127.0.0.1:{p}/healthz"
                        for p in (settings.token_port, settings.dashboard_port))
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise LabNotRunning(f"the workshop services stopped: {self._log_tail()}",
                                    fix=f"read {self.layout.services_log}; then labsupport workshop up again")
            if all((r := self._get(u)) is not None and r.status_code == 200 for u in (token, board)):
                return
            time.sleep(0.2)
        raise LabNotRunning(f"the workshop services did not answer within {timeout:.0f} s",
                            fix=f"read {self.layout.services_log}")

    def _log_tail(self) -> str:
        try:
            return self.layout.services_log.read_text(errors="replace").strip()[-400:]
        except OSError:
            return "(no log)"

    def _stop_services(self) -> bool:
        pid = self.services_pid()
        if pid is None:
            self.layout.pid.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.services_pid() is not None:
            time.sleep(0.1)
        if self.services_pid() is not None:
            os.kill(pid, signal.SIGKILL)
        self.layout.pid.unlink(missing_ok=True)
        return True

    # -- the registry container ----------------------------------------------------------------------------
    def _registry(self, settings: WorkshopSettings) -> RegistryContainer:
        return RegistryContainer(settings.container, settings.volume, lambda: self.client)

    def _files(self, settings: WorkshopSettings) -> dict[str, bytes]:
        files = {"config.yml": self.layout.registry_config.read_bytes(),
                 "ca.crt": self.layout.ca_cert.read_bytes()}
        if settings.tls:
            files["server.crt"] = self.layout.server_cert.read_bytes()
            files["server.key"] = self.layout.server_key.read_bytes()
        return files

    def registry_image(self, settings: WorkshopSettings) -> str:
        """The image the registry runs: the settings', else LAB_REGISTRY_IMAGE, else the offline one if here."""
        chosen = settings.registry_image or os.environ.get("LAB_REGISTRY_IMAGE", "").strip()
        if chosen:
            return chosen
        if self._registry(settings).has_image(OFFLINE_REGISTRY_IMAGE):
            return OFFLINE_REGISTRY_IMAGE
        return DEFAULT_REGISTRY_IMAGE

    def _port_held(self, settings: WorkshopSettings) -> PortInUse:
        return PortInUse(settings.registry_port, f"port {settings.registry_port} is in use, so the workshop "
                         "registry cannot listen on it",
                         fix=f"labsupport workshop up {self.layout.root} --registry-port PORT")

    def _start_registry(self, settings: WorkshopSettings, say: Callable[[str], None]) -> None:
        files = self._files(settings)
        image = self.registry_image(settings)
        stamp = hashlib.sha256(b"".join(files[k] for k in sorted(files)) + image.encode())
        stamp_text = stamp.hexdigest()[:16]
        registry = self._registry(settings)
        container = registry.find()
        if container is not None:
            if (container.labels or {}).get(CONFIG_LABEL) == stamp_text and container.status == "running":
                say(f"the registry {settings.container} is already running")
                return
            if not (container.labels or {}).get(LABEL):
                raise LabError(f"a container named {settings.container} exists and is not a workshop registry",
                               fix="remove it, or give the workshop another container name (init --container)")
            say("replacing the registry container (its settings changed; the data is kept)")
            registry.remove(container)
        if not port_is_free(settings.registry_port, settings.bind):
            raise self._port_held(settings)
        registry.ensure_image(image, say, fix=PULL_FIX)
        container = registry.create(ContainerSpec(
            image=image, port=settings.registry_port, bind=settings.bind, host_network=True,
            command=("serve", f"{CONTAINER_DIR}/config.yml"),
            labels={LABEL: str(self.layout.root), CONFIG_LABEL: stamp_text}, volume_labels={LABEL: "1"},
            environment={"SSL_CERT_FILE": f"{CONTAINER_DIR}/ca.crt"} if settings.tls else {},
            files={f"{CONTAINER_DIR}/{name}": data for name, data in files.items()}))
        say(f"starting the registry {settings.container} on {settings.registry}")
        registry.start(container, port_held=lambda _detail: self._port_held(settings))

    def _wait_registry(self, settings: WorkshopSettings, timeout: float) -> None:
        ready = self._registry(settings).wait(lambda: self._registry_answers(settings), timeout, log_lines=8)
        if ready.answered:
            return
        if ready.logs is not None:
            raise LabNotRunning(f"the workshop registry stopped: {ready.logs[-600:]}",
                                fix=f"docker logs {settings.container}")
        raise LabNotRunning(f"the workshop registry did not answer at {settings.registry_url}/v2/ within "
                            f"{timeout:.0f} s", fix=f"docker logs {settings.container}")

    def _registry_answers(self, settings: WorkshopSettings) -> bool:
        answer = self._get(f"{settings.scheme}://127.0.0.1:{settings.registry_port}/v2/")
        return (answer is not None and answer.status_code == 401
                and settings.realm in answer.headers.get("www-authenticate", ""))

    # -- the commands ---------------------------------------------------------------------------------------
    def up(self, progress: Callable[[str], None] | None = None, timeout: float = 60.0,
           **overrides: object) -> WorkshopSettings:
        """Start the services and the registry (idempotent); `overrides` change ports, host or image first."""
        say = progress or (lambda _text: None)
        settings = self.settings
        changed = settings.replace(**overrides)
        if changed != settings:
            if self.services_pid() is not None:
                self._stop_services()             # they must listen on the new ports
            settings = configure(self.layout, changed)
        self._start_services(settings, say, timeout)
        self._start_registry(settings, say)
        self._wait_registry(settings, timeout)
        return settings

    def down(self, purge: bool = False) -> str:
        """Stop the registry and the services; the registry's log is kept in DIR/logs/registry.log."""
        registry = self._registry(self.settings)
        container = registry.find()
        if container is not None and (container.labels or {}).get(LABEL):
            self.layout.registry_log.parent.mkdir(parents=True, exist_ok=True)
            with self.layout.registry_log.open("ab") as log:
                log.write(registry.logs(container))
            registry.remove(container)
        stopped = self._stop_services()
        if purge:
            registry.remove_volume()
        what = "the registry" + (" and the services" if stopped else "")
        kept = (", its images removed" if purge
                else "; its images are kept (workshop up brings them back)")
        return f"{what} of {self.layout.root.name} stopped{kept}"

    def status(self) -> WorkshopStatus:
        settings = self.settings
        state = self._registry(settings).state()
        token = self._get(f"{settings.scheme}://127.0.0.1:{settings.token_port}/healthz")
        board = self._get(f"{settings.scheme}://127.0.0.1:{settings.dashboard_port}/healthz")
        return WorkshopStatus(
            container=state.status,
            registry=self._registry_answers(settings),
            token_server=token is not None and token.status_code == 200,
            dashboard=board is not None and board.status_code == 200,
            settings=settings)

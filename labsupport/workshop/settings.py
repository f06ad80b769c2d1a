"""A workshop folder's settings and layout: `workshop.json` (ports, host, names) and where every file lives.

    DIR/workshop.json          these settings (no secret)
    DIR/server/                what the services read: accounts.json (bcrypt hashes only), refresh-tokens.json
                               (sha256 of each refresh token), the registry's config.yml
    DIR/pki/                   ca.crt/.key, token.crt/.key (token signer), server.crt/.key (TLS)
    DIR/handout/               credentials.csv, sheet.html, ca.crt: for the instructor to hand out, never read
                               by a service
    DIR/state/                 events.jsonl (registry notifications), results.jsonl (learners' checks)
    DIR/logs/                  services.log, registry.log
    DIR/run/services.pid       the services process `up` started
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import LabError
from ..refs import is_loopback

DEFAULT_REGISTRY_PORT = 5500
DEFAULT_TOKEN_PORT = 5501
DEFAULT_DASHBOARD_PORT = 5502
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class WorkshopSettings:
    """Everything `up` needs to know that is not a secret."""

    name: str = "workshop"                    # the token service name (the JWT's `aud`) and the CA's name
    instructor: str = "instructor"
    public_host: str | None = None            # None: loopback only, plain HTTP
    registry_port: int = DEFAULT_REGISTRY_PORT
    token_port: int = DEFAULT_TOKEN_PORT
    dashboard_port: int = DEFAULT_DASHBOARD_PORT
    container: str = "workshop-registry"
    registry_image: str = ""                  # "": LAB_REGISTRY_IMAGE, else labsupport/registry:2.8 if here
    token_lifetime: int = 300                 # seconds an access token lives
    refresh_lifetime: int = 7 * 24 * 3600     # seconds a refresh token (docker login) lives
    tls_on_loopback: bool = False             # HTTPS even without a public host (to rehearse a TLS class)

    @property
    def public(self) -> bool:
        """Whether learners reach the workshop over the network (a non-loopback --public-host)."""
        return bool(self.public_host) and not is_loopback(str(self.public_host))

    @property
    def tls(self) -> bool:
        return self.public or self.tls_on_loopback

    @property
    def host(self) -> str:
        return str(self.public_host) if self.public else LOOPBACK

    @property
    def bind(self) -> str:
        """Where the services listen: loopback, or every interface when learners reach them over the network."""
        return "0.0.0.0" if self.public else LOOPBACK

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def service(self) -> str:
        return f"{self.name}-registry"

    @property
    def issuer(self) -> str:
        return f"{self.name}-token-server"

    @property
    def volume(self) -> str:
        return f"{self.container}-data"

    @property
    def registry(self) -> str:
        """host:port as learners tag and push."""
        return f"{self.host}:{self.registry_port}"

    @property
    def registry_url(self) -> str:
        return f"{self.scheme}://{self.registry}"

    @property
    def realm(self) -> str:
        return f"{self.scheme}://{self.host}:{self.token_port}/token"

    @property
    def dashboard_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.dashboard_port}"

    @property
    def events_url(self) -> str:
        """Where the registry posts its notifications: the dashboard, always over loopback."""
        return f"{self.scheme}://{LOOPBACK}:{self.dashboard_port}/events"

    def ports(self) -> dict[str, int]:
        return {"registry": self.registry_port, "token server": self.token_port, "dashboard": self.dashboard_port}

    def replace(self, **changes: object) -> WorkshopSettings:
        """A copy with the given fields changed (None values ignored), validated."""
        kept: dict[str, Any] = {key: value for key, value in changes.items() if value is not None}
        host = changes.get("public_host")
        if host is not None and (not host or is_loopback(str(host))):
            kept["public_host"] = None            # a loopback public host is no public host
        return dataclasses.replace(self, **kept).validated()

    def validated(self) -> WorkshopSettings:
        ports = self.ports()
        for what, port in ports.items():
            if not 0 < int(port) < 65536:
                raise LabError(f"the {what} port {port} is not a TCP port",
                               fix="choose a port from 1024 to 65535")
        if len(set(ports.values())) != len(ports):
            raise LabError(f"the registry, token server and dashboard need three different ports, not {ports}",
                           fix="labsupport workshop up DIR --registry-port 5500 --token-port 5501 "
                               "--dashboard-port 5502")
        return self


class Layout:
    """The paths of a workshop folder."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()
        r = self.root
        self.settings = r / "workshop.json"
        self.accounts = r / "server" / "accounts.json"
        self.refresh_tokens = r / "server" / "refresh-tokens.json"
        self.registry_config = r / "server" / "config.yml"
        self.ca_cert, self.ca_key = r / "pki" / "ca.crt", r / "pki" / "ca.key"
        self.token_cert, self.token_key = r / "pki" / "token.crt", r / "pki" / "token.key"
        self.server_cert, self.server_key = r / "pki" / "server.crt", r / "pki" / "server.key"
        self.credentials = r / "handout" / "credentials.csv"
        self.sheet = r / "handout" / "sheet.html"
        self.handout_ca = r / "handout" / "ca.crt"
        self.events = r / "state" / "events.jsonl"
        self.results = r / "state" / "results.jsonl"
        self.services_log = r / "logs" / "services.log"
        self.registry_log = r / "logs" / "registry.log"
        self.pid = r / "run" / "services.pid"

    def exists(self) -> bool:
        return self.settings.is_file() and self.accounts.is_file()

    def require(self) -> Layout:
        if not self.exists():
            raise LabError(f"{self.root} is not a workshop folder (no workshop.json and accounts)",
                           fix=f"labsupport workshop init --learners N --out {self.root}")
        return self


def load_settings(layout: Layout) -> WorkshopSettings:
    """The settings in DIR/workshop.json; unknown keys are ignored so an older labsupport still reads it."""
    try:
        data = json.loads(layout.settings.read_text(encoding="utf-8"))
    except FileNotFoundError:
        layout.require()
        raise
    except ValueError as exc:
        raise LabError(f"{layout.settings} is not valid JSON ({exc})",
                       fix="repair it, or run labsupport workshop init again into a new folder") from None
    known = {f.name for f in dataclasses.fields(WorkshopSettings)}
    return WorkshopSettings(**{k: v for k, v in data.items() if k in known}).validated()


def save_settings(layout: Layout, settings: WorkshopSettings) -> None:
    layout.settings.parent.mkdir(parents=True, exist_ok=True)
    layout.settings.write_text(json.dumps(dataclasses.asdict(settings), indent=1) + "\n", encoding="utf-8")

"""LabConfig: every setting of the lab, read from LAB_* environment variables with defaults.

A bad value raises ConfigError with one line naming the variable and what it accepts.
"""

from __future__ import annotations

import getpass
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError, LabError
from .refs import is_path_component

#: The public images a learner's machine pulls; CI and offline classrooms set lab-made ones instead.
DEFAULT_REGISTRY_IMAGE = "registry:2"
DEFAULT_BASE_IMAGE = "busybox:1.36"

_HOSTPORT = re.compile(r"^(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:]+\])(?::(?P<port>[0-9]{1,5}))?$")
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


def repo_root() -> Path:
    """The checkout this package lives in (where notebooks/ is), else the current directory."""
    here = Path(__file__).resolve().parent.parent
    if (here / "notebooks").is_dir() or (here / "pyproject.toml").is_file():
        return here
    return Path.cwd()


#: The learner's folder at the checkout's root (LAB_COURSE_DIR): the learner copies and the apps they use.
COURSE_FOLDER = "my-course"


def make_folder(path: Path, setting: str) -> Path:
    """Make the folder `path` came from `setting` (a variable or an option), or one line saying what it needs."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        if not os.access(path, os.W_OK):
            raise PermissionError(13, "Permission denied")
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise LabError(f"{setting}: cannot make the folder {path} ({reason}); {setting} needs a folder you can "
                       "write to", fix=f"set {setting} to a folder you can write to (it is made if missing)") from exc
    return path


def course_dir(env: Mapping[str, str] | None = None) -> Path:
    """The learner's folder: LAB_COURSE_DIR, else my-course/ at the checkout's root (not made here)."""
    env = os.environ if env is None else env
    value = env.get("LAB_COURSE_DIR", "").strip()
    try:
        return (Path(value).expanduser() if value else repo_root() / COURSE_FOLDER).absolute()
    except (OSError, RuntimeError, ValueError) as exc:
        raise ConfigError("LAB_COURSE_DIR", value, "a folder path (it is created if missing)") from exc


def course_app(name: str) -> Path:
    """A course app's folder, the one the learner works with: `apps/NAME` of the current folder (a kernel's
    is its notebook's), else of the learner's folder, else the checkout's notebooks/apps/NAME."""
    bases = [Path.cwd()]
    try:
        bases.append(course_dir())
    except LabError:
        pass
    for base in bases:
        if (base / "apps" / name).is_dir():
            return base / "apps" / name
    return repo_root() / "notebooks" / "apps" / name


def learner_from_user(user: str) -> str:
    """Turn an OS user name into a valid registry path component (lowercase; other characters to '-')."""
    name = re.sub(r"[^a-z0-9]+", "-", user.lower()).strip("-")
    return name or "learner"


@dataclass(frozen=True)
class LabConfig:
    """The lab's settings. Build it with `LabConfig.from_env()`; every field has a default."""

    registry: str                 # host:port the Docker engine pushes to (LAB_REGISTRY)
    registry_url: str             # base URL of labsupport's own HTTP calls (LAB_REGISTRY_URL)
    learner: str                  # the learner's namespace in the registry (LAB_LEARNER)
    registry_image: str           # image the registry container runs (LAB_REGISTRY_IMAGE)
    base_image: str               # base image of the course's apps (LAB_BASE_IMAGE)
    state_dir: Path               # the lab's own files: password, htpasswd, progress (LAB_STATE_DIR)
    container: str = "lab-registry"         # registry container name (LAB_CONTAINER)
    volume: str = "lab-registry-data"       # named volume for the registry's data (LAB_VOLUME)
    workshop: bool = False                  # the registry is a workshop's (`labsupport join`), not a local one

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LabConfig:
        """Read every LAB_* variable from `env` (default: os.environ), validating each."""
        env = os.environ if env is None else env
        joined = _joined_workshop(env)  # what `labsupport join` stored: used where no LAB_* variable is set
        if joined:
            env = {**joined, **{key: value for key, value in env.items() if value.strip()}}

        registry = _registry(env)
        registry_url = _registry_url(env, registry)
        learner = _learner(env)

        images = {}
        for var, default in (("LAB_REGISTRY_IMAGE", DEFAULT_REGISTRY_IMAGE), ("LAB_BASE_IMAGE", DEFAULT_BASE_IMAGE)):
            value = env.get(var, "").strip() or default
            if any(c.isspace() for c in value) or value.startswith(("-", "/", ":")):
                raise ConfigError(var, value, "an image reference such as " + default)
            images[var] = value

        state = env.get("LAB_STATE_DIR", "").strip()
        try:  # `~nobody`, a name too long or a NUL byte fail here, not later in a traceback
            state_dir = (Path(state).expanduser() if state else repo_root() / ".lab").resolve()
            usable = not state_dir.exists() or state_dir.is_dir()
        except (OSError, RuntimeError, ValueError):
            usable = False
        if not usable:
            raise ConfigError("LAB_STATE_DIR", state, "a folder path (it is created if missing)")

        names = {}
        for var, default in (("LAB_CONTAINER", "lab-registry"), ("LAB_VOLUME", "lab-registry-data")):
            value = env.get(var, "").strip() or default
            if not _NAME.match(value):
                raise ConfigError(var, value, "a container/volume name of letters, digits, _ . -")
            names[var] = value

        return cls(
            registry=registry,
            registry_url=registry_url.rstrip("/"),
            learner=learner,
            registry_image=images["LAB_REGISTRY_IMAGE"],
            base_image=images["LAB_BASE_IMAGE"],
            state_dir=state_dir,
            container=names["LAB_CONTAINER"],
            volume=names["LAB_VOLUME"],
            workshop=bool(joined) and registry == joined.get("LAB_REGISTRY"),
        )

    @property
    def host(self) -> str:
        """The registry's host name without the port (an IPv6 literal keeps its brackets)."""
        match = _HOSTPORT.match(self.registry)
        return match["host"] if match else self.registry

    @property
    def port(self) -> int:
        """The port the registry is published on (443 or 80, by LAB_REGISTRY_URL, when LAB_REGISTRY names none)."""
        match = _HOSTPORT.match(self.registry)
        if match and match["port"]:
            return int(match["port"])
        return 443 if self.registry_url.startswith("https") else 80

    def ref(self, repository: str, tag: str | None = None) -> str:
        """An exercise reference in the learner's namespace: `<registry>/<learner>/<repository>[:tag]`."""
        base = f"{self.registry}/{self.learner}/{repository}"
        return f"{base}:{tag}" if tag else base

    def ensure_state_dir(self) -> Path:
        """Make the state folder, or one line naming LAB_STATE_DIR and what it needs."""
        return make_folder(self.state_dir, "LAB_STATE_DIR")

    @property
    def password_file(self) -> Path:
        return self.state_dir / "password"

    @property
    def htpasswd_file(self) -> Path:
        return self.state_dir / "auth" / "htpasswd"

    @property
    def progress_file(self) -> Path:
        return self.state_dir / "progress.jsonl"


#: The file `labsupport join` writes in the state folder (labsupport/workshop/join.py).
WORKSHOP_FILE = "workshop.json"


def _joined_workshop(env: Mapping[str, str]) -> dict[str, str]:
    """The workshop a learner joined, as LAB_* values (registry, its URL, learner); {} when none.

    LAB_* variables win: with LAB_REGISTRY set, the workshop's registry and URL are both ignored.
    """
    state = env.get("LAB_STATE_DIR", "").strip()
    try:
        path = (Path(state).expanduser() if state else repo_root() / ".lab") / WORKSHOP_FILE
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, RuntimeError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    values = {var: data.get(key) for var, key in (("LAB_REGISTRY", "registry"),
                                                 ("LAB_REGISTRY_URL", "registry_url"), ("LAB_LEARNER", "learner"))}
    if env.get("LAB_REGISTRY", "").strip():
        for var in ("LAB_REGISTRY", "LAB_REGISTRY_URL"):
            values.pop(var)
    return {var: value for var, value in values.items() if isinstance(value, str) and value.strip()}



def _registry(env: Mapping[str, str]) -> str:
    """LAB_REGISTRY: a host[:port] the engine pushes to (a bare word would be a Docker Hub path)."""
    registry = env.get("LAB_REGISTRY", "").strip() or "localhost:5000"
    match = _HOSTPORT.match(registry)
    reads_as_host = "." in registry or ":" in registry or registry == "localhost"  # else Docker Hub's path
    if (not match or "/" in registry or not reads_as_host
            or (match["port"] and not 0 < int(match["port"]) < 65536)):
        raise ConfigError("LAB_REGISTRY", registry, "host:port such as localhost:5000 (no scheme, no path)")
    return registry


def _registry_url(env: Mapping[str, str], registry: str) -> str:
    """LAB_REGISTRY_URL: where labsupport's own HTTP calls go, by default the engine's address over HTTP."""
    registry_url = env.get("LAB_REGISTRY_URL", "").strip() or f"http://{registry}"
    if not re.match(r"^https?://[^/\s]+/?$", registry_url):
        raise ConfigError("LAB_REGISTRY_URL", registry_url, "an http:// or https:// base URL without a path")
    return registry_url


def _learner(env: Mapping[str, str]) -> str:
    """LAB_LEARNER, or a valid name made from the OS user's."""
    learner = env.get("LAB_LEARNER", "").strip()
    if not learner:
        return learner_from_user(_os_user())
    if len(learner) > 64 or not is_path_component(learner):
        raise ConfigError("LAB_LEARNER", learner, "a lowercase name of letters, digits and single . _ - between them")
    return learner

def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):  # no user name in a bare container: a fixed, valid one
        return "learner"

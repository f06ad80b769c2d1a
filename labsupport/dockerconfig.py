"""I/O on the Docker client's config: which credential `docker push` would send to a registry.

The Docker CLI keeps credentials in `config.json` (under DOCKER_CONFIG, else ~/.docker) in one of three ways,
looked up in this order: a per-registry credential helper (`credHelpers`), one helper for every registry
(`credsStore`), or the file itself (`auths`, where `auth` is base64 of `user:password`: an encoding, not
encryption). Keys are registry host names matched exactly, so `localhost:5000` and `127.0.0.1:5000` are two
different logins. A secret read here never appears in a repr, str, message or log.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import DockerConfigError

#: The key the Docker CLI uses for Docker Hub, whatever name the user typed.
DOCKER_HUB_KEY = "https://index.docker.io/v1/"
_DOCKER_HUB_NAMES = {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
_HELPER_TIMEOUT = 30.0


@dataclass(frozen=True)
class Credential:
    """A user name and its secret (password or token) for one registry; the secret never shows in repr/str."""

    username: str
    secret: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Credential(username={self.username!r}, secret=<hidden>)"

    def __str__(self) -> str:
        return f"{self.username} (secret hidden)"


def config_dir() -> Path:
    """The Docker client's config folder: $DOCKER_CONFIG when set, else ~/.docker."""
    custom = os.environ.get("DOCKER_CONFIG", "").strip()
    return Path(custom).expanduser() if custom else Path.home() / ".docker"


def hostname_of(key: str) -> str:
    """A config key as the bare host[:port] the Docker CLI compares: no scheme, no path."""
    bare = key.strip()
    for scheme in ("https://", "http://"):
        if bare.lower().startswith(scheme):
            bare = bare[len(scheme):]
            break
    return bare.split("/", 1)[0]


def load_credential(registry: str, directory: str | os.PathLike[str] | None = None) -> Credential | None:
    """The credential the Docker client holds for `registry` (host[:port]), or None when it holds none.

    A credential helper named for the registry (credHelpers) or for all (credsStore) is authoritative, as
    for the docker CLI; when it is missing or knows nothing, the answer is None. Otherwise the `auths` entry.
    """
    config = _read_config(directory)
    if config is None:
        return None
    host = _lookup_host(registry)
    helper = _helper_for(config, host)
    if helper:
        server = DOCKER_HUB_KEY if host == hostname_of(DOCKER_HUB_KEY) else host
        return _ask_helper(helper, server)
    entry = _auths_entry(config, host)
    return _credential_from_entry(entry, host) if entry is not None else None


def stored_registries(directory: str | os.PathLike[str] | None = None) -> list[str]:
    """The registry hosts the Docker client holds a credential for, as bare host[:port], sorted.

    Lets doctor and checks say "you logged in to 127.0.0.1:5000, not localhost:5000". Entries kept by a
    credential store count (the CLI leaves an empty `auths` entry for each, and the helper's `list` names them).
    """
    config = _read_config(directory)
    if config is None:
        return []
    hosts: set[str] = set()
    helpers = config.get("credHelpers") or {}
    hosts.update(hostname_of(key) for key in helpers)
    store = config.get("credsStore")
    for key, entry in _auths(config).items():
        if store or _holds_secret(entry):
            hosts.add(hostname_of(key))
    if isinstance(store, str) and store:
        hosts.update(hostname_of(key) for key in _list_helper(store))
    return sorted(host for host in hosts if host)


# -- reading config.json ---------------------------------------------------------------------------------

def _read_config(directory: str | os.PathLike[str] | None) -> dict[str, Any] | None:
    """config.json as a dict, None when the file does not exist; DockerConfigError when it is not valid."""
    path = Path(directory) / "config.json" if directory is not None else config_dir() / "config.json"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise DockerConfigError(f"cannot read the Docker client's config {path}: {type(exc).__name__}",
                                fix="check the file's permissions, or move it away and run docker login again") from exc
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DockerConfigError(
            f"the Docker client's config {path} is not valid JSON (line {exc.lineno}, column {exc.colno})",
            fix=f"repair it by hand, or move it away (mv {path} {path}.broken) and run docker login again",
        ) from exc
    if not isinstance(data, dict):
        raise DockerConfigError(f"the Docker client's config {path} is not a JSON object",
                                fix=f"move it away (mv {path} {path}.broken) and run docker login again")
    for section in ("auths", "credHelpers"):
        if section in data and not isinstance(data[section], dict):
            raise DockerConfigError(f"`{section}` in the Docker client's config {path} is not a JSON object",
                                    fix=f"remove the `{section}` entry from {path} and run docker login again")
    if "credsStore" in data and not isinstance(data["credsStore"], str):
        raise DockerConfigError(f"`credsStore` in the Docker client's config {path} is not a string",
                                fix=f"remove the `credsStore` entry from {path} or set it to a helper's name")
    return data


def _lookup_host(registry: str) -> str:
    """The bare host a registry name is filed under; Docker Hub's several names share one key."""
    host = hostname_of(registry)
    return hostname_of(DOCKER_HUB_KEY) if host in _DOCKER_HUB_NAMES else host


def _auths(config: dict[str, Any]) -> dict[str, Any]:
    return config.get("auths") or {}


def _helper_for(config: dict[str, Any], host: str) -> str | None:
    """The credential helper's name that holds `host`'s credential: credHelpers first, then credsStore."""
    helpers = config.get("credHelpers") or {}
    for key, name in helpers.items():
        if hostname_of(key) == host and isinstance(name, str) and name:
            return name
    store = config.get("credsStore")
    return store or None


def _auths_entry(config: dict[str, Any], host: str) -> dict[str, Any] | None:
    """The `auths` entry for `host`: the bare key first, then one written with a scheme or path."""
    auths = _auths(config)
    candidates = [key for key in auths if key == host] + [key for key in auths
                                                          if key != host and hostname_of(key) == host]
    for key in candidates:
        entry = auths[key]
        if isinstance(entry, dict) and _holds_secret(entry):
            return entry
    return None


def _holds_secret(entry: Any) -> bool:
    return isinstance(entry, dict) and bool(entry.get("auth") or entry.get("password") or entry.get("identitytoken"))


def _credential_from_entry(entry: dict[str, Any], host: str) -> Credential:
    """Decode an `auths` entry: `auth` (base64 of user:password) wins over username/password fields.

    After `docker login` to a token server that hands out refresh tokens (a workshop's), the CLI keeps the
    refresh token as `identitytoken` and an empty password in `auth`: the identity token is then the secret.
    """
    identity = entry.get("identitytoken")
    if isinstance(identity, str) and identity:
        try:
            decoded = base64.b64decode(str(entry.get("auth") or ""), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            decoded = ""
        return Credential(decoded.partition(":")[0] or str(entry.get("username") or ""), identity)
    encoded = entry.get("auth")
    if encoded:
        bad = DockerConfigError(
            f"the saved login for {host} in the Docker client's config is not base64 of user:password",
            fix=f"docker logout {host} && docker login {host}",
        )
        if not isinstance(encoded, str):
            raise bad
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise bad from None  # the undecodable value stays out of the traceback
        username, sep, secret = decoded.partition(":")
        if not sep or not username:
            raise bad
        return Credential(username, secret)
    user, password = entry.get("username"), entry.get("password")
    if not isinstance(user, str) or not isinstance(password, str) or not user:
        raise DockerConfigError(f"the saved login for {host} in the Docker client's config has no user name",
                                fix=f"docker logout {host} && docker login {host}")
    return Credential(user, password)


# -- credential helpers (docker-credential-<name> get|list) ------------------------------------------------

def _run_helper(name: str, action: str, stdin: str) -> subprocess.CompletedProcess[str] | None:
    """Run `docker-credential-<name> <action>`; None when the helper is not installed."""
    program = shutil.which(f"docker-credential-{name}")
    if program is None:
        return None
    try:
        return subprocess.run([program, action], input=stdin, capture_output=True, text=True,
                              timeout=_HELPER_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DockerConfigError(f"the credential helper docker-credential-{name} did not run: {type(exc).__name__}",
                                fix=f"check that docker-credential-{name} works, or remove it from config.json "
                                    "and run docker login again") from exc


def _ask_helper(name: str, server: str) -> Credential | None:
    """Ask a helper the way the docker CLI does: server address on stdin, JSON Username/Secret on stdout."""
    result = _run_helper(name, "get", server)
    if result is None:
        return None
    if result.returncode != 0:
        said = (result.stdout.strip() or result.stderr.strip()).splitlines()
        first = said[0][:200] if said else f"exit status {result.returncode}"
        if "credentials not found" in first.lower():
            return None
        raise DockerConfigError(f"the credential helper docker-credential-{name} failed for {server}: {first}",
                                fix=f"docker login {server} again, or check the helper docker-credential-{name}")
    try:
        data = json.loads(result.stdout)
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        raise DockerConfigError(f"the credential helper docker-credential-{name} did not answer with JSON",
                                fix=f"check the helper docker-credential-{name}, or remove it from config.json")
    username, secret = data.get("Username"), data.get("Secret")
    if not isinstance(secret, str) or not secret:
        return None
    return Credential(username if isinstance(username, str) else "", secret)


def _list_helper(name: str) -> list[str]:
    """The server addresses a helper's `list` names; [] when it is missing or fails (it only adds detail)."""
    try:
        result = _run_helper(name, "list", "")
    except DockerConfigError:
        return []
    if result is None or result.returncode != 0:
        return []
    try:
        data = json.loads(result.stdout or "{}")
    except json.JSONDecodeError:
        return []
    return [key for key in data if isinstance(key, str)] if isinstance(data, dict) else []

"""The learner's side: `labsupport join URL --learner NAME`, and reporting check results to the dashboard.

Joining asks the workshop (its dashboard URL) where its registry and token server are, proves the password at
the token server (which answers with a refresh token), then stores in the lab's state folder:

    workshop.json            registry, registry_url, learner, dashboard, realm, service (no secret); LabConfig
                             reads it after the LAB_* variables, so every check uses the workshop registry
    password                 the learner's workshop password, where the lab keeps its own (0600); the previous
                             one is kept as password.before-workshop
    workshop-refresh-token   for reporting results without sending the password again (0600)

and runs `docker login` with the password on stdin. Reporting is best effort: a dashboard that does not answer
gives a warning, never a failed check.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ..config import LabConfig
from ..dockercli import login
from ..errors import LabError, RegistryUnreachable, Unauthorized
from ..registry.auth import TokenCache, password_grant, read_token, refresh_grant, request_token
from .accounts import check_name, write_private
from .web import client_verify

WORKSHOP_FILE = "workshop.json"
REFRESH_FILE = "workshop-refresh-token"
CA_FILE = "workshop-ca.crt"
BACKUP_SUFFIX = ".before-workshop"
CLIENT_ID = "labsupport"
#: Access tokens for reporting, by lab state folder: renewed 30 s before they expire, kept 10 s at least.
_tokens = TokenCache(margin=30.0, minimum=10.0)


@dataclass(frozen=True)
class Joined:
    """What join set up."""

    registry: str
    learner: str
    dashboard: str
    docker_login: bool

    def __str__(self) -> str:
        return (f"joined the workshop as {self.learner}: push to {self.registry}/{self.learner}/…"
                + ("" if self.docker_login else " (docker login skipped)"))


def _client(cafile: str | None) -> httpx.Client:
    return httpx.Client(timeout=10.0, verify=client_verify(cafile), trust_env=False)


def workshop_info(url: str, cafile: str | None = None) -> dict[str, Any]:
    """The workshop's /api/info: registry, registry_url, realm, service, dashboard."""
    base = url.rstrip("/")
    try:
        with _client(cafile) as http:
            answer = http.get(f"{base}/api/info")
    except httpx.HTTPError as exc:
        if "CERTIFICATE_VERIFY_FAILED" in str(exc):
            raise LabError(f"the workshop at {base} uses a certificate this machine does not trust yet",
                           fix=f"curl -k -o ca.crt {base}/ca.crt, compare its fingerprint with your sheet, then "
                               "labsupport join … --ca-file ca.crt") from exc
        raise RegistryUnreachable(f"no answer from the workshop at {base}: {type(exc).__name__}",
                                  fix="check the URL on your sheet (the dashboard's address) and your network"
                                  ) from exc
    try:
        info = answer.json()
    except ValueError:
        info = None
    if answer.status_code != 200 or not isinstance(info, dict) or not {"registry", "realm"} <= set(info):
        raise LabError(f"{base} is not a labsupport workshop (HTTP {answer.status_code} on /api/info)",
                       fix="use the URL your instructor gave, e.g. http://HOST:5502")
    return info


def request_refresh_token(info: dict[str, Any], learner: str, password: str, cafile: str | None = None) -> str:
    """Prove the password at the token server (OAuth2 password grant) and get a refresh token."""
    try:
        with _client(cafile) as http:
            answer = request_token(http.request, info["realm"], service=info.get("service", ""),
                                   grant=password_grant(learner, password, CLIENT_ID))
    except httpx.HTTPError as exc:
        raise RegistryUnreachable(f"no answer from the workshop's token server: {type(exc).__name__}",
                                  fix="ask your instructor whether the workshop is up") from exc
    if answer.status_code == 401:
        raise Unauthorized(f"the workshop rejected the password of {learner!r}", status=401, code="UNAUTHORIZED",
                           fix="check the learner name and password on your sheet, then join again")
    granted = read_token(answer) if answer.status_code == 200 else None
    token = granted.refresh_token if granted else None
    if not token:
        raise LabError(f"the workshop's token server answered HTTP {answer.status_code} without a refresh token",
                       fix="ask your instructor to check labsupport workshop status")
    return token


def _docker_login(registry: str, learner: str, password: str) -> None:
    """Log the Docker client in to the workshop's registry (join's default `login`)."""
    login(registry, learner, password, fix=f"docker login {registry} -u {learner}   (with the password on your sheet)",
          cannot_run_fix="install the docker CLI, or join with --no-docker-login and log in yourself")


def join(url: str, learner: str, password: str, *, config: LabConfig | None = None, docker_login: bool = True,
         ca_file: str | None = None, login: Callable[[str, str, str], None] = _docker_login) -> Joined:
    """Join the workshop at `url` as `learner`: check the password, store the settings, log Docker in."""
    check_name(learner)
    config = config or LabConfig.from_env()
    state = config.state_dir
    cafile = None
    if ca_file:
        ca = Path(ca_file).expanduser()
        if not ca.is_file():
            raise LabError(f"no CA certificate at {ca}",
                           fix="download it from the workshop: curl -k -o ca.crt URL/ca.crt")
        state.mkdir(parents=True, exist_ok=True)
        (state / CA_FILE).write_bytes(ca.read_bytes())
        cafile = str(state / CA_FILE)
    info = workshop_info(url, cafile)
    refresh = request_refresh_token(info, learner, password, cafile)
    if docker_login:
        login(str(info["registry"]), learner, password)
    password_file = config.password_file
    backup = password_file.with_name(password_file.name + BACKUP_SUFFIX)
    if password_file.exists() and not backup.exists() and not (state / WORKSHOP_FILE).exists():
        write_private(backup, password_file.read_text())
    write_private(password_file, password + "\n")
    write_private(state / REFRESH_FILE, refresh + "\n")
    record = {"url": url.rstrip("/"), "registry": info["registry"],
              "registry_url": info.get("registry_url") or f"http://{info['registry']}", "learner": learner,
              "dashboard": info.get("dashboard") or url.rstrip("/"), "realm": info["realm"],
              "service": info.get("service", ""), "ca_file": cafile or "",
              "joined": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    write_private(state / WORKSHOP_FILE, json.dumps(record, indent=1) + "\n")
    _tokens.forget(str(state))
    return Joined(str(info["registry"]), learner, str(record["dashboard"]), docker_login)


def leave(config: LabConfig | None = None) -> str:
    """Forget the workshop: remove its files and give the lab back its own password."""
    config = config or LabConfig.from_env()
    state = config.state_dir
    if not (state / WORKSHOP_FILE).exists():
        return "this lab has not joined a workshop"
    for name in (WORKSHOP_FILE, REFRESH_FILE, CA_FILE):
        (state / name).unlink(missing_ok=True)
    backup = config.password_file.with_name(config.password_file.name + BACKUP_SUFFIX)
    if backup.exists():
        backup.replace(config.password_file)
    else:
        config.password_file.unlink(missing_ok=True)
    return "left the workshop; the lab uses its own registry again (labsupport up)"


def joined_workshop(config: LabConfig) -> dict[str, Any] | None:
    """The stored workshop.json, or None when this lab has not joined one."""
    try:
        data = json.loads((config.state_dir / WORKSHOP_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _access_token(config: LabConfig, workshop: dict[str, Any], http: httpx.Client) -> str:
    """A token naming this learner, from the refresh token (cached until shortly before it expires)."""
    key = str(config.state_dir)
    cached = _tokens.get(key)
    if cached:
        return cached
    refresh = (config.state_dir / REFRESH_FILE).read_text().strip()
    answer = request_token(http.request, workshop["realm"], service=workshop.get("service", ""),
                           grant=refresh_grant(refresh, CLIENT_ID))
    if answer.status_code != 200:
        raise Unauthorized("the workshop no longer accepts this lab's login", status=answer.status_code,
                           fix="labsupport join URL --learner NAME again")
    token = read_token(answer)
    if token is None:
        raise LabError("the workshop's token server answered HTTP 200 without a token",
                       fix="ask your instructor to check labsupport workshop status")
    return _tokens.keep(key, token)


def report_results(config: LabConfig, results: list[dict[str, Any]]) -> int | None:
    """Send check results to the workshop's dashboard; how many it accepted, None when not joined."""
    workshop = joined_workshop(config)
    if workshop is None:
        return None
    verify = client_verify(workshop.get("ca_file") or None)
    with httpx.Client(timeout=3.0, verify=verify, trust_env=False) as http:
        token = _access_token(config, workshop, http)
        answer = http.post(f"{workshop['dashboard']}/api/results", json={"results": results},
                           headers={"Authorization": f"Bearer {token}"})
    if answer.status_code != 200:
        raise LabError(f"the workshop dashboard refused the results (HTTP {answer.status_code})",
                       fix="labsupport join URL --learner NAME again")
    return int(answer.json().get("accepted", 0))


def report_result(config: LabConfig, result: Any) -> None:
    """Report one CheckResult when this lab has joined a workshop; a failure is a warning, never an error."""
    if not (config.state_dir / WORKSHOP_FILE).exists():
        return
    record = {"exercise": result.exercise, "passed": bool(result.passed), "code": result.code,
              "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    try:
        report_results(config, [record])
    except (LabError, httpx.HTTPError, OSError, ValueError, KeyError) as exc:
        reason = exc.message if isinstance(exc, LabError) else type(exc).__name__
        warnings.warn(f"the result was not sent to the workshop dashboard: {reason}", stacklevel=3)

"""Lesson 00's check: `setup.registry`, the lab registry answers `/v2/` and asks for credentials.

Starting the registry is this exercise's task, so a registry that does not answer is the learner's next step
(`labsupport up`), not a broken lab: the check says so instead of raising. It also tells apart a port held by
something else, a registry without auth (not the lab's), and a lab whose password no longer matches.
"""

from __future__ import annotations

import httpx

from ..config import LabConfig
from ..lab import stored_password
from ..registry import probe
from .base import OK, CheckContext, CheckResult, exercise

#: The header every distribution registry sets on its /v2/ answers.
API_VERSION_HEADER = "docker-distribution-api-version"


def diagnose_answer(response: httpx.Response | None, config: LabConfig) -> tuple[str, str] | None:
    """(code, why) for what GET /v2/ answered without credentials; None for a registry asking for them."""
    where = f"{config.registry_url}/v2/"
    if response is None:
        return "not-running", f"nothing answers at {where}: the lab registry is not running"
    if API_VERSION_HEADER not in response.headers:
        return "not-a-registry", (f"{where} answered HTTP {response.status_code} without the registry API "
                                  f"header: another program holds port {config.port}")
    if response.status_code == 200:
        return "no-auth", (f"a registry answers at {where} but lets anyone in: it is not the lab's, which "
                           "asks for a password")
    if response.status_code != 401 or "www-authenticate" not in response.headers:
        return "not-a-registry", (f"{where} answered HTTP {response.status_code}, not the 401 challenge of "
                                  "the lab")
    return None


def _result(code: str, message: str, hint: str = "") -> CheckResult:
    return CheckResult("setup.registry", code == OK, code, message, hint=hint)


@exercise("setup.registry")
def check_registry(ctx: CheckContext) -> CheckResult:
    """GET /v2/ answers 401 with a challenge, and the lab's own credential is accepted."""
    config = ctx.config
    first = probe(config.registry_url)
    mistake = diagnose_answer(first, config)
    if mistake is not None:
        code, why = mistake
        hints = {
            "not-running": "labsupport up",
            "not-a-registry": f"free port {config.port} (lsof -i :{config.port}), or export "
                              f"LAB_REGISTRY=localhost:{config.port + 1 if config.port < 65535 else 5001}; "
                              "then labsupport up",
            "no-auth": f"docker ps --filter publish={config.port}   (stop that container with docker stop "
                       "<name>), then labsupport up",
        }
        return _result(code, why, hint=hints[code])
    password = stored_password(config)  # "" when missing or damaged
    accepted = probe(config.registry_url, (config.learner, password)) if password else None
    if accepted is None or accepted.status_code != 200:
        why = ("the lab's password file is missing or damaged" if not password else
               f"the registry rejects the lab's password for {config.learner!r}: it runs with another one")
        return _result("credential-mismatch", f"the registry asks for credentials, but {why}",
                       hint="labsupport up   (updates the registry to the lab's password)")
    challenge = response_scheme(first)
    return _result(OK, f"the lab registry answers at {config.registry_url}/v2/, asks for credentials "
                   f"({challenge}) and accepts the lab's own password")


def response_scheme(response: httpx.Response | None) -> str:
    """The auth scheme of a /v2/ challenge, as the learner would read it in WWW-Authenticate."""
    header = response.headers.get("www-authenticate", "") if response is not None else ""
    return header.split(" ", 1)[0] or "no scheme"

"""Lesson 04's check: `login.logged-in`, the Docker client holds a credential the lab registry accepts.

It reads the credential the way `docker push` would (config.json, a credential store or helper), under the
exact host name the lab uses, and tries it on the registry's `/v2/`. The secret is never printed: messages
name the user and the host only.
"""

from __future__ import annotations

from .. import refs
from ..dockerconfig import config_dir, stored_registries
from ..errors import DockerConfigError, InvalidReference, RegistryUnreachable, Unauthorized
from ..registry import RegistryClient
from .base import OK, CheckContext, CheckResult, exercise
from .fixes import LAB_UP, login_command

__all__ = ["check_logged_in", "login_command", "loopback_aliases"]


def loopback_aliases(stored: list[str], registry: str) -> list[str]:
    """The stored hosts that reach the lab's registry under another loopback name (127.0.0.1 vs localhost)."""
    found = []
    for host in stored:
        try:
            if refs.is_loopback_alias(host, registry):
                found.append(host)
        except InvalidReference:
            continue  # a config key that is no host (a URL with odd parts): not an alias
    return found


def _result(code: str, message: str, hint: str = "") -> CheckResult:
    return CheckResult("login.logged-in", code == OK, code, message, hint=hint)


@exercise("login.logged-in")
def check_logged_in(ctx: CheckContext) -> CheckResult:
    """The Docker client's credential for the lab's host exists and the registry accepts it."""
    config = ctx.config
    login = login_command(config)
    try:
        credential = ctx.credential
        stored = stored_registries() if credential is None else []
    except DockerConfigError as broken:
        return _result("config-unreadable", f"the Docker client's config cannot be read: {broken.message}",
                       hint=broken.fix or login)
    if credential is None:
        aliases = loopback_aliases(stored, config.registry)
        if aliases:
            return _result("wrong-host", f"you logged in to {aliases[0]}, but the lab's name is "
                           f"{config.registry}: the Docker client keeps one login per exact host name, so a "
                           f"push to {config.registry} sends no credential", hint=login)
        return _result("no-credential", f"the Docker client holds no credential for {config.registry} "
                       f"(looked in {config_dir() / 'config.json'})", hint=login)
    with RegistryClient(config.registry_url, credential=credential, registry=config.registry) as client:
        try:
            client.check_credentials()
        except Unauthorized:
            return _result("rejected", f"the Docker client holds a credential for {config.registry} "
                           f"(user {credential.username!r}), but the registry rejects it: a wrong or old "
                           "password",
                           hint=login)
        except RegistryUnreachable as down:
            raise RegistryUnreachable(down.message, status=down.status, code=down.code,
                                      fix=LAB_UP) from down
    return _result(OK, f"the Docker client is logged in to {config.registry} as {credential.username!r} and "
                   "the registry accepts it")

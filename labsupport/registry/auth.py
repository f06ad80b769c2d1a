"""I/O: how labsupport authenticates to a registry: its challenge, Basic, the one Bearer token exchange, /v2/.

A 401 answer's `WWW-Authenticate` challenge says how to authenticate: Basic sends the credential on every
request; Bearer trades it at the token server (the challenge's realm) for a short-lived token. The exchange is
written once (`request_token`, `read_token`, `TokenCache`) and serves the API client (`RegistryAuth`, a
distribution-spec GET scoped per request), the status probe (`probe`) and a workshop learner's OAuth2 grants
(`password_grant`, `refresh_grant`). No credential or token ever appears in a message, repr or log.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx

from ..dockerconfig import Credential
from ..errors import Denied, RegistryError, Unauthorized
from ..refs import is_loopback_url
from .wire import error_from

TOKEN_MARGIN = 10.0            # seconds before a token's expiry at which we stop reusing it
DEFAULT_TOKEN_LIFETIME = 60.0  # what the token spec implies when a token server omits expires_in
_PARAM = re.compile(r'([A-Za-z][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))')

#: How a request goes out: `httpx.Client.request`, or a client's own sender that words httpx's errors.
Send = Callable[..., httpx.Response]


# -- the challenge ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Challenge:
    """What GET /v2/ without credentials answered: its status and the auth scheme it asks for, if any."""

    status: int
    scheme: str | None             # "basic", "bearer", another scheme lowercased, or None (no challenge)
    realm: str | None = None       # Basic: a label; Bearer: the token server's URL
    service: str | None = None     # Bearer: the name the token server issues tokens for
    scope: str | None = None       # Bearer: the scope(s) the refused request needed, space-separated
    error: str | None = None       # Bearer: e.g. "insufficient_scope" or "invalid_token"

    @property
    def needs_auth(self) -> bool:
        return self.status == 401


def parse_challenge(status: int, header: str | None) -> Challenge:
    """Parse a `WWW-Authenticate` header (`Bearer realm="…",service="…",scope="…"`) into a Challenge."""
    if not header or not header.strip():
        return Challenge(status=status, scheme=None)
    scheme, _, rest = header.strip().partition(" ")
    params = {key.lower(): bare or re.sub(r"\\(.)", r"\1", quoted) for key, quoted, bare in _PARAM.findall(rest)}
    return Challenge(status=status, scheme=scheme.lower(), realm=params.get("realm") or None,
                     service=params.get("service") or None, scope=params.get("scope") or None,
                     error=params.get("error") or None)


def basic_authorization(credential: Credential) -> str:
    """The `Authorization` value that sends a credential the Basic way."""
    pair = f"{credential.username}:{credential.secret}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


# -- the token exchange ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Token:
    """A token server's grant: the bearer token, the seconds it lives, and the refresh token of an offline one."""

    value: str = field(repr=False)
    lifetime: float = DEFAULT_TOKEN_LIFETIME
    refresh_token: str | None = field(default=None, repr=False)


def password_grant(username: str, password: str, client_id: str) -> dict[str, str]:
    """The OAuth2 password grant, asking for a refresh token too (`access_type=offline`), as docker login does."""
    return {"grant_type": "password", "username": username, "password": password, "access_type": "offline",
            "client_id": client_id}


def refresh_grant(refresh_token: str, client_id: str) -> dict[str, str]:
    """The OAuth2 grant that trades a refresh token for a new access token, without the password."""
    return {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id}


def request_token(send: Send, realm: str, *, service: str | None, scopes: Iterable[str] = (),
                  credential: Credential | None = None, grant: Mapping[str, str] | None = None) -> httpx.Response:
    """Ask the token server at `realm` for a token: without `grant`, the token spec's GET (service, one `scope`
    parameter per scope, the credential as Basic, none for an anonymous token); with one, an OAuth2 POST of that
    form. The answer as it came: each caller words a refusal its own way."""
    if grant is None:
        params = ([("service", service)] if service else []) + [("scope", scope) for scope in scopes]
        headers = {"Authorization": basic_authorization(credential)} if credential else {}
        return send("GET", realm, params=params, headers=headers)
    return send("POST", realm, data={**grant, "service": service or "", "scope": " ".join(scopes)})


def read_token(response: httpx.Response) -> Token | None:
    """The token in a token server's successful answer (`token`, else `access_token`, living `expires_in`
    seconds, 60 when it says nothing), or None when the answer holds none."""
    if not response.is_success:
        return None
    try:
        data = response.json()
        value = data.get("token") or data.get("access_token")
        lifetime = float(data.get("expires_in") or DEFAULT_TOKEN_LIFETIME)
        refresh = data.get("refresh_token")
    except (ValueError, AttributeError, TypeError):
        return None
    if not isinstance(value, str) or not value:
        return None
    return Token(value, lifetime, refresh if isinstance(refresh, str) and refresh else None)


class TokenCache:
    """Tokens kept until `margin` seconds before they expire (but at least `minimum` seconds), by a key such as
    a scope set or a lab's state folder. Safe to share between threads."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, *, margin: float = TOKEN_MARGIN,
                 minimum: float = 0.0) -> None:
        self._clock, self._margin, self._minimum = clock, margin, minimum
        self._tokens: dict[Hashable, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> str | None:
        """The token kept for `key` while it is still good, else None."""
        with self._lock:
            cached = self._tokens.get(key)
        return cached[0] if cached and cached[1] > self._clock() else None

    def keep(self, key: Hashable, token: Token) -> str:
        """Keep a token for `key` for its lifetime less the margin; its value."""
        expires = self._clock() + max(self._minimum, token.lifetime - self._margin)
        with self._lock:
            self._tokens[key] = (token.value, expires)
        return token.value

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._tokens.pop(key, None)


# -- a client's auth: the challenge it learnt, Basic or Bearer per request -------------------------------

class RegistryAuth:
    """How one API client authenticates to one registry: our credential, the registry's last challenge, and the
    bearer tokens it gave us per scope set. `transmit(method, url, *, where=None, **kwargs)` sends a request and
    translates httpx's errors (the client's own sender)."""

    def __init__(self, registry: str, credential: Credential | None, transmit: Send, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.registry = registry
        self.credential = credential
        self._transmit = transmit
        self._challenge: Challenge | None = None
        self._tokens = TokenCache(clock)

    @property
    def username(self) -> str | None:
        return self.credential.username if self.credential else None

    def send(self, method: str, url: str, scopes: tuple[str, ...], *, what: str, **kwargs: Any) -> httpx.Response:
        """Send with the auth the registry asked for; on a 401 learn its challenge and retry once."""
        headers = dict(kwargs.pop("headers", None) or {})
        sent = self._authorization(scopes, fresh=False)
        response = self._transmit(method, url, headers={**headers, **sent}, **kwargs)
        if response.status_code != 401:
            return response
        challenge = parse_challenge(401, response.headers.get("www-authenticate"))
        if challenge.scheme is None:
            return response            # a 401 that names no scheme: the error translation reports it
        self._challenge = challenge
        if challenge.scheme not in ("basic", "bearer"):
            raise Unauthorized(f"the registry {self.registry} asks for {challenge.scheme} authentication, which "
                               "labsupport does not speak", status=401, code="UNAUTHORIZED",
                               fix="use a registry with Basic or token (Bearer) authentication")
        if self.credential is None and challenge.scheme == "basic":
            raise self._needs_login(what)
        if sent and challenge.scheme == "basic":
            raise self._rejected(what)
        retry = tuple(sorted(set(scopes) | set((challenge.scope or "").split())))
        response = self._transmit(method, url, headers={**headers, **self._authorization(retry, fresh=True)},
                                  **kwargs)
        if response.status_code != 401:
            return response
        again = parse_challenge(401, response.headers.get("www-authenticate"))
        if self.credential is None:
            raise self._needs_login(what)
        if again.error == "insufficient_scope":
            raise Denied(f"user {self.username!r} may not {what} on {self.registry}", status=401, code="DENIED",
                         fix="ask for access to that repository, or push to your own namespace")
        raise self._rejected(what)

    def _authorization(self, scopes: tuple[str, ...], *, fresh: bool) -> dict[str, str]:
        """The Authorization header the last challenge calls for ({} before any challenge)."""
        scheme = self._challenge.scheme if self._challenge else None
        if scheme == "basic" and self.credential is not None:
            return {"Authorization": basic_authorization(self.credential)}
        if scheme == "bearer":
            return {"Authorization": "Bearer " + self._token(scopes, fresh=fresh)}
        return {}

    def _token(self, scopes: tuple[str, ...], *, fresh: bool) -> str:
        """A bearer token for this scope set: the kept one while good, else one from the token server."""
        key = frozenset(scopes)
        cached = None if fresh else self._tokens.get(key)
        if cached:
            return cached
        challenge = self._challenge
        assert challenge is not None
        if not challenge.realm or not challenge.realm.startswith(("http://", "https://")):
            raise RegistryError(f"the registry {self.registry} asks for a bearer token but names no token server",
                                status=401, fix="check the registry's REGISTRY_AUTH_TOKEN_REALM setting")
        where = f"the token server {challenge.realm.split('?')[0]}"
        response = request_token(partial(self._transmit, where=where), challenge.realm, service=challenge.service,
                                 scopes=sorted(key), credential=self.credential)
        if response.status_code == 401:
            raise self._needs_login("get a token") if self.credential is None else self._rejected("get a token")
        if not response.is_success:
            raise error_from(response, f"get a token from {where}", RegistryError, self.registry)
        token = read_token(response)
        if token is None:
            raise RegistryError(f"{where} answered without a token", status=response.status_code,
                                fix="check the token server's configuration")
        return self._tokens.keep(key, token)

    def _needs_login(self, what: str) -> Unauthorized:
        return Unauthorized(f"the registry {self.registry} wants credentials to {what}, and none were given",
                            status=401, code="UNAUTHORIZED",
                            fix=f"docker login {self.registry} (labsupport credentials shows the lab's user "
                                "name and password)")

    def _rejected(self, what: str) -> Unauthorized:
        return Unauthorized(f"the registry {self.registry} rejected the credential of user {self.username!r} "
                            f"(to {what})", status=401, code="UNAUTHORIZED",
                            fix=f"docker login {self.registry} again with the right password (labsupport "
                                "credentials shows it)")


# -- the probe: does /v2/ answer, and does it take this credential? --------------------------------------

def probe(url: str, auth: tuple[str, str] | None = None, timeout: float = 3.0, *,
          transport: httpx.BaseTransport | None = None) -> httpx.Response | None:
    """GET <url>/v2/ once; the response, or None when nothing answers.

    With `auth` and a token registry's Bearer challenge (a workshop's), the credential is traded at the token
    server and /v2/ asked again with the token; a refused credential leaves the first 401 as the answer.
    """
    # A proxy from HTTP(S)_PROXY must not carry calls to a registry on this machine.
    with httpx.Client(timeout=timeout, trust_env=not is_loopback_url(url), transport=transport) as http:
        try:
            answer = http.get(f"{url}/v2/", auth=auth)
        except httpx.HTTPError:
            return None
        if auth is None or answer.status_code != 401:
            return answer
        challenge = parse_challenge(401, answer.headers.get("www-authenticate"))
        if challenge.scheme != "bearer" or not challenge.realm:
            return answer
        try:
            token = read_token(request_token(http.request, challenge.realm, service=challenge.service,
                                             credential=Credential(*auth)))
            if token is not None:
                return http.get(f"{url}/v2/", headers={"Authorization": f"Bearer {token.value}"})
        except httpx.HTTPError:
            pass
        return answer

"""Registry tokens: signing the short-lived JWTs the registry checks, verifying them, and refresh tokens.

A token is an ES256 JWT whose header carries `x5c`, the signer's certificate then the CA's (standard base64 of
DER), so distribution 2.8 and 3.x can chain it to their `rootcertbundle`. `aud` is the service name as a plain
string (a list is refused by 2.8), `access` the granted resources and actions.

Refresh tokens are what `docker login` keeps (as its identity token) so later pushes need no bcrypt check: each
is 32 random bytes handed out once; the server stores only its sha256, with the user and an expiry.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt

from .accounts import write_private
from .pki import KeyPair

CLOCK_LEEWAY = 60           # seconds, as the registry allows
MAX_REFRESH_PER_USER = 20   # a learner who logs in again and again keeps only the newest ones


class TokenIssuer:
    """Sign and verify the workshop's access tokens with the token signer's key."""

    def __init__(self, signer: KeyPair, ca: KeyPair, *, issuer: str, service: str, lifetime: int = 300,
                 clock: Callable[[], float] = time.time) -> None:
        self._signer = signer
        self._x5c = [base64.b64encode(signer.der).decode("ascii"), base64.b64encode(ca.der).decode("ascii")]
        self.issuer = issuer
        self.service = service
        self.lifetime = lifetime
        self._clock = clock

    def __repr__(self) -> str:
        return f"TokenIssuer(issuer={self.issuer!r}, service={self.service!r})"

    def issue(self, subject: str, access: list[dict[str, Any]], *, lifetime: int | None = None,
              now: float | None = None) -> str:
        """A signed token for `subject` granting `access` (an empty list grants nothing but /v2/)."""
        issued = int(self._clock() if now is None else now)
        claims = {"iss": self.issuer, "sub": subject, "aud": self.service, "iat": issued, "nbf": issued - 1,
                  "exp": issued + (self.lifetime if lifetime is None else lifetime),
                  "jti": secrets.token_hex(12), "access": access}
        return jwt.encode(claims, self._signer.key, algorithm="ES256", headers={"x5c": self._x5c, "typ": "JWT"})

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a token this issuer signed for this service; jwt.InvalidTokenError otherwise."""
        return jwt.decode(token, self._signer.key.public_key(), algorithms=["ES256"], audience=self.service,
                          issuer=self.issuer, leeway=CLOCK_LEEWAY, options={"require": ["exp", "sub", "aud"]})


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class RefreshTokens:
    """Refresh tokens by sha256, persisted in one JSON file (0600); safe to use from many threads."""

    def __init__(self, path: Path | None, lifetime: int, clock: Callable[[], float] = time.time) -> None:
        self._path = path
        self._lifetime = lifetime
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, Any]] = self._read()

    def __repr__(self) -> str:
        return f"RefreshTokens({len(self._entries)} stored)"

    def _read(self) -> dict[str, dict[str, Any]]:
        if self._path is None:
            return {}
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}
        return {k: v for k, v in data.items() if isinstance(v, dict) and "user" in v and "expires" in v}

    def _write(self) -> None:
        if self._path is not None:
            write_private(self._path, json.dumps(self._entries))

    def create(self, user: str) -> str:
        """A new refresh token for `user`; only its digest is kept."""
        token = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            self._entries[_digest(token)] = {"user": user, "created": now, "expires": now + self._lifetime}
            mine = sorted((v["created"], k) for k, v in self._entries.items() if v["user"] == user)
            for _, key in mine[:-MAX_REFRESH_PER_USER]:
                del self._entries[key]
            self._write()
        return token

    def user_of(self, token: str) -> str | None:
        """The user a refresh token belongs to, or None when it is unknown or expired."""
        if not token:
            return None
        entry = self._entries.get(_digest(token))
        if entry is None or entry["expires"] < self._clock():
            return None
        return str(entry["user"])

    def revoke(self, user: str) -> int:
        """Forget every refresh token of `user` (its next docker push asks for a login again)."""
        with self._lock:
            keys = [k for k, v in self._entries.items() if v["user"] == user]
            for key in keys:
                del self._entries[key]
            self._write()
        return len(keys)

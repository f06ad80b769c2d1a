"""The workshop's token server: the registry token protocol, Basic or OAuth2 in, a short-lived JWT out.

    GET  /token?service=…&scope=…&scope=…[&offline_token=true]   Authorization: Basic (password or refresh
                                                                   token); none = anonymous (grants nothing)
    POST /token  grant_type=password&username&password[&access_type=offline]&service&scope="a b"
    POST /token  grant_type=refresh_token&refresh_token&service&scope="a b"
    GET  /healthz, /stats                                          liveness and counters, no secret

`docker login` asks with GET and offline_token=true and keeps the refresh token it gets as its identity token;
every later push trades that token by POST, so a class pushing at once does not wait on bcrypt (cost 10, about
ten checks a second per core). A refresh token is also accepted as the Basic password of its own user, like a
personal access token, so clients that speak only Basic (labsupport's checks) work with what docker stored.
A wrong password or unknown refresh token is a 401, never an empty token.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import threading
from collections import Counter
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from .accounts import Account, Accounts, grant, parse_scopes
from .tokens import RefreshTokens, TokenIssuer
from .web import BodyTooLarge, JsonHandler, log


@dataclass(frozen=True)
class Answer:
    """A token endpoint's answer: status, JSON body, extra headers."""

    status: int
    body: dict
    headers: dict[str, str]


def _error(status: int, code: str, message: str, oauth: str, realm: str | None = None) -> Answer:
    headers = {"WWW-Authenticate": f'Basic realm="{realm}"'} if realm and status == 401 else {}
    body = {"errors": [{"code": code, "message": message}], "error": oauth, "error_description": message}
    return Answer(status, body, headers)


class TokenService:
    """The protocol without sockets: who is asking, what they may have, the signed answer."""

    def __init__(self, accounts: Accounts, issuer: TokenIssuer, refresh: RefreshTokens) -> None:
        self.accounts = accounts
        self.issuer = issuer
        self.refresh = refresh
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"TokenService(service={self.issuer.service!r})"

    @property
    def realm_label(self) -> str:
        return f"{self.issuer.service} token server"

    def _count(self, *keys: str) -> None:
        with self._lock:
            self.counts.update(keys)

    def stats(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)

    # -- the two ways in ------------------------------------------------------------------------------------
    def answer_get(self, authorization: str | None, query: str) -> Answer:
        """GET /token: Basic credentials (or none) and repeated scope parameters."""
        params = parse_qs(query)
        bad = self._wrong_service(params.get("service", [None])[0])
        if bad:
            return bad
        account, via = None, "anonymous"
        if authorization:
            account, via = self._basic(authorization)
            if account is None:
                return self._reject(via)
        offline = params.get("offline_token", ["false"])[0].lower() == "true"
        return self._issue(account, params.get("scope", []), via, offline and via == "password", get=True)

    def answer_post(self, form: dict[str, list[str]]) -> Answer:
        """POST /token: the OAuth2 password or refresh_token grant."""
        field = {key: values[0] for key, values in form.items() if values}
        bad = self._wrong_service(field.get("service"))
        if bad:
            return bad
        scopes = [field.get("scope", "")]
        grant_type = field.get("grant_type", "")
        if grant_type == "refresh_token":
            user = self.refresh.user_of(field.get("refresh_token", ""))
            account = self.accounts.get(user) if user else None
            if account is None:
                return self._reject("refresh")
            return self._issue(account, scopes, "refresh", False, get=False)
        if grant_type == "password":
            account = self.accounts.authenticate(field.get("username", ""), field.get("password", ""))
            if account is None:
                return self._reject("password")
            return self._issue(account, scopes, "password", field.get("access_type") == "offline", get=False)
        self._count("requests", "bad-request")
        return _error(400, "UNSUPPORTED", f"unsupported grant_type {grant_type[:40]!r}", "unsupported_grant_type")

    # -- internals --------------------------------------------------------------------------------------------
    def _wrong_service(self, service: str | None) -> Answer | None:
        if service is None or service == self.issuer.service:
            return None
        self._count("requests", "bad-request")
        return _error(400, "UNSUPPORTED", f"this token server issues tokens for {self.issuer.service!r} only",
                      "invalid_request")

    def _basic(self, authorization: str) -> tuple[Account | None, str]:
        """(account, how it was proven) from a Basic header; (None, why) when it proves nothing."""
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "basic":
            return None, "scheme"
        try:
            user, sep, secret = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, ValueError):
            return None, "malformed"
        if not sep or not user or not secret:
            return None, "malformed"
        if self.refresh.user_of(secret) == user:
            return self.accounts.get(user), "refresh"
        return self.accounts.authenticate(user, secret), "password"

    def _reject(self, via: str) -> Answer:
        self._count("requests", "rejected")
        log.info("token rejected: bad credentials (%s)", via)
        return _error(401, "UNAUTHORIZED", "authentication failed: wrong user name or password",
                      "invalid_grant", realm=self.realm_label)

    def _issue(self, account: Account | None, scope_values: list[str], via: str, offline: bool,
               *, get: bool) -> Answer:
        scopes = parse_scopes(scope_values)
        access = grant(account, scopes)
        subject = account.name if account else ""
        token = self.issuer.issue(subject, access)
        body: dict = {"access_token": token, "expires_in": self.issuer.lifetime,
                      "issued_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
        if get:
            body["token"] = token
        else:
            body["scope"] = " ".join(f"{a['type']}:{a['name']}:{','.join(a['actions'])}" for a in access)
        if offline and account is not None:
            body["refresh_token"] = self.refresh.create(account.name)
        self._count("requests", "issued", f"via-{via}")
        asked = ", ".join(f"{s.type}:{s.name}:{','.join(s.actions)}" for s in scopes) or "-"
        given = ", ".join(f"{a['name']}:{','.join(a['actions'])}" for a in access) or "-"
        log.info("token for %s via %s: asked %s; granted %s%s", subject or "<anonymous>", via, asked, given,
                 "; with refresh token" if "refresh_token" in body else "")
        return Answer(200, body, {})


def handler_for(service: TokenService) -> type[JsonHandler]:
    """The request handler class bound to one TokenService."""

    class TokenHandler(JsonHandler):
        service_name = "token"

        def do_GET(self) -> None:
            if self.route == "/token":
                self._send(service.answer_get(self.headers.get("Authorization"), urlsplit(self.path).query))
            elif self.route == "/healthz":
                self.send_json(200, {"ok": True, "service": service.issuer.service})
            elif self.route == "/stats":
                self.send_json(200, service.stats())
            else:
                self.send_json(404, {"errors": [{"code": "NOT_FOUND", "message": "no such path"}]})

        def do_POST(self) -> None:
            if self.route != "/token":
                self.send_json(404, {"errors": [{"code": "NOT_FOUND", "message": "no such path"}]})
                return
            try:
                body = self.read_body(64 * 1024).decode("utf-8")
            except (BodyTooLarge, UnicodeDecodeError):
                self.send_json(400, {"error": "invalid_request", "error_description": "unreadable form"})
                return
            self._send(service.answer_post(parse_qs(body, keep_blank_values=True)))

        def _send(self, answer: Answer) -> None:
            self.send_json(answer.status, answer.body, answer.headers)

    return TokenHandler

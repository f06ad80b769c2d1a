"""A tiny registry token server for tests: Basic credentials in, an ES256 JWT scoped to the granted access out.

It speaks the distribution token protocol: GET /token?service=…&scope=…&scope=… with optional Basic auth; a
wrong password is a 401; an anonymous caller gets a token that grants nothing. The JWT's `x5c` header holds the
self-signed signing certificate (standard base64, leaf first), which the registry trusts through its
`rootcertbundle`; `aud` is the service as a plain string. Used only by tests; it never logs a secret.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class TokenRequest:
    """What one caller asked for: the user (None when anonymous, "!rejected" for a wrong password) and scopes."""

    user: str | None
    service: str | None
    scopes: list[str]


@dataclass
class TokenServer:
    """Issue tokens for `service`; `users` maps a name to (password, the actions it may take on any repository)."""

    service: str
    users: dict[str, tuple[str, set[str]]]
    issuer: str = "hb-token-issuer"
    lifetime: int = 300
    requests: list[TokenRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hB test token signer")])
        now = dt.datetime.now(dt.timezone.utc)
        self._cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                      .public_key(self._key.public_key()).serial_number(x509.random_serial_number())
                      .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
                      .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                      .sign(self._key, hashes.SHA256()))
        self._server: ThreadingHTTPServer | None = None

    @property
    def cert_pem(self) -> bytes:
        """The root certificate bundle the registry needs (REGISTRY_AUTH_TOKEN_ROOTCERTBUNDLE)."""
        return self._cert.public_bytes(serialization.Encoding.PEM)

    @property
    def realm(self) -> str:
        assert self._server is not None, "start() the server first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/token"

    def start(self) -> TokenServer:
        """Serve on a free port of 127.0.0.1 in a daemon thread."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name="hB-tokenserver", daemon=True).start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> TokenServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def answer(self, authorization: str | None, query: str) -> tuple[int, dict]:
        """The status and JSON body for one token request (pure: no sockets), recorded in `requests`."""
        params = parse_qs(query)
        service = (params.get("service") or [None])[0]
        scopes = params.get("scope") or []
        user = self._authenticate(authorization)
        self.requests.append(TokenRequest(user=user, service=service, scopes=scopes))
        if user == "!rejected":
            return 401, {"errors": [{"code": "UNAUTHORIZED", "message": "wrong user name or password"}]}
        if service != self.service:
            return 400, {"errors": [{"code": "UNSUPPORTED", "message": f"unknown service {service!r}"}]}
        token = self.issue(user, scopes)
        return 200, {"token": token, "access_token": token, "expires_in": self.lifetime,
                     "issued_at": dt.datetime.now(dt.timezone.utc).isoformat()}

    def issue(self, user: str | None, scopes: list[str]) -> str:
        """A signed JWT granting `user` the requested actions it is allowed."""
        allowed = self.users[user][1] if user else set()
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            granted = [a for a in actions.split(",") if a in allowed or "*" in allowed]
            access.append({"type": kind, "name": name, "actions": granted})
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": user or "", "aud": self.service, "iat": now, "nbf": now - 5,
                  "exp": now + self.lifetime, "jti": secrets.token_hex(8), "access": access}
        leaf = base64.b64encode(self._cert.public_bytes(serialization.Encoding.DER)).decode("ascii")
        return jwt.encode(claims, self._key, algorithm="ES256", headers={"x5c": [leaf]})

    def _authenticate(self, authorization: str | None) -> str | None:
        if not authorization or not authorization.startswith("Basic "):
            return None
        try:
            user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
        except ValueError:
            return "!rejected"
        known = self.users.get(user)
        return user if known and secrets.compare_digest(known[0], password) else "!rejected"


def _handler_for(server: TokenServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path != "/token":
                status, body = 404, {"errors": [{"code": "NOT_FOUND", "message": "no such path"}]}
            else:
                status, body = server.answer(self.headers.get("Authorization"), url.query)
            data = json.dumps(body).encode()
            self.send_response(status)
            if status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="hb-token"')
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            """Stay quiet: the default log would print every request line to stderr."""

    return Handler

"""The small HTTP frame the token server and the dashboard share: JSON answers, bounded bodies, safe logs.

Each service is a ThreadingHTTPServer (one thread per connection), wrapped in TLS when the workshop has a
public host. Access logs name the method, the path without its query, the status and the peer; never a header,
a query string or a body, so no password, token or Basic value can reach a log.
"""

from __future__ import annotations

import json
import logging
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..refs import is_loopback

MAX_BODY = 256 * 1024
log = logging.getLogger("labsupport.workshop")


class BodyTooLarge(ValueError):
    """A request body over MAX_BODY bytes."""


class JsonHandler(BaseHTTPRequestHandler):
    """A request handler with JSON helpers and access logs that hold no secret."""

    server_version = "labsupport-workshop"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    service_name = "http"

    @property
    def route(self) -> str:
        """The request path without its query string."""
        return urlsplit(self.path).path

    def send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        if self.close_connection:
            self.send_header("Connection", "close")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def send_text(self, status: int, text: str, content_type: str = "text/html; charset=utf-8",
                  headers: dict[str, str] | None = None) -> None:
        data = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def read_body(self, limit: int = MAX_BODY) -> bytes:
        """The request body (Content-Length bytes); BodyTooLarge past `limit`."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = limit + 1
        if length > limit:
            self.close_connection = True      # the unread body must not be taken for the next request
            raise BodyTooLarge(f"body of {length} bytes")
        return self.rfile.read(length) if length > 0 else b""

    def peer_is_loopback(self) -> bool:
        return is_loopback(self.client_address[0])

    # -- logs without secrets ------------------------------------------------------------------------------
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.info("%s %s %s %s from %s", self.service_name, self.command, self.route, code,
                 self.client_address[0])

    def log_error(self, format: str, *args: Any) -> None:
        log.warning("%s %s: error answer", self.service_name, getattr(self, "command", "?"))

    def log_message(self, format: str, *args: Any) -> None:
        """Silence http.server's own lines (they include the raw request line)."""


class QuietServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer whose errors are one log line with the exception's type, not a traceback."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: tuple) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError, ssl.SSLError)):
            return                                  # a client that went away: nothing to tell
        log.error("error while answering %s: %s", client_address[0], type(error).__name__)


def make_server(bind: str, port: int, handler: type[BaseHTTPRequestHandler],
                tls: tuple[Path, Path] | None = None) -> ThreadingHTTPServer:
    """A threading HTTP(S) server on bind:port; `tls` is (certificate, key) for HTTPS."""
    server = QuietServer((bind, port), handler)
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(tls[0]), str(tls[1]))
        server.socket = context.wrap_socket(server.socket, server_side=True)
    return server


def client_verify(cafile: str | Path | None) -> ssl.SSLContext | bool:
    """What httpx's `verify` should be: a context trusting the workshop's CA, or the system's store."""
    return ssl.create_default_context(cafile=str(cafile)) if cafile else True


def run_in_thread(server: ThreadingHTTPServer, name: str) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    return thread

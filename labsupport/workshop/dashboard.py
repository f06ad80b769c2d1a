"""The instructor's dashboard: registry notifications and learners' check results in, a live grid out.

    POST /events        the registry's notification envelopes; accepted from loopback peers only (the registry
                        runs beside the dashboard, and a secret in its endpoint config would land in its log)
    POST /api/results   a learner's check results, with `Authorization: Bearer <token from the token server>`
    GET  /              the grid page (instructor: Basic auth)       GET /api/grid   the grid as JSON
    GET  /api/stream    server-sent events: the grid on every change  GET /api/info  what `labsupport join` needs
    GET  /ca.crt        the workshop's CA                             GET /healthz

Every accepted event and result is appended to DIR/state/*.jsonl first, so a restart, or `workshop grades`
with the services down, sees the same board.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import jwt

from .accounts import Accounts
from .board import Board
from .page import PAGE
from .settings import Layout, WorkshopSettings
from .tokens import TokenIssuer
from .web import BodyTooLarge, JsonHandler, log

MAX_RESULTS = 200
AUTH_CACHE_SECONDS = 600
KEEPALIVE_SECONDS = 15.0


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a .jsonl file, skipping damaged lines ([] when missing)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def compact_event(event: dict[str, Any]) -> dict[str, Any]:
    """The fields of a notification event the board uses; the request's addresses and agents are dropped."""
    target = event.get("target") or {}
    keep = ("repository", "tag", "digest", "mediaType", "size", "fromRepository")
    return {"id": event.get("id"), "timestamp": event.get("timestamp"), "action": event.get("action"),
            "actor": {"name": (event.get("actor") or {}).get("name", "")},
            "target": {k: target[k] for k in keep if k in target}}


def load_board(layout: Layout, learners: list[str]) -> Board:
    return Board(learners).replay(read_jsonl(layout.events), read_jsonl(layout.results))


class Dashboard:
    """The board, its files and who may see or feed it; thread-safe."""

    def __init__(self, layout: Layout, settings: WorkshopSettings, accounts: Accounts,
                 issuer: TokenIssuer) -> None:
        self.layout = layout
        self.settings = settings
        self.accounts = accounts
        self.issuer = issuer
        self.board = load_board(layout, accounts.learners)
        self.changed = threading.Condition()
        self.stopping = threading.Event()
        self._cache_key = secrets.token_bytes(32)
        self._verified: dict[bytes, float] = {}

    def __repr__(self) -> str:
        return f"Dashboard({self.layout.root})"

    def _append(self, path: Path, records: list[dict[str, Any]]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write("".join(json.dumps(r) + "\n" for r in records))

    def add_events(self, envelope: Any) -> int:
        """Store and apply the events of one notification envelope; how many changed the board."""
        events = envelope.get("events") if isinstance(envelope, dict) else None
        if not isinstance(events, list):
            return 0
        compacted = [compact_event(e) for e in events if isinstance(e, dict)]
        with self.changed:
            self._append(self.layout.events, compacted)
            applied = sum(self.board.add_event(e) for e in compacted)
            if applied:
                self.changed.notify_all()
        return applied

    def add_results(self, learner: str, results: list[Any]) -> int:
        records = [{"learner": learner, "exercise": r.get("exercise"), "passed": r.get("passed"),
                    "code": str(r.get("code") or "")[:40], "time": str(r.get("time") or "")[:40]}
                   for r in results[:MAX_RESULTS] if isinstance(r, dict)]
        with self.changed:
            accepted = [r for r in records if self.board.add_result(learner, r)]
            self._append(self.layout.results, accepted)
            if accepted:
                self.changed.notify_all()
        return len(accepted)

    def grid(self) -> dict[str, Any]:
        with self.changed:
            return self.board.to_json()

    def wait_for_change(self, seen: int, timeout: float) -> int:
        """Block until the board's version passes `seen` (or timeout); the current version."""
        with self.changed:
            self.changed.wait_for(lambda: self.board.version != seen or self.stopping.is_set(), timeout)
            return self.board.version

    def stop(self) -> None:
        self.stopping.set()
        with self.changed:
            self.changed.notify_all()

    def instructor_allowed(self, authorization: str | None) -> bool:
        """Whether a Basic header is an instructor's; a verified header is remembered (as an HMAC) for a while."""
        if not authorization or not authorization.lower().startswith("basic "):
            return False
        mark = hmac.new(self._cache_key, authorization.encode("utf-8"), hashlib.sha256).digest()
        now = time.monotonic()
        if self._verified.get(mark, 0) > now:
            return True
        try:
            user, _, password = base64.b64decode(authorization[6:].strip(), validate=True).decode().partition(":")
        except (binascii.Error, ValueError):
            return False
        if user not in self.accounts.instructors or self.accounts.authenticate(user, password) is None:
            return False
        self._verified = {k: v for k, v in self._verified.items() if v > now}
        self._verified[mark] = now + AUTH_CACHE_SECONDS
        return True

    def learner_of(self, authorization: str | None) -> str | None:
        """The learner a Bearer token from our token server names, or None."""
        if not authorization or not authorization.lower().startswith("bearer "):
            return None
        try:
            claims = self.issuer.verify(authorization[7:].strip())
        except jwt.InvalidTokenError:
            return None
        subject = claims.get("sub")
        return subject if subject in self.accounts.learners else None

    def info(self) -> dict[str, Any]:
        s = self.settings
        return {"workshop": s.name, "registry": s.registry, "registry_url": s.registry_url, "realm": s.realm,
                "service": s.service, "dashboard": s.dashboard_url, "tls": s.tls}


def handler_for(dashboard: Dashboard) -> type[JsonHandler]:  # noqa: C901 (its routes; issue 15 moves them to tornado)
    """The request handler class bound to one Dashboard."""
    challenge = f'Basic realm="{dashboard.settings.name} dashboard", charset="UTF-8"'

    class DashboardHandler(JsonHandler):
        service_name = "dashboard"

        def _instructor(self) -> bool:
            if dashboard.instructor_allowed(self.headers.get("Authorization")):
                return True
            self.send_json(401, {"error": "the dashboard is the instructor's: log in"},
                           {"WWW-Authenticate": challenge})
            return False

        def do_GET(self) -> None:
            route = self.route
            if route == "/healthz":
                self.send_json(200, {"ok": True})
            elif route == "/api/info":
                self.send_json(200, dashboard.info())
            elif route == "/ca.crt":
                self.send_text(200, dashboard.layout.ca_cert.read_text(), "application/x-pem-file")
            elif route in ("/", "/index.html"):
                if self._instructor():
                    self.send_text(200, PAGE.replace("{{WORKSHOP}}", dashboard.settings.name))
            elif route == "/api/grid":
                if self._instructor():
                    self.send_json(200, dashboard.grid())
            elif route == "/api/stream":
                if self._instructor():
                    self._stream()
            else:
                self.send_json(404, {"error": "no such page"})

        def do_POST(self) -> None:
            try:
                body = json.loads(self.read_body() or b"null")
            except (BodyTooLarge, ValueError):
                self.send_json(400, {"error": "the body is not JSON of a sensible size"})
                return
            if self.route == "/events":
                if not self.peer_is_loopback():
                    self.send_json(403, {"error": "events come from the workshop's own registry only"})
                    return
                applied = dashboard.add_events(body)
                self.send_json(200, {"applied": applied})
            elif self.route == "/api/results":
                learner = dashboard.learner_of(self.headers.get("Authorization"))
                if learner is None:
                    self.send_json(401, {"error": "a learner's token from the workshop's token server is needed"},
                                   {"WWW-Authenticate": f'Bearer realm="{dashboard.settings.realm}",'
                                                        f'service="{dashboard.settings.service}"'})
                    return
                results = body.get("results") if isinstance(body, dict) else None
                if not isinstance(results, list):
                    self.send_json(400, {"error": 'send {"results": [{"exercise", "passed", "code", "time"}]}'})
                    return
                accepted = dashboard.add_results(learner, results)
                log.info("dashboard: %d result(s) from %s", accepted, learner)
                self.send_json(200, {"accepted": accepted})
            else:
                self.send_json(404, {"error": "no such endpoint"})

        def _stream(self) -> None:
            """Server-sent events: the grid now, then after every change, with keep-alive comments between."""
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            seen = -1
            try:
                while not dashboard.stopping.is_set():
                    version = dashboard.wait_for_change(seen, KEEPALIVE_SECONDS)
                    if version != seen:
                        seen = version
                        self.wfile.write(b"data: " + json.dumps(dashboard.grid()).encode() + b"\n\n")
                    else:
                        self.wfile.write(b": keep-alive\n\n")
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError, OSError):
                return

    return DashboardHandler

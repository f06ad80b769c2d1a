"""The workshop's two Python services in one process: the token server and the dashboard.

`labsupport workshop up` starts this module as its own process (`python -m labsupport.workshop.services DIR`),
logging to DIR/logs/services.log; SIGTERM stops it. Tests may also run `Services` inside their own process.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path

from ..errors import LabError
from .accounts import Accounts
from .dashboard import Dashboard
from .dashboard import handler_for as dashboard_handler
from .pki import KeyPair
from .settings import Layout, WorkshopSettings, load_settings
from .tokens import RefreshTokens, TokenIssuer
from .tokenserver import TokenService
from .tokenserver import handler_for as token_handler
from .web import log, make_server, run_in_thread


class Services:
    """The token server and the dashboard of one workshop folder, on the ports its settings name."""

    def __init__(self, root: Path | str, settings: WorkshopSettings | None = None) -> None:
        self.layout = Layout(root).require()
        self.settings = settings or load_settings(self.layout)
        layout, settings = self.layout, self.settings
        self.accounts = Accounts.load(layout.accounts)
        self.issuer = TokenIssuer(KeyPair.load(layout.token_cert, layout.token_key),
                                  KeyPair.load(layout.ca_cert, layout.ca_key),
                                  issuer=settings.issuer, service=settings.service,
                                  lifetime=settings.token_lifetime)
        self.refresh = RefreshTokens(layout.refresh_tokens, settings.refresh_lifetime)
        self.tokens = TokenService(self.accounts, self.issuer, self.refresh)
        self.dashboard = Dashboard(layout, settings, self.accounts, self.issuer)
        self._servers: list = []

    def __repr__(self) -> str:
        return f"Services({self.layout.root}, token port {self.settings.token_port}, " \
               f"dashboard port {self.settings.dashboard_port})"

    def start(self) -> Services:
        """Listen on both ports (TLS when the workshop has a public host) in daemon threads."""
        tls = (self.layout.server_cert, self.layout.server_key) if self.settings.tls else None
        bind = self.settings.bind
        token = make_server(bind, self.settings.token_port, token_handler(self.tokens), tls)
        try:
            board = make_server(bind, self.settings.dashboard_port, dashboard_handler(self.dashboard), tls)
        except OSError:
            token.server_close()
            raise
        self._servers = [token, board]
        run_in_thread(token, "workshop-token-server")
        run_in_thread(board, "workshop-dashboard")
        log.info("token server on %s, dashboard on %s, %d learners", self.settings.realm,
                 self.settings.dashboard_url, len(self.accounts.learners))
        return self

    def stop(self) -> None:
        self.dashboard.stop()
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers = []


def main(argv: list[str] | None = None) -> int:
    """Run the services of the workshop folder argv[0] until SIGTERM or SIGINT."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m labsupport.workshop.services DIR", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s")
    done = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: done.set())
    try:
        services = Services(args[0]).start()
    except (OSError, LabError) as exc:
        log.error("cannot start: %s", exc)
        return 1
    done.wait()
    log.info("stopping")
    services.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

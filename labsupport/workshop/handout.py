"""What the instructor hands out: credentials.csv (learner,password) and a printable sheet, one card a learner.

Both files are written 0600 into DIR/handout/, which no service reads. The sheet says everything a learner
needs: the registry, their name and password, the one command that joins the workshop, and, when the workshop
uses TLS, how to make Docker trust its CA (with the CA's fingerprint to compare).
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Sequence

from .settings import WorkshopSettings


def credentials_csv(rows: Sequence[tuple[str, str]]) -> str:
    """`learner,password` then one row a learner."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["learner", "password"])
    writer.writerows(rows)
    return buffer.getvalue()


def read_credentials(text: str) -> list[tuple[str, str]]:
    """The (learner, password) rows of a credentials.csv."""
    rows = [row for row in csv.reader(io.StringIO(text)) if len(row) >= 2]
    if rows and rows[0][:2] == ["learner", "password"]:
        rows = rows[1:]                                   # the header (a learner may be named "learner")
    return [(row[0], row[1]) for row in rows]


def join_command(settings: WorkshopSettings, learner: str) -> str:
    return f"labsupport join {settings.dashboard_url} --learner {learner}"


def trust_steps(settings: WorkshopSettings, ca_fingerprint: str) -> list[str]:
    """The commands that make a learner's machine trust the workshop's CA (none without TLS).

    Two places need it. The engine checks the registry's certificate against `/etc/docker/certs.d/<registry>/`
    (never on loopback, where Docker does not verify a registry). On the containerd image store it checks the
    token server's certificate against the system's store instead, read once when the engine starts, so that
    store needs the CA too, then a restart of Docker; labsupport's own checks use the system's store as well.
    """
    if not settings.tls:
        return []
    steps = [
        f"curl -fsS --insecure -o ca.crt {settings.dashboard_url}/ca.crt",
        f"openssl x509 -in ca.crt -noout -fingerprint -sha256   # must print {ca_fingerprint}",
    ]
    if settings.public:
        folder = f"/etc/docker/certs.d/{settings.registry}"
        steps.append(f"sudo mkdir -p {folder} && sudo cp ca.crt {folder}/ca.crt")
    steps += [
        f"sudo cp ca.crt /usr/local/share/ca-certificates/{settings.name}-ca.crt && sudo update-ca-certificates",
        ("then restart Docker (Docker Desktop: add ca.crt to the system keychain or certificate store, "
         "then restart Docker Desktop)"),
    ]
    return steps


_STYLE = """
body { font-family: sans-serif; margin: 1cm; }
.card { border: 1px dashed #888; padding: 0.6cm; margin-bottom: 0.6cm; page-break-inside: avoid; }
.card h2 { margin: 0 0 0.3cm 0; font-size: 1.2em; }
code, .secret { font-family: monospace; font-size: 1.05em; }
.secret { font-size: 1.3em; letter-spacing: 0.05em; }
td { padding: 2px 12px 2px 0; vertical-align: top; }
"""


def sheet_html(settings: WorkshopSettings, rows: Sequence[tuple[str, str]], ca_fingerprint: str) -> str:
    """A printable page of one card a learner (cut along the dashed lines)."""
    esc = html.escape
    trust = trust_steps(settings, ca_fingerprint)
    trust_html = ("<tr><td>trust the CA</td><td>" + "<br>".join(f"<code>{esc(s)}</code>" for s in trust)
                  + "</td></tr>") if trust else ""
    cards = []
    for learner, password in rows:
        cards.append(
            f'<div class="card" data-learner="{esc(learner)}"><h2>{esc(settings.name)}: {esc(learner)}</h2>'
            "<table>"
            f"<tr><td>registry</td><td><code>{esc(settings.registry)}</code></td></tr>"
            f"<tr><td>learner</td><td><code>{esc(learner)}</code></td></tr>"
            f'<tr><td>password</td><td class="secret">{esc(password)}</td></tr>'
            f"{trust_html}"
            f"<tr><td>join</td><td><code>{esc(join_command(settings, learner))}</code> "
            "(it asks for the password)</td></tr>"
            f"<tr><td>your images</td><td><code>{esc(settings.registry)}/{esc(learner)}/hello-lab:1.0</code>"
            "</td></tr></table></div>")
    return ("<!doctype html><html><head><meta charset='utf-8'>"
            f"<title>{esc(settings.name)}: learner credentials</title><style>{_STYLE}</style></head><body>"
            + "".join(cards) + "</body></html>\n")

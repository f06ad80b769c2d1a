"""`labsupport workshop init`: accounts, certificates, the registry's token-auth config and the handout.

Also `configure`, which `up` calls when the instructor picks other ports or a public host: it rewrites the
registry's config, re-issues the TLS certificate when it does not name the host, and refreshes the sheet.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..errors import LabError
from . import pki
from .accounts import (
    INSTRUCTOR,
    LEARNER,
    SHARED_NAMESPACE,
    Account,
    Accounts,
    check_name,
    hash_password,
    new_password,
    write_private,
)
from .handout import credentials_csv, read_credentials, sheet_html
from .settings import LOOPBACK, Layout, WorkshopSettings, save_settings

#: Where the registry container finds its files (copied in, never mounted from the host).
CONTAINER_DIR = "/etc/workshop"


@dataclass(frozen=True)
class InitReport:
    """What init made: the folder, the learner names and the files worth naming to the instructor."""

    layout: Layout
    learners: list[str]
    instructor: str
    settings: WorkshopSettings


def _quote(value: str) -> str:
    """A YAML scalar: a JSON string is a valid double-quoted YAML string."""
    return json.dumps(value)


def registry_config(settings: WorkshopSettings, http_secret: str) -> str:
    """The distribution registry's config.yml: token auth, notifications to the dashboard, deletion on."""
    tls = (f"  tls:\n    certificate: {CONTAINER_DIR}/server.crt\n    key: {CONTAINER_DIR}/server.key\n"
           if settings.tls else "")
    listen = f"{settings.bind}:{settings.registry_port}"
    return (
        "# Written by labsupport workshop; `labsupport workshop up` rewrites it.\n"
        "version: 0.1\n"
        "log:\n  level: info\n  fields:\n    service: registry\n"
        "storage:\n  filesystem:\n    rootdirectory: /var/lib/registry\n  delete:\n    enabled: true\n"
        "  cache:\n    blobdescriptor: inmemory\n"
        f"http:\n  addr: {_quote(listen)}\n  secret: {_quote(http_secret)}\n"
        "  headers:\n    X-Content-Type-Options: [nosniff]\n" + tls +
        "auth:\n  token:\n"
        f"    realm: {_quote(settings.realm)}\n"
        f"    service: {_quote(settings.service)}\n"
        f"    issuer: {_quote(settings.issuer)}\n"
        f"    rootcertbundle: {CONTAINER_DIR}/ca.crt\n"
        "notifications:\n  events:\n    includereferences: true\n  endpoints:\n"
        f"    - name: dashboard\n      url: {_quote(settings.events_url)}\n"
        "      timeout: 3s\n      threshold: 10\n      backoff: 1s\n"
        "health:\n  storagedriver:\n    enabled: true\n    interval: 10s\n    threshold: 3\n"
    )


def init_workshop(out: Path | str, learners: Sequence[str], *, settings: WorkshopSettings | None = None,
                  ) -> InitReport:
    """Make a new workshop folder; refuses a folder that already holds one (it would replace every password)."""
    layout = Layout(Path(out))
    settings = (settings or WorkshopSettings()).validated()
    if layout.settings.exists() or layout.accounts.exists():
        raise LabError(f"{layout.root} already holds a workshop; init would replace every password in it",
                       fix="choose a new --out folder, or keep using this one: labsupport workshop up "
                           f"{layout.root}")
    names = [check_name(n) for n in learners]
    instructor = check_name(settings.instructor, "instructor name")
    taken = {instructor, SHARED_NAMESPACE}
    clash = sorted(taken & set(names))
    if clash:
        raise LabError(f"{', '.join(clash)} cannot be a learner's name: it is the instructor's or the shared "
                       "namespace", fix="rename that learner in the roster")
    if len(set(names)) != len(names):
        raise LabError("two learners have the same name", fix="give every learner a distinct name")
    layout.root.mkdir(parents=True, exist_ok=True)

    everyone = [(instructor, INSTRUCTOR)] + [(name, LEARNER) for name in names]
    passwords = {name: new_password() for name, _ in everyone}
    with ThreadPoolExecutor(max_workers=4) as pool:           # bcrypt releases the GIL: hash in parallel
        hashes = dict(zip(passwords, pool.map(hash_password, passwords.values())))
    Accounts(Account(name, role, hashes[name]) for name, role in everyone).save(layout.accounts)

    ca = pki.make_ca(settings.name)
    ca.save(layout.ca_cert, layout.ca_key)
    pki.make_token_signer(ca, settings.name).save(layout.token_cert, layout.token_key)
    save_settings(layout, settings)
    write_private(layout.credentials, credentials_csv([(name, passwords[name]) for name in names]))
    write_private(layout.root / "handout" / "instructor.txt",
                  f"instructor: {instructor}\npassword: {passwords[instructor]}\n")
    configure(layout, settings)
    return InitReport(layout, names, instructor, settings)


def configure(layout: Layout, settings: WorkshopSettings) -> WorkshopSettings:
    """Bring the folder's registry config, TLS certificate and sheet in line with `settings`; save them."""
    ca = pki.KeyPair.load(layout.ca_cert, layout.ca_key)
    hosts = [settings.host, LOOPBACK, "localhost"]
    if not layout.server_cert.exists() or not set(hosts) <= pki.cert_hosts(
            pki.KeyPair.load(layout.server_cert, layout.server_key).cert):
        pki.make_server_cert(ca, hosts).save(layout.server_cert, layout.server_key)
    old_secret = _http_secret(layout.registry_config)
    write_private(layout.registry_config, registry_config(settings, old_secret or secrets.token_urlsafe(24)))
    layout.handout_ca.parent.mkdir(parents=True, exist_ok=True)
    layout.handout_ca.write_bytes(ca.cert_pem)
    if layout.credentials.exists():
        rows = read_credentials(layout.credentials.read_text(encoding="utf-8"))
        write_private(layout.sheet, sheet_html(settings, rows, pki.fingerprint(ca.cert)))
    save_settings(layout, settings)
    return settings


def _http_secret(config: Path) -> str | None:
    """The registry's http.secret from an existing config, so rewriting it keeps uploads in flight valid."""
    try:
        for line in config.read_text(encoding="utf-8").splitlines():
            if line.strip().startswith("secret:"):
                return json.loads(line.split(":", 1)[1].strip())
    except (OSError, ValueError):
        return None
    return None

"""`labsupport workshop init, up, down, status, grades` (the instructor's), `labsupport join` (the learner's).

Nothing here prints a password or token: init names the files that hold them, join reads the password from
a prompt or stdin.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import LabError
from ..workshop.accounts import numbered_learners, roster_learners
from ..workshop.control import Workshop
from ..workshop.create import init_workshop
from ..workshop.grades import grades_csv, grades_table
from ..workshop.handout import trust_steps
from ..workshop.join import join, leave
from ..workshop.pki import KeyPair, fingerprint
from ..workshop.settings import (
    DEFAULT_DASHBOARD_PORT,
    DEFAULT_REGISTRY_PORT,
    DEFAULT_TOKEN_PORT,
    WorkshopSettings,
)
from .command import Arg, arg, command, one_of

_DIR = arg("dir", metavar="DIR")


def _ports(*, defaults: bool) -> list[Arg]:
    """Where the workshop listens: its public host (which turns TLS on) and its three ports."""
    return [
        arg("--public-host", metavar="HOST", help="a name or address learners reach this machine by: "
            "turns on TLS from the workshop's CA (default: loopback only, plain HTTP)"),
        arg("--tls", action="store_true", help="HTTPS on loopback too (to rehearse a TLS class)"),
        *(arg(f"--{name}-port", type=int, metavar="PORT",
              help=f"the {name}'s port" + (f" (default {default})" if defaults else ""))
          for name, default in (("registry", DEFAULT_REGISTRY_PORT), ("token", DEFAULT_TOKEN_PORT),
                                ("dashboard", DEFAULT_DASHBOARD_PORT)))]


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the command line changes (None: keep the workshop's own)."""
    return {"public_host": args.public_host, "registry_port": args.registry_port,
            "token_port": args.token_port, "dashboard_port": args.dashboard_port,
            "registry_image": getattr(args, "registry_image", None),
            "tls_on_loopback": True if args.tls else None}


def _say(text: str) -> None:
    """A progress line of `workshop up`, shown at once."""
    print(text, flush=True)


@command("workshop", "init", help="make accounts, passwords, certificates and the registry's config", args=[
    one_of(arg("--learners", type=int, metavar="N", help="learner-01 … learner-N"),
           arg("--roster", metavar="FILE.csv", help="one learner a line, or a `learner`/`name` column"),
           required=True),
    arg("--out", required=True, metavar="DIR", help="a new folder for the workshop"),
    arg("--name", default="workshop", help="the workshop's name (default: workshop)"),
    arg("--instructor", default="instructor", help="the instructor's user name"),
    arg("--container", help="the registry container's name (default: NAME-registry)"),
    arg("--registry-image", help="the registry image (default: LAB_REGISTRY_IMAGE, else "
        "labsupport/registry:2.8 when present, else registry:2)"),
    *_ports(defaults=True)])
def _init(args: argparse.Namespace) -> int:
    """Make a workshop folder for numbered learners or a roster; name the files that hold the passwords."""
    if args.roster:
        path = Path(args.roster)
        try:
            learners = roster_learners(path.read_text(encoding="utf-8-sig"), str(path))
        except OSError as exc:
            raise LabError(f"cannot read the roster {path}: {exc.strerror}", fix="check the path") from exc
    else:
        learners = numbered_learners(args.learners)
    settings = WorkshopSettings(name=args.name, instructor=args.instructor,
                                container=args.container or f"{args.name}-registry")
    settings = settings.replace(**_overrides(args))
    report = init_workshop(args.out, learners, settings=settings)
    layout = report.layout
    print(f"made workshop {settings.name!r} in {layout.root} for {len(report.learners)} learners")
    print(f"  learners' passwords: {layout.credentials} and the printable {layout.sheet}")
    print(f"  instructor ({report.instructor}): {layout.root / 'handout' / 'instructor.txt'}")
    print(f"  the server keeps bcrypt hashes only: {layout.accounts}")
    print(f"next: labsupport workshop up {layout.root}")
    return 0


@command("workshop", "up", help="start the registry, token server and dashboard", args=[
    _DIR, arg("--registry-image", help="another registry image for this and later runs"),
    arg("--quiet", action="store_true"), *_ports(defaults=False)])
def _up(args: argparse.Namespace) -> int:
    """Start the workshop; what learners run, and how their machines trust the CA when it uses TLS."""
    workshop = Workshop(args.dir)
    settings = workshop.up(progress=None if args.quiet else _say, **_overrides(args))
    print(f"the workshop is up: registry {settings.registry}, dashboard {settings.dashboard_url} "
          f"(log in as {settings.instructor})")
    print(f"learners run: labsupport join {settings.dashboard_url} --learner NAME")
    if settings.tls:
        ca = KeyPair.load(workshop.layout.ca_cert, workshop.layout.ca_key).cert
        print("learners' machines must trust the workshop CA first:")
        for step in trust_steps(settings, fingerprint(ca)):
            print(f"  {step}")
    return 0


@command("workshop", "down", help="stop them (the pushed images are kept)", args=[
    _DIR, arg("--purge", action="store_true", help="also delete every pushed image")])
def _down(args: argparse.Namespace) -> int:
    """Stop the workshop; --purge deletes every pushed image too."""
    print(Workshop(args.dir).down(purge=args.purge))
    return 0


@command("workshop", "status", help="is every part up and answering?", args=[
    _DIR, arg("--json", action="store_true")])
def _status(args: argparse.Namespace) -> int:
    """Whether the registry, token server and dashboard answer (or JSON); exit 1 unless all do."""
    status = Workshop(args.dir).status()
    if args.json:
        print(json.dumps({"container": status.container, "registry": status.registry,
                          "token_server": status.token_server, "dashboard": status.dashboard,
                          "ready": status.ready, "registry_address": status.settings.registry,
                          "dashboard_url": status.settings.dashboard_url}))
    else:
        s = status.settings
        yes = {True: "answers", False: "no answer"}
        print(f"registry     {s.registry} ({s.container}: {status.container}): {yes[status.registry]}")
        print(f"token server {s.realm}: {yes[status.token_server]}")
        print(f"dashboard    {s.dashboard_url}: {yes[status.dashboard]}")
        if not status.ready:
            print(f"fix: labsupport workshop up {args.dir}")
    return 0 if status.ready else 1


@command("workshop", "grades", help="one row a learner: exercises passed, pushes", args=[
    _DIR, arg("--csv", action="store_true", help="CSV (default: a table)"),
    arg("--out", metavar="FILE", help="write to FILE instead of stdout")])
def _grades(args: argparse.Namespace) -> int:
    """One row a learner (a table, or CSV), on stdout or into --out."""
    text = grades_csv(args.dir) if args.csv else grades_table(args.dir)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        print(text, end="" if text.endswith("\n") else "\n")
    return 0


@command("join", args=[
    arg("url", nargs="?", metavar="URL", help="the workshop's address (its dashboard URL)"),
    arg("--learner", metavar="NAME", help="your learner name, from your sheet"),
    arg("--password-stdin", action="store_true", help="read the password from stdin"),
    arg("--ca-file", metavar="FILE", help="the workshop's CA certificate (TLS workshops)"),
    arg("--no-docker-login", action="store_true", help="do not run docker login"),
    arg("--leave", action="store_true", help="leave the workshop; use the lab's own registry")])
def _join(args: argparse.Namespace) -> int:
    """Join a workshop with the password from a prompt or stdin (or --leave it); never echoes it."""
    if args.leave:
        print(leave())
        return 0
    if not args.url or not args.learner:
        raise LabError("join needs the workshop's URL and your learner name",
                       fix="labsupport join http://HOST:5502 --learner NAME")
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"workshop password for {args.learner}: ")
    if not password:
        raise LabError("no password given",
                       fix="type the password from your sheet, or pipe it to --password-stdin")
    joined = join(args.url, args.learner, password, docker_login=not args.no_docker_login,
                  ca_file=args.ca_file)
    print(joined)
    overridden = [v for v in ("LAB_REGISTRY", "LAB_LEARNER") if os.environ.get(v)]
    if overridden:
        print(f"note: {' and '.join(overridden)} set in the environment win over the workshop's settings; "
              f"unset {' '.join(overridden)} to use the workshop")
    return 0

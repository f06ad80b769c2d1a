"""`labsupport workshop …` (the instructor's) and `labsupport join` (the learner's): parsing and printing only.

Nothing here prints a password or token: init names the files that hold them, join reads the password from
a prompt or stdin. Heavy modules are imported only when their command runs.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from ..errors import LabError
from .settings import DEFAULT_DASHBOARD_PORT, DEFAULT_REGISTRY_PORT, DEFAULT_TOKEN_PORT


def _say(text: str) -> None:
    print(text, flush=True)


def _overrides(args: argparse.Namespace) -> dict[str, object]:
    return {"public_host": args.public_host, "registry_port": args.registry_port, "token_port": args.token_port,
            "dashboard_port": args.dashboard_port, "registry_image": getattr(args, "registry_image", None),
            "tls_on_loopback": True if args.tls else None}


def _init(args: argparse.Namespace) -> int:
    from .accounts import numbered_learners, roster_learners
    from .create import init_workshop
    from .settings import WorkshopSettings

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


def _up(args: argparse.Namespace) -> int:
    from .control import Workshop
    from .handout import trust_steps
    from .pki import KeyPair, fingerprint

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


def _down(args: argparse.Namespace) -> int:
    from .control import Workshop

    print(Workshop(args.dir).down(purge=args.purge))
    return 0


def _status(args: argparse.Namespace) -> int:
    from .control import Workshop

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


def _grades(args: argparse.Namespace) -> int:
    from .grades import grades_csv, grades_table

    text = grades_csv(args.dir) if args.csv else grades_table(args.dir)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        print(text, end="" if text.endswith("\n") else "\n")
    return 0


def _workshop(args: argparse.Namespace) -> int:
    actions: dict[str, Callable[[argparse.Namespace], int]] = {
        "init": _init, "up": _up, "down": _down, "status": _status, "grades": _grades}
    if not args.action:
        args.workshop_parser.print_help()
        return 2
    return actions[args.action](args)


def _join(args: argparse.Namespace) -> int:
    from .join import join, leave

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
    joined = join(args.url, args.learner, password, docker_login=not args.no_docker_login, ca_file=args.ca_file)
    print(joined)
    overridden = [v for v in ("LAB_REGISTRY", "LAB_LEARNER") if os.environ.get(v)]
    if overridden:
        print(f"note: {' and '.join(overridden)} set in the environment win over the workshop's settings; "
              f"unset {' '.join(overridden)} to use the workshop")
    return 0


def _ports(parser: argparse.ArgumentParser, defaults: bool) -> None:
    parser.add_argument("--public-host", metavar="HOST", help="a name or address learners reach this machine by: "
                        "turns on TLS from the workshop's CA (default: loopback only, plain HTTP)")
    parser.add_argument("--tls", action="store_true", help="HTTPS on loopback too (to rehearse a TLS class)")
    for name, default in (("registry", DEFAULT_REGISTRY_PORT), ("token", DEFAULT_TOKEN_PORT),
                          ("dashboard", DEFAULT_DASHBOARD_PORT)):
        parser.add_argument(f"--{name}-port", type=int, metavar="PORT",
                            help=f"the {name}'s port" + (f" (default {default})" if defaults else ""))


def workshop_parsers(sub: argparse._SubParsersAction) -> dict[str, Callable[[argparse.Namespace], int]]:
    """Add `workshop` and `join` to labsupport's parser; the name → function table for cli.main."""
    workshop = sub.add_parser("workshop", help="run a class: one registry, per-learner namespaces, a dashboard")
    actions = workshop.add_subparsers(dest="action", metavar="ACTION")
    workshop.set_defaults(workshop_parser=workshop)
    init = actions.add_parser("init", help="make accounts, passwords, certificates and the registry's config")
    who = init.add_mutually_exclusive_group(required=True)
    who.add_argument("--learners", type=int, metavar="N", help="learner-01 … learner-N")
    who.add_argument("--roster", metavar="FILE.csv", help="one learner a line, or a `learner`/`name` column")
    init.add_argument("--out", required=True, metavar="DIR", help="a new folder for the workshop")
    init.add_argument("--name", default="workshop", help="the workshop's name (default: workshop)")
    init.add_argument("--instructor", default="instructor", help="the instructor's user name")
    init.add_argument("--container", help="the registry container's name (default: NAME-registry)")
    init.add_argument("--registry-image", help="the registry image (default: LAB_REGISTRY_IMAGE, else "
                      "labsupport/registry:2.8 when present, else registry:2)")
    _ports(init, defaults=True)
    up = actions.add_parser("up", help="start the registry, token server and dashboard")
    up.add_argument("dir", metavar="DIR")
    up.add_argument("--registry-image", help="another registry image for this and later runs")
    up.add_argument("--quiet", action="store_true")
    _ports(up, defaults=False)
    down = actions.add_parser("down", help="stop them (the pushed images are kept)")
    down.add_argument("dir", metavar="DIR")
    down.add_argument("--purge", action="store_true", help="also delete every pushed image")
    status = actions.add_parser("status", help="is every part up and answering?")
    status.add_argument("dir", metavar="DIR")
    status.add_argument("--json", action="store_true")
    grades = actions.add_parser("grades", help="one row a learner: exercises passed, pushes")
    grades.add_argument("dir", metavar="DIR")
    grades.add_argument("--csv", action="store_true", help="CSV (default: a table)")
    grades.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout")
    join = sub.add_parser("join", help="join a workshop: its registry becomes this lab's")
    join.add_argument("url", nargs="?", metavar="URL", help="the workshop's address (its dashboard URL)")
    join.add_argument("--learner", metavar="NAME", help="your learner name, from your sheet")
    join.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    join.add_argument("--ca-file", metavar="FILE", help="the workshop's CA certificate (TLS workshops)")
    join.add_argument("--no-docker-login", action="store_true", help="do not run docker login")
    join.add_argument("--leave", action="store_true", help="leave the workshop; use the lab's own registry")
    return {"workshop": _workshop, "join": _join}

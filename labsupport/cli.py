"""`labsupport …`: the lab's commands for a terminal. Parsing and printing only; the work is done elsewhere.

Every LabError ends as two lines on stderr (what is wrong, and the fix) and exit code 1, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from .cli_course import add_parsers
from .config import LabConfig
from .errors import LabError
from .workshop.cli import workshop_parsers

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str):
    """Register the function that runs one subcommand."""
    def register(func: Callable[[argparse.Namespace], int]):
        COMMANDS[name] = func
        return func
    return register


def _progress(text: str) -> None:
    """Progress lines of `up`: dots stay on one line, everything else gets its own."""
    if text == ".":
        print(".", end="", flush=True)
    elif text == "ready":
        print(" ready", flush=True)
    else:
        print(text, end="" if text.endswith(" ") else "\n", flush=True)


@command("up")
def _up(args: argparse.Namespace) -> int:
    from .lab import Lab

    lab = Lab(LabConfig.from_env())
    notes = lab.up(progress=None if args.quiet else _progress)
    for note in notes:
        print(f"note: {note}")
    config = lab.config
    print(f"The lab registry is up at {config.registry} (user {config.learner}).")
    print(f"Next: docker login {config.registry} -u {config.learner}   "
          "(the password: labsupport credentials), or open notebooks/00-setup.ipynb")
    return 0


@command("down")
def _down(args: argparse.Namespace) -> int:
    from .lab import Lab

    print(Lab(LabConfig.from_env()).down(purge=args.purge))
    return 0


@command("status")
def _status(args: argparse.Namespace) -> int:
    from .lab import Lab

    status = Lab(LabConfig.from_env()).status()
    if args.json:
        print(json.dumps({**status.__dict__, "ready": status.ready}))
    else:
        health = f" ({status.health})" if status.health else ""
        print(f"container: {status.container}{health}")
        print(f"registry:  {status.registry} via {status.url}: "
              f"{'answers' if status.answers else 'no answer'}, "
              f"lab credential {'accepted' if status.auth_ok else 'not accepted'}")
        if not status.ready:
            print("fix: labsupport up")
    return 0 if status.ready else 1


@command("doctor")
def _doctor(args: argparse.Namespace) -> int:
    from .doctor import as_json, blocking, diagnose, report

    findings = diagnose(LabConfig.from_env())
    if args.json:
        print(json.dumps({"ok": not blocking(findings), "checks": as_json(findings)}, indent=2))
    else:
        print(report(findings))
    return 1 if blocking(findings) else 0


@command("credentials")
def _credentials(args: argparse.Namespace) -> int:
    from .lab import Credentials

    config = LabConfig.from_env()
    creds = Credentials(config)
    if args.json:
        print(json.dumps({"registry": config.registry, "username": creds.username, "password": creds.password()}))
    elif args.password:
        print(creds.password())
    else:
        print(f"registry: {config.registry}\nusername: {creds.username}\npassword: {creds.password()}")
        print(f"log in:   labsupport credentials --password | docker login {config.registry} "
              f"-u {creds.username} --password-stdin")
    return 0


@command("auth")
def _auth(args: argparse.Namespace) -> int:
    from .lab import Credentials

    made = Credentials(LabConfig.from_env()).ensure()
    print({"new": "made the lab password and htpasswd file", "repaired": "repaired the lab password files",
           None: "the lab password and htpasswd file are in place"}[made])
    return 0


@command("lab")
def _lab(args: argparse.Namespace) -> int:
    from .jupyter import run_jupyterlab
    from .lab import Lab

    config = LabConfig.from_env()
    if not args.skip_up:
        Lab(config).up(progress=_progress)
    return run_jupyterlab(port=args.port, open_browser=not args.no_browser, ip=args.ip)


@command("bundle")
def _bundle(args: argparse.Namespace) -> int:
    from .bundle import load_bundle, save_bundle

    config = LabConfig.from_env()
    if args.action == "save":
        images = save_bundle(config, args.file)
        print(f"saved {', '.join(images)} to {args.file}")
    else:
        print(load_bundle(args.file))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="labsupport", description="The registry-push course's lab.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    up = sub.add_parser("up", help="start the lab registry (idempotent)")
    up.add_argument("--quiet", action="store_true", help="print only the result")
    down = sub.add_parser("down", help="stop the lab registry (data is kept)")
    down.add_argument("--purge", action="store_true", help="also remove the registry's data")
    status = sub.add_parser("status", help="is the lab registry running and answering?")
    status.add_argument("--json", action="store_true")
    doctor = sub.add_parser("doctor", help="check everything the course needs, with fixes")
    doctor.add_argument("--json", action="store_true")
    creds = sub.add_parser("credentials", help="show the lab registry's username and password")
    creds.add_argument("--json", action="store_true", help='{"registry", "username", "password"} for scripts')
    creds.add_argument("--password", action="store_true", help="only the password, for docker login --password-stdin")
    sub.add_parser("auth", help="make the lab password and htpasswd file if missing (docker compose route)")
    lab = sub.add_parser("lab", help="start the registry, then JupyterLab on the notebooks")
    lab.add_argument("--no-browser", action="store_true", help="do not open a browser")
    lab.add_argument("--port", type=int, default=8888, help="JupyterLab's port (default 8888)")
    lab.add_argument("--ip", default="127.0.0.1", help=argparse.SUPPRESS)
    lab.add_argument("--skip-up", action="store_true", help=argparse.SUPPRESS)
    bundle = sub.add_parser("bundle", help="carry the lab's images to a machine without internet")
    bundle.add_argument("action", choices=["save", "load"])
    bundle.add_argument("file", help="the .tar file to write or read")
    COMMANDS.update(add_parsers(sub))
    COMMANDS.update(workshop_parsers(sub))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    try:
        return COMMANDS[args.command](args)
    except LabError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.fix:
            print(f"  fix: {exc.fix}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

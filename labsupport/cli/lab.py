"""`labsupport up, down, status, doctor, credentials, auth, bundle`: the local lab's own commands."""

from __future__ import annotations

import argparse
import json

from ..bundle import load_bundle, save_bundle
from ..config import LabConfig
from ..doctor import as_json, blocking, diagnose, report
from ..lab import Credentials, Lab
from .command import arg, command

_JSON = arg("--json", action="store_true")


def _progress(text: str) -> None:
    """Progress lines of `up`: dots stay on one line, everything else gets its own."""
    if text == ".":
        print(".", end="", flush=True)
    elif text == "ready":
        print(" ready", flush=True)
    else:
        print(text, end="" if text.endswith(" ") else "\n", flush=True)


@command("up", args=[arg("--quiet", action="store_true", help="print only the result")])
def _up(args: argparse.Namespace) -> int:
    """Start the lab registry (progress lines unless --quiet), then say how to log in."""
    lab = Lab(LabConfig.from_env())
    notes = lab.up(progress=None if args.quiet else _progress)
    for note in notes:
        print(f"note: {note}")
    config = lab.config
    print(f"The lab registry is up at {config.registry} (user {config.learner}).")
    print(f"Next: docker login {config.registry} -u {config.learner}   "
          "(the password: labsupport credentials), or labsupport lab (your copies of the lessons)")
    return 0


@command("down", args=[arg("--purge", action="store_true", help="also remove the registry's data")])
def _down(args: argparse.Namespace) -> int:
    """Stop the lab registry; --purge removes its data too."""
    print(Lab(LabConfig.from_env()).down(purge=args.purge))
    return 0


@command("status", args=[_JSON])
def _status(args: argparse.Namespace) -> int:
    """The lab container and registry in two lines (or JSON); exit 1 when the lab is not ready."""
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


@command("doctor", args=[_JSON])
def _doctor(args: argparse.Namespace) -> int:
    """Every finding with its fix (or JSON); exit 1 when one of them blocks the course."""
    findings = diagnose(LabConfig.from_env())
    if args.json:
        print(json.dumps({"ok": not blocking(findings), "checks": as_json(findings)}, indent=2))
    else:
        print(report(findings))
    return 1 if blocking(findings) else 0


@command("credentials", args=[
    arg("--json", action="store_true", help='{"registry", "username", "password"} for scripts'),
    arg("--password", action="store_true", help="only the password, for docker login --password-stdin")])
def _credentials(args: argparse.Namespace) -> int:
    """The lab login: all three lines, JSON for scripts, or the bare password for --password-stdin."""
    config = LabConfig.from_env()
    creds = Credentials(config)
    if args.json:
        print(json.dumps({"registry": config.registry, "username": creds.username,
                          "password": creds.password()}))
    elif args.password:
        print(creds.password())
    else:
        print(f"registry: {config.registry}\nusername: {creds.username}\npassword: {creds.password()}")
        print(f"log in:   labsupport credentials --password | docker login {config.registry} "
              f"-u {creds.username} --password-stdin")
    return 0


@command("auth")
def _auth(args: argparse.Namespace) -> int:
    """Make or repair the lab password and htpasswd file, for a lab started by docker compose."""
    made = Credentials(LabConfig.from_env()).ensure()
    print({"new": "made the lab password and htpasswd file", "repaired": "repaired the lab password files",
           None: "the lab password and htpasswd file are in place"}[made])
    return 0


@command("bundle", args=[arg("action", choices=["save", "load"]),
                         arg("file", help="the .tar file to write or read")])
def _bundle(args: argparse.Namespace) -> int:
    """Save the lab's images to a .tar file, or load them from one."""
    config = LabConfig.from_env()
    if args.action == "save":
        images = save_bundle(config, args.file)
        print(f"saved {', '.join(images)} to {args.file}")
    else:
        print(load_bundle(args.file))
    return 0

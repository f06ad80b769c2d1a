"""`labsupport …`: the lab's commands for a terminal. Parsing and printing only; the work is done below.

The parser is built from COMMANDS, a table of each command's module and help line; only the module of the
command being run is imported, so `labsupport --help` pays for neither the docker SDK nor ipywidgets.
Every LabError ends as two lines on stderr (what is wrong, and the fix) and exit code 1, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NamedTuple

from ..errors import LabError
from .command import declare


class Listed(NamedTuple):
    """A command in the table: the module of labsupport.cli that registers it; its line in the listing."""

    module: str
    help: str


#: Every command, in the order `labsupport --help` lists them.
COMMANDS: dict[str, Listed] = {
    "up": Listed("lab", "start the lab registry (idempotent)"),
    "down": Listed("lab", "stop the lab registry (data is kept)"),
    "status": Listed("lab", "is the lab registry running and answering?"),
    "doctor": Listed("lab", "check everything the course needs, with fixes"),
    "credentials": Listed("lab", "show the lab registry's username and password"),
    "auth": Listed("lab", "make the lab password and htpasswd file if missing (docker compose route)"),
    "lab": Listed("jupyterlab", "start the registry, then JupyterLab on your copies of the lessons"),
    "bundle": Listed("lab", "carry the lab's images to a machine without internet"),
    "layers": Listed("images", "an image's layers against the lab registry"),
    "push": Listed("images", "push with per-layer progress and a byte report"),
    "registry": Listed("images", "what the lab registry holds"),
    "check": Listed("course", "check an exercise (exit 0 when passed)"),
    "progress": Listed("course", "which exercises are done"),
    "reset": Listed("course", "undo what an exercise made so it can be done again"),
    "release": Listed("release", "write the learner notebooks (solutions replaced by stubs)"),
    "workshop": Listed("workshop", "run a class: one registry, per-learner namespaces, a dashboard"),
    "join": Listed("workshop", "join a workshop: its registry becomes this lab's"),
}


def chosen_command(argv: Sequence[str]) -> str | None:
    """The command a command line names: its first word that is not an option (the top level has only -h).

    When argparse reads another word as the command, that word starts with "-", names no command, and parsing
    ends in argparse's usage error whatever was imported.
    """
    return next((word for word in argv if not word.startswith("-")), None)


def build_parser(command: str | None) -> argparse.ArgumentParser:
    """The `labsupport` parser: every command listed, the arguments of only `command` (whose module loads)."""
    parser = argparse.ArgumentParser(prog="labsupport", description="The registry-push course's lab.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, listed in COMMANDS.items():
        command_parser = sub.add_parser(name, help=listed.help)
        if name == command:
            importlib.import_module(f".{listed.module}", __name__)
            declare(command_parser, (name,))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `labsupport` command line; its exit code (argparse's usage errors exit 2 itself)."""
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(chosen_command(words))
    args = parser.parse_args(words)
    if not args.command:
        parser.print_help()
        return 2
    try:
        return args.run(args)
    except LabError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.fix:
            print(f"  fix: {exc.fix}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130

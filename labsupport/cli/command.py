"""The one way a `labsupport` command is registered: `@command(*words, args=…)` on the function that runs it.

A top-level command's line in `labsupport --help` is in labsupport.cli's table, which lists every command
without importing it; a command's arguments, and its nested actions (`workshop init`, with their help line),
are registered here by its module when that module is imported.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

#: What runs a command: its parsed arguments in, its exit code out.
Run = Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class Arg:
    """One argument as `add_argument` takes it: its name or flags, then its keywords."""

    names: tuple[str, ...]
    options: dict[str, Any]


@dataclass(frozen=True)
class OneOf:
    """Flags of which at most one may be given (exactly one when required): a mutually exclusive group."""

    args: tuple[Arg, ...]
    required: bool = False


@dataclass(frozen=True)
class Command:
    """`labsupport WORDS…`: the function that runs it, its arguments, and its help line when it is nested."""

    words: tuple[str, ...]
    run: Run
    args: tuple[Arg | OneOf, ...]
    help: str | None = None


_REGISTERED: dict[tuple[str, ...], Command] = {}


def arg(*names: str, **options: Any) -> Arg:
    """An argument, spelled as for `add_argument`."""
    return Arg(names, options)


def one_of(*args: Arg, required: bool = False) -> OneOf:
    """Flags that exclude each other."""
    return OneOf(args, required)


def command(*words: str, args: Sequence[Arg | OneOf] = (), help: str | None = None) -> Callable[[Run], Run]:
    """Register the decorated function as what runs `labsupport WORDS…` (help: a nested action's line)."""
    def register(run: Run) -> Run:
        if words in _REGISTERED:
            raise RuntimeError(f"`labsupport {' '.join(words)}` is registered twice: by "
                               f"{_REGISTERED[words].run.__module__} and by {run.__module__}")
        _REGISTERED[words] = Command(words, run, tuple(args), help)
        return run
    return register


def registered() -> list[Command]:
    """Every command the modules imported so far registered, in the order they did."""
    return list(_REGISTERED.values())


def declare(parser: argparse.ArgumentParser, words: tuple[str, ...]) -> None:
    """Give the parser of `labsupport WORDS…` its arguments and the function it runs, or its nested actions.

    A command without a function of its own is a group of actions; named alone, it prints its help (exit 2).
    """
    found = _REGISTERED.get(words)
    actions = [item for item in _REGISTERED.values() if item.words[:-1] == words]
    if found is not None and actions:
        raise RuntimeError(f"`labsupport {' '.join(words)}` both runs a function and has actions")
    if found is not None:
        for item in found.args:
            _add(parser, item)
        parser.set_defaults(run=found.run)
    elif actions:
        sub = parser.add_subparsers(dest="action", metavar="ACTION")
        parser.set_defaults(run=partial(_print_help, parser))
        for action in actions:
            declare(sub.add_parser(action.words[-1], help=action.help), action.words)
    else:
        raise RuntimeError(f"`labsupport {' '.join(words)}` is in the table but no module registered it")


def _add(parser: argparse.ArgumentParser, item: Arg | OneOf) -> None:
    """Add one argument, or a group of flags that exclude each other, to a parser."""
    if isinstance(item, OneOf):
        group = parser.add_mutually_exclusive_group(required=item.required)
        for member in item.args:
            group.add_argument(*member.names, **member.options)
    else:
        parser.add_argument(*item.names, **item.options)


def _print_help(parser: argparse.ArgumentParser, _args: argparse.Namespace) -> int:
    """What a group of actions does when no action is named: show them (exit 2, as a usage error)."""
    parser.print_help()
    return 2

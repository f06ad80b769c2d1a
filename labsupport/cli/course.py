"""`labsupport check, progress, reset`: the exercises from a terminal (the same checks as the notebooks')."""

from __future__ import annotations

import argparse
import json

from ..attempts import attempt
from ..config import LabConfig
from ..course import EXERCISES
from ..errors import LabError
from ..lessons.reset import reset_all, reset_exercise
from ..progress import export_csv, summary
from .command import arg, command


@command("check", args=[arg("exercise", nargs="?"),
                        arg("--answer", help="the answer, as JSON, for answer exercises"),
                        arg("--all", action="store_true", help="a table of every exercise"),
                        arg("--json", action="store_true")])
def _check(args: argparse.Namespace) -> int:
    """One exercise's check (--answer for answer exercises), or the table of all; exit 1 unless passed."""
    if args.all:
        return _check_all(as_json=args.json)
    if not args.exercise:
        raise LabError("name an exercise, or --all", fix="labsupport check --all   (lists them)")
    answer = None
    if args.answer is not None:
        try:
            answer = json.loads(args.answer)
        except json.JSONDecodeError as exc:
            raise LabError(f"--answer is not JSON: {exc.msg}", fix="quote it: --answer '{\"…\": …}'") from exc
    result = attempt(args.exercise, answer)
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        print(str(result))
    return 0 if result.passed else 1


def _check_all(*, as_json: bool) -> int:
    """`check --all`: a row an exercise (answer exercises need the notebook); exit 0 when none is left."""
    rows = []
    for info in EXERCISES:
        if info.answer:
            rows.append((info.id, "answer", "needs your answer: check() in the notebook"))
            continue
        try:
            result = attempt(info.id)
            rows.append((info.id, "passed" if result.passed else "not yet", result.message))
        except LabError as exc:
            rows.append((info.id, "error", exc.message))
    if as_json:
        print(json.dumps([{"exercise": r[0], "status": r[1], "message": r[2]} for r in rows], indent=2))
    else:
        for exercise_id, status, message in rows:
            print(f"{exercise_id:<24} {status:<8} {message[:80]}")
    return 0 if all(r[1] in ("passed", "answer") for r in rows) else 1


@command("progress", args=[arg("--csv", action="store_true")])
def _progress(args: argparse.Namespace) -> int:
    """Which exercises are done and how often each was tried (or the record as CSV)."""
    config = LabConfig.from_env()
    if args.csv:
        print(export_csv(config=config), end="")
        return 0
    rows = summary(config=config)
    done = sum(1 for row in rows if row.passed)
    for row in rows:
        mark = "done" if row.passed else ("tried" if row.attempts else "    ")
        print(f"{mark:<5} {row.exercise:<24} attempts {row.attempts:<3} {row.last_code or ''}")
    print(f"{done} of {len(rows)} exercises done")
    return 0


@command("reset", args=[arg("exercise", nargs="?"), arg("--all", action="store_true")])
def _reset(args: argparse.Namespace) -> int:
    """Undo what an exercise (or every exercise) made, so it can be done again."""
    config = LabConfig.from_env()
    if args.all:
        print(reset_all(config))
    elif args.exercise:
        print(reset_exercise(args.exercise, config))
    else:
        raise LabError("name an exercise to reset, or --all", fix="labsupport reset push.pushed")
    return 0

"""Benchmark: how long each lesson takes a learner, from what the lesson holds.

Per lesson: the words of its markdown, its code cells, its checked exercises (distinct `check("<id>")` calls),
and an estimate = reading at 200 words a minute + 30 s per code cell (to read it and run it) + 3 min per
checked exercise (to work it out) + the cells' own run time. A lesson's "## Going further (optional)" part,
after its exercises, is counted apart (the "optional" column), not in its minutes. The run time comes from a JSON file of seconds per
notebook (`{"05-push": 41.0, ...}`, or the JSON line bench/bench_notebooks.py prints last, whose
"notebooks" object names them `05-push.ipynb`) given with --run-times; without it the run time counts as 0, and the output says so.
Usage: .venv/bin/python bench/bench_lesson_time.py [--run-times FILE] [--notebooks DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

READING_WORDS_PER_MINUTE = 200
SECONDS_PER_CODE_CELL = 30
SECONDS_PER_EXERCISE = 3 * 60
CHECK_CALL = re.compile(r"""\bcheck\(\s*["']([\w.-]+)["']""")


OPTIONAL_PART = "## Going further"


def split_optional(cells: list[dict]) -> tuple[list[dict], list[dict]]:
    """The lesson's cells before its optional part, and those of the optional part (empty if it has none)."""
    for index, cell in enumerate(cells):
        if cell["cell_type"] == "markdown" and "".join(cell["source"]).startswith(OPTIONAL_PART):
            return cells[:index], cells[index:]
    return cells, []


def minutes_of(cells: list[dict], run_seconds: float) -> dict[str, float]:
    words = sum(len("".join(cell["source"]).split()) for cell in cells if cell["cell_type"] == "markdown")
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    exercises = {found for cell in code for found in CHECK_CALL.findall("".join(cell["source"]))}
    seconds = (words / READING_WORDS_PER_MINUTE * 60 + len(code) * SECONDS_PER_CODE_CELL
               + len(exercises) * SECONDS_PER_EXERCISE + run_seconds)
    return {"words": words, "code_cells": len(code), "exercises": len(exercises), "run_s": run_seconds,
            "minutes": seconds / 60}


def lesson_figures(notebook: Path, run_seconds: float) -> dict[str, float]:
    """The main part's figures (the whole run time is counted there), plus the optional part's minutes."""
    main, optional = split_optional(json.loads(notebook.read_text(encoding="utf-8"))["cells"])
    figures = minutes_of(main, run_seconds)
    figures["optional"] = minutes_of(optional, 0.0)["minutes"] if optional else 0.0
    return figures


def rounded(minutes: float) -> int:
    """To the nearest 5 minutes, never below 5."""
    return max(5, int(5 * round(minutes / 5)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-times", type=Path, help="JSON file: seconds each notebook's cells take to run")
    parser.add_argument("--notebooks", type=Path, default=Path(__file__).resolve().parents[1] / "notebooks")
    args = parser.parse_args()
    run_times: dict[str, float] = {}
    if args.run_times:
        try:
            data = json.loads(args.run_times.read_text(encoding="utf-8"))
            data = data.get("notebooks", data)
            run_times = {str(name).removesuffix(".ipynb"): float(seconds) for name, seconds in data.items()}
        except (OSError, ValueError, AttributeError) as error:
            print(f"--run-times {args.run_times}: needs a JSON object of seconds per notebook ({error})",
                  file=sys.stderr)
            return 2
    notebooks = sorted(args.notebooks.glob("[0-9][0-9]-*.ipynb"))
    if not notebooks:
        print(f"--notebooks {args.notebooks}: holds no lesson notebook (NN-name.ipynb)", file=sys.stderr)
        return 2
    print(f"{'lesson':<22}{'words':>7}{'code':>6}{'ex.':>5}{'run s':>7}{'minutes':>9}{'rounded':>9}{'optional':>10}")
    total = 0.0
    for notebook in notebooks:
        figures = lesson_figures(notebook, run_times.get(notebook.stem, 0.0))
        total += figures["minutes"]
        print(f"{notebook.stem:<22}{figures['words']:>7.0f}{figures['code_cells']:>6.0f}{figures['exercises']:>5.0f}"
              f"{figures['run_s']:>7.0f}{figures['minutes']:>9.1f}{rounded(figures['minutes']):>9}"
              + (f"{rounded(figures['optional']):>10}" if figures["optional"] else ""))
    print(f"{'course':<22}{'':>25}{total:>9.1f}{rounded(total):>9}")
    if not args.run_times:
        print("note: no --run-times given, so the cells' run time counts as 0 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`labsupport workshop grades`: the board replayed from the stored events and results, as CSV or a table.

It reads DIR/state/*.jsonl directly, so grades come out the same whether or not the services still run. A mark
is 1 only when the learner's own check passed; a push the registry saw without a passing check is 0.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from .accounts import Accounts
from .board import Board
from .dashboard import load_board
from .settings import Layout


def board_of(root: Path | str) -> Board:
    layout = Layout(root).require()
    return load_board(layout, Accounts.load(layout.accounts).learners)


def grades_csv(root: Path | str) -> str:
    """learner, one 1/0 column per exercise, passed, pushes."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(board_of(root).grade_rows())
    return buffer.getvalue()


def grades_table(root: Path | str) -> str:
    """The same as a terminal table: ✓ for a passed check, . otherwise."""
    rows = board_of(root).grade_rows()
    header, body = rows[0], rows[1:]
    width = max([len(str(r[0])) for r in rows] + [7])
    exercises = header[1:-2]
    lines = [f"{'learner':<{width}}  " + " ".join(f"{i + 1:>2}" for i in range(len(exercises)))
             + "  passed  pushes"]
    for row in body:
        marks = " ".join(f"{'✓' if mark else '.':>2}" for mark in row[1:-2])
        lines.append(f"{row[0]:<{width}}  {marks}  {row[-2]:>6}  {row[-1]:>6}")
    lines.append("exercises: " + ", ".join(f"{i + 1}={name}" for i, name in enumerate(exercises)))
    return "\n".join(lines)

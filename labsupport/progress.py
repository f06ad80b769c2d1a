"""The learner's progress: an append-only JSON-lines file of check attempts and predictions.

One record per line, written with a single os.write on a file opened O_APPEND under a lock (filelock's, on a
`progress.jsonl.lock` beside it, on every system), so two kernels or a notebook and a terminal can record at the
same time without mixing lines.
A line that does not parse is skipped with a warning: a damaged file never stops a check.

    {"kind": "attempt", "time": "2025-01-01T10:00:00+00:00", "exercise": "push.pushed",
     "passed": true, "code": "ok"}      (one line in the file)
    {"kind": "prediction", "time": "…", "id": "full-upload", "answer": "yes"}
"""

from __future__ import annotations

import csv
import io
import json
import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import astuple, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from filelock import FileLock

from .config import LabConfig
from .course import EXERCISES

if TYPE_CHECKING:
    from .checks.base import CheckResult


@dataclass(frozen=True)
class ProgressRow:
    """One exercise in the summary: how often it was tried, whether it ever passed, the last outcome."""

    exercise: str
    lesson: str
    title: str
    attempts: int
    passed: bool
    last_code: str
    last_time: str


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold the progress file's lock (its `.lock` file beside it) for the block: one process at a time."""
    with FileLock(str(path) + ".lock"):
        yield


def _ends_unfinished(fd: int) -> bool:
    """Whether the open file's last line lacks its newline (a torn write, or garbage written into it)."""
    size = os.fstat(fd).st_size
    if not size:
        return False
    os.lseek(fd, size - 1, os.SEEK_SET)
    return os.read(fd, 1) != b"\n"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class ProgressLog:
    """The progress file at `path`: append records, read them back, summarise, export, reset."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def _append(self, record: dict[str, Any]) -> None:
        """Write one record as one line with one os.write on an O_APPEND descriptor."""
        line = (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(self.path):
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                if _ends_unfinished(fd):
                    line = b"\n" + line  # a damaged last line without its newline must not swallow this one
                written = os.write(fd, line)
                while written < len(line):  # only on a full disk or a signal; finish the line
                    written += os.write(fd, line[written:])
            finally:
                os.close(fd)

    def record_attempt(self, result: CheckResult) -> None:
        """Record one check attempt: when, which exercise, passed or not, and the result's code."""
        self._append({"kind": "attempt", "time": _now(), "exercise": result.exercise,
                      "passed": bool(result.passed), "code": result.code})

    def record_prediction(self, prediction_id: str, answer: Any) -> None:
        """Record the answer a learner committed to before an experiment (a myth card, a question)."""
        self._append({"kind": "prediction", "time": _now(), "id": prediction_id, "answer": answer})

    def records(self) -> list[dict[str, Any]]:
        """Every valid record in file order; invalid lines are skipped with a warning."""
        try:
            if not self.path.exists():
                return []
            with _locked(self.path), open(self.path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            return []
        return list(_parse(data, self.path))

    def attempts(self) -> list[dict[str, Any]]:
        """The check attempts only."""
        return [r for r in self.records() if r["kind"] == "attempt"]

    def predictions(self) -> list[dict[str, Any]]:
        """The predictions only."""
        return [r for r in self.records() if r["kind"] == "prediction"]

    def done(self) -> set[str]:
        """The exercises passed at least once."""
        return {r["exercise"] for r in self.attempts() if r["passed"]}

    def summary(self, course: Sequence[tuple[str, str, str]] | None = None) -> list[ProgressRow]:
        """One row per exercise in course order (untried ones too), then any other recorded exercise."""
        if course is None:
            course = [(e.id, e.lesson, e.title) for e in EXERCISES]
        rows: dict[str, dict[str, Any]] = {
            ex: {"exercise": ex, "lesson": lesson, "title": title, "attempts": 0, "passed": False,
                 "last_code": "", "last_time": ""} for ex, lesson, title in course}
        for record in self.attempts():
            row = rows.setdefault(record["exercise"], {
                "exercise": record["exercise"], "lesson": "", "title": "", "attempts": 0, "passed": False,
                "last_code": "", "last_time": ""})
            row["attempts"] += 1
            row["passed"] = row["passed"] or record["passed"]
            row["last_code"] = record["code"]
            row["last_time"] = record["time"]
        return [ProgressRow(**row) for row in rows.values()]

    def export_csv(self, dest: Path | str | IO[str] | None = None,
                   course: Sequence[tuple[str, str, str]] | None = None) -> str:
        """The summary as CSV text; also written to `dest` (a path or an open text file) when given."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([f.name for f in fields(ProgressRow)])
        for row in self.summary(course):
            writer.writerow(astuple(row))
        text = buffer.getvalue()
        if isinstance(dest, (str, Path)):
            Path(dest).write_text(text, encoding="utf-8", newline="")
        elif dest is not None:
            dest.write(text)
        return text

    def reset(self, exercise_id: str | None = None) -> int:
        """Remove the records of one exercise or prediction id (all records when None); returns how many."""
        if not self.path.exists():
            return 0
        with _locked(self.path), open(self.path, "r+b") as handle:
            # rewritten in place under the lock, so writers waiting on the lock then append to this same file
            lines = handle.read().splitlines(keepends=True)
            kept = [] if exercise_id is None else [ln for ln in lines if not _about(ln, exercise_id)]
            handle.seek(0)
            handle.write(b"".join(ln if ln.endswith(b"\n") else ln + b"\n" for ln in kept))
            handle.truncate()
        return len(lines) - len(kept)


def _about(line: bytes, exercise_id: str) -> bool:
    """Whether a raw line is a record of the given exercise or prediction id (unparsable lines are kept)."""
    try:
        record = json.loads(line)
    except ValueError:
        return False
    return isinstance(record, dict) and exercise_id in (record.get("exercise"), record.get("id"))


def _parse(data: bytes, path: Path) -> Iterator[dict[str, Any]]:
    """Yield the valid records of the file's bytes, warning once per bad line with its line number."""
    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except ValueError:
            record = None
        if _valid(record):
            yield record
        else:
            warnings.warn(f"{path}: line {number} is not a progress record; skipped", stacklevel=2)


def _valid(record: Any) -> bool:
    if not isinstance(record, dict) or not isinstance(record.get("time"), str):
        return False
    if record.get("kind") == "attempt":
        return (isinstance(record.get("exercise"), str) and isinstance(record.get("passed"), bool)
                and isinstance(record.get("code"), str))
    return record.get("kind") == "prediction" and isinstance(record.get("id"), str) and "answer" in record


def _log(config: LabConfig | None, *, writing: bool = False) -> ProgressLog:
    config = config or LabConfig.from_env()
    if writing:
        config.ensure_state_dir()  # an unusable LAB_STATE_DIR is one line naming it, not an OSError
    return ProgressLog(config.progress_file)


def record_attempt(result: CheckResult, *, config: LabConfig | None = None) -> None:
    """Record a check attempt in the lab's progress file."""
    _log(config, writing=True).record_attempt(result)


def record_prediction(prediction_id: str, answer: Any, *, config: LabConfig | None = None) -> None:
    """Record a learner's prediction in the lab's progress file."""
    _log(config, writing=True).record_prediction(prediction_id, answer)


def done(*, config: LabConfig | None = None) -> set[str]:
    """The exercises the learner has passed."""
    return _log(config).done()


def summary(*, config: LabConfig | None = None) -> list[ProgressRow]:
    """One row per exercise of the course: attempts, ever passed, last code, last time."""
    return _log(config).summary()


def export_csv(dest: Path | str | IO[str] | None = None, *, config: LabConfig | None = None) -> str:
    """The summary as CSV (written to `dest` too when given)."""
    return _log(config).export_csv(dest)


def reset(exercise_id: str | None = None, *, config: LabConfig | None = None) -> int:
    """Forget one exercise's (or prediction's) records, or everything; returns the number removed."""
    return _log(config).reset(exercise_id)

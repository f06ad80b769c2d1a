"""The progress file: appends from two processes at once, damaged lines, summary, CSV export and reset."""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
from pathlib import Path

import pytest

from labsupport import progress
from labsupport.checks.base import CheckResult
from labsupport.config import LabConfig
from labsupport.course import EXERCISES
from labsupport.progress import ProgressLog

LINES_PER_WRITER = 200


@pytest.fixture
def log(tmp_path) -> ProgressLog:
    return ProgressLog(tmp_path / "state" / "progress.jsonl")


def attempt(exercise: str, passed: bool, code: str | None = None) -> CheckResult:
    return CheckResult(exercise, passed, code or ("ok" if passed else "not-yet"), "message")


def _writer(path: str, worker: int, start) -> None:
    """One process: wait for the start signal, then append LINES_PER_WRITER records as fast as it can."""
    start.wait()
    log = ProgressLog(path)
    for n in range(LINES_PER_WRITER):
        # a long code makes each line several hundred bytes, so torn or mixed writes would show
        log.record_attempt(CheckResult(f"w{worker}.n{n}", n % 2 == 0, f"code-{worker}-{n}-" + "x" * 300, ""))


def test_two_processes_writing_at_once_leave_every_line_whole(log):
    context = multiprocessing.get_context("spawn")  # fresh interpreters: no state shared with this one
    start = context.Event()
    workers = [context.Process(target=_writer, args=(str(log.path), w, start)) for w in (1, 2)]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    raw_lines = log.path.read_bytes().splitlines()
    assert len(raw_lines) == 2 * LINES_PER_WRITER
    parsed = [json.loads(line) for line in raw_lines]            # every line parses on its own
    for w in (1, 2):
        mine = [r["exercise"] for r in parsed if r["exercise"].startswith(f"w{w}.")]
        assert mine == [f"w{w}.n{n}" for n in range(LINES_PER_WRITER)]   # each writer's lines, in order
    assert len(log.attempts()) == 2 * LINES_PER_WRITER


def test_records_round_trip_with_kind_and_time(log):
    log.record_attempt(attempt("push.pushed", False, "not-pushed"))
    log.record_prediction("full-upload", "yes")
    first, second = log.records()
    assert first["kind"] == "attempt" and first["exercise"] == "push.pushed"
    assert (first["passed"], first["code"]) == (False, "not-pushed")
    assert first["time"].endswith("+00:00")
    assert second == {"kind": "prediction", "time": second["time"], "id": "full-upload", "answer": "yes"}
    assert log.predictions() == [second] and log.attempts() == [first]


def test_missing_file_is_an_empty_progress(log):
    assert log.records() == [] and log.done() == set() and log.reset() == 0


def test_damaged_lines_are_skipped_with_a_warning(log):
    log.record_attempt(attempt("push.pushed", True))
    with log.path.open("a", encoding="utf-8") as handle:
        handle.write('{"kind": "attempt", "exercise": "tagging.t\n')        # torn line
        handle.write("[1, 2, 3]\n")                                           # JSON, not a record
        handle.write('{"kind": "attempt", "time": "t", "exercise": "x"}\n')  # fields missing
        handle.write("\n")
    log.record_attempt(attempt("tagging.tag", False))
    with pytest.warns(UserWarning) as warned:
        records = log.records()
    assert [str(w.message).split(": ")[-1] for w in warned] == [
        f"line {n} is not a progress record; skipped" for n in (2, 3, 4)]
    assert [r["exercise"] for r in records] == ["push.pushed", "tagging.tag"]


def test_done_counts_an_exercise_passed_once_even_if_failed_later(log):
    log.record_attempt(attempt("push.pushed", True))
    log.record_attempt(attempt("push.pushed", False))
    log.record_attempt(attempt("tagging.tag", False))
    assert log.done() == {"push.pushed"}


def test_summary_follows_the_course_and_keeps_the_last_outcome(log):
    log.record_attempt(attempt("push.pushed", False, "not-pushed"))
    log.record_attempt(attempt("push.pushed", True))
    log.record_attempt(attempt("push.pushed", False, "layers-differ"))
    log.record_attempt(attempt("extra.one", True))
    rows = log.summary()
    assert [r.exercise for r in rows] == [e.id for e in EXERCISES] + ["extra.one"]
    push = next(r for r in rows if r.exercise == "push.pushed")
    assert (push.lesson, push.attempts, push.passed, push.last_code) == ("05", 3, True, "layers-differ")
    assert push.last_time
    untried = next(r for r in rows if r.exercise == "setup.registry")
    assert (untried.attempts, untried.passed, untried.last_code) == (0, False, "")


def test_csv_export_has_a_header_and_a_row_per_exercise(log, tmp_path):
    log.record_attempt(attempt("images.build", True))
    course = [("images.build", "01", "Build"), ("push.pushed", "05", "Push, with a comma")]
    text = log.export_csv(tmp_path / "out.csv", course=course)
    assert (tmp_path / "out.csv").read_text(encoding="utf-8") == text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["exercise"] for r in rows] == ["images.build", "push.pushed"]
    assert rows[0]["attempts"] == "1" and rows[0]["passed"] == "True"
    assert rows[1]["title"] == "Push, with a comma" and rows[1]["attempts"] == "0"
    buffer = io.StringIO()
    log.export_csv(buffer, course=course)
    assert buffer.getvalue() == text


def test_reset_one_exercise_keeps_the_others(log):
    log.record_attempt(attempt("push.pushed", True))
    log.record_attempt(attempt("tagging.tag", True))
    log.record_prediction("push.pushed", "yes")
    log.record_prediction("full-upload", "no")
    assert log.reset("push.pushed") == 2
    assert log.done() == {"tagging.tag"}
    assert [p["id"] for p in log.predictions()] == ["full-upload"]
    log.record_attempt(attempt("push.pushed", False))       # appending after a reset still works
    assert len(log.records()) == 3
    assert log.reset() == 3 and log.records() == [] and log.path.exists()


def test_module_functions_use_the_configs_file(tmp_path):
    config = LabConfig.from_env({"LAB_STATE_DIR": str(tmp_path / "lab"), "LAB_LEARNER": "learner"})
    progress.record_attempt(attempt("images.build", True), config=config)
    progress.record_prediction("anonymous-push", "no", config=config)
    assert Path(config.progress_file).is_file()
    assert progress.done(config=config) == {"images.build"}
    assert any(r.exercise == "images.build" and r.attempts == 1 for r in progress.summary(config=config))
    assert "images.build" in progress.export_csv(config=config)
    assert progress.reset("images.build", config=config) == 1
    assert progress.done(config=config) == set()

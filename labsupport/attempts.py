"""A learner's attempt at an exercise: the check, then its record in progress and, in a workshop, its report.

`run_check` only checks. What a learner does from a notebook or a terminal is an attempt: the result is
appended to the progress file (a lab that was broken is recorded as a `lab-error` attempt, and its LabError
goes on to the caller), and a lab that joined a workshop sends it to the instructor's dashboard too. The
notebook API and the CLI call `attempt`; nothing below them records.
"""

from __future__ import annotations

import warnings
from typing import Any

from .checks.base import LAB_ERROR, CheckContext, CheckResult, asked, run_check
from .config import LabConfig
from .errors import LabError
from .progress import ProgressLog
from .workshop.join import report_result


def attempt(exercise_id: str, answer: Any = None, *, config: LabConfig | None = None,
            context: CheckContext | None = None) -> CheckResult:
    """Check an exercise, record the attempt in progress, report it to a joined workshop; the result."""
    config = config or (context.config if context is not None else LabConfig.from_env())
    info = asked(exercise_id, answer)         # a wrong question is told, not recorded
    try:
        result = run_check(info.id, answer, config=config, context=context)
    except LabError:
        record(config, CheckResult(info.id, False, LAB_ERROR, "the lab was broken"))
        raise
    record(config, result)
    if config.workshop:  # joined a workshop: the instructor's dashboard gets the result too (best effort)
        report_result(config, result)
    return result


def record(config: LabConfig, result: CheckResult) -> None:
    """Append an attempt to the progress file; a failing write warns rather than hiding the result."""
    try:
        ProgressLog(config.progress_file).record_attempt(result)
    except OSError as exc:
        warnings.warn(f"could not record progress in {config.progress_file}: {exc}", stacklevel=3)

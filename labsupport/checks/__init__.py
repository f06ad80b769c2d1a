"""Checked exercises: `run_check("push.pushed")` reads the real lab state and returns a CheckResult.

The frame (result, context, exercise table, registration) is in `base`; each lesson's check functions are in
`labsupport/checks/<prefix>.py`, named by the exercise id's prefix, loaded on first use.
"""

from __future__ import annotations

from .base import (
    EXERCISES,
    HELLO_GREETING,
    CheckContext,
    CheckResult,
    ExerciseInfo,
    exercise,
    exercise_info,
    exercises,
    implemented,
    result_html,
    run_check,
)

__all__ = [
    "EXERCISES",
    "HELLO_GREETING",
    "CheckContext",
    "CheckResult",
    "ExerciseInfo",
    "exercise",
    "exercise_info",
    "exercises",
    "implemented",
    "result_html",
    "run_check",
]

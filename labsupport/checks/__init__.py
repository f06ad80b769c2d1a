"""Checked exercises: `run_check("push.pushed")` reads the real lab state and returns a CheckResult.

The frame (result, context, registration, run_check) is in `base`; each lesson's check functions are in
`labsupport/checks/<prefix>.py`, named by the exercise id's prefix, loaded on first use. The exercises
themselves are the course's data: `labsupport.course.EXERCISES`.
"""

from __future__ import annotations

from .base import HELLO_GREETING, CheckContext, CheckResult, check_function, exercise, run_check

__all__ = ["HELLO_GREETING", "CheckContext", "CheckResult", "check_function", "exercise", "run_check"]

"""The frame every checked exercise shares: its result, its context, the registry of check functions, run_check.

A check function reads real state through a `CheckContext` and returns a `CheckResult`. A learner's wrong
answer or missing step is a result with `passed=False`, a `code` naming the mistake and a `hint` naming the
command that fixes it. A check raises (a LabError) only when the lab itself is broken.

The exercises themselves (ids, lessons, titles, which take an answer) are the course's data
(`labsupport.course`); a check function lives in `labsupport/checks/<prefix>.py`, named by the part of the id
before the dot, and registers with `@exercise(id)`. `run_check` only checks: recording the attempt, reporting
it to a workshop and showing it are the caller's (`labsupport.attempts`).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import course
from ..cards import result_card_html
from ..config import LabConfig
from ..course import Exercise
from ..dockerconfig import Credential, load_credential
from ..engine import Engine
from ..errors import LabError
from ..lab import Lab, stored_password
from ..registry import RegistryClient

#: The first line the course's hello app prints; notebooks/apps/hello/hello.sh prints exactly this.
HELLO_GREETING = "Hello from the registry lab!"

#: Result codes every check may use.
OK = "ok"
NO_ANSWER = "no-answer"
LAB_ERROR = "lab-error"


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: passed or not, a code naming the mistake, a message and a fixing hint."""

    exercise: str
    passed: bool
    code: str
    message: str
    hint: str = ""

    def to_json(self) -> dict[str, Any]:
        """The result as a plain dict for the CLI's --json and for tests."""
        return {"exercise": self.exercise, "passed": self.passed, "code": self.code,
                "message": self.message, "hint": self.hint}

    def __str__(self) -> str:
        mark = "PASSED" if self.passed else f"NOT YET ({self.code})"
        text = f"{self.exercise}: {mark}\n  {self.message}"
        if self.hint and not self.passed:
            text += f"\n  try: {self.hint}"
        return text

    def _repr_html_(self) -> str:
        return result_card_html(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython's text/plain: the readable summary (nbval compares this, terminals show it)."""
        printer.text(str(self))


CheckFunction = Callable[..., CheckResult]
_CHECKS: dict[str, CheckFunction] = {}


def exercise(exercise_id: str) -> Callable[[CheckFunction], CheckFunction]:
    """Register the check of a course exercise: `(ctx) -> CheckResult`, or `(ctx, answer)` when it takes one."""
    info = course.exercise(exercise_id)

    def register(func: CheckFunction) -> CheckFunction:
        wanted = 2 if info.answer else 1
        if len(inspect.signature(func).parameters) != wanted:
            raise ValueError(f"the check for {info.id} must take {wanted} argument(s): "
                             + ("(ctx, answer)" if info.answer else "(ctx)"))
        previous = _CHECKS.get(info.id)
        if previous is not None and previous.__qualname__ != func.__qualname__:
            raise ValueError(f"{info.id} already has a check: {previous.__module__}.{previous.__qualname__}")
        _CHECKS[info.id] = func
        return func

    return register


def check_function(info: Exercise) -> CheckFunction:
    """The registered check of an exercise, its lesson's module imported on first use."""
    if info.id not in _CHECKS:
        importlib.import_module(f"{__package__}.{info.prefix}")
    return _CHECKS[info.id]


class CheckContext:
    """What a check may read, each part made on first use: config, engine, registry client, credential."""

    def __init__(self, config: LabConfig | None = None, *, engine: Engine | None = None,
                 registry: RegistryClient | None = None, lab: Lab | None = None,
                 credential: Credential | None = None) -> None:
        self._config = config
        self._engine = engine
        self._registry = registry
        self._lab = lab
        self._credential = credential
        self._credential_loaded = credential is not None
        self._own_registry = registry is None

    @property
    def config(self) -> LabConfig:
        """The lab's settings (from LAB_* variables unless given)."""
        if self._config is None:
            self._config = LabConfig.from_env()
        return self._config

    @property
    def engine(self) -> Engine:
        """The Docker engine wrapper (labsupport.engine.Engine) for this lab."""
        if self._engine is None:
            self._engine = Engine(config=self.config)
        return self._engine

    @property
    def registry(self) -> RegistryClient:
        """A RegistryClient of the lab registry with the lab's own credential, to read what it holds.

        Not the Docker client's credential: what the registry holds should not depend on the learner's
        login. A check of the login itself uses `credential` (the Docker client's) instead.
        """
        if self._registry is None:
            secret = stored_password(self.config)  # "" for a damaged file: the registry refuses, up repairs
            credential = Credential(self.config.learner, secret) if secret else None
            self._registry = RegistryClient.for_lab(self.config, credential=credential)
        return self._registry

    @property
    def lab(self) -> Lab:
        """The lab's own registry container (labsupport.lab.Lab)."""
        if self._lab is None:
            self._lab = Lab(self.config)
        return self._lab

    @property
    def credential(self) -> Credential | None:
        """The Docker client's stored credential for the lab registry, or None when it holds none."""
        if not self._credential_loaded:
            self._credential = load_credential(self.config.registry)
            self._credential_loaded = True
        return self._credential

    def close(self) -> None:
        """Close the HTTP client this context opened (an injected one belongs to its caller)."""
        if self._own_registry and self._registry is not None:
            self._registry.close()
            self._registry = None

    def __repr__(self) -> str:  # never shows the credential
        return f"CheckContext(registry={self._config.registry if self._config else '<from env>'})"


def run_check(exercise_id: str, answer: Any = None, *, config: LabConfig | None = None,
              context: CheckContext | None = None) -> CheckResult:
    """Check one exercise against the real state and return the result (it records nothing)."""
    info = asked(exercise_id, answer)
    ctx = context if context is not None else CheckContext(config)
    try:
        return run(info, check_function(info), ctx, answer)
    finally:
        if context is None:
            ctx.close()


def asked(exercise_id: str, answer: Any = None) -> Exercise:
    """The exercise a learner asks to check, or the LabError that says the question itself is wrong."""
    info = course.exercise(exercise_id)       # an unknown id raises UnknownExercise listing the known ones
    if answer is not None and not info.answer:
        raise LabError(f"{info.id} takes no answer: it checks the lab's real state",
                       fix=f'check("{info.id}")')
    return info


def run(info: Exercise, func: CheckFunction, ctx: CheckContext, answer: Any = None) -> CheckResult:
    """Call a check function (or answer "no-answer" when an answer is due and missing); a LabError passes."""
    if info.answer and answer is None:
        return CheckResult(info.id, False, NO_ANSWER, "this exercise needs your answer",
                           hint=f'check("{info.id}", answer)')
    result = func(ctx, answer) if info.answer else func(ctx)
    if not isinstance(result, CheckResult) or result.exercise != info.id:
        raise TypeError(f"the check for {info.id} returned {result!r}, not a CheckResult for {info.id}")
    return result

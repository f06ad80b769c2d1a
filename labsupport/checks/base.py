"""The frame every checked exercise shares: its result, its context, the course's exercise table, run_check.

A check function reads real state through a `CheckContext` and returns a `CheckResult`. A learner's wrong
answer or missing step is a result with `passed=False`, a `code` naming the mistake and a `hint` naming the
command that fixes it. A check raises (a LabError) only when the lab itself is broken.

Check functions live in `labsupport/checks/<prefix>.py`, where `<prefix>` is the part of the exercise id
before the dot (`push.pushed` → `labsupport/checks/push.py`), and register with `@exercise(...)`.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..config import LabConfig
from ..errors import LabError, UnknownExercise

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
        return result_html(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython's text/plain: the readable summary (nbval compares this, terminals show it)."""
        printer.text(str(self))


def result_html(result: CheckResult) -> str:
    """The HTML card for a result, the same one CheckButton shows (imported late: it lives with the widgets)."""
    from ..widgets.checkbutton import result_card_html

    return result_card_html(result)


@dataclass(frozen=True)
class ExerciseInfo:
    """One checked exercise of the course: its id, its lesson, its title and whether it takes an answer."""

    id: str
    lesson: str
    title: str
    answer: bool = False

    @property
    def module(self) -> str:
        """The module that holds this exercise's check function."""
        return f"{__package__}.{self.id.split('.', 1)[0]}"


#: Every exercise of ../shared/curriculum.md in course order. A public contract: ids never change.
EXERCISES: tuple[ExerciseInfo, ...] = (
    ExerciseInfo("setup.registry", "00", "The lab registry answers /v2/ and asks for credentials"),
    ExerciseInfo("images.build", "01", "Build hello-lab:1.0 from the hello app"),
    ExerciseInfo("registries.anatomy", "02", "Split five references into host, repository, tag and digest",
                 answer=True),
    ExerciseInfo("tagging.tag", "03", "Tag hello-lab:1.0 with the lab registry's name"),
    ExerciseInfo("login.logged-in", "04", "Log the Docker client in to the lab registry"),
    ExerciseInfo("push.pushed", "05", "Push hello-lab:1.0 to the lab registry"),
    ExerciseInfo("caching.minimal-upload", "06", "Push hello-lab:1.1 uploading only the changed layer"),
    ExerciseInfo("security.no-secrets", "07", "Push hello-lab:secure with no secret in any layer"),
    ExerciseInfo("production.tags", "08", "Put 1.2.0, 1.2 and a commit tag on one digest"),
    ExerciseInfo("production.index", "08", "Push multi:1.0 as an image index of two platforms"),
    ExerciseInfo("hood.handmade", "09", "Push handmade:1.0 by hand over the registry's HTTP API"),
    ExerciseInfo("capstone.ship", "10", "Ship the capstone app end to end"),
)

_INFO: dict[str, ExerciseInfo] = {info.id: info for info in EXERCISES}
_CHECKS: dict[str, Callable[..., CheckResult]] = {}
_modules_loaded = False

CheckFunction = Callable[..., CheckResult]


def exercise(exercise_id: str, *, lesson: str, title: str,
             answer: bool = False) -> Callable[[CheckFunction], CheckFunction]:
    """Register a check function `(ctx) -> CheckResult`, or `(ctx, answer)` when the exercise takes one."""

    def register(func: CheckFunction) -> CheckFunction:
        known = _INFO.get(exercise_id)
        if known is not None and (known.lesson != lesson or known.answer != answer):
            raise ValueError(f"@exercise({exercise_id!r}) disagrees with the course table: lesson "
                             f"{lesson}/{known.lesson}, answer {answer}/{known.answer}")
        wanted = 2 if answer else 1
        if len(inspect.signature(func).parameters) != wanted:
            raise ValueError(f"the check for {exercise_id} must take {wanted} argument(s): "
                             + ("(ctx, answer)" if answer else "(ctx)"))
        previous = _CHECKS.get(exercise_id)
        if previous is not None and previous.__qualname__ != func.__qualname__:
            raise ValueError(f"{exercise_id} already has a check: "
                             f"{previous.__module__}.{previous.__qualname__}")
        _INFO[exercise_id] = ExerciseInfo(exercise_id, lesson, title, answer)
        _CHECKS[exercise_id] = func
        return func

    return register


def _load_check_modules() -> None:
    """Import every lesson's check module once; a lesson whose module is not written yet is skipped."""
    global _modules_loaded
    if _modules_loaded:
        return
    for module in dict.fromkeys(info.module for info in EXERCISES):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:  # the module exists but one of its imports does not: a real bug
                raise
    _modules_loaded = True


def exercises() -> tuple[ExerciseInfo, ...]:
    """Every known exercise in course order (the table, then any registered beyond it)."""
    _load_check_modules()
    return tuple(_INFO.values())


def implemented(exercise_id: str) -> bool:
    """Whether a check function is registered for the exercise."""
    _load_check_modules()
    return exercise_id in _CHECKS


def exercise_info(exercise_id: str) -> ExerciseInfo:
    """The exercise with this id; an unknown id raises UnknownExercise listing the known ones."""
    _load_check_modules()
    info = _INFO.get(exercise_id.strip()) if isinstance(exercise_id, str) else None  # a list is no id
    if info is not None:
        return info
    ids = list(_INFO)
    close = difflib.get_close_matches(str(exercise_id), ids, n=3, cutoff=0.4)
    ordered = close + [i for i in ids if i not in close]
    raise UnknownExercise(
        f"there is no exercise {exercise_id!r}; the exercises are: {', '.join(ordered)}",
        fix=f'check("{ordered[0]}")' if close else "labsupport progress  (lists every exercise)",
    )


class CheckContext:
    """What a check may read, each part made on first use: config, engine, registry client, credential."""

    def __init__(self, config: LabConfig | None = None, *, engine: Any = None, registry: Any = None,
                 lab: Any = None, credential: Any = None) -> None:
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
    def engine(self) -> Any:
        """The Docker engine wrapper (labsupport.engine.Engine) for this lab."""
        if self._engine is None:
            from ..engine import Engine
            self._engine = Engine(config=self.config)
        return self._engine

    @property
    def registry(self) -> Any:
        """A RegistryClient of the lab registry with the lab's own credential, to read what it holds.

        Not the Docker client's credential: what the registry holds should not depend on the learner's
        login. A check of the login itself uses `credential` (the Docker client's) instead.
        """
        if self._registry is None:
            from ..dockerconfig import Credential
            from ..lab import stored_password
            from ..registry import RegistryClient
            secret = stored_password(self.config)  # "" for a damaged file: the registry refuses, up repairs
            credential = Credential(self.config.learner, secret) if secret else None
            self._registry = RegistryClient.for_lab(self.config, credential=credential)
        return self._registry

    @property
    def lab(self) -> Any:
        """The lab's own registry container (labsupport.lab.Lab)."""
        if self._lab is None:
            from ..lab import Lab
            self._lab = Lab(self.config)
        return self._lab

    @property
    def credential(self) -> Any:
        """The Docker client's stored credential for the lab registry, or None when it holds none."""
        if not self._credential_loaded:
            from ..dockerconfig import load_credential
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
    """Run one exercise's check against the real state, record the attempt in progress, return the result."""
    info = exercise_info(exercise_id)
    func = _CHECKS.get(info.id)
    if func is None:
        raise LabError(f"the check for {info.id} is not implemented in this version of labsupport",
                       fix="update labsupport (pip install -U labsupport) or ask the course team")
    if answer is not None and not info.answer:
        raise LabError(f"{info.id} takes no answer: it checks the lab's real state",
                       fix=f'check("{info.id}")')
    ctx = context if context is not None else CheckContext(config)
    try:
        result = _attempt(info, func, ctx, answer)
    finally:
        if context is None:
            ctx.close()
    _record(ctx, result)
    if ctx.config.workshop:  # joined a workshop: the instructor's dashboard gets the result too (best effort)
        from ..workshop.join import report_result
        report_result(ctx.config, result)
    return result


def _attempt(info: ExerciseInfo, func: CheckFunction, ctx: CheckContext, answer: Any) -> CheckResult:
    """Call the check function (or answer "no-answer"); a LabError is recorded as a lab-error attempt."""
    if info.answer and answer is None:
        result = CheckResult(info.id, False, NO_ANSWER, "this exercise needs your answer",
                             hint=f'check("{info.id}", answer)')
    else:
        try:
            result = func(ctx, answer) if info.answer else func(ctx)
        except LabError:
            _record(ctx, CheckResult(info.id, False, LAB_ERROR, "the lab was broken"))
            raise
    if not isinstance(result, CheckResult) or result.exercise != info.id:
        raise TypeError(f"the check for {info.id} returned {result!r}, not a CheckResult for {info.id}")
    return result


def _record(ctx: CheckContext, result: CheckResult) -> None:
    """Append the attempt to the progress file; a failing write warns rather than hiding the result."""
    from ..progress import ProgressLog
    try:
        ProgressLog(ctx.config.progress_file).record_attempt(result)
    except OSError as exc:
        warnings.warn(f"could not record progress in {ctx.config.progress_file}: {exc}", stacklevel=3)

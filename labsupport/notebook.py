"""The notebook-facing API: checks, widgets wired to the engine, registry and progress, and lesson catch-up.

Every function here turns a LabError into a friendly message with its fix instead of a traceback: `check`
returns a message card, the others print the message and return None. Widgets get their I/O injected here
(runner, prover, record); this module does no Docker or HTTP work of its own beyond Engine, RegistryClient
and Lab. Importing it inside IPython also shows any LabError a cell raises as that message, not a traceback.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from IPython import get_ipython

from . import course, progress
from .attempts import attempt
from .cards import error_html
from .checks import CheckResult
from .compare import image_diff
from .config import LabConfig
from .course import lesson_number
from .dockercli import has_buildx
from .doctor import diagnose, report
from .engine import Engine
from .errors import LabError, RegistryUnreachable, Unauthorized
from .lab import lab_registry
from .lessons import catch_up as catch_up_steps
from .lessons import myths
from .lessons.reset import reset_exercise
from .widgets import CheckButton as Button
from .widgets import CourseMap as Map
from .widgets import LayerStack, PushMonitor
from .widgets import MythCard as Card
from .widgets import Predict as Prompt
from .widgets import RegistryBrowser as Browser

F = TypeVar("F", bound=Callable[..., Any])

# -- friendly errors ----------------------------------------------------------------------------------------

def problem_text(exc: BaseException) -> str:
    """A LabError as the two lines a learner reads: what is wrong, and the command that fixes it."""
    if isinstance(exc, LabError):
        return f"Problem: {exc.message}" + (f"\n  fix: {exc.fix}" if exc.fix else "")
    return f"Problem: {type(exc).__name__}: {exc}"


class LabProblem:
    """A lab error shown as a card (HTML) or as two plain lines: what is wrong and how to fix it."""

    def __init__(self, error: LabError) -> None:
        self.error = error

    @property
    def passed(self) -> bool:
        """Never passed: a problem stands where a check result would, and reads as "not passed"."""
        return False

    def _repr_html_(self) -> str:
        return error_html(self.error)

    def __repr__(self) -> str:
        return problem_text(self.error)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


def friendly(func: F) -> F:
    """Decorate a notebook function so that a LabError prints as message and fix, and the call returns None."""
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except LabError as exc:
            print(problem_text(exc))
            return None
    return wrapper  # type: ignore[return-value]


def _install_exception_display() -> None:
    """Inside IPython, show a LabError raised by any cell as its message and fix instead of a traceback."""
    shell = get_ipython()
    if shell is None:
        return

    def show(shell: Any, etype: type, value: BaseException, _tb: Any, tb_offset: Any = None) -> list[str]:
        lines = problem_text(value).splitlines()
        shell._showtraceback(etype, value, lines)  # the kernel sends these lines as the cell's error output
        return lines

    shell.set_custom_exc((LabError,), show)


def _cli_on_path() -> None:
    """Put this Python's scripts folder on PATH so `!labsupport …` works in a kernel started from a venv."""
    scripts = Path(sys.executable).parent
    if shutil.which("labsupport") is None and (scripts / "labsupport").exists():
        os.environ["PATH"] = f"{scripts}{os.pathsep}{os.environ.get('PATH', '')}"


# -- the lab's parts ------------------------------------------------------------------------------------------

def _config() -> LabConfig:
    return LabConfig.from_env()


@friendly
def lab_config() -> LabConfig:
    """The lab's settings: `.registry`, `.learner`, `.registry_url`, `.base_image`, `.ref(repo, tag)`."""
    return _config()


def _engine(config: LabConfig) -> Any:

    return Engine.connect(config=config)


@friendly
def engine() -> Any:
    """The Docker engine (labsupport.engine.Engine), or a message saying how to start it."""
    return _engine(_config())


def _registry(config: LabConfig) -> Any:

    return lab_registry(config)


@friendly
def registry() -> Any:
    """A client of the lab registry's HTTP API (RegistryClient), reading with the lab's own credential."""
    return _registry(_config())


@dataclass(frozen=True)
class EngineKind:
    """Which of the two kinds of engine a lesson runs on, where they show different things.

    `image_store` is "classic" or "containerd" (Docker Desktop's default, every fresh Engine 29); `buildx`
    says whether the docker CLI has the buildx plugin, so that `docker build` is BuildKit's.
    """

    version: str
    image_store: str
    buildx: bool
    buildx_version: str = ""

    @property
    def containerd(self) -> bool:
        return self.image_store == "containerd"

    @property
    def attests(self) -> bool:
        """Whether `docker build` makes an image index holding a provenance attestation (BuildKit's default
        where the image store can hold one: the containerd store), which `docker push` pushes as it is."""
        return self.containerd and self.buildx

    @property
    def builder(self) -> str:
        return f"BuildKit (buildx {self.buildx_version})" if self.buildx else "the classic builder"

    def __str__(self) -> str:
        made = ("an image index: your image plus a provenance attestation (platform unknown/unknown)"
                if self.attests else "a single image manifest")
        return (f"Docker {self.version}, {self.image_store} image store, docker build is {self.builder}: "
                f"a build makes {made}")

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


@friendly
def engine_kind() -> EngineKind:
    """The learner's engine as the lessons need it: its image store and whether `docker build` is BuildKit's."""
    info = _engine(_config()).info()
    buildx = has_buildx()
    return EngineKind(version=info.version, image_store=info.image_store, buildx=buildx is not None,
                      buildx_version=buildx or "")


@friendly
def local_index(ref: str) -> list[dict[str, Any]]:
    """The entries of a local image on the containerd image store: kind ("image" or "attestation"), platform,
    digest and whether its content is present; [] on the classic store, which keeps one image per name."""
    return [asdict(entry) for entry in _engine(_config()).local_index(ref)]


# -- checks and progress --------------------------------------------------------------------------------------

def check(exercise_id: str, answer: Any = None) -> CheckResult | LabProblem:
    """Check an exercise against the lab's real state; a broken lab gives a card with the fix instead."""
    try:
        result = attempt(exercise_id, answer, config=_config())
    except LabError as exc:
        return LabProblem(exc)
    return result


def _runner(config: LabConfig) -> Callable[[str], CheckResult]:
    return lambda exercise_id: attempt(exercise_id, config=config)


@friendly
def CheckButton(exercise_id: str, **kwargs: Any) -> Any:
    """A "Check" button for one exercise, showing the result card (or the lab's problem and its fix)."""

    course.exercise(exercise_id)  # an unknown id is told now, not at the first click
    return Button(exercise_id, _runner(_config()), **kwargs)


@friendly
def CourseMap() -> Any:
    """The course as a path: each lesson's exercises ticked when passed, and "you are here"."""

    config = _config()
    return Map(lambda: progress.done(config=config))


@friendly
def Predict(prediction_id: str) -> Any:
    """The lesson's prediction with this id, to commit to before the experiment: its answer and explanation
    come from the course data and show only once committed; the committed answer is recorded in progress."""

    config = _config()
    item = course.prediction(prediction_id)
    answer, explanation = item.answer, item.explanation
    if item.containerd_answer is not None:  # the answer depends on the learner's image store
        store = _engine(config).info().image_store
        answer = item.containerd_answer if store == "containerd" else item.answer
        explanation = f"{explanation} Your engine uses the {store} image store."
    return Prompt(item.question, item.choices or None, number=item.number, answer=answer,
                  explanation=explanation, key=item.id,
                  record=lambda name, value: progress.record_prediction(name, value, config=config))


@friendly
def MythCard(myth_id: str) -> Any:
    """A myth: commit to Yes or No, see the truth, then prove it live on the lab."""

    config = _config()
    myth = course.myth(myth_id)
    return Card(myth, lambda: myths.prove(myth.id, config),
                record=lambda name, value: progress.record_prediction(name, value, config=config))


@friendly
def answer(prediction_id: str, value: Any) -> Any:
    """Commit a prediction, or a myth card's yes or no, without its buttons (where widgets do not show): the
    answer is recorded and the card comes back revealed."""

    if isinstance(prediction_id, str) and prediction_id.strip() in {str(item) for item in course.MYTHS}:
        said = {"yes": True, "no": False, True: True, False: False}.get(
            value.strip().lower() if isinstance(value, str) else value)
        if said is None:
            raise LabError(f"a myth card takes yes or no, not {value!r}",
                           fix=f'answer("{prediction_id.strip()}", "yes")   (or "no")')
        card = MythCard(prediction_id)
        if card is not None:  # None: MythCard printed why it could not be made
            card.predict(said)
        return card
    prompt = Predict(prediction_id)
    if prompt is not None:
        prompt.commit(value)
    return prompt


# -- images and the registry ----------------------------------------------------------------------------------

@friendly
def show_layers(ref: str, against: str | None = None) -> Any:
    """An image's layers as a stack, each coloured by where it stands against a lab repository.

    `against` defaults to the ref's own repository when it names the lab registry, else `<learner>/<name>`.
    When the registry does not answer, the stack shows the local layers alone, with a note why.
    """

    config = _config()
    eng = _engine(config)
    try:
        with _registry(config) as client:
            diff = image_diff(ref, config=config, engine=eng, registry=client, against=against)
    except (RegistryUnreachable, Unauthorized) as exc:
        print(f"note: not compared with the lab registry ({exc.message}); showing the local layers only")
        return LayerStack(eng.image_view(ref), name=ref)
    return LayerStack(diff, name=ref)


@friendly
def push(ref: str) -> Any:
    """Push `ref` now, layer by layer, and return the PushMonitor showing what each layer cost."""

    config = _config()
    eng = _engine(config)
    try:
        image = eng.image_view(ref)
    except LabError:
        image = None  # the push itself reports the missing image, with its fix
    client = _registry(config)
    try:
        monitor = PushMonitor(ref, lambda on_event: eng.push(ref, client, on_event), image=image)
        monitor.start()
    finally:
        client.close()
    return monitor


@friendly
def RegistryBrowser() -> Any:
    """Browse the lab registry: repositories, their tags, one manifest and its layers."""

    return Browser(_registry(_config()))


# -- the lab itself -------------------------------------------------------------------------------------------

@friendly
def doctor() -> None:
    """Print every precondition of the course, one line each, with the command that fixes what fails."""

    print(report(diagnose(_config())))


@friendly
def reset(exercise_id: str) -> None:
    """Undo what an exercise made (and forget its attempts), so it can be done again."""

    print(reset_exercise(exercise_id, _config()))


@friendly
def build_hello(tag: str | None = None) -> str:
    """Build the hello app as `tag` (default hello-lab:1.0) on the lab's base image; a line saying so."""
    return catch_up_steps.build_hello(_config(), tag or catch_up_steps.hello_ref())


@friendly
def catch_up(lesson: str | int) -> None:
    """Do, idempotently, what the lessons before `lesson` leave behind; one line per step done or found."""
    number = lesson_number(lesson)
    config = _config()
    steps = course.catch_up_steps(number)
    if not steps:
        print(f"catch up: nothing to do, lesson {number} starts from scratch")
    for step in steps:
        print(f"catch up: {catch_up_steps.STEPS[step](config)}")


_cli_on_path()
_install_exception_display()

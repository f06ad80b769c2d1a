"""Pure: the course as data, stated once. Lessons, exercises, what a reset removes, the catch-up steps, myths.

Everything else reads this module: the checks register a function for each exercise id here, reset undoes an
exercise's `Leftovers`, catch-up runs the `catch_up` step of every exercise before a lesson, the course map
draws `LESSONS`, progress and the workshop's board list `EXERCISES`, a myth card renders a `Myth`, and each
myth has exactly one live proof registered under its `MythId`. Exercise ids are a public contract
(`../shared/curriculum.md`): they never change.
"""

from __future__ import annotations

import difflib
import enum
from dataclasses import dataclass

from .errors import LabError, UnknownExercise

#: The repository (and local name) of the course's hello app, in the learner's namespace: `<learner>/hello-lab`.
HELLO_REPOSITORY = "hello-lab"


@dataclass(frozen=True)
class Lesson:
    """One notebook of the course: its two-digit number and title."""

    number: str
    title: str

    @property
    def exercises(self) -> tuple[str, ...]:
        """The ids of the lesson's checked exercises, in course order."""
        return tuple(item.id for item in lesson_exercises(self.number))


#: The lessons, in course order.
LESSONS: tuple[Lesson, ...] = (
    Lesson("00", "Setup"), Lesson("01", "Images"), Lesson("02", "Registries"), Lesson("03", "Tagging"),
    Lesson("04", "Login"), Lesson("05", "Push"), Lesson("06", "Layer caching"), Lesson("07", "Security"),
    Lesson("08", "Production"), Lesson("09", "Under the hood"), Lesson("10", "Capstone"),
)
LESSON_NUMBERS: tuple[str, ...] = tuple(lesson.number for lesson in LESSONS)


@dataclass(frozen=True)
class Leftovers:
    """What an exercise leaves behind, by name relative to the learner, so that reset can undo it.

    `app_tags`: local tags of the hello app (`hello-lab:<tag>`); `lab_tags`: local names in the lab registry's
    namespace, (repository, tag) → `<registry>/<learner>/<repository>:<tag>`; `remote`: tags in the lab
    registry, (repository, tag), a tag of None meaning every tag; `login`: a Docker client login.
    """

    app_tags: tuple[str, ...] = ()
    lab_tags: tuple[tuple[str, str], ...] = ()
    remote: tuple[tuple[str, str | None], ...] = ()
    login: bool = False


@dataclass(frozen=True)
class Exercise:
    """One checked exercise: its id, lesson, title, whether it takes an answer, what a reset removes, and the
    catch-up step that makes its result for the lessons after it (None: later lessons do not need it)."""

    id: str
    lesson: str
    title: str
    answer: bool = False
    leftovers: Leftovers = Leftovers()
    catch_up: str | None = None

    @property
    def prefix(self) -> str:
        """The part of the id before the dot, which names the lesson's check module (`push.pushed` → push)."""
        return self.id.split(".", 1)[0]


_APP = HELLO_REPOSITORY

#: Every exercise of the course, in course order.
EXERCISES: tuple[Exercise, ...] = (
    Exercise("setup.registry", "00", "The lab registry answers /v2/ and asks for credentials",
             catch_up="registry-up"),
    Exercise("images.build", "01", "Build hello-lab:1.0 from the hello app",
             leftovers=Leftovers(app_tags=("1.0",)), catch_up="built"),
    Exercise("registries.anatomy", "02", "Split five references into host, repository, tag and digest",
             answer=True),
    Exercise("tagging.tag", "03", "Tag hello-lab:1.0 with the lab registry's name",
             leftovers=Leftovers(lab_tags=((_APP, "1.0"),)), catch_up="tagged"),
    Exercise("login.logged-in", "04", "Log the Docker client in to the lab registry",
             leftovers=Leftovers(login=True), catch_up="logged-in"),
    Exercise("push.pushed", "05", "Push hello-lab:1.0 to the lab registry",
             leftovers=Leftovers(remote=((_APP, "1.0"),)), catch_up="pushed"),
    Exercise("caching.minimal-upload", "06", "Push hello-lab:1.1 uploading only the changed layer",
             leftovers=Leftovers(app_tags=("1.1",), lab_tags=((_APP, "1.1"),), remote=((_APP, "1.1"),))),
    Exercise("security.no-secrets", "07", "Push hello-lab:secure with no secret in any layer",
             leftovers=Leftovers(app_tags=("secure",), lab_tags=((_APP, "secure"),),
                                 remote=((_APP, "secure"),))),
    Exercise("production.tags", "08", "Put 1.2.0, 1.2 and a commit tag on one digest",
             leftovers=Leftovers(lab_tags=((_APP, "1.2.0"), (_APP, "1.2")),
                                 remote=((_APP, "1.2.0"), (_APP, "1.2")))),
    Exercise("production.index", "08", "Push multi:1.0 as an image index of two platforms",
             leftovers=Leftovers(lab_tags=(("multi", "1.0"),), remote=(("multi", None),))),
    Exercise("hood.handmade", "09", "Push handmade:1.0 by hand over the registry's HTTP API",
             leftovers=Leftovers(lab_tags=(("handmade", "1.0"),), remote=(("handmade", None),))),
    Exercise("capstone.ship", "10", "Ship the capstone app end to end",
             leftovers=Leftovers(remote=(("capstone", None),))),
)

_BY_ID: dict[str, Exercise] = {exercise.id: exercise for exercise in EXERCISES}


def exercise(exercise_id: str) -> Exercise:
    """The exercise with this id; an unknown id raises UnknownExercise listing the known ones, closest first."""
    found = _BY_ID.get(exercise_id.strip()) if isinstance(exercise_id, str) else None  # a list is no id
    if found is not None:
        return found
    ids = list(_BY_ID)
    close = difflib.get_close_matches(str(exercise_id), ids, n=3, cutoff=0.4)
    ordered = close + [i for i in ids if i not in close]
    raise UnknownExercise(
        f"there is no exercise {exercise_id!r}; the exercises are: {', '.join(ordered)}",
        fix=f'check("{ordered[0]}")' if close else "labsupport progress  (lists every exercise)",
    )


def lesson_exercises(number: str) -> tuple[Exercise, ...]:
    """The exercises of one lesson, in course order."""
    return tuple(item for item in EXERCISES if item.lesson == number)


def lesson_number(lesson: str | int) -> str:
    """A lesson as its two-digit number ("3", 3, "03" and "03-tagging" are all "03"); LabError if unknown."""
    text = str(lesson).strip().split("-", 1)[0]
    number = text.zfill(2) if text.isdigit() else text
    if number not in LESSON_NUMBERS:
        raise LabError(f"there is no lesson {lesson!r}; the lessons are {LESSON_NUMBERS[0]} to "
                       f"{LESSON_NUMBERS[-1]}", fix='catch_up("03")   (the number of the notebook you are in)')
    return number


def catch_up_steps(before: str) -> tuple[str, ...]:
    """The catch-up steps a learner starting lesson `before` needs: those of every earlier exercise, in order."""
    return tuple(item.catch_up for item in EXERCISES if item.catch_up is not None and item.lesson < before)


class MythId(str, enum.Enum):
    """The course's myths; each has one `Myth` here and exactly one live proof (lessons/myths.py)."""

    UNTAGGED_PUSH = "untagged-push"
    FULL_UPLOAD = "full-upload"
    ANONYMOUS_PUSH = "anonymous-push"
    SECURE_BY_DEFAULT = "secure-by-default"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return self.value.__format__(spec)


@dataclass(frozen=True)
class Myth:
    """One myth of the course: the claim, whether it holds (none do), why, and what the live proof shows."""

    id: MythId
    claim: str
    true: bool
    explanation: str
    proof: str


MYTHS: dict[MythId, Myth] = {myth.id: myth for myth in (
    Myth(MythId.UNTAGGED_PUSH,
         "An image can be pushed to a registry without a registry name in its tag.",
         False,
         "docker push reads the destination out of the image's name, and nowhere else. A name with no host, "
         "such as hello-lab:1.0, is short for docker.io/library/hello-lab:1.0, so the push heads for Docker "
         "Hub's official namespace (and is refused there). To reach the lab's registry the image first needs "
         "a name that starts with the registry's host: "
         "docker tag hello-lab:1.0 <host>/<learner>/hello-lab:1.0.",
         "pushes an image tagged without a host and shows where the engine tried to send it"),
    Myth(MythId.FULL_UPLOAD,
         "Every push uploads the whole image again.",
         False,
         "Layers are addressed by the hash of their content. Before sending a layer the client asks the "
         "registry whether it already holds that digest: if it does, the layer is skipped (\"Layer already "
         "exists\"); if another repository of the same registry holds it, it is mounted without an upload "
         "(\"Mounted from\"). Only the layers the registry lacks travel, plus a small manifest, so a second "
         "push of an unchanged image sends almost nothing.",
         "pushes the same image twice and compares the bytes each push sent"),
    Myth(MythId.ANONYMOUS_PUSH,
         "A registry lets anyone push without logging in.",
         False,
         "A registry that is set up with authentication, like the lab's and every hosted one, answers an "
         "anonymous upload with 401 and a WWW-Authenticate challenge, and docker push stops with \"no basic "
         "auth credentials\". Only a registry deliberately run with no authentication accepts anonymous "
         "writes, and such a registry must never be reachable by others. Run docker login first.",
         "pushes from a Docker client that holds no credential for the lab registry"),
    Myth(MythId.SECURE_BY_DEFAULT,
         "Pushing is secure without further care.",
         False,
         "Each part needs care: plain HTTP is only tolerated for localhost, and listing another host under "
         "insecure-registries sends credentials and layers in clear text; docker login keeps the password "
         "base64-encoded (not encrypted) in ~/.docker/config.json unless a credential helper is set up; and "
         "anything written into a layer, even a secret deleted by a later step, is pushed and can be read by "
         "everyone who may pull the image. Use HTTPS, a credential helper or short-lived tokens, and keep "
         "secrets out of builds.",
         "pulls a pushed image apart and reads a secret that a later build step deleted"),
)}


def myth(myth_id: str | MythId) -> Myth:
    """The myth with this id, or UnknownExercise listing the ids the course has."""
    try:
        return MYTHS[MythId(myth_id.strip() if isinstance(myth_id, str) else myth_id)]
    except (ValueError, TypeError):
        known = ", ".join(MYTHS)
        raise UnknownExercise(f"there is no myth {myth_id!r}; the course has: {known}",
                              fix=f"MythCard({next(iter(MYTHS)).value!r})") from None

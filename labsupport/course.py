"""Pure: the course as data, stated once. Lessons, exercises, what a reset removes, the catch-up steps, myths,
predictions.

Everything else reads this module: the checks register a function for each exercise id here, reset undoes an
exercise's `Leftovers`, catch-up runs the `catch_up` step of every exercise before a lesson, the course map
draws `LESSONS`, progress and the workshop's board list `EXERCISES`, a myth card renders a `Myth` (each myth
has exactly one live proof registered under its `MythId`), and a `Predict("<id>")` cell asks a `Prediction`
whose answer stays here, out of the learner's notebook, until the learner commits. Exercise ids are a public
contract (`../shared/curriculum.md`): they never change.
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
         "auth credentials\". Only a registry run with no authentication (which is what a plain registry:2 "
         "container does unless it is configured otherwise) accepts anonymous writes, and such a registry must "
         "never be reachable by others. Ours asks: run docker login first.",
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


@dataclass(frozen=True)
class Prediction:
    """One prediction a lesson asks before its experiment: the question, its choices (or a number), the answer
    and why. `containerd_answer`, when set, is the answer on the containerd image store, where it differs.
    The id starts with the lesson's number (`05.first-push-layers`); progress records the learner's answer
    under it. A learner copy names only the id: the answer lives here, shown after the learner commits."""

    id: str
    question: str
    choices: tuple[str, ...]
    answer: str | int
    explanation: str
    containerd_answer: str | int | None = None

    @property
    def lesson(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def number(self) -> bool:
        """Whether the learner answers with a number (no choices)."""
        return not self.choices


_TAG_SAME = "no, the same id"
_CATALOG_EMPTY = "nothing yet: an empty list"
_ONE_IMAGE = "one, with two names"
_HTTPS_ONLY = "no: for that name the engine insists on HTTPS"
_STILL_INSIDE = "yes: the deleted file is still inside the pushed image"
_MOUNTED = "none: the registry already stores them under another repository"
_BOTH_LAYERS = "the app's layer and the 1.5 MB dependency layer above it"
_LATEST_OLD = "1.0, the image last pushed as latest"

#: Every prediction of the course, in course order.
PREDICTIONS: dict[str, Prediction] = {prediction.id: prediction for prediction in (
    Prediction("00.v2-status", "You GET /v2/ from the lab registry without any credentials. What does it answer?",
               ("200 OK: come in", "401 Unauthorized: who are you?", "404 Not Found: no such page"),
               "401 Unauthorized: who are you?",
               "The lab registry is set up with a user and password (like every hosted registry), so it refuses "
               "anonymous requests. The 401 is not a failure: it is the registry telling the client how to log "
               "in."),
    Prediction("01.new-layers", "How many layers will the build add on top of the base image?", (), 2,
               "RUN and COPY change files, so each makes a layer. CMD (like ENV, ARG, LABEL, EXPOSE) only "
               "changes the config: it makes a history entry but no layer. FROM adds nothing of its own: it "
               "starts from the base image's layers."),
    Prediction("01.tag-same-id",
               "You give hello-lab:1.0 a second name with docker tag. Does the new name get a new image id?",
               ("yes, a new id", _TAG_SAME), _TAG_SAME,
               "docker tag copies nothing: it adds a name that points at the same image id."),
    Prediction("02.catalog", "What will the registry's catalog (its list of repositories) show right now?",
               ("hello-lab", "busybox and hello-lab", _CATALOG_EMPTY), _CATALOG_EMPTY,
               "Building stores an image in your Docker engine only. A registry holds nothing until something "
               "is pushed to it: the engine and the registry are separate stores."),
    Prediction("02.alice-port", "In the reference alice/web:5000, is 5000 a port of a registry host?",
               ("yes", "no"), "no",
               "alice has no '.' or ':' and is not localhost, so it is not a host: the reference is on "
               "docker.io, the repository is alice/web, and 5000 is its tag. Compare localhost:5000/web, where "
               "the ':' comes before the first '/'."),
    Prediction("03.tag-copies",
               "After `docker tag hello-lab:1.0 hello-lab:pointer`, how many copies of the image does the engine "
               "keep?", (_ONE_IMAGE, "two, one per name"), _ONE_IMAGE,
               "docker tag writes a name into the engine's list of names and points it at an image id. No layer "
               "is copied: both names lead to the same id, so the same bytes."),
    Prediction("04.push-before-login",
               "Will `docker push` of your image's lab name (`<registry>/<learner>/hello-lab:1.0`) work before "
               "you have logged in?", ("yes", "no"), "no",
               "The lab registry, like every hosted one, requires a login for writes (a registry run with no "
               "authentication would accept the push; ours does not). Without a login the Docker client has "
               "nothing to send, and the push stops at the first request the registry refuses."),
    Prediction("05.first-push-layers", "How many layers will the first push of hello-lab:1.0 upload?", (), 3,
               "hello-lab:1.0 has 3 filesystem layers: the busybox base, the RUN step that writes the fact "
               "file, and the COPY of the app. Steps like CMD or ENV change only the image's config, a small "
               "JSON document sent beside the layers. Where BuildKit builds on the containerd image store, the "
               "push lists one more row: the blob of the build's provenance attestation, which is no layer of "
               "your image."),
    Prediction("05.pull-same-id",
               "After removing the image and pulling it back by digest, will it have the same image id as "
               "before?", ("yes", "no"), "yes",
               "The image id is a hash of the image's own content (on the classic image store, of its config; on "
               "the containerd store, of the index or manifest the tag names), and that content travelled "
               "unchanged. Same bytes, same hash, same id."),
    Prediction("06.repush-layers",
               "You push hello-lab:1.0 again, unchanged. How many of its layers will be uploaded?", (), 0,
               "Before sending a layer, the client asks the registry whether it holds that layer's digest "
               "(HEAD /v2/<repository>/blobs/<digest>). The registry has all of them since lesson 05, so every "
               "layer is skipped and only the manifest, a few hundred bytes, is sent again."),
    Prediction("06.new-version-layers", "How many layers will the push of hello-lab:1.1 upload?", (), 1,
               "Only the COPY step reads the changed VERSION file, and it is the last step that makes a layer. "
               "The base layer and the RUN layer come from the cache, keep their digests, and the repository "
               "already holds them; the config and the manifest are new but are not layers. (With BuildKit on "
               "the containerd store, the push also sends this build's new provenance attestation: a small "
               "blob that is no layer of your image.)"),
    Prediction("06.mount",
               "You push hello-lab:1.0 into a brand-new repository of the same registry, learner/hello-copy. "
               "How many bytes of layers will travel?",
               ("all of them: the new repository has none of its layers", _MOUNTED), _MOUNTED,
               "The engine remembers which repository of this registry it pushed (or pulled) each layer to. It "
               "asks the registry to mount the blob from there into the new repository: one request, no bytes, "
               "as long as your login may read the repository it comes from."),
    Prediction("06.bad-order",
               "With the app copied first (Dockerfile), you change one line of the app, rebuild with the cache "
               "and push. What does the push upload?", ("only the app's small layer", _BOTH_LAYERS),
               _BOTH_LAYERS,
               "A cached step can only be reused when the layer below it is unchanged. The app's COPY changed, "
               "so the RUN step above it runs again and makes a new 1.5 MB layer, which the registry has never "
               "seen."),
    Prediction("07.http-other-host",
               "The engine pushes to the lab over plain HTTP as localhost. Will a push to the very same registry "
               "work when you name it by another address, one that is not a loopback address?",
               ("yes: same registry, same login", _HTTPS_ONLY), _HTTPS_ONLY,
               "The engine speaks HTTPS to every registry except the ones it is told to trust without it, and by "
               "default that list holds only the loopback network 127.0.0.0/8 (localhost qualifies by resolving "
               "there), whose traffic never leaves the machine. Any other name must answer over HTTPS."),
    Prediction("07.deleted-secret", "After this image is pushed, can someone who may pull it read the token?",
               ("no: the file was deleted before the image was finished", _STILL_INSIDE), _STILL_INSIDE,
               "Each step's layer is a tar of what that step changed. The RUN that writes /app/.env keeps it in "
               "its layer for good; the later `rm` only adds a layer with a marker that hides the file from "
               "containers. Every pull downloads both layers. The build argument is recorded in the image's "
               "history as well."),
    Prediction("08.release-digests",
               "After pushing one image as 1.2.0, 1.2 and a commit id, how many different manifest digests do "
               "the three tags resolve to?", (), 1,
               "A tag is a name for a manifest, and the three pushes send the same image, so the same manifest "
               "bytes and the same sha256. The second and third push upload nothing: they only add a name."),
    Prediction("08.index-pull",
               "Your machine pulls an image index that lists two platforms. How many platform images does it "
               "download?", (), 1,
               "The client reads the index, picks the entry whose platform matches its own OS and CPU, and "
               "pulls that image only. The other entries stay in the registry."),
    Prediction("08.latest",
               "The registry holds 1.0 and 1.2.0. Then an old script pushes the repository's name without a tag, "
               "from a machine that has only the 1.0 build. Which version does a pull of the name without a tag "
               "give you?", ("1.2.0, the newest release", _LATEST_OLD), _LATEST_OLD,
               "latest is whatever image was last pushed under that name. Pushing 1.2.0 never touched it, and "
               "the push without a tag pointed it at the old build."),
    Prediction("09.by-hand",
               "Can docker pull and docker run use an image that no docker build ever made, written by hand as a "
               "tar file and two JSON documents?", ("yes", "no"), "yes",
               "Docker and the registry check content by its hash and follow the documents' structure; they "
               "never ask what made them. Every tool that writes the right blobs and manifest makes a real "
               "image: buildx, kaniko, ko, jib, and you, in a few minutes."),
    Prediction("09.head-first",
               "The push below sends the base layer (already in another of your repositories), a layer built a "
               "moment ago, and the config. Does the engine ask HEAD (do you have it?) before sending each of "
               "the three?", ("yes, all three", "not the new layer"), "not the new layer",
               "A HEAD names the blob by the digest of its compressed bytes, and it depends on your image store. "
               "The classic store knows that digest for the config and for a layer it pushed before, so it asks "
               "about those: 200 means skip, 404 means mount or upload. A layer built a moment ago has never "
               "been compressed there, so it opens an upload at once and learns the digest while sending. The "
               "containerd store (Docker Desktop's) keeps every layer compressed, so it knows every digest up "
               "front and asks HEAD for each blob, the new layer included (and, with BuildKit, for the "
               "attestation's blobs too).", containerd_answer="yes, all three"),
    Prediction("10.one-layer",
               "After shipping 1.0.0, you change the app's VERSION to 1.0.1, rebuild and push. How many layers "
               "does that push upload?", (), 1,
               "Only the last step, the COPY of the app's files, reads VERSION. Every step before it comes from "
               "the build cache with the same layer, which the registry already has, so the push sends that one "
               "new layer plus a new config and manifest. (With BuildKit on the containerd store it also sends "
               "the build's new provenance attestation, which is no layer.)"),
)}


def prediction(prediction_id: str) -> Prediction:
    """The prediction with this id; an unknown id raises UnknownExercise naming the closest ones."""
    found = PREDICTIONS.get(prediction_id.strip()) if isinstance(prediction_id, str) else None
    if found is not None:
        return found
    ids = list(PREDICTIONS)
    close = difflib.get_close_matches(str(prediction_id), ids, n=3, cutoff=0.4)
    raise UnknownExercise(
        f"there is no prediction {prediction_id!r}; "
        + (f"the closest: {', '.join(close)}" if close else f"the course has: {', '.join(ids)}"),
        fix=f'Predict("{(close or ids)[0]}")')

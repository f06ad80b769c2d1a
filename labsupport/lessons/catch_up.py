"""What catch-up does for a learner who starts at a later lesson: each step of the course's data, idempotently.

`course.catch_up_steps(lesson)` names the steps the lessons before it leave behind (the registry up, hello-lab
built, tagged, the Docker client logged in, the push); `STEPS` holds the function of each. Every step first
looks for its result and says "found: …" when it is there, so a second catch-up changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..checks import images
from ..config import LabConfig, course_app
from ..dockercli import builds_with_buildkit, login, run_docker
from ..dockerconfig import load_credential
from ..engine import Engine
from ..errors import BuildFailed, ManifestUnknown, NameUnknown
from ..lab import Lab, lab_registry
from ..registry import probe

HELLO_TAG = "1.0"


def hello_ref() -> str:
    """hello-lab:1.0 by the checks' own local name (which tests change)."""
    return f"{images.LOCAL_NAME}:{HELLO_TAG}"


def app_dir(name: str = "hello") -> Path:
    """A course app's folder: the learner's copy beside the notebooks, else the checkout's (config.course_app)."""
    return course_app(name)


def build_hello(config: LabConfig, tag: str) -> str:
    """Build the hello app the way a learner does, with the docker CLI and its defaults: BuildKit where the
    client has buildx (an image index with a provenance attestation on the containerd store), else the classic
    builder."""
    folder = app_dir()
    done = run_docker(["build", "-q", "-t", tag, "--build-arg", f"BASE={config.base_image}", str(folder)],
                      timeout=600)
    if not done.ok:
        raise BuildFailed(f"the build of {tag} failed: {done.last_words}",
                          fix=f"docker build -t {tag} --build-arg BASE={config.base_image} {folder}   "
                              "(shows the whole build output)")
    return f"built {tag} from {folder} (BASE={config.base_image}, docker build)"


def _lab_up(config: LabConfig) -> str:
    lab = Lab(config)
    if lab.status().ready:
        return f"found: the lab registry is running at {config.registry}"
    notes = lab.up()
    return f"started the lab registry at {config.registry}" + "".join(f"\n  note: {n}" for n in notes)


def _built(config: LabConfig) -> str:
    """hello-lab:1.0, built. Where `docker build` is BuildKit's, later builds reuse what BuildKit's cache holds,
    not the layers of the image by that name (pulled back in lesson 05, or built by another builder), so the
    image is built again (a cached build takes a second) and its layers are what the next build reuses."""
    eng, ref = Engine.connect(config=config), hello_ref()
    if not eng.exists(ref):
        return build_hello(config, ref)
    if not builds_with_buildkit():                 # False too without a docker command
        return f"found: {ref} is built"
    probe = f"{images.LOCAL_NAME}:catch-up"            # built beside it: a BuildKit build is a new image id every time
    build_hello(config, probe)
    try:
        if eng.image_view(probe).diff_ids == eng.image_view(ref).diff_ids:
            return f"found: {ref} is built, its steps in BuildKit's cache"
        eng.tag(probe, ref)
    finally:
        eng.remove(probe, missing_ok=True)    # the name only; the image too where no other name holds it
    return (f"rebuilt {ref}: BuildKit's cache did not hold the steps of the image by that name, so a new "
            "version would not have reused its layers")


def _tagged(config: LabConfig) -> str:
    eng, local, ref = Engine.connect(config=config), f"{images.LOCAL_NAME}:{HELLO_TAG}", config.ref(images.LOCAL_NAME, HELLO_TAG)
    if eng.exists(ref) and eng.image_id(ref) == eng.image_id(local):
        return f"found: {ref} names the same image as {local}"
    eng.tag(local, ref)
    return f"tagged {local} as {ref}"


def _logged_in(config: LabConfig) -> str:
    held = load_credential(config.registry)
    if held is not None:
        answer = probe(config.registry_url, (held.username, held.secret))
        if answer is not None and answer.status_code == 200:
            return f"found: the Docker client is logged in to {config.registry} as {held.username}"
    login(config.registry, config.learner, Lab(config).password(), timeout=60, fix="labsupport doctor",
          cannot_run_fix="install the docker command line, then run this cell again")
    return f"logged the Docker client in to {config.registry} as {config.learner}"


def _pushed(config: LabConfig) -> str:
    eng, ref, repository = Engine.connect(config=config), config.ref(images.LOCAL_NAME, HELLO_TAG), f"{config.learner}/{images.LOCAL_NAME}"
    with lab_registry(config) as client:
        try:
            there = client.remote_view(repository, HELLO_TAG).diff_ids
        except (NameUnknown, ManifestUnknown):
            there = ()
        if there and tuple(there) == eng.image_view(ref).diff_ids:
            return f"found: {ref} is in the registry"
        report = eng.push(ref, client)
    return f"pushed {ref} ({report.digest})"


#: The step that makes each catch-up result of the course's data (`Exercise.catch_up`), idempotently.
STEPS: dict[str, Callable[[LabConfig], str]] = {
    "registry-up": _lab_up,
    "built": _built,
    "tagged": _tagged,
    "logged-in": _logged_in,
    "pushed": _pushed,
}

"""The widgets in a real JupyterLab, on real parts: a notebook run in headless Chromium, its DOM read back.

The notebook's kernel uses the notebook API (`labsupport`) against the shared test lab: it builds a small image
on the lab's base image, shows its layers, pushes it twice and proves a myth live. The test compares what the
page shows with what the engine itself says about the image (the docker SDK), never with constants. The check,
predict and course-map widgets keep their hand-made inputs: what they need from the lab is tested elsewhere.
The registry browser is walked by clicks to the layers of an image built and pushed as a learner does it
(the docker CLI, with the client's plugins): on the containerd store with BuildKit, through an image index.
"""

from __future__ import annotations

import os
import re
import subprocess
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker.errors
import nbformat
import pytest

from labsupport.engine import Engine

from .conftest import ARTIFACTS, KERNEL_IDLE

pytestmark = [pytest.mark.browser, pytest.mark.docker]

APP_FOLDER = "hd2-app"
#: A small app on the lab's base image: two filesystem layers of its own (COPY, RUN) and two empty steps.
DOCKERFILE = """\
ARG BASE
FROM ${BASE}
COPY greeting.txt /app/greeting.txt
RUN echo "built for the widgets test" > /app/built.txt
ENV GREETING=hello
CMD ["cat", "/app/greeting.txt"]
"""

SETUP = """
from pathlib import Path
from types import SimpleNamespace
from labsupport import MythCard, engine, lab_config, push, show_layers
from labsupport.widgets import CheckButton, CourseMap, Predict

config = lab_config()
REF = config.ref("{repository}", "1.0")
engine().build(Path("{folder}"), REF, buildargs={{"BASE": config.base_image}})
print(f"built {{REF}} on {{config.base_image}}")
"""

LAYERS = "show_layers(REF)"

PUSH = "push(REF)"

MYTH = """MythCard("full-upload")"""

CHECK = """
CheckButton("push.pushed", lambda exercise: SimpleNamespace(
    exercise=exercise, passed=False, code="not-pushed",
    message="learner/hello-lab:1.0 is not in the registry",
    hint="docker push localhost:5001/learner/hello-lab:1.0"))
"""

PREDICT = """Predict("How many layers will the push upload?", number=True, answer=2,
        explanation="Only the two layers the registry lacks travel.")"""

COURSE = """CourseMap({"setup.registry", "images.build"})"""


@pytest.fixture
def image_repository(docker_client, lab) -> Iterator[str]:
    """A unique lab repository name (hd2-…) for the notebook's image; its local tag is removed afterwards."""
    repository = f"hd2-widgets-{uuid.uuid4().hex[:8]}"
    yield repository
    try:
        docker_client.images.remove(lab.config.ref(repository, "1.0"))
    except docker.errors.ImageNotFound:
        pass


def write_notebook(root, repository: str) -> int:
    """The app folder and a notebook of widget cells (python3 kernel named, so no dialog); the cell count."""
    app = root / APP_FOLDER
    app.mkdir()
    (app / "Dockerfile").write_text(DOCKERFILE)
    (app / "greeting.txt").write_text(f"hello from {repository}\n")   # new bytes: a layer new to the registry
    cells = [SETUP.format(repository=repository, folder=APP_FOLDER), LAYERS, PUSH, PUSH, MYTH,
             CHECK, PREDICT, COURSE]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(textwrap.dedent(c).strip())
                                               for c in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                       "language": "python"}
    nbformat.write(notebook, str(root / "widgets.ipynb"))
    return len(cells)


def run_all_cells(page, url: str, cells: int) -> None:
    """Open the notebook, wait for its kernel, run every cell and wait until each has an execution count."""
    from playwright.sync_api import expect

    page.goto(url)
    expect(page.locator(".jp-Notebook .jp-Cell")).to_have_count(cells)
    expect(page.get_by_text(KERNEL_IDLE)).to_be_visible(timeout=60_000)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    selector = ".jp-Notebook .jp-CodeCell .jp-InputArea-prompt"
    prompts = page.locator(selector)
    page.wait_for_function(
        """([selector, n]) => { const p = [...document.querySelectorAll(selector)];
                    return p.length === n && p.every(e => /\\[\\d+\\]/.test(e.textContent)); }""",
        arg=[selector, cells], timeout=90_000)
    expect(prompts).to_have_count(cells)
    expect(page.get_by_text(KERNEL_IDLE)).to_be_visible()


def shoot(target, name: str) -> None:
    """Save a screenshot of a widget (a locator) or of the whole page under test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    target.screenshot(path=str(ARTIFACTS / f"widgets-{name}.png"))


def check_layer_stack(page, diff_ids: list[str]) -> None:
    """One row per filesystem layer of the real image, in its order, none of them in the registry yet."""
    from playwright.sync_api import expect

    stack = page.locator(".jp-OutputArea-output .lab-layerstack")
    expect(stack).to_have_count(1)
    rows = stack.locator(".lab-layer")
    expect(rows).to_have_count(len(diff_ids))
    assert [rows.nth(i).get_attribute("data-digest") for i in range(len(diff_ids))] == diff_ids
    expect(stack.locator(".lab-layerstack-title")).to_contain_text(f"{len(diff_ids)} layers")
    expect(stack.locator(".lab-layer--there")).to_have_count(0)      # the repository is new to the lab
    expect(stack.locator(".lab-step--empty")).not_to_have_count(0)   # ENV, CMD: steps without a layer
    expect(stack.locator(".lab-push-total")).to_contain_text("A push would send about")
    shoot(stack, "layerstack")


def check_push_monitors(page, layers: int, new_layers: int, digest: str, classic: bool) -> None:
    """First push: every bar pushed or mounted, the new layers pushed. Second: every bar already exists."""
    from playwright.sync_api import expect

    monitors = page.locator(".jp-OutputArea-output .lab-pushmonitor")
    expect(monitors).to_have_count(2)
    first, again = monitors.nth(0), monitors.nth(1)
    for monitor in (first, again):
        expect(monitor.locator(".lab-push-status")).to_have_text("done")
        expect(monitor.locator(".lab-push-summary")).to_contain_text(digest)
    bars = first.locator(".lab-push-bar")
    if classic:   # the classic store names layers only; containerd's may list an attestation's blob too
        expect(bars).to_have_count(layers)
    count = bars.count()
    assert count >= layers
    extra = first.locator(".lab-push-layer", has_text="the attestation (provenance)")
    expect(extra).to_have_count(count - layers)                 # each row beyond the layers says what it is
    expect(first.locator(".lab-push-layer", has_text=re.compile(r"layer \d+ of "))).to_have_count(layers)
    for index in range(count):
        expect(bars.nth(index)).to_have_class(re.compile(r"\blab-push-bar--(pushed|mounted)\b"))
    assert first.locator(".lab-push-bar--pushed").count() >= new_layers
    expect(first.locator(".lab-push-summary")).to_contain_text(re.compile(r"\([1-9]\d* layers? uploaded"))
    shoot(first, "pushmonitor")

    again_bars = again.locator(".lab-push-bar")
    expect(again_bars).to_have_count(count)
    expect(again.locator(".lab-push-bar--exists")).to_have_count(count)
    for index in range(count):
        expect(again_bars.nth(index).locator("xpath=..")).to_contain_text("already exists")
    expect(again.locator(".lab-push-summary")).to_contain_text("sent 0 B")
    expect(again.locator(".lab-push-summary")).to_contain_text("(0 layers uploaded")
    shoot(again, "pushmonitor-again")


def check_myth_card(page) -> None:
    """The reveal stays out until No is pressed; "Prove it" then shows the real pushes' bytes."""
    from playwright.sync_api import expect

    card = page.locator(".jp-OutputArea-output .lab-myth")
    expect(card.locator(".lab-myth-claim")).to_contain_text("Every push uploads the whole image again.")
    expect(card.locator(".lab-myth-reveal")).to_have_count(0)
    expect(card.locator("button.lab-myth-prove")).to_have_count(0)
    shoot(card, "myth-before")
    card.locator("button.lab-myth-no").click()
    expect(card.locator(".lab-myth-reveal")).to_be_visible()
    expect(card.locator(".lab-myth-reveal")).to_contain_text("You said no: right. It is a myth.")
    expect(card.locator("button.lab-myth-yes")).to_be_disabled()
    card.locator("button.lab-myth-prove").click()
    output = card.locator("pre.lab-myth-proof-output")
    expect(output).to_contain_text("the same push again 0 B", timeout=60_000)
    expect(output).to_contain_text(re.compile(r"push 2: .*\n\s+\d+ layers?: 0 pushed, \d+ already there"))
    expect(card.locator(".lab-myth-proof")).to_contain_text("What really happened:")
    shoot(card, "myth-after")


def test_widgets_on_a_real_image_and_lab(lab_jupyterlab, page, docker_client, lab, image_repository):
    from playwright.sync_api import expect

    cells = write_notebook(lab_jupyterlab.root, image_repository)
    run_all_cells(page, lab_jupyterlab.notebook_url("widgets.ipynb"), cells=cells)

    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    expect(errors).to_have_count(0)
    expect(page.locator(".jp-OutputArea-output", has_text="Traceback")).to_have_count(0)
    expect(page.locator(".jp-OutputArea-output", has_text="Problem:")).to_have_count(0)

    ref = lab.config.ref(image_repository, "1.0")
    image = docker_client.images.get(ref)
    diff_ids = list(image.attrs["RootFS"]["Layers"])
    base_layers = len(docker_client.images.get(lab.config.base_image).attrs["RootFS"]["Layers"])
    pushed_as = [d for d in image.attrs.get("RepoDigests") or [] if d.startswith(ref.rsplit(":", 1)[0] + "@")]
    assert len(pushed_as) == 1, image.attrs.get("RepoDigests")
    classic = Engine(docker_client).info().image_store == "classic"

    check_layer_stack(page, diff_ids)
    check_push_monitors(page, len(diff_ids), len(diff_ids) - base_layers, pushed_as[0].split("@", 1)[1],
                        classic)
    check_myth_card(page)

    check = page.locator(".jp-OutputArea-output .lab-checkbutton")
    check.locator("button.lab-check-button").click()
    expect(check.locator(".lab-check--failed")).to_be_visible()
    expect(check.locator("pre.lab-check-hint")).to_have_text(
        "docker push localhost:5001/learner/hello-lab:1.0")

    predict = page.locator(".jp-OutputArea-output .lab-predict")
    expect(predict.locator(".lab-predict-reveal")).to_have_count(0)
    predict.locator(".lab-predict-number input").fill("2")
    predict.locator("button.lab-predict-commit").click()
    expect(predict.locator(".lab-predict-reveal")).to_contain_text("You predicted 2. The answer is 2: right.")
    expect(predict.locator("button.lab-predict-commit")).to_be_disabled()

    course = page.locator(".jp-OutputArea-output .lab-coursemap")
    expect(course.locator(".lab-lesson")).to_have_count(11)
    expect(course.locator(".lab-lesson--done")).to_have_count(2)
    expect(course.locator(".lab-lesson--here")).to_contain_text("02 Registries")
    shoot(check, "checkbutton")
    shoot(predict, "predict")
    shoot(course, "coursemap")
    shoot(page, "page")


# -- the registry browser -------------------------------------------------------------------------------------

BROWSER_DOCKERFILE = """\
ARG BASE
FROM ${BASE}
COPY note.txt /app/note.txt
CMD ["cat", "/app/note.txt"]
"""


def build_and_push_as_a_learner(folder: Path, ref: str, base: str, docker_config: Path) -> None:
    """`docker build` and `docker push` with the docker CLI and the learner's client config (its plugins)."""
    folder.mkdir()
    (folder / "Dockerfile").write_text(BROWSER_DOCKERFILE)
    (folder / "note.txt").write_text(f"{ref}\n")
    env = {**os.environ, "DOCKER_CONFIG": str(docker_config)}
    for command in (["docker", "build", "-q", "--build-arg", f"BASE={base}", "-t", ref, str(folder)],
                    ["docker", "push", "-q", ref]):
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300,
                              check=False)
        assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout[-1500:]}{done.stderr[-1500:]}"


@pytest.fixture
def browsed_image(docker_client, lab, docker_config_dir, tmp_path) -> Iterator[tuple[str, str]]:
    """A repository (hd2-browse-…) holding tag 1.0, pushed as a learner pushes it; its local tag removed after."""
    repository = f"hd2-browse-{uuid.uuid4().hex[:8]}"
    ref = lab.config.ref(repository, "1.0")
    build_and_push_as_a_learner(tmp_path / "browse-app", ref, lab.config.base_image, docker_config_dir)
    yield f"{lab.config.learner}/{repository}", ref
    try:
        docker_client.images.remove(ref)
    except docker.errors.ImageNotFound:
        pass


def test_registry_browser_walks_to_the_layers_of_a_pushed_image(lab_jupyterlab, page, docker_client, lab,
                                                                browsed_image, docker_config_dir):
    """Click the repository, the tag and, where the tag names an index (the containerd store with BuildKit),
    the engine's platform: the image's layers appear, as the registry lists them."""
    from playwright.sync_api import expect

    from labsupport.dockerconfig import Credential
    from labsupport.registry import RegistryClient

    repository, _ = browsed_image
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "from labsupport import RegistryBrowser\nRegistryBrowser()")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                       "language": "python"}
    nbformat.write(notebook, str(lab_jupyterlab.root / "browser.ipynb"))
    run_all_cells(page, lab_jupyterlab.notebook_url("browser.ipynb"), cells=1)

    engine = Engine(docker_client)
    user, password = lab.auth()
    with RegistryClient(lab.config.registry_url, credential=Credential(user, password)) as registry:
        top = registry.manifest(repository, "1.0")
        image = registry.image_manifest(repository, "1.0", engine.platform())
    buildx = (docker_config_dir / "cli-plugins" / "docker-buildx").exists()
    assert top.is_index is (engine.info().image_store == "containerd" and buildx), top.media_type

    browser = page.locator(".jp-OutputArea-output .lab-registry-browser")
    expect(browser).to_have_count(1)
    browser.locator("button.lab-repo", has_text=repository).click()
    browser.locator("button.lab-tag", has_text="1.0").click()
    shown = browser.locator(".lab-registry-manifest")
    expect(shown).to_contain_text(top.digest)
    layers_at = shown
    if top.is_index:
        expect(shown.locator(".lab-registry-layer")).to_have_count(0)   # an index has no layers of its own
        expect(shown).to_contain_text("an image index")
        (proof,) = top.attestations
        attestation = browser.locator("button.lab-registry-attestation")
        expect(attestation).to_have_text(f"attestation (provenance) of sha256:{image.digest[7:19]}…")
        platform = browser.locator("button.lab-registry-platform", has_text=engine.platform())
        expect(platform).to_have_count(1)
        platform.click()
        layers_at = browser.locator(".lab-registry-entry-manifest")
        expect(layers_at).to_contain_text(image.digest)
        expect(layers_at).to_contain_text(image.config.digest)
    rows = layers_at.locator(".lab-registry-layer")
    expect(rows).to_have_count(len(image.layers))
    assert [rows.nth(i).get_attribute("data-digest") for i in range(len(image.layers))] == [
        blob.digest for blob in image.layers]
    shoot(browser, "registry-browser")
    if top.is_index:
        browser.locator("button.lab-registry-attestation").click()
        statement = browser.locator(".lab-registry-entry-manifest")
        expect(statement).to_contain_text("the in-toto statement BuildKit wrote about the build")
        expect(statement.locator(".lab-registry-layer")).to_have_count(1)
        expect(statement).to_contain_text("application/vnd.in-toto+json")
        assert proof in (statement.text_content() or "")
        shoot(browser, "registry-browser-attestation")

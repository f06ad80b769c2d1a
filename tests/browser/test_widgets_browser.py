"""The widgets in a real JupyterLab: run a notebook of them in headless Chromium and read the DOM.

The notebook builds model objects by hand and feeds the PushMonitor from a scripted runner (real-engine cells
come later); what is tested here is that the views render and react in the front end learners use.
"""

from __future__ import annotations

import re
import textwrap

import nbformat
import pytest

from .conftest import ARTIFACTS, KERNEL_IDLE

pytestmark = pytest.mark.browser

SETUP = """
import time
from types import SimpleNamespace
from labsupport.model import (Blob, ImageView, Layer, LayerOutcome, PushEvent, PushPhase, PushReport,
                              RemoteView, diff_image)
from labsupport.widgets import CheckButton, CourseMap, LayerStack, MythCard, Predict, PushMonitor

BASE, COPY, RUN = ("sha256:" + c * 64 for c in "abc")
image = ImageView("sha256:" + "e" * 64, ("hello-lab:1.1",), (
    Layer(BASE, 2_124_800, "ADD file:0a1b in /"),
    Layer("", 0, 'CMD ["sh"]', empty=True),
    Layer(COPY, 3_072, "COPY hello.sh /app/hello.sh"),
    Layer(RUN, 2_560, "RUN chmod +x /app/hello.sh"),
    Layer("", 0, 'ENTRYPOINT ["/app/hello.sh"]', empty=True),
))
remote = RemoteView("learner/hello-lab", "1.0", "sha256:" + "1" * 64, "m", "sha256:" + "2" * 64,
                    blobs=(Blob("sha256:" + "3" * 64, 1_068_519),), diff_ids=(BASE,))
diff = diff_image(image, "learner/hello-lab", remote)
"""

LAYERS = "LayerStack(diff)"

MYTH = """MythCard("full-upload", prover=lambda: "second push: 3 layers already existed, 0 B uploaded")"""

PUSH = """
def runner(on_event):
    ids = ("aaaaaaaaaaaa", "bbbbbbbbbbbb", "cccccccccccc")
    for layer in ids:
        on_event(PushEvent(layer, PushPhase.PREPARING))
    on_event(PushEvent(ids[0], PushPhase.EXISTS))
    for step in range(1, 11):
        time.sleep(0.05)
        on_event(PushEvent(ids[1], PushPhase.PUSHING, step * 300, 3_000))
        on_event(PushEvent(ids[2], PushPhase.PUSHING, step * 250, 2_500))
    on_event(PushEvent(ids[1], PushPhase.PUSHED))
    on_event(PushEvent(ids[2], PushPhase.PUSHED))
    return PushReport("localhost:5001/learner/hello-lab:1.1", "sha256:" + "d" * 64, 942, (
        LayerOutcome(ids[0], "exists", 1_068_519), LayerOutcome(ids[1], "pushed", 168),
        LayerOutcome(ids[2], "pushed", 154)), seconds=0.6)

monitor = PushMonitor.show("localhost:5001/learner/hello-lab:1.1", runner)
"""

CHECK = """
CheckButton("push.pushed", lambda exercise: SimpleNamespace(
    exercise=exercise, passed=False, code="not-pushed",
    message="learner/hello-lab:1.0 is not in the registry",
    hint="docker push localhost:5001/learner/hello-lab:1.0"))
"""

PREDICT = """Predict("How many layers will the push upload?", number=True, answer=2,
        explanation="Only the two layers the registry lacks travel.")"""

COURSE = """CourseMap({"setup.registry", "images.build"})"""


def write_notebook(path) -> None:
    """A notebook of widget cells, with the python3 kernel named so no kernel dialog opens."""
    cells = [SETUP, LAYERS, MYTH, PUSH, CHECK, PREDICT, COURSE]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(textwrap.dedent(c).strip())
                                               for c in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                       "language": "python"}
    nbformat.write(notebook, str(path))


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


def test_widgets_render_and_react_in_jupyterlab(jupyterlab, page):
    from playwright.sync_api import expect

    write_notebook(jupyterlab.root / "widgets.ipynb")
    run_all_cells(page, jupyterlab.notebook_url("widgets.ipynb"), cells=7)

    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    expect(errors).to_have_count(0)
    expect(page.locator(".jp-OutputArea-output", has_text="Traceback")).to_have_count(0)

    stack = page.locator(".jp-OutputArea-output .lab-layerstack")
    expect(stack).to_have_count(1)
    expect(stack.locator(".lab-layer")).to_have_count(3)          # the image's three filesystem layers
    expect(stack.locator(".lab-step--empty")).to_have_count(2)
    expect(stack.locator(".lab-layer--there")).to_have_count(1)
    expect(stack.locator(".lab-layer--upload")).to_have_count(2)
    expect(stack.locator(".lab-push-total")).to_contain_text("A push would send about 5.6 kB")
    shoot(stack, "layerstack")

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
    expect(card.locator(".lab-myth-proof")).to_contain_text("0 B uploaded")
    shoot(card, "myth-after")

    monitor = page.locator(".jp-OutputArea-output .lab-pushmonitor")
    expect(monitor).to_have_count(1)
    bars = monitor.locator(".lab-push-bar")
    expect(bars).to_have_count(3)
    for index in range(3):
        expect(bars.nth(index)).to_have_class(re.compile(r"\blab-push-bar--(pushed|exists)\b"))
    expect(monitor.locator(".lab-push-bar--pushed")).to_have_count(2)
    expect(monitor.locator(".lab-push-bar--exists")).to_have_count(1)
    expect(monitor.locator(".lab-push-status")).to_have_text("done")
    expect(monitor.locator(".lab-push-summary")).to_contain_text("sent 322 B of the image's 1.1 MB")
    expect(monitor.locator(".lab-push-summary")).to_contain_text("sha256:" + "d" * 64)
    shoot(monitor, "pushmonitor")

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

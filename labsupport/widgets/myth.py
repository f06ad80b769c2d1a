"""MythCard: a claim about pushing images, a Yes/No prediction the learner commits to, then the reveal.

The reveal (and the "Prove it" button) enter the view only after Yes or No is pressed. The live proof is an
injected `prover()` that runs the real experiment and returns its output; the prediction goes to an injected
`record(myth_id, answer)` with answer "yes" (the claim is true) or "no", as progress.record_prediction takes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import traitlets

from ..errors import LabError, UnknownExercise
from .common import COLOURS, MONO, TextRepr, button, error_text, esc, guarded, html_widget


@dataclass(frozen=True)
class Myth:
    """One myth of the course: the claim, whether it holds (none do), why, and what the live proof shows."""

    id: str
    claim: str
    true: bool
    explanation: str
    proof: str


MYTHS: dict[str, Myth] = {myth.id: myth for myth in (
    Myth("untagged-push",
         "An image can be pushed to a registry without a registry name in its tag.",
         False,
         "docker push reads the destination out of the image's name, and nowhere else. A name with no host, "
         "such as hello-lab:1.0, is short for docker.io/library/hello-lab:1.0, so the push heads for Docker "
         "Hub's official namespace (and is refused there). To reach the lab's registry the image first needs "
         "a name that starts with the registry's host: "
         "docker tag hello-lab:1.0 <host>/<learner>/hello-lab:1.0.",
         "pushes an image tagged without a host and shows where the engine tried to send it"),
    Myth("full-upload",
         "Every push uploads the whole image again.",
         False,
         "Layers are addressed by the hash of their content. Before sending a layer the client asks the "
         "registry whether it already holds that digest: if it does, the layer is skipped (\"Layer already "
         "exists\"); if another repository of the same registry holds it, it is mounted without an upload "
         "(\"Mounted from\"). Only the layers the registry lacks travel, plus a small manifest, so a second "
         "push of an unchanged image sends almost nothing.",
         "pushes the same image twice and compares the bytes each push sent"),
    Myth("anonymous-push",
         "A registry lets anyone push without logging in.",
         False,
         "A registry that is set up with authentication, like the lab's and every hosted one, answers an "
         "anonymous upload with 401 and a WWW-Authenticate challenge, and docker push stops with \"no basic "
         "auth credentials\". Only a registry deliberately run with no authentication accepts anonymous "
         "writes, and such a registry must never be reachable by others. Run docker login first.",
         "pushes from a Docker client that holds no credential for the lab registry"),
    Myth("secure-by-default",
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


def get_myth(myth_id: str) -> Myth:
    """The myth with this id, or UnknownExercise listing the ids the course has."""
    try:
        return MYTHS[myth_id]
    except KeyError:
        known = ", ".join(MYTHS)
        raise UnknownExercise(f"there is no myth {myth_id!r}; the course has: {known}",
                              fix=f"MythCard({next(iter(MYTHS))!r})") from None


class MythCard(TextRepr, widgets.VBox):
    """A myth as a card: the claim, Yes/No to commit a prediction, then the truth and a live proof."""

    answer = traitlets.Bool(None, allow_none=True)      # the learner's prediction: True = "yes, it is true"
    proof = traitlets.Unicode(None, allow_none=True)    # the prover's output once "Prove it" ran
    proof_failed = traitlets.Bool(False)                # the prover raised: `proof` holds its error

    def __init__(self, myth_id: str, prover: Callable[[], Any] | None = None, *,
                 record: Callable[[str, str], Any] | None = None, **kwargs: Any) -> None:
        self.myth = get_myth(myth_id)
        super().__init__(**kwargs)
        self.add_class("lab-widget")
        self.add_class("lab-myth")
        self._prover = prover
        self._record = record
        self.messages = widgets.Output()
        self._claim = html_widget(
            f'<div style="font-size:90%;color:{COLOURS["muted"]}">Myth or fact?</div>'
            f'<div class="lab-myth-claim" style="font-size:115%"><b>{esc(self.myth.claim)}</b></div>'
            f'<div>Do you think this is true? Commit to an answer before you read on.</div>',
            "lab-myth-question")
        self.yes = button("Yes", "lab-myth-yes", tooltip="I think the claim is true")
        self.no = button("No", "lab-myth-no", tooltip="I think the claim is false")
        self.yes.on_click(guarded(self.messages, lambda: self.predict(True)))
        self.no.on_click(guarded(self.messages, lambda: self.predict(False)))
        self._buttons = widgets.HBox([self.yes, self.no])
        self._reveal = html_widget("", "lab-myth-reveal")
        self.prove = button("Prove it", "lab-myth-prove", style="info",
                            tooltip=f"runs it for real: {self.myth.proof}")
        self.prove.on_click(guarded(self.messages, self.run_proof))
        self._proof = html_widget("", "lab-myth-proof")
        self.observe(self._render, names=["answer", "proof", "proof_failed"])
        self._render()

    @property
    def revealed(self) -> bool:
        """Whether the truth is shown: only after a prediction."""
        return self.answer is not None

    def predict(self, answer: bool) -> None:
        """Commit the learner's prediction once; later presses do not change it."""
        if self.answer is not None:
            return
        self.answer = bool(answer)
        if self._record is not None:
            self._record(self.myth.id, "yes" if self.answer else "no")

    def run_proof(self) -> None:
        """Call the injected prover and show what it returned, or the lab's error when it raised one."""
        if self._prover is None or not self.revealed:
            return
        self.prove.disabled = True
        try:
            result = self._prover()
        except LabError as exc:
            self.proof_failed = True
            self.proof = error_text(exc)
        else:
            self.proof_failed = False
            self.proof = result if isinstance(result, str) else str(result)
        finally:
            self.prove.disabled = False

    def _render(self, _change: object = None) -> None:
        children: list[widgets.Widget] = [self._claim, self._buttons]
        for choice, widget in ((True, self.yes), (False, self.no)):
            widget.disabled = self.answer is not None
            widget.button_style = "primary" if self.answer is choice else ""
        if self.revealed:
            self._reveal.value = self._reveal_html()
            children.append(self._reveal)
            if self._prover is not None:
                children.append(self.prove)
            if self.proof is not None:
                label = "The lab answered with an error:" if self.proof_failed else "What really happened:"
                self._proof.value = (f'<div>{label}</div><pre class="lab-myth-proof-output" '
                                     f'style="{MONO}white-space:pre-wrap;background:#f5f5f5;padding:6px">'
                                     f'{esc(self.proof)}</pre>')
                children.append(self._proof)
        children.append(self.messages)
        self.children = tuple(children)

    def _verdict(self) -> str:
        truth = "true" if self.myth.true else "a myth"
        right = self.answer == self.myth.true
        said = "yes" if self.answer else "no"
        return f"You said {said}: {'right' if right else 'not quite'}. It is {truth}."

    def _reveal_html(self) -> str:
        colour = COLOURS["passed"] if self.answer == self.myth.true else COLOURS["failed"]
        return (f'<div style="border-left:4px solid {colour};padding:4px 8px">'
                f'<div class="lab-myth-verdict"><b>{esc(self._verdict())}</b></div>'
                f'<div class="lab-myth-explanation">{esc(self.myth.explanation)}</div></div>')

    def text(self) -> str:
        """The claim, and after a prediction the verdict, the explanation and any proof output."""
        lines = [f"Myth card [{self.myth.id}]: {self.myth.claim}"]
        if not self.revealed:
            lines.append("  Do you think this is true? Answer Yes or No to reveal the truth.")
            return "\n".join(lines)
        lines.append("  " + self._verdict())
        lines.append("  " + self.myth.explanation)
        if self.proof is not None:
            lines.append("  Proof:" if not self.proof_failed else "  Proof (the lab answered with an error):")
            lines.extend("    " + line for line in self.proof.splitlines())
        elif self._prover is not None:
            lines.append(f"  Prove it: {self.myth.proof}.")
        return "\n".join(lines)

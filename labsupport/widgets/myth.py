"""MythCard: a claim about pushing images, a Yes/No prediction the learner commits to, then the reveal.

The card renders the `Myth` it is given (the course's data, `labsupport.course.MYTHS`). The reveal (and the
"Prove it" button) enter the view only after Yes or No is pressed. The live proof is an
injected `prover()` that runs the real experiment and returns its output; the prediction goes to an injected
`record(myth_id, answer)` with answer "yes" (the claim is true) or "no", as progress.record_prediction takes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
import traitlets

from ..cards import COLOURS, MONO, error_text, esc
from ..course import Myth
from ..errors import LabError
from .common import TextRepr, button, guarded, html_widget


class MythCard(TextRepr, widgets.VBox):
    """A myth as a card: the claim, Yes/No to commit a prediction, then the truth and a live proof."""

    answer = traitlets.Bool(None, allow_none=True)      # the learner's prediction: True = "yes, it is true"
    proof = traitlets.Unicode(None, allow_none=True)    # the prover's output once "Prove it" ran
    proof_failed = traitlets.Bool(False)                # the prover raised: `proof` holds its error

    def __init__(self, myth: Myth, prover: Callable[[], Any] | None = None, *,
                 record: Callable[[str, str], Any] | None = None, **kwargs: Any) -> None:
        self.myth = myth
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
            self._record(str(self.myth.id), "yes" if self.answer else "no")

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
            lines.append(f'  Do you think this is true? Press Yes or No, or run answer("{self.myth.id}", "yes") or '
                         f'answer("{self.myth.id}", "no"), to reveal the truth.')
            return "\n".join(lines)
        lines.append("  " + self._verdict())
        lines.append("  " + self.myth.explanation)
        if self.proof is not None:
            lines.append("  Proof:" if not self.proof_failed else "  Proof (the lab answered with an error):")
            lines.extend("    " + line for line in self.proof.splitlines())
        elif self._prover is not None:
            lines.append(f"  Prove it: {self.myth.proof}.")
        return "\n".join(lines)

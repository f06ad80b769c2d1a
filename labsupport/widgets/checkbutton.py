"""CheckButton and result cards: run one exercise's check on demand and show the outcome as a card.

The check is an injected `runner(exercise_id)` returning a CheckResult-like object (exercise, passed, code,
message, hint). The card itself is `labsupport.cards.result_card_html`, the same for a result shown on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
import traitlets

from ..cards import error_html, error_text, result_card_html, result_card_text
from .common import TextRepr, button, html_widget


class CheckButton(TextRepr, widgets.VBox):
    """A "Check" button for one exercise that shows the result card, or the lab's error and its fix."""

    result = traitlets.Any(None)
    error = traitlets.Instance(BaseException, allow_none=True)
    running = traitlets.Bool(False)

    def __init__(self, exercise_id: str, runner: Callable[[str], Any], *, autorun: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_class("lab-widget")
        self.add_class("lab-checkbutton")
        self.exercise_id = exercise_id
        self._runner = runner
        self.button = button(f"Check {exercise_id}", "lab-check-button", style="primary",
                             tooltip=f"check {exercise_id} against the lab's real state")
        self.button.on_click(lambda _b: self.run())
        self._card = html_widget("", "lab-check-card")
        self.observe(self._render, names=["result", "error", "running"])
        self._render()
        if autorun:
            self.run()

    def run(self) -> Any:
        """Run the check now and show its result; a lab error is shown with its fix. Returns the result."""
        if self.running:
            return None
        self.running = True
        try:
            result = self._runner(self.exercise_id)
        except Exception as exc:  # noqa: BLE001 - a broken lab is shown as a message, not a traceback
            self.result, self.error = None, exc
        else:
            self.error, self.result = None, result
        finally:
            self.running = False
        return self.result

    def _render(self, _change: object = None) -> None:
        self.button.disabled = self.running
        self.button.description = "Checking…" if self.running else f"Check {self.exercise_id}"
        if self.error is not None:
            self._card.value = error_html(self.error)
        elif self.result is not None:
            self._card.value = result_card_html(self.result)
        else:
            self._card.value = ""
        self.children = (self.button, self._card) if self._card.value else (self.button,)

    def text(self) -> str:
        """The exercise and its last outcome."""
        if self.error is not None:
            return f"Check {self.exercise_id}: the lab answered with an error\n  " + \
                error_text(self.error).replace("\n", "\n  ")
        if self.result is None:
            return f"Check {self.exercise_id}: not run yet (click the button or call .run())"
        return "Check " + result_card_text(self.result)

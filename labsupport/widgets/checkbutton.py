"""CheckButton and result cards: run one exercise's check on demand and show the outcome as a card.

The check is an injected `runner(exercise_id)` returning a CheckResult-like object (exercise, passed, code,
message, hint). `result_card_html` is the same card for anyone displaying a result (checks reuse it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
import traitlets

from .common import COLOURS, MONO, TextRepr, button, error_html, error_text, esc, html_widget


def result_card_html(result: Any) -> str:
    """A card for a check result: green when passed; red with what is wrong and the fixing command."""
    passed = bool(result.passed)
    state = "passed" if passed else "failed"
    colour = COLOURS[state]
    background = "#e8f5e9" if passed else "#ffebee"
    exercise = esc(getattr(result, "exercise", ""))
    code = getattr(result, "code", "") or ""
    heading = (f'<b>{exercise}</b>: passed &#10003;' if passed else
               f'<b>{exercise}</b>: not yet &#10007; <span class="lab-check-code" '
               f'style="color:{COLOURS["muted"]}">({esc(code)})</span>')
    body = f'<div class="lab-check-message">{esc(getattr(result, "message", ""))}</div>'
    hint = getattr(result, "hint", "") or ""
    if hint and not passed:
        body += (f'<div>try:</div><pre class="lab-check-hint" style="{MONO}background:#fff;margin:2px 0;'
                 f'padding:4px 8px;border:1px solid #ddd;border-radius:3px;white-space:pre-wrap">'
                 f'{esc(hint)}</pre>')
    return (f'<div class="lab-check lab-check--{state}" data-exercise="{exercise}" '
            f'style="border-left:6px solid {colour};background:{background};padding:6px 12px;'
            f'margin:4px 0;border-radius:4px"><div class="lab-check-title">{heading}</div>{body}</div>')


def result_card_text(result: Any) -> str:
    """The plain-text twin of the card."""
    if result.passed:
        return f"{result.exercise}: passed. {result.message}"
    text = f"{result.exercise}: not yet ({result.code}). {result.message}"
    return text + (f"\n  try: {result.hint}" if getattr(result, "hint", "") else "")


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

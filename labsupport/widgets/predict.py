"""Predict: commit to an answer before the experiment, then see the expected answer and why.

Either a row of choice buttons (a press commits) or a number box with a Commit button. Once committed the
widget locks, and the answer and explanation appear. An injected `record(key, value)` stores the prediction.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets
import traitlets

from ..cards import COLOURS, esc
from ..errors import LabError
from .common import TextRepr, button, guarded, html_widget


def _number_text(value: float) -> str:
    """A number without a trailing .0 when it is whole."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


class Predict(TextRepr, widgets.VBox):
    """A prediction prompt: choices or a number, committed once, then the answer and its explanation."""

    value = traitlets.Any(None)          # the committed answer: a choice string or a number
    committed = traitlets.Bool(False)

    def __init__(self, question: str, choices: Sequence[str] | None = None, *, number: bool = False,
                 record: Callable[[str, Any], Any] | None = None, answer: Any = None,
                 explanation: str = "", tolerance: float = 0.0, key: str | None = None,
                 **kwargs: Any) -> None:
        if bool(choices) == bool(number):
            raise LabError("Predict needs either choices or number=True, not both and not neither",
                           fix='Predict("How many layers?", number=True) or Predict("…?", ["yes", "no"])')
        super().__init__(**kwargs)
        self.add_class("lab-widget")
        self.add_class("lab-predict")
        self.question = question
        self.choices = tuple(choices or ())
        self.number = number
        self.answer = answer
        self.explanation = explanation
        self.tolerance = tolerance
        self.key = key or question
        self._record = record
        self.messages = widgets.Output()
        self._question = html_widget(f"<b>Predict:</b> {esc(question)}", "lab-predict-question")
        self.buttons: tuple[widgets.Button, ...] = ()
        if number:
            self.box = widgets.FloatText(value=0.0, description="", layout=widgets.Layout(width="10em"))
            self.box.add_class("lab-predict-number")
            self.commit_button = button("Commit", "lab-predict-commit", style="primary")
            self.commit_button.on_click(guarded(self.messages, lambda: self.commit(self.box.value)))
            self._inputs = widgets.HBox([self.box, self.commit_button])
        else:
            self.buttons = tuple(button(choice, "lab-predict-choice") for choice in self.choices)
            for item in self.buttons:  # as wide as its text: a long choice must be readable before committing
                item.layout = widgets.Layout(width="auto", max_width="100%")
            for item, choice in zip(self.buttons, self.choices):
                item.on_click(guarded(self.messages, functools.partial(self.commit, choice)))
            self._inputs = widgets.HBox(list(self.buttons), layout=widgets.Layout(flex_flow="row wrap"))
        self._reveal = html_widget("", "lab-predict-reveal")
        self.observe(self._render, names=["value", "committed"])
        self._render()

    @property
    def correct(self) -> bool | None:
        """Whether the committed value matches the answer (None when nothing to compare yet)."""
        if not self.committed or self.answer is None:
            return None
        if self.number:
            return abs(float(self.value) - float(self.answer)) <= self.tolerance
        return str(self.value) == str(self.answer)

    def commit(self, value: Any) -> None:
        """Lock in a prediction once; a value outside the choices is refused with a message."""
        if self.committed:
            return
        if self.number:
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise LabError(f"{value!r} is not a number", fix=self.answer_calls()) from None
            value = int(value) if value.is_integer() else value
        elif value not in self.choices:
            raise LabError(f"{value!r} is not one of the choices: {', '.join(self.choices)}",
                           fix=self.answer_calls())
        self.value = value
        self.committed = True
        if self._record is not None:
            self._record(self.key, value)

    def _shown(self, value: Any) -> str:
        """A number as written; a choice in quotes, so its own punctuation does not run into the sentence."""
        return _number_text(value) if self.number and isinstance(value, (int, float)) else f"“{value}”"

    def _render(self, _change: object = None) -> None:
        for item, choice in zip(self.buttons, self.choices):
            item.disabled = self.committed
            item.button_style = "primary" if self.committed and choice == self.value else ""
        if self.number:
            self.box.disabled = self.committed
            self.commit_button.disabled = self.committed
        children: list[widgets.Widget] = [self._question, self._inputs]
        if self.committed:
            self._reveal.value = self._reveal_html()
            children.append(self._reveal)
        children.append(self.messages)
        self.children = tuple(children)

    def _verdict(self) -> str:
        said = f"You predicted {self._shown(self.value)}."
        if self.answer is None:
            return said + " Now run the experiment below and compare."
        mark = {True: "right", False: "not quite"}[bool(self.correct)]
        return f"{said} The answer is {self._shown(self.answer)}: {mark}."

    def _reveal_html(self) -> str:
        colour = {True: COLOURS["passed"], False: COLOURS["failed"], None: COLOURS["muted"]}[self.correct]
        explanation = (f'<div class="lab-predict-explanation">{esc(self.explanation)}</div>'
                       if self.explanation else "")
        return (f'<div style="border-left:4px solid {colour};padding:4px 8px">'
                f'<div class="lab-predict-verdict"><b>{esc(self._verdict())}</b></div>{explanation}</div>')

    def answer_calls(self) -> str:
        """How to commit without the widget: the `answer(key, value)` call, one per choice."""
        if self.number:
            return f'answer("{self.key}", <your number>)'
        return "   or   ".join(f'answer("{self.key}", "{choice}")' for choice in self.choices)

    def text(self) -> str:
        """The question, the options, and once committed the verdict and explanation."""
        options = " / ".join(self.choices) if self.choices else "a number"
        lines = [f"Predict: {self.question} ({options})"]
        if not self.committed:
            lines.append("  Commit your prediction to see the answer: " + self.answer_calls())
            return "\n".join(lines)
        lines.append("  " + self._verdict())
        if self.explanation:
            lines.append("  " + self.explanation)
        return "\n".join(lines)

"""CourseMap: the eleven lessons as a path, each exercise done or not, and "you are here".

Progress comes in as data (a mapping exercise id → passed, or the set of passed ids) or as an injected
callable returning that, which the Refresh button calls again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import ipywidgets as widgets
import traitlets

from ..cards import COLOURS, esc
from ..course import LESSONS, Lesson
from .common import TextRepr, button, guarded, html_widget

Progress = Mapping[str, bool] | Iterable[str]

def passed_ids(progress: Progress | None) -> frozenset[str]:
    """The ids marked passed: keys with a true value of a mapping, or the members of a set or list."""
    if progress is None:
        return frozenset()
    if isinstance(progress, Mapping):
        return frozenset(str(key) for key, value in progress.items() if value)
    if isinstance(progress, str):
        return frozenset({progress})
    return frozenset(str(item) for item in progress)


class CourseMap(TextRepr, widgets.VBox):
    """The course as a path of lessons, each exercise ticked when passed, "you are here" at the first gap."""

    passed = traitlets.Instance(frozenset, args=())

    def __init__(self, progress: Progress | Callable[[], Progress] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_class("lab-widget")
        self.add_class("lab-coursemap")
        self.lessons = LESSONS
        self._source = progress if callable(progress) else None
        self.messages = widgets.Output()
        self._map = html_widget("", "lab-coursemap-path")
        self.refresh_button = button("Refresh", "lab-coursemap-refresh", tooltip="read progress again")
        self.refresh_button.on_click(guarded(self.messages, self.refresh))
        self.observe(self._render, names=["passed"])
        if self._source is not None:
            self.refresh()
        else:
            self.passed = passed_ids(progress)  # type: ignore[arg-type]
        self._render()

    def refresh(self) -> None:
        """Ask the injected progress source again (no-op for progress given as data)."""
        if self._source is not None:
            self.passed = passed_ids(self._source())

    def update(self, progress: Progress) -> None:
        """Show new progress data."""
        self.passed = passed_ids(progress)

    def lesson_done(self, lesson: Lesson) -> bool:
        """Whether every exercise of the lesson passed (a lesson without exercises never blocks the path)."""
        return all(exercise in self.passed for exercise in lesson.exercises)

    @property
    def here(self) -> Lesson | None:
        """The first lesson with an unfinished exercise; None when the whole course is done."""
        return next((lesson for lesson in self.lessons if not self.lesson_done(lesson)), None)

    @property
    def done_count(self) -> int:
        """How many of the course's exercises passed."""
        return sum(1 for lesson in self.lessons for exercise in lesson.exercises if exercise in self.passed)

    @property
    def exercise_count(self) -> int:
        return sum(len(lesson.exercises) for lesson in self.lessons)

    def _render(self, _change: object = None) -> None:
        here = self.here
        nodes = []
        for lesson in self.lessons:
            done = self.lesson_done(lesson)
            state = "done" if done else ("here" if lesson is here else "todo")
            colour = {"done": COLOURS["passed"], "here": COLOURS["upload"], "todo": COLOURS["empty"]}[state]
            marker = ' <span class="lab-here" style="font-weight:bold">◀ you are here</span>' \
                if state == "here" else ""
            items = " ".join(
                f'<span class="lab-exercise lab-exercise--{"done" if ex in self.passed else "todo"}" '
                f'data-exercise="{esc(ex)}" style="margin-left:10px">'
                f'{"✓" if ex in self.passed else "○"} <code>{esc(ex)}</code></span>'
                for ex in lesson.exercises)
            nodes.append(
                f'<div class="lab-lesson lab-lesson--{state}" data-lesson="{lesson.number}" '
                f'style="border-left:4px solid {colour};padding:2px 10px;margin-left:6px">'
                f'<b>{lesson.number} {esc(lesson.title)}</b>{items}{marker}</div>')
        summary = (f"{self.done_count} of {self.exercise_count} exercises done"
                   + (" — course complete!" if here is None else ""))
        self._map.value = f'<div class="lab-coursemap-summary"><b>{summary}</b></div>' + "".join(nodes)
        head = (self._map, self.refresh_button) if self._source is not None else (self._map,)
        self.children = (*head, self.messages)

    def text(self) -> str:
        """The path as lines: one per lesson with its exercises ticked, and where the learner is."""
        here = self.here
        lines = [f"CourseMap: {self.done_count} of {self.exercise_count} exercises done"]
        for lesson in self.lessons:
            ticks = ", ".join(f"[{'x' if ex in self.passed else ' '}] {ex}" for ex in lesson.exercises)
            marker = "  <- you are here" if lesson is here else ""
            lines.append(f"  {lesson.number} {lesson.title:<15} {ticks}{marker}")
        if here is None:
            lines.append("  course complete")
        return "\n".join(lines)

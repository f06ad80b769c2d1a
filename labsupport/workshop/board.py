"""The class's progress board, pure: registry events and learners' check results in, a learner × exercise
grid out.

A cell's state, strongest first: `passed` (a check passed), `failed` (checks ran, none passed yet), `pushed`
(the registry saw the learner push what the exercise asks for, not yet checked), or empty. Besides the grid,
each learner has counters of pushes, pulls and cross-repository mounts and the time last seen. The same
board, replayed from the stored events and results, makes the grades.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..course import EXERCISES

MANIFEST_TYPES = {
    "application/vnd.docker.distribution.manifest.v2+json", "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
    "application/vnd.docker.distribution.manifest.v1+json",
}
_SEMVER_OR_COMMIT = re.compile(r"^(\d+\.\d+(\.\d+)?|[0-9a-f]{7,40})$")
STATES = ("passed", "failed", "pushed")


def exercise_of_push(repository: str, tag: str | None) -> str | None:
    """Which exercise a manifest push in a learner's namespace is the work of (None when none)."""
    parts = repository.split("/", 1)
    if len(parts) != 2:
        return None
    repo = parts[1]
    if repo == "hello-lab":
        if tag == "1.0":
            return "push.pushed"
        if tag == "1.1":
            return "caching.minimal-upload"
        if tag == "secure":
            return "security.no-secrets"
        if tag and _SEMVER_OR_COMMIT.match(tag):
            return "production.tags"
        return None
    return {"multi": "production.index", "handmade": "hood.handmade", "capstone": "capstone.ship"}.get(repo)


@dataclass
class Cell:
    """One learner's standing on one exercise."""

    state: str = ""
    attempts: int = 0
    code: str = ""
    time: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state, "attempts": self.attempts, "code": self.code, "time": self.time}


@dataclass
class Activity:
    """What the registry saw one learner do."""

    push: int = 0
    pull: int = 0
    mount: int = 0
    last: str = ""
    repositories: set[str] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        return {"push": self.push, "pull": self.pull, "mount": self.mount, "last": self.last,
                "repositories": sorted(self.repositories)}


class Board:
    """The grid for a class; feed it events and results in the order they happened."""

    def __init__(self, learners: Sequence[str], exercises: Sequence[tuple[str, str, str]] | None = None) -> None:
        self.exercises = list(exercises or [(e.id, e.lesson, e.title) for e in EXERCISES])
        self._ids = {ex[0] for ex in self.exercises}
        self.learners = list(learners)
        self.cells: dict[str, dict[str, Cell]] = {name: {} for name in self.learners}
        self.activity: dict[str, Activity] = {name: Activity() for name in self.learners}
        self.version = 0

    def _cell(self, learner: str, exercise: str) -> Cell:
        return self.cells[learner].setdefault(exercise, Cell())

    def add_event(self, event: dict[str, Any]) -> bool:
        """One registry notification event; True when the board changed (events of non-learners are ignored)."""
        learner = str((event.get("actor") or {}).get("name") or "")
        if learner not in self.activity:
            return False
        target = event.get("target") or {}
        action = str(event.get("action") or "")
        when = str(event.get("timestamp") or "")
        activity = self.activity[learner]
        repository = str(target.get("repository") or "")
        is_manifest = str(target.get("mediaType") or "") in MANIFEST_TYPES
        if action == "push" and is_manifest:
            if target.get("tag"):
                # one push: the manifest put under its tag. An index's images and attestations are put by
                # digest before it (BuildKit on the containerd store), and are not pushes of their own.
                activity.push += 1
            activity.repositories.add(repository)
            exercise = exercise_of_push(repository, target.get("tag"))
            if exercise in self._ids and repository.startswith(learner + "/"):
                cell = self._cell(learner, exercise)
                if not cell.state:
                    cell.state, cell.time = "pushed", when
        elif action == "pull" and is_manifest:
            activity.pull += 1
        elif action == "mount":
            activity.mount += 1
        elif action != "push":
            return False
        activity.last = max(activity.last, when)
        self.version += 1
        return True

    def add_result(self, learner: str, result: dict[str, Any]) -> bool:
        """One check attempt a learner reported: {exercise, passed, code, time}; True when accepted."""
        exercise = result.get("exercise")
        if learner not in self.cells or exercise not in self._ids or not isinstance(result.get("passed"), bool):
            return False
        cell = self._cell(learner, str(exercise))
        cell.attempts += 1
        cell.code = str(result.get("code") or "")[:40]
        cell.time = str(result.get("time") or "")
        if result["passed"]:
            cell.state = "passed"
        elif cell.state != "passed":
            cell.state = "failed"
        self.version += 1
        return True

    def replay(self, events: Iterable[dict[str, Any]], results: Iterable[dict[str, Any]]) -> Board:
        for event in events:
            self.add_event(event)
        for record in results:
            self.add_result(str(record.get("learner")), record)
        return self

    def to_json(self) -> dict[str, Any]:
        """The grid as the dashboard page draws it."""
        return {
            "version": self.version,
            "exercises": [{"id": i, "lesson": lesson, "title": title} for i, lesson, title in self.exercises],
            "learners": [{"name": name, "activity": self.activity[name].to_json(),
                          "cells": {ex: cell.to_json() for ex, cell in self.cells[name].items()}}
                         for name in self.learners],
        }

    def grade_rows(self) -> list[list[str | int]]:
        """One row a learner: name, 1/0 per exercise passed by a check, total passed, pushes seen."""
        rows: list[list[str | int]] = [["learner", *[ex[0] for ex in self.exercises], "passed", "pushes"]]
        for name in self.learners:
            marks = [1 if self.cells[name].get(ex[0], Cell()).state == "passed" else 0 for ex in self.exercises]
            rows.append([name, *marks, sum(marks), self.activity[name].push])
        return rows

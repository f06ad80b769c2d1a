"""Every name of the course's API that a lesson tells the learner to use is imported by that lesson's first cell.

A learner who runs a lesson from its top and then types what the text says (`push(REF)`, `reset("<exercise
id>")`) must not meet a `NameError`: the first code cell, the `from labsupport import …` cell, brings in each
public name the lesson calls in its code or shows called in its text.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from IPython.core.inputtransformer2 import TransformerManager

import labsupport

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
PUBLIC = {name for name in labsupport.__all__ if not name.startswith("_")}
# `code spans` and ``` fenced blocks ``` of a markdown cell: where the text shows what to type
CODE_IN_TEXT = re.compile(r"```.*?```|`[^`\n]+`", re.DOTALL)
CALL_IN_TEXT = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\(")


def cells(notebook: Path) -> list[dict]:
    return json.loads(notebook.read_text())["cells"]


def python_of(cell: dict) -> ast.Module:
    """A code cell as IPython runs it (`!cmd` and `%magic` become calls)."""
    return ast.parse(TransformerManager().transform_cell("".join(cell["source"])))


def called_in_code(cell: dict) -> set[str]:
    return {node.func.id for node in ast.walk(python_of(cell))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in PUBLIC}


def called_in_text(cell: dict) -> set[str]:
    spans = CODE_IN_TEXT.findall("".join(cell["source"]))
    return {name for span in spans for name in CALL_IN_TEXT.findall(span) if name in PUBLIC}


def imported_first(notebook: Path) -> set[str]:
    first = next(cell for cell in cells(notebook) if cell["cell_type"] == "code")
    return {alias.asname or alias.name for node in ast.walk(python_of(first))
            if isinstance(node, ast.ImportFrom) and node.module == "labsupport" for alias in node.names}


def used(notebook: Path) -> dict[str, int]:
    """Each public name the lesson calls or shows called, with the index of the first cell that does."""
    found: dict[str, int] = {}
    for index, cell in enumerate(cells(notebook)):
        names = called_in_code(cell) if cell["cell_type"] == "code" else called_in_text(cell)
        for name in names:
            found.setdefault(name, index)
    return found


def test_there_are_lessons_to_read():
    assert len(NOTEBOOKS) == 11


def test_the_text_scan_finds_calls_shown_in_backticks_only():
    cell = {"source": ["Run `push(REF)` then ``reset(\"05\")``; ", ("a push (the word) is not a call, "
                       "nor is `config.check(` or `pushed(`.\n```python\nshow_layers(REF)\n```")]}
    assert called_in_text(cell) == {"push", "reset", "show_layers"}


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_every_api_name_a_lesson_uses_is_imported_by_its_first_cell(notebook):
    missing = {name: index for name, index in used(notebook).items() if name not in imported_first(notebook)}
    assert not missing, (f"{notebook.name}: the first code cell does not import "
                         + ", ".join(f"{name} (used in cell {index})" for name, index in sorted(missing.items())))

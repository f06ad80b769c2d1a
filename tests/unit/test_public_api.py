"""The notebooks import only labsupport's public API, and every name of that API is there."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from IPython.core.inputtransformer2 import TransformerManager

import labsupport

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


def imports_of(notebook: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of every import in the notebook's code cells, read as IPython reads them (`!`, `%`)."""
    found = []
    for cell in json.loads(notebook.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        for node in ast.walk(ast.parse(TransformerManager().transform_cell("".join(cell["source"])))):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.append((node.module, [alias.name for alias in node.names]))
            elif isinstance(node, ast.Import):
                found.extend((alias.name, []) for alias in node.names)
    return found


def test_there_are_notebooks_to_read():
    assert len(NOTEBOOKS) == 11


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_a_notebook_imports_only_from_the_package_itself(notebook):
    for module, names in imports_of(notebook):
        if module.split(".")[0] != "labsupport":
            continue
        assert module == "labsupport", f"{notebook.name} imports the internal module {module}"
        assert set(names) <= set(labsupport.__all__), f"{notebook.name}: {set(names) - set(labsupport.__all__)}"


def test_the_public_names_are_exactly_the_exports():
    assert sorted(labsupport.__all__) == sorted(["__version__", *labsupport._EXPORTS])


@pytest.mark.parametrize("first", ["buildkit_available", "parse", "check", "MANIFEST_V2"])
def test_a_public_name_is_never_hidden_by_a_submodule_of_the_same_name(first):
    """`labsupport.doctor` is also a module: whatever a lesson imports first, `doctor` is the notebook's."""
    program = (f"from labsupport import {first}\n"
               "from labsupport import doctor, engine, registry\n"
               "import types\n"
               "assert not any(isinstance(f, types.ModuleType) for f in (doctor, engine, registry))\n")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr

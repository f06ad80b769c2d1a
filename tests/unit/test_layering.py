"""Every module of the package stands in a layer of the import contract, so none escapes the layering."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is in the standard library from 3.11")
def test_every_module_is_in_a_layer_of_the_contract():
    import tomllib

    contract = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"][0]
    named = {name.strip() for layer in contract["layers"] for name in layer.split("|")}
    package = ROOT / "labsupport"
    modules = {path.stem for path in package.glob("*.py") if path.name != "__init__.py"}
    modules |= {path.parent.name for path in package.glob("*/__init__.py")}
    assert modules == named

"""Store the source notebooks as the tests expect them: `python -m tests.notebooks.refresh [NB...]`.

Runs each notebook (default: every lesson notebook) against the lab of the current LAB_* environment, then
writes it back with every output cleared except those of cells tagged `nbval-check-output`, whose fresh
output becomes nbval's reference. Refuses to write an output that holds anything like a secret.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from .execute import execute
from .harness import CHECKED_TAG, find_leaks, source_notebooks, strings


def cleared(source: nbformat.NotebookNode, executed: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """`source` with outputs cleared, but the executed outputs (and counts) of the cells tagged for checking."""
    for cell, ran in zip(source.cells, executed.cells):
        if cell.cell_type != "code":
            continue
        keep = CHECKED_TAG in cell.metadata.get("tags", [])
        cell.outputs = ran.outputs if keep else []
        cell.execution_count = ran.execution_count if keep else None  # nbval compares only cells that ran
        cell.metadata.pop("execution", None)
    source.metadata.pop("widgets", None)
    return source


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    for path in args.notebooks or source_notebooks():
        source = nbformat.read(path, as_version=4)
        executed, seconds = execute(path)
        errors = [i for i, c in enumerate(executed.cells) if c.cell_type == "code"
                  and any(o.get("output_type") == "error" for o in c.outputs)]
        if errors:
            print(f"{path.name}: cells {errors} raised; not written", file=sys.stderr)
            return 1
        result = cleared(source, executed)
        leaks = find_leaks(strings([c.get("outputs", []) for c in result.cells]))
        if leaks:
            print(f"{path.name}: outputs hold {leaks[0]}; not written", file=sys.stderr)
            return 1
        nbformat.write(result, path)
        print(f"{path.name}: refreshed in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Make the learners' notebooks from the source notebooks: solutions out, stubs in, outputs cleared.

Source notebooks keep each solution between a `### BEGIN SOLUTION` line and a `### END SOLUTION` line, the
markers nbgrader uses. A released notebook has, in place of each region, a stub at the BEGIN marker's
indentation that still runs: `# YOUR CODE HERE` and `...` in code, `YOUR ANSWER HERE` in text. So a
released notebook runs top to bottom, and its checks fail politely until the learner fills the stubs.

    python -m labsupport.release notebooks/ released/
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import sys
from pathlib import Path

import nbformat

from .errors import NotebookError

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"

CODE_STUB = ("# YOUR CODE HERE", "...")
TEXT_STUB = ("YOUR ANSWER HERE",)

#: Files of the source folder's apps/ that a release never copies.
_APP_JUNK = ("__pycache__", "*.pyc", ".ipynb_checkpoints", ".DS_Store")


def _refuse(where: str, cell: int, line: int, problem: str) -> NotebookError:
    """A NotebookError naming the notebook, the cell (1-based) and the line in that cell."""
    error = NotebookError(f"{where}: cell {cell}, line {line}: {problem}",
                          fix=f"put exactly one {END_SOLUTION!r} line after each {BEGIN_SOLUTION!r} line, "
                              "with no region inside another")
    error.cell = cell  # type: ignore[attr-defined]
    error.line = line  # type: ignore[attr-defined]
    return error


def strip_solutions(source: str, stub: tuple[str, ...], *, where: str = "notebook", cell: int = 1) -> str:
    """The source with every solution region replaced by `stub`, indented like its BEGIN marker."""
    out: list[str] = []
    begin_line: int | None = None
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        marker = line.strip()
        if marker == BEGIN_SOLUTION:
            if begin_line is not None:
                raise _refuse(where, cell, number, f"a solution region begins inside the one begun on line "
                                                   f"{begin_line} (nested regions)")
            begin_line = number
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(f"{indent}{stub_line}\n" for stub_line in stub)
        elif marker == END_SOLUTION:
            if begin_line is None:
                raise _refuse(where, cell, number, f"{END_SOLUTION!r} without a {BEGIN_SOLUTION!r} before it")
            begin_line = None
        elif begin_line is None:
            out.append(line)
    if begin_line is not None:
        raise _refuse(where, cell, begin_line, f"the solution region begun here has no {END_SOLUTION!r}")
    text = "".join(out)
    return text if source.endswith("\n") else text.removesuffix("\n")


def release_notebook(nb: nbformat.NotebookNode, *, name: str = "notebook") -> nbformat.NotebookNode:
    """A released copy of a notebook: solution regions stubbed, outputs and execution counts cleared."""
    released = copy.deepcopy(nb)
    for number, cell in enumerate(released.cells, start=1):
        stub = CODE_STUB if cell.cell_type == "code" else TEXT_STUB
        cell.source = strip_solutions(cell.source, stub, where=name, cell=number)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
    released.metadata.pop("widgets", None)  # saved widget state can carry a solution's output
    return released


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """Read a v4 notebook; a file that is not one raises NotebookError naming it."""
    try:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    except (OSError, ValueError, json.JSONDecodeError, nbformat.ValidationError) as exc:
        raise NotebookError(f"{path} is not a readable notebook: {str(exc).splitlines()[0]}",
                            fix=f"open {path} in JupyterLab and save it again") from exc
    return nb


def release_file(src: Path | str, dest: Path | str) -> Path:
    """Release one notebook file into `dest` (a file path)."""
    src, dest = Path(src), Path(dest)
    released = release_notebook(read_notebook(src), name=src.name)
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(released, dest)
    return dest


def release_folder(src: Path | str, out: Path | str) -> list[Path]:
    """Release every `*.ipynb` of `src` into `out` and copy `src/apps/` beside them; returns the notebooks."""
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise NotebookError(f"{src} is not a folder of notebooks",
                            fix="give the folder holding the .ipynb files")
    if out.resolve() == src.resolve():
        raise NotebookError(f"refusing to release {src} onto itself: that would delete the solutions",
                            fix="give another output folder, e.g. released/")
    # read and release all first, so one bad notebook leaves no half-written release behind
    released = [(path.name, release_notebook(read_notebook(path), name=path.name))
                for path in sorted(src.glob("*.ipynb"))]
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, nb in released:
        nbformat.write(nb, out / filename)
        written.append(out / filename)
    if (src / "apps").is_dir():
        shutil.copytree(src / "apps", out / "apps", dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(*_APP_JUNK))
    return written


def main(argv: list[str] | None = None) -> int:
    """Command line: release a folder of source notebooks into an output folder."""
    parser = argparse.ArgumentParser(prog="python -m labsupport.release", description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path, help="folder of source notebooks (with solutions)")
    parser.add_argument("out", type=Path, help="folder to write the released notebooks into")
    args = parser.parse_args(argv)
    try:
        for path in release_folder(args.src, args.out):
            print(f"released {path}")
    except NotebookError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

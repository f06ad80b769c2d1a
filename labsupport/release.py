"""Make the learners' notebooks from the source notebooks: solutions out, stubs in, outputs cleared.

Source notebooks keep each solution between a `### BEGIN SOLUTION` line and a `### END SOLUTION` line, the
markers nbgrader uses. A released notebook has, in place of each region, a stub at the BEGIN marker's
indentation that still runs: `# YOUR CODE HERE` and `...` in code, `YOUR ANSWER HERE` in text. So a
released notebook runs top to bottom, and its checks fail politely until the learner fills the stubs.

A release never overwrites what a learner changed. Beside the copies it keeps, in a hidden `.released/`
folder, the exact files it last released into each place; on the next release a copy whose cells' sources
(or an app file whose bytes) still equal that record is replaced by the newer release, an edited one is left as
it is and the newer release is written beside it (`05-push.newer-<digest>.ipynb`, or
`newer-apps/<app>/<file>.newer-<digest>` for an app's file), never merged into it.

    python -m labsupport.release notebooks/ released/
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .config import make_folder
from .errors import LabError, NotebookError

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"

CODE_STUB = ("# YOUR CODE HERE", "...")
TEXT_STUB = ("YOUR ANSWER HERE",)

#: Files of the source folder's apps/ that a release never copies.
_APP_JUNK = ("__pycache__", "*.pyc", ".ipynb_checkpoints", ".DS_Store")

#: The hidden folder of a release's output that keeps what was last released into each place.
RECORD_DIR = ".released"

#: Where an app file's newer release goes when the learner's copy of that file is edited.
NEWER_APPS = "newer-apps"


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


@dataclass(frozen=True)
class Released:
    """What a release did to one file: `written` (new or replaced), `kept` (up to date or kept as edited),
    and `beside`, the newer release's path when the learner's edited copy was kept."""

    path: Path
    written: bool
    beside: Path | None = None


def _cell_sources(data: bytes) -> list[tuple[str, str]] | None:
    """The (cell type, source) of each cell of a notebook's bytes; None when they are not a notebook."""
    try:
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    except (ValueError, UnicodeDecodeError, AttributeError, KeyError, TypeError):
        return None
    return [(cell.get("cell_type", ""), cell.get("source", "")) for cell in nb.get("cells", [])]


def _same_notebook(a: bytes, b: bytes) -> bool:
    """Two notebooks are the same copy when every cell's source is: outputs of run cells are not edits."""
    sources = _cell_sources(a)
    return sources is not None and sources == _cell_sources(b)


def _same_bytes(a: bytes, b: bytes) -> bool:
    return a == b


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:8]


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def release_into(out: Path, relative: Path, data: bytes, beside: Path,
                 same: Callable[[bytes, bytes], bool] = _same_bytes) -> Released:
    """Release `data` to `out/relative` without ever overwriting a learner's edit.

    Missing: written. Equal (by `same`) to what was last released there: replaced by `data`. Edited and `data`
    newer than the last release: left as it is, `data` written to `out/beside` (a name no release reuses for
    other content, so that file too is never overwritten). A copy without a record (made before records were
    kept) counts as edited unless it equals `data`.
    """
    dest, record = out / relative, out / RECORD_DIR / relative
    current, last = _read(dest), _read(record)
    if current is None:
        _write(dest, data)
        _write(record, data)
        return Released(dest, written=True)
    if same(current, data):
        if last != data:
            _write(record, data)
        return Released(dest, written=False)
    if last is not None and same(current, last):
        _write(dest, data)
        _write(record, data)
        return Released(dest, written=True)
    if last == data:  # edited, and nothing newer has been released since
        return Released(dest, written=False)
    newer = out / beside
    if _read(newer) is None:
        _write(newer, data)
    return Released(dest, written=False, beside=newer)


def _app_files(apps: Path) -> Iterator[Path]:
    """The files of a source apps/ folder a release copies, in a stable order (no caches, no checkpoints)."""
    for path in sorted(apps.rglob("*")):
        parts = path.relative_to(apps).parts
        junk = any(Path(part).match(pattern) for part in parts for pattern in _APP_JUNK)
        if path.is_file() and not junk:
            yield path


def _newer_notebook(name: str, data: bytes) -> Path:
    stem = name.removesuffix(".ipynb")
    return Path(f"{stem}.newer-{_digest(data)}.ipynb")


def _newer_app_file(relative: Path, data: bytes) -> Path:
    return Path(NEWER_APPS, *relative.parts[1:-1], f"{relative.name}.newer-{_digest(data)}")


def release_folder(src: Path | str, out: Path | str, *, option: str = "the output folder") -> list[Released]:
    """Release every `*.ipynb` of `src` into `out` and `src/apps/` beside them, keeping every edited copy.

    Returns what happened to each notebook and app file (see `release_into`); `option` names the setting
    the output folder came from in the error raised when it cannot be made.
    """
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise NotebookError(f"{src} is not a folder of notebooks",
                            fix="give the folder holding the .ipynb files")
    try:
        onto_itself = out.resolve() == src.resolve()
    except (OSError, RuntimeError) as exc:
        raise LabError(f"{option} {out} is not a usable path ({exc})",
                       fix=f"give {option} a folder you can write to") from exc
    if onto_itself:
        raise NotebookError(f"refusing to release {src} onto itself: that would delete the solutions",
                            fix="give another output folder, e.g. released/")
    # read and release all first, so one bad notebook leaves no half-written release behind
    released = [(path.name, nbformat.writes(release_notebook(read_notebook(path), name=path.name)) + "\n")
                for path in sorted(src.glob("*.ipynb"))]
    make_folder(out, option)
    done = []
    try:
        for filename, text in released:
            data = text.encode("utf-8")
            done.append(release_into(out, Path(filename), data, _newer_notebook(filename, data),
                                     same=_same_notebook))
        if (src / "apps").is_dir():
            for path in _app_files(src / "apps"):
                relative = Path("apps") / path.relative_to(src / "apps")
                data = path.read_bytes()
                done.append(release_into(out, relative, data, _newer_app_file(relative, data)))
    except OSError as exc:
        raise LabError(f"{option} {out}: cannot write into it ({exc.strerror or exc})",
                       fix=f"give {option} a folder you can write to") from exc
    return done


def beside_lines(done: list[Released], cwd: Path | None = None) -> list[str]:
    """One line for each edited copy kept, saying where its newer release is."""
    here = cwd or Path.cwd()

    def shown(path: Path) -> str:
        try:
            return str(path.relative_to(here))
        except ValueError:
            return str(path)

    return [f"kept your edited {shown(item.path)}; the newer release is beside it: {shown(item.beside)}"
            for item in done if item.beside is not None]


def main(argv: list[str] | None = None) -> int:
    """Command line: release a folder of source notebooks into an output folder."""
    parser = argparse.ArgumentParser(prog="python -m labsupport.release", description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path, help="folder of source notebooks (with solutions)")
    parser.add_argument("out", type=Path, help="folder to write the released notebooks into")
    args = parser.parse_args(argv)
    try:
        done = release_folder(args.src, args.out)
    except LabError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for item in done:
        if item.written:
            print(f"released {item.path}")
    for line in beside_lines(done):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())

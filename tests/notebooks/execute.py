"""Execute notebooks with nbclient and save them: `python -m tests.notebooks.execute --out DIR NB...`.

Each notebook runs in its own kernel (this Python, cwd = the notebook's folder) with errors allowed, so every
cell runs and the saved notebook shows what each cell did. The last line printed is a JSON object mapping
each notebook's name to the seconds it took.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def execute(path: Path, *, timeout: int = 600) -> tuple[nbformat.NotebookNode, float]:
    """Run every cell of the notebook at `path` in a fresh kernel; the executed notebook and its seconds."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    started = time.monotonic()
    client.execute()
    return nb, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the executed notebooks")
    parser.add_argument("--timeout", type=int, default=600, help="seconds one cell may take")
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    seconds = {}
    for path in args.notebooks:
        nb, taken = execute(path, timeout=args.timeout)
        nbformat.write(nb, args.out / path.name)
        seconds[path.name] = round(taken, 2)
        print(f"{path.name}: {taken:.1f} s", file=sys.stderr)
    print(json.dumps(seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: how long each lesson notebook takes to run top to bottom, and the whole course so far.

Runs every source notebook (`notebooks/[0-9][0-9]-*.ipynb`) in course order with nbclient, each in its own
kernel, on a fresh lab of the bench's own (port, container, volume, state) and a Docker client logged in
nowhere, exactly as a learner starting from lesson 00 would. Prints seconds per notebook (kernel start
included), how many cells raised, and the total; then removes the lab and the images it tagged.
Usage: .venv/bin/python bench/bench_notebooks.py [NOTEBOOK ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import lab_for_bench
from labsupport.lab import connect_engine
from tests.conftest import lab_env
from tests.notebooks.conftest import has_image, remove_lab_images
from tests.notebooks.harness import notebook_cells, notebook_env, run_execute, source_notebooks

LESSON_IMAGES = ("hello-lab:1.0",)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every lesson notebook")
    args = parser.parse_args()
    notebooks = args.notebooks or source_notebooks()
    client = connect_engine()
    existed = {name for name in LESSON_IMAGES if has_image(client, name)}
    with tempfile.TemporaryDirectory() as work:
        lab = lab_for_bench(Path(work), uuid.uuid4().hex[:6], "bench-notebooks")
        docker_config = Path(work) / "docker"
        docker_config.mkdir()
        (docker_config / "config.json").write_text("{}")
        env = notebook_env(lab_env(lab.config), docker_config)
        started = time.monotonic()
        try:
            seconds = run_execute(notebooks, Path(work) / "executed", env, timeout=3600)
            errors = {path.name: sum(1 for cell in notebook_cells(Path(work) / "executed" / path.name)
                                     if cell.errors) for path in notebooks}
        finally:
            wall = time.monotonic() - started
            lab.down(purge=True)
            remove_lab_images(client, lab.config.registry, [n for n in LESSON_IMAGES if n not in existed])
    print(f"{'notebook':<28} {'seconds':>8}  cells that raised")
    for path in notebooks:
        print(f"{path.name:<28} {seconds[path.name]:>8.1f}  {errors[path.name]}")
    print(f"{'total (notebooks)':<28} {sum(seconds.values()):>8.1f}")
    print(f"{'total (with kernel starts)':<28} {wall:>8.1f}")
    print(json.dumps({"notebooks": seconds, "errors": errors, "wall_seconds": round(wall, 1)}))
    return 1 if any(errors.values()) else 0


if __name__ == "__main__":
    sys.exit(main())

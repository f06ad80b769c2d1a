"""`labsupport lab`: the learner's folder of lesson copies, then JupyterLab on it. Its own module because
making the copies needs nbformat, which takes seconds to import and no other lab command needs."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import LabConfig, course_dir, make_folder, repo_root
from ..jupyter import FIRST_NOTEBOOK, run_jupyterlab
from ..lab import Lab
from ..release import beside_lines, release_folder
from .command import arg, command
from .lab import _progress


def prepare_course() -> tuple[Path, list[str]]:
    """Release notebooks/ into the learner's folder (LAB_COURSE_DIR), keeping every edited copy; the folder
    and one line for each newer release written beside an edited copy."""
    folder = course_dir()
    done = release_folder(repo_root() / "notebooks", folder, option="LAB_COURSE_DIR")
    return folder, beside_lines(done)


@command("lab", args=[
    arg("--solutions", action="store_true",
        help="instructors: serve notebooks/, the answer key, instead of your copies"),
    arg("--no-browser", action="store_true", help="do not open a browser"),
    arg("--port", type=int, default=8888, help="JupyterLab's port (default 8888)"),
    arg("--ip", default="127.0.0.1", help=argparse.SUPPRESS),
    arg("--skip-up", action="store_true", help=argparse.SUPPRESS)])
def _lab(args: argparse.Namespace) -> int:
    """Start the lab registry (unless --skip-up), make or update your copies, then JupyterLab on them."""
    config = LabConfig.from_env()
    if not args.skip_up:
        Lab(config).up(progress=_progress)
    if args.solutions:
        root = repo_root() / "notebooks"
        print(f"serving the answer key, {root} (solutions in) — learners work in {course_dir()}")
    else:
        root, lines = prepare_course()
        for line in lines:
            print(line)
        print(f"your copies of the lessons are in {root}; JupyterLab opens {FIRST_NOTEBOOK} there")
    state = make_folder(config.state_dir, "LAB_STATE_DIR")
    return run_jupyterlab(root, state, port=args.port, open_browser=not args.no_browser, ip=args.ip)

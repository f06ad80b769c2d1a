"""`labsupport release`: the course author's command, alone in its module because nbformat takes seconds to
import and no other command needs it."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import repo_root
from ..release import beside_lines, release_folder
from .command import arg, command


@command("release", args=[arg("--out", default="released")])
def _release(args: argparse.Namespace) -> int:
    """Write the learner notebooks (solutions replaced by stubs) and their apps to --out; an edited copy there
    is kept, the newer release written beside it."""
    done = release_folder(repo_root() / "notebooks", Path(args.out), option="--out")
    notebooks = [item for item in done if item.path.suffix == ".ipynb"]
    print(f"wrote {sum(item.written for item in notebooks)} of {len(notebooks)} learner notebooks to {args.out} "
          "(the others were up to date or kept as edited)")
    for line in beside_lines(done):
        print(line)
    return 0

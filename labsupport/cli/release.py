"""`labsupport release`: the course author's command, alone in its module because nbformat takes seconds to
import and no other command needs it."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import repo_root
from ..release import release_folder
from .command import arg, command


@command("release", args=[arg("--out", default="released")])
def _release(args: argparse.Namespace) -> int:
    """Write the learner notebooks (solutions replaced by stubs) and their apps to --out."""
    written = release_folder(repo_root() / "notebooks", Path(args.out))
    print(f"wrote {len(written)} learner notebooks to {args.out}")
    return 0

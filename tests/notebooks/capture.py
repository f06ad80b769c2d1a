"""A pytest plugin for the nbval subprocess: append every executed cell's outputs to $NBVAL_CAPTURE.

nbval keeps what a cell printed in `item.test_outputs`; written here as one JSON line per cell (notebook, cell
number, source, outputs), the harness can read outputs nbval itself does not compare, e.g. to look for secrets.
"""

from __future__ import annotations

import json
import os
from typing import Any


def pytest_runtest_teardown(item: Any, nextitem: Any) -> None:
    """Record the cell's outputs after it ran (also when it failed)."""
    target = os.environ.get("NBVAL_CAPTURE")
    cell = getattr(item, "cell", None)
    if not target or cell is None or getattr(item, "test_outputs", None) is None:
        return
    record = {"notebook": str(item.fspath), "cell": getattr(item, "cell_num", -1),
              "source": cell.source, "outputs": item.test_outputs}
    with open(target, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, default=str) + "\n")

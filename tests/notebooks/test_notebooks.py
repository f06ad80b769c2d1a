"""The course's notebooks, run for real on the test lab: the source ones under nbval, the released ones with nbclient.

Source notebooks hold the solutions, so each must run top to bottom without an error, match the stored output
of its `nbval-check-output` cells, and pass its checks. Released notebooks hold stubs instead, so they must still
run without an error and their checks must answer politely (a result or a message with the fix, no traceback).
No output of either run may contain a secret.
"""

from __future__ import annotations

import json

import pytest

from labsupport.release import release_folder

from .conftest import docker_config_of
from .harness import (
    NOTEBOOKS,
    TRACEBACK,
    CellRun,
    captured_cells,
    cell_leaks,
    check_calls,
    docker_config_secrets,
    notebook_cells,
    run_execute,
    run_nbval,
    source_notebooks,
)

pytestmark = pytest.mark.docker

POLITE = ("PASSED", "NOT YET", "Problem:")


def _summary(cells: list[CellRun]) -> str:
    return "\n".join(f"{cell.where()}: {cell.text()[:300]}" for cell in cells)


@pytest.mark.parametrize("notebook", source_notebooks(), ids=lambda path: path.stem)
def test_source_notebook_runs_under_nbval(notebook, kernel_env, known_secrets, tmp_path):
    """The notebook runs top to bottom on the lab, its checked outputs match, its checks pass, nothing leaks."""
    capture = tmp_path / "outputs.jsonl"
    done = run_nbval([notebook], kernel_env, capture)
    assert done.returncode == 0, f"nbval failed for {notebook.name}:\n{done.stdout[-6000:]}\n{done.stderr[-2000:]}"

    cells = captured_cells(capture)
    code_cells = [cell for cell in notebook_cells(notebook)]
    assert len(cells) == len(code_cells), "the capture plugin missed cells: " + done.stdout[-2000:]

    secrets = known_secrets | docker_config_secrets(docker_config_of(kernel_env))
    assert not cell_leaks(cells, secrets), cell_leaks(cells, secrets)

    for cell in cells:
        for exercise in check_calls(cell.source):
            if "check(" in cell.source:
                assert f"{exercise}: PASSED" in cell.text(), f"{cell.where()} did not pass:\n{cell.text()}"


def test_released_notebooks_run_and_check_politely(lab, kernel_env, known_secrets, tmp_path):
    """Released notebooks (solutions stubbed) run without errors; checks answer with a result or a fix."""
    released = release_folder(NOTEBOOKS, tmp_path / "released")
    names = [path.name for path in source_notebooks()]
    assert sorted(item.path.name for item in released if item.path.name in names) == names
    executed = tmp_path / "executed"
    seconds = run_execute([tmp_path / "released" / name for name in names], executed, kernel_env)
    assert set(seconds) == set(names)

    secrets = known_secrets | docker_config_secrets(docker_config_of(kernel_env))
    verdicts: dict[str, str] = {}
    for name in names:
        cells = notebook_cells(executed / name)
        assert not [c for c in cells if c.errors], "cells raised:\n" + _summary([c for c in cells if c.errors])
        assert not [c for c in cells if TRACEBACK in c.text()], \
            "a traceback was printed:\n" + _summary([c for c in cells if TRACEBACK in c.text()])
        assert not cell_leaks(cells, secrets), cell_leaks(cells, secrets)
        for cell in cells:
            for exercise in check_calls(cell.source):
                if "check(" not in cell.source:
                    continue
                text = cell.text()
                assert any(word in text for word in POLITE), f"{cell.where()} answered oddly:\n{text}"
                verdicts[exercise] = next(word for word in POLITE if word in text)
    # an answer exercise has nothing to go on in a released notebook: it must say "not yet"
    assert verdicts.get("registries.anatomy") == "NOT YET", json.dumps(verdicts)

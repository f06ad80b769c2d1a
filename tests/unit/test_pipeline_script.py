"""The lesson 08 pipeline refuses bad settings before it builds anything, and never echoes the secret."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "notebooks" / "apps" / "pipeline" / "pipeline.sh"
SECRET = "s3cret-never-printed"
GOOD = {"IMAGE": "localhost:5000/learner/hello-lab", "APP_DIR": str(ROOT / "notebooks" / "apps" / "hello"),
        "VERSION": "1.2.0", "COMMIT": "abc1234def", "REGISTRY_USER": "learner", "REGISTRY_PASSWORD": SECRET}


def run(**changes: str | None) -> subprocess.CompletedProcess:
    env = {**GOOD, **changes}
    env = {key: value for key, value in env.items() if value is not None}
    # An empty PATH apart from the shell's own tools: docker is never reached by a refused run.
    return subprocess.run(["sh", str(SCRIPT)], capture_output=True, text=True, timeout=30,
                          env={"PATH": "/usr/bin:/bin", **env}, cwd=ROOT, check=False)


@pytest.mark.parametrize("changes, reason", [
    ({"IMAGE": None}, "set IMAGE"),
    ({"IMAGE": "learner/hello-lab"}, "names no registry host"),
    ({"APP_DIR": "/nonexistent"}, "has no Dockerfile"),
    ({"REGISTRY_USER": None}, "set REGISTRY_USER"),
    ({"REGISTRY_PASSWORD": None}, "set REGISTRY_PASSWORD"),
    ({"VERSION": "1.2"}, "is not a release version"),
    ({"VERSION": "v1.2.0"}, "is not a release version"),
    ({"COMMIT": "12345678"}, "is no commit id"),
    ({"COMMIT": "xyz"}, "is no commit id"),
])
def test_bad_settings_stop_the_pipeline_with_the_reason(changes, reason):
    result = run(**changes)
    assert result.returncode == 1
    assert reason in result.stderr
    assert "== build" not in result.stdout
    assert SECRET not in result.stdout + result.stderr


def test_the_script_never_traces_its_commands():
    assert "set -x" not in [line.strip() for line in SCRIPT.read_text().splitlines()]
    assert os.access(SCRIPT, os.R_OK)

"""The notebook test harness: find the course's notebooks, run them for real, and read what they printed.

Source notebooks (`notebooks/[0-9][0-9]-*.ipynb`) are stored with their outputs cleared, except cells tagged
`nbval-check-output`, whose stored output is the reference nbval compares with (after sanitize.cfg). They run
two ways, each in a subprocess whose environment points at the test lab and a temporary DOCKER_CONFIG:
  * nbval (`--nbval-lax`): every cell must run without error; tagged cells must match their stored output.
    The `capture` plugin writes every cell's outputs to a JSON-lines file, so the tests can read them too.
  * nbclient (`python -m tests.notebooks.execute`): for released notebooks (solutions replaced by stubs) and
    for the benchmark; it saves the executed notebooks.
Every output is then scanned for secrets: the lab password, `Bearer` tokens, JWTs and `auth` values.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
SANITIZE = Path(__file__).with_name("sanitize.cfg")
CHECKED_TAG = "nbval-check-output"
TRACEBACK = "Traceback (most recent call last)"

#: Secrets that look like secrets, whoever made them.
SECRET_PATTERNS: dict[str, re.Pattern[str]] = {
    "a Bearer token": re.compile(r"Bearer\s+(?![A-Za-z_]+=)[A-Za-z0-9._~+/-]{16,}=*"),
    "a JWT": re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
    "an auth value": re.compile(r"""["']auth["']\s*:\s*["'](?=[A-Za-z0-9+/]*={0,2}["'])[A-Za-z0-9+/]{8,}={0,2}["']"""),
}


def source_notebooks(folder: Path = NOTEBOOKS) -> list[Path]:
    """Every lesson notebook of the folder, in course order."""
    return sorted(folder.glob("[0-9][0-9]-*.ipynb"))


def notebook_env(lab_vars: Mapping[str, str], docker_config: Path) -> dict[str, str]:
    """The environment of a notebook run: our LAB_* only, a given DOCKER_CONFIG, this venv's scripts on PATH."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("LAB_", "DOCKER_CONFIG", "JPY_", "PYTEST_"))}
    env.update(lab_vars)
    env["DOCKER_CONFIG"] = str(docker_config)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(REPO)            # for `-p tests.notebooks.capture` and `-m tests.notebooks.execute`
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # quiets a debugger warning in every kernel's stderr
    return env


def run_nbval(notebooks: Iterable[Path], env: Mapping[str, str], capture: Path,
              timeout: float = 1200) -> subprocess.CompletedProcess[str]:
    """Run nbval on the notebooks in a subprocess from notebooks/, capturing every cell's outputs to `capture`."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.notebooks.capture",
               "--nbval-lax", "--nbval-current-env", f"--nbval-sanitize-with={SANITIZE}",
               "--nbval-cell-timeout=600", *[str(path) for path in notebooks]]
    return subprocess.run(command, cwd=NOTEBOOKS, env={**env, "NBVAL_CAPTURE": str(capture)},
                          capture_output=True, text=True, timeout=timeout, check=False)


def run_execute(notebooks: Iterable[Path], out: Path, env: Mapping[str, str],
                timeout: float = 1200) -> dict[str, float]:
    """Execute notebooks with nbclient in a subprocess, saving them into `out`; seconds taken per notebook."""
    command = [sys.executable, "-m", "tests.notebooks.execute", "--out", str(out),
               *[str(path) for path in notebooks]]
    done = subprocess.run(command, cwd=REPO, env=dict(env), capture_output=True, text=True, timeout=timeout,
                          check=False)
    if done.returncode != 0:
        raise AssertionError(f"executing the notebooks failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


@dataclass(frozen=True)
class CellRun:
    """One executed code cell: where it is, its source and its outputs."""

    notebook: str
    index: int
    source: str
    outputs: tuple[dict[str, Any], ...]

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [out for out in self.outputs if out.get("output_type") == "error"]

    def text(self) -> str:
        """Everything the cell showed, as one text (streams, every mime type's data, error lines)."""
        shown = []
        for output in self.outputs:
            parts = (output.get("text"), output.get("data"), output.get("ename"), output.get("evalue"),
                     output.get("traceback"))
            shown.extend(strings([part for part in parts if part]))
        return "\n".join(shown)

    def where(self) -> str:
        return f"{self.notebook}, cell {self.index}"


def captured_cells(capture: Path) -> list[CellRun]:
    """The cells the capture plugin recorded during an nbval run."""
    if not capture.exists():
        return []
    cells = []
    for line in capture.read_text().splitlines():
        record = json.loads(line)
        cells.append(CellRun(Path(record["notebook"]).name, record["cell"], record["source"],
                             tuple(record["outputs"])))
    return cells


def notebook_cells(path: Path) -> list[CellRun]:
    """The code cells of a notebook file with their stored outputs."""
    data = json.loads(path.read_text())
    return [CellRun(path.name, index, "".join(cell.get("source", "")), tuple(cell.get("outputs", [])))
            for index, cell in enumerate(data.get("cells", [])) if cell.get("cell_type") == "code"]


def strings(value: Any) -> Iterator[str]:
    """Every string inside a JSON-like value (outputs, metadata), however deeply nested."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from strings(item)


def docker_config_secrets(docker_config: Path) -> set[str]:
    """The `auth` values (and what they decode to) stored in a Docker client config folder."""
    path = docker_config / "config.json"
    if not path.exists():
        return set()
    found = set()
    for entry in (json.loads(path.read_text()).get("auths") or {}).values():
        value = (entry or {}).get("auth")
        if value:
            found.add(value)
            try:
                found.add(base64.b64decode(value).decode())
            except ValueError:
                pass
    return found


def lab_secrets(password: str, learner: str) -> set[str]:
    """The lab password and the forms it could leak in (user:password, and that in base64)."""
    pair = f"{learner}:{password}"
    return {password, pair, base64.b64encode(pair.encode()).decode()}


def find_leaks(texts: Iterable[str], secrets: Iterable[str] = ()) -> list[str]:
    """What in the texts looks like a secret: a known secret, a Bearer token, a JWT or an `auth` value."""
    known = [secret for secret in secrets if secret and len(secret) >= 6]
    leaks = []
    for text in texts:
        for secret in known:
            if secret in text:
                leaks.append(f"a known secret ({len(secret)} characters, starting {secret[:2]!r})")
        for name, pattern in SECRET_PATTERNS.items():
            match = pattern.search(text)
            if match:
                leaks.append(f"{name}: {match.group(0)[:12]}…")
    return leaks


def cell_leaks(cells: Iterable[CellRun], secrets: Iterable[str] = ()) -> list[str]:
    """Every leak in the cells' outputs, each with the notebook and cell it is in."""
    secret_list = list(secrets)
    return [f"{cell.where()}: {leak}" for cell in cells
            for leak in find_leaks(strings(cell.outputs), secret_list)]


def check_calls(source: str) -> list[str]:
    """The exercise ids a cell checks with `check("…")` or `CheckButton("…")`."""
    return re.findall(r"""\b(?:check|CheckButton)\(\s*["']([a-z0-9.-]+)["']""", source)

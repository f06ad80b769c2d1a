"""A real JupyterLab serving the learner's folder the way `labsupport lab` does (its own code: prepare_course,
start_jupyterlab), without the registry part; and a command typed into one of its terminals."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import subprocess
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from tornado.websocket import websocket_connect

from labsupport.cli.jupyterlab import prepare_course
from labsupport.jupyter import start_jupyterlab, stop_process, venv_bin
from tests.conftest import free_port

#: A terminal's control sequences (bracketed paste, colours, titles), removed before reading its output.
_ANSI = re.compile(r"\x1b(?:\[[0-9;?]*[A-Za-z]|\][^\x07]*\x07)")



@dataclass(frozen=True)
class ServedCourse:
    url: str
    token: str
    folder: Path
    lines: list[str]
    log: Path

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", params={"token": self.token}, timeout=20)


def _wait_until_up(course: ServedCourse, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {process.returncode}:\n{course.log.read_text()[-3000:]}")
        try:
            if course.get("/api/status").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"JupyterLab did not answer within {timeout} s:\n{course.log.read_text()[-3000:]}")


@contextmanager
def served_course(base: Path, extra_env: Mapping[str, str] | None = None) -> Iterator[ServedCourse]:
    """Prepare the learner folder in `base` and serve it with `labsupport lab`'s launcher; stop it on exit.

    JupyterLab's PATH lacks the venv's bin, as a learner's shell does before `source .venv/bin/activate`.
    """
    folder, state = base / "my-course", base / "state"
    state.mkdir(parents=True, exist_ok=True)
    jupyter_dirs = {var: str(base / name) for var, name in (
        ("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("JUPYTERLAB_SETTINGS_DIR", "settings"), ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"))}
    path = os.pathsep.join(part for part in os.environ.get("PATH", "").split(os.pathsep)
                           if part and Path(part) != venv_bin())
    env = {**os.environ, **jupyter_dirs, "PATH": path, "LAB_COURSE_DIR": str(folder), **(extra_env or {})}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAB_COURSE_DIR", str(folder))
        root, lines = prepare_course()
    port, token = free_port(), secrets.token_hex(16)
    course = ServedCourse(f"http://127.0.0.1:{port}", token, root, lines, base / "jupyterlab.log")
    with course.log.open("wb") as log:
        process = start_jupyterlab(root, state, port, token=token, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_up(course, process)
            yield course
        finally:
            stop_process(process)


async def _type(course: ServedCourse, name: str, command: str, until: str, timeout: float) -> str:
    ws_url = course.url.replace("http://", "ws://") + f"/terminals/websocket/{name}?token={course.token}"
    connection = await websocket_connect(ws_url)
    output = ""
    try:
        await connection.write_message(json.dumps(["stdin", command + "\r"]))
        finished = re.compile(rf"^{re.escape(until)}$", re.MULTILINE)  # the echo's line, not the typed one
        deadline = time.monotonic() + timeout
        while not finished.search(_plain(output)):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {until!r} line from the terminal within {timeout} s:\n{output}")
            try:
                message = await asyncio.wait_for(connection.read_message(), timeout=left)
            except asyncio.TimeoutError:
                raise AssertionError(f"no {until!r} line from the terminal within {timeout} s:\n"
                                     f"{_plain(output)}") from None
            if message is None:
                raise AssertionError(f"the terminal closed:\n{output}")
            kind, *data = json.loads(message)
            if kind == "stdout":
                output += data[0]
    finally:
        connection.close()
    return _plain(output)


def _plain(output: str) -> str:
    """A terminal's output as text: no control sequences, no carriage returns."""
    return _ANSI.sub("", output).replace("\r", "")


def in_terminal(course: ServedCourse, command: str, timeout: float = 60) -> str:
    """Open a JupyterLab terminal (POST /api/terminals), type `command; echo DONE`, return what it printed."""
    response = httpx.post(f"{course.url}/api/terminals", params={"token": course.token}, timeout=20)
    response.raise_for_status()
    name = response.json()["name"]
    try:
        # on a thread of its own: a test run may already have an event loop running on this one
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, _type(course, name, f"{command}; echo DONE", "DONE", timeout)).result()
    finally:
        httpx.delete(f"{course.url}/api/terminals/{name}", params={"token": course.token}, timeout=20)

"""Run JupyterLab on the course's notebooks, and stop it cleanly on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from .config import repo_root
from .errors import LabError

FIRST_NOTEBOOK = "00-setup.ipynb"


def jupyterlab_command(port: int, open_browser: bool, ip: str = "127.0.0.1") -> list[str]:
    """The `jupyter lab` command line: bound to `ip`, rooted at notebooks/, opening the first lesson."""
    notebooks = repo_root() / "notebooks"
    if not notebooks.is_dir():
        raise LabError(f"no notebooks folder at {notebooks}", fix="run labsupport from the course's checkout")
    command = [
        sys.executable, "-m", "jupyterlab",
        f"--ServerApp.ip={ip}", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={notebooks}",
        f"--ServerApp.open_browser={open_browser}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # the Docker-only route and CI run as root
    if (notebooks / FIRST_NOTEBOOK).exists():
        command.append(f"--LabApp.default_url=/lab/tree/{FIRST_NOTEBOOK}")
    return command


def stop_process(process: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM (JupyterLab shuts down cleanly on it), then SIGKILL if it has not ended within `timeout`."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_jupyterlab(port: int = 8888, open_browser: bool = True, ip: str = "127.0.0.1") -> int:
    """Run JupyterLab in the foreground until Ctrl-C (or SIGTERM), then shut it down and return 0.

    JupyterLab runs in its own session so that the terminal's Ctrl-C reaches only us, not its
    "Shutdown this Jupyter server (y/[n])?" prompt; we then stop it with SIGTERM, which it handles cleanly.
    """
    process = subprocess.Popen(jupyterlab_command(port, open_browser, ip), start_new_session=True)
    previous = signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    # Ctrl-C stops it even where the shell started us with SIGINT ignored (a background job without job control)
    interrupt = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        code = process.wait()
        if code != 0:
            raise LabError(f"JupyterLab exited with code {code} (its own messages are above)",
                           fix=f"if port {port} is taken: labsupport lab --port {port + 1}")
        return 0
    except KeyboardInterrupt:
        print("\nstopping JupyterLab…", file=sys.stderr)
        stop_process(process)
        print("JupyterLab stopped; the lab registry keeps running (labsupport down stops it).", file=sys.stderr)
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, interrupt)

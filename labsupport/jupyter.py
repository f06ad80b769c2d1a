"""Run JupyterLab on a folder of the course, with terminals that find `labsupport`, and stop it on Ctrl-C.

Its terminals start the learner's shell with this interpreter's folder (the venv's `bin`, where the
`labsupport` script is) first on PATH: JupyterLab's own environment carries it, the shell is started as an
interactive shell and not a login shell (a login shell reads /etc/profile, which on many systems sets PATH
anew), and a small start-up file puts the folder first again after the learner's own (~/.bashrc for bash,
$ENV for sh, dash and ksh).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from .errors import LabError

FIRST_NOTEBOOK = "00-setup.ipynb"

#: The start-up file of JupyterLab's terminals and the config file that names their shell, in the state folder.
TERMINAL_RC = "terminal-rc.sh"
JUPYTER_CONFIG = "jupyter_lab_config.json"


def venv_bin() -> Path:
    """The folder of the running interpreter, where pip put the `labsupport` script (the venv's bin)."""
    return Path(sys.executable).parent


def terminal_path(env: Mapping[str, str], bin_dir: Path) -> str:
    """PATH with `bin_dir` first (and only once)."""
    rest = [part for part in env.get("PATH", "").split(os.pathsep) if part and Path(part) != bin_dir]
    return os.pathsep.join([str(bin_dir), *rest])


def terminal_shell(state_dir: Path, bin_dir: Path, shell: str | None = None) -> list[str] | None:
    """The shell command of JupyterLab's terminals (None on Windows: JupyterLab's PowerShell keeps its PATH).

    Writes the start-up file into `state_dir`: bash's own start-up files when the shell is bash, then
    `bin_dir` first on PATH.
    """
    if os.name == "nt":
        return None
    shell = shell or os.environ.get("SHELL") or shutil.which("sh") or "/bin/sh"
    rc = state_dir / TERMINAL_RC
    rc.write_text("# Made by `labsupport lab` for JupyterLab's terminals: your own start-up file, then the\n"
                  "# course's venv first on PATH so that `labsupport` is found.\n"
                  "# (bash's --rcfile stands in for both of its own: the system's and ~/.bashrc)\n"
                  'if [ -n "$BASH_VERSION" ]; then\n'
                  '  if [ -f /etc/bash.bashrc ]; then . /etc/bash.bashrc; fi\n'
                  '  if [ -f "$HOME/.bashrc" ]; then . "$HOME/.bashrc"; fi\n'
                  'fi\n'
                  f'PATH={shlex.quote(str(bin_dir))}:"$PATH"; export PATH\n', encoding="utf-8")
    if Path(shell).name == "bash":
        return [shell, "--rcfile", str(rc), "-i"]
    return [shell, "-i"]  # sh, dash, ksh read $ENV; zsh, fish keep the PATH JupyterLab gives them


def jupyterlab_command(root: Path, port: int, open_browser: bool, ip: str = "127.0.0.1", *,
                       config_file: Path | None = None, token: str | None = None) -> list[str]:
    """The `jupyter lab` command line: bound to `ip`, rooted at `root`, opening its first lesson."""
    if not root.is_dir():
        raise LabError(f"no folder of notebooks at {root}", fix="run labsupport from the course's checkout")
    command = [
        sys.executable, "-m", "jupyterlab",
        f"--ServerApp.ip={ip}", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root}",
        f"--ServerApp.open_browser={open_browser}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if config_file is not None:
        command.append(f"--config={config_file}")
    if token is not None:
        command.append(f"--IdentityProvider.token={token}")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # the Docker-only route and CI run as root
    if (root / FIRST_NOTEBOOK).exists():
        command.append(f"--LabApp.default_url=/lab/tree/{FIRST_NOTEBOOK}")
    return command


def start_jupyterlab(root: Path, state_dir: Path, port: int, open_browser: bool = False, ip: str = "127.0.0.1",
                     *, token: str | None = None, env: Mapping[str, str] | None = None,
                     **popen: object) -> subprocess.Popen:
    """Start JupyterLab on `root` in its own session (terminals set up as above); the running process.

    `state_dir` holds the terminals' start-up file and JupyterLab's config naming their shell.
    """
    bin_dir = venv_bin()
    base = dict(os.environ if env is None else env)
    shell = terminal_shell(state_dir, bin_dir, base.get("SHELL"))
    config_file = None
    if shell is not None:
        config_file = state_dir / JUPYTER_CONFIG
        config_file.write_text(json.dumps({"ServerApp": {"terminado_settings": {"shell_command": shell}}}),
                               encoding="utf-8")
        base["ENV"] = str(state_dir / TERMINAL_RC)
    base["PATH"] = terminal_path(base, bin_dir)
    command = jupyterlab_command(root, port, open_browser, ip, config_file=config_file, token=token)
    return subprocess.Popen(command, env=base, cwd=root, start_new_session=True, **popen)  # type: ignore[call-overload]


def stop_process(process: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM (JupyterLab shuts down cleanly on it), then SIGKILL if it has not ended within `timeout`."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_jupyterlab(root: Path, state_dir: Path, port: int = 8888, open_browser: bool = True,
                   ip: str = "127.0.0.1") -> int:
    """Run JupyterLab on `root` in the foreground until Ctrl-C (or SIGTERM), then shut it down and return 0.

    JupyterLab runs in its own session so that the terminal's Ctrl-C reaches only us, not its
    "Shutdown this Jupyter server (y/[n])?" prompt; we then stop it with SIGTERM, which it handles cleanly.
    """
    process = start_jupyterlab(root, state_dir, port, open_browser, ip)
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

"""`labsupport`'s command table: every command registered once by its module, all listed, `--help` light."""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from labsupport.cli import COMMANDS, chosen_command, main
from labsupport.cli.command import command, registered

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("docker", "ipywidgets", "IPython", "jupyterlab", "jupyter_server", "jupyter_client", "nbformat")
GROUPS = tuple(sorted({f"labsupport.cli.{listed.module}" for listed in COMMANDS.values()}))


def _run(argv: list[str]) -> tuple[int | str | None, str]:
    """main in this process: (exit code, stdout); argparse's SystemExit becomes its code."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        try:
            code: int | str | None = main(argv)
        except SystemExit as stop:
            code = stop.code
    return code, out.getvalue()


def test_every_command_in_the_table_is_registered_once_by_its_module():
    for module in sorted({listed.module for listed in COMMANDS.values()}):
        importlib.import_module(f"labsupport.cli.{module}")
    commands = registered()
    words = [item.words for item in commands]
    assert len(words) == len(set(words))
    assert {item.words[0] for item in commands} == set(COMMANDS)
    for item in commands:
        assert item.run.__module__ == f"labsupport.cli.{COMMANDS[item.words[0]].module}", item.words
        assert (item.help is None) == (len(item.words) == 1), item.words   # nested actions carry their line
    with pytest.raises(RuntimeError, match="registered twice"):
        command("up")(lambda _args: 0)
    assert registered() == commands


def test_help_lists_every_command_with_its_line():
    code, out = _run(["--help"])
    assert code == 0
    words = " ".join(out.split())          # a long name puts its line below it; a narrow terminal wraps
    for name, listed in COMMANDS.items():
        assert f" {name} {' '.join(listed.help.split())}" in words, name
    code, out = _run(["workshop"])                    # a group without an action shows its actions
    assert code == 2
    assert all(action in out for action in ("init", "up", "down", "status", "grades"))


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_has_its_own_help(name):
    code, out = _run([name, "--help"])
    assert code == 0
    assert out.split()[:3] == ["usage:", "labsupport", name]


def test_the_command_is_the_first_word_that_is_not_an_option():
    assert chosen_command(["status", "--json"]) == "status"
    assert chosen_command(["--", "check", "push.pushed"]) == "check"
    assert chosen_command(["-h"]) is None
    assert chosen_command([]) is None


@pytest.mark.parametrize("argv", [["--help"], []])
def test_help_imports_no_command_module_nor_the_docker_sdk_nor_ipywidgets(argv):
    """The listing comes from the table alone (a command's own --help loads its module and what it needs)."""
    probe = ("import contextlib, io, json, runpy, sys\n"
             f"sys.argv = ['labsupport', *{argv!r}]\n"
             "with contextlib.redirect_stdout(io.StringIO()):\n"
             "    try:\n"
             "        runpy.run_module('labsupport.cli', run_name='__main__', alter_sys=True)\n"
             "    except SystemExit:\n"
             "        pass\n"
             f"print(json.dumps(sorted(name for name in {HEAVY + GROUPS!r} if name in sys.modules)))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def _labsupport(*args: str, **env: str) -> subprocess.CompletedProcess:
    """`labsupport ARGS` in a subprocess, with `env` added: what a learner's terminal shows."""
    return subprocess.run([sys.executable, "-m", "labsupport.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, check=False, env={**os.environ, "PYTHONPATH": str(ROOT), **env})


def _unmakeable(tmp_path: Path) -> Path:
    """A folder path that cannot be made on any system: its parent is a file."""
    (tmp_path / "a-file").write_text("")
    return tmp_path / "a-file" / "x"


def test_an_unusable_state_folder_is_one_line_naming_lab_state_dir_without_a_traceback(tmp_path):
    done = _labsupport("credentials", LAB_STATE_DIR=str(_unmakeable(tmp_path)))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    first = done.stderr.splitlines()[0]
    assert first.startswith("error: LAB_STATE_DIR: cannot make the folder ") and "needs a folder" in first


def test_an_unusable_release_folder_is_one_line_naming_out_without_a_traceback(tmp_path):
    done = _labsupport("release", "--out", str(_unmakeable(tmp_path)))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.splitlines()[0].startswith("error: --out: cannot make the folder ")


def test_an_unusable_learner_folder_is_one_line_naming_lab_course_dir_before_jupyterlab_starts(tmp_path):
    done = _labsupport("lab", "--skip-up", "--no-browser", "--port", "1",
                       LAB_COURSE_DIR=str(_unmakeable(tmp_path)), LAB_STATE_DIR=str(tmp_path / "state"))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.splitlines()[0].startswith("error: LAB_COURSE_DIR: cannot make the folder ")


@pytest.mark.skipif(not Path("/proc/1").is_dir(), reason="the issue's own example needs Linux's /proc")
def test_the_issues_examples_under_proc(tmp_path):
    assert _labsupport("credentials", LAB_STATE_DIR="/proc/1/x").stderr.startswith("error: LAB_STATE_DIR: ")
    assert _labsupport("release", "--out", "/proc/x").stderr.startswith("error: --out: ")

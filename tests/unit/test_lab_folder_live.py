"""`labsupport lab`'s JupyterLab, for real (no Docker: the registry part is left out): its root is the learner's
folder of released copies and the apps, never the answer key, and its terminals find the venv's labsupport."""

from __future__ import annotations

import shutil
import subprocess

import nbformat
import pytest

from labsupport.config import repo_root
from labsupport.jupyter import TERMINAL_RC, terminal_shell, venv_bin
from labsupport.release import BEGIN_SOLUTION
from tests.coursejupyter import in_terminal, served_course

SOURCE = repo_root() / "notebooks"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    with served_course(tmp_path_factory.mktemp("lab")) as served:
        yield served


def test_the_root_holds_the_learner_copies_and_the_apps_and_no_answer_key(course):
    listing = course.get("/api/contents").json()
    names = {item["name"] for item in listing["content"]}
    sources = {path.name for path in SOURCE.glob("*.ipynb")}
    assert sources and sources <= names
    assert "apps" in names and "notebooks" not in names
    apps = {item["name"] for item in course.get("/api/contents/apps").json()["content"]}
    assert apps == {path.name for path in (SOURCE / "apps").iterdir() if path.is_dir()}
    for item in listing["content"]:
        if item["type"] == "notebook":
            nb = course.get(f"/api/contents/{item['path']}").json()["content"]
            for cell in nb["cells"]:
                assert BEGIN_SOLUTION not in cell["source"], (item["name"], cell["source"][:200])
    assert course.get("/lab").status_code == 200


def test_the_first_notebook_is_the_learner_copy_of_00(course):
    copy = nbformat.read(course.folder / "00-setup.ipynb", as_version=4)
    source = nbformat.read(SOURCE / "00-setup.ipynb", as_version=4)
    assert [cell.id for cell in copy.cells] == [cell.id for cell in source.cells]
    assert not any(BEGIN_SOLUTION in cell.source for cell in copy.cells)


@pytest.mark.parametrize("shell", ["bash", "sh"])
def test_a_terminal_of_the_lab_finds_the_venvs_labsupport(tmp_path, shell):
    if not shutil.which(shell):
        pytest.skip(f"no {shell} here")
    with served_course(tmp_path, {"SHELL": shutil.which(shell)}) as course:
        output = in_terminal(course, "command -v labsupport")
    assert f"{venv_bin() / 'labsupport'}" in output.replace("\r", ""), output


@pytest.mark.skipif(not shutil.which("sh"), reason="no POSIX sh here")
def test_the_terminals_start_up_file_puts_the_venv_first_even_after_a_path_reset(tmp_path):
    bin_dir = tmp_path / "venv bin"
    shell = terminal_shell(tmp_path, bin_dir, "/bin/sh")
    assert shell == ["/bin/sh", "-i"]
    done = subprocess.run(["sh", "-c", f'PATH=/usr/bin:/bin; . "{tmp_path / TERMINAL_RC}"; echo "$PATH"'],
                          capture_output=True, text=True, check=True, env={"HOME": str(tmp_path)})
    assert done.stdout.strip() == f"{bin_dir}:/usr/bin:/bin"
    assert terminal_shell(tmp_path, bin_dir, "/usr/bin/bash") == ["/usr/bin/bash", "--rcfile",
                                                                   str(tmp_path / TERMINAL_RC), "-i"]

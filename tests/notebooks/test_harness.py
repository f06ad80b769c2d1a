"""The notebooks as stored, and the harness's own parts: lesson shape, cleared outputs, secret scan, sanitizer.

No Docker here: these read files and test pure helpers, on good inputs and bad ones.
"""

from __future__ import annotations

import base64
import json
import re

import nbformat
import pytest
from nbval.plugin import get_sanitize_patterns

from labsupport.config import repo_root
from labsupport.release import release_notebook

from .harness import (
    CHECKED_TAG,
    SANITIZE,
    check_calls,
    docker_config_secrets,
    find_leaks,
    lab_secrets,
    notebook_cells,
    source_notebooks,
    strings,
)

NOTEBOOKS = source_notebooks()
MINE = ("00-setup", "01-images", "02-registries")


def _sanitize(text: str) -> str:
    for regex, replace in get_sanitize_patterns(SANITIZE.read_text()):
        text = re.sub(regex, replace, text)
    return text


def test_the_first_lessons_are_there_in_course_order():
    stems = [path.stem for path in NOTEBOOKS]
    assert stems[:3] == list(MINE)
    assert stems == sorted(stems)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_is_stored_valid_with_outputs_cleared(notebook):
    """Only cells tagged nbval-check-output keep an output (nbval's reference); nothing else is stored."""
    nb = nbformat.read(notebook, as_version=4)
    nbformat.validate(nb)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or CHECKED_TAG in cell.metadata.get("tags", []):
            continue
        assert not cell.outputs, f"{notebook.name} cell {index} is stored with outputs: clear them"
        assert cell.execution_count is None, f"{notebook.name} cell {index} is stored with an execution count"
    assert "widgets" not in nb.metadata, f"{notebook.name} is stored with widget state"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_has_the_lesson_shape(notebook):
    """A visible catch-up cell first, a prediction, a checked exercise, and solutions that release cleanly."""
    nb = nbformat.read(notebook, as_version=4)
    cells = notebook_cells(notebook)
    number = notebook.stem[:2]
    assert re.search(rf"""catch_up\(\s*["']{number}["']\s*\)""", cells[0].source), \
        f"{notebook.name}: the first code cell must call catch_up(\"{number}\")"
    sources = "\n".join(cell.source for cell in cells)
    assert "Predict(" in sources or "MythCard(" in sources, f"{notebook.name} asks for no prediction"
    assert any(check_calls(cell.source) for cell in cells), f"{notebook.name} checks no exercise"
    released = release_notebook(nb, name=notebook.name)
    assert "### BEGIN SOLUTION" not in json.dumps(released)


def test_stored_outputs_hold_no_secret():
    """No stored output (or notebook metadata) holds a token, a JWT, an auth value or this checkout's password."""
    secrets: set[str] = set()
    password = repo_root() / ".lab" / "password"
    if password.is_file():
        secrets |= lab_secrets(password.read_text().strip(), "")
    for notebook in NOTEBOOKS:
        data = json.loads(notebook.read_text())
        texts = list(strings(data.get("metadata", {})))
        texts += [text for cell in data["cells"] for text in strings(cell.get("outputs", []))]
        assert not find_leaks(texts, secrets), f"{notebook.name}: {find_leaks(texts, secrets)}"


# -- the secret scan ---------------------------------------------------------------------------------------

JWT = ("eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJsYWIiLCJhY2Nlc3MiOltdfQ."
       "MEUCIQDx3n1fakesignaturefakesignature")


@pytest.mark.parametrize("text", [
    f"token: {JWT}",
    "Authorization: Bearer 3f9a8c7d6e5b4a39281706f5e4d3c2b1",
    '{"auths": {"localhost:5000": {"auth": "bGVhcm5lcjpzM2NyZXQtcGFzcw=="}}}',
    "{'auth': 'bGVhcm5lcjpzM2NyZXQ='}",
])
def test_find_leaks_sees_secret_shapes(text):
    assert find_leaks([text])


@pytest.mark.parametrize("text", [
    'Www-Authenticate: Bearer realm="http://127.0.0.1:5001/token",service="lab"',
    '{"auths": {"localhost:5000": {}}, "credsStore": "desktop"}',
    "sha256:cf62ad8036b06ffd899a1f857afa95945d03361b8950a81aa611e5e2984c1919",
    "registries.anatomy: PASSED\n  all 5 references split correctly",
    "what config.json would hold: YWxpY2U6Y29ycmVjdC1ob3JzZQ==",
])
def test_find_leaks_lets_ordinary_outputs_pass(text):
    assert find_leaks([text]) == []


def test_find_leaks_sees_known_secrets_in_any_form():
    secrets = lab_secrets("Xq7-long-lab-password", "learner")
    encoded = base64.b64encode(b"learner:Xq7-long-lab-password").decode()
    assert find_leaks(["the password is Xq7-long-lab-password"], secrets)
    assert find_leaks([f"Authorization: Basic {encoded}"], secrets)
    assert find_leaks(["nothing to see"], secrets) == []
    # a leak report never repeats the secret itself
    assert all("Xq7-long" not in line for line in find_leaks(["Xq7-long-lab-password"], secrets))


def test_docker_config_secrets_reads_auth_values(tmp_path):
    encoded = base64.b64encode(b"learner:pw-123456").decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {"localhost:1": {"auth": encoded},
                                                                 "other:2": {}}}))
    assert docker_config_secrets(tmp_path) == {encoded, "learner:pw-123456"}
    assert docker_config_secrets(tmp_path / "missing") == set()


def test_strings_walks_nested_outputs():
    outputs = [{"output_type": "stream", "text": "a"}, {"data": {"text/plain": ["b", "c"], "x": {"y": "d"}}}]
    assert sorted(strings(outputs)) == ["a", "b", "c", "d", "stream"]


def test_check_calls_finds_checked_exercises():
    assert check_calls('check("images.build")\nCheckButton(\'push.pushed\')') == ["images.build", "push.pushed"]
    assert check_calls("recheck = 1\nprint('check')") == []


# -- the sanitizer --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("first, second", [
    ("sha256:" + "a" * 64, "sha256:" + "b" * 64),
    ("IMAGE 9da6df6eef36 built", "IMAGE 0d184349bccd built"),
    ("Date: Mon, 30 Nov 2026 16:03:21 GMT", "Date: Tue, 01 Dec 2026 09:00:00 GMT"),
    ("created 2026-11-30T16:01:09+00:00", "created 2025-01-02T03:04:05.123Z"),
    ("5 minutes ago", "About an hour ago"),
    ("1.98MB", "2.1 MB"),
    ("Content-Length: 87", "Content-Length: 112"),
    ("http://localhost:52205/v2/", "http://localhost:5000/v2/"),
    ("state in /tmp/pytest-of-root/pytest-3/labstate0", "state in /tmp/xyz"),
    ("sent in 0.4 s", "sent in 12.0 s"),
])
def test_sanitizer_makes_run_dependent_values_equal(first, second):
    assert first != second
    assert _sanitize(first) == _sanitize(second)


@pytest.mark.parametrize("first, second", [
    ("HTTP/1.1 401 Unauthorized", "HTTP/1.1 200 OK"),
    ("registries.anatomy: PASSED", "registries.anatomy: NOT YET (implied-host)"),
    ("Www-Authenticate: Basic realm=\"lab-registry\"", "Www-Authenticate: Bearer realm=\"x\""),
    ("hello-lab version 1.0", "hello-lab version 1.1"),
])
def test_sanitizer_keeps_what_the_lesson_shows(first, second):
    assert _sanitize(first) != _sanitize(second)


# -- nbval as the harness runs it -----------------------------------------------------------------------------

def _checked_notebook(path, printed: str, stored: str) -> None:
    """A one-cell notebook that prints `printed`, stored with `stored` as its checked reference output."""
    cell = nbformat.v4.new_code_cell(f"print({printed!r})", metadata={"tags": [CHECKED_TAG]},
                                     outputs=[nbformat.v4.new_output("stream", name="stdout", text=stored + "\n")])
    cell.execution_count = 1
    nb = nbformat.v4.new_notebook(cells=[cell])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_nbval_compares_checked_cells_after_sanitizing(tmp_path):
    """A checked cell passes when only run-dependent values differ, and fails when what it teaches differs."""
    from .harness import captured_cells, notebook_env, run_nbval

    same = tmp_path / "same.ipynb"
    _checked_notebook(same, "pushed sha256:" + "b" * 64 + " to localhost:5001 in 0.3 s",
                      "pushed sha256:" + "a" * 64 + " to localhost:5000 in 1.2 s")
    changed = tmp_path / "changed.ipynb"
    _checked_notebook(changed, "hello-lab version 1.1", "hello-lab version 1.0")
    env = notebook_env({}, tmp_path)
    capture = tmp_path / "outputs.jsonl"
    done = run_nbval([same, changed], env, capture, timeout=300)
    assert "1 failed, 1 passed" in done.stdout, done.stdout[-3000:]
    assert "changed.ipynb::Cell 0" in done.stdout
    assert [cell.text().strip() for cell in captured_cells(capture)][1] == "hello-lab version 1.1"

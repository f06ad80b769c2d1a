"""Releasing notebooks: solutions out, runnable stubs in at the right indentation, outputs cleared."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from labsupport.cli.jupyterlab import prepare_course
from labsupport.errors import LabError, NotebookError
from labsupport.release import (
    RECORD_DIR,
    beside_lines,
    main,
    release_folder,
    release_notebook,
    strip_solutions,
)

SECRET = "SOLUTION_TEXT_42"


def source_notebook() -> nbformat.NotebookNode:
    """A small source notebook with solutions at the top level, indented, in a shell escape and in text."""
    cells = [
        new_markdown_cell("# Lesson\nNo solution here."),
        new_code_cell("ref = 'hello-lab:1.0'\n### BEGIN SOLUTION\n"
                      f"!docker push localhost:5000/learner/{SECRET}\n### END SOLUTION\ncheck('push.pushed')",
                      execution_count=3,
                      outputs=[new_output("stream", name="stdout", text=f"pushed {SECRET}\n")]),
        new_code_cell("def answer():\n    ### BEGIN SOLUTION\n"
                      f"    return {{'host': '{SECRET}'}}\n    ### END SOLUTION\n\nprint(answer())",
                      execution_count=4),
        new_markdown_cell(f"Why?\n\n### BEGIN SOLUTION\nBecause {SECRET}.\n### END SOLUTION\n"),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {"x": SECRET}}}
    return nb


def test_no_solution_text_or_marker_remains():
    released = release_notebook(source_notebook())
    text = nbformat.writes(released)
    assert SECRET not in text
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text


def test_stubs_sit_where_regions_were_with_the_markers_indentation():
    cells = release_notebook(source_notebook()).cells
    assert cells[1].source == "ref = 'hello-lab:1.0'\n# YOUR CODE HERE\n...\ncheck('push.pushed')"
    assert cells[2].source == "def answer():\n    # YOUR CODE HERE\n    ...\n\nprint(answer())"
    assert cells[3].source == "Why?\n\nYOUR ANSWER HERE\n"
    assert cells[0].source == "# Lesson\nNo solution here."


def test_released_code_cells_are_valid_python_that_does_not_raise():
    cells = release_notebook(source_notebook()).cells
    namespace = {"check": lambda exercise_id: None}
    for cell in cells:
        if cell.cell_type == "code":
            ast.parse(cell.source)
            exec(compile(cell.source, "<cell>", "exec"), namespace)  # noqa: S102 - the stub itself runs


def test_outputs_counts_and_widget_state_are_cleared_and_the_source_untouched():
    source = source_notebook()
    released = release_notebook(source)
    for cell in released.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert "widgets" not in released.metadata
    nbformat.validate(released)
    assert source.cells[1].outputs and SECRET in source.cells[2].source   # the input is not changed


@pytest.mark.parametrize(("source", "cell_line"), [
    ("a = 1\n### BEGIN SOLUTION\nb = 2\n    ### BEGIN SOLUTION\nc = 3\n### END SOLUTION\n", 4),
    ("a = 1\n\n### BEGIN SOLUTION\nb = 2\n", 3),
    ("a = 1\n### END SOLUTION\n", 2),
])
def test_nested_unterminated_or_stray_markers_are_refused_naming_the_cell(source, cell_line):
    nb = new_notebook(cells=[new_markdown_cell("intro"), new_code_cell("x = 0"), new_code_cell(source)])
    with pytest.raises(NotebookError) as caught:
        release_notebook(nb, name="05-push.ipynb")
    assert f"05-push.ipynb: cell 3, line {cell_line}:" in caught.value.message
    assert caught.value.cell == 3 and caught.value.fix


def test_strip_keeps_text_without_markers_byte_for_byte():
    for text in ("", "x", "x\n", "a\n\n  b\n", "  ### BEGIN SOLUTIONS are not markers\n"):
        assert strip_solutions(text, ("# YOUR CODE HERE", "...")) == text


def write(path: Path, nb: nbformat.NotebookNode) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def test_release_folder_writes_every_notebook_and_copies_apps(tmp_path):
    src, out = tmp_path / "notebooks", tmp_path / "released"
    write(src / "01-images.ipynb", source_notebook())
    write(src / "05-push.ipynb", source_notebook())
    (src / "apps" / "hello").mkdir(parents=True)
    (src / "apps" / "hello" / "Dockerfile").write_text("FROM scratch\n")
    (src / "apps" / "hello" / "__pycache__").mkdir()
    (src / "notes.txt").write_text("not a notebook")
    done = release_folder(src, out)
    assert [item.path.name for item in done] == ["01-images.ipynb", "05-push.ipynb", "Dockerfile"]
    assert all(item.written and item.beside is None for item in done)
    for path in (out / "01-images.ipynb", out / "05-push.ipynb"):
        assert SECRET not in path.read_text(encoding="utf-8")
        nbformat.validate(nbformat.read(path, as_version=4))
    assert (out / "apps" / "hello" / "Dockerfile").read_text() == "FROM scratch\n"
    assert not (out / "apps" / "hello" / "__pycache__").exists()
    assert not (out / "notes.txt").exists()
    assert SECRET in (src / "05-push.ipynb").read_text(encoding="utf-8")   # sources keep their solutions


def test_release_folder_refuses_itself_and_writes_nothing_when_one_notebook_is_bad(tmp_path):
    src, out = tmp_path / "notebooks", tmp_path / "released"
    write(src / "01-good.ipynb", source_notebook())
    write(src / "02-bad.ipynb", new_notebook(cells=[new_code_cell("### BEGIN SOLUTION\nx = 1")]))
    with pytest.raises(NotebookError, match="onto itself"):
        release_folder(src, src)
    with pytest.raises(NotebookError, match="02-bad.ipynb: cell 1, line 1"):
        release_folder(src, out)
    assert not (out / "01-good.ipynb").exists()


def test_a_file_that_is_not_a_notebook_is_named(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "broken.ipynb").write_text("{not json")
    with pytest.raises(NotebookError, match="broken.ipynb is not a readable notebook"):
        release_folder(tmp_path / "src", tmp_path / "out")


def test_command_line_reports_success_and_failure(tmp_path, capsys):
    write(tmp_path / "src" / "a.ipynb", source_notebook())
    assert main([str(tmp_path / "src"), str(tmp_path / "out")]) == 0
    assert "released" in capsys.readouterr().out
    write(tmp_path / "bad" / "b.ipynb", new_notebook(cells=[new_code_cell("### END SOLUTION")]))
    assert main([str(tmp_path / "bad"), str(tmp_path / "out2")]) == 1
    assert "cell 1, line 1" in capsys.readouterr().err


# --- a release never overwrites a learner's edit ---------------------------------------------------------------

def course_source(tmp_path: Path) -> Path:
    """A temporary source folder: two notebooks with solutions and an app."""
    src = tmp_path / "notebooks"
    write(src / "00-setup.ipynb", source_notebook())
    write(src / "05-push.ipynb", source_notebook())
    (src / "apps" / "hello").mkdir(parents=True)
    (src / "apps" / "hello" / "hello.sh").write_text("echo 1\n")
    return src


def change_source(src: Path, name: str, text: str) -> None:
    """What a `git pull` does to a source notebook: a markdown cell changes."""
    nb = nbformat.read(src / name, as_version=4)
    nb.cells[0].source = text
    nbformat.write(nb, src / name)


def edit_copy(path: Path, text: str) -> None:
    nb = nbformat.read(path, as_version=4)
    nb.cells[1].source += f"\n{text}"
    nbformat.write(nb, path)


def test_a_missing_copy_is_written_again(tmp_path):
    src, out = course_source(tmp_path), tmp_path / "my-course"
    release_folder(src, out)
    (out / "05-push.ipynb").unlink()
    done = release_folder(src, out)
    assert [item.path.name for item in done if item.written] == ["05-push.ipynb"]
    assert SECRET not in (out / "05-push.ipynb").read_text(encoding="utf-8")


def test_an_unedited_copy_is_replaced_by_a_newer_release_and_outputs_are_not_edits(tmp_path):
    src, out = course_source(tmp_path), tmp_path / "my-course"
    release_folder(src, out)
    ran = nbformat.read(out / "05-push.ipynb", as_version=4)   # the learner ran a cell: outputs, a count
    ran.cells[1].outputs = [new_output("stream", name="stdout", text="pushed\n")]
    ran.cells[1].execution_count = 1
    nbformat.write(ran, out / "05-push.ipynb")
    change_source(src, "05-push.ipynb", "# Lesson, second edition")
    done = release_folder(src, out)
    assert [item.path.name for item in done if item.written] == ["05-push.ipynb"]
    assert not [item for item in done if item.beside]
    assert nbformat.read(out / "05-push.ipynb", as_version=4).cells[0].source == "# Lesson, second edition"
    assert list(out.glob("*.newer-*")) == []


def test_an_edited_copy_survives_a_newer_release_written_beside_it(tmp_path):
    src, out = course_source(tmp_path), tmp_path / "my-course"
    release_folder(src, out)
    edit_copy(out / "05-push.ipynb", "my_answer = 42")
    assert [item for item in release_folder(src, out) if item.written or item.beside] == []   # nothing newer
    change_source(src, "05-push.ipynb", "# Lesson, second edition")
    done = release_folder(src, out)
    kept = nbformat.read(out / "05-push.ipynb", as_version=4)
    assert kept.cells[1].source.endswith("my_answer = 42") and kept.cells[0].source == "# Lesson\nNo solution here."
    [newer] = [item.beside for item in done if item.beside]
    assert newer.parent == out and newer.name.startswith("05-push.newer-") and newer.suffix == ".ipynb"
    assert nbformat.read(newer, as_version=4).cells[0].source == "# Lesson, second edition"
    assert SECRET not in newer.read_text(encoding="utf-8")
    [line] = beside_lines(done, cwd=tmp_path)
    assert line == f"kept your edited my-course/05-push.ipynb; the newer release is beside it: my-course/{newer.name}"
    # the next run neither touches the edit nor the newer copy (the learner may be editing that one too)
    edit_copy(newer, "also mine")
    release_folder(src, out)
    assert nbformat.read(out / "05-push.ipynb", as_version=4).cells[1].source.endswith("my_answer = 42")
    assert nbformat.read(newer, as_version=4).cells[1].source.endswith("also mine")


def test_an_edited_app_file_is_kept_and_its_newer_release_goes_outside_the_apps_build_folder(tmp_path):
    src, out = course_source(tmp_path), tmp_path / "my-course"
    release_folder(src, out)
    (out / "apps" / "hello" / "hello.sh").write_text("echo mine\n")
    (src / "apps" / "hello" / "hello.sh").write_text("echo 2\n")
    done = release_folder(src, out)
    assert (out / "apps" / "hello" / "hello.sh").read_text() == "echo mine\n"
    [newer] = [item.beside for item in done if item.beside]
    assert newer.parent == out / "newer-apps" / "hello" and newer.name.startswith("hello.sh.newer-")
    assert newer.read_text() == "echo 2\n"
    # an unedited one follows the source
    (src / "apps" / "hello" / "VERSION").write_text("1\n")
    release_folder(src, out)
    (src / "apps" / "hello" / "VERSION").write_text("2\n")
    release_folder(src, out)
    assert (out / "apps" / "hello" / "VERSION").read_text() == "2\n"
    assert [path.name for path in (out / "newer-apps" / "hello").iterdir()] == [newer.name]


def test_a_copy_made_before_records_were_kept_counts_as_edited_unless_it_is_the_release(tmp_path):
    src, out = course_source(tmp_path), tmp_path / "my-course"
    release_folder(src, out)
    edit_copy(out / "05-push.ipynb", "mine")
    shutil.rmtree(out / RECORD_DIR)
    done = release_folder(src, out)
    assert nbformat.read(out / "05-push.ipynb", as_version=4).cells[1].source.endswith("mine")
    assert [item.path.name for item in done if item.beside] == ["05-push.ipynb"]
    assert not (out / "00-setup.ipynb.newer").exists() and not any(item.written for item in done)


def test_an_output_folder_that_cannot_be_made_is_one_line_naming_the_option(tmp_path):
    src = course_source(tmp_path)
    (tmp_path / "file").write_text("")
    with pytest.raises(LabError) as caught:
        release_folder(src, tmp_path / "file" / "sub", option="--out")
    assert caught.value.message.startswith("--out: cannot make the folder")
    assert "\n" not in caught.value.message and "--out" in caught.value.fix


def test_labsupport_labs_preparation_twice_keeps_a_learners_edit_of_the_real_lessons(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_COURSE_DIR", str(tmp_path / "my-course"))
    folder, lines = prepare_course()
    assert folder == tmp_path / "my-course" and lines == []
    assert (folder / "00-setup.ipynb").is_file() and (folder / "apps" / "hello" / "Dockerfile").is_file()
    edit_copy(folder / "01-images.ipynb", "# my note")
    (folder / "apps" / "hello" / "hello.sh").write_text("echo mine\n")
    assert prepare_course()[1] == []            # the source did not change: nothing written beside
    assert nbformat.read(folder / "01-images.ipynb", as_version=4).cells[1].source.endswith("# my note")
    assert (folder / "apps" / "hello" / "hello.sh").read_text() == "echo mine\n"

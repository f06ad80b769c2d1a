"""Predictions ask before they tell: the answers live in the course data, a lesson names only the id, a learner
copy holds no answer or explanation, and a learner without widgets commits with `answer(id, value)`."""

from __future__ import annotations

import ast
import builtins
import json
import re
from pathlib import Path

import pytest
from IPython.core.inputtransformer2 import TransformerManager

from labsupport import course, notebook
from labsupport.config import LabConfig
from labsupport.course import LESSON_NUMBERS, MYTHS, PREDICTIONS
from labsupport.errors import UnknownExercise
from labsupport.progress import ProgressLog
from labsupport.release import release_folder

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def card_calls(source: str) -> list[ast.Call]:
    """Every Predict(...) and MythCard(...) call of a code cell, read as IPython runs it (`!cmd` becomes a call)."""
    python = TransformerManager().transform_cell(source)
    return [node for node in ast.walk(ast.parse(python)) if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name) and node.func.id in ("Predict", "MythCard")]


def code_cells(path: Path) -> list[str]:
    return ["".join(cell["source"]) for cell in json.loads(path.read_text())["cells"] if cell["cell_type"] == "code"]


def all_sources(path: Path) -> str:
    return "\n".join("".join(cell["source"]) for cell in json.loads(path.read_text())["cells"])


def test_each_prediction_belongs_to_a_lesson_and_its_answer_is_one_of_its_choices():
    for item in PREDICTIONS.values():
        assert item.lesson in LESSON_NUMBERS, item.id
        assert item.question and item.explanation, item.id
        for answer in (item.answer, item.containerd_answer):
            if answer is None:
                continue
            if item.number:
                assert isinstance(answer, int), item.id
            else:
                assert answer in item.choices, item.id
                assert len(set(item.choices)) == len(item.choices) >= 2, item.id


def test_every_lesson_asks_its_predictions_by_id_alone_and_each_prediction_is_asked_once():
    asked: dict[str, str] = {}
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb")):
        for source in code_cells(path):
            for call in card_calls(source):
                assert not call.keywords and len(call.args) == 1, f"{path.name}: {ast.unparse(call)}"
                (arg,) = call.args
                assert isinstance(arg, ast.Constant) and isinstance(arg.value, str), f"{path.name}: {ast.unparse(call)}"
                if call.func.id == "Predict":  # type: ignore[attr-defined]
                    assert arg.value in PREDICTIONS and arg.value[:2] == path.name[:2], f"{path.name}: {arg.value}"
                    assert arg.value not in asked, f"{arg.value} asked in {asked.get(arg.value)} and {path.name}"
                    asked[arg.value] = path.name
                else:
                    course.myth(arg.value)
    assert set(asked) == set(PREDICTIONS)


def test_a_learner_copy_holds_no_answer_or_explanation_of_any_prediction_or_myth(tmp_path):
    release_folder(NOTEBOOKS, tmp_path / "my-course")
    copies = sorted((tmp_path / "my-course").glob("[0-9][0-9]-*.ipynb"))
    assert [path.name for path in copies] == sorted(path.name for path in NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
    said = [(item.id, item.explanation) for item in PREDICTIONS.values()]
    said += [(item.id, str(answer)) for item in PREDICTIONS.values() if not item.number
             for answer in (item.answer, item.containerd_answer) if answer is not None]
    said += [(str(myth.id), myth.explanation) for myth in MYTHS.values()]
    for path in copies:
        text = all_sources(path)
        for owner, words in said:
            # every sentence of an explanation, and every choice answer long enough to be told apart from
            # ordinary words, is absent from the copy (a short answer, "yes", is kept out by the calls' shape)
            for piece in [p for p in re.split(r"(?<=[.:;])\s+", words) if len(p) > 24]:
                assert piece not in text, f"{path.name} shows the answer of {owner}: {piece!r}"
        for source in code_cells(path):
            for call in card_calls(source):
                assert not call.keywords, f"{path.name}: {ast.unparse(call)}"


def predictions() -> list[dict]:
    return ProgressLog(LabConfig.from_env().progress_file).predictions()


@pytest.fixture
def lab_state(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(builtins, "input", lambda *args: pytest.fail("a prediction called input()"))
    return tmp_path / "state"


def test_a_prediction_shows_its_question_and_how_to_answer_but_not_the_answer_until_committed(lab_state):
    item = PREDICTIONS["02.catalog"]
    prompt = notebook.Predict("02.catalog")
    before = prompt.text()
    assert item.question in before
    assert 'answer("02.catalog", "hello-lab")   or   answer("02.catalog", "busybox and hello-lab")' in before
    assert item.explanation not in before and "The answer is" not in before
    prompt.buttons[2].click()
    after = prompt.text()
    assert f"The answer is “{item.answer}”: right." in after and item.explanation in after
    assert predictions() == [{"kind": "prediction", "time": predictions()[0]["time"],
                                       "id": "02.catalog", "answer": item.answer}]


def test_answer_commits_a_choice_or_a_number_without_the_buttons_and_records_it(lab_state):
    wrong = notebook.answer("02.catalog", "hello-lab")
    assert wrong.committed and "The answer is “nothing yet: an empty list”: not quite." in wrong.text()
    number = notebook.answer("06.repush-layers", "0")
    assert number.committed and "You predicted 0. The answer is 0: right." in number.text()
    prompt = notebook.Predict("01.new-layers")
    assert 'answer("01.new-layers", <your number>)' in prompt.text()
    assert [(r["id"], r["answer"]) for r in predictions()] == [("02.catalog", "hello-lab"),
                                                                        ("06.repush-layers", 0)]


def test_answer_takes_a_myth_cards_yes_or_no(lab_state):
    card = notebook.MythCard("full-upload")
    assert 'answer("full-upload", "yes") or answer("full-upload", "no")' in card.text()
    assert MYTHS[course.MythId.FULL_UPLOAD].explanation not in card.text()
    revealed = notebook.answer("full-upload", "No")
    assert revealed.revealed and "You said no: right. It is a myth." in revealed.text()
    assert [(r["id"], r["answer"]) for r in predictions()] == [("full-upload", "no")]


@pytest.mark.parametrize(("call", "said"), [
    (("02.catalog", "an empty list"), 'answer("02.catalog", "hello-lab")   or'),
    (("06.repush-layers", "none"), 'answer("06.repush-layers", <your number>)'),
    (("full-upload", "maybe"), 'answer("full-upload", "yes")   (or "no")'),
    (("02.catalogue", "hello-lab"), 'Predict("02.catalog")'),
])
def test_a_wrong_answer_call_is_a_message_with_the_call_that_works_and_records_nothing(lab_state, capsys, call,
                                                                                       said):
    assert notebook.answer(*call) is None
    out = capsys.readouterr().out
    assert said in out and "Traceback" not in out
    assert predictions() == []


def test_an_unknown_prediction_names_the_closest_ids():
    with pytest.raises(UnknownExercise, match="closest: 06.mount") as caught:
        course.prediction("06.mounts")
    assert caught.value.fix == 'Predict("06.mount")'

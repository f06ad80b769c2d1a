"""MythCard and Predict: commit first, then the reveal; the proof and the record are injected callables."""

from __future__ import annotations

import pytest

from labsupport import course
from labsupport.course import MYTHS, MythId
from labsupport.errors import LabError, PushFailed, UnknownExercise
from labsupport.widgets import MythCard, Predict

CURRICULUM_MYTHS = ["untagged-push", "full-upload", "anonymous-push", "secure-by-default"]


def classes_of(card) -> set[str]:
    return {name for child in card.children for name in child._dom_classes}


def test_the_four_myths_of_the_curriculum_all_false_with_an_explanation():
    assert [str(myth_id) for myth_id in MYTHS] == CURRICULUM_MYTHS
    for myth in MYTHS.values():
        assert myth.true is False
        assert len(myth.explanation) > 100 and myth.claim.endswith(".")


def test_an_unknown_myth_lists_the_known_ids():
    with pytest.raises(UnknownExercise) as caught:
        course.myth("push-is-free")
    assert all(myth_id in caught.value.message for myth_id in CURRICULUM_MYTHS)
    assert caught.value.fix == "MythCard('untagged-push')"


@pytest.mark.parametrize("myth_id", CURRICULUM_MYTHS)
def test_the_reveal_stays_out_of_the_view_until_yes_or_no(myth_id):
    recorded = []
    card = MythCard(course.myth(myth_id), record=lambda *args: recorded.append(args))
    assert "lab-myth-reveal" not in classes_of(card)
    assert MYTHS[MythId(myth_id)].explanation not in card.text()
    assert "Press Yes or No" in card.text()
    card.no.click()
    assert card.revealed and card.answer is False
    assert "lab-myth-reveal" in classes_of(card)
    assert "You said no: right. It is a myth." in card._reveal.value
    assert card.yes.disabled and card.no.disabled and card.no.button_style == "primary"
    assert recorded == [(myth_id, "no")]
    assert MYTHS[MythId(myth_id)].explanation[:40] in card.text()


def test_a_committed_prediction_does_not_change():
    recorded = []
    card = MythCard(course.myth("full-upload"), record=lambda *args: recorded.append(args))
    card.yes.click()
    card.no.click()                                   # disabled in the view; ignored here too
    assert card.answer is True and recorded == [("full-upload", "yes")]
    assert "You said yes: not quite." in card.text()


def test_prove_it_appears_after_the_reveal_and_shows_the_real_output():
    card = MythCard(course.myth("full-upload"), prover=lambda: "second push: 0 B uploaded, 3 layers already existed")
    assert card.prove not in card.children
    card.run_proof()                                  # before the reveal: nothing happens
    assert card.proof is None
    card.yes.click()
    assert card.prove in card.children
    card.prove.click()
    assert card.proof == "second push: 0 B uploaded, 3 layers already existed"
    assert "lab-myth-proof" in classes_of(card)
    assert "0 B uploaded" in card._proof.value and "What really happened" in card._proof.value
    assert "Proof:" in card.text() and "0 B uploaded" in card.text()


def test_a_proof_that_raises_a_lab_error_shows_the_error_as_the_evidence():
    error = PushFailed("localhost:5001/learner/hello-lab:1.0", "no basic auth credentials",
                       "this Docker client holds no credential for the registry",
                       fix="docker login localhost:5001")
    card = MythCard(course.myth("anonymous-push"), prover=lambda: (_ for _ in ()).throw(error))
    card.no.click()
    card.prove.click()
    assert card.proof_failed
    assert "no basic auth credentials" in card._proof.value
    assert "docker login localhost:5001" in card._proof.value
    assert "The lab answered with an error" in card._proof.value
    assert not card.prove.disabled


def test_callback_errors_go_to_the_messages_output_not_the_view():
    def broken_record(*_args):
        raise OSError("progress file is read-only")

    def broken_prover():
        raise RuntimeError("engine stream ended")

    card = MythCard(course.myth("secure-by-default"), prover=broken_prover, record=broken_record)
    card.no.click()
    assert card.revealed                               # the prediction still counts
    card.prove.click()
    texts = [output["text"] for output in card.messages.outputs]
    assert texts == ["unexpected OSError: progress file is read-only\n",
                     "unexpected RuntimeError: engine stream ended\n"]
    assert card.messages in card.children


def test_no_prover_means_no_prove_button():
    card = MythCard(course.myth("untagged-push"))
    card.yes.click()
    assert card.prove not in card.children
    bundle = card._repr_mimebundle_()
    assert bundle["text/plain"] == card.text() and "application/vnd.jupyter.widget-view+json" in bundle


def test_predict_with_choices_commits_once_and_reveals():
    recorded = []
    predict = Predict("Will the second push upload the base layer?", ["yes", "no"], answer="no",
                      explanation="The registry already holds that digest.", key="caching.base",
                      record=lambda *args: recorded.append(args))
    assert predict._reveal not in predict.children
    assert "Commit your prediction" in predict.text()
    predict.buttons[0].click()
    assert predict.committed and predict.value == "yes" and predict.correct is False
    assert all(item.disabled for item in predict.buttons)
    assert "The answer is “no”: not quite." in predict._reveal.value
    assert "already holds that digest" in predict.text()
    predict.buttons[1].click()
    assert predict.value == "yes" and recorded == [("caching.base", "yes")]


def test_predict_with_a_number_box_and_tolerance():
    predict = Predict("How many layers does hello-lab:1.0 have?", number=True, answer=3, tolerance=0)
    predict.box.value = 3.0
    predict.commit_button.click()
    assert predict.value == 3 and predict.correct is True
    assert predict.box.disabled and predict.commit_button.disabled
    assert "You predicted 3. The answer is 3: right." in predict.text()
    near = Predict("MB uploaded?", number=True, answer=1.1, tolerance=0.2)
    near.box.value = 1.25
    near.commit_button.click()
    assert near.correct is True and "You predicted 1.25." in near.text()
    far = Predict("MB uploaded?", number=True, answer=1.1, tolerance=0.05)
    far.commit(2)
    assert far.correct is False


def test_predict_without_an_answer_asks_to_run_the_experiment():
    predict = Predict("Which layers will upload?", ["all", "only the last"])
    predict.commit("all")
    assert predict.correct is None and "Now run the experiment" in predict.text()


def test_predict_refuses_bad_setups_and_choices():
    with pytest.raises(LabError):
        Predict("?")
    with pytest.raises(LabError):
        Predict("?", ["a"], number=True)
    predict = Predict("?", ["a", "b"])
    with pytest.raises(LabError, match="not one of the choices"):
        predict.commit("c")
    assert not predict.committed


def test_predict_choices_are_readable_and_their_punctuation_stays_their_own():
    long_choice = "401 Unauthorized: who are you?"
    predict = Predict("What does GET /v2/ answer a stranger?", [long_choice, "200 OK"], answer=long_choice)
    assert all(item.layout.width == "auto" for item in predict.buttons)  # not cut to the default width
    predict.buttons[1].click()
    verdict = predict.text()
    assert f"The answer is “{long_choice}”: not quite." in verdict
    assert "?:" not in verdict and "?." not in verdict.replace("”", "")

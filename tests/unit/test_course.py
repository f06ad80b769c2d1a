"""The course as data: every exercise, myth and catch-up step stated once, and each one's code registered once."""

from __future__ import annotations

import pytest

from labsupport import course
from labsupport.course import EXERCISES, LESSONS, MYTHS, MythId
from labsupport.errors import LabError, UnknownExercise
from labsupport.lessons import catch_up, myths


def test_each_myth_has_exactly_one_proof_and_each_proof_a_myth():
    assert set(myths.PROOFS) == set(MythId) == set(MYTHS)
    assert all(MYTHS[myth_id].id is myth_id for myth_id in MythId)


def test_each_catch_up_step_of_the_course_has_its_function_and_no_function_is_extra():
    named = {item.catch_up for item in EXERCISES if item.catch_up is not None}
    assert named == set(catch_up.STEPS)


@pytest.mark.parametrize(("before", "steps"), [
    ("00", ()), ("01", ("registry-up",)), ("03", ("registry-up", "built")),
    ("05", ("registry-up", "built", "tagged", "logged-in")),
    ("10", ("registry-up", "built", "tagged", "logged-in", "pushed")),
])
def test_catch_up_runs_what_the_lessons_before_leave_behind(before, steps):
    assert course.catch_up_steps(before) == steps


def test_every_exercise_belongs_to_a_lesson_of_the_course():
    numbers = [lesson.number for lesson in LESSONS]
    assert numbers == [f"{n:02d}" for n in range(11)]
    assert all(item.lesson in numbers for item in EXERCISES)
    assert [e for lesson in LESSONS for e in lesson.exercises] == [item.id for item in EXERCISES]


@pytest.mark.parametrize(("given", "number"), [("3", "03"), (3, "03"), ("03-tagging", "03"), (" 10 ", "10")])
def test_a_lesson_is_named_many_ways(given, number):
    assert course.lesson_number(given) == number


def test_an_unknown_lesson_or_myth_says_what_there_is():
    with pytest.raises(LabError, match="the lessons are 00 to 10"):
        course.lesson_number("11")
    with pytest.raises(UnknownExercise, match="untagged-push") as caught:
        course.myth("push-is-free")
    assert caught.value.fix == "MythCard('untagged-push')"
    assert course.myth(" full-upload ").id is MythId.FULL_UPLOAD
    assert f"{MythId.FULL_UPLOAD}" == str(MythId.FULL_UPLOAD) == "full-upload"

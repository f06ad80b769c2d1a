"""CheckButton, result cards and the CourseMap over the course's exercise ids."""

from __future__ import annotations

from labsupport.cards import result_card_html, result_card_text
from labsupport.checks.base import CheckResult
from labsupport.errors import LabNotRunning
from labsupport.widgets import CheckButton, CourseMap

#: The exercise ids of curriculum.md, lesson by lesson: a public contract the map must show.
CURRICULUM = {
    "00": ["setup.registry"], "01": ["images.build"], "02": ["registries.anatomy"], "03": ["tagging.tag"],
    "04": ["login.logged-in"], "05": ["push.pushed"], "06": ["caching.minimal-upload"],
    "07": ["security.no-secrets"], "08": ["production.tags", "production.index"], "09": ["hood.handmade"],
    "10": ["capstone.ship"],
}
PASSED = CheckResult("push.pushed", True, "ok",
                     "the registry holds learner/hello-lab:1.0 with matching layers")
FAILED = CheckResult("push.pushed", False, "not-pushed", "learner/hello-lab:1.0 is not in the registry",
                     hint="docker push localhost:5001/learner/hello-lab:1.0")


def test_passed_card_is_green_without_a_hint():
    html = result_card_html(PASSED)
    assert "lab-check--passed" in html and "#2e7d32" in html and "passed" in html
    assert "lab-check-hint" not in html
    assert result_card_text(PASSED) == "push.pushed: passed. the registry holds learner/hello-lab:1.0 " \
                                       "with matching layers"


def test_failed_card_is_red_with_the_code_and_the_hint_in_a_monospace_box():
    html = result_card_html(FAILED)
    assert "lab-check--failed" in html and "#c62828" in html and "(not-pushed)" in html
    assert '<pre class="lab-check-hint"' in html and "monospace" in html
    assert "docker push localhost:5001/learner/hello-lab:1.0" in html
    assert "try: docker push" in result_card_text(FAILED)


def test_card_text_is_escaped():
    result = CheckResult("registries.anatomy", False, "wrong", "<b>host</b> & repo",
                         hint="check('x', {\"a\": 1})")
    html = result_card_html(result)
    assert "<b>host</b>" not in html and "&lt;b&gt;host&lt;/b&gt; &amp; repo" in html
    assert "&quot;a&quot;" in html


def test_check_button_runs_the_injected_runner_on_click():
    outcomes = iter([FAILED, PASSED])
    calls = []

    def runner(exercise_id):
        calls.append(exercise_id)
        return next(outcomes)

    widget = CheckButton("push.pushed", runner)
    assert widget.result is None and widget.children == (widget.button,)
    assert "not run yet" in repr(widget)
    widget.button.click()
    assert calls == ["push.pushed"] and widget.result is FAILED
    assert "lab-check--failed" in widget._card.value and widget._card in widget.children
    assert "not yet (not-pushed)" in widget.text()
    widget.button.click()
    assert widget.result is PASSED and "lab-check--passed" in widget._card.value
    assert not widget.button.disabled and widget.button.description == "Check push.pushed"


def test_check_button_shows_a_broken_lab_with_its_fix():
    def runner(_exercise_id):
        raise LabNotRunning("the lab registry is not running", fix="labsupport up")

    widget = CheckButton("setup.registry", runner, autorun=True)
    assert isinstance(widget.error, LabNotRunning) and widget.result is None
    assert "lab-error" in widget._card.value and "labsupport up" in widget._card.value
    assert "fix: labsupport up" in widget.text() and "Traceback" not in widget.text()


def test_course_map_has_the_eleven_lessons_and_the_curriculum_ids():
    course = CourseMap()
    assert [lesson.number for lesson in course.lessons] == list(CURRICULUM)
    assert {lesson.number: list(lesson.exercises) for lesson in course.lessons} == CURRICULUM
    assert course.lessons[0].title == "Setup" and course.lessons[-1].title == "Capstone"
    assert course.here is course.lessons[0]
    assert course._map.value.count('class="lab-lesson ') == 11
    assert 'lab-lesson--here" data-lesson="00"' in course._map.value


def test_you_are_here_is_the_first_unfinished_lesson_from_a_mapping():
    progress = {"setup.registry": True, "images.build": True, "registries.anatomy": False,
                "tagging.tag": True}
    course = CourseMap(progress)
    assert course.here.number == "02"
    assert course.done_count == 3 and course.exercise_count == 12
    assert 'lab-lesson--done" data-lesson="03"' in course._map.value   # done out of order still shows done
    assert 'data-exercise="tagging.tag"' in course._map.value
    text = course.text()
    assert "02 Registries" in text and text.splitlines()[3].endswith("<- you are here")
    assert "[x] setup.registry" in text and "[ ] registries.anatomy" in text


def test_a_lesson_with_two_exercises_needs_both():
    done = {ids[0] for ids in CURRICULUM.values()}
    course = CourseMap(done)                                   # a set of passed ids
    assert course.here.number == "08"
    course.update(done | {"production.index"})
    assert course.here is None
    assert "course complete" in course.text() and "course complete" in course._map.value


def test_progress_from_a_callable_is_read_again_on_refresh():
    state = {"setup.registry"}
    course = CourseMap(lambda: set(state))
    assert course.here.number == "01" and course.refresh_button in course.children
    state.add("images.build")
    course.refresh_button.click()
    assert course.here.number == "02"
    assert "2 of 12 exercises done" in course._repr_mimebundle_()["text/plain"]

"""The checks frame: CheckResult and its renderings, the exercise table, run_check, and registries.anatomy."""

from __future__ import annotations

import dataclasses
import json

import pytest

from labsupport.attempts import attempt
from labsupport.cards import result_card_html as result_html
from labsupport.checks import base
from labsupport.checks.base import CheckContext, CheckResult, check_function, exercise, run, run_check
from labsupport.checks.registries import ANATOMY_REFERENCES
from labsupport.config import LabConfig
from labsupport.course import EXERCISES, Exercise
from labsupport.course import exercise as exercise_info
from labsupport.errors import LabError, UnknownExercise
from labsupport.progress import ProgressLog

NGINX_DIGEST = "sha256:cf62ad8036b06ffd899a1f857afa95945d03361b8950a81aa611e5e2984c1919"
API_DIGEST = "sha256:7c51e223da3eafba124fb47237bd5a8a4e878456766ceb67a5aa096fc2c06aa6"

# The answer key written out by hand, so the check is tested against the course, not against itself.
RIGHT = [
    {"host": "docker.io", "repository": "library/ubuntu", "tag": "22.04", "digest": None},
    {"host": "localhost:5000", "repository": "learner/hello-lab", "tag": "latest", "digest": None},
    {"host": "docker.io", "repository": "alice/web", "tag": "5000", "digest": None},
    {"host": "docker.io", "repository": "library/nginx", "tag": None, "digest": NGINX_DIGEST},
    {"host": "registry.example.com:8443", "repository": "team/tools/api", "tag": "2.1", "digest": API_DIGEST},
]


@pytest.fixture
def config(tmp_path) -> LabConfig:
    return LabConfig.from_env({"LAB_STATE_DIR": str(tmp_path / "state"), "LAB_LEARNER": "learner"})


@pytest.fixture
def registry_snapshot():
    """Let a test replace a registered check and put the real ones back afterwards."""
    for info in EXERCISES:
        check_function(info)
    checks = dict(base._CHECKS)
    yield
    base._CHECKS.clear()
    base._CHECKS.update(checks)


def anatomy(answer, config):
    return run_check("registries.anatomy", answer, config=config)


# --- CheckResult ----------------------------------------------------------------------------------

def test_result_json_has_exactly_the_contract_keys():
    result = CheckResult("push.pushed", False, "not-pushed", "the registry has no hello-lab",
                         hint="docker push x")
    data = result.to_json()
    assert data == {"exercise": "push.pushed", "passed": False, "code": "not-pushed",
                    "message": "the registry has no hello-lab", "hint": "docker push x"}
    assert json.loads(json.dumps(data)) == data


def test_result_is_frozen():
    result = CheckResult("push.pushed", True, "ok", "fine")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.passed = False  # type: ignore[misc]


def test_text_shows_hint_only_when_failed():
    failed = str(CheckResult("push.pushed", False, "not-pushed", "nothing there", hint="docker push a/b:1"))
    assert "NOT YET (not-pushed)" in failed and "nothing there" in failed and "docker push a/b:1" in failed
    passed = str(CheckResult("push.pushed", True, "ok", "all there", hint="docker push a/b:1"))
    assert "PASSED" in passed and "docker push" not in passed


def test_html_card_colours_and_escapes():
    passed = CheckResult("push.pushed", True, "ok", "all there")._repr_html_()
    assert "lab-check--passed" in passed and "lab-check-hint" not in passed
    failed = result_html(CheckResult("push.pushed", False, "bad", "<b>x</b> & y", hint="docker push <img>"))
    assert "lab-check--failed" in failed
    assert "&lt;b&gt;x&lt;/b&gt; &amp; y" in failed
    assert "lab-check-hint" in failed and "docker push &lt;img&gt;" in failed
    assert "<b>x</b>" not in failed


# --- the exercise table ---------------------------------------------------------------------------

def test_table_lists_the_curriculum_in_course_order():
    assert [e.id for e in EXERCISES] == [
        "setup.registry", "images.build", "registries.anatomy", "tagging.tag", "login.logged-in",
        "push.pushed", "caching.minimal-upload", "security.no-secrets", "production.tags",
        "production.index", "hood.handmade", "capstone.ship"]
    lessons = [e.lesson for e in EXERCISES]
    assert lessons == sorted(lessons) and lessons[0] == "00" and lessons[-1] == "10"
    assert [e.id for e in EXERCISES if e.answer] == ["registries.anatomy"]
    assert all(e.title for e in EXERCISES)


def test_unknown_exercise_names_the_closest_first():
    with pytest.raises(UnknownExercise) as caught:
        exercise_info("push.push")
    message = caught.value.message
    assert message.index("push.pushed") < message.index("setup.registry")
    assert all(e.id in message for e in EXERCISES)
    assert caught.value.fix == 'check("push.pushed")'


def test_unknown_exercise_far_from_all_has_a_general_fix():
    with pytest.raises(UnknownExercise) as caught:
        run_check("zzzz")
    assert "check(" not in (caught.value.fix or "")


def test_every_course_exercise_has_exactly_its_check():
    for info in EXERCISES:
        func = check_function(info)
        assert func.__module__ == f"labsupport.checks.{info.prefix}"
    assert set(base._CHECKS) == {info.id for info in EXERCISES}


# --- registration, run_check and an attempt -------------------------------------------------------

def test_registration_refuses_what_the_course_does_not_say(registry_snapshot):
    with pytest.raises(UnknownExercise):
        exercise("demo.todo")
    with pytest.raises(ValueError, match="2 argument"):
        exercise("registries.anatomy")(lambda ctx: None)
    with pytest.raises(ValueError, match="already has a check"):
        exercise("push.pushed")(lambda ctx: None)


def test_run_asks_for_a_missing_answer_and_passes_a_given_one(config):
    ask = Exercise("demo.ask", "99", "Ask", answer=True)

    def check(ctx, answer):
        return CheckResult("demo.ask", answer == 42, "ok" if answer == 42 else "wrong", "asked")

    ctx = CheckContext(config)
    assert run(ask, check, ctx).code == "no-answer"
    assert run(ask, check, ctx, 41).code == "wrong"
    assert run(ask, check, ctx, 42).passed


def test_a_check_returning_something_else_is_a_bug(config):
    sloppy = Exercise("demo.sloppy", "99", "Sloppy")
    with pytest.raises(TypeError, match="demo.sloppy"):
        run(sloppy, lambda ctx: CheckResult("other.id", True, "ok", ""), CheckContext(config))


def test_run_check_records_nothing_an_attempt_records_each(config):
    assert not run_check("registries.anatomy", [], config=config).passed
    assert ProgressLog(config.progress_file).records() == []
    assert not attempt("registries.anatomy", [], config=config).passed
    assert attempt("registries.anatomy", RIGHT, config=config).passed
    log = ProgressLog(config.progress_file)
    assert [(r["exercise"], r["passed"]) for r in log.attempts()] == [
        ("registries.anatomy", False), ("registries.anatomy", True)]
    assert log.done() == {"registries.anatomy"}


def test_a_wrong_question_is_told_and_not_recorded(config):
    with pytest.raises(LabError, match="takes no answer"):
        attempt("setup.registry", "yes", config=config)
    with pytest.raises(UnknownExercise):
        attempt("push.push", config=config)
    assert ProgressLog(config.progress_file).records() == []


def test_a_broken_lab_propagates_and_is_recorded_as_such(registry_snapshot, config):
    def broken(ctx, answer):
        raise LabError("the registry is not running", fix="labsupport up")

    base._CHECKS["registries.anatomy"] = broken
    with pytest.raises(LabError, match="not running"):
        attempt("registries.anatomy", RIGHT, config=config)
    assert [r["code"] for r in ProgressLog(config.progress_file).attempts()] == ["lab-error"]


def test_context_is_lazy_and_takes_injected_parts(monkeypatch, tmp_path):
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("LAB_REGISTRY", "localhost:5999")
    engine, registry, secret = object(), object(), {"password": "s3cret-value"}
    ctx = CheckContext(engine=engine, registry=registry, credential=secret)
    assert ctx.engine is engine and ctx.registry is registry and ctx.credential is secret
    assert ctx.config.registry == "localhost:5999"
    assert "s3cret" not in repr(ctx)


# --- registries.anatomy ---------------------------------------------------------------------------

def test_anatomy_references_cover_the_traps():
    assert len(ANATOMY_REFERENCES) == 5
    assert any("@" in r and ":" not in r.split("@")[0] for r in ANATOMY_REFERENCES)   # digest, no tag
    assert any(r.startswith("localhost:") for r in ANATOMY_REFERENCES)                # a port


def test_anatomy_right_answer_passes_as_list_and_as_dict(config):
    assert anatomy(RIGHT, config).passed
    as_dict = {ref: dict(split) for ref, split in zip(ANATOMY_REFERENCES, RIGHT)}
    as_dict["ubuntu:22.04"]["digest"] = ""       # empty text counts as "none"
    result = anatomy(as_dict, config)
    assert result.passed and result.code == "ok"
    as_tuples = [tuple(split.values()) for split in RIGHT]
    assert anatomy(as_tuples, config).passed


def wrong(index: int, **changes):
    answer = [dict(split) for split in RIGHT]
    answer[index].update(changes)
    return answer


@pytest.mark.parametrize(("answer", "code", "number"), [
    (wrong(0, host=None), "implied-host", 1),
    (wrong(2, host="alice", repository="web"), "implied-host", 3),
    (wrong(0, repository="ubuntu"), "implied-library", 1),
    (wrong(1, host="localhost", tag="5000"), "port-as-tag", 2),
    (wrong(1, tag="5000"), "port-as-tag", 2),
    (wrong(3, tag=NGINX_DIGEST, digest=None), "digest-as-tag", 4),
    (wrong(1, tag=None), "implied-latest", 2),
    (wrong(3, tag="latest"), "digest-only", 4),
    (wrong(4, digest=API_DIGEST.split(":")[1]), "wrong-digest", 5),
    (wrong(4, repository="api"), "wrong-repository", 5),
    (wrong(4, host="registry.example.com:443"), "wrong-host", 5),
    (wrong(2, tag="latest"), "wrong-tag", 3),
])
def test_anatomy_names_each_mistake(answer, code, number, config):
    result = anatomy(answer, config)
    assert not result.passed
    assert result.code == code
    assert result.message.startswith("1 of 5 splits are wrong")
    assert f"reference {number} " in result.message
    assert result.hint


def test_anatomy_counts_every_wrong_split_and_reports_the_first(config):
    answer = wrong(3, tag="latest")
    answer[0]["repository"] = "ubuntu"
    result = anatomy(answer, config)
    assert result.code == "implied-library" and result.message.startswith("2 of 5")


@pytest.mark.parametrize("answer", [
    "docker.io/library/ubuntu", 5, RIGHT[:4], {"ubuntu:22.04": RIGHT[0]},
    wrong(0, host=3), [dict(RIGHT[0], repository=None) if i == 0 else s for i, s in enumerate(RIGHT)],
    [{"host": "docker.io"}] * 5, [("docker.io", "library/ubuntu")] * 5,
])
def test_anatomy_wrong_shape_is_a_result_not_a_crash(answer, config):
    result = anatomy(answer, config)
    assert (result.passed, result.code) == (False, "wrong-shape")
    assert "answer" in result.hint


def test_context_registry_uses_the_labs_own_credential(tmp_path):
    config = LabConfig.from_env({"LAB_STATE_DIR": str(tmp_path), "LAB_LEARNER": "ada",
                                 "LAB_REGISTRY": "localhost:5999"})
    anonymous = CheckContext(config)
    assert anonymous.registry.username is None          # no password file yet: anonymous
    anonymous.close()
    config.password_file.write_text("lab-password-123\n")
    ctx = CheckContext(config)
    client = ctx.registry
    assert client.username == "ada" and client.registry == "localhost:5999"
    assert "lab-password" not in repr(client)
    ctx.close()
    assert client._http.is_closed


def test_a_progress_file_that_cannot_be_written_warns_but_keeps_the_result(config):
    config.progress_file.mkdir(parents=True)              # a folder where the file should be
    with pytest.warns(UserWarning, match="could not record progress"):
        result = attempt("registries.anatomy", RIGHT, config=config)
    assert result.passed

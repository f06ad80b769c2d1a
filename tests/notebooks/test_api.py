"""labsupport's notebook-facing API: friendly errors, the wiring of widgets to progress, and catch_up on a real lab."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from IPython.lib.pretty import pretty

import labsupport
from labsupport import course, notebook
from labsupport.checks import CheckResult
from labsupport.engine import Engine
from labsupport.errors import LabError, PushFailed
from labsupport.progress import ProgressLog
from tests.conftest import lab_env


@pytest.fixture
def state(tmp_path, monkeypatch):
    """A lab config of its own state folder (nothing running), so progress goes to a temporary file."""
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LAB_LEARNER", "learner")
    monkeypatch.setenv("LAB_REGISTRY", "localhost:1")
    return ProgressLog(tmp_path / "state" / "progress.jsonl")


# -- the package's flat API ------------------------------------------------------------------------------------

def test_every_public_name_resolves():
    for name in labsupport.__all__:
        assert getattr(labsupport, name) is not None, name


def test_importing_labsupport_stays_light():
    """The CLI imports labsupport first: the notebook API (ipywidgets, docker SDK) loads only when used."""
    code = ("import sys, labsupport; heavy = {'ipywidgets', 'docker', 'labsupport.notebook'} & set(sys.modules);"
            "print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError):
        labsupport.no_such_thing  # noqa: B018


# -- friendly errors -------------------------------------------------------------------------------------------

def test_friendly_turns_a_lab_error_into_two_printed_lines(capsys):
    @notebook.friendly
    def broken():
        raise LabError("the registry is gone", fix="labsupport up")

    assert broken() is None
    assert capsys.readouterr().out == "Problem: the registry is gone\n  fix: labsupport up\n"


def test_friendly_lets_other_errors_through():
    @notebook.friendly
    def buggy():
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        buggy()


def test_lab_problem_shows_message_and_fix_as_text_and_card():
    problem = notebook.LabProblem(LabError("no engine <here>", fix="start it & retry"))
    assert repr(problem) == "Problem: no engine <here>\n  fix: start it & retry"
    assert "no engine &lt;here&gt;" in problem._repr_html_() and "lab-error-fix" in problem._repr_html_()
    assert problem.passed is False


@pytest.mark.parametrize("given, number", [("03", "03"), (3, "03"), ("3", "03"), ("10", "10"),
                                           ("05-push", "05"), (" 00 ", "00")])
def test_lesson_number_accepts_the_ways_a_lesson_is_named(given, number):
    assert notebook.lesson_number(given) == number


@pytest.mark.parametrize("given", ["11", "-1", "tagging", "", "3.5"])
def test_lesson_number_refuses_lessons_the_course_has_not(given):
    with pytest.raises(LabError, match="no lesson"):
        notebook.lesson_number(given)


def test_catch_up_of_an_unknown_lesson_prints_the_problem(capsys, state):
    assert notebook.catch_up("42") is None
    assert "Problem: there is no lesson '42'" in capsys.readouterr().out


def test_exception_display_shows_a_lab_error_without_traceback(capsys):
    """Inside IPython, a LabError raised by a cell reads as the problem and its fix, not a traceback."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        notebook._install_exception_display()
        result = shell.run_cell("from labsupport.errors import LabError\n"
                                "raise LabError('the lab is down', fix='labsupport up')")
    finally:
        shell.set_custom_exc((), None)
        InteractiveShell.clear_instance()
    shown = capsys.readouterr()
    assert result.error_in_exec is not None
    assert "Problem: the lab is down" in shown.out + shown.err
    assert "Traceback" not in shown.out + shown.err


# -- checks and widgets wired to progress ------------------------------------------------------------------

def test_check_returns_a_readable_result_and_records_it(state):
    result = notebook.check("registries.anatomy", {"ubuntu:22.04": {}})
    assert isinstance(result, CheckResult) and not result.passed
    assert pretty(result).startswith("registries.anatomy: NOT YET (wrong-shape)")  # what a notebook shows
    assert "lab-check" in result._repr_html_()
    assert [r["exercise"] for r in state.attempts()] == ["registries.anatomy"]


def test_check_of_an_unknown_exercise_is_a_card_with_the_fix(state):
    result = notebook.check("images.buidl")
    assert isinstance(result, notebook.LabProblem)
    assert "there is no exercise 'images.buidl'" in repr(result) and 'check("images.build")' in repr(result)


def test_check_button_of_an_unknown_exercise_is_refused_at_once(capsys, state):
    assert notebook.CheckButton("nope.nope") is None
    assert "Problem: there is no exercise" in capsys.readouterr().out


def test_predict_records_the_committed_answer(state):
    prompt = notebook.Predict("01.new-layers")
    prompt.commit(3)
    assert [(r["id"], r["answer"]) for r in state.predictions()] == [("01.new-layers", 3)]
    assert "not quite" in repr(prompt)


def test_predict_with_an_unknown_id_prints_the_closest_as_its_fix(capsys, state):
    assert notebook.Predict("01.new-layer") is None
    out = capsys.readouterr().out
    assert "there is no prediction '01.new-layer'" in out and 'fix: Predict("01.new-layers")' in out


def test_a_prediction_that_depends_on_the_image_store_takes_the_answer_of_this_engine(state, docker_client):
    store = Engine(docker_client).info().image_store
    item = course.PREDICTIONS["09.head-first"]
    prompt = notebook.Predict("09.head-first")
    assert prompt.answer == (item.containerd_answer if store == "containerd" else item.answer)
    prompt.commit(prompt.answer)
    assert prompt.correct is True and f"Your engine uses the {store} image store." in repr(prompt)


def test_myth_card_records_the_prediction_and_proves_through_myths(state, monkeypatch):
    import labsupport.lessons.myths

    calls = []
    monkeypatch.setattr(labsupport.lessons.myths, "prove", lambda myth_id, config: calls.append(myth_id) or "it is false")
    card = notebook.MythCard("full-upload")
    card.predict(True)
    card.run_proof()
    assert calls == ["full-upload"] and card.proof == "it is false"
    assert [(r["id"], r["answer"]) for r in state.predictions()] == [("full-upload", "yes")]


def test_reset_forgets_an_exercise_and_says_what_it_did(capsys, state):
    notebook.check("registries.anatomy", {})
    assert notebook.reset("registries.anatomy") is None
    assert "reset registries.anatomy:" in capsys.readouterr().out
    assert state.attempts() == []
    assert notebook.reset("no.such") is None
    assert "Problem: there is no exercise 'no.such'" in capsys.readouterr().out


def test_course_map_reads_progress(state):
    notebook.check("registries.anatomy", {})
    course = notebook.CourseMap()
    assert course.done_count == 0 and course.here.number == "00"


# -- on the real lab ---------------------------------------------------------------------------------------

@pytest.fixture
def lab_kernel(lab, lesson_images, logged_out_docker_config_dir, monkeypatch):
    """os.environ as a notebook kernel on the test lab sees it, with a Docker client logged in nowhere."""
    for key, value in lab_env(lab.config).items():
        monkeypatch.setenv(key, value)
    return lab


@pytest.mark.docker
def test_catch_up_does_each_step_once_then_finds_it_done(lab_kernel, capsys):
    notebook.catch_up("06")
    first = capsys.readouterr().out.splitlines()
    assert len(first) == 5 and all(line.startswith("catch up: ") for line in first)
    assert any("logged the Docker client in" in line for line in first)   # a fresh DOCKER_CONFIG
    notebook.catch_up("06")
    again = capsys.readouterr().out.splitlines()
    assert len(again) == 5 and all(line.startswith("catch up: found: ") for line in again), again
    for exercise in ("images.build", "tagging.tag", "login.logged-in", "push.pushed"):
        result = notebook.check(exercise)
        assert result.passed, repr(result)


@pytest.mark.docker
def test_catch_up_rebuilds_a_hello_lab_that_buildkits_cache_does_not_hold(lab_kernel, capsys, docker_client):
    """hello-lab:1.0 made by another builder (the classic one, with --no-cache): under BuildKit its RUN layer is
    no result BuildKit holds, so a new version would not reuse it, and catch-up builds 1.0 again. The classic
    builder's cache is the images themselves: there the image is found as it is."""
    from labsupport.dockercli import builds_with_buildkit

    config, engine = notebook.lab_config(), Engine(docker_client)
    made = subprocess.run(["docker", "build", "-q", "--no-cache", "-t", "hello-lab:1.0", "--build-arg",
                           f"BASE={config.base_image}", str(labsupport.app_dir())], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "DOCKER_BUILDKIT": "0"}, check=False)
    assert made.returncode == 0, made.stderr
    before = engine.image_view("hello-lab:1.0").diff_ids
    notebook.catch_up("02")
    built = capsys.readouterr().out.splitlines()[1]
    after = engine.image_view("hello-lab:1.0").diff_ids
    if not builds_with_buildkit():
        assert (built, after) == ("catch up: found: hello-lab:1.0 is built", before)
        return
    assert built.startswith("catch up: rebuilt hello-lab:1.0: BuildKit's cache did not hold"), built
    assert after[0] == before[0] and after[1:] != before[1:]          # the base layer is the same image's
    notebook.catch_up("02")
    assert capsys.readouterr().out.splitlines()[1] == (
        "catch up: found: hello-lab:1.0 is built, its steps in BuildKit's cache")
    assert engine.image_view("hello-lab:1.0").diff_ids == after
    assert not engine.exists("hello-lab:catch-up")                    # the name it built beside 1.0 is gone


@pytest.mark.docker
def test_catch_up_of_the_first_lessons_does_only_their_steps(lab_kernel, capsys):
    notebook.catch_up("00")
    assert capsys.readouterr().out == "catch up: nothing to do, lesson 00 starts from scratch\n"
    notebook.catch_up(1)
    assert capsys.readouterr().out.startswith("catch up: found: the lab registry is running")


@pytest.mark.docker
def test_show_layers_and_push_on_the_lab(lab_kernel, capsys):
    config = notebook.lab_config()
    notebook.catch_up("05")
    ref = config.ref("hello-lab", "1.0")
    monitor = notebook.push(ref)
    assert monitor.status == "done", repr(monitor)
    with notebook.registry() as client:
        assert monitor.report.digest == client.head_manifest(f"{config.learner}/hello-lab", "1.0")
    stack = notebook.show_layers("hello-lab:1.0")          # compared with <learner>/hello-lab
    assert stack.diff.repository == f"{config.learner}/hello-lab"
    assert stack.diff.upload_bytes == 0 and "a push would send about 0 B" in repr(stack)
    assert notebook.show_layers(ref, against="elsewhere/none").diff.repository == "elsewhere/none"


@pytest.mark.docker
def test_push_failure_shows_in_the_monitor_and_missing_images_print_a_fix(lab_kernel, capsys):
    config = notebook.lab_config()
    monitor = notebook.push(config.ref("never-built", "0"))
    assert monitor.status == "failed" and isinstance(monitor.error, PushFailed)
    assert "fix:" in repr(monitor)
    assert notebook.show_layers("never-built:0") is None
    out = capsys.readouterr().out
    assert out.startswith("Problem: there is no local image never-built:0") and "fix:" in out


@pytest.mark.docker
def test_registry_browser_doctor_and_engine(lab_kernel, capsys):
    notebook.catch_up("06")
    capsys.readouterr()
    browser = notebook.RegistryBrowser()
    assert f"{lab_kernel.config.learner}/hello-lab" in browser.repositories
    notebook.doctor()
    out = capsys.readouterr().out
    assert "engine" in out and lab_kernel.password() not in out
    assert notebook.engine().exists("hello-lab:1.0")


@pytest.mark.docker
def test_engine_kind_names_the_image_store_and_the_builder(lab_kernel, capsys):
    """What the lessons branch on: the image store, and whether `docker build` is BuildKit's (buildx)."""
    import shutil

    kind = notebook.engine_kind()
    assert kind.image_store in ("classic", "containerd")
    docker = shutil.which("docker")
    has_buildx = bool(docker) and subprocess.run([docker, "buildx", "version"], capture_output=True,
                                                 check=False).returncode == 0
    assert kind.buildx is has_buildx
    assert kind.attests is (kind.containerd and has_buildx)
    assert f"{kind.image_store} image store" in str(kind)
    assert ("provenance attestation" in str(kind)) is kind.attests


@pytest.mark.docker
def test_catch_up_builds_with_the_docker_cli_and_its_defaults(lab_kernel, capsys, monkeypatch):
    """A learner who starts at a later lesson gets the image their own `docker build` makes: on the containerd
    store with buildx, an index holding a provenance attestation; on the classic store, a plain image."""
    from labsupport.checks import images
    from tests.conftest import RUN_ID

    name = f"catchup-{RUN_ID}-hello-lab"
    monkeypatch.setattr(images, "LOCAL_NAME", name)
    engine = notebook.engine()
    try:
        notebook.catch_up("02")
        out = capsys.readouterr().out
        assert f"catch up: built {name}:1.0" in out and "docker build" in out, out
        kind = notebook.engine_kind()
        entries = notebook.local_index(f"{name}:1.0")
        if kind.containerd:
            kinds = [entry["kind"] for entry in entries]
            assert ("attestation" in kinds) is kind.attests, entries
            assert "image" in kinds
        else:
            assert entries == []
        assert engine.run(f"{name}:1.0").startswith("Hello from the registry lab!")
    finally:
        engine.remove(f"{name}:1.0", missing_ok=True)

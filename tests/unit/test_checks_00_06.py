"""The pure helpers of the checks of lessons 00-06 and of reset: names, layers, diagnoses, hints, reset table.

No engine here: layer tars are made in memory, registry answers are httpx.Response objects, blob lists are
model objects. The checks themselves run against the real engine in tests/integration/test_checks_00_06.py.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from labsupport import course
from labsupport.checks import base, caching, fixes, images, login, push, setup, tagging
from labsupport.config import LabConfig
from labsupport.doctor import _credential as doctor_login
from labsupport.errors import UnknownExercise
from labsupport.lessons.reset import ResetReport, local_names, reset_exercise
from labsupport.model import Blob, RemoteView
from labsupport.progress import ProgressLog
from tests.layertars import tar_of

MINE = ("setup.registry", "images.build", "tagging.tag", "login.logged-in", "push.pushed",
        "caching.minimal-upload")


@pytest.fixture
def config(tmp_path) -> LabConfig:
    return LabConfig.from_env({"LAB_STATE_DIR": str(tmp_path / "state"), "LAB_LEARNER": "alice",
                               "LAB_REGISTRY": "localhost:5000", "LAB_BASE_IMAGE": "busybox:1.36"})


def layer(*entries: tuple[str, bytes | None]) -> tuple[str, bytes]:
    """An uncompressed layer tar with a placeholder diff id: (path, content) a file, (path, None) a folder."""
    return "sha256:" + "0" * 64, tar_of(*entries)


# -- registration --------------------------------------------------------------------------------------------

def test_every_exercise_of_lessons_00_to_06_has_a_check():
    assert all(base.check_function(course.exercise(exercise_id)) for exercise_id in MINE)


# -- images --------------------------------------------------------------------------------------------------

def test_file_in_layers_reads_the_top_version_of_a_file():
    layers = [layer(("app", None), ("app/hello.sh", b"old")), layer(("./app/hello.sh", b"new"))]
    assert images.file_in_layers(layers, "app/hello.sh") == b"new"
    assert images.file_in_layers(layers, "/app/hello.sh") == b"new"
    assert images.file_in_layers(layers, "app/other.sh") is None


def test_file_in_layers_honours_whiteouts_and_opaque_folders():
    bottom = layer(("app/hello.sh", b"script"))
    assert images.file_in_layers([bottom, layer(("app/.wh.hello.sh", b""))], "app/hello.sh") is None
    assert images.file_in_layers([bottom, layer(("app/.wh..wh..opq", b""))], "app/hello.sh") is None
    assert images.file_in_layers([bottom, layer(("other/.wh..wh..opq", b""))], "app/hello.sh") == b"script"
    assert images.file_in_layers([bottom, layer(("app/.wh.other.sh", b""))], "app/hello.sh") == b"script"
    # an opaque folder hides the layers below, not a file the same layer adds after the marker
    again = layer(("app/.wh..wh..opq", b""), ("app/hello.sh", b"again"))
    assert images.file_in_layers([bottom, again], "app/hello.sh") == b"again"


def test_first_line_skips_blank_lines():
    assert images.first_line("\n  \nHello\nmore") == "Hello"
    assert images.first_line("") == ""


def test_display_path_is_relative_below_the_current_folder(tmp_path):
    app = tmp_path / "notebooks" / "apps" / "hello"
    assert images.display_path(app, cwd=tmp_path / "notebooks") == "apps/hello"
    assert images.display_path(app, cwd=tmp_path / "elsewhere") == str(app)


def test_build_command_adds_the_base_only_when_it_is_not_the_default(config):
    assert images.build_command(config, folder=Path("/x/hello")) == "docker build -t hello-lab:1.0 /x/hello"
    offline = LabConfig.from_env({"LAB_STATE_DIR": str(config.state_dir),
                                  "LAB_BASE_IMAGE": "labsupport/base:1.35"})
    assert images.build_command(offline, "1.1", Path("/x/hello")) == (
        "docker build -t hello-lab:1.1 --build-arg BASE=labsupport/base:1.35 /x/hello")


# -- tagging -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, code", [
    ("alice/hello-lab:1.0", "missing-host"),
    ("hello-lab:latest", "missing-host"),
    ("docker.io/alice/hello-lab:1.0", "wrong-host"),
    ("127.0.0.1:5000/alice/hello-lab:1.0", "wrong-host"),
    ("localhost:5001/alice/hello-lab:1.0", "wrong-host"),
    ("localhost:5000/bob/hello-lab:1.0", "wrong-namespace"),
    ("localhost:5000/hello-lab:1.0", "wrong-namespace"),
    ("localhost:5000/alice/hello:1.0", "wrong-repository"),
    ("localhost:5000/alice/hello-lab:latest", "wrong-tag"),
    ("localhost:5000/alice/hello-lab", "wrong-tag"),
])
def test_diagnose_name_names_the_part_that_is_wrong(config, name, code):
    found = tagging.diagnose_name(name, config)
    assert found is not None and found[0] == code, found


@pytest.mark.parametrize("name", ["localhost:5000/alice/hello-lab:1.0", "busybox:1.36", "someone/else:2",
                                  "not a reference"])
def test_diagnose_name_passes_the_right_name_and_ignores_unrelated_ones(config, name):
    assert tagging.diagnose_name(name, config) is None


def test_nearest_mistake_prefers_the_closest_attempt(config):
    names = ["alice/hello-lab:1.0", "localhost:5000/alice/hello-lab:2.0", "localhost:5000/bob/hello-lab:1.0"]
    assert tagging.nearest_mistake(names, config)[0] == "wrong-tag"
    assert tagging.nearest_mistake(["hello-lab:1.0"], config, skip=["hello-lab:1.0"]) is None


def test_nearest_mistake_names_the_attempt_not_an_unrelated_lab_name(config):
    names = ["localhost:5000/alice/multi:1.0-amd64", "alice/hello-lab:1.0"]
    code, why = tagging.nearest_mistake(names, config)
    assert code == "missing-host" and "alice/hello-lab:1.0" in why and "multi" not in why
    names = ["localhost:5000/alice/multi:1.0-amd64", "127.0.0.1:5000/alice/hello-lab:1.0"]
    assert tagging.nearest_mistake(names, config)[0] == "wrong-host"
    assert tagging.nearest_mistake(["localhost:5000/alice/multi:1.0-amd64"], config)[0] == "wrong-repository"


def test_tag_command_uses_the_learners_names(config):
    assert tagging.tag_command(config) == "docker tag hello-lab:1.0 localhost:5000/alice/hello-lab:1.0"


# -- login ---------------------------------------------------------------------------------------------------

def test_loopback_aliases_finds_the_other_name_of_the_lab():
    stored = ["127.0.0.1:5000", "docker.io", "localhost:5001", "https://index.docker.io/v1/"]
    assert login.loopback_aliases(stored, "localhost:5000") == ["127.0.0.1:5000"]
    assert login.loopback_aliases(["localhost:5000"], "127.0.0.1:5000") == ["localhost:5000"]
    assert login.loopback_aliases(["localhost:5000"], "localhost:5000") == []


def test_login_command_pipes_the_password(config):
    command = login.login_command(config)
    assert command.endswith("docker login localhost:5000 -u alice --password-stdin")
    assert command.startswith("labsupport credentials --password |")


def test_login_then_puts_the_login_before_the_first_push():
    login_line = "labsupport credentials --password | docker login r -u a --password-stdin"
    assert fixes.login_then(login_line, "docker push r/a/x:1") == f"{login_line} && docker push r/a/x:1"
    assert (fixes.login_then(login_line, "docker tag x r/a/x:1 && docker push r/a/x:1 && docker push r/a/x:2")
            == f"docker tag x r/a/x:1 && {login_line} && docker push r/a/x:1 && docker push r/a/x:2")
    assert fixes.login_then(login_line, "docker build .") == f"{login_line} && docker build ."


def test_doctor_states_the_checks_login_fix(config, monkeypatch, tmp_path):
    """One text for one fix: doctor's login line is the checks' (no interactive `docker login -u`)."""
    folder = tmp_path / "empty-docker-config"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    monkeypatch.setenv("DOCKER_CONFIG", str(folder))
    finding = doctor_login(config)
    assert finding.fix == login.login_command(config) == fixes.login_command(config)


# -- setup ---------------------------------------------------------------------------------------------------

def answer(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers)


@pytest.mark.parametrize("response, code", [
    (None, "not-running"),
    (answer(404), "not-a-registry"),
    (answer(200), "not-a-registry"),
    (answer(200, **{"Docker-Distribution-API-Version": "registry/2.0"}), "no-auth"),
    (answer(404, **{"Docker-Distribution-API-Version": "registry/2.0"}), "not-a-registry"),
    (answer(401, **{"Docker-Distribution-API-Version": "registry/2.0"}), "not-a-registry"),
])
def test_diagnose_answer_tells_the_wrong_answers_apart(config, response, code):
    assert setup.diagnose_answer(response, config)[0] == code


def test_diagnose_answer_accepts_a_challenge(config):
    challenge = answer(401, **{"Docker-Distribution-API-Version": "registry/2.0",
                               "WWW-Authenticate": 'Basic realm="lab-registry"'})
    assert setup.diagnose_answer(challenge, config) is None
    assert setup.response_scheme(challenge) == "Basic"


# -- push and caching ----------------------------------------------------------------------------------------

def view(tag: str, *digests: str, diff_ids: str = "") -> RemoteView:
    return RemoteView("alice/hello-lab", tag, "sha256:" + "m" * 64, "", "sha256:" + "c" * 64,
                      tuple(Blob(f"sha256:{d * 64}", 100) for d in digests),
                      diff_ids=tuple(f"sha256:{d.upper() * 64}" for d in (diff_ids or "".join(digests))))


def test_push_command_tags_first_only_when_needed(config):
    ref = "localhost:5000/alice/hello-lab:1.0"
    assert push.push_command(config, "1.0", tagged=True) == f"docker push {ref}"
    assert push.push_command(config, "1.0", tagged=False) == (
        f"docker tag hello-lab:1.0 {ref} && docker push {ref}")
    assert push.push_command(config, "1.0", tagged=True, same=False).startswith("docker tag ")


@pytest.mark.parametrize("old, new, shared, changed, same", [
    ("abc", "abd", 2, 0, False),      # only the app's top layer changed: the cache-friendly case
    ("abc", "abcd", 3, 0, False),     # a layer added on top
    ("abc", "aec", 1, 1, False),      # the middle layer was rebuilt too
    ("abc", "xbc", 0, 2, False),      # another base
    ("abc", "abc", 3, 0, True),       # nothing changed
    ("abc", "ab", 2, 0, False),       # the app layer dropped
])
def test_layer_comparison(old, new, shared, changed, same):
    before, after = view("1.0", *old), view("1.1", *new)
    assert caching.shared_base(before, after) == shared
    assert caching.changed_lower_layers(before, after) == changed
    assert caching.same_layers(before, after) is same


def test_a_layer_compressed_into_another_blob_is_still_the_same_layer():
    before = view("1.0", "a", "b", "c")
    after = view("1.1", "a", "e", "d", diff_ids="abd")     # the middle layer: same content, another blob
    assert (caching.shared_base(before, after), caching.changed_lower_layers(before, after)) == (2, 0)
    assert caching.same_layers(before, view("1.1", "x", "y", "z", diff_ids="abc"))
    assert caching.changed_lower_layers(before, view("1.1", "a", "e", "d", diff_ids="aed")) == 1


def test_rebuild_both_builds_and_pushes_1_0_before_1_1(config):
    command = caching.rebuild_both_command(config)
    assert command.index("docker build -t hello-lab:1.0") < command.index(
        "docker push localhost:5000/alice/hello-lab:1.0") < command.index("-t hello-lab:1.1") < command.index(
        "docker push localhost:5000/alice/hello-lab:1.1")
    assert "--no-cache" not in command and "prune" not in command
    buildkit = caching.rebuild_both_command(config, buildkit=True)
    assert buildkit == f"docker builder prune -f && {command}"      # BuildKit: one result of each step left


def test_reorder_command_rebuilds_and_pushes_both_versions(config):
    command = caching.reorder_command(config)
    assert "move `COPY hello.sh VERSION /app/` below the RUN step" in command
    assert command.index("docker push localhost:5000/alice/hello-lab:1.0") < command.index(
        "docker push localhost:5000/alice/hello-lab:1.1")


def test_hints_change_a_copy_of_the_app_never_the_course_app(config):
    for command in (caching.build_new_command(config), caching.reorder_command(config)):
        assert "> notebooks/apps/hello/" not in command and "in notebooks/apps/hello/" not in command
        assert str(caching.work_dir(config).name) in command


def test_the_build_hint_reuses_the_pushed_layers(config):
    command = caching.build_new_command(config)
    assert "--cache-from localhost:5000/alice/hello-lab:1.0" in command
    assert command.index("docker build") < command.index("docker push localhost:5000/alice/hello-lab:1.1")


# -- reset ---------------------------------------------------------------------------------------------------

def test_leftovers_name_the_learners_things(config):
    def left(exercise_id):
        return course.exercise(exercise_id).leftovers

    assert local_names(left("tagging.tag"), config) == ["localhost:5000/alice/hello-lab:1.0"]
    assert local_names(left("images.build"), config) == ["hello-lab:1.0"]
    assert left("push.pushed").remote == (("hello-lab", "1.0"),)
    assert left("login.logged-in").login
    assert left("registries.anatomy") == course.Leftovers()


def test_reset_of_an_answer_exercise_only_forgets_its_progress(config):
    log = ProgressLog(config.progress_file)
    log.record_attempt(base.CheckResult("registries.anatomy", False, "wrong-host", "no"))
    log.record_attempt(base.CheckResult("images.build", True, "ok", "yes"))
    report = reset_exercise("registries.anatomy", config)
    assert report.forgotten == 1 and report.done == []
    assert [row["exercise"] for row in log.attempts()] == ["images.build"]
    assert "forgot 1 progress record" in str(report)


def test_reset_of_an_unknown_exercise_raises(config):
    with pytest.raises(UnknownExercise):
        reset_exercise("push.pushd", config)


def test_reset_report_reads_as_lines():
    report = ResetReport(("push.pushed",), ["deleted x from the registry"], 2)
    assert str(report) == "reset push.pushed:\n  deleted x from the registry\n  forgot 2 progress record(s)"

"""The class board: which push is which exercise, how events and check results fill the grid, the grades."""

from __future__ import annotations

import pytest

from labsupport.workshop.board import Board, exercise_of_push

MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
BLOB = "application/octet-stream"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def event(actor: str, action: str, repository: str, tag: str | None = None, media: str = MANIFEST,
          when: str = "2025-05-01T10:00:00Z") -> dict:
    target = {"repository": repository, "mediaType": media, "digest": "sha256:" + "a" * 64}
    if tag:
        target["tag"] = tag
    return {"action": action, "timestamp": when, "actor": {"name": actor}, "target": target}


@pytest.mark.parametrize(("repository", "tag", "exercise"), [
    ("ada/hello-lab", "1.0", "push.pushed"),
    ("ada/hello-lab", "1.1", "caching.minimal-upload"),
    ("ada/hello-lab", "secure", "security.no-secrets"),
    ("ada/hello-lab", "1.2.0", "production.tags"),
    ("ada/hello-lab", "1.2", "production.tags"),
    ("ada/hello-lab", "3f2a9c1", "production.tags"),
    ("ada/hello-lab", "latest", None),
    ("ada/multi", "1.0", "production.index"),
    ("ada/handmade", "1.0", "hood.handmade"),
    ("ada/capstone", "1.0.0", "capstone.ship"),
    ("ada/other", "1.0", None),
    ("hello-lab", "1.0", None),
])
def test_exercise_of_push(repository, tag, exercise):
    assert exercise_of_push(repository, tag) == exercise


def test_a_manifest_push_marks_the_exercise_pushed_and_counts():
    board = Board(["ada", "bob"])
    assert board.add_event(event("ada", "push", "ada/hello-lab", media=BLOB))          # a layer: activity only
    assert board.to_json()["learners"][0]["cells"] == {}
    assert board.add_event(event("ada", "push", "ada/hello-lab", "1.0", when="2025-05-01T10:05:00Z"))
    ada = board.to_json()["learners"][0]
    assert ada["cells"]["push.pushed"]["state"] == "pushed"
    assert ada["activity"]["push"] == 1 and ada["activity"]["last"] == "2025-05-01T10:05:00Z"
    assert ada["activity"]["repositories"] == ["ada/hello-lab"]
    assert board.to_json()["learners"][1]["activity"]["push"] == 0


def test_an_index_push_counts_once_for_its_tag():
    """As the containerd store pushes a BuildKit image: the attestation and the image by digest, then the
    index under the tag: one push."""
    board = Board(["ada"])
    index = "application/vnd.oci.image.index.v1+json"
    for media, tag in ((OCI_MANIFEST, None), (OCI_MANIFEST, None), (index, "1.0")):
        assert board.add_event(event("ada", "push", "ada/hello-lab", tag, media=media))
    ada = board.to_json()["learners"][0]
    assert ada["activity"]["push"] == 1 and ada["cells"]["push.pushed"]["state"] == "pushed"


def test_pulls_mounts_and_strangers():
    board = Board(["ada"])
    assert board.add_event(event("ada", "pull", "shared/base", "1"))
    assert not board.add_event(event("ada", "pull", "ada/x", media=BLOB))           # HEAD checks of blobs
    assert board.add_event(event("ada", "mount", "ada/x", media=BLOB))
    assert not board.add_event(event("instructor", "push", "shared/base", "1"))     # not a learner
    assert not board.add_event(event("", "push", "ada/hello-lab", "1.0"))
    assert not board.add_event(event("ada", "delete", "ada/hello-lab", "1.0"))
    assert board.to_json()["learners"][0]["activity"] | {"last": ""} == {
        "push": 0, "pull": 1, "mount": 1, "last": "", "repositories": []}


def test_a_push_into_another_namespace_is_not_the_exercise():
    board = Board(["ada", "teach"])
    board.add_event(event("ada", "push", "bob/hello-lab", "1.0"))      # the registry denies it anyway
    assert board.to_json()["learners"][0]["cells"] == {}


def test_results_fail_then_pass_and_passed_stays():
    board = Board(["ada"])
    assert board.add_result("ada", {"exercise": "push.pushed", "passed": False, "code": "not-pushed"})
    assert board.to_json()["learners"][0]["cells"]["push.pushed"]["state"] == "failed"
    board.add_event(event("ada", "push", "ada/hello-lab", "1.0"))
    assert board.to_json()["learners"][0]["cells"]["push.pushed"]["state"] == "failed"
    assert board.add_result("ada", {"exercise": "push.pushed", "passed": True, "code": "ok"})
    assert board.add_result("ada", {"exercise": "push.pushed", "passed": False, "code": "later"})
    cell = board.to_json()["learners"][0]["cells"]["push.pushed"]
    assert (cell["state"], cell["attempts"], cell["code"]) == ("passed", 3, "later")


def test_bad_results_are_refused():
    board = Board(["ada"])
    assert not board.add_result("bob", {"exercise": "push.pushed", "passed": True})
    assert not board.add_result("ada", {"exercise": "no.such", "passed": True})
    assert not board.add_result("ada", {"exercise": "push.pushed", "passed": "yes"})
    assert board.version == 0


def test_grades_and_replay():
    events = [event("ada", "push", "ada/hello-lab", "1.0"), event("bob", "push", "bob/hello-lab", "1.0")]
    results = [{"learner": "ada", "exercise": "push.pushed", "passed": True, "code": "ok"},
               {"learner": "ada", "exercise": "setup.registry", "passed": True, "code": "ok"},
               {"learner": "bob", "exercise": "setup.registry", "passed": False, "code": "not-running"}]
    rows = Board(["ada", "bob"]).replay(events, results).grade_rows()
    header = rows[0]
    assert header[0] == "learner" and header[-2:] == ["passed", "pushes"] and "push.pushed" in header
    ada, bob = (dict(zip(header, row)) for row in rows[1:])
    assert (ada["push.pushed"], ada["setup.registry"], ada["passed"], ada["pushes"]) == (1, 1, 2, 1)
    assert (bob["push.pushed"], bob["setup.registry"], bob["passed"], bob["pushes"]) == (0, 0, 0, 1)

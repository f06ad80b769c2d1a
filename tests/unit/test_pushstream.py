"""pushstream over push streams recorded from this engine, hand-written containerd ones, and bad lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labsupport.errors import PushFailed
from labsupport.model import Blob, PushPhase, RemoteView
from labsupport.pushstream import (
    PushAccumulator,
    classify,
    event_from_line,
    explain,
    kind_for,
    layer_outcomes,
)

STREAMS = Path(__file__).resolve().parents[1] / "data" / "push-streams"


def load(name: str) -> tuple[list[dict], dict]:
    lines = [json.loads(text) for text in (STREAMS / f"{name}.jsonl").read_text().splitlines() if text]
    return lines, json.loads((STREAMS / f"{name}.meta.json").read_text())


def remote_of(meta: dict) -> RemoteView:
    repository = meta["reference"].split("/", 1)[1].rsplit(":", 1)[0]
    return RemoteView(
        repository=repository, tag="1.0", manifest_digest=meta["manifest_digest"], media_type="",
        config_digest=meta["config_digest"],
        blobs=tuple(Blob(item["digest"], item["size"], item["media_type"])
                    for item in meta["manifest_layers"]),
        diff_ids=tuple(meta["config_diff_ids"]),
    )


def run(name: str) -> tuple[PushAccumulator, list, dict]:
    lines, meta = load(name)
    acc = PushAccumulator(meta["reference"], lab_registry="localhost:5000", learner="learner")
    events = list(acc.consume(lines))
    return acc, events, meta


def short(digest: str) -> str:
    return digest.split(":", 1)[1][:12]


# -- recorded classic streams --------------------------------------------------------------------------------

def test_first_push_every_layer_pushed_and_the_result_is_the_manifest_digest():
    acc, events, meta = run("classic-first-push")
    assert acc.result is not None and acc.result.digest == meta["manifest_digest"]
    assert acc.finish().tag == "1.0" and acc.finish().size > 0
    assert len(acc.results) == 1  # the status line and the aux line are one result
    assert acc.repository == meta["reference"].rsplit(":", 1)[0]
    assert {item.id for item in acc.layers} == {short(d) for d in meta["diff_ids"]}
    assert all(item.phase is PushPhase.PUSHED for item in acc.layers)
    assert PushPhase.PREPARING in {event.phase for event in events}
    pushing = [event for event in events if event.phase is PushPhase.PUSHING]
    assert pushing and all(event.total > 0 or event.current > 0 for event in pushing)


def test_first_push_outcomes_take_compressed_sizes_from_the_manifest_bottom_layer_first():
    acc, _, meta = run("classic-first-push")
    outcomes = layer_outcomes(acc.layers, diff_ids=meta["diff_ids"], remote=remote_of(meta))
    assert [item.digest for item in outcomes] == [item["digest"] for item in meta["manifest_layers"]]
    assert [item.bytes for item in outcomes] == [item["size"] for item in meta["manifest_layers"]]
    assert [item.id for item in outcomes] == [short(d) for d in meta["diff_ids"]]
    assert {item.outcome for item in outcomes} == {"pushed"}


def test_repeat_push_every_layer_exists():
    acc, _, meta = run("classic-repeat-push")
    assert acc.count(PushPhase.EXISTS) == len(meta["diff_ids"]) == len(acc.layers)
    outcomes = layer_outcomes(acc.layers, diff_ids=meta["diff_ids"], remote=remote_of(meta))
    assert sum(item.bytes for item in outcomes if item.outcome == "pushed") == 0
    assert sum(item.bytes for item in outcomes) == sum(item["size"] for item in meta["manifest_layers"])


def test_one_layer_change_pushes_only_the_top_layer():
    acc, _, meta = run("classic-one-layer-change")
    pushed = [item.id for item in acc.layers if item.outcome == "pushed"]
    assert pushed == [short(meta["diff_ids"][-1])]
    outcomes = layer_outcomes(acc.layers, diff_ids=meta["diff_ids"], remote=remote_of(meta))
    uploaded = [item for item in outcomes if item.outcome == "pushed"]
    assert [(item.digest, item.bytes) for item in uploaded] == [
        (meta["manifest_layers"][-1]["digest"], meta["manifest_layers"][-1]["size"])]


def test_cross_repo_push_mounts_every_layer_from_the_first_repository():
    acc, events, meta = run("classic-cross-repo-mount")
    assert all(item.phase is PushPhase.MOUNTED for item in acc.layers)
    assert {item.source for item in acc.layers} == {"learner/hello-lab"}
    assert {event.source for event in events if event.phase is PushPhase.MOUNTED} == {"learner/hello-lab"}
    outcomes = layer_outcomes(acc.layers, diff_ids=meta["diff_ids"], remote=remote_of(meta))
    assert [item.outcome for item in outcomes] == ["mounted"] * len(meta["diff_ids"])


def test_without_a_remote_view_bytes_are_the_streams_own_totals():
    acc, _, meta = run("classic-first-push")
    outcomes = layer_outcomes(acc.layers, diff_ids=meta["diff_ids"])
    totals = {item.id: item.total for item in acc.layers}
    assert [item.bytes for item in outcomes] == [totals[short(d)] for d in meta["diff_ids"]]
    assert all(item.digest == "" for item in outcomes)
    repeat, _, _ = run("classic-repeat-push")
    assert {item.bytes for item in layer_outcomes(repeat.layers, diff_ids=meta["diff_ids"])} == {0}


def test_diff_ids_pair_with_blobs_in_order_when_the_remote_view_has_no_config_diff_ids():
    acc, _, meta = run("classic-one-layer-change")
    bare = remote_of(meta)
    bare = RemoteView(bare.repository, bare.tag, bare.manifest_digest, "", bare.config_digest, bare.blobs, ())
    outcomes = layer_outcomes(acc.layers, diff_ids=meta["diff_ids"], remote=bare)
    assert [item.digest for item in outcomes] == [item["digest"] for item in meta["manifest_layers"]]


# -- hand-written containerd streams: ids are compressed blob digest prefixes --------------------------------

def test_containerd_ids_are_blob_prefixes_and_the_config_and_manifest_ids_are_left_out():
    acc, events, meta = run("containerd-first-push")
    assert acc.result is not None and acc.result.digest == meta["manifest_digest"]
    assert not acc.aux and PushPhase.WAITING in {event.phase for event in events}
    assert short(meta["config_digest"]) in {item.id for item in acc.layers}
    outcomes = layer_outcomes(acc.layers, diff_ids=meta["diff_ids"], remote=remote_of(meta))
    assert [item.id for item in outcomes] == [short(item["digest"]) for item in meta["manifest_layers"]]
    assert [item.bytes for item in outcomes] == [item["size"] for item in meta["manifest_layers"]]
    base = next(item for item in acc.layers if item.id == outcomes[0].id)
    assert base.total == meta["manifest_layers"][0]["size"]  # containerd counts compressed bytes


def test_containerd_mount_and_already_exists():
    acc, _, meta = run("containerd-cross-repo-mount")
    outcomes = layer_outcomes(acc.layers, diff_ids=meta["diff_ids"], remote=remote_of(meta))
    assert [item.outcome for item in outcomes] == ["mounted"] * 3
    config = next(item for item in acc.layers if item.id == short(meta["config_digest"]))
    assert config.phase is PushPhase.EXISTS


# -- recorded errors -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "kind", "in_explanation", "in_fix"), [
    ("classic-error-no-local-image", "no-local-image", "no local image named", "docker tag <image>"),
    ("classic-error-tag-does-not-exist", "tag-missing", "not with the tag 9.9", "docker images"),
    ("classic-error-no-credentials", "no-credentials", "holds no credential", "docker login localhost:"),
    ("classic-error-wrong-password", "unauthorized", "rejected the credential", "docker logout localhost:"),
    ("classic-error-registry-down", "registry-down", "nothing answers", "labsupport up"),
    ("classic-error-http-to-https", "https-required", "plain HTTP", "insecure-registries"),
    ("classic-error-untagged", "no-registry-host", "has no registry host", "docker tag hc-rec-"),
])
def test_recorded_errors_raise_push_failed_with_the_right_explanation(name, kind, in_explanation, in_fix):
    lines, meta = load(name)
    acc = PushAccumulator(meta["reference"], lab_registry="localhost:5000", learner="learner")
    with pytest.raises(PushFailed) as caught:
        list(acc.consume(lines))
    error = caught.value
    assert error.kind == kind
    assert error.raw == lines[-1]["errorDetail"]["message"]
    assert in_explanation in error.explanation
    assert in_fix in (error.fix or "")
    assert error.reference == meta["reference"]


def test_untagged_push_fix_names_the_lab_reference_to_tag_to():
    lines, meta = load("classic-error-untagged")
    name = meta["reference"]  # hc-rec-<run>:1.0, no registry host
    acc = PushAccumulator(name, lab_registry="localhost:5000", learner="ada")
    with pytest.raises(PushFailed) as caught:
        list(acc.consume(lines))
    repo = name.split(":")[0]
    assert caught.value.fix == (f"docker tag {name} localhost:5000/ada/{repo}:1.0 && "
                                f"docker push localhost:5000/ada/{repo}:1.0")


# -- line parsing, right and wrong ---------------------------------------------------------------------------

def test_event_from_line_reads_each_phase():
    assert event_from_line({"id": "abc", "status": "Preparing"}).phase is PushPhase.PREPARING
    assert event_from_line({"id": "abc", "status": "Waiting"}).phase is PushPhase.WAITING
    detail = {"current": 5, "total": 9}
    pushing = event_from_line({"id": "abc", "status": "Pushing", "progressDetail": detail})
    assert (pushing.phase, pushing.current, pushing.total) == (PushPhase.PUSHING, 5, 9)
    assert event_from_line({"id": "abc", "status": "Layer already exists"}).phase is PushPhase.EXISTS
    mounted = event_from_line({"id": "abc", "status": "Mounted from team/base"})
    assert (mounted.phase, mounted.source) == (PushPhase.MOUNTED, "team/base")
    assert event_from_line({"id": "abc", "status": "Retrying in 5 seconds"}).phase is PushPhase.RETRYING


@pytest.mark.parametrize("line", [
    {"status": "The push refers to repository [localhost:5000/a/b]"},
    {"id": "abc", "status": "Something new"},
    {"id": "abc"},
    {"id": "", "status": "Pushed"},
    {"id": "abc", "status": 7},
    {"progressDetail": {}},
])
def test_event_from_line_ignores_messages_and_unknown_lines(line):
    assert event_from_line(line) is None


def test_retries_are_counted_and_a_finished_layer_stays_finished():
    acc = PushAccumulator("localhost:5000/a/b:1")
    for status in ("Preparing", "Retrying in 5 seconds", "Retrying in 10 seconds", "Pushed", "Pushing"):
        acc.feed({"id": "abc", "status": status, "progressDetail": {"current": 1, "total": 2}})
    (layer,) = acc.layers
    assert (layer.retries, layer.retry_in, layer.phase, layer.outcome) == (2, 10, PushPhase.PUSHED, "pushed")


def test_a_stream_without_a_result_fails_and_other_messages_are_kept():
    acc = PushAccumulator("localhost:5000/a/b:1")
    acc.feed({"status": "Using default tag: latest"})
    acc.feed({"aux": {"ContentMissing": True}})
    assert acc.messages == ["Using default tag: latest"] and acc.aux == [{"ContentMissing": True}]
    with pytest.raises(PushFailed) as caught:
        acc.finish()
    assert caught.value.kind == "unknown" and "labsupport doctor" in caught.value.fix


def test_an_error_line_with_only_error_text_raises():
    acc = PushAccumulator("localhost:5000/a/b:1")
    with pytest.raises(PushFailed, match="no space left on device") as caught:
        acc.feed({"error": "write /var/lib/registry/x: no space left on device"})
    assert caught.value.kind == "disk-full"


def test_unmatched_ids_stay_without_a_remote_view_and_are_dropped_with_one():
    acc = PushAccumulator("localhost:5000/a/b:1")
    acc.feed({"id": "ffffffffffff", "status": "Pushing", "progressDetail": {"current": 3, "total": 40}})
    acc.feed({"id": "ffffffffffff", "status": "Pushed"})
    acc.feed({"id": "eeeeeeeeeeee", "status": "Waiting"})
    (alone,) = layer_outcomes(acc.layers)
    assert (alone.id, alone.outcome, alone.bytes) == ("ffffffffffff", "pushed", 40)
    remote = RemoteView("a/b", "1", "sha256:" + "1" * 64, "", "sha256:" + "2" * 64,
                        (Blob("sha256:" + "3" * 64, 10),), ("sha256:" + "4" * 64,))
    assert layer_outcomes(acc.layers, remote=remote) == ()


# -- what each error text means ------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "kind"), [
    ("An image does not exist locally with the tag: localhost:5000/a/b", "no-local-image"),
    ("tag does not exist: localhost:5000/a/b:2", "tag-missing"),
    ("no basic auth credentials", "no-credentials"),
    ("unauthorized: authentication required", "unauthorized"),
    ("denied: requested access to the resource is denied", "denied"),
    ('Get "https://10.0.0.5:5000/v2/": http: server gave HTTP response to HTTPS client', "https-required"),
    ('Get "http://localhost:5000/v2/": dial tcp [::1]:5000: connect: connection refused', "registry-down"),
    ("blob upload unknown: write failed: no space left on device", "disk-full"),
    ("manifest invalid: manifest invalid", "unknown"),
    ("", "unknown"),
])
def test_classify(raw, kind):
    assert classify(raw) == kind


def test_denied_on_docker_hub_blames_the_missing_host_and_on_the_lab_the_namespace():
    hub = explain("hello-lab:1.0", "denied: requested access to the resource is denied",
                  lab_registry="localhost:5000", learner="ada")
    assert hub.kind == "no-registry-host" and "Docker Hub" in hub.explanation
    assert hub.fix.startswith("docker tag hello-lab:1.0 localhost:5000/ada/hello-lab:1.0")
    lab = explain("localhost:5000/bob/hello-lab:1.0", "denied: requested access to the resource is denied",
                  lab_registry="localhost:5000", learner="ada")
    assert lab.kind == "denied" and "ada/" in lab.explanation
    assert "localhost:5000/ada/hello-lab:1.0" in lab.fix
    explicit = kind_for("docker.io/ada/hello-lab:1.0", "no basic auth credentials")
    assert explicit == "no-registry-host"


def test_no_credentials_on_a_loopback_alias_says_the_client_keys_by_host_text():
    error = explain("127.0.0.1:5000/ada/app:1", "no basic auth credentials", lab_registry="localhost:5000")
    assert "localhost:5000 does not cover 127.0.0.1:5000" in error.explanation
    plain = explain("localhost:5000/ada/app:1", "no basic auth credentials", lab_registry="localhost:5000")
    assert "does not cover" not in plain.explanation


def test_an_unparseable_reference_still_explains():
    error = explain("Not A Reference", "no basic auth credentials")
    assert error.kind == "no-credentials" and error.fix and "Not A Reference" in str(error)


def test_error_text_never_contains_the_auth_value():
    lines, _ = load("classic-error-wrong-password")
    error = explain("localhost:5000/learner/x:1", lines[-1]["error"])
    assert "bm9wZQ" not in str(error) and "nope" not in str(error)

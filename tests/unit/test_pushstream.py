"""pushstream over push streams recorded from both engines (classic and containerd image stores), and bad lines.

The recordings (tests/data/push-streams, made by record.py there) come with the lab registry's own log of each
push, so the outcomes read from the stream are checked against what the registry actually received.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from labsupport.errors import PushFailed
from labsupport.model import Blob, PushPhase, PushReport, RemoteView
from labsupport.pushstream import (
    PushAccumulator,
    classify,
    event_from_line,
    explain,
    kind_for,
    layer_outcomes,
)

STREAMS = Path(__file__).resolve().parents[1] / "data" / "push-streams"
STORES = ("classic", "containerd")
SUCCESSES = ("first-push", "repeat-push", "one-layer-change", "cross-repo-mount", "rebuild-push")


def load(name: str) -> tuple[list[dict], dict]:
    lines = [json.loads(text) for text in (STREAMS / f"{name}.jsonl").read_text().splitlines() if text]
    return lines, json.loads((STREAMS / f"{name}.meta.json").read_text())


def remote_of(meta: dict) -> RemoteView:
    """The registry's view of the pushed tag: for an index, its image for the engine's platform."""
    repository, tag = meta["reference"].split("/", 1)[1].rsplit(":", 1)
    index = "index" in meta
    return RemoteView(
        repository=repository, tag=tag,
        manifest_digest=meta["image_manifest_digest"] if index else meta["manifest_digest"], media_type="",
        config_digest=meta["config_digest"],
        blobs=tuple(Blob(item["digest"], item["size"], item["media_type"])
                    for item in meta["manifest_layers"]),
        diff_ids=tuple(meta["config_diff_ids"]),
        platform=meta["platform"] if index else "", index_digest=meta["manifest_digest"] if index else "",
    )


def run(name: str) -> tuple[PushAccumulator, list, dict]:
    lines, meta = load(name)
    acc = PushAccumulator(meta["reference"], lab_registry="localhost:5000", learner="learner")
    events = list(acc.consume(lines))
    return acc, events, meta


def report_of(name: str) -> tuple[PushReport, dict]:
    """The PushReport the engine makes of a recorded push (with the registry's view of the tag)."""
    acc, _, meta = run(name)
    layers = layer_outcomes(acc.layers, diff_ids=meta["diff_ids"], remote=remote_of(meta))
    return PushReport(meta["reference"], acc.finish().digest, acc.finish().size, layers), meta


def short(digest: str) -> str:
    return digest.split(":", 1)[1][:12]


def registry_actions(name: str) -> dict[str, str]:
    """What the registry's log says happened to each blob in a push: "uploaded" (an upload ended in PUT 201,
    after PATCH on the classic store, in the PUT itself on containerd), "mounted" (POST ?mount= answered 201),
    or "exists" (HEAD answered 200 and nothing was sent)."""
    actions: dict[str, str] = {}
    for line in (STREAMS / f"{name}.registry.log").read_text().splitlines():
        method, uri, status = line.split()
        found = re.search(r"sha256(?::|%3A)([0-9a-f]{64})", uri)
        if not found or "/blobs/" not in uri:
            continue
        digest = "sha256:" + found.group(1)
        if method == "PUT" and status == "201":
            actions[digest] = "uploaded"
        elif method == "POST" and "mount=" in uri and status == "201":
            actions[digest] = "mounted"
        elif method == "HEAD" and status == "200":
            actions.setdefault(digest, "exists")
    return actions


def attestation_blobs(meta: dict) -> list[dict]:
    return [layer for item in meta.get("attestations", []) for layer in item["layers"]]


def test_every_recording_says_from_which_engine_and_builder():
    for meta_file in STREAMS.glob("*.meta.json"):
        meta = json.loads(meta_file.read_text())
        store = meta_file.name.split("-", 1)[0]
        assert meta["image_store"] == store, meta_file.name
        assert meta["engine"] and meta["builder"] and not meta.get("handwritten"), meta_file.name
        assert ("BuildKit" in meta["builder"]) is meta["buildkit"], meta_file.name
    containerd = json.loads((STREAMS / "containerd-first-push.meta.json").read_text())
    assert containerd["engine"].startswith("28.") and containerd["buildkit"]
    assert containerd["media_type"] == "application/vnd.oci.image.index.v1+json"
    assert {item["platform"] for item in containerd["index"]} == {containerd["platform"], "unknown/unknown"}


# -- the outcomes and bytes of each recorded push, checked against the registry's own log -------------------

_ACTION_OF = {"pushed": "uploaded", "exists": "exists", "mounted": "mounted"}


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("case", SUCCESSES)
def test_outcomes_and_bytes_agree_with_the_registry_log(store, case):
    name = f"{store}-{case}"
    report, meta = report_of(name)
    actions = registry_actions(name)
    assert report.digest == meta["manifest_digest"]
    assert [item.digest for item in report.layers] == [item["digest"] for item in meta["manifest_layers"]]
    assert [item.bytes for item in report.layers] == [item["size"] for item in meta["manifest_layers"]]
    for item in report.layers:
        assert _ACTION_OF[item.outcome] == actions.get(item.digest, "exists"), (item, actions.get(item.digest))
    sizes = {item["digest"]: item["size"] for item in meta["manifest_layers"]}
    uploaded = sum(size for digest, size in sizes.items() if actions.get(digest) == "uploaded")
    assert report.bytes_uploaded == uploaded
    assert report.bytes_uploaded + report.bytes_skipped == sum(sizes.values())


@pytest.mark.parametrize("case", SUCCESSES)
def test_containerd_names_the_attestation_blob_as_the_registry_saw_it_and_never_the_configs(case):
    acc, _, meta = run(f"containerd-{case}")
    ids = {item.id: item for item in acc.layers}
    assert short(meta["config_digest"]) not in ids
    assert all(short(item["config"]["digest"]) not in ids for item in meta["attestations"])
    (statement,) = attestation_blobs(meta)
    assert statement["media_type"] == "application/vnd.in-toto+json"
    assert statement["predicate_type"].startswith("https://slsa.dev/provenance/")
    seen = ids[short(statement["digest"])]
    assert _ACTION_OF[seen.outcome] == registry_actions(f"containerd-{case}").get(statement["digest"], "exists")
    assert seen.not_a_layer is (seen.outcome == "exists")     # "Already exists", not "Layer already exists"
    assert set(ids) == {short(item["digest"]) for item in meta["manifest_layers"]} | {short(statement["digest"])}


def test_classic_first_push_every_layer_pushed_and_the_result_is_the_manifest_digest():
    acc, events, meta = run("classic-first-push")
    assert acc.result is not None and acc.result.digest == meta["manifest_digest"]
    assert acc.finish().tag == "1.0" and acc.finish().size == meta["manifest_size"]
    assert len(acc.results) == 1  # the status line and the aux line are one result
    assert acc.repository == meta["reference"].rsplit(":", 1)[0]
    assert {item.id for item in acc.layers} == {short(d) for d in meta["diff_ids"]}
    assert all(item.phase is PushPhase.PUSHED for item in acc.layers)
    assert PushPhase.PREPARING in {event.phase for event in events}
    pushing = [event for event in events if event.phase is PushPhase.PUSHING]
    assert pushing and all(event.total > 0 or event.current > 0 for event in pushing)
    outcomes = layer_outcomes(acc.layers, diff_ids=meta["diff_ids"], remote=remote_of(meta))
    assert [item.id for item in outcomes] == [short(d) for d in meta["diff_ids"]]


def test_containerd_first_push_ids_are_blob_prefixes_the_result_the_index_and_no_preparing():
    acc, events, meta = run("containerd-first-push")
    assert acc.result is not None and acc.result.digest == meta["manifest_digest"] == meta["image_id"]
    assert acc.result.size == meta["manifest_size"]
    assert not acc.aux and len(acc.results) == 1
    phases = {event.phase for event in events}
    assert PushPhase.WAITING in phases and PushPhase.PREPARING not in phases
    outcomes = layer_outcomes(acc.layers, diff_ids=meta["diff_ids"], remote=remote_of(meta))
    assert [item.id for item in outcomes] == [short(item["digest"]) for item in meta["manifest_layers"]]
    base = next(item for item in acc.layers if item.id == outcomes[0].id)
    assert base.total == meta["manifest_layers"][0]["size"]  # containerd counts compressed bytes


@pytest.mark.parametrize("store", STORES)
def test_repeat_push_every_layer_exists(store):
    report, meta = report_of(f"{store}-repeat-push")
    assert {item.outcome for item in report.layers} == {"exists"}
    assert report.bytes_uploaded == 0
    assert report.bytes_skipped == sum(item["size"] for item in meta["manifest_layers"])


@pytest.mark.parametrize("store", STORES)
def test_one_layer_change_pushes_only_the_top_layer(store):
    report, meta = report_of(f"{store}-one-layer-change")
    uploaded = [item for item in report.layers if item.outcome == "pushed"]
    assert [(item.digest, item.bytes) for item in uploaded] == [
        (meta["manifest_layers"][-1]["digest"], meta["manifest_layers"][-1]["size"])]


def test_classic_cross_repo_push_mounts_every_layer_from_the_first_repository():
    acc, events, meta = run("classic-cross-repo-mount")
    assert all(item.phase is PushPhase.MOUNTED for item in acc.layers)
    assert {item.source for item in acc.layers} == {"learner/hello-lab"}
    assert {event.source for event in events if event.phase is PushPhase.MOUNTED} == {"learner/hello-lab"}
    outcomes = layer_outcomes(acc.layers, diff_ids=meta["diff_ids"], remote=remote_of(meta))
    assert [item.outcome for item in outcomes] == ["mounted"] * len(meta["diff_ids"])


def test_containerd_cross_repo_push_mounts_from_the_first_repository_what_it_tries_to():
    """The containerd store keeps one mount source per blob and registry *host name* (the port left out), so a
    blob pushed before to another registry on localhost may be offered from a repository this registry lacks:
    the mount fails (202) and the blob uploads. The recording shows it for the base layer."""
    acc, _, meta = run("containerd-cross-repo-mount")
    actions = registry_actions("containerd-cross-repo-mount")
    mounted = [item for item in acc.layers if item.outcome == "mounted"]
    assert mounted and {item.source for item in mounted} == {"learner/hello-lab"}
    for item in acc.layers:
        digest = next(blob for blob in [*meta["manifest_layers"], *attestation_blobs(meta)]
                      if short(blob["digest"]) == item.id)["digest"]
        assert _ACTION_OF[item.outcome] == actions[digest]


def test_containerd_rebuild_uploads_only_a_new_attestation_and_names_a_new_index():
    """Every BuildKit build writes a new provenance attestation, so a fully cached rebuild is a new index:
    no layer uploads, the attestation does. On the classic store the same build is the same image."""
    report, meta = report_of("containerd-rebuild-push")
    first = json.loads((STREAMS / "containerd-first-push.meta.json").read_text())
    assert report.digest != first["manifest_digest"] and meta["config_digest"] == first["config_digest"]
    assert report.bytes_uploaded == 0 and {item.outcome for item in report.layers} == {"exists"}
    acc, _, _ = run("containerd-rebuild-push")
    (statement,) = attestation_blobs(meta)
    assert next(item for item in acc.layers if item.id == short(statement["digest"])).outcome == "pushed"
    classic, _ = report_of("classic-rebuild-push")
    classic_first = json.loads((STREAMS / "classic-first-push.meta.json").read_text())
    assert classic.digest == classic_first["manifest_digest"] and classic.bytes_uploaded == 0


def test_without_a_remote_view_bytes_are_the_streams_own_totals():
    acc, _, meta = run("classic-first-push")
    outcomes = layer_outcomes(acc.layers, diff_ids=meta["diff_ids"])
    totals = {item.id: item.total for item in acc.layers}
    assert [item.bytes for item in outcomes] == [totals[short(d)] for d in meta["diff_ids"]]
    assert all(item.digest == "" for item in outcomes)
    repeat, _, _ = run("classic-repeat-push")
    assert {item.bytes for item in layer_outcomes(repeat.layers, diff_ids=meta["diff_ids"])} == {0}


def test_containerd_without_a_remote_view_leaves_out_what_the_stream_calls_no_layer():
    acc, _, meta = run("containerd-repeat-push")
    outcomes = layer_outcomes(acc.layers, diff_ids=meta["diff_ids"])
    assert {item.id for item in outcomes} == {short(item["digest"]) for item in meta["manifest_layers"]}
    first, _, first_meta = run("containerd-first-push")   # a pushed attestation looks like a layer here
    compressed = {short(item["digest"]): item["size"] for item in first_meta["manifest_layers"]}
    by_id = {item.id: item.bytes for item in layer_outcomes(first.layers, diff_ids=first_meta["diff_ids"])}
    assert all(by_id[layer_id] == size for layer_id, size in compressed.items())


def test_diff_ids_pair_with_blobs_in_order_when_the_remote_view_has_no_config_diff_ids():
    acc, _, meta = run("classic-one-layer-change")
    bare = remote_of(meta)
    bare = RemoteView(bare.repository, bare.tag, bare.manifest_digest, "", bare.config_digest, bare.blobs, ())
    outcomes = layer_outcomes(acc.layers, diff_ids=meta["diff_ids"], remote=bare)
    assert [item.digest for item in outcomes] == [item["digest"] for item in meta["manifest_layers"]]


# -- recorded errors -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize(("case", "kind", "in_explanation", "in_fix"), [
    ("error-no-local-image", None, "no local image", "docker tag <image>"),
    ("error-tag-does-not-exist", "tag-missing", "has no tag 9.9", "docker images"),
    ("error-no-credentials", "no-credentials", "holds no credential", "docker login localhost:"),
    ("error-wrong-password", "unauthorized", "rejected the credential", "docker logout localhost:"),
    ("error-registry-down", "registry-down", "nothing answers", "labsupport up"),
    ("error-http-to-https", "https-required", "plain HTTP", "insecure-registries"),
    ("error-untagged", "no-registry-host", "has no registry host", "docker tag hc-rec-"),
])
def test_recorded_errors_raise_push_failed_with_the_right_explanation(store, case, kind, in_explanation, in_fix):
    lines, meta = load(f"{store}-{case}")
    assert not meta.get("refused_before_streaming")
    acc = PushAccumulator(meta["reference"], lab_registry="localhost:5000", learner="learner")
    with pytest.raises(PushFailed) as caught:
        list(acc.consume(lines))
    error = caught.value
    # A missing name: the classic store says so; the containerd store says "tag does not exist" for it too.
    expected = kind or {"classic": "no-local-image", "containerd": "tag-missing"}[store]
    assert error.kind == expected
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
    ('failed to do request: Put "http://localhost:5000/v2/a/b/blobs/uploads/u": EOF', "registry-down"),
    (('failed to copy: failed to do request: Put "http://localhost:5000/v2/a/b/blobs/uploads/u?digest=sha256%3A0"'
      ': readfrom tcp 127.0.0.1:1->127.0.0.1:5000: write tcp 127.0.0.1:1->127.0.0.1:5000: write: broken pipe'),
     "registry-down"),                                   # both from a registry killed mid-push (containerd)
    (('failed to copy: failed to do request: Put "http://localhost:5000/v2/a/b/blobs/uploads/u?digest=sha256%3A0"'
      ': readfrom tcp 127.0.0.1:1->127.0.0.1:5000: write tcp 127.0.0.1:1->127.0.0.1:5000: use of closed network '
      'connection'), "registry-down"),                  # the same, when containerd closed the socket first
    ("blob upload unknown: write failed: no space left on device", "disk-full"),
    (("unknown: unexpected status from HEAD request to http://localhost:5000/v2/a/b/blobs/sha256:0: "
      "401 Unauthorized"), "unauthorized"),
    (("push access denied, repository does not exist or may require authorization: authorization failed: "
      "no basic auth credentials"), "no-credentials"),
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

"""PushMonitor fed by push streams recorded from both engines: classic (ids are diff id prefixes) and containerd
(blob ids, the attestation's blob among them), with the reports the engine makes of them."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from labsupport.cards import human_bytes
from labsupport.errors import PushFailed
from labsupport.model import (
    Blob,
    ImageDiff,
    ImageView,
    Layer,
    LayerDiff,
    LayerOutcome,
    LayerState,
    PushEvent,
    PushPhase,
    PushReport,
    RemoteView,
)
from labsupport.pushstream import PushAccumulator, event_from_line, layer_outcomes
from labsupport.widgets import PushMonitor

STREAMS = Path(__file__).resolve().parents[1] / "data" / "push-streams"


def meta(name: str) -> dict:
    return json.loads((STREAMS / f"{name}.meta.json").read_text())


def recorded_events(name: str) -> list[PushEvent]:
    """The layer events of a recorded engine stream, read by the engine wrapper's own line parser."""
    lines = [json.loads(line) for line in (STREAMS / f"{name}.jsonl").read_text().splitlines()]
    return [event for event in map(event_from_line, lines) if event is not None]


def classic_ids(name: str) -> list[str]:
    """The stream ids of a classic-store push: 12-hex prefixes of the image's diff ids, bottom first."""
    return [diff_id.split(":")[1][:12] for diff_id in meta(name)["diff_ids"]]


def recorded_report(name: str, outcome: str | None = None, *, by_blob: bool = False) -> PushReport:
    """The PushReport the engine makes of a recorded push: the stream read by PushAccumulator, its ids matched
    to the registry's view of the tag (for an index, its image for the engine's platform) by layer_outcomes."""
    info = meta(name)
    lines = [json.loads(line) for line in (STREAMS / f"{name}.jsonl").read_text().splitlines()]
    acc = PushAccumulator(info["reference"])
    list(acc.consume(lines))
    repository, tag = info["reference"].split("/", 1)[1].rsplit(":", 1)
    remote = RemoteView(repository, tag, info.get("image_manifest_digest", info["manifest_digest"]), "",
                        info["config_digest"], tuple(Blob(blob["digest"], blob["size"], blob["media_type"])
                                                     for blob in info["manifest_layers"]),
                        tuple(info["config_diff_ids"]))
    layers = layer_outcomes(acc.layers, diff_ids=info["diff_ids"], remote=remote)
    if outcome is not None:
        assert {item.outcome for item in layers} == {outcome}, name
    return PushReport(info["reference"], acc.finish().digest, acc.finish().size, layers, seconds=0.42)


def scripted(events: list[PushEvent], report: PushReport | None = None, error: Exception | None = None):
    """A runner that plays events into the monitor, then returns the report or raises the error."""
    def runner(on_event):
        for event in events:
            on_event(event)
        if error is not None:
            raise error
        return report
    return runner


def bar_classes(monitor: PushMonitor) -> dict[str, tuple[str, ...]]:
    return {layer_id: tuple(row.bar._dom_classes) for layer_id, row in monitor._rows.items()}


def test_classic_first_push_ends_with_every_layer_pushed_and_the_summary():
    report = recorded_report("classic-first-push", "pushed")
    monitor = PushMonitor(report.reference, scripted(recorded_events("classic-first-push"), report),
                          autostart=True)
    assert monitor.status == "done" and monitor.report is report and monitor.error is None
    assert sorted(monitor.layers) == sorted(classic_ids("classic-first-push"))
    assert {phase for phase, _, _ in monitor.layers.values()} == {PushPhase.PUSHED}
    base = classic_ids("classic-first-push")[0]
    last_pushing = [e for e in recorded_events("classic-first-push") if e.layer == base and e.current][-1]
    assert monitor.layers[base][1] == last_pushing.current        # the last byte count the stream gave
    for layer_id, classes in bar_classes(monitor).items():
        assert classes == ("lab-push-bar", "lab-push-bar--pushed"), layer_id
        assert monitor._rows[layer_id].bar.value == monitor._rows[layer_id].bar.max
        assert monitor._rows[layer_id].bar.style.bar_color == "#ef6c00"                # "upload" orange
    summary = monitor._summary.value
    assert "sent 1.1 MB of the image&#x27;s 1.1 MB" in summary
    assert "3 layers uploaded, 0 skipped" in summary
    assert report.digest in summary
    text = repr(monitor)
    assert f"{base}  pushed (1.1 MB compressed)" in text and report.digest in text


def test_classic_repeat_push_skips_every_layer():
    report = recorded_report("classic-repeat-push", "exists")
    monitor = PushMonitor(report.reference, scripted(recorded_events("classic-repeat-push"), report))
    assert monitor.status == "ready" and monitor.layers == {}
    assert monitor.start() is report
    assert {phase for phase, _, _ in monitor.layers.values()} == {PushPhase.EXISTS}
    assert all(classes[-1] == "lab-push-bar--exists" for classes in bar_classes(monitor).values())
    assert {row.bar.style.bar_color for row in monitor._rows.values()} == {"#2e7d32"}   # LayerStack's "there"
    assert "sent 0 B of the image&#x27;s 1.1 MB" in monitor._summary.value
    assert "3 skipped: 3 already there, 0 mounted" in monitor._summary.value
    assert "already exists" in monitor.text()


def test_classic_cross_repository_mount_names_the_source():
    report = recorded_report("classic-cross-repo-mount", "mounted")
    monitor = PushMonitor(report.reference, scripted(recorded_events("classic-cross-repo-mount"), report),
                          autostart=True)
    assert {phase for phase, _, _ in monitor.layers.values()} == {PushPhase.MOUNTED}
    assert "mounted from learner/hello-lab" in monitor.text()
    base = classic_ids("classic-cross-repo-mount")[0]
    assert "mounted from learner/hello-lab" in monitor._rows[base].label.value
    assert "0 mounted" not in monitor._summary.value and "3 mounted" in monitor._summary.value


STEPS = ("ADD rootfs.tar /", "RUN echo built-by-the-recorder > /etc/recorded && mkdir -p /app",
         "COPY app.txt /app/app.txt")


def containerd_image(name: str) -> ImageView:
    """The local image as the containerd store shows it: its id is the index digest, its layers diff ids."""
    info = meta(name)
    layers = tuple(Layer(diff_id, 1000, step) for diff_id, step in zip(info["diff_ids"], STEPS))
    return ImageView(info["image_id"], ("hello-lab:1.0",), layers)


def containerd_diff(name: str) -> ImageDiff:
    """The pushed image as a diff whose layers know their blobs, so blob-prefix ids get their instruction."""
    info = meta(name)
    image = containerd_image(name)
    blobs = [Blob(blob["digest"], blob["size"], blob["media_type"]) for blob in info["manifest_layers"]]
    return ImageDiff(image, "learner/hello-lab",
                     tuple(LayerDiff(layer, LayerState.UPLOAD, blob=blob, upload_bytes=blob.size)
                           for layer, blob in zip(image.layers, blobs)))


def blob_ids(name: str) -> list[str]:
    return [blob["digest"].split(":")[1][:12] for blob in meta(name)["manifest_layers"]]


def statement(name: str) -> dict:
    """The attestation manifest's one blob: BuildKit's provenance statement (in-toto JSON)."""
    (blob,) = [layer for item in meta(name)["attestations"] for layer in item["layers"]]
    return blob


def containerd_monitor(name: str, **kwargs) -> PushMonitor:
    report = recorded_report(name)
    return PushMonitor(report.reference, scripted(recorded_events(name), report), autostart=True, **kwargs)


@pytest.mark.parametrize("image", ["diff", "view"])
def test_containerd_first_push_rows_say_layer_n_and_the_attestation(image):
    name = "containerd-first-push"
    shown = containerd_diff(name) if image == "diff" else containerd_image(name)
    monitor = containerd_monitor(name, image=shown)
    layers, proof = blob_ids(name), statement(name)
    proof_id = proof["digest"].split(":")[1][:12]
    assert set(monitor.layers) == {*layers, proof_id}         # the config and the manifests are not listed
    assert all(phase is PushPhase.PUSHED for phase, _, _ in monitor.layers.values())
    size = meta(name)["manifest_layers"][0]["size"]
    assert monitor.layers[layers[0]] == (PushPhase.PUSHED, size, size)    # compressed counts
    for position, (layer_id, step) in enumerate(zip(layers, STEPS)):
        label = monitor._rows[layer_id].label.value
        assert f"layer {position + 1} of 3" in label and step.split()[0] in label, label
    label = monitor._rows[proof_id].label.value
    assert "the attestation (provenance)" in label and "config" not in label and "layer " not in label
    assert f"pushed ({human_bytes(proof['size'])})" in label
    sent = monitor.report.bytes_uploaded + proof["size"]
    summary = (f"sent {human_bytes(sent)}: {human_bytes(monitor.report.bytes_uploaded)} of the image&#x27;s "
               f"{human_bytes(monitor.report.bytes_uploaded)} (3 layers uploaded, 0 skipped: 0 already there, "
               f"0 mounted) and {human_bytes(proof['size'])} for the attestation (provenance)")
    assert summary in monitor._summary.value
    text = repr(monitor)
    assert f"{proof_id}  pushed ({human_bytes(proof['size'])}) — the attestation (provenance)" in text
    assert f"{layers[0]}  pushed ({human_bytes(size)} compressed) — layer 1 of 3 · ADD" in text
    rows = [line.split()[0] for line in text.splitlines()[1:5]]
    assert rows == [*layers, proof_id]                          # bottom layer first, the attestation last
    assert [box for box in monitor._bars.children] == [monitor._rows[row].box for row in rows]
    assert summary.replace("&#x27;", "'") in text and monitor.report.digest in text
    assert "image config" not in text


def test_containerd_rebuild_uploads_the_attestation_alone_and_the_total_says_so():
    """The bug the issue saw: the attestation's row said "pushed" while the total said "sent 0 B"."""
    name = "containerd-rebuild-push"
    monitor = containerd_monitor(name, image=containerd_image(name))
    proof = statement(name)
    proof_id = proof["digest"].split(":")[1][:12]
    assert monitor.layers[proof_id][0] is PushPhase.PUSHED
    assert {monitor.layers[layer_id][0] for layer_id in blob_ids(name)} == {PushPhase.EXISTS}
    assert monitor.report.bytes_uploaded == 0
    expected = (f"sent {human_bytes(proof['size'])}: 0 B of the image's "
                f"{human_bytes(monitor.report.bytes_skipped)} (0 layers uploaded, 3 skipped: 3 already there, "
                f"0 mounted) and {human_bytes(proof['size'])} for the attestation (provenance)")
    assert expected in monitor.text()
    assert "sent 0 B" not in monitor.text()


def test_an_attestation_pushed_without_progress_lines_is_not_said_to_weigh_0_b():
    name = "containerd-rebuild-push"
    report = recorded_report(name)
    proof_id = statement(name)["digest"].split(":")[1][:12]
    quiet = [event for event in recorded_events(name)
             if not (event.layer == proof_id and event.phase is PushPhase.PUSHING)]
    monitor = PushMonitor(report.reference, scripted(quiet, report), autostart=True,
                          image=containerd_image(name))
    assert monitor.layers[proof_id][0] is PushPhase.PUSHED
    assert ("and the attestation (provenance), whose size the engine did not report" in monitor.text())
    assert "0 B for the attestation" not in monitor.text()


def test_containerd_repeat_push_the_attestation_already_exists():
    name = "containerd-repeat-push"
    monitor = containerd_monitor(name, image=containerd_image(name))
    proof_id = statement(name)["digest"].split(":")[1][:12]
    assert {phase for phase, _, _ in monitor.layers.values()} == {PushPhase.EXISTS}
    assert "sent 0 B: 0 B of the image" in monitor.text()
    assert "3 skipped: 3 already there, 0 mounted); the attestation (provenance): already exists" in monitor.text()
    assert "the attestation (provenance)" in monitor._rows[proof_id].label.value


def test_containerd_cross_repository_mount():
    name = "containerd-cross-repo-mount"
    monitor = containerd_monitor(name)
    report = monitor.report
    mounted = [item.id for item in report.layers if item.outcome == "mounted"]
    assert mounted and all(monitor.layers[layer_id][0] is PushPhase.MOUNTED for layer_id in mounted)
    assert all(bar_classes(monitor)[layer_id][-1] == "lab-push-bar--mounted" for layer_id in mounted)
    proof_id = statement(name)["digest"].split(":")[1][:12]
    assert monitor.layers[proof_id][0] is PushPhase.MOUNTED
    assert f"{len(mounted)} mounted)" in monitor._summary.value
    assert "the attestation (provenance): mounted from learner/hello-lab" in monitor.text()
    # What the registry received (its log, in the recording): the base layer uploaded again, its mount
    # offered from a repository of an earlier lab on "localhost" (see test_pushstream).
    pushed = sum(item.bytes for item in report.layers if item.outcome == "pushed")
    assert monitor.text().count(f"sent {human_bytes(pushed)}") == 1


def test_a_blob_named_by_the_classic_image_id_is_the_config():
    """No recorded stream lists the config, but a row that does is labelled so, not as a layer."""
    report = recorded_report("classic-first-push", "pushed")
    image_id = meta("classic-first-push")["image_id"]
    events = [*recorded_events("classic-first-push"), PushEvent(image_id.split(":")[1][:12], PushPhase.PUSHED,
                                                                10, 10)]
    image = ImageView(image_id, ("hello-lab:1.0",), tuple(Layer(d, 1, "RUN x")
                                                          for d in meta("classic-first-push")["diff_ids"]))
    monitor = PushMonitor(report.reference, scripted(events, report), image=image, autostart=True)
    assert "the image config" in monitor._rows[image_id.split(":")[1][:12]].label.value


@pytest.mark.parametrize("name", sorted(path.name[: -len(".jsonl")] for path in STREAMS.glob("*.jsonl")))
def test_the_bars_and_the_engine_report_fold_a_stream_alike(name):
    lines = [json.loads(line) for line in (STREAMS / f"{name}.jsonl").read_text().splitlines()]
    acc = PushAccumulator("r")
    try:
        list(acc.consume(lines))
    except PushFailed:
        pass
    monitor = PushMonitor("r", scripted([]))
    for event in recorded_events(name):
        monitor.on_event(event)
    assert monitor.layers == {item.id: (item.phase, item.current, item.total) for item in acc.layers}


def test_a_late_progress_line_never_undoes_a_finished_layer():
    monitor = PushMonitor("r", scripted([]))
    monitor.on_event(PushEvent("eeeeeeeeeeee", PushPhase.PUSHED, 0, 10))
    monitor.on_event(PushEvent("eeeeeeeeeeee", PushPhase.PUSHING, 5, 10))
    assert monitor.layers["eeeeeeeeeeee"][0] is PushPhase.PUSHED


def test_the_view_is_live_while_the_push_runs():
    snapshots = []
    events = [PushEvent("aaaaaaaaaaaa", PushPhase.PREPARING),
              PushEvent("aaaaaaaaaaaa", PushPhase.PUSHING, 500, 1000)]

    def runner(on_event):
        for event in events:
            on_event(event)
            bar = monitor._rows["aaaaaaaaaaaa"].bar
            snapshots.append((monitor.status, monitor.layers["aaaaaaaaaaaa"], bar.value))
        on_event(PushEvent("aaaaaaaaaaaa", PushPhase.PUSHED))
        return PushReport("r", "sha256:" + "11" * 32, 1, (LayerOutcome("aaaaaaaaaaaa", "pushed", 900),))

    monitor = PushMonitor("r", runner)
    monitor.start()
    assert snapshots == [("running", (PushPhase.PREPARING, 0, 0), 0),
                         ("running", (PushPhase.PUSHING, 500, 1000), 500)]
    assert "pushing 500 B / 1.0 kB" not in monitor.text()      # the final state replaced it
    assert monitor.layers["aaaaaaaaaaaa"] == (PushPhase.PUSHED, 1000, 1000)


def test_progress_is_throttled_per_layer_but_phase_changes_always_render():
    now = [0.0]
    monitor = PushMonitor("r", scripted([]), throttle=0.1, clock=lambda: now[0])
    monitor.on_event(PushEvent("aaaaaaaaaaaa", PushPhase.PREPARING))
    for step in range(1, 51):                                   # 50 updates over 0.5 s
        now[0] = step * 0.01
        monitor.on_event(PushEvent("aaaaaaaaaaaa", PushPhase.PUSHING, step * 100, 5000))
    pushing_renders = monitor.renders - 1
    assert 5 <= pushing_renders <= 7
    assert monitor.layers["aaaaaaaaaaaa"] == (PushPhase.PUSHING, 5000, 5000)   # state is never throttled
    before = monitor.renders
    monitor.on_event(PushEvent("aaaaaaaaaaaa", PushPhase.PUSHED))              # same instant: still drawn
    assert monitor.renders == before + 1
    assert bar_classes(monitor)["aaaaaaaaaaaa"][-1] == "lab-push-bar--pushed"


def test_a_push_failure_shows_message_and_fix_not_a_traceback():
    error = PushFailed("localhost:5001/learner/hello-lab:1.0", "no basic auth credentials",
                       "the Docker client holds no credential for this registry",
                       fix="docker login localhost:5001 -u learner --password-stdin")
    monitor = PushMonitor("localhost:5001/learner/hello-lab:1.0",
                          scripted(recorded_events("classic-error-no-credentials"), error=error),
                          autostart=True)
    assert monitor.status == "failed" and monitor.error is error and monitor.report is None
    html = monitor._summary.value
    assert "lab-error" in html and "no basic auth credentials" in html
    assert "docker login localhost:5001 -u learner --password-stdin" in html
    assert "Traceback" not in html and "Traceback" not in monitor.text()
    assert "fix: docker login" in monitor.text()
    assert {phase for phase, _, _ in monitor.layers.values()} == {PushPhase.PREPARING}


def test_an_unexpected_error_is_shown_too():
    monitor = PushMonitor("r", scripted([], error=ValueError("stream ended early")), autostart=True)
    assert monitor.status == "failed"
    assert "unexpected ValueError: stream ended early" in monitor._summary.value


def test_the_report_settles_layers_whose_last_event_was_missed():
    events = [PushEvent("bbbbbbbbbbbb", PushPhase.PUSHING, 10, 100)]
    report = PushReport("r", "sha256:" + "22" * 32, 1, (LayerOutcome("bbbbbbbbbbbb", "pushed", 80),
                                                        LayerOutcome("cccccccccccc", "exists", 30)))
    monitor = PushMonitor("r", scripted(events, report), autostart=True)
    assert monitor.layers == {"bbbbbbbbbbbb": (PushPhase.PUSHED, 100, 100),
                              "cccccccccccc": (PushPhase.EXISTS, 0, 30)}


def test_push_button_starts_and_disappears():
    report = recorded_report("classic-repeat-push", "exists")
    monitor = PushMonitor(report.reference, scripted(recorded_events("classic-repeat-push"), report))
    assert monitor._start_button in monitor.children
    assert "not started" in monitor.text()
    monitor._start_button.click()
    assert monitor.status == "done"
    assert monitor._start_button not in monitor.children


def test_threaded_push_and_a_second_start_while_running_is_refused():
    gate = threading.Event()

    def runner(on_event):
        on_event(PushEvent("dddddddddddd", PushPhase.PUSHING, 1, 2))
        gate.wait(5)
        return PushReport("r", "sha256:" + "33" * 32, 1, (LayerOutcome("dddddddddddd", "pushed", 2),))

    monitor = PushMonitor("r", runner, threaded=True, autostart=True)
    assert monitor.status == "running"
    assert monitor.start() is None
    assert "already running" in monitor.messages.outputs[-1]["text"]
    gate.set()
    monitor.wait(5)
    assert monitor.status == "done"
    assert monitor.layers["dddddddddddd"][0] is PushPhase.PUSHED


def test_mimebundle_text_is_the_state():
    monitor = PushMonitor("r", scripted([], PushReport("r", "sha256:" + "44" * 32, 1)), autostart=True)
    bundle = monitor._repr_mimebundle_()
    assert bundle["text/plain"].startswith("PushMonitor r: done")
    assert "application/vnd.jupyter.widget-view+json" in bundle


@pytest.mark.parametrize("name", ["classic-first-push", "classic-one-layer-change", "classic-repeat-push"])
def test_every_recorded_success_ends_with_done_layers(name):
    events = recorded_events(name)
    assert events, name
    monitor = PushMonitor("r", scripted(events, PushReport("r", "sha256:" + "55" * 32, 1)), autostart=True)
    assert all(phase.done for phase, _, _ in monitor.layers.values())
    assert all(classes[-1] in ("lab-push-bar--pushed", "lab-push-bar--exists", "lab-push-bar--mounted")
               for classes in bar_classes(monitor).values())


def test_a_second_start_redraws_from_scratch():
    first = [PushEvent("ffffffffffff", PushPhase.PUSHING, 5, 10), PushEvent("ffffffffffff", PushPhase.PUSHED)]
    runs = iter([first, [PushEvent("ffffffffffff", PushPhase.EXISTS)]])

    def runner(on_event):
        for event in next(runs):
            on_event(event)
        return PushReport("r", "sha256:" + "66" * 32, 1)

    monitor = PushMonitor("r", runner, autostart=True)
    old_bar = monitor._rows["ffffffffffff"].bar
    monitor.start()
    assert monitor.layers == {"ffffffffffff": (PushPhase.EXISTS, 0, 0)}
    assert monitor._rows["ffffffffffff"].bar is not old_bar and old_bar.comm is None
    assert len(monitor._bars.children) == 1

"""PushMonitor: a live view of one `docker push`, one progress bar per layer, then the push's summary.

The push itself is an injected `runner(on_event) -> PushReport` (the lead wires it to the engine), so this
module never touches Docker. Row ids are whatever the engine's stream uses: a diff id prefix on the classic
image store, a compressed blob digest prefix on the containerd store. Once the report is in, each row says what
its blob is: "layer N of M" (the report's layers, bottom first), "the manifest the tag names", "the image
config", or "the attestation (provenance)": the containerd store lists every blob of the index it pushes but
its manifests and configs, so a blob that is not one of the image's layers is the provenance statement
BuildKit attached. The summary's total is the sum of its rows: the layers' compressed sizes from the report,
and for the other rows the stream's own byte counts (compressed on the containerd store, hence exact).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
import traitlets
from IPython.display import display

from ..cards import COLOURS, MONO, error_html, error_text, esc, human_bytes
from ..model import ImageDiff, ImageView, LayerProgress, PushEvent, PushPhase, PushReport
from .common import TextRepr, button, html_widget, set_classes, short_digest

Runner = Callable[[Callable[[PushEvent], None]], PushReport]

_PHASE_TEXT = {
    PushPhase.WAITING: "waiting",
    PushPhase.PREPARING: "preparing",
    PushPhase.PUSHING: "pushing",
    PushPhase.RETRYING: "retrying",
    PushPhase.PUSHED: "pushed",
    PushPhase.EXISTS: "already exists",
    PushPhase.MOUNTED: "mounted",
}
#: Bar colours follow LayerStack's legend: orange is sent, green was already there, blue was mounted.
_BAR_COLOUR = {PushPhase.PUSHING: COLOURS["upload"], PushPhase.PUSHED: COLOURS["upload"],
               PushPhase.RETRYING: COLOURS["failed"], PushPhase.EXISTS: COLOURS["there"],
               PushPhase.MOUNTED: COLOURS["mountable"]}
_OUTCOME_PHASE = {"pushed": PushPhase.PUSHED, "exists": PushPhase.EXISTS, "mounted": PushPhase.MOUNTED}
_BAR_CLASSES = ("lab-push-bar",)


class _LayerRow:
    """The widgets of one layer: its label and its progress bar."""

    def __init__(self, layer_id: str, title: str) -> None:
        self.label = html_widget("", "lab-push-label")
        self.label.layout = widgets.Layout(flex="1 1 auto")
        # A fixed share of the row: a long label must not squeeze the bar (every bar then reads the same).
        self.bar = widgets.IntProgress(min=0, max=1, value=0,
                                       layout=widgets.Layout(width="35%", min_width="35%", flex="0 0 35%"))
        self.bar.add_class("lab-push-bar")
        self.box = widgets.HBox([self.bar, self.label])
        self.box.add_class("lab-push-layer")
        self.layer_id = layer_id
        self.title = title

    def close(self) -> None:
        """Close the row's widgets (a restarted push draws new rows)."""
        for widget in (self.bar, self.label, self.box):
            widget.close()


class PushMonitor(TextRepr, widgets.VBox):
    """Runs an injected push and shows each layer's phase and bytes live, then what the push sent."""

    status = traitlets.Unicode("ready")          # ready | running | done | failed
    report = traitlets.Instance(PushReport, allow_none=True)
    error = traitlets.Instance(BaseException, allow_none=True)

    def __init__(self, reference: str, runner: Runner, *, autostart: bool = False, threaded: bool = False,
                 throttle: float = 0.1, image: ImageView | ImageDiff | None = None,
                 clock: Callable[[], float] = time.monotonic, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_class("lab-widget")
        self.add_class("lab-pushmonitor")
        self.reference = reference
        self.throttle = throttle
        self.threaded = threaded
        self.renders = 0                       # layer bar updates sent to the view, for tests of throttling
        self._runner = runner
        self._clock = clock
        self._image = image.image if isinstance(image, ImageDiff) else image
        self._titles = _layer_titles(image)
        self._layers: dict[str, LayerProgress] = {}
        self._rows: dict[str, _LayerRow] = {}
        self._last_render: dict[str, float] = {}
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._header = html_widget("", "lab-push-header")
        self._bars = widgets.VBox()
        self._bars.add_class("lab-push-bars")
        self._summary = html_widget("", "lab-push-summary")
        self._start_button = button("Push", "lab-push-start", style="primary",
                                    tooltip=f"docker push {reference}")
        self._start_button.on_click(lambda _b: self.start())
        self.messages = widgets.Output()
        self.observe(self._render, names=["status", "report", "error"])
        self._render()
        if autostart:
            self.start()

    @property
    def layers(self) -> dict[str, tuple[PushPhase, int, int]]:
        """Each layer id seen so far → (phase, current bytes, total bytes), in the order they appeared."""
        with self._lock:
            return {layer_id: (state.phase, state.current, state.total)
                    for layer_id, state in self._layers.items()}

    @classmethod
    def show(cls, reference: str, runner: Runner, **kwargs: Any) -> PushMonitor:
        """Display a monitor, run the push live under it, then refresh the output's text twin; returns it.

        For a cell whose output nbval compares, prefer `PushMonitor(..., autostart=True)` as the cell's value:
        nbval keeps the first display of `show` (the "ready" text) and ignores the later update. Assign the
        result (`monitor = PushMonitor.show(...)`) so the cell does not display the monitor a second time.
        """
        monitor = cls(reference, runner, autostart=False, **kwargs)
        handle = display(monitor, display_id=True)
        monitor.start()
        monitor.wait()
        if handle is not None:
            handle.update(monitor)
        return monitor

    def start(self) -> PushReport | None:
        """Run the push (in a thread when `threaded`); returns the report when run synchronously."""
        with self._lock:
            if self.status == "running":
                self.messages.append_stdout("a push is already running\n")
                return None
            self._layers.clear()
            for row in self._rows.values():
                row.close()
            self._rows.clear()
            self._last_render.clear()
            self._bars.children = ()
            self.report = None
            self.error = None
            self.status = "running"
        if self.threaded:
            self._thread = threading.Thread(target=self._run, name=f"push {self.reference}", daemon=True)
            self._thread.start()
            return None
        self._run()
        return self.report

    def wait(self, timeout: float | None = None) -> None:
        """Block until a threaded push ends (no-op for a synchronous one)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def on_event(self, event: PushEvent) -> None:
        """Take one progress event: always keep the state, redraw the bar at most every `throttle` seconds."""
        with self._lock:
            state = self._layers.get(event.layer)
            before = state.phase if state is not None else None
            if state is None:
                state = self._layers[event.layer] = LayerProgress(event.layer, event.phase)
            if not state.advance(event):
                return          # a late progress line never undoes a finished layer
            now = self._clock()
            changed = before is not event.phase
            last = self._last_render.get(event.layer)
            if changed or event.phase.done or last is None or now - last >= self.throttle:
                self._last_render[event.layer] = now
                self._draw_layer(event.layer)

    def _run(self) -> None:
        try:
            report = self._runner(self.on_event)
        except Exception as exc:  # noqa: BLE001 - a failed push is shown, never raised into the view
            with self._lock:
                self.error = exc
                self.status = "failed"
            return
        with self._lock:
            self._apply_report(report)
            self.report = report
            self.status = "done"

    def _apply_report(self, report: PushReport) -> None:
        """Settle every layer from the report's outcomes, so a missed terminal event still ends its bar."""
        for outcome in report.layers:
            phase = _OUTCOME_PHASE.get(outcome.outcome)
            if phase is None:
                continue
            old = self._layers.get(outcome.id)
            total = old.total if old and old.total else outcome.bytes
            if old is None or old.phase is not phase:
                current = total if phase is PushPhase.PUSHED else (old.current if old else 0)
                source = old.source if old else None
                self._layers[outcome.id] = LayerProgress(outcome.id, phase, current, total, source)
            self._draw_layer(outcome.id)

    def _role(self, layer_id: str) -> str:
        """What a row's blob is, once the report says which ids are the image's layers; "" before."""
        report = self.report
        if report is None or not report.layers:
            return ""
        for position, item in enumerate(report.layers):
            if item.id == layer_id:
                return f"layer {position + 1} of {len(report.layers)}"
        short = layer_id.lower()
        if short_digest(report.digest).startswith(short):
            return "the manifest the tag names"
        image_id = self._image.image_id if self._image is not None else ""
        if image_id and image_id != report.digest and short_digest(image_id).startswith(short):
            return "the image config"       # the classic store's image id is its config's digest
        return "the attestation (provenance)"

    def _title(self, layer_id: str) -> str:
        """The instruction that made a layer row: by its id, else by its position among the report's layers."""
        title = self._titles.get(layer_id[:12], "")
        if title or self.report is None or self._image is None:
            return title
        steps = self._image.fs_layers
        positions = [index for index, item in enumerate(self.report.layers) if item.id == layer_id]
        if positions and len(steps) == len(self.report.layers):
            return steps[positions[0]].instruction
        return ""

    def _ordered(self, ids) -> list[str]:
        """Row ids bottom layer first once the report is in (the stream's order before), other blobs last."""
        ids = list(ids)
        if self.report is None:
            return ids
        rank = {item.id: position for position, item in enumerate(self.report.layers)}
        return sorted(ids, key=lambda layer_id: rank.get(layer_id, len(rank)))

    def _note(self, layer_id: str) -> str:
        return " · ".join(part for part in (self._role(layer_id), self._title(layer_id)) if part)

    def _others(self, report: PushReport) -> list[tuple[str, str, PushPhase, int]]:
        """The finished rows that are not the image's layers: (id, what it is, phase, the stream's bytes)."""
        layer_ids = {item.id for item in report.layers}
        rows = []
        for layer_id, state in self._layers.items():
            role = self._role(layer_id)
            if layer_id in layer_ids or not role or not state.phase.done:
                continue
            sent = max(state.total, state.current) if state.phase is PushPhase.PUSHED else 0
            rows.append((layer_id, role, state.phase, sent))
        return rows

    def _row(self, layer_id: str) -> _LayerRow:
        row = self._rows.get(layer_id)
        if row is None:
            row = _LayerRow(layer_id, self._titles.get(layer_id[:12], ""))  # the title until the report
            self._rows[layer_id] = row
            self._bars.children = tuple(item.box for item in self._rows.values())
        return row

    def _draw_layer(self, layer_id: str) -> None:
        state = self._layers[layer_id]
        phase, current, total = state.phase, state.current, state.total
        row = self._row(layer_id)
        self.renders += 1
        if phase.done:
            row.bar.max, row.bar.value = 1, 1
        else:
            row.bar.max = max(total, current, 1)   # the engine's total can undercount a tiny layer's tar
            row.bar.value = current
        row.bar.style.bar_color = _BAR_COLOUR.get(phase, COLOURS["empty"])
        set_classes(row.bar, _BAR_CLASSES, (f"lab-push-bar--{phase.value}",))
        note = self._note(layer_id) if self.report is not None else row.title
        row.label.value = (f'<code style="{MONO}">{esc(layer_id)}</code> '
                           f'<span class="lab-push-phase" data-phase="{phase.value}">'
                           f'{esc(self._phase_words(layer_id))}</span>'
                           + (f' <span style="color:{COLOURS["muted"]}">{esc(note)}</span>' if note else ""))

    def _phase_words(self, layer_id: str) -> str:
        state = self._layers[layer_id]
        phase, current, total = state.phase, state.current, state.total
        words = _PHASE_TEXT[phase]
        if phase is PushPhase.PUSHING and total >= current and total:
            words += f" {human_bytes(current)} / {human_bytes(total)}"
        elif phase is PushPhase.PUSHING and current:
            words += f" {human_bytes(current)}"
        elif phase is PushPhase.MOUNTED and state.source:
            words += f" from {state.source}"
        elif phase is PushPhase.PUSHED and self.report is not None:
            sent = next((item.bytes for item in self.report.layers if item.id == layer_id), None)
            if sent:
                words += f" ({human_bytes(sent)} compressed)"
            elif sent is None and self._role(layer_id) and max(total, current):
                words += f" ({human_bytes(max(total, current))})"   # the stream's count: exact on containerd
        return words

    def _render(self, _change: object = None) -> None:
        status = self.status
        self._header.value = (f'<b>docker push</b> <code style="{MONO}">{esc(self.reference)}</code> '
                              f'<span class="lab-push-status" data-status="{status}">{status}</span>')
        if self.error is not None:
            self._summary.value = error_html(self.error)
        elif self.report is not None:
            self._summary.value = self._summary_html(self.report)
            for layer_id in self._rows:
                self._draw_layer(layer_id)
            self._bars.children = tuple(self._rows[layer_id].box for layer_id in self._ordered(self._rows))
        else:
            self._summary.value = ""
        head = (self._header, self._start_button) if status == "ready" else (self._header,)
        self.children = (*head, self._bars, self._summary, self.messages)

    def _summary_html(self, report: PushReport) -> str:
        return (f'<div class="lab-push-done" style="border-left:4px solid {COLOURS["passed"]};'
                f'padding:4px 8px">{esc(self._summary_text(report))} in {report.seconds:.1f} s<br>'
                f'digest <code style="{MONO}">{esc(report.digest)}</code></div>')

    def _summary_text(self, report: PushReport) -> str:
        """Bytes sent, the rows' sum: the image's layers (of its total, and those skipped) and any other blob
        the stream named (the attestation). No timing, so the text twin is stable."""
        counts = {name: sum(1 for item in report.layers if item.outcome == name)
                  for name in ("pushed", "exists", "mounted")}
        total = report.bytes_uploaded + report.bytes_skipped
        skipped = counts["exists"] + counts["mounted"]
        plural = "s" if counts["pushed"] != 1 else ""
        layers = (f"({counts['pushed']} layer{plural} uploaded, {skipped} skipped: "
                  f"{counts['exists']} already there, {counts['mounted']} mounted)")
        with self._lock:
            others = self._others(report)
        if not others:
            return f"sent {human_bytes(report.bytes_uploaded)} of the image's {human_bytes(total)} {layers}"
        sent_others = sum(size for _, _, phase, size in others if phase is PushPhase.PUSHED)
        text = (f"sent {human_bytes(report.bytes_uploaded + sent_others)}: "
                f"{human_bytes(report.bytes_uploaded)} of the image's {human_bytes(total)} {layers}")
        pushed = [role for _, role, phase, _ in others if phase is PushPhase.PUSHED]
        if pushed and sent_others:
            text += f" and {human_bytes(sent_others)} for {' and '.join(_unique(pushed))}"
        elif pushed:      # a small blob can go up in one request, with no progress line to count its bytes
            text += f" and {' and '.join(_unique(pushed))}, whose size the engine did not report"
        for layer_id, role, phase, _ in others:
            if phase is not PushPhase.PUSHED:
                text += f"; {role}: {self._phase_words(layer_id)}"
        return text

    def text(self) -> str:
        """The push's state as lines: status, each layer's phase, then the summary or the error."""
        lines = [f"PushMonitor {self.reference}: {self.status}"]
        with self._lock:
            for layer_id in self._ordered(self._layers):
                note = self._note(layer_id)
                note = f" — {note}" if note else ""
                lines.append(f"  {layer_id:12}  {self._phase_words(layer_id)}{note}")
        if self.error is not None:
            lines.extend("  " + line for line in error_text(self.error).splitlines())
        elif self.report is not None:
            lines.append("  " + self._summary_text(self.report))
            lines.append(f"  digest {self.report.digest}")
        elif self.status == "ready":
            lines.append("  not started: click Push or call .start()")
        return "\n".join(lines)


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _layer_titles(image: ImageView | ImageDiff | None) -> dict[str, str]:
    """Short ids (diff id and, when known, blob digest prefixes) → the instruction that made the layer."""
    if image is None:
        return {}
    titles: dict[str, str] = {}
    if isinstance(image, ImageDiff):
        for item in image.layers:
            if item.blob is not None:
                titles[short_digest(item.blob.digest)] = item.layer.instruction
        image = image.image
    for layer in image.fs_layers:
        titles.setdefault(layer.short_id, layer.instruction)
    return titles

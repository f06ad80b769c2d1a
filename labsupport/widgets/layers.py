"""LayerStack: an image's layers as a stack of bars, coloured by where each stands against a registry.

Bars are sized by bytes (log scale when sizes span orders of magnitude), labelled with the instruction that
made the layer and its short digest; the footer says how many bytes a push would send.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import ipywidgets as widgets
import traitlets

from ..cards import COLOURS, MONO, esc, human_bytes
from ..model import ImageDiff, ImageView, Layer, LayerDiff, LayerState
from .common import TextRepr, html_widget

#: Sizes whose largest over smallest exceeds this ratio get a log scale, else a linear one.
LOG_SCALE_RATIO = 100.0
_LABELS = {
    LayerState.THERE: "already there",
    LayerState.UPLOAD: "upload",
    LayerState.MOUNTABLE: "mountable",
}


@dataclass(frozen=True)
class LayerRow:
    """One step as the stack shows it: the layer, its state (None for an empty step) and the bar's width."""

    layer: Layer
    state: LayerState | None
    width: float                  # percent of the widest bar, 0 for an empty step
    source: str | None = None     # the repository a MOUNTABLE layer would be mounted from
    upload_bytes: int = 0

    @property
    def label(self) -> str:
        """The state as words, with the source repository of a mountable layer."""
        if self.state is None:
            return "empty step"
        if self.state is LayerState.MOUNTABLE and self.source:
            return f"mountable from {self.source}"
        return _LABELS[self.state]


def diff_from_view(image: ImageView) -> ImageDiff:
    """An ImageDiff for an image compared with nothing: every filesystem layer counts as an upload."""
    items = tuple(LayerDiff(layer, LayerState.UPLOAD, upload_bytes=layer.size) for layer in image.fs_layers)
    return ImageDiff(image=image, repository="", layers=items)


def choose_scale(sizes: list[int]) -> str:
    """"log" when the non-zero sizes span more than LOG_SCALE_RATIO, else "linear"."""
    nonzero = [size for size in sizes if size > 0]
    if len(nonzero) < 2:
        return "linear"
    return "log" if max(nonzero) / min(nonzero) > LOG_SCALE_RATIO else "linear"


def bar_width(size: int, largest: int, scale: str) -> float:
    """A bar's width in percent of the widest; at least 2 so even a tiny layer stays visible."""
    if size <= 0 or largest <= 0:
        return 2.0 if size > 0 else 0.0
    if scale == "log":
        share = math.log10(size + 1) / math.log10(largest + 1)
    else:
        share = size / largest
    return round(max(2.0, min(100.0, 100.0 * share)), 1)


def stack_rows(diff: ImageDiff) -> tuple[list[LayerRow], str]:
    """Every step of the image bottom to top, filesystem layers paired in order with the diff's states."""
    states = iter(diff.layers)
    sizes = [item.layer.size for item in diff.layers]
    scale = choose_scale(sizes)
    largest = max(sizes, default=0)
    rows = []
    for layer in diff.image.layers:
        if layer.empty:
            rows.append(LayerRow(layer, None, 0.0))
            continue
        item = next(states, None)
        if item is None:   # a diff built from fewer layers than the image: show the step as unknown upload
            item = LayerDiff(layer, LayerState.UPLOAD, upload_bytes=layer.size)
        rows.append(LayerRow(item.layer, item.state, bar_width(item.layer.size, largest, scale),
                             item.source, item.upload_bytes))
    return rows, scale


class LayerStack(TextRepr, widgets.VBox):
    """An image's steps as bars, bottom to top, coloured there / upload / mountable, with the push total."""

    diff = traitlets.Union([traitlets.Instance(ImageDiff), traitlets.Instance(ImageView)], allow_none=True)
    show_empty = traitlets.Bool(True)     # False: empty steps are summarised in one line instead of drawn

    def __init__(self, diff: ImageDiff | ImageView, *, show_empty: bool = True, name: str = "",
                 **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.name = name  # the reference the learner asked about; else the image's first tag
        self.add_class("lab-widget")
        self.add_class("lab-layerstack")
        self._title = html_widget("", "lab-layerstack-title")
        self._stack = html_widget("", "lab-layerstack-stack")
        self._footer = html_widget("", "lab-layerstack-footer")
        self.children = (self._title, self._stack, self._footer)
        self.observe(self._render, names=["diff", "show_empty"])
        self.show_empty = show_empty
        self.diff = diff

    @traitlets.validate("diff")
    def _accept_view(self, proposal: dict) -> ImageDiff:
        value = proposal["value"]
        return diff_from_view(value) if isinstance(value, ImageView) else value

    @property
    def compared(self) -> bool:
        """Whether the layers were compared with a registry repository (else all count as uploads)."""
        return bool(self.diff.repository)

    @property
    def rows(self) -> list[LayerRow]:
        """The steps bottom to top, as drawn."""
        return stack_rows(self.diff)[0]

    @property
    def scale(self) -> str:
        """"log" or "linear": how bar widths relate to sizes."""
        return stack_rows(self.diff)[1]

    def _render(self, _change: object = None) -> None:
        if getattr(self, "_stack", None) is None or self.diff is None:
            return
        rows, scale = stack_rows(self.diff)
        self._title.value = self._title_html()
        drawn = [row for row in rows if row.state is not None or self.show_empty]
        hidden = len(rows) - len(drawn)
        body = "".join(self._row_html(index, row) for index, row in enumerate(drawn))
        note = (f'<div class="lab-layer-hidden" style="color:{COLOURS["muted"]};font-size:90%">'
                f'{hidden} empty step{"s" if hidden != 1 else ""} (ENV, CMD, …) hidden: they add no layer'
                f'</div>'
                if hidden else "")
        # column-reverse: the DOM lists the base first, the eye sees it at the bottom like a real stack
        self._stack.value = (f'<div class="lab-layers" data-scale="{scale}" '
                             f'style="display:flex;flex-direction:column-reverse;gap:2px">{body}</div>{note}')
        self._footer.value = self._footer_html(scale)

    def _shown_name(self) -> str:
        image = self.diff.image
        return self.name or (image.tags[0] if image.tags else image.image_id.split(":", 1)[-1][:12])

    def _title_html(self) -> str:
        image = self.diff.image
        name = self._shown_name()
        against = (f" against <code>{esc(self.diff.repository)}</code>" if self.compared
                   else " (not compared with a registry)")
        return (f'<b>{esc(name)}</b>: {len(image.fs_layers)} layers, {len(image.layers)} steps'
                f'{against}')

    @staticmethod
    def _row_html(index: int, row: LayerRow) -> str:
        layer = row.layer
        instruction = esc(layer.instruction or "(unknown instruction)")
        if row.state is None:
            return (f'<div class="lab-step lab-step--empty" title="{instruction}" '
                    f'style="font-size:80%;color:{COLOURS["empty"]};border-left:3px solid {COLOURS["empty"]};'
                    f'padding-left:6px;{MONO}white-space:nowrap;overflow:hidden">{instruction}</div>')
        colour = COLOURS[row.state.value]
        return (f'<div class="lab-layer lab-layer--{row.state.value}" data-index="{index}" '
                f'data-digest="{esc(layer.diff_id)}" data-size="{layer.size}" data-state="{row.state.value}" '
                f'style="display:flex;align-items:center;gap:8px">'
                f'<div class="lab-layer-bar" style="flex:0 0 40%"><div style="width:{row.width}%;height:18px;'
                f'background:{colour};border-radius:2px"></div></div>'
                f'<div class="lab-layer-label" style="flex:1;white-space:nowrap;overflow:hidden;'
                f'text-overflow:ellipsis"><code style="{MONO}">{esc(layer.short_id)}</code> '
                f'{human_bytes(layer.size)} · <span class="lab-layer-state" style="color:{colour}">'
                f'{esc(row.label)}</span> · <span style="{MONO}">{instruction}</span></div></div>')

    def _footer_html(self, scale: str) -> str:
        diff = self.diff
        legend = " ".join(
            f'<span class="lab-legend-item lab-legend-item--{state.value}" style="margin-right:12px">'
            f'<span style="display:inline-block;width:10px;height:10px;background:{COLOURS[state.value]};'
            f'margin-right:4px"></span>{_LABELS[state]}: {diff.count(state)}</span>'
            for state in LayerState)
        scale_note = "bar length: log scale of bytes" if scale == "log" else "bar length: bytes"
        return (f'<div class="lab-legend" style="font-size:90%">{legend}'
                f'<span style="color:{COLOURS["muted"]}">{scale_note}</span></div>'
                f'<div class="lab-push-total">A push would send about '
                f'<b>{human_bytes(diff.upload_bytes)}</b> '
                f'({diff.count(LayerState.UPLOAD)} of {len(diff.layers)} layers; '
                f'sizes as docker history reports them; a push sends compressed tars, usually far smaller).</div>')

    def text(self) -> str:
        """The stack top first, as `docker history` lists it, and the push total."""
        diff = self.diff
        if diff is None:
            return "LayerStack (no image)"
        image = diff.image
        name = self._shown_name()
        against = f"against {diff.repository}" if self.compared else "not compared with a registry"
        lines = [f"LayerStack {name}: {len(image.fs_layers)} layers, {len(image.layers)} steps ({against})"]
        rows = self.rows
        for row in reversed(rows):
            if row.state is None:
                if self.show_empty:
                    lines.append(f"  {'':12}  {'-':>9}  empty step        {row.layer.instruction}")
                continue
            lines.append(f"  {row.layer.short_id:12}  {human_bytes(row.layer.size):>9}  "
                         f"{row.label:<16}  {row.layer.instruction}")
        hidden = sum(1 for row in rows if row.state is None) if not self.show_empty else 0
        if hidden:
            lines.append(f"  ({hidden} empty steps hidden)")
        counts = ", ".join(f"{diff.count(state)} {_LABELS[state]}" for state in LayerState)
        lines.append(f"  top first; {counts}; a push would send about {human_bytes(diff.upload_bytes)} "
                     "(sizes as docker history reports them: a push sends compressed tars, usually far smaller)")
        return "\n".join(lines)

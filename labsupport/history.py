"""Pure: an image's history steps as Dockerfile lines, and which steps made the layers of its rootfs.

The engine's history API lists every step (newest first) with its CreatedBy text and the bytes it added, but
not whether it made a layer; the image config's `empty_layer` flags say that. engine.py reads both and pairs
the steps that made layers, bottom up, with the config's diff ids.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .model import Layer

_METADATA = {"ARG", "CMD", "ENTRYPOINT", "ENV", "EXPOSE", "HEALTHCHECK", "LABEL", "MAINTAINER", "ONBUILD",
             "SHELL", "STOPSIGNAL", "USER", "VOLUME"}
_ARGS_PREFIX = re.compile(r"^\|(\d+)\s+")
_SHELL = "/bin/sh -c "
_NOP = "#(nop)"


def clean_instruction(created_by: str) -> str:
    """A history step's CreatedBy as its Dockerfile line: no `/bin/sh -c #(nop)`, `|N ARG=…`, `# buildkit`."""
    text = (created_by or "").strip()
    if text.endswith("# buildkit"):
        text = text[: -len("# buildkit")].rstrip()
    keyword = "RUN " if text.startswith("RUN ") else ""
    text = text[len(keyword):]
    args = _ARGS_PREFIX.match(text)
    if args:  # RUN with build args: "|2 A=1 B=2 /bin/sh -c …"
        text = re.sub(rf"^(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+){{0,{int(args[1])}}}", "", text[args.end():])
    if text.startswith(_SHELL):
        text = text[len(_SHELL):].lstrip()
        if text.startswith(_NOP):
            return text[len(_NOP):].strip()
        return "RUN " + text
    if keyword or not text:
        return keyword + text
    first = text.split(" ", 1)[0]
    return text if first.isupper() else "RUN " + text  # exec-form RUN, as the classic builder records it


def _instruction(step: Mapping[str, Any]) -> str:
    return clean_instruction(str(step.get("CreatedBy", "")))


def _keyword(instruction: str) -> str:
    return instruction.split(" ", 1)[0].upper()


def empty_flags(steps: Sequence[Mapping[str, Any]], layer_count: int) -> list[bool] | None:
    """Which history steps (bottom up) made no layer, judged from sizes and instructions; None if unsure.

    A step with bytes made a layer; a metadata instruction (ENV, CMD…) never does; a zero-byte RUN, COPY, ADD
    or WORKDIR may or may not (an empty file or a directory has no bytes but is a layer). That is decided when
    the count of layers leaves one answer, else the caller reads the image config's `empty_layer` flags.
    """
    sure, maybe = [], []
    for index, step in enumerate(steps):
        if int(step.get("Size") or 0) > 0:
            sure.append(index)
        elif _keyword(_instruction(step)) not in _METADATA:
            maybe.append(index)
    if len(sure) == layer_count:
        layered = set(sure)
    elif len(sure) + len(maybe) == layer_count:
        layered = set(sure) | set(maybe)
    else:
        return None
    return [index not in layered for index in range(len(steps))]


def pair_layers(steps: Sequence[Mapping[str, Any]], diff_ids: Sequence[str],
                empty: Sequence[bool] | None) -> tuple[Layer, ...]:
    """History steps (bottom up) paired in order with the diff ids; one Layer per diff id if they disagree."""
    if empty is not None and len(empty) == len(steps) and empty.count(False) == len(diff_ids):
        remaining = iter(diff_ids)
        return tuple(
            Layer("", 0, _instruction(step), empty=True) if is_empty else
            Layer(next(remaining), int(step.get("Size") or 0), _instruction(step))
            for step, is_empty in zip(steps, empty))
    return tuple(Layer(diff_id, 0, "(no history for this layer)") for diff_id in diff_ids)

"""Shared pieces of the widgets: a plain-text repr mixin, byte formatting, HTML helpers, safe callbacks.

Every widget here is an ipywidgets box whose text twin (`text()`) says what it shows, so a notebook run under
nbval, in a terminal or in a front end without widgets still reads well.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from ..cards import error_text


def short_digest(digest: str, length: int = 12) -> str:
    """The first hex characters of a `sha256:<hex>` digest (or of a bare id); "" for an empty one."""
    return digest.split(":", 1)[-1][:length] if digest else ""


def html_widget(value: str = "", *classes: str) -> widgets.HTML:
    """An HTML widget carrying stable CSS classes for browser tests."""
    widget = widgets.HTML(value=value)
    for name in classes:
        widget.add_class(name)
    return widget


def button(description: str, *classes: str, style: str = "", tooltip: str = "") -> widgets.Button:
    """A Button with stable CSS classes and an optional ipywidgets button_style."""
    widget = widgets.Button(description=description, button_style=style, tooltip=tooltip or description)
    for name in classes:
        widget.add_class(name)
    return widget


def set_classes(widget: widgets.DOMWidget, keep: tuple[str, ...], extra: tuple[str, ...]) -> None:
    """Set a widget's CSS classes to `keep` + `extra` in one assignment (one message to the front end)."""
    wanted = tuple(dict.fromkeys(keep + extra))
    if tuple(widget._dom_classes) != wanted:
        widget._dom_classes = wanted


def guarded(log: widgets.Output, action: Callable[[], Any]) -> Callable[[Any], None]:
    """A click handler that runs `action` and prints any error into `log` instead of breaking the view."""
    def handler(_button: Any = None) -> None:
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - a callback must never crash the widget
            log.append_stdout(error_text(exc) + "\n")
    return handler


class TextRepr:
    """Mixin: `__repr__`, `_repr_pretty_` and the mimebundle's text/plain all say what the widget shows."""

    def text(self) -> str:
        """The widget's content as plain text; subclasses describe their own state."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return self.text()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text() if not cycle else f"{type(self).__name__}(...)")

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """Keep the widget view (when there is one) and put the full text twin in text/plain."""
        parent = getattr(super(), "_repr_mimebundle_", None)
        bundle = parent(**kwargs) if callable(parent) else None
        bundle = dict(bundle) if bundle else {}
        bundle["text/plain"] = self.text()
        return bundle

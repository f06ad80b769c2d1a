"""RegistryBrowser: walk a registry from repositories to tags to one manifest and its layers.

All I/O goes through an injected `source` with `catalog()`, `tags(repo)` and `manifest(repo, ref)` (the real
one is labsupport.registry.RegistryClient); any error it raises is shown as a message, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import ipywidgets as widgets
import traitlets

from ..model import Blob
from .common import (
    COLOURS,
    MONO,
    TextRepr,
    button,
    error_html,
    error_text,
    esc,
    guarded,
    html_widget,
    human_bytes,
    set_classes,
)


class RegistrySource(Protocol):
    """What the browser reads: the repository list, a repository's tags and one manifest."""

    def catalog(self) -> Sequence[str]: ...

    def tags(self, repository: str) -> Sequence[str]: ...

    def manifest(self, repository: str, reference: str) -> Any: ...


def platform_text(platform: Any) -> str:
    """One platform of an index as os/architecture[/variant], from a string, a mapping or an object."""
    if isinstance(platform, str):
        return platform
    get: Callable[[str], Any]
    if isinstance(platform, dict):
        get = platform.get
    else:
        def get(name: str) -> Any:
            return getattr(platform, name, None)
    parts = [get("os"), get("architecture"), get("variant")]
    text = "/".join(str(part) for part in parts if part)
    return text or str(platform)


class RegistryBrowser(TextRepr, widgets.VBox):
    """Repositories → tags → manifest (media type, digest, size) → layers, with a refresh button."""

    repositories = traitlets.List(traitlets.Unicode())
    repository = traitlets.Unicode(None, allow_none=True)
    tags = traitlets.List(traitlets.Unicode())
    tag = traitlets.Unicode(None, allow_none=True)
    manifest = traitlets.Any(None)
    error = traitlets.Instance(BaseException, allow_none=True)

    def __init__(self, source: RegistrySource, *, autoload: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_class("lab-widget")
        self.add_class("lab-registry-browser")
        self.source = source
        self.loaded = False
        self.messages = widgets.Output()
        self.refresh_button = button("Refresh", "lab-registry-refresh", tooltip="read the registry again")
        self.refresh_button.on_click(guarded(self.messages, self.refresh))
        self._title = html_widget("", "lab-registry-title")
        self._head = widgets.HBox([self._title, self.refresh_button])
        self._repo_box = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap"))
        self._repo_box.add_class("lab-registry-repos")
        self._tag_box = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap"))
        self._tag_box.add_class("lab-registry-tags")
        self._manifest = html_widget("", "lab-registry-manifest")
        self._error = html_widget("", "lab-registry-error")
        self.repo_buttons: dict[str, widgets.Button] = {}
        self.tag_buttons: dict[str, widgets.Button] = {}
        self.observe(self._render, names=["repositories", "repository", "tags", "tag", "manifest", "error"])
        self._render()
        if autoload:
            self.refresh()

    def _call(self, read: Callable[[], Any]) -> tuple[bool, Any]:
        """Run one read of the source; on error keep it for display and report failure."""
        try:
            value = read()
        except Exception as exc:  # noqa: BLE001 - every source error becomes a message in the view
            self.error = exc
            return False, None
        self.error = None
        return True, value

    def refresh(self) -> None:
        """Read the catalog again and, when still there, the selected repository and tag."""
        ok, repositories = self._call(self.source.catalog)
        self.loaded = True
        if not ok:
            return
        self.repositories = sorted(str(name) for name in repositories or ())
        if self.repository in self.repositories:
            self.select_repository(self.repository, keep_tag=True)
        else:
            self.repository, self.tags, self.tag, self.manifest = None, [], None, None

    def select_repository(self, repository: str, *, keep_tag: bool = False) -> None:
        """Show a repository's tags (and forget the chosen tag unless it still exists)."""
        previous_tag = self.tag if keep_tag else None
        self.repository = repository
        ok, tags = self._call(lambda: self.source.tags(repository))
        if not ok:
            self.tags, self.tag, self.manifest = [], None, None
            return
        self.tags = sorted(str(name) for name in tags or ())
        if previous_tag in self.tags:
            self.select_tag(previous_tag)
        else:
            self.tag, self.manifest = None, None

    def select_tag(self, tag: str) -> None:
        """Read and show the manifest the tag points to."""
        if self.repository is None:
            return
        self.tag = tag
        repository = self.repository
        ok, manifest = self._call(lambda: self.source.manifest(repository, tag))
        self.manifest = manifest if ok else None

    def _sync_buttons(self, names: Sequence[str], cache: dict[str, widgets.Button], css: str,
                      selected: str | None, action: Callable[[str], None]) -> tuple[widgets.Button, ...]:
        """Buttons for `names`, reusing existing ones, the selected one highlighted."""
        for name in list(cache):
            if name not in names:
                del cache[name]
        for name in names:
            if name not in cache:
                item = button(name, css)
                item.on_click(guarded(self.messages, lambda name=name: action(name)))
                cache[name] = item
            item = cache[name]
            item.button_style = "primary" if name == selected else ""
            set_classes(item, (css,), (f"{css}--selected",) if name == selected else ())
        return tuple(cache[name] for name in names)

    def _render(self, _change: object = None) -> None:
        self._title.value = (f"<b>Registry</b>: {len(self.repositories)} "
                             f"repositor{'y' if len(self.repositories) == 1 else 'ies'}"
                             + ("" if self.loaded else " (not read yet: click Refresh)"))
        self._repo_box.children = self._sync_buttons(self.repositories, self.repo_buttons, "lab-repo",
                                                     self.repository, self.select_repository)
        self._tag_box.children = self._sync_buttons(self.tags, self.tag_buttons, "lab-tag", self.tag,
                                                    self.select_tag)
        self._error.value = error_html(self.error) if self.error is not None else ""
        self._manifest.value = self._manifest_html() if self.manifest is not None else ""
        children: list[widgets.Widget] = [self._head, self._repo_box]
        if self.repository is not None:
            children.append(self._tag_box)
        if self.manifest is not None:
            children.append(self._manifest)
        children.extend([self._error, self.messages])
        self.children = tuple(children)

    def _manifest_html(self) -> str:
        manifest = self.manifest
        rows = "".join(f"<tr><th style='text-align:left;padding-right:8px'>{esc(key)}</th>"
                       f"<td style='{MONO}'>{esc(value)}</td></tr>" for key, value in self._facts(manifest))
        parts = [f'<div><b>{esc(self.repository)}:{esc(self.tag)}</b></div><table>{rows}</table>']
        if getattr(manifest, "is_index", False):
            platforms = "".join(f'<li class="lab-registry-platform">{esc(platform_text(p))}</li>'
                                for p in getattr(manifest, "platforms", ()) or ())
            parts.append(f"<div>an image index over these platforms:</div><ul>{platforms}</ul>")
        else:
            layers = list(getattr(manifest, "layers", ()) or ())
            items = "".join(self._layer_html(index, blob) for index, blob in enumerate(layers, 1))
            total = sum(blob.size for blob in layers)
            parts.append(f'<div>{len(layers)} layers, {human_bytes(total)} compressed (base first):</div>'
                         f'<ol class="lab-registry-layers" style="{MONO}">{items}</ol>')
        return "".join(parts)

    @staticmethod
    def _layer_html(index: int, blob: Blob) -> str:
        return (f'<li class="lab-registry-layer" data-digest="{esc(blob.digest)}">{esc(blob.digest)} '
                f'<span style="color:{COLOURS["muted"]}">{human_bytes(blob.size)}'
                f'{" · " + esc(blob.media_type) if blob.media_type else ""}</span></li>')

    @staticmethod
    def _facts(manifest: Any) -> list[tuple[str, str]]:
        """The manifest's media type, digest, size and config, as label/value pairs."""
        raw = getattr(manifest, "raw", b"") or b""
        facts = [("media type", getattr(manifest, "media_type", "") or "?"),
                 ("digest", getattr(manifest, "digest", "") or "?"),
                 ("manifest size", f"{len(raw)} bytes")]
        config = getattr(manifest, "config", None)
        if config is not None and not getattr(manifest, "is_index", False):
            facts.append(("config", f"{config.digest} ({human_bytes(config.size)})"))
        return facts

    def text(self) -> str:
        """What the browser shows: repositories, the selected repository's tags, the manifest, any error."""
        if not self.loaded:
            return "RegistryBrowser: not read yet (call .refresh())"
        lines = [f"RegistryBrowser: {len(self.repositories)} repositories"]
        lines.extend(f"  {'>' if name == self.repository else ' '} {name}" for name in self.repositories)
        if self.repository is not None:
            lines.append(f"  tags of {self.repository}: " + (", ".join(self.tags) or "(none)"))
        if self.manifest is not None:
            lines.append(f"  {self.repository}:{self.tag}")
            lines.extend(f"    {key}: {value}" for key, value in self._facts(self.manifest))
            if getattr(self.manifest, "is_index", False):
                platforms = getattr(self.manifest, "platforms", ()) or ()
                lines.append("    platforms: " + ", ".join(platform_text(p) for p in platforms))
            else:
                for blob in getattr(self.manifest, "layers", ()) or ():
                    lines.append(f"    layer {blob.digest}  {human_bytes(blob.size)}")
        if self.error is not None:
            lines.extend("  " + line for line in error_text(self.error).splitlines())
        return "\n".join(lines)

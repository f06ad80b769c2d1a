"""RegistryBrowser: walk a registry from repositories to tags to one manifest and its layers.

All I/O goes through an injected `source` with `catalog()`, `tags(repo)` and `manifest(repo, ref)` (the real
one is labsupport.registry.RegistryClient); any error it raises is shown as a message, never a traceback.

A tag that names an image index (what BuildKit pushes on the containerd image store: the image plus a
provenance attestation) shows one button per entry: each platform's image opens its manifest with its config
and layers; an attestation entry says what it is, "attestation (provenance) of <the image's digest>", and
opens the attestation manifest, whose blob is the in-toto statement.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import ipywidgets as widgets
import traitlets

from ..cards import COLOURS, MONO, error_html, error_text, esc, human_bytes
from ..model import Blob
from .common import TextRepr, button, guarded, html_widget, set_classes


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


#: The annotations BuildKit gives an attestation entry of an index (and its blobs' predicate type).
_REFERENCE_TYPE = "vnd.docker.reference.type"
_REFERENCE_DIGEST = "vnd.docker.reference.digest"
_PREDICATE_TYPE = "in-toto.io/predicate-type"
_PREDICATES = (("slsa.dev/provenance", "provenance"), ("spdx", "SBOM"), ("cyclonedx", "SBOM"))


def index_entries(manifest: Any) -> list[dict[str, Any]]:
    """An index's entries as the registry lists them (dicts with digest, platform, annotations); [] else."""
    document = getattr(manifest, "document", None) or {}
    return [entry for entry in document.get("manifests") or [] if isinstance(entry, dict)]


def is_attestation_entry(entry: dict[str, Any]) -> bool:
    """BuildKit marks an attestation entry by annotation and gives it the platform unknown/unknown."""
    annotations = entry.get("annotations") or {}
    return annotations.get(_REFERENCE_TYPE) == "attestation-manifest" or (
        platform_text(entry.get("platform") or {}) == "unknown/unknown")


def attestation_kinds(manifest: Any) -> list[str]:
    """What an attestation manifest attests, from its blobs' in-toto predicate types: provenance, SBOM."""
    kinds = []
    for item in (getattr(manifest, "document", None) or {}).get("layers") or []:
        predicate = str(((item or {}).get("annotations") or {}).get(_PREDICATE_TYPE, ""))
        kind = next((name for needle, name in _PREDICATES if needle in predicate), predicate or None)
        if kind and kind not in kinds:
            kinds.append(kind)
    return kinds


class RegistryBrowser(TextRepr, widgets.VBox):
    """Repositories → tags → manifest (media type, digest, size) → layers, with a refresh button; for an
    image index, its entries (a platform's image, an attestation) → that entry's manifest and layers."""

    repositories = traitlets.List(traitlets.Unicode())
    repository = traitlets.Unicode(None, allow_none=True)
    tags = traitlets.List(traitlets.Unicode())
    tag = traitlets.Unicode(None, allow_none=True)
    manifest = traitlets.Any(None)
    entry = traitlets.Unicode(None, allow_none=True)     # the digest of the index entry shown
    entry_manifest = traitlets.Any(None)                  # that entry's manifest
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
        self._entry_box = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap"))
        self._entry_box.add_class("lab-registry-entries")
        self._entry = html_widget("", "lab-registry-entry-manifest")
        self._error = html_widget("", "lab-registry-error")
        self.repo_buttons: dict[str, widgets.Button] = {}
        self.tag_buttons: dict[str, widgets.Button] = {}
        self.entry_buttons: dict[str, widgets.Button] = {}     # by the entry's digest
        self._entry_labels: dict[str, str] = {}
        self.observe(self._render, names=["repositories", "repository", "tags", "tag", "manifest", "entry",
                                          "entry_manifest", "error"])
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
            self.repository, self.tags, self.tag = None, [], None
            self._set_manifest(None)

    def select_repository(self, repository: str, *, keep_tag: bool = False) -> None:
        """Show a repository's tags (and forget the chosen tag unless it still exists)."""
        previous_tag = self.tag if keep_tag else None
        self.repository = repository
        ok, tags = self._call(lambda: self.source.tags(repository))
        if not ok:
            self.tags, self.tag = [], None
            self._set_manifest(None)
            return
        self.tags = sorted(str(name) for name in tags or ())
        if previous_tag in self.tags:
            self.select_tag(previous_tag, keep_entry=keep_tag)
        else:
            self.tag = None
            self._set_manifest(None)

    def select_tag(self, tag: str, *, keep_entry: bool = False) -> None:
        """Read and show the manifest the tag points to; for an index, its entries to pick from."""
        if self.repository is None:
            return
        previous_entry = self.entry if keep_entry else None
        self.tag = tag
        repository = self.repository
        ok, manifest = self._call(lambda: self.source.manifest(repository, tag))
        self._set_manifest(manifest if ok else None)
        if ok and previous_entry in self._entry_labels:
            self.select_entry(previous_entry)

    def select_entry(self, digest: str) -> None:
        """Open one entry of the index shown: a platform's image (config, layers) or an attestation."""
        if self.repository is None or digest not in self._entry_labels:
            return
        repository = self.repository
        self.entry = digest
        ok, manifest = self._call(lambda: self.source.manifest(repository, digest))
        self.entry_manifest = manifest if ok else None

    def _set_manifest(self, manifest: Any) -> None:
        """Show a tag's manifest; for an index, label its entries (reading what each attestation attests)."""
        self.entry, self.entry_manifest = None, None
        labels: dict[str, str] = {}
        for item in index_entries(manifest) if getattr(manifest, "is_index", False) else []:
            digest = str(item.get("digest", ""))
            if digest:
                labels[digest] = self._entry_label(item)
        self._entry_labels = labels
        self.manifest = manifest

    def _entry_label(self, item: dict[str, Any]) -> str:
        if not is_attestation_entry(item):
            return platform_text(item.get("platform") or {}) or "unknown platform"
        of = str((item.get("annotations") or {}).get(_REFERENCE_DIGEST, "")) or "?"
        kinds: list[str] = []
        if self.repository is not None:
            try:
                kinds = attestation_kinds(self.source.manifest(self.repository, str(item["digest"])))
            except Exception:  # noqa: BLE001 - the label just says less; opening the entry shows the error
                kinds = []
        return f"attestation ({', '.join(kinds) or 'of unknown kind'}) of {of}"

    def _sync_buttons(self, names: Sequence[str], cache: dict[str, widgets.Button], css: str,
                      selected: str | None, action: Callable[[str], None]) -> tuple[widgets.Button, ...]:
        """Buttons for `names`, reusing existing ones, the selected one highlighted."""
        for name in list(cache):
            if name not in names:
                del cache[name]
        for name in names:
            if name not in cache:
                item = button(name, css)
                item.on_click(guarded(self.messages, functools.partial(action, name)))
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
        self._entry_box.children = self._entry_buttons()
        self._entry.value = self._entry_html() if self.entry_manifest is not None else ""
        children: list[widgets.Widget] = [self._head, self._repo_box]
        if self.repository is not None:
            children.append(self._tag_box)
        if self.manifest is not None:
            children.append(self._manifest)
            if self._entry_labels:
                children.append(self._entry_box)
        if self.entry_manifest is not None:
            children.append(self._entry)
        children.extend([self._error, self.messages])
        self.children = tuple(children)

    def _entry_buttons(self) -> tuple[widgets.Button, ...]:
        """One button per index entry (cached by digest), the open one highlighted."""
        for digest in list(self.entry_buttons):
            if digest not in self._entry_labels:
                del self.entry_buttons[digest]
        for digest, label in self._entry_labels.items():
            css = "lab-registry-attestation" if label.startswith("attestation") else "lab-registry-platform"
            item = self.entry_buttons.get(digest)
            if item is None or item.description != _button_text(label):
                item = button(_button_text(label), "lab-registry-entry", css, tooltip=f"{label}: {digest}")
                item.layout = widgets.Layout(width="auto")     # "attestation (provenance) of …" in full
                item.on_click(guarded(self.messages, functools.partial(self.select_entry, digest)))
                self.entry_buttons[digest] = item
            selected = digest == self.entry
            item.button_style = "primary" if selected else ""
            set_classes(item, ("lab-registry-entry", css),
                        ("lab-registry-entry--selected",) if selected else ())
        return tuple(self.entry_buttons[digest] for digest in self._entry_labels)

    def _manifest_html(self) -> str:
        manifest = self.manifest
        rows = self._rows_html(self._facts(manifest))
        parts = [f'<div><b>{esc(self.repository)}:{esc(self.tag)}</b></div><table>{rows}</table>']
        if getattr(manifest, "is_index", False):
            entries = "".join(
                f'<li class="lab-registry-index-entry" data-digest="{esc(digest)}">{esc(label)} '
                f'<span style="color:{COLOURS["muted"]};{MONO}">{esc(digest)}</span></li>'
                for digest, label in self._entry_labels.items())
            if not entries:   # a manifest object without its document: the platforms it knows
                entries = "".join(f'<li class="lab-registry-index-entry">{esc(platform_text(p))}</li>'
                                  for p in getattr(manifest, "platforms", ()) or ())
            parts.append("<div>an image index: it names one manifest per entry, and has no layers of its own. "
                         f"Open an entry below to see its layers.</div><ul>{entries}</ul>")
        else:
            parts.append(self._layers_html(manifest))
        return "".join(parts)

    def _entry_html(self) -> str:
        manifest, digest = self.entry_manifest, self.entry or ""
        label = self._entry_labels.get(digest, digest)
        rows = self._rows_html(self._facts(manifest))
        head = (f'<div><b>{esc(label)}</b> in {esc(self.repository)}:{esc(self.tag)}</div>'
                f"<table>{rows}</table>")
        if label.startswith("attestation"):
            blobs = list(getattr(manifest, "layers", ()) or ())
            items = "".join(self._layer_html(index, blob) for index, blob in enumerate(blobs, 1))
            return (head + f"<div>{len(blobs)} blob{'s' if len(blobs) != 1 else ''}: the in-toto statement"
                    f"{'s' if len(blobs) != 1 else ''} BuildKit wrote about the build (no filesystem "
                    f'layer)</div><ol class="lab-registry-layers" style="{MONO}">{items}</ol>')
        return head + self._layers_html(manifest)

    def _layers_html(self, manifest: Any) -> str:
        layers = list(getattr(manifest, "layers", ()) or ())
        items = "".join(self._layer_html(index, blob) for index, blob in enumerate(layers, 1))
        total = sum(blob.size for blob in layers)
        return (f'<div>{len(layers)} layers, {human_bytes(total)} compressed (base first):</div>'
                f'<ol class="lab-registry-layers" style="{MONO}">{items}</ol>')

    @staticmethod
    def _rows_html(facts: list[tuple[str, str]]) -> str:
        return "".join(f"<tr><th style='text-align:left;padding-right:8px'>{esc(key)}</th>"
                       f"<td style='{MONO}'>{esc(value)}</td></tr>" for key, value in facts)

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
        if getattr(manifest, "has_config", False):
            config = manifest.config
            facts.append(("config", f"{config.digest} ({human_bytes(config.size)})"))
        return facts

    def text(self) -> str:
        """What the browser shows: repositories, the selected repository's tags, the manifest (an index's
        entries), the entry opened, any error."""
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
                lines.append("    an image index; its entries (open one with .select_entry(digest)):")
                lines.extend(f"    {'>' if digest == self.entry else ' '} {label}  {digest}"
                             for digest, label in self._entry_labels.items())
            else:
                lines.extend(self._layer_lines(self.manifest, "    "))
        if self.entry_manifest is not None:
            label = self._entry_labels.get(self.entry or "", self.entry or "")
            lines.append(f"  {label}: {self.entry}")
            lines.extend(f"    {key}: {value}" for key, value in self._facts(self.entry_manifest))
            lines.extend(self._layer_lines(self.entry_manifest, "    ",
                                           "blob" if label.startswith("attestation") else "layer"))
        if self.error is not None:
            lines.extend("  " + line for line in error_text(self.error).splitlines())
        return "\n".join(lines)

    @staticmethod
    def _layer_lines(manifest: Any, indent: str, word: str = "layer") -> list[str]:
        return [f"{indent}{word} {blob.digest}  {human_bytes(blob.size)}"
                + (f"  {blob.media_type}" if word != "layer" and blob.media_type else "")
                for blob in getattr(manifest, "layers", ()) or ()]


def _button_text(label: str) -> str:
    """A button's text: a platform as is, an attestation with the digest it is about shortened."""
    if " of sha256:" in label:
        head, _, digest = label.rpartition(" of sha256:")
        return f"{head} of sha256:{digest[:12]}…"
    return label

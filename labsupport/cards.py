"""Pure: the HTML and text a learner reads for a check result or a lab error, with the course's colours.

Both a CheckResult shown on its own (its `_repr_html_`) and the widgets (CheckButton, error boxes) render
through here, so a result looks the same wherever it appears and the checks need no widget to show one.
"""

from __future__ import annotations

import html
from typing import Any

from .errors import LabError

#: One colour per meaning, reused by every widget so the course reads consistently.
COLOURS = {
    "there": "#2e7d32",      # green: already in the repository
    "upload": "#ef6c00",     # orange: a push sends it
    "mountable": "#1565c0",  # blue: another repository holds it, a push mounts it
    "empty": "#bdbdbd",      # grey: a step that made no layer
    "passed": "#2e7d32",
    "failed": "#c62828",
    "muted": "#616161",
}
MONO = "font-family:var(--jp-code-font-family, monospace);"


def esc(value: object) -> str:
    """HTML-escape any value's text, quotes included, for safe embedding in an HTML widget."""
    return html.escape(str(value), quote=True)


def human_bytes(size: int) -> str:
    """Bytes in decimal units as docker prints them: 812 B, 1.2 kB, 4.5 MB."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def error_text(exc: BaseException) -> str:
    """A learner-facing line for an error: a LabError's message and fix, else its type and message."""
    if isinstance(exc, LabError):
        return exc.message if not exc.fix else f"{exc.message}\nfix: {exc.fix}"
    return f"unexpected {type(exc).__name__}: {exc}"


def error_html(exc: BaseException) -> str:
    """An error box (class `lab-error`) with the message and, for a LabError, the fix as a command."""
    if isinstance(exc, LabError):
        message, fix = exc.message, exc.fix
    else:
        message, fix = f"unexpected {type(exc).__name__}: {exc}", None
    fix_html = (f'<div class="lab-error-fix">fix: <code style="{MONO}">{esc(fix)}</code></div>'
                if fix else "")
    return (f'<div class="lab-error" style="border-left:4px solid {COLOURS["failed"]};'
            f'padding:4px 8px;background:#fdecea;white-space:pre-wrap">'
            f'<div class="lab-error-message">{esc(message)}</div>{fix_html}</div>')


def result_card_html(result: Any) -> str:
    """A card for a check result: green when passed; red with what is wrong and the fixing command."""
    passed = bool(result.passed)
    state = "passed" if passed else "failed"
    colour = COLOURS[state]
    background = "#e8f5e9" if passed else "#ffebee"
    exercise = esc(getattr(result, "exercise", ""))
    code = getattr(result, "code", "") or ""
    heading = (f'<b>{exercise}</b>: passed &#10003;' if passed else
               f'<b>{exercise}</b>: not yet &#10007; <span class="lab-check-code" '
               f'style="color:{COLOURS["muted"]}">({esc(code)})</span>')
    body = f'<div class="lab-check-message">{esc(getattr(result, "message", ""))}</div>'
    hint = getattr(result, "hint", "") or ""
    if hint and not passed:
        body += (f'<div>try:</div><pre class="lab-check-hint" style="{MONO}background:#fff;margin:2px 0;'
                 f'padding:4px 8px;border:1px solid #ddd;border-radius:3px;white-space:pre-wrap">'
                 f'{esc(hint)}</pre>')
    return (f'<div class="lab-check lab-check--{state}" data-exercise="{exercise}" '
            f'style="border-left:6px solid {colour};background:{background};padding:6px 12px;'
            f'margin:4px 0;border-radius:4px"><div class="lab-check-title">{heading}</div>{body}</div>')


def result_card_text(result: Any) -> str:
    """The plain-text twin of the card."""
    if result.passed:
        return f"{result.exercise}: passed. {result.message}"
    text = f"{result.exercise}: not yet ({result.code}). {result.message}"
    return text + (f"\n  try: {result.hint}" if getattr(result, "hint", "") else "")

"""ipywidgets views over the course's model objects: layers, pushes, myths, predictions, the registry, checks.

Widgets render what they are given and never call Docker or the registry themselves: I/O arrives through
injected callables (`runner`, `prover`, `record`) or a data source. Each has a plain-text repr saying what it
shows, and stable `lab-*` CSS classes for browser tests.
"""

from __future__ import annotations

from .browser import RegistryBrowser, RegistrySource
from .checkbutton import CheckButton
from .coursemap import CourseMap
from .layers import LayerStack, diff_from_view
from .myth import MythCard
from .predict import Predict
from .push import PushMonitor

__all__ = [
    "CheckButton",
    "CourseMap",
    "LayerStack",
    "MythCard",
    "Predict",
    "PushMonitor",
    "RegistryBrowser",
    "RegistrySource",
    "diff_from_view",
]

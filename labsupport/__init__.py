"""labsupport: checked exercises, widgets and the lab itself for the registry-push course.

The notebooks import everything from here (`from labsupport import check, show_layers, push`). The names are
loaded on first use, so `labsupport` on a command line does not pay for ipywidgets or the docker SDK.
"""

from __future__ import annotations

import importlib
import types
from typing import Any

__version__ = "0.1.0"

#: Public name → the module that defines it.
_EXPORTS: dict[str, str] = {
    # the lab and its parts
    "lab_config": "notebook", "engine": "notebook", "registry": "notebook", "doctor": "notebook",
    "catch_up": "notebook", "build_hello": "notebook", "reset": "notebook", "app_dir": "lessons.catch_up",
    # exercises and progress
    "check": "notebook", "CheckButton": "notebook", "CourseMap": "notebook", "Predict": "notebook",
    "MythCard": "notebook", "answer": "notebook", "LabProblem": "notebook",
    # images and the registry
    "show_layers": "notebook", "push": "notebook", "RegistryBrowser": "notebook",
    # what lessons look at more closely: the engine, references, the client's login, secrets, an index by hand
    "engine_kind": "notebook", "local_index": "notebook", "buildkit_available": "doctor",
    "parse": "refs", "MANIFEST_V2": "registry", "lab_credential": "lab",
    "load_credential": "dockerconfig", "stored_registries": "dockerconfig",
    "PLANTED_SECRET": "secrets", "scan_config": "secrets", "scan_image": "secrets",
    "assemble_index": "lessons.production", "push_by_hand": "lessons.handmade", "pack_files": "lessons.handmade",
    "pick_files": "lessons.handmade", "image_config": "lessons.handmade", "manifest_document": "lessons.handmade",
    # types a notebook may want to name
    "LabConfig": "config", "LabError": "errors", "CheckResult": "checks",
}

__all__ = [
    "MANIFEST_V2",
    "PLANTED_SECRET",
    "CheckButton",
    "CheckResult",
    "CourseMap",
    "LabConfig",
    "LabError",
    "LabProblem",
    "MythCard",
    "Predict",
    "RegistryBrowser",
    "__version__",
    "answer",
    "app_dir",
    "assemble_index",
    "build_hello",
    "buildkit_available",
    "catch_up",
    "check",
    "doctor",
    "engine",
    "engine_kind",
    "image_config",
    "lab_config",
    "lab_credential",
    "load_credential",
    "local_index",
    "manifest_document",
    "pack_files",
    "parse",
    "pick_files",
    "push",
    "push_by_hand",
    "registry",
    "reset",
    "scan_config",
    "scan_image",
    "show_layers",
    "stored_registries",
]


def __getattr__(name: str) -> Any:
    """Import the module that defines a public name on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'labsupport' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    _unshadow()
    return value


def _unshadow() -> None:
    """Put the public names back over submodules of the same name (`engine`, `registry`, `doctor`).

    Importing `labsupport.doctor` binds the attribute `labsupport.doctor` to that module, which would hide the
    notebook's `doctor()` from `from labsupport import doctor`; the public name is what a lesson means.
    """
    hidden = [public for public in _EXPORTS if isinstance(globals().get(public), types.ModuleType)]
    while hidden:  # loading a public name's home may import (and so bind) more submodules
        for public in hidden:
            globals()[public] = getattr(importlib.import_module(f".{_EXPORTS[public]}", __name__), public)
        hidden = [public for public in _EXPORTS if isinstance(globals().get(public), types.ModuleType)]


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))

"""Every labsupport module imports where POSIX-only facilities do not exist (Windows): a test hides them from
labsupport's own imports (third-party and standard modules keep theirs: on Windows they have their own paths)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import labsupport

POSIX_ONLY = ("fcntl", "pwd", "grp", "termios", "resource", "pty", "posix", "tty")

PROBE = r'''
import builtins, importlib, os, pkgutil, sys

HIDDEN = set(os.environ["HIDDEN"].split(","))
real_import = builtins.__import__


def hiding_import(name, globals=None, locals=None, fromlist=(), level=0):
    # an import written in labsupport's code of a hidden module fails, as it would where the module does not
    # exist; found even when another module has imported it already (sys.modules), unlike a meta path finder
    importer = (globals or {}).get("__name__", "")
    if level == 0 and name.split(".")[0] in HIDDEN and importer.split(".")[0] == "labsupport":
        raise ImportError(f"No module named {name!r} (hidden: POSIX only)", name=name)
    return real_import(name, globals, locals, fromlist, level)


builtins.__import__ = hiding_import
import labsupport
failed = []
names = sorted(m.name for m in pkgutil.walk_packages(labsupport.__path__, "labsupport.")
               if not m.name.endswith("__main__"))
for name in names:
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed.append(f"{name}: {type(exc).__name__}: {exc}")
print(f"imported {len(names) - len(failed)} of {len(names)}")
print("\n".join(failed))
sys.exit(1 if failed else 0)
'''


def probe(hidden: tuple[str, ...]) -> subprocess.CompletedProcess:
    root = Path(labsupport.__file__).resolve().parent.parent
    return subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=root, timeout=300,
                          check=False, env={"PYTHONPATH": str(root), "PATH": "", "HIDDEN": ",".join(hidden)})


def test_every_module_imports_without_posix_only_facilities():
    done = probe(POSIX_ONLY)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("imported ") and int(done.stdout.split()[1]) > 50


def test_the_probe_sees_a_hidden_module_that_labsupport_imports():
    done = probe(("json",))  # imported at the top of many labsupport modules, and by others before them
    assert done.returncode == 1
    assert "labsupport.config: ImportError: No module named 'json' (hidden: POSIX only)" in done.stdout

"""Browser harness: a private JupyterLab on a free 127.0.0.1 port, driven by Debian's Chromium via Playwright.

Per session: one JupyterLab with its own config, runtime and settings folders (news and update checks off, so
no toast covers the page), rooted in a temporary folder where tests write the notebooks they open. Per test: a
fresh page. Without Chromium or Playwright the tests skip, except under LAB_REQUIRE_BROWSER=1 (CI), where they
fail. Screenshots land in test-artifacts/ at the repository root. `lab_jupyterlab` is a JupyterLab of its own
whose kernels reach the shared test lab (LAB_* variables, a logged-in DOCKER_CONFIG).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from labsupport.jupyter import stop_process
from tests.conftest import free_port, lab_env

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
REQUIRE_BROWSER = os.environ.get("LAB_REQUIRE_BROWSER") == "1"
CHROMIUM = os.environ.get("LAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
KERNEL_IDLE = "Python 3 (ipykernel) | Idle"
#: JupyterLab's notification settings: no news, no update check, so no toast with its own buttons appears.
QUIET_NOTIFICATIONS = {"fetchNews": "false", "checkForUpdates": False}
#: Notebook settings: render every cell, so cells scrolled out of view are still in the DOM for the tests.
ALL_CELLS_IN_DOM = {"windowingMode": "none"}


def _missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not Path(CHROMIUM).is_file():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"Playwright for Python is not installed: {exc}"
    return None


def _unavailable(reason: str) -> None:
    if REQUIRE_BROWSER:
        pytest.fail(f"{reason} (LAB_REQUIRE_BROWSER=1)")
    pytest.skip(reason)



@dataclass(frozen=True)
class JupyterLab:
    """A running JupyterLab: where it listens, its token, and the folder it serves notebooks from."""

    url: str
    token: str
    root: Path
    log: Path

    def notebook_url(self, name: str) -> str:
        return f"{self.url}/lab/tree/{name}?token={self.token}"


def _settings_dirs(base: Path) -> dict[str, str]:
    """Private Jupyter config/runtime/settings/workspace folders, with the quiet notification settings."""
    dirs = {name: base / name for name in ("config", "runtime", "settings", "workspaces")}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    notification = (dirs["settings"] / "@jupyterlab" / "apputils-extension"
                    / "notification.jupyterlab-settings")
    notification.parent.mkdir(parents=True, exist_ok=True)
    notification.write_text(json.dumps(QUIET_NOTIFICATIONS))
    tracker = dirs["settings"] / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True, exist_ok=True)
    tracker.write_text(json.dumps(ALL_CELLS_IN_DOM))
    return {
        "JUPYTER_CONFIG_DIR": str(dirs["config"]),
        "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
        "JUPYTERLAB_SETTINGS_DIR": str(dirs["settings"]),
        "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"]),
    }


def _wait_until_up(lab: JupyterLab, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {process.returncode}:\n{lab.log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{lab.url}/api/status", params={"token": lab.token}, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"JupyterLab did not answer within {timeout} s:\n{lab.log.read_text()[-3000:]}")


@contextmanager
def running_jupyterlab(base: Path, extra_env: Mapping[str, str] | None = None,
                       log_name: str = "jupyterlab.log") -> Iterator[JupyterLab]:
    """Start JupyterLab in `base` (its kernels inherit `extra_env`), stop it on exit, keep its log."""
    root = base / "notebooks"
    root.mkdir(parents=True)
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, **_settings_dirs(base), **(extra_env or {}), "PYTHONPATH": os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={token}",
        "--ServerApp.allow_root=True",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
        "--LabApp.expose_app_in_browser=True",
    ]
    lab = JupyterLab(f"http://127.0.0.1:{port}", token, root, base / "jupyterlab.log")
    with lab.log.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root,
                                   start_new_session=True)
    try:
        _wait_until_up(lab, process)
        yield lab
    finally:
        stop_process(process)
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copyfile(lab.log, ARTIFACTS / log_name)


@pytest.fixture(scope="session")
def jupyterlab(tmp_path_factory) -> Iterator[JupyterLab]:
    """A JupyterLab server for this session, stopped (with its kernels) at the end."""
    reason = _missing_browser()
    if reason:
        _unavailable(reason)
    with running_jupyterlab(tmp_path_factory.mktemp("jupyterlab")) as lab:
        yield lab


@pytest.fixture
def lab_jupyterlab(lab, docker_config_dir, tmp_path) -> Iterator[JupyterLab]:
    """A JupyterLab whose kernels use the shared test lab: its LAB_* variables and a logged-in DOCKER_CONFIG.

    Its own server, because the logged-in Docker config lives only as long as one test.
    """
    reason = _missing_browser()
    if reason:
        _unavailable(reason)
    env = {**lab_env(lab.config), "DOCKER_CONFIG": str(docker_config_dir)}
    with running_jupyterlab(tmp_path / "jupyterlab", env, log_name="jupyterlab-lab.log") as server:
        yield server


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    """Headless Chromium (Debian's, never a downloaded one) under Playwright."""
    reason = _missing_browser()
    if reason:
        _unavailable(reason)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium, request) -> Iterator[object]:
    """A fresh page; on failure a screenshot named after the test is kept in test-artifacts/."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        yield page
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"FAILED-{request.node.name}.png"), full_page=True)
        context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so the page fixture knows whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report

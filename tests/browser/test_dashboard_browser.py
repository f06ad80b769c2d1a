"""The instructor's dashboard in a real browser (Debian's Chromium under Playwright): the grid updates live,
without a reload, when a learner pushes to the workshop registry and when their check result arrives."""

from __future__ import annotations

import uuid

import httpx
import pytest

from bench.bench_workshop import push_as, running_workshop
from labsupport.workshop.join import CLIENT_ID
from tests.browser.conftest import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.docker]
RUN = uuid.uuid4().hex[:6]


@pytest.fixture(scope="module")
def ws(docker_client, tmp_path_factory):
    with running_workshop(tmp_path_factory.mktemp("hw-dash") / "class", 3, f"hW-dash-{RUN}", docker_client) as it:
        yield it


@pytest.fixture
def dashboard(chromium, ws, request):
    """A page on the dashboard, logged in as the instructor (HTTP Basic); a screenshot is kept either way."""
    context = chromium.new_context(viewport={"width": 1400, "height": 700}, http_credentials={
        "username": ws.settings.instructor, "password": ws.instructor_password})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(ws.settings.dashboard_url)
    try:
        yield page
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"dashboard-{request.node.name}.png"), full_page=True)
        context.close()


def test_the_grid_updates_when_a_learner_pushes_and_checks(dashboard, ws, lab_config, tmp_path, docker_client):
    from playwright.sync_api import expect

    page = dashboard
    cell = page.locator('td[data-learner="learner-02"][data-exercise="push.pushed"]')
    pushes = page.locator('tr[data-learner="learner-02"] td[data-count="push"]')
    expect(page.locator("tr[data-learner]")).to_have_count(3)
    expect(cell).to_have_attribute("data-state", "")
    expect(pushes).to_have_text("0")
    page.evaluate("window.__notReloaded = true")

    push_as(ws.settings.registry, "learner-02", ws.passwords["learner-02"], tmp_path, lab_config.base_image)

    expect(cell).to_have_attribute("data-state", "pushed")
    expect(cell).to_have_text("•")
    expect(pushes).to_have_text("1")
    expect(page.locator('td[data-learner="learner-01"][data-exercise="push.pushed"]')).to_have_attribute(
        "data-state", "")

    with httpx.Client(trust_env=False, timeout=10) as http:
        token = http.post(ws.settings.realm, data={"grant_type": "password", "username": "learner-02",
                                                   "password": ws.passwords["learner-02"],
                                                   "service": ws.settings.service, "client_id": CLIENT_ID}
                          ).json()["access_token"]
        sent = http.post(f"{ws.settings.dashboard_url}/api/results", headers={"Authorization": f"Bearer {token}"},
                         json={"results": [{"exercise": "push.pushed", "passed": True, "code": "ok"}]})
        assert sent.json() == {"accepted": 1}
    expect(cell).to_have_attribute("data-state", "passed")
    expect(cell).to_have_text("✓")
    assert page.evaluate("window.__notReloaded") is True                 # updated in place, not reloaded

"""The token server and dashboard running together on loopback (no registry): the dashboard's doors, the live
stream, and the learner's side: join, LabConfig picking the workshop up, results reported by an attempt."""

from __future__ import annotations

import base64
import json
import threading
import time
from types import SimpleNamespace

import httpx
import pytest

from labsupport.attempts import attempt
from labsupport.config import LabConfig
from labsupport.dockerconfig import Credential, load_credential
from labsupport.errors import LabError, Unauthorized
from labsupport.workshop.create import init_workshop
from labsupport.workshop.grades import grades_csv
from labsupport.workshop.handout import read_credentials
from labsupport.workshop.join import join, leave, report_results
from labsupport.workshop.services import Services
from labsupport.workshop.settings import WorkshopSettings
from labsupport.workshop.web import JsonHandler
from tests.conftest import free_port

MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    """A workshop of three learners whose services run in this process on free loopback ports."""
    ports = set()
    while len(ports) < 3:
        ports.add(free_port())
    registry, token, dashboard = sorted(ports)
    out = tmp_path_factory.mktemp("svc") / "ws"
    report = init_workshop(out, ["ada", "bob", "cy"], settings=WorkshopSettings(
        name="unitsvc", registry_port=registry, token_port=token, dashboard_port=dashboard))
    passwords = dict(read_credentials(report.layout.credentials.read_text()))
    passwords["instructor"] = (out / "handout" / "instructor.txt").read_text().split("password: ")[1].strip()
    services = Services(out).start()
    yield SimpleNamespace(services=services, settings=report.settings, passwords=passwords, root=out,
                          url=report.settings.dashboard_url)
    services.stop()


def http() -> httpx.Client:
    return httpx.Client(timeout=10, trust_env=False)


def token_for(running, user: str) -> str:
    with http() as client:
        answer = client.post(running.settings.realm, data={"grant_type": "password", "username": user,
                                                           "password": running.passwords[user],
                                                           "service": running.settings.service})
    assert answer.status_code == 200
    return answer.json()["access_token"]


def post_event(running, actor: str, repository: str, tag: str) -> httpx.Response:
    envelope = {"events": [{"id": "e1", "timestamp": "2025-05-01T10:00:00Z", "action": "push",
                            "actor": {"name": actor}, "request": {"addr": "127.0.0.1", "useragent": "docker"},
                            "target": {"repository": repository, "tag": tag, "mediaType": MANIFEST,
                                       "digest": "sha256:" + "b" * 64}}]}
    with http() as client:
        return client.post(f"{running.url}/events", json=envelope,
                           headers={"Content-Type": "application/vnd.docker.distribution.events.v1+json"})


def test_public_endpoints(running):
    with http() as client:
        info = client.get(f"{running.url}/api/info").json()
        assert info["registry"] == running.settings.registry and info["realm"] == running.settings.realm
        assert client.get(f"{running.url}/healthz").json() == {"ok": True}
        assert client.get(f"{running.url}/ca.crt").text.startswith("-----BEGIN CERTIFICATE-----")


def test_the_page_and_grid_are_the_instructors(running):
    with http() as client:
        for auth in (None, ("ada", running.passwords["ada"]), ("instructor", "wrong")):
            answer = client.get(f"{running.url}/", auth=auth)
            assert answer.status_code == 401 and "Basic realm" in answer.headers["www-authenticate"]
            assert client.get(f"{running.url}/api/grid", auth=auth).status_code == 401
        teacher = ("instructor", running.passwords["instructor"])
        page = client.get(f"{running.url}/", auth=teacher)
        assert page.status_code == 200 and "unitsvc: class dashboard" in page.text and "EventSource" in page.text
        grid = client.get(f"{running.url}/api/grid", auth=teacher).json()
        assert [learner["name"] for learner in grid["learners"]] == ["ada", "bob", "cy"]


def test_events_fill_the_grid_and_are_stored(running):
    assert post_event(running, "bob", "bob/hello-lab", "1.0").json() == {"applied": 1}
    with http() as client:
        grid = client.get(f"{running.url}/api/grid", auth=("instructor", running.passwords["instructor"])).json()
    bob = next(learner for learner in grid["learners"] if learner["name"] == "bob")
    assert bob["cells"]["push.pushed"]["state"] == "pushed" and bob["activity"]["push"] == 1
    stored = (running.root / "state" / "events.jsonl").read_text()
    assert "bob/hello-lab" in stored and "useragent" not in stored
    with http() as client:
        assert client.post(f"{running.url}/events", content=b"{not json").status_code == 400
    header, *rows = [line.split(",") for line in grades_csv(running.root).splitlines()]
    graded = dict(zip(header, next(row for row in rows if row[0] == "bob")))
    assert (graded["push.pushed"], graded["pushes"]) == ("0", "1")     # seen pushed, but no check passed yet


def test_events_only_from_loopback():
    assert JsonHandler.peer_is_loopback(SimpleNamespace(client_address=("127.0.0.1", 1)))
    assert not JsonHandler.peer_is_loopback(SimpleNamespace(client_address=("10.0.0.7", 1)))


def test_results_need_a_learners_token(running):
    url = f"{running.url}/api/results"
    body = {"results": [{"exercise": "setup.registry", "passed": True, "code": "ok"}]}
    with http() as client:
        assert client.post(url, json=body).status_code == 401
        assert client.post(url, json=body, headers={"Authorization": "Bearer not.a.token"}).status_code == 401
        teacher = token_for(running, "instructor")
        assert client.post(url, json=body, headers={"Authorization": f"Bearer {teacher}"}).status_code == 401
        expired = running.services.issuer.issue("cy", [], lifetime=-300)
        assert client.post(url, json=body, headers={"Authorization": f"Bearer {expired}"}).status_code == 401
        mine = {"Authorization": f"Bearer {token_for(running, 'cy')}"}
        assert client.post(url, json={"nope": 1}, headers=mine).status_code == 400
        mixed = {"results": body["results"] + [{"exercise": "no.such", "passed": True}]}
        assert client.post(url, json=mixed, headers=mine).json() == {"accepted": 1}
    assert '"learner": "cy"' in (running.root / "state" / "results.jsonl").read_text()


def test_the_stream_sends_the_grid_on_every_change(running):
    seen: list[dict] = []
    auth = ("instructor", running.passwords["instructor"])

    def listen() -> None:
        with http() as client, client.stream("GET", f"{running.url}/api/stream", auth=auth) as stream:
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    seen.append(json.loads(line[6:]))
                if len(seen) == 2:
                    return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    deadline = time.monotonic() + 10
    while not seen and time.monotonic() < deadline:
        time.sleep(0.05)
    assert seen, "no first grid on the stream"
    post_event(running, "ada", "ada/multi", "1.0")
    listener.join(10)
    assert len(seen) == 2 and seen[1]["version"] > seen[0]["version"]
    ada = next(learner for learner in seen[1]["learners"] if learner["name"] == "ada")
    assert ada["cells"]["production.index"]["state"] == "pushed"


# -- the learner's side ----------------------------------------------------------------------------------

@pytest.fixture
def learner_env(tmp_path, monkeypatch):
    for var in ("LAB_REGISTRY", "LAB_REGISTRY_URL", "LAB_LEARNER"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path / "state"))
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "password").write_text("the-local-lab-password\n")
    return tmp_path / "state"


def test_join_stores_the_workshop_and_labconfig_uses_it(running, learner_env, monkeypatch):
    logins = []
    joined = join(running.url, "ada", running.passwords["ada"], login=lambda *a: logins.append(a))
    assert logins == [(running.settings.registry, "ada", running.passwords["ada"])]
    assert str(joined) == f"joined the workshop as ada: push to {running.settings.registry}/ada/…"
    assert (learner_env / "password").read_text().strip() == running.passwords["ada"]
    assert (learner_env / "password.before-workshop").read_text().strip() == "the-local-lab-password"
    stored = json.loads((learner_env / "workshop.json").read_text())
    assert running.passwords["ada"] not in json.dumps(stored)
    for name in ("password", "workshop.json", "workshop-refresh-token"):
        assert (learner_env / name).stat().st_mode & 0o077 == 0
    config = LabConfig.from_env()
    assert (config.registry, config.registry_url, config.learner, config.workshop) == (
        running.settings.registry, running.settings.registry_url, "ada", True)
    monkeypatch.setenv("LAB_LEARNER", "someone")                       # LAB_* variables come first
    assert LabConfig.from_env().learner == "someone"
    monkeypatch.setenv("LAB_REGISTRY", "localhost:5999")
    config = LabConfig.from_env()
    assert (config.registry, config.registry_url) == ("localhost:5999", "http://localhost:5999")
    assert config.workshop is False
    monkeypatch.delenv("LAB_REGISTRY")
    monkeypatch.delenv("LAB_LEARNER")
    assert "left the workshop" in leave()
    assert (learner_env / "password").read_text().strip() == "the-local-lab-password"
    assert not (learner_env / "workshop.json").exists() and LabConfig.from_env().workshop is False


def test_join_with_a_wrong_password_changes_nothing(running, learner_env):
    with pytest.raises(Unauthorized, match="rejected the password of 'bob'") as info:
        join(running.url, "bob", "not-it", login=lambda *a: None)
    assert "sheet" in info.value.fix and "not-it" not in str(info.value)
    assert sorted(p.name for p in learner_env.iterdir()) == ["password"]
    with pytest.raises(LabError, match="not a labsupport workshop"):
        join(f"http://127.0.0.1:{running.settings.token_port}", "bob", "x", login=lambda *a: None)
    with pytest.raises(LabError, match="no answer from the workshop"):
        join(f"http://127.0.0.1:{free_port()}", "bob", "x", login=lambda *a: None)


def test_checks_report_their_results_once_joined(running, learner_env):
    join(running.url, "cy", running.passwords["cy"], login=lambda *a: None)
    result = attempt("registries.anatomy", {"nonsense": 1})         # an answer exercise: no Docker needed
    assert not result.passed
    with http() as client:
        grid = client.get(f"{running.url}/api/grid", auth=("instructor", running.passwords["instructor"])).json()
    cy = next(learner for learner in grid["learners"] if learner["name"] == "cy")
    assert cy["cells"]["registries.anatomy"] == {"state": "failed", "attempts": 1, "code": result.code,
                                                 "time": cy["cells"]["registries.anatomy"]["time"]}
    assert report_results(LabConfig.from_env(), [{"exercise": "registries.anatomy", "passed": True,
                                                  "code": "ok"}]) == 1
    leave()
    assert report_results(LabConfig.from_env(), []) is None


def test_a_dashboard_that_is_down_only_warns(running, learner_env, tmp_path):
    join(running.url, "bob", running.passwords["bob"], login=lambda *a: None)
    record = json.loads((learner_env / "workshop.json").read_text())
    (learner_env / "workshop.json").write_text(json.dumps({**record, "dashboard": f"http://127.0.0.1:{free_port()}"}))
    with pytest.warns(UserWarning, match="not sent to the workshop dashboard"):
        attempt("registries.anatomy", {"nonsense": 1})


def test_the_docker_clients_identity_token_is_the_credential(tmp_path):
    auths = {"127.0.0.1:5500": {"auth": base64.b64encode(b"ada:").decode(), "identitytoken": "refresh-abc"},
             "127.0.0.1:5600": {"auth": base64.b64encode(b"bob:pw").decode()}}
    (tmp_path / "config.json").write_text(json.dumps({"auths": auths}))
    assert load_credential("127.0.0.1:5500", tmp_path) == Credential("ada", "refresh-abc")
    assert load_credential("127.0.0.1:5600", tmp_path) == Credential("bob", "pw")


def test_the_services_never_need_the_handout(tmp_path):
    """Remove handout/ (the only place with plain passwords): the token server still knows every learner."""
    import shutil

    ports = set()
    while len(ports) < 3:
        ports.add(free_port())
    registry, token, dashboard = sorted(ports)
    report = init_workshop(tmp_path / "ws", ["ada"], settings=WorkshopSettings(
        registry_port=registry, token_port=token, dashboard_port=dashboard))
    password = dict(read_credentials(report.layout.credentials.read_text()))["ada"]
    shutil.rmtree(report.layout.root / "handout")
    services = Services(report.layout.root).start()
    try:
        with http() as client:
            good = client.get(report.settings.realm, auth=("ada", password))
            bad = client.get(report.settings.realm, auth=("ada", password + "x"))
        assert (good.status_code, bad.status_code) == (200, 401)
    finally:
        services.stop()

"""A workshop served over TLS from its own CA (rehearsed on loopback with --tls, as tests stay on 127.0.0.1):
the registry, token server and dashboard all speak HTTPS with the generated certificate, the registry trusts the
CA for its notifications, Docker pushes through it, and `join --ca-file` is what a learner needs."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from bench.bench_workshop import push_as, running_workshop
from labsupport.attempts import attempt
from labsupport.config import LabConfig
from labsupport.dockerconfig import Credential
from labsupport.engine import Engine
from labsupport.errors import LabError
from labsupport.lessons.handmade import push_by_hand
from labsupport.registry import RegistryClient
from labsupport.workshop.handout import trust_steps
from labsupport.workshop.join import join
from labsupport.workshop.web import client_verify

pytestmark = pytest.mark.docker
RUN = uuid.uuid4().hex[:6]


@pytest.fixture(scope="module")
def ws(docker_client, tmp_path_factory):
    with running_workshop(tmp_path_factory.mktemp("hw-tls") / "class", 2, f"hW-tls-{RUN}", docker_client,
                          tls=True) as running:
        yield running


def test_every_service_speaks_https_with_the_workshop_ca(ws):
    ca = client_verify(ws.workshop.layout.ca_cert)
    s = ws.settings
    assert s.registry_url.startswith("https://") and s.realm.startswith("https://")
    answer = httpx.get(f"{s.registry_url}/v2/", verify=ca, trust_env=False)
    assert answer.status_code == 401 and f'realm="{s.realm}"' in answer.headers["www-authenticate"]
    for url in (f"{s.registry_url}/v2/", f"{s.dashboard_url}/healthz", f"https://127.0.0.1:{s.token_port}/healthz"):
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(url, trust_env=False)                       # the system's store does not know our CA
        assert httpx.get(url, verify=ca, trust_env=False).status_code in (200, 401)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{s.token_port}/healthz", trust_env=False, timeout=3)   # no plain HTTP
    assert ws.workshop.status().ready


def test_docker_pushes_and_the_dashboard_hears_it_over_tls(ws, lab_config, tmp_path, docker_client):
    """The classic store trusts a loopback registry and its token server alike. The containerd store checks the
    token server's certificate against the system's store (which CI's does not change), so there the push
    stops on it, as the handout's trust steps say, and the push the dashboard hears goes over the API."""
    s = ws.settings
    if Engine(docker_client).info().image_store == "classic":
        push_as(s.registry, "learner-01", ws.passwords["learner-01"], tmp_path, lab_config.base_image)
    else:
        with pytest.raises(RuntimeError) as refused:
            push_as(s.registry, "learner-01", ws.passwords["learner-01"], tmp_path, lab_config.base_image)
        said = str(refused.value)
        assert f"{s.realm}" in said and "x509: certificate signed by unknown authority" in said, said
        trust = trust_steps(s, "fingerprint")
        assert any("update-ca-certificates" in step for step in trust) and any("restart" in step for step in trust)
        transport = httpx.HTTPTransport(verify=client_verify(ws.workshop.layout.ca_cert))
        with RegistryClient(s.registry_url, credential=Credential("learner-01", ws.passwords["learner-01"]),
                            transport=transport) as api:
            push_by_hand(api, "learner-01/hello-lab", "1.0", {"hello.txt": b"pushed over the API\n"})
    auth = (s.instructor, ws.instructor_password)
    deadline = time.monotonic() + 15
    while True:
        grid = httpx.get(f"{s.dashboard_url}/api/grid", auth=auth, trust_env=False,
                         verify=client_verify(ws.workshop.layout.ca_cert)).json()
        cells = next(r for r in grid["learners"] if r["name"] == "learner-01")["cells"]
        if cells.get("push.pushed", {}).get("state") == "pushed" or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert cells["push.pushed"]["state"] == "pushed"


def test_join_needs_and_uses_the_ca(ws, tmp_path, monkeypatch):
    for var in ("LAB_REGISTRY", "LAB_REGISTRY_URL", "LAB_LEARNER"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path / "state"))
    url, password = ws.settings.dashboard_url, ws.passwords["learner-02"]
    with pytest.raises(LabError, match="does not trust yet") as info:
        join(url, "learner-02", password, login=lambda *a: None)
    assert "--ca-file" in info.value.fix
    join(url, "learner-02", password, login=lambda *a: None, ca_file=str(ws.workshop.layout.handout_ca))
    assert LabConfig.from_env().registry_url == ws.settings.registry_url
    attempt("registries.anatomy", {"wrong": "shape"})           # reported over HTTPS with the stored CA
    auth = (ws.settings.instructor, ws.instructor_password)
    grid = httpx.get(f"{ws.settings.dashboard_url}/api/grid", auth=auth,
                     verify=client_verify(ws.workshop.layout.ca_cert), trust_env=False).json()
    cells = next(r for r in grid["learners"] if r["name"] == "learner-02")["cells"]
    assert cells["registries.anatomy"]["state"] == "failed"


def test_up_again_changes_nothing(ws, docker_client):
    container = docker_client.containers.get(ws.settings.container)
    pid = ws.workshop.services_pid()
    said: list[str] = []
    assert ws.workshop.up(progress=said.append) == ws.settings
    assert docker_client.containers.get(ws.settings.container).id == container.id
    assert ws.workshop.services_pid() == pid is not None
    assert any("already running" in line for line in said)

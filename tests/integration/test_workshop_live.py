"""Workshop mode on the real registry (distribution 2.8 in token mode), the docker CLI and the token server.

One workshop for the module, on free loopback ports. What must hold: a learner cannot push to or pull from
another's namespace (a clear denial), an anonymous push is denied, an expired, tampered or foreign token is
refused by the registry itself, a wrong password gets nothing, the server keeps no plain password, and no
password or token reaches any log. Also: `labsupport join` makes the lab's checks work unchanged.
"""

from __future__ import annotations

import base64
import io
import json
import tarfile
import time
import uuid
from pathlib import Path

import docker.errors
import httpx
import pytest

from bench.bench_workshop import docker as docker_cli
from bench.bench_workshop import running_workshop
from labsupport.attempts import attempt
from labsupport.checks import images
from labsupport.config import LabConfig
from labsupport.dockerconfig import Credential, load_credential
from labsupport.doctor import diagnose
from labsupport.engine import Engine
from labsupport.errors import Denied, Unauthorized
from labsupport.lab import Lab
from labsupport.registry import RegistryClient
from labsupport.workshop import pki
from labsupport.workshop.join import join
from labsupport.workshop.tokens import TokenIssuer
from tests.conftest import cli_build, new_docker_config

pytestmark = pytest.mark.docker
RUN = uuid.uuid4().hex[:6]
PREFIX = f"hW-ws-{RUN}"
APP = Path(__file__).resolve().parents[2] / "notebooks" / "apps" / "hello"
OUTPUTS: list[str] = []          # everything the docker CLI printed here, searched for secrets at the end
SECRETS: set[str] = set()        # every password and token seen here
MADE: set[str] = set()           # local tags to remove at the end


@pytest.fixture(scope="module")
def ws(docker_client, tmp_path_factory):
    with running_workshop(tmp_path_factory.mktemp("hw-ws") / "class", 3, PREFIX, docker_client) as running:
        SECRETS.update(running.passwords.values(), [running.instructor_password])
        yield running
    for ref in MADE:
        try:
            docker_client.images.remove(ref, noprune=False)
        except docker.errors.APIError as exc:  # already gone (ImageNotFound is one), or in use
            print(f"could not remove {ref}: {exc}")


def cli(*args: str, config: Path | None = None, stdin: str | None = None, ok: bool = True):
    """The docker CLI; its output is kept for the log search. `ok` asserts success (False: asserts failure)."""
    done = docker_cli(*args, config=config, stdin=stdin)
    OUTPUTS.append(done.stdout + done.stderr)
    assert (done.returncode == 0) == ok, f"docker {args[0]}: rc {done.returncode}: {done.stderr.strip()}"
    return done


_CONFIGS: dict[str, Path] = {}


def logged_in(ws, user: str, tmp_path_factory) -> Path:
    """A DOCKER_CONFIG of this user's, logged in to the workshop registry (one per user for the module)."""
    if user not in _CONFIGS:
        folder = new_docker_config(tmp_path_factory.mktemp(f"hw-dc-{user}"))
        password = ws.instructor_password if user == ws.settings.instructor else ws.passwords[user]
        cli("login", ws.settings.registry, "--username", user, "--password-stdin", config=folder, stdin=password)
        entry = json.loads((folder / "config.json").read_text())["auths"][ws.settings.registry]
        SECRETS.add(entry["identitytoken"])       # docker keeps the refresh token, not the password
        _CONFIGS[user] = folder
    return _CONFIGS[user]


def denied(stderr: str) -> bool:
    """The engine's words for a push or pull the token server refused: the classic store's, or the containerd
    store's ("… server message: insufficient_scope: authorization failed")."""
    return "denied: requested access to the resource is denied" in stderr or "insufficient_scope" in stderr


def tag_base(lab_config, ref: str) -> str:
    cli("tag", lab_config.base_image, ref)
    MADE.add(ref)
    return ref


def digest_of(output: str) -> str:
    return output.split("digest: ", 1)[1].split()[0]


@pytest.fixture(scope="module")
def pushed(ws, lab_config, tmp_path_factory):
    """learner-01/app:1 pushed by learner-01 with the docker CLI; its digest."""
    ref = tag_base(lab_config, f"{ws.settings.registry}/learner-01/app:1")
    return digest_of(cli("push", ref, config=logged_in(ws, "learner-01", tmp_path_factory)).stdout)


def test_a_learner_pushes_and_pulls_in_their_namespace(ws, pushed, tmp_path_factory):
    config = logged_in(ws, "learner-01", tmp_path_factory)
    pulled = cli("pull", f"{ws.settings.registry}/learner-01/app:1", config=config)   # a tag: asks the registry
    assert pushed in pulled.stdout
    stored = json.loads((config / "config.json").read_text())["auths"][ws.settings.registry]
    assert base64.b64decode(stored["auth"]).decode() == "learner-01:"     # no password kept by docker


def test_a_learner_cannot_push_to_or_pull_from_another(ws, pushed, lab_config, tmp_path_factory, docker_client):
    other = logged_in(ws, "learner-02", tmp_path_factory)
    ref = tag_base(lab_config, f"{ws.settings.registry}/learner-01/app:from-02")
    push = cli("push", ref, config=other, ok=False)
    assert denied(push.stderr)
    pull = cli("pull", f"{ws.settings.registry}/learner-01/app:1", config=other, ok=False)
    assert "pull access denied" in pull.stderr                # learner-01/app:1 exists: `pushed` pushed it
    if Engine(docker_client).info().image_store == "classic":
        assert denied(pull.stderr)                            # the containerd store gives no reason on a pull
    password = ws.passwords["learner-02"]
    with RegistryClient(ws.settings.registry_url, credential=Credential("learner-02", password)) as api:
        with pytest.raises(Denied, match="may not list the tags of learner-01/app"):
            api.tags("learner-01/app")
        with pytest.raises(Denied):
            api.catalog()                                     # the catalog is the instructor's


def test_anonymous_push_is_denied(ws, lab_config, tmp_path):
    (tmp_path / "config.json").write_text("{}")
    ref = tag_base(lab_config, f"{ws.settings.registry}/learner-01/app:anonymous")
    push = cli("push", ref, config=tmp_path, ok=False)
    assert denied(push.stderr)   # its token grants nothing
    anonymous = RegistryClient(ws.settings.registry_url)
    with anonymous, pytest.raises(Unauthorized, match="none were given"):
        anonymous.tags("learner-01/app")


def test_a_wrong_password_gets_nothing(ws, tmp_path):
    (tmp_path / "config.json").write_text("{}")
    login = cli("login", ws.settings.registry, "--username", "learner-03", "--password-stdin", config=tmp_path,
                stdin="not-the-password", ok=False)
    assert "unauthorized" in login.stderr.lower() or "authentication" in login.stderr.lower()
    answer = httpx.get(ws.settings.realm, params={"service": ws.settings.service, "scope": "repository:x/y:pull"},
                       auth=("learner-03", "not-the-password"), trust_env=False)
    assert answer.status_code == 401 and "token" not in answer.json() and "access_token" not in answer.json()
    wrong = Credential("learner-03", "nope")
    api = RegistryClient(ws.settings.registry_url, credential=wrong)
    with api, pytest.raises(Unauthorized, match="rejected"):
        api.check_credentials()


def test_the_registry_refuses_expired_tampered_and_foreign_tokens(ws, pushed):
    layout = ws.workshop.layout
    ca = pki.KeyPair.load(layout.ca_cert, layout.ca_key)
    issuer = TokenIssuer(pki.KeyPair.load(layout.token_cert, layout.token_key), ca,
                         issuer=ws.settings.issuer, service=ws.settings.service)
    url = f"{ws.settings.registry_url}/v2/learner-01/app/tags/list"
    pull_01 = [{"type": "repository", "name": "learner-01/app", "actions": ["pull"]}]

    def status(token: str) -> int:
        SECRETS.add(token)
        return httpx.get(url, headers={"Authorization": f"Bearer {token}"}, trust_env=False).status_code

    assert status(issuer.issue("learner-01", pull_01)) == 200              # the control: a good token works
    assert status(issuer.issue("learner-01", pull_01, lifetime=-600)) == 401
    mine = issuer.issue("learner-02", [{"type": "repository", "name": "learner-02/app", "actions": ["pull"]}])
    head, body, signature = mine.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims.update(sub="learner-01", access=pull_01)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    assert status(f"{head}.{forged}.{signature}") == 401
    other_ca = pki.make_ca("intruder")
    intruder = TokenIssuer(pki.make_token_signer(other_ca, "intruder"), other_ca, issuer=ws.settings.issuer,
                           service=ws.settings.service)
    assert status(intruder.issue("learner-01", pull_01)) == 401
    wrong_audience = TokenIssuer(issuer._signer, ca, issuer=ws.settings.issuer, service="another-registry")
    assert status(wrong_audience.issue("learner-01", pull_01)) == 401


def test_the_shared_namespace_and_the_catalog(ws, lab_config, tmp_path_factory):
    teacher = logged_in(ws, ws.settings.instructor, tmp_path_factory)
    ref = tag_base(lab_config, f"{ws.settings.registry}/shared/base:1")
    digest = digest_of(cli("push", ref, config=teacher).stdout)
    learner = logged_in(ws, "learner-03", tmp_path_factory)
    assert digest in cli("pull", f"{ws.settings.registry}/shared/base:1", config=learner).stdout
    again = tag_base(lab_config, f"{ws.settings.registry}/shared/base:by-learner")
    assert denied(cli("push", again, config=learner, ok=False).stderr)
    credential = Credential(ws.settings.instructor, ws.instructor_password)
    with RegistryClient(ws.settings.registry_url, credential=credential) as api:
        assert {"shared/base", "learner-01/app"} <= set(api.catalog())


def test_the_server_keeps_no_plain_password(ws, docker_client):
    secrets = set(ws.passwords.values()) | {ws.instructor_password}
    for path in ws.root.rglob("*"):
        if path.is_file() and "handout" not in path.parts:
            text = path.read_bytes().decode(errors="replace")
            assert not any(secret in text for secret in secrets), f"a password in {path}"
    refresh_file = (ws.root / "server" / "refresh-tokens.json").read_text()
    assert not any(token in refresh_file for token in SECRETS)
    container = docker_client.containers.get(ws.settings.container)
    stream, _ = container.get_archive("/etc/workshop")
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        files = [tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()]
    inside = b"".join(files).decode(errors="replace")
    assert "rootcertbundle" in inside and not any(secret in inside for secret in secrets)
    assert not any(secret in json.dumps(container.attrs) for secret in secrets)


def test_join_makes_the_checks_work_unchanged(ws, docker_client, lab_config, tmp_path, monkeypatch):
    for var in ("LAB_REGISTRY", "LAB_REGISTRY_URL", "LAB_LEARNER"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LAB_BASE_IMAGE", lab_config.base_image)
    monkeypatch.setenv("DOCKER_CONFIG", str(new_docker_config(tmp_path / "docker")))
    monkeypatch.setattr(images, "LOCAL_NAME", f"{PREFIX.lower()}-hello-lab")
    joined = join(ws.settings.dashboard_url, "learner-03", ws.passwords["learner-03"])
    assert joined.docker_login
    config = LabConfig.from_env()
    assert (config.registry, config.learner, config.workshop) == (ws.settings.registry, "learner-03", True)
    stored = load_credential(config.registry)
    SECRETS.add(stored.secret)
    assert stored.username == "learner-03" and stored.secret != ws.passwords["learner-03"]
    assert Lab(config, client=docker_client).up() == []          # nothing started here: the registry is remote
    assert "instructor" in Lab(config, client=docker_client).down()
    status = Lab(config, client=docker_client).status()
    assert (status.container, status.ready) == ("workshop", True)
    findings = {f.name: f for f in diagnose(config)}
    assert findings["registry"].status == "ok" and "instructor" in findings["registry"].detail
    for exercise in ("setup.registry", "login.logged-in"):
        result = attempt(exercise)
        assert result.passed, str(result)
    local = images.local_ref("1.0")
    cli_build(APP, local, base=lab_config.base_image, labels={"io.labsupport.test-run": RUN})
    MADE.add(local)
    assert attempt("push.pushed").code == "not-tagged"
    target = config.ref("hello-lab", "1.0")
    cli("tag", local, target)
    MADE.add(target)
    cli("push", target)
    result = attempt("push.pushed")
    assert result.passed, str(result)
    grid = wait_for_grid(ws, lambda g: cell(g, "learner-03", "push.pushed").get("state") == "passed")
    assert cell(grid, "learner-03", "setup.registry")["state"] == "passed"


def cell(grid: dict, learner: str, exercise: str) -> dict:
    row = next(r for r in grid["learners"] if r["name"] == learner)
    return row["cells"].get(exercise, {})


def wait_for_grid(ws, ready, timeout: float = 15.0) -> dict:
    """The dashboard's grid once `ready(grid)` holds (notifications arrive a little after the push)."""
    deadline = time.monotonic() + timeout
    while True:
        auth = (ws.settings.instructor, ws.instructor_password)
        grid = httpx.get(f"{ws.settings.dashboard_url}/api/grid", auth=auth, trust_env=False).json()
        if ready(grid) or time.monotonic() > deadline:
            return grid
        time.sleep(0.3)


def test_the_dashboard_saw_the_pushes(ws, pushed):
    grid = wait_for_grid(ws, lambda g: next(r for r in g["learners"] if r["name"] == "learner-01")
                         ["activity"]["push"] >= 1)
    first = next(r for r in grid["learners"] if r["name"] == "learner-01")
    assert first["activity"]["push"] >= 1 and "learner-01/app" in first["activity"]["repositories"]
    second = next(r for r in grid["learners"] if r["name"] == "learner-02")
    assert second["activity"]["push"] == 0                         # its push was denied: no event


def test_no_password_or_token_in_any_log(ws, docker_client):
    """Last: every log of this module's run, searched for every password and token it used."""
    layout = ws.workshop.layout
    logs = {
        "services.log": layout.services_log.read_text(errors="replace"),
        "registry": docker_client.containers.get(ws.settings.container).logs().decode(errors="replace"),
        "events": layout.events.read_text(errors="replace"),
        "docker CLI": "\n".join(OUTPUTS),
    }
    assert "token for learner-01 via" in logs["services.log"] and "response completed" in logs["registry"]
    basic = {base64.b64encode(f"{user}:{pw}".encode()).decode() for user, pw in ws.passwords.items()}
    for where, text in logs.items():
        for secret in SECRETS | basic:
            assert secret not in text, f"a secret ({secret[:3]}…) in the {where} log"

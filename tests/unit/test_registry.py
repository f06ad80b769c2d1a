"""RegistryClient against httpx.MockTransport: challenges, Basic and Bearer auth, pages, manifests, errors."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Callable
from urllib.parse import parse_qs

import httpx
import pytest

from labsupport import errors
from labsupport.config import LabConfig
from labsupport.dockerconfig import Credential
from labsupport.registry import MANIFEST_V2, RegistryClient

BASE = "http://reg.test:5000"
REALM = "http://auth.test/token"
GOOD = Credential("learner", "s3cret-pw")
BAD = Credential("learner", "wrong-pw")
SECRETS = ("s3cret-pw", "wrong-pw", base64.b64encode(b"learner:s3cret-pw").decode(), "tok-")
Handler = Callable[[httpx.Request], httpx.Response]


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def fail(status: int, code: str | None = None, message: str = "it went wrong", **kw) -> httpx.Response:
    body = {"errors": [{"code": code, "message": message, "detail": None}]} if code else None
    return httpx.Response(status, json=body, **kw) if body else httpx.Response(status, **kw)


class Fake:
    """A registry behind MockTransport: routes by (method, path), optional Basic or Bearer auth, a request log."""

    def __init__(self, routes: dict[tuple[str, str], httpx.Response | Handler] | None = None,
                 auth: str | None = "basic", grant: Callable[[str | None, str], bool] | None = None,
                 token_body: Callable[[int], dict] | None = None) -> None:
        self.routes = routes or {}
        self.auth = auth
        self.grant = grant or (lambda user, scope: user == "learner")
        self.token_body = token_body or (lambda n: {"token": f"tok-{n}", "expires_in": 300})
        self.requests: list[httpx.Request] = []
        self.token_requests: list[httpx.Request] = []
        self.issued: dict[str, set[str]] = {}

    def client(self, credential: Credential | None = GOOD, **kw) -> RegistryClient:
        return RegistryClient(BASE, credential=credential, transport=httpx.MockTransport(self), **kw)

    def _user(self, request: httpx.Request) -> str | None:
        header = request.headers.get("authorization", "")
        if header.startswith("Basic "):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            return user if (user, password) == (GOOD.username, GOOD.secret) else "!rejected"
        return None

    def _token(self, request: httpx.Request) -> httpx.Response:
        self.token_requests.append(request)
        user = self._user(request)
        if user == "!rejected":
            return httpx.Response(401, json={"details": "bad password"})
        scopes = request.url.params.get_list("scope")
        body = self.token_body(len(self.token_requests))
        token = body.get("token") or body.get("access_token")
        if token:
            self.issued[token] = {scope for scope in scopes if self.grant(user, scope)}
        return httpx.Response(200, json=body)

    def _allowed(self, request: httpx.Request) -> bool | str:
        if self.auth == "basic":
            return self._user(request) == "learner"
        header = request.headers.get("authorization", "")
        granted = self.issued.get(header[7:]) if header.startswith("Bearer ") else None
        if granted is None:
            return False
        path = request.url.path
        need = "registry:catalog:*" if path == "/v2/_catalog" else None
        if path.startswith("/v2/") and path.count("/") > 3:
            name = path[4:].rsplit("/", 3)[0] if "/blobs/uploads/" in path else path[4:].rsplit("/", 2)[0]
            action = {"GET": "pull", "HEAD": "pull", "DELETE": "delete"}.get(request.method, "pull,push")
            need = f"repository:{name}:{action}"
        return need is None or need in granted or "insufficient"

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.test":
            return self._token(request)
        self.requests.append(request)
        allowed = self._allowed(request) if self.auth else True
        if allowed is not True:
            extra = ',error="insufficient_scope"' if allowed == "insufficient" else ""
            challenge = 'Basic realm="lab"' if self.auth == "basic" else \
                f'Bearer realm="{REALM}",service="reg.test"{extra}'
            return fail(401, "UNAUTHORIZED", "authentication required", headers={"WWW-Authenticate": challenge})
        route = self.routes.get((request.method, request.url.path))
        if route is None:
            return httpx.Response(200, json={}) if request.url.path == "/v2/" else fail(404)
        return route(request) if callable(route) else route


# -- ping ---------------------------------------------------------------------------------------------

def test_ping_reports_the_challenge_without_sending_credentials():
    fake = Fake()
    with fake.client() as client:
        challenge = client.ping()
    assert (challenge.status, challenge.scheme, challenge.realm) == (401, "basic", "lab")
    assert "authorization" not in fake.requests[0].headers
    with Fake(auth=None).client() as client:
        open_one = client.ping()
    assert (open_one.status, open_one.scheme, open_one.needs_auth) == (200, None, False)


# -- Basic -----------------------------------------------------------------------------------------------

def test_basic_learns_the_challenge_once_then_sends_the_credential():
    fake = Fake({("GET", "/v2/a/tags/list"): httpx.Response(200, json={"name": "a", "tags": ["1", "2"]})})
    client = fake.client()
    assert client.tags("a") == ["1", "2"] and client.tags("a") == ["1", "2"]
    assert ["authorization" in r.headers for r in fake.requests] == [False, True, True]
    assert fake.requests[1].headers["authorization"] == "Basic " + base64.b64encode(b"learner:s3cret-pw").decode()


def test_basic_without_credential_says_how_to_log_in():
    with pytest.raises(errors.Unauthorized) as info:
        Fake().client(credential=None).tags("a")
    assert "none were given" in info.value.message and "docker login reg.test:5000" in info.value.fix
    assert info.value.status == 401


def test_wrong_credential_is_rejected_and_never_shown():
    fake = Fake()
    client = fake.client(credential=BAD)
    with pytest.raises(errors.Unauthorized, match="rejected the credential of user 'learner'") as info:
        client.check_credentials()
    assert not any(secret in str(info.value) for secret in SECRETS)
    with pytest.raises(errors.Unauthorized, match="rejected"):
        client.check_credentials()
    assert len(fake.requests) == 3         # learn the challenge, send it, then once more: no pointless retry
    Fake().client().check_credentials()  # the right one passes


def test_for_lab_reads_the_docker_client_credential(tmp_path, monkeypatch):
    (tmp_path / "config.json").write_text(json.dumps({"auths": {"localhost:5999": {
        "auth": base64.b64encode(b"learner:s3cret-pw").decode()}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    config = LabConfig.from_env({"LAB_REGISTRY": "localhost:5999", "LAB_REGISTRY_URL": "http://registry:5000",
                                 "LAB_STATE_DIR": str(tmp_path / "state")})
    client = RegistryClient.for_lab(config)
    assert (client.base_url, client.registry, client.username) == ("http://registry:5000", "localhost:5999", "learner")
    assert RegistryClient.for_lab(config, credential=None).username is None


def test_no_secret_in_repr_or_logs(caplog):
    caplog.set_level(logging.DEBUG)
    fake = Fake({("GET", "/v2/_catalog"): httpx.Response(200, json={"repositories": ["a"]})}, auth="bearer")
    client = fake.client()
    client.catalog()
    shown = repr(client) + str(client) + caplog.text + repr(GOOD) + str(GOOD)
    assert "learner" in repr(client)
    assert not any(secret in shown for secret in SECRETS)


# -- Bearer ----------------------------------------------------------------------------------------------

def test_bearer_fetches_a_token_with_service_and_scope_and_basic_credential():
    fake = Fake({("GET", "/v2/a/b/tags/list"): httpx.Response(200, json={"tags": ["x"]})}, auth="bearer")
    assert fake.client().tags("a/b") == ["x"]
    (token_request,) = fake.token_requests
    assert str(token_request.url).startswith(REALM + "?")
    assert parse_qs(token_request.url.query.decode()) == {"service": ["reg.test"],
                                                          "scope": ["repository:a/b:pull"]}
    assert token_request.headers["authorization"].startswith("Basic ")
    assert fake.requests[-1].headers["authorization"] == "Bearer tok-1"


def test_bearer_sends_one_scope_parameter_per_scope():
    def challenge_two(request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization", "").startswith("Bearer "):
            return httpx.Response(201, headers={"Docker-Content-Digest": "sha256:" + "a" * 64})
        return fail(401, "UNAUTHORIZED", headers={"WWW-Authenticate": (
            f'Bearer realm="{REALM}",service="reg.test",scope="repository:a:pull,push repository:b:pull"')})

    fake = Fake({("PUT", "/v2/a/manifests/1"): challenge_two}, auth=None)
    fake.client().put_manifest("a", "1", b"{}", MANIFEST_V2)
    assert fake.token_requests[0].url.params.get_list("scope") == ["repository:a:pull,push", "repository:b:pull"]
    assert "scope=repository%3Aa%3Apull%2Cpush&scope=repository%3Ab%3Apull" in str(fake.token_requests[0].url)


def test_tokens_are_cached_per_scope_set_until_they_expire():
    now = [1000.0]
    fake = Fake({("GET", f"/v2/{name}/tags/list"): httpx.Response(200, json={"tags": ["1"]}) for name in "ab"},
                auth="bearer", token_body=lambda n: {"access_token": f"tok-{n}"})   # no expires_in: 60 s
    client = fake.client(clock=lambda: now[0])
    client.tags("a"), client.tags("a")
    assert len(fake.token_requests) == 1
    client.tags("b")                       # another scope set: another token
    assert len(fake.token_requests) == 2
    now[0] += 45                           # inside 60 s minus the margin
    client.tags("a")
    assert len(fake.token_requests) == 2
    now[0] += 10                           # past it: a fresh token before the old one lapses
    client.tags("a")
    assert len(fake.token_requests) == 3
    assert fake.requests[-1].headers["authorization"] == "Bearer tok-3"


def test_a_token_refused_by_the_registry_is_replaced_once():
    fake = Fake({("GET", "/v2/a/tags/list"): httpx.Response(200, json={"tags": ["1"]})}, auth="bearer")
    client = fake.client()
    client.tags("a")
    fake.issued.clear()                    # the registry forgot every token (restart, new key)
    assert client.tags("a") == ["1"]
    assert len(fake.token_requests) == 2


def test_bearer_wrong_password_is_unauthorized():
    fake = Fake(auth="bearer")
    with pytest.raises(errors.Unauthorized, match="rejected") as info:
        fake.client(credential=BAD).catalog()
    assert not any(secret in str(info.value) for secret in SECRETS)


def test_bearer_without_credential_gets_an_anonymous_token_then_asks_for_login():
    fake = Fake(auth="bearer")
    with pytest.raises(errors.Unauthorized, match="none were given"):
        fake.client(credential=None).tags("a")
    assert fake.token_requests and "authorization" not in fake.token_requests[0].headers


def test_bearer_insufficient_scope_is_denied():
    fake = Fake(auth="bearer", grant=lambda user, scope: scope.endswith(":pull"))
    with pytest.raises(errors.Denied, match="may not start a blob upload to a"):
        fake.client().upload_blob("a", b"data")


@pytest.mark.parametrize("body", [{}, {"token": ""}, {"expires_in": 60}])
def test_token_server_without_a_token_is_an_error(body):
    with pytest.raises(errors.RegistryError, match="answered without a token"):
        Fake(auth="bearer", token_body=lambda n: body).client().catalog()


# -- lists and pages -------------------------------------------------------------------------------------

def test_catalog_follows_link_pages_and_stays_on_our_host():
    pages = {None: (["a", "b"], '</v2/_catalog?last=b&n=2>; rel="next"'),
             "b": (["c", "d"], '<http://elsewhere.test/v2/_catalog?last=d&n=2>; rel="next"'),
             "d": (["e"], None)}

    def catalog(request: httpx.Request) -> httpx.Response:
        names, link = pages[request.url.params.get("last")]
        return httpx.Response(200, json={"repositories": names}, headers={"Link": link} if link else {})

    fake = Fake({("GET", "/v2/_catalog"): catalog}, auth=None)
    assert fake.client().catalog(page_size=2) == ["a", "b", "c", "d", "e"]
    assert fake.requests[0].url.params["n"] == "2"
    assert {r.url.host for r in fake.requests} == {"reg.test"}


def test_tags_of_an_emptied_repository_is_an_empty_list():
    fake = Fake({("GET", "/v2/a/tags/list"): httpx.Response(200, json={"name": "a", "tags": None})}, auth=None)
    assert fake.client().tags("a") == []


# -- errors ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("status, code, kind", [
    (401, "UNAUTHORIZED", errors.Unauthorized), (403, "DENIED", errors.Denied),
    (404, "NAME_UNKNOWN", errors.NameUnknown), (404, "MANIFEST_UNKNOWN", errors.ManifestUnknown),
    (404, "BLOB_UNKNOWN", errors.BlobUnknown), (400, "NAME_INVALID", errors.RegistryError),
    (400, "TAG_INVALID", errors.RegistryError), (400, "MANIFEST_INVALID", errors.ManifestInvalid),
    (400, "MANIFEST_BLOB_UNKNOWN", errors.ManifestInvalid), (400, "DIGEST_INVALID", errors.RegistryError),
    (405, "UNSUPPORTED", errors.RegistryError), (429, "TOOMANYREQUESTS", errors.RegistryError),
    (403, None, errors.Denied), (404, None, errors.RegistryError), (500, None, errors.RegistryError),
    (429, None, errors.RegistryError), (405, None, errors.RegistryError), (418, "SOMETHING_NEW", errors.RegistryError),
])
def test_error_answers_become_typed_errors(status, code, kind):
    fake = Fake({("PUT", "/v2/a/manifests/1"): fail(status, code, "registry says no")}, auth=None)
    with pytest.raises(errors.RegistryError) as info:
        fake.client().put_manifest("a", "1", b"{}", MANIFEST_V2)
    error = info.value
    assert type(error) is kind and error.status == status and error.fix is not None or status == 418
    assert error.code == (code or {403: "DENIED", 405: "UNSUPPORTED", 429: "TOOMANYREQUESTS"}.get(status))
    assert "put the manifest a:1" in error.message and (code is None or "registry says no" in error.message)


@pytest.mark.parametrize("exc", [httpx.ConnectError("[Errno 111] Connection refused"), httpx.ReadTimeout("timed out")])
def test_no_answer_is_registry_unreachable(exc):
    def refuse(request: httpx.Request) -> httpx.Response:
        raise exc

    client = RegistryClient(BASE, credential=GOOD, transport=httpx.MockTransport(refuse))
    for call in (client.ping, client.catalog, lambda: client.tags("a")):
        with pytest.raises(errors.RegistryUnreachable) as info:
            call()
        assert info.value.__cause__ is exc and "labsupport up" in info.value.fix and BASE in info.value.message


@pytest.mark.parametrize("call", [lambda c: c.tags("Upper/Case"), lambda c: c.manifest("a", "bad tag"),
                                  lambda c: c.get_blob("a", "md5:xyz"), lambda c: c.tags("../etc")])
def test_bad_names_are_refused_before_any_request(call):
    fake = Fake(auth=None)
    with pytest.raises(errors.InvalidReference):
        call(fake.client())
    assert fake.requests == []


def test_an_auth_scheme_we_do_not_speak_is_named():
    fake = Fake({("GET", "/v2/_catalog"): fail(401, headers={"WWW-Authenticate": "Negotiate"})}, auth=None)
    with pytest.raises(errors.Unauthorized, match="negotiate authentication") as info:
        fake.client().catalog()
    assert info.value.fix


def test_bad_base_url_is_a_lab_error():
    with pytest.raises(errors.RegistryError, match="not a registry base URL"):
        RegistryClient("localhost:5000")

"""The one Bearer exchange (registry/auth.py) against httpx.MockTransport: the challenge, the token request and
its answer, the token cache, the /v2/ probe, and the workshop learner's refresh-token grant."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs

import httpx
import pytest

from labsupport import errors
from labsupport.config import LabConfig
from labsupport.dockerconfig import Credential
from labsupport.registry.auth import (
    Token,
    TokenCache,
    parse_challenge,
    password_grant,
    probe,
    read_token,
    refresh_grant,
    request_token,
)
from labsupport.workshop import join

REALM = "http://auth.test/token"
GOOD = Credential("learner", "s3cret-pw")
BASIC = "Basic " + base64.b64encode(b"learner:s3cret-pw").decode()


class Recorder:
    """A MockTransport handler that answers from a function and keeps every request it saw."""

    def __init__(self, answer) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))


# -- the challenge ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("header, scheme, params", [
    ('Basic realm="lab"', "basic", {"realm": "lab"}),
    ('Bearer realm="https://a/token",service="reg",scope="repository:x/y:pull,push"', "bearer",
     {"realm": "https://a/token", "service": "reg", "scope": "repository:x/y:pull,push"}),
    ('BEARER realm=http://a/t, service=reg, error="insufficient_scope"', "bearer",
     {"realm": "http://a/t", "service": "reg", "error": "insufficient_scope"}),
    ('Bearer realm="say \\"hi\\"",scope="a b"', "bearer", {"realm": 'say "hi"', "scope": "a b"}),
    ('Negotiate abc', "negotiate", {}),
    (None, None, {}),
    ("", None, {}),
])
def test_parse_challenge(header, scheme, params):
    challenge = parse_challenge(401, header)
    assert challenge.scheme == scheme and challenge.needs_auth
    for key in ("realm", "service", "scope", "error"):
        assert getattr(challenge, key) == params.get(key)



# -- the token request and its answer --------------------------------------------------------------------

def test_the_token_spec_get_names_the_service_each_scope_and_the_credential():
    server = Recorder(lambda request: httpx.Response(200, json={"token": "t"}))
    with server.client() as http:
        request_token(http.request, REALM, service="reg", scopes=["repository:a:pull", "repository:b:push"],
                      credential=GOOD)
        request_token(http.request, REALM, service=None)
    named, anonymous = server.requests
    assert named.method == "GET" and named.url.params.get_list("scope") == ["repository:a:pull",
                                                                            "repository:b:push"]
    assert named.url.params["service"] == "reg" and named.headers["authorization"] == BASIC
    assert str(anonymous.url) == REALM and "authorization" not in anonymous.headers


def test_an_oauth2_grant_is_posted_as_a_form_with_the_service():
    server = Recorder(lambda request: httpx.Response(200, json={"access_token": "t"}))
    with server.client() as http:
        request_token(http.request, REALM, service="ws-registry", grant=password_grant("ada", "pw", "labsupport"))
        request_token(http.request, REALM, service="", grant=refresh_grant("r-1", "labsupport"))
    password, refresh = (parse_qs(r.content.decode(), keep_blank_values=True) for r in server.requests)
    assert all(r.method == "POST" and "authorization" not in r.headers for r in server.requests)
    assert password == {"grant_type": ["password"], "username": ["ada"], "password": ["pw"],
                        "access_type": ["offline"], "client_id": ["labsupport"], "service": ["ws-registry"],
                        "scope": [""]}
    assert refresh == {"grant_type": ["refresh_token"], "refresh_token": ["r-1"], "client_id": ["labsupport"],
                       "service": [""], "scope": [""]}


@pytest.mark.parametrize("response, token", [
    (httpx.Response(200, json={"token": "a", "access_token": "b", "expires_in": 300}), Token("a", 300.0)),
    (httpx.Response(200, json={"access_token": "b"}), Token("b", 60.0)),          # no expires_in: 60 s
    (httpx.Response(200, json={"access_token": "b", "expires_in": 0}), Token("b", 60.0)),
    (httpx.Response(200, json={"access_token": "b", "refresh_token": "r"}), Token("b", 60.0, "r")),
    (httpx.Response(200, json={"refresh_token": "r"}), None),
    (httpx.Response(200, json={"token": ""}), None),
    (httpx.Response(200, json={"token": "a", "expires_in": "soon"}), None),
    (httpx.Response(200, json=["token"]), None),
    (httpx.Response(200, text="not json"), None),
    (httpx.Response(401, json={"token": "a"}), None),                               # a refusal holds no token
])
def test_read_token(response: httpx.Response, token: Token | None):
    assert read_token(response) == token


def test_a_token_never_shows_in_its_repr():
    assert "s3cret" not in repr(Token("s3cret", 60.0, "s3cret-refresh"))


def test_the_cache_keeps_a_token_until_the_margin_before_it_expires():
    now = [100.0]
    cache = TokenCache(lambda: now[0], margin=10.0)
    assert cache.get("k") is None
    assert cache.keep("k", Token("t", 60.0)) == "t"
    now[0] += 49
    assert cache.get("k") == "t" and cache.get("other") is None
    now[0] += 1
    assert cache.get("k") is None
    cache.keep("k", Token("u", 60.0))
    cache.forget("k")
    assert cache.get("k") is None


def test_the_cache_keeps_a_short_token_for_its_minimum():
    now = [0.0]
    cache = TokenCache(lambda: now[0], margin=30.0, minimum=10.0)
    cache.keep("k", Token("t", 20.0))       # 20 s less the 30 s margin: the 10 s minimum
    now[0] += 9.5
    assert cache.get("k") == "t"
    now[0] += 1
    assert cache.get("k") is None


# -- the probe ---------------------------------------------------------------------------------------------

def token_registry(request: httpx.Request) -> httpx.Response:
    """A registry on reg.test asking for a Bearer token that auth.test gives to the good credential."""
    if request.url.host == "auth.test":
        good = request.headers.get("authorization") == BASIC
        return httpx.Response(200, json={"token": "tok"}) if good else httpx.Response(401)
    if request.headers.get("authorization") == "Bearer tok":
        return httpx.Response(200, json={})
    return httpx.Response(401, headers={"WWW-Authenticate": f'Bearer realm="{REALM}",service="reg"'})


def test_probe_trades_the_credential_for_a_token_at_a_bearer_registry():
    server = Recorder(token_registry)
    answer = probe("http://reg.test:5000", ("learner", "s3cret-pw"), transport=httpx.MockTransport(server))
    assert answer is not None and answer.status_code == 200
    first, grant, again = server.requests
    assert first.headers["authorization"] == BASIC and first.url.path == "/v2/"
    assert (grant.url.host, dict(grant.url.params), grant.headers["authorization"]) == ("auth.test",
                                                                                       {"service": "reg"}, BASIC)
    assert again.headers["authorization"] == "Bearer tok"


def test_probe_leaves_the_first_401_when_the_token_server_refuses_or_fails():
    refused = probe("http://reg.test:5000", ("learner", "wrong"), transport=httpx.MockTransport(token_registry))
    assert refused is not None and refused.status_code == 401 and "Bearer" in refused.headers["www-authenticate"]

    def token_server_down(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.test":
            raise httpx.ConnectError("refused")
        return token_registry(request)

    down = probe("http://reg.test:5000", ("learner", "s3cret-pw"), transport=httpx.MockTransport(token_server_down))
    assert down is not None and down.status_code == 401


def test_probe_without_credential_asks_once_and_none_means_no_answer():
    server = Recorder(token_registry)
    answer = probe("http://reg.test:5000", transport=httpx.MockTransport(server))
    assert answer is not None and answer.status_code == 401 and len(server.requests) == 1

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    assert probe("http://reg.test:5000", transport=httpx.MockTransport(refuse)) is None


# -- the workshop learner's refresh grant ------------------------------------------------------------------

def joined_lab(tmp_path) -> tuple[LabConfig, dict]:
    config = LabConfig.from_env({"LAB_STATE_DIR": str(tmp_path)})
    (tmp_path / join.REFRESH_FILE).write_text("refresh-1\n")
    return config, {"realm": REALM, "service": "ws-registry"}


def test_reporting_trades_the_refresh_token_once_for_a_kept_access_token(tmp_path):
    config, workshop = joined_lab(tmp_path)
    server = Recorder(lambda request: httpx.Response(200, json={"access_token": "acc", "expires_in": 300}))
    with server.client() as http:
        assert join._access_token(config, workshop, http) == "acc"
        assert join._access_token(config, workshop, http) == "acc"
    (sent,) = server.requests
    assert parse_qs(sent.content.decode())["refresh_token"] == ["refresh-1"]
    join._tokens.forget(str(tmp_path))


@pytest.mark.parametrize("answer, kind", [(httpx.Response(401), errors.Unauthorized),
                                          (httpx.Response(200, json={"refresh_token": "r"}), errors.LabError)])
def test_a_refused_or_empty_refresh_grant_is_a_lab_error(tmp_path, answer, kind):
    config, workshop = joined_lab(tmp_path)
    with Recorder(lambda request: answer).client() as http, pytest.raises(kind) as info:
        join._access_token(config, workshop, http)
    assert "refresh-1" not in str(info.value) and info.value.fix

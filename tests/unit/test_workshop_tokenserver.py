"""The token server's protocol, without a registry: Basic and OAuth2 grants, scopes, refusals, and logs that
never hold a secret. The same service is also driven over real HTTP on loopback."""

from __future__ import annotations

import base64
import logging
from urllib.parse import urlencode

import httpx
import jwt
import pytest

from labsupport.workshop import pki
from labsupport.workshop.accounts import INSTRUCTOR, LEARNER, Account, Accounts, hash_password
from labsupport.workshop.tokens import RefreshTokens, TokenIssuer
from labsupport.workshop.tokenserver import TokenService, handler_for
from labsupport.workshop.web import make_server, run_in_thread

SERVICE = "unit-registry"
PASSWORDS = {"ada": "ada-pass-1234", "bob": "bob-pass-1234", "teach": "teach-pass-12"}


@pytest.fixture(scope="module")
def service() -> TokenService:
    ca = pki.make_ca("unit")
    issuer = TokenIssuer(pki.make_token_signer(ca, "unit"), ca, issuer="unit-issuer", service=SERVICE)
    accounts = Accounts([Account(name, INSTRUCTOR if name == "teach" else LEARNER, hash_password(pw, 4))
                         for name, pw in PASSWORDS.items()])
    return TokenService(accounts, issuer, RefreshTokens(None, lifetime=3600))


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def access_of(service: TokenService, body: dict) -> list:
    return service.issuer.verify(body["access_token"])["access"]


def test_basic_get_with_repeated_scopes_grants_the_intersection(service):
    query = urlencode([("service", SERVICE), ("scope", "repository:ada/app:pull,push"),
                       ("scope", "repository:bob/app:pull"), ("scope", "repository:shared/base:pull,push")])
    answer = service.answer_get(basic("ada", PASSWORDS["ada"]), query)
    assert answer.status == 200 and answer.body["token"] == answer.body["access_token"]
    assert "refresh_token" not in answer.body
    assert access_of(service, answer.body) == [
        {"type": "repository", "name": "ada/app", "actions": ["pull", "push"]},
        {"type": "repository", "name": "shared/base", "actions": ["pull"]}]


def test_wrong_password_unknown_user_and_bad_headers_are_401_without_a_token(service):
    for header in (basic("ada", "wrong"), basic("nobody", "ada-pass-1234"), basic("ada", ""),
                   "Basic not-base64!", "Bearer abc", basic("bob", PASSWORDS["ada"])):
        answer = service.answer_get(header, f"service={SERVICE}&scope=repository:ada/app:pull")
        assert answer.status == 401, header
        assert "token" not in answer.body and "access_token" not in answer.body
        assert answer.headers["WWW-Authenticate"].startswith("Basic realm=")


def test_anonymous_gets_a_token_that_grants_nothing(service):
    answer = service.answer_get(None, f"service={SERVICE}&scope=repository:ada/app:pull,push")
    assert answer.status == 200 and access_of(service, answer.body) == []
    assert service.issuer.verify(answer.body["token"])["sub"] == ""


def test_catalog_is_for_the_instructor_only(service):
    query = f"service={SERVICE}&scope=registry:catalog:*"
    assert access_of(service, service.answer_get(basic("ada", PASSWORDS["ada"]), query).body) == []
    assert access_of(service, service.answer_get(basic("teach", PASSWORDS["teach"]), query).body) == [
        {"type": "registry", "name": "catalog", "actions": ["*"]}]


def test_another_service_is_refused(service):
    assert service.answer_get(basic("ada", PASSWORDS["ada"]), "service=other").status == 400
    assert service.answer_post({"grant_type": ["password"], "service": ["other"]}).status == 400


def test_docker_login_flow_offline_token_then_refresh_grant(service):
    query = f"service={SERVICE}&offline_token=true&client_id=docker"
    login = service.answer_get(basic("ada", PASSWORDS["ada"]), query)
    refresh = login.body["refresh_token"]
    push = service.answer_post({"grant_type": ["refresh_token"], "refresh_token": [refresh],
                                "service": [SERVICE], "client_id": ["docker"],
                                "scope": ["repository:ada/app:push,pull repository:bob/x:pull"]})
    assert push.status == 200 and "refresh_token" not in push.body and "token" not in push.body
    assert push.body["scope"] == "repository:ada/app:push,pull"
    assert access_of(service, push.body) == [
        {"type": "repository", "name": "ada/app", "actions": ["push", "pull"]}]
    # a refresh token is also a Basic password of its own user (for clients that speak only Basic) …
    again = service.answer_get(basic("ada", refresh), f"service={SERVICE}&offline_token=true")
    assert again.status == 200 and "refresh_token" not in again.body      # … and never mints another one
    assert service.answer_get(basic("bob", refresh), f"service={SERVICE}").status == 401
    bad = service.answer_post({"grant_type": ["refresh_token"], "refresh_token": ["made-up"],
                               "service": [SERVICE]})
    assert bad.status == 401 and "access_token" not in bad.body


def test_password_grant(service):
    form = {"grant_type": ["password"], "username": ["bob"], "password": [PASSWORDS["bob"]],
            "access_type": ["offline"], "service": [SERVICE], "scope": [""]}
    answer = service.answer_post(form)
    assert answer.status == 200 and service.refresh.user_of(answer.body["refresh_token"]) == "bob"
    assert "refresh_token" not in service.answer_post({**form, "access_type": ["online"]}).body
    assert service.answer_post({**form, "password": ["nope"]}).status == 401
    assert service.answer_post({**form, "grant_type": ["client_credentials"]}).status == 400


def test_logs_name_users_and_scopes_but_no_secret(service, caplog):
    caplog.set_level(logging.INFO, logger="labsupport.workshop")
    login = service.answer_get(basic("ada", PASSWORDS["ada"]), f"service={SERVICE}&offline_token=true")
    service.answer_post({"grant_type": ["refresh_token"], "refresh_token": [login.body["refresh_token"]],
                         "service": [SERVICE], "scope": ["repository:ada/app:pull"]})
    service.answer_get(basic("ada", "a-wrong-password"), f"service={SERVICE}")
    text = caplog.text
    assert "token for ada via password" in text and "granted ada/app:pull" in text and "rejected" in text
    for secret in (PASSWORDS["ada"], "a-wrong-password", login.body["refresh_token"], login.body["token"],
                   basic("ada", PASSWORDS["ada"]).split()[1]):
        assert secret not in text


def test_over_http_on_loopback(service, caplog):
    caplog.set_level(logging.INFO, logger="labsupport.workshop")
    server = make_server("127.0.0.1", 0, handler_for(service))
    run_in_thread(server, "unit-token-server")
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with httpx.Client(base_url=base, trust_env=False) as http:
            good = http.get("/token", params=[("service", SERVICE), ("scope", "repository:ada/a:pull"),
                                              ("scope", "repository:ada/b:push")], auth=("ada", PASSWORDS["ada"]))
            assert good.status_code == 200
            claims = jwt.decode(good.json()["token"], options={"verify_signature": False})
            assert [a["name"] for a in claims["access"]] == ["ada/a", "ada/b"]
            wrong = http.get("/token", params={"service": SERVICE}, auth=("ada", "nope"))
            assert wrong.status_code == 401 and "token" not in wrong.json()
            posted = http.post("/token", data={"grant_type": "password", "username": "teach",
                                               "password": PASSWORDS["teach"], "service": SERVICE,
                                               "scope": "registry:catalog:*"})
            assert posted.status_code == 200 and "registry:catalog:*" == posted.json()["scope"]
            assert http.post("/token", content=b"x" * 70_000).status_code == 400
            assert http.get("/healthz").json()["ok"] is True
            assert http.get("/stats").json()["issued"] >= 2
            assert http.get("/elsewhere").status_code == 404
    finally:
        server.shutdown()
        server.server_close()
    assert "GET /token 200" in caplog.text and PASSWORDS["ada"] not in caplog.text
    assert "scope=" not in caplog.text                          # no query string reaches the access log

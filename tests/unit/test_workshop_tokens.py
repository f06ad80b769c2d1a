"""Registry tokens: the JWT's shape for distribution 2.8/3.x, its chain to the CA, expiry and tampering, and
refresh tokens kept as digests only. Also the workshop's certificates."""

from __future__ import annotations

import base64
import json

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from labsupport.workshop import pki
from labsupport.workshop.tokens import RefreshTokens, TokenIssuer


@pytest.fixture(scope="module")
def ca() -> pki.KeyPair:
    return pki.make_ca("unit")


@pytest.fixture(scope="module")
def issuer(ca) -> TokenIssuer:
    return TokenIssuer(pki.make_token_signer(ca, "unit"), ca, issuer="unit-issuer", service="unit-registry")


def _segments(token: str) -> tuple[dict, dict]:
    head, body, _ = (part + "=" * (-len(part) % 4) for part in token.split("."))
    return json.loads(base64.urlsafe_b64decode(head)), json.loads(base64.urlsafe_b64decode(body))


def test_token_shape_is_what_the_registry_wants(issuer, ca):
    access = [{"type": "repository", "name": "ada/app", "actions": ["pull", "push"]}]
    header, claims = _segments(issuer.issue("ada", access, now=1_000_000))
    assert header["alg"] == "ES256"
    assert claims["aud"] == "unit-registry" and isinstance(claims["aud"], str)
    assert (claims["iss"], claims["sub"], claims["access"]) == ("unit-issuer", "ada", access)
    assert claims["exp"] - claims["iat"] == 300 and claims["nbf"] <= claims["iat"]
    chain = [x509.load_der_x509_certificate(base64.b64decode(item, validate=True)) for item in header["x5c"]]
    assert len(chain) == 2 and chain[1] == ca.cert                    # leaf first, ending at the root
    chain[0].verify_directly_issued_by(ca.cert)                        # the signer is certified by the CA
    assert chain[0].public_key().public_numbers() == issuer._signer.key.public_key().public_numbers()


def test_verify_accepts_ours_and_refuses_expired_tampered_and_foreign(issuer, ca):
    token = issuer.issue("ada", [])
    assert issuer.verify(token)["sub"] == "ada"
    with pytest.raises(jwt.ExpiredSignatureError):
        issuer.verify(issuer.issue("ada", [], lifetime=-120))         # past the 60 s leeway
    head, _, signature = token.split(".")
    claims = _segments(token)[1] | {"sub": "bob"}
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    with pytest.raises(jwt.InvalidSignatureError):
        issuer.verify(f"{head}.{forged}.{signature}")
    other_ca = pki.make_ca("other")
    stranger = TokenIssuer(pki.make_token_signer(other_ca, "other"), other_ca, issuer="unit-issuer",
                           service="unit-registry")
    with pytest.raises(jwt.InvalidSignatureError):
        issuer.verify(stranger.issue("ada", []))
    wrong_audience = TokenIssuer(issuer._signer, ca, issuer="unit-issuer", service="another-registry")
    with pytest.raises(jwt.InvalidAudienceError):
        issuer.verify(wrong_audience.issue("ada", []))


def test_certificates(ca):
    assert ca.cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    signer = pki.make_token_signer(ca, "unit")
    with pytest.raises(x509.ExtensionNotFound):                      # no EKU: Go's chain check accepts any use
        signer.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    server = pki.make_server_cert(ca, ["class.example.org", "127.0.0.1", "localhost", "127.0.0.1"])
    assert pki.cert_hosts(server.cert) == {"class.example.org", "127.0.0.1", "localhost"}
    server.cert.verify_directly_issued_by(ca.cert)
    assert len(pki.fingerprint(ca.cert).split(":")) == 32
    assert isinstance(server.key, ec.EllipticCurvePrivateKey)


def test_keys_round_trip_and_are_private(ca, tmp_path):
    ca.save(tmp_path / "ca.crt", tmp_path / "ca.key")
    assert (tmp_path / "ca.key").stat().st_mode & 0o777 == 0o600
    again = pki.KeyPair.load(tmp_path / "ca.crt", tmp_path / "ca.key")
    assert again.cert == ca.cert and again.key.private_numbers() == ca.key.private_numbers()


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_refresh_tokens_are_stored_as_digests_and_expire(tmp_path):
    clock = Clock()
    store = RefreshTokens(tmp_path / "refresh.json", lifetime=3600, clock=clock)
    token = store.create("ada")
    assert store.user_of(token) == "ada" and store.user_of(token + "x") is None and store.user_of("") is None
    text = (tmp_path / "refresh.json").read_text()
    assert token not in text and len(json.loads(text)) == 1
    assert (tmp_path / "refresh.json").stat().st_mode & 0o777 == 0o600
    assert RefreshTokens(tmp_path / "refresh.json", 3600, clock).user_of(token) == "ada"   # survives a restart
    clock.now += 3601
    assert store.user_of(token) is None


def test_refresh_tokens_are_bounded_and_revocable(tmp_path):
    clock = Clock()
    store = RefreshTokens(None, lifetime=3600, clock=clock)
    made = []
    for _ in range(25):
        clock.now += 1
        made.append(store.create("ada"))
    bob = store.create("bob")
    assert store.user_of(made[0]) is None and store.user_of(made[-1]) == "ada"
    assert store.revoke("ada") == 20
    assert store.user_of(made[-1]) is None and store.user_of(bob) == "bob"

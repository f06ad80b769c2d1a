"""The Docker client's credentials: config.json's auths, credential helpers on PATH, exact host keys."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from labsupport.dockerconfig import Credential, config_dir, hostname_of, load_credential, stored_registries
from labsupport.errors import DockerConfigError, LabError

SECRET = "pa55-w0rd:with-colon"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def write_config(folder: Path, data: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(data) if not isinstance(data, str) else data)
    return folder


HELPER = """#!/bin/sh
# A fake docker-credential helper: knows one server, logs what it was asked.
read -r server
printf '%s %s\\n' "$1" "$server" >> "{log}"
case "$1" in
  get)
    if [ "$server" = "{known}" ]; then
      printf '{{"ServerURL":"%s","Username":"helper-user","Secret":"{secret}"}}' "$server"
    else
      echo "credentials not found in native keychain"; exit 1
    fi ;;
  list) printf '{{"{known}":"helper-user","https://stored.example:443":"other"}}' ;;
  *) echo "unknown action" >&2; exit 2 ;;
esac
"""


def install_helper(folder: Path, name: str, body: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put an executable docker-credential-<name> in `folder` and `folder` first on PATH."""
    folder.mkdir(parents=True, exist_ok=True)
    program = folder / f"docker-credential-{name}"
    program.write_text(body)
    program.chmod(program.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")
    return program


@pytest.fixture
def helper_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A helper named `fake` that knows localhost:5000; returns the file where it logs each question."""
    log = tmp_path / "helper.log"
    install_helper(tmp_path / "bin", "fake", HELPER.format(log=log, known="localhost:5000", secret="helper-secret"),
                   monkeypatch)
    return log


def test_credential_never_shows_its_secret():
    cred = Credential("alice", SECRET)
    for text in (repr(cred), str(cred), f"{cred}", repr([cred]), repr({"c": cred})):
        assert SECRET not in text and "pa55" not in text
        assert "alice" in text
    assert cred == Credential("alice", SECRET) and cred != Credential("alice", "other")


def test_config_dir_follows_docker_config(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "dc"))
    assert config_dir() == tmp_path / "dc"
    monkeypatch.delenv("DOCKER_CONFIG")
    assert config_dir() == Path.home() / ".docker"


@pytest.mark.parametrize("key, host", [
    ("localhost:5000", "localhost:5000"),
    ("http://localhost:5000", "localhost:5000"),
    ("https://127.0.0.1:5000/v2/", "127.0.0.1:5000"),
    ("https://index.docker.io/v1/", "index.docker.io"),
])
def test_hostname_of_strips_scheme_and_path(key, host):
    assert hostname_of(key) == host


def test_auth_entry_is_decoded(tmp_path):
    folder = write_config(tmp_path, {"auths": {"localhost:5000": {"auth": b64(f"learner:{SECRET}")}}})
    assert load_credential("localhost:5000", folder) == Credential("learner", SECRET)


def test_username_password_fields_are_read(tmp_path):
    folder = write_config(tmp_path, {"auths": {"localhost:5000": {"username": "bob", "password": "pw"}}})
    assert load_credential("localhost:5000", folder) == Credential("bob", "pw")


def test_localhost_and_loopback_are_different_keys(tmp_path):
    folder = write_config(tmp_path, {"auths": {"127.0.0.1:5000": {"auth": b64("learner:pw")}}})
    assert load_credential("localhost:5000", folder) is None
    assert load_credential("127.0.0.1:5000", folder) == Credential("learner", "pw")
    assert load_credential("127.0.0.1:5001", folder) is None


@pytest.mark.parametrize("key", ["http://localhost:5000", "https://localhost:5000", "https://localhost:5000/v1/"])
def test_keys_written_with_a_scheme_match(tmp_path, key):
    folder = write_config(tmp_path, {"auths": {key: {"auth": b64("old:pw")}}})
    assert load_credential("localhost:5000", folder) == Credential("old", "pw")


def test_the_bare_key_wins_over_a_schemed_one(tmp_path):
    folder = write_config(tmp_path, {"auths": {"http://localhost:5000": {"auth": b64("old:pw")},
                                               "localhost:5000": {"auth": b64("new:pw")}}})
    assert load_credential("localhost:5000", folder).username == "new"


def test_docker_hub_names_share_one_key(tmp_path):
    folder = write_config(tmp_path, {"auths": {"https://index.docker.io/v1/": {"auth": b64("hubber:pw")}}})
    assert load_credential("docker.io", folder) == Credential("hubber", "pw")


def test_nothing_stored_means_none(tmp_path):
    assert load_credential("localhost:5000", tmp_path) is None            # no config.json at all
    write_config(tmp_path, {})
    assert load_credential("localhost:5000", tmp_path) is None
    write_config(tmp_path, {"auths": {"localhost:5000": {}}})             # an entry with nothing in it
    assert load_credential("localhost:5000", tmp_path) is None


def test_default_folder_is_docker_config(tmp_path, monkeypatch):
    write_config(tmp_path / "dc", {"auths": {"localhost:5000": {"auth": b64("envuser:pw")}}})
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "dc"))
    assert load_credential("localhost:5000") == Credential("envuser", "pw")
    assert stored_registries() == ["localhost:5000"]


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"auths": []}', '{"credHelpers": "x"}',
                                     '{"credsStore": 5}'])
def test_malformed_config_is_a_lab_error_with_a_fix(tmp_path, content):
    write_config(tmp_path, content)
    with pytest.raises(DockerConfigError) as info:
        load_credential("localhost:5000", tmp_path)
    assert isinstance(info.value, LabError) and info.value.fix
    assert str(tmp_path / "config.json") in str(info.value)


@pytest.mark.parametrize("auth", [b64("no-colon-here"), "%%%not-base64%%%", b64(":only-a-secret")])
def test_bad_auth_value_is_a_lab_error_that_does_not_echo_it(tmp_path, auth):
    write_config(tmp_path, {"auths": {"localhost:5000": {"auth": auth}}})
    with pytest.raises(DockerConfigError) as info:
        load_credential("localhost:5000", tmp_path)
    text = str(info.value)
    assert auth not in text and "only-a-secret" not in text and "no-colon-here" not in text
    assert "docker login localhost:5000" in info.value.fix
    assert info.value.__cause__ is None  # the undecodable value is not chained into a traceback


def test_cred_helper_is_asked_with_the_bare_host(tmp_path, helper_log):
    folder = write_config(tmp_path / "dc", {"credHelpers": {"localhost:5000": "fake"},
                                            "auths": {"localhost:5000": {"auth": b64("inline:pw")}}})
    assert load_credential("localhost:5000", folder) == Credential("helper-user", "helper-secret")
    assert helper_log.read_text().splitlines() == ["get localhost:5000"]


def test_cred_helper_of_another_host_leaves_auths_in_charge(tmp_path, helper_log):
    folder = write_config(tmp_path / "dc", {"credHelpers": {"127.0.0.1:5000": "fake"},
                                            "auths": {"localhost:5000": {"auth": b64("inline:pw")}}})
    assert load_credential("localhost:5000", folder) == Credential("inline", "pw")
    assert not helper_log.exists()


def test_creds_store_is_asked_and_cred_helpers_win_over_it(tmp_path, helper_log, monkeypatch):
    install_helper(tmp_path / "bin2", "other", HELPER.format(log=helper_log, known="localhost:5000",
                                                             secret="store-secret"), monkeypatch)
    folder = write_config(tmp_path / "dc", {"credsStore": "other"})
    assert load_credential("localhost:5000", folder) == Credential("helper-user", "store-secret")
    write_config(folder, {"credsStore": "other", "credHelpers": {"localhost:5000": "fake"}})
    assert load_credential("localhost:5000", folder).secret == "helper-secret"


def test_helper_that_knows_nothing_gives_none(tmp_path, helper_log):
    folder = write_config(tmp_path / "dc", {"credsStore": "fake"})
    assert load_credential("127.0.0.1:5000", folder) is None
    assert helper_log.read_text().splitlines() == ["get 127.0.0.1:5000"]


def test_missing_helper_gives_none(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    folder = write_config(tmp_path / "dc", {"credsStore": "nowhere-to-be-found"})
    assert load_credential("localhost:5000", folder) is None


@pytest.mark.parametrize("body, words", [
    ("#!/bin/sh\necho 'keychain is locked'; exit 1\n", "keychain is locked"),
    ("#!/bin/sh\necho 'this is not json'\n", "did not answer with JSON"),
])
def test_failing_helper_is_a_lab_error(tmp_path, monkeypatch, body, words):
    install_helper(tmp_path / "bin", "broken", body, monkeypatch)
    folder = write_config(tmp_path / "dc", {"credsStore": "broken"})
    with pytest.raises(DockerConfigError, match=words) as info:
        load_credential("localhost:5000", folder)
    assert "docker-credential-broken" in info.value.fix


def test_helper_with_an_empty_secret_gives_none(tmp_path, monkeypatch):
    install_helper(tmp_path / "bin", "empty", '#!/bin/sh\necho \'{"Username":"u","Secret":""}\'\n', monkeypatch)
    folder = write_config(tmp_path / "dc", {"credsStore": "empty"})
    assert load_credential("localhost:5000", folder) is None


def test_stored_registries_names_each_host_once(tmp_path):
    folder = write_config(tmp_path, {"auths": {
        "127.0.0.1:5000": {"auth": b64("a:b")},
        "http://127.0.0.1:5000": {"auth": b64("a:b")},
        "registry.example:443": {"username": "u", "password": "p"},
        "empty.example": {},
    }, "credHelpers": {"helped.example": "nowhere"}})
    assert stored_registries(folder) == ["127.0.0.1:5000", "helped.example", "registry.example:443"]


def test_stored_registries_with_a_store_counts_its_entries_and_its_list(tmp_path, helper_log):
    folder = write_config(tmp_path / "dc", {"credsStore": "fake", "auths": {"kept.example": {}}})
    assert stored_registries(folder) == ["kept.example", "localhost:5000", "stored.example:443"]
    assert stored_registries(tmp_path / "nothing-here") == []

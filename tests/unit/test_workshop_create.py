"""`workshop init` and its settings: the files it writes, where the secrets are (and are not), the registry's
token-auth config, TLS for a public host, and the mistakes it refuses."""

from __future__ import annotations

import csv
import io

import pytest

from labsupport.errors import LabError
from labsupport.workshop import pki
from labsupport.workshop.accounts import Accounts
from labsupport.workshop.create import configure, init_workshop, registry_config
from labsupport.workshop.handout import read_credentials, trust_steps
from labsupport.workshop.settings import Layout, WorkshopSettings, load_settings


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    out = tmp_path_factory.mktemp("ws") / "class"
    report = init_workshop(out, ["ada", "bob", "cy"], settings=WorkshopSettings(name="unitws", container="hW-x"))
    return report


def test_init_writes_the_layout(made):
    layout = made.layout
    for path in (layout.settings, layout.accounts, layout.registry_config, layout.ca_cert, layout.ca_key,
                 layout.token_cert, layout.token_key, layout.server_cert, layout.credentials, layout.sheet,
                 layout.handout_ca):
        assert path.is_file(), path
    for secret in (layout.accounts, layout.ca_key, layout.token_key, layout.server_key, layout.credentials,
                   layout.sheet, layout.registry_config):
        assert secret.stat().st_mode & 0o077 == 0, f"{secret} is readable by others"
    assert made.learners == ["ada", "bob", "cy"] and made.instructor == "instructor"
    assert load_settings(layout) == made.settings


def test_passwords_only_in_the_handout(made):
    layout = made.layout
    rows = list(csv.reader(io.StringIO(layout.credentials.read_text())))
    assert rows[0] == ["learner", "password"] and [r[0] for r in rows[1:]] == ["ada", "bob", "cy"]
    passwords = [r[1] for r in rows[1:]]
    passwords.append((layout.root / "handout" / "instructor.txt").read_text().split("password: ")[1].strip())
    assert len(set(passwords)) == 4
    sheet = layout.sheet.read_text()
    assert all(p in sheet for p in passwords[:3])
    assert "labsupport join http://127.0.0.1:5502 --learner bob" in sheet
    for path in layout.root.rglob("*"):
        if path.is_file() and "handout" not in path.parts:
            text = path.read_bytes().decode(errors="replace")
            assert not any(p in text for p in passwords), f"a plain password in {path}"
    accounts = Accounts.load(layout.accounts)
    assert accounts.authenticate("bob", passwords[1]) is not None
    assert accounts.authenticate("bob", passwords[0]) is None
    assert accounts.instructors == ["instructor"]


def test_registry_config_speaks_token_auth_and_notifies(made):
    text = made.layout.registry_config.read_text()
    s = made.settings
    for line in (f'realm: "http://127.0.0.1:{s.token_port}/token"', 'service: "unitws-registry"',
                 'issuer: "unitws-token-server"', "rootcertbundle: /etc/workshop/ca.crt",
                 f'url: "http://127.0.0.1:{s.dashboard_port}/events"', f'addr: "127.0.0.1:{s.registry_port}"',
                 "delete:\n    enabled: true"):
        assert line in text
    assert "tls:" not in text and "headers:\n    X-Content" in text


def test_init_refuses_to_overwrite_and_bad_names(made, tmp_path):
    with pytest.raises(LabError, match="already holds a workshop") as info:
        init_workshop(made.layout.root, ["dan"])
    assert "new --out folder" in info.value.fix
    with pytest.raises(LabError, match="instructor's or the shared namespace"):
        init_workshop(tmp_path / "a", ["ada", "shared"])
    with pytest.raises(LabError, match="not a valid learner name"):
        init_workshop(tmp_path / "b", ["Ada"])
    with pytest.raises(LabError, match="same name"):
        init_workshop(tmp_path / "c", ["ada", "ada"])
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_settings_addresses_and_validation():
    local = WorkshopSettings(registry_port=6000, token_port=6001, dashboard_port=6002)
    assert (local.tls, local.bind, local.registry, local.realm) == (
        False, "127.0.0.1", "127.0.0.1:6000", "http://127.0.0.1:6001/token")
    public = local.replace(public_host="class.example.org")
    assert (public.tls, public.bind, public.registry_url, public.events_url) == (
        True, "0.0.0.0", "https://class.example.org:6000", "https://127.0.0.1:6002/events")
    assert public.replace(public_host="localhost").public_host is None
    assert [WorkshopSettings(public_host=h).public for h in (None, "", "localhost", "127.0.0.5", "::1", "10.0.0.2",
                                                             "a.b")] == [False, False, False, False, False, True, True]
    with pytest.raises(LabError, match="three different ports"):
        local.replace(token_port=6000)
    with pytest.raises(LabError, match="not a TCP port"):
        local.replace(dashboard_port=70000)


def test_a_public_host_turns_on_tls_everywhere(made, tmp_path):
    report = init_workshop(tmp_path / "pub", ["ada"])
    layout = report.layout
    old_cert = layout.server_cert.read_bytes()
    settings = configure(layout, report.settings.replace(public_host="10.1.2.3", registry_port=7443))
    text = layout.registry_config.read_text()
    assert "tls:\n    certificate: /etc/workshop/server.crt" in text and 'addr: "0.0.0.0:7443"' in text
    assert 'realm: "https://10.1.2.3:5501/token"' in text
    cert = pki.KeyPair.load(layout.server_cert, layout.server_key).cert
    assert {"10.1.2.3", "127.0.0.1", "localhost"} <= pki.cert_hosts(cert)
    assert old_cert != layout.server_cert.read_bytes()
    sheet = layout.sheet.read_text()
    assert "/etc/docker/certs.d/10.1.2.3:7443/ca.crt" in sheet
    assert "update-ca-certificates" in sheet and "restart Docker" in sheet   # the token server, containerd store
    assert pki.fingerprint(pki.KeyPair.load(layout.ca_cert, layout.ca_key).cert) in sheet
    assert load_settings(layout) == settings
    secret_before = [ln for ln in text.splitlines() if "secret:" in ln]
    configure(layout, settings)
    assert [ln for ln in layout.registry_config.read_text().splitlines() if "secret:" in ln] == secret_before


def test_trust_steps_follow_tls_not_only_a_public_host(made, tmp_path):
    settings = init_workshop(tmp_path / "loop", ["ada"]).settings
    assert trust_steps(settings, "AB:CD") == []                                 # plain HTTP: nothing to trust
    rehearsal = trust_steps(settings.replace(tls_on_loopback=True), "AB:CD")
    assert not any("certs.d" in step for step in rehearsal)                     # a loopback registry: unverified
    assert any("update-ca-certificates" in step for step in rehearsal)          # the token server: verified
    assert "AB:CD" in rehearsal[1]


def test_layout_of_a_folder_that_is_no_workshop(tmp_path):
    with pytest.raises(LabError, match="not a workshop folder") as info:
        Layout(tmp_path).require()
    assert "workshop init" in info.value.fix


def test_registry_config_is_valid_yaml_shape():
    text = registry_config(WorkshopSettings(name='we "quote"'), "s3cr3t")
    assert 'service: "we \\"quote\\"-registry"' in text and not any("\t" in line for line in text.splitlines())
    assert read_credentials("learner,password\nada,pw-1\n") == [("ada", "pw-1")]
    assert read_credentials("learner,password\nlearner,pw-2\n") == [("learner", "pw-2")]

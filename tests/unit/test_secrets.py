"""labsupport.secrets: secrets in layer tars, also in files a later layer deletes or overwrites."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest

from labsupport import secrets
from labsupport.secrets import PLANTED_SECRET, Finding, scan_config, scan_image, scan_layer, scan_layers
from tests.layertars import tar_of

SECRET_APP = Path(__file__).resolve().parents[2] / "notebooks" / "apps" / "secret"
AWS_KEY = "AKIA" + "Z7Q2M4N6P8R1T3V5"  # split so that the source itself holds no key-shaped text
GITHUB = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
KEY_HEADER = "-----BEGIN " + "OPENSSH PRIVATE KEY-----"


def planted_env() -> bytes:
    return f"API_TOKEN={PLANTED_SECRET}\n".encode()


# -- the planted secret and the layers that hide it ----------------------------------------------------------


def test_the_planted_secret_is_found_with_its_layer_and_path():
    layers = [
        tar_of(("bin/", None), ("bin/tool", b"\x7fELF...")),
        tar_of(("app/", None), ("app/.env", planted_env())),
    ]
    [finding] = scan_layers(layers)
    assert (finding.layer, finding.path, finding.kind, finding.planted) == (1, "app/.env", "planted", True)
    assert finding.hidden_in is None


def test_a_whiteout_in_a_later_layer_hides_but_does_not_remove_the_secret():
    layers = [
        tar_of(("app/", None), ("app/.env", planted_env()), ("app/deps.txt", b"ok")),
        tar_of(("app/", None), ("app/.wh..env", b"")),
        tar_of(("app/app.sh", b"#!/bin/sh\necho hi\n")),
    ]
    [finding] = scan_layers(layers)
    assert (finding.layer, finding.hidden_in, finding.hidden_how) == (0, 1, "deletes")
    text = finding.describe()
    assert "layer 1" in text and "layer 2 deletes" in text and "/app/.env" in text


def test_deleting_a_whole_folder_or_an_opaque_folder_hides_the_files_inside():
    folder_gone = scan_layers([tar_of(("./app/conf/.env", planted_env())), tar_of(("./app/.wh.conf", b""))])
    assert (folder_gone[0].path, folder_gone[0].hidden_in) == ("app/conf/.env", 1)
    opaque = scan_layers(
        [tar_of(("app/.env", planted_env())), tar_of(("app/.wh..wh..opq", b""), ("app/x", b"x"))]
    )
    assert opaque[0].hidden_how == "deletes"


def test_a_whiteout_of_another_file_or_folder_hides_nothing():
    layers = [
        tar_of(("app/.env", planted_env())),
        tar_of(("app/.wh..env.bak", b""), ("apps/.wh..wh..opq", b"")),
    ]
    assert scan_layers(layers)[0].hidden_in is None


def test_an_overwritten_file_is_reported_as_overwritten():
    layers = [tar_of(("app/.env", planted_env())), tar_of(("app/.env", b"API_TOKEN=\n"))]
    findings = scan_layers(layers)
    assert [(f.layer, f.hidden_in, f.hidden_how) for f in findings] == [(0, 1, "overwrites")]


def test_an_earlier_layer_is_never_said_to_hide_a_later_one():
    layers = [tar_of(("app/.wh..env", b"")), tar_of(("app/.env", planted_env()))]
    assert scan_layers(layers)[0].hidden_in is None


def test_compressed_blobs_are_read_like_plain_tars():
    plain = tar_of(("app/.env", planted_env()))
    assert scan_layers([gzip.compress(plain)]) == scan_layers([plain])


@pytest.mark.parametrize(
    "blob, reason",
    [
        (b"\x28\xb5\x2f\xfd" + b"\0" * 40, "zstd"),
        (b"\x1f\x8b" + b"broken gzip", "gzip"),
        (b"this is not a tar at all" * 40, "tar"),
    ],
)
def test_a_layer_that_cannot_be_read_says_why(blob, reason):
    with pytest.raises(ValueError, match=reason):
        scan_layer(blob)


def test_an_image_without_secrets_has_no_findings_and_lists_its_files():
    scan = scan_image(
        [
            tar_of(("bin/", None), ("bin/busybox", b"\x7fELF" + bytes(range(256)) * 50)),
            tar_of(("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")),
        ]
    )
    assert scan.findings == ()
    assert scan.layers[0].files == frozenset({"bin/busybox"})


# -- well-known shapes --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, content, kind",
    [
        ("root/.ssh/id_ed25519", f"{KEY_HEADER}\nb3BlbnNzaC1rZXktdjEAAAAA\n".encode(), "private-key"),
        ("app/settings.py", f"AWS_ID = '{AWS_KEY}'\n".encode(), "aws-access-key"),
        (
            "app/deploy.sh",
            f"curl -H 'Authorization: token {GITHUB}' https://example.invalid\n".encode(),
            "github-token",
        ),
        (
            "root/.docker/config.json",
            b'{"auths": {"r.example": {"auth": "bGVhcm5lcjpodW50ZXIy"}}}',
            "registry-auth",
        ),
        ("app/.env", b"DB_PASSWORD=correct-horse-battery\n", "assignment"),
        ("etc/app/prod.yaml", b"api_key: 9f8e7d6c5b4a\n", "assignment"),
    ],
)
def test_well_known_secret_shapes_are_found_and_masked(path, content, kind):
    [finding] = scan_layers([tar_of((path, content))])
    assert (finding.kind, finding.path, finding.planted) == (kind, path, False)
    secret_text = content.decode()
    shown = finding.describe()
    for value in (AWS_KEY, GITHUB, "bGVhcm5lcjpodW50ZXIy", "correct-horse-battery", "9f8e7d6c5b4a"):
        if value in secret_text:
            assert value not in shown and value not in repr(finding)


@pytest.mark.parametrize(
    "path, content",
    [
        ("app/run.sh", b"API_TOKEN=correct-horse-battery\n"),  # not a settings file: scripts name variables
        ("app/.env", b"API_TOKEN=${API_TOKEN}\nSECRET=$FROM_ENV\n"),  # references, not values
        ("app/.env", b"PASSWORD=abc\n"),  # too short to be a credential
        ("bin/tool", b"\x7fELF usage: tool --password=PASS\n" + bytes(range(256))),
        ("app/data.txt", b"AKIA is a prefix; AKIAshort is no key\n"),
    ],
)
def test_ordinary_content_is_not_taken_for_a_secret(path, content):
    assert scan_layers([tar_of((path, content))]) == []


def test_mask_shows_only_a_prefix_and_the_length():
    assert secrets.mask("supersecretvalue") == "supe… (16 characters)"
    assert secrets.mask(b"abc") == "…"


# -- the image config ---------------------------------------------------------------------------------------


def test_a_build_argument_in_the_history_and_a_token_in_the_environment_are_found():
    document = {
        "config": {"Env": ["PATH=/bin", "API_TOKEN=0123456789abcdef"], "Labels": {"team": "web"}},
        "history": [
            {"created_by": "/bin/sh -c #(nop) ADD file:abc in / "},
            {"created_by": f"|1 LAB_SECRET={PLANTED_SECRET} /bin/sh -c rm /app/.env"},
        ],
        "rootfs": {"diff_ids": ["sha256:" + "1" * 64, "sha256:" + "2" * 64]},
    }
    found = {(f.kind, f.path, f.layer) for f in scan_config(document)}
    assert found == {("planted", "history[1]", None), ("assignment", "Env[1]", None)}


def test_a_clean_config_has_no_findings():
    assert (
        scan_config(
            {
                "config": {"Env": ["PATH=/bin", "HOME=/root"], "Cmd": ["sh"]},
                "history": [{"created_by": 'CMD ["sh"]', "empty_layer": True}],
            }
        )
        == []
    )


def test_layer_history_pairs_only_the_steps_that_made_layers():
    document = {
        "history": [
            {"created_by": "ADD a"},
            {"created_by": "ENV X=1", "empty_layer": True},
            {"created_by": "RUN b"},
        ],
        "rootfs": {"diff_ids": ["sha256:" + "a" * 64, "sha256:" + "b" * 64]},
    }
    assert secrets.layer_history(document) == ["ADD a", "RUN b"]
    document["rootfs"]["diff_ids"].append("sha256:" + "c" * 64)
    assert secrets.layer_history(document) == []  # a history that does not pair up says nothing


def test_a_config_finding_describes_itself_as_the_config():
    finding = Finding(None, "history[2]", "planted", "the planted secret")
    assert "image config (history[2])" in finding.describe()


# -- the secret app keeps the constant ------------------------------------------------------------


def test_the_secret_apps_build_argument_defaults_to_the_planted_secret():
    dockerfile = (SECRET_APP / "Dockerfile").read_text()
    assert re.findall(r"^ARG LAB_SECRET=(\S+)$", dockerfile, re.MULTILINE) == [PLANTED_SECRET]
    writes = re.search(r"^RUN .*?(?=^\S)", dockerfile, re.MULTILINE | re.DOTALL).group(0)
    assert '"$LAB_SECRET" > /' + secrets.PLANTED_PATH in writes
    assert re.search(r"^RUN rm /" + re.escape(secrets.PLANTED_PATH) + "$", dockerfile, re.MULTILINE)


def test_the_secure_dockerfile_bakes_in_no_secret():
    secure = (SECRET_APP / "Dockerfile.secure").read_text()
    instructions = [
        line for line in secure.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]
    assert not any("LAB_SECRET" in line or PLANTED_SECRET in line or ".env" in line for line in instructions)
    assert instructions[0] == "ARG BASE=busybox:1.36" and instructions[1] == "FROM ${BASE}"

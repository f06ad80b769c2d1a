"""The four myths' live proofs on the real engine and the shared lab registry: each returns real evidence.

Every image this module makes is named hp2-myth-<run> (or lives under the test lab's own host and port) and is
removed at the end. No proof's text may hold the lab password or the base64 `auth` value of config.json.
"""

from __future__ import annotations

import io
import json
import re
import secrets
import tarfile
import uuid
from pathlib import Path

import httpx
import pytest

from labsupport.course import MythId
from labsupport.dockerconfig import load_credential
from labsupport.engine import Engine
from labsupport.errors import ImageNotFound, LabError, PushFailed, UnknownExercise
from labsupport.lessons.myths import PROOFS, deleted_files, prove
from labsupport.registry import ACCEPT

pytestmark = pytest.mark.docker
RUN = uuid.uuid4().hex[:6]
SIZE = r"(\d+(?:\.\d+)? [kMG]?B)"


def _bytes(text: str) -> float:
    """A size as the proofs print it ("160 B", "1.1 MB") back in bytes (approximately for kB and up)."""
    number, unit = text.split()
    return float(number) * {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}[unit]


def _assert_no_secret(text: str, lab, config_dir: Path | None = None) -> None:
    """The lab password, and the `auth` value the Docker client stored, appear nowhere in a proof's text."""
    assert lab.password() not in text
    if config_dir is not None:
        stored = json.loads((config_dir / "config.json").read_text()).get("auths", {})
        for entry in stored.values():
            if entry.get("auth"):
                assert entry["auth"] not in text


@pytest.fixture(scope="module")
def engine(docker_client) -> Engine:
    return Engine(docker_client)


@pytest.fixture(scope="module")
def local_image(engine, lab_config):
    """A local image named without a registry host (hp2-myth-<run>:1.0), made from the lab's base image."""
    name = f"hp2-myth-{RUN}:1.0"
    engine.tag(lab_config.base_image, name)
    yield name
    engine.remove(name, missing_ok=True)


# -- the id table ------------------------------------------------------------------------------------------------

def test_the_four_myths_of_the_course_have_proofs():
    assert {str(myth_id) for myth_id in PROOFS} == {"untagged-push", "anonymous-push", "full-upload",
                                                    "secure-by-default"}


def test_an_unknown_myth_is_a_lab_error_listing_the_ids(lab):
    with pytest.raises(UnknownExercise) as caught:
        prove("no-such-myth", lab.config)
    assert isinstance(caught.value, LabError)
    for myth_id in MythId:
        assert str(myth_id) in caught.value.message
    assert caught.value.fix


# -- untagged-push -------------------------------------------------------------------------------------------

def test_untagged_push_goes_to_docker_hub_not_the_lab(lab, local_image, logged_out_docker_config_dir):
    text = prove("untagged-push", lab.config, image=local_image)
    repository = local_image.split(":")[0]
    headline, _, rest = text.partition("\n")
    assert "Docker Hub" in headline and lab.config.registry in headline
    assert f"$ docker push {local_image}" in rest
    assert f"The push refers to repository [docker.io/library/{repository}]" in rest
    # offline: a DNS or connection error; online: Docker Hub refuses the official namespace
    assert re.search(r"no such host|dial tcp|connection refused|i/o timeout|denied|unauthorized", rest), rest
    assert "(exit status 1)" in rest
    assert f"does not hold a repository library/{repository}" in rest
    assert f"docker tag {local_image} {lab.config.ref(repository, '1.0')}" in rest
    _assert_no_secret(text, lab)


def test_untagged_push_refuses_a_name_that_carries_a_host(lab, local_image):
    with pytest.raises(LabError, match="needs a name without a host"):
        prove("untagged-push", lab.config, image=lab.config.ref("hello-lab", "1.0"))


def test_untagged_push_without_the_image_says_how_to_build_it(lab):
    with pytest.raises(ImageNotFound) as caught:
        prove("untagged-push", lab.config, image=f"hp2-missing-{RUN}:1.0")
    assert "build_hello()" in (caught.value.fix or "")


# -- anonymous-push ------------------------------------------------------------------------------------------

def test_anonymous_push_is_refused_even_when_the_learner_is_logged_in(lab, local_image, docker_config_dir, engine):
    before = (docker_config_dir / "config.json").read_text()
    text = prove("anonymous-push", lab.config, image=local_image)
    target = lab.config.ref("myth-anonymous", "proof")
    assert "refused the push" in text.splitlines()[0]
    assert f"docker push {target}" in text
    assert f"The push refers to repository [{target.rsplit(':', 1)[0]}]" in text
    assert "no basic auth credentials" in text
    assert f"GET {lab.config.registry_url}/v2/ without credentials -> 401 Unauthorized" in text
    assert 'WWW-Authenticate: Basic realm="lab-registry"' in text
    # the learner's own login is untouched, the temporary tag is gone, nothing reached the registry
    assert (docker_config_dir / "config.json").read_text() == before
    assert load_credential(lab.config.registry) is not None
    assert not engine.exists(target)
    catalog = httpx.get(f"{lab.config.registry_url}/v2/_catalog", auth=lab.auth(), timeout=10).json()
    assert f"{lab.config.learner}/myth-anonymous" not in (catalog.get("repositories") or [])
    _assert_no_secret(text, lab, docker_config_dir)


# -- full-upload -----------------------------------------------------------------------------------------------

def test_full_upload_second_push_sends_nothing_and_a_change_sends_one_layer(lab, local_image, docker_config_dir,
                                                                           engine):
    text = prove("full-upload", lab.config, image=local_image)
    headline = text.splitlines()[0]
    found = re.search(rf"whole image is {SIZE}; the first push uploaded {SIZE}, the same push again {SIZE}, "
                      rf"and a one-line change {SIZE}", headline)
    assert found, headline
    whole, first, again, changed = (_bytes(value) for value in found.groups())
    assert first > 0 and again == 0
    assert 0 < changed < whole
    pushes = re.findall(r"(\d+) layers: (\d+) pushed, (\d+) already there", text)
    assert len(pushes) == 3
    (_, pushed1, _), (layers2, pushed2, there2), (layers3, pushed3, there3) = pushes
    assert int(pushed1) >= 1
    assert layers2 == there2 and pushed2 == "0"          # second push: every layer already there
    assert pushed3 == "1" and int(there3) == int(layers3) - 1
    # the digests it printed are what the registry really holds
    digests = re.findall(r"digest (sha256:[0-9a-f]{64})", text)
    assert len(digests) == 3 and digests[0] == digests[1] != digests[2]
    repository = f"{lab.config.learner}/myth-upload"
    for tag, digest in (("proof", digests[0]), ("changed", digests[2])):
        answer = httpx.head(f"{lab.config.registry_url}/v2/{repository}/manifests/{tag}", auth=lab.auth(),
                            headers={"Accept": ACCEPT}, timeout=10)
        assert answer.headers.get("docker-content-digest") == digest
    for tag in ("proof", "changed"):
        assert not engine.exists(lab.config.ref("myth-upload", tag))
    _assert_no_secret(text, lab, docker_config_dir)


def test_full_upload_without_a_login_fails_with_the_login_fix(lab, local_image, logged_out_docker_config_dir):
    with pytest.raises(PushFailed) as caught:
        prove("full-upload", lab.config, image=local_image)
    assert caught.value.kind == "no-credentials"
    assert "no basic auth credentials" in caught.value.raw
    assert f"docker login {lab.config.registry}" in (caught.value.fix or "")


# -- secure-by-default -------------------------------------------------------------------------------------------

LEAKY_DOCKERFILE = """ARG BASE
FROM ${BASE}
COPY token.txt /work/token.txt
RUN wc -c /work/token.txt > /work/used.txt
RUN rm /work/token.txt
"""


@pytest.fixture
def leaky_app(tmp_path) -> tuple[Path, str]:
    """An app whose build copies in a fresh secret and deletes it in a later step."""
    secret = f"hp2-secret-{secrets.token_hex(8)}"
    (tmp_path / "Dockerfile").write_text(LEAKY_DOCKERFILE)
    (tmp_path / "token.txt").write_text(secret + "\n")
    return tmp_path, secret


def test_secure_by_default_shows_plain_http_and_reads_a_deleted_secret(lab, docker_config_dir, leaky_app, engine):
    app, secret = leaky_app
    text = prove("secure-by-default", lab.config, secret_app=app)
    headline = text.splitlines()[0]
    assert "plain HTTP" in headline and "secret deleted by a later layer was read back" in headline
    assert f"GET {lab.config.registry_url}/v2/ without credentials -> 401 Unauthorized" in text
    https = "https://" + lab.config.registry_url.split("://", 1)[1]
    assert re.search(rf"GET {re.escape(https)}/v2/ -> fails: ConnectError", text), text
    info = engine.client.info()["RegistryConfig"]["InsecureRegistryCIDRs"]
    assert f"accepts plain HTTP only from: {', '.join(info)}" in text
    assert "as base64 of user:password (value not shown)" in text
    assert "still holds /work/token.txt" in text
    assert secret in text                       # the planted secret, read back from the registry's blob
    assert not engine.exists(lab.config.ref("myth-secret", "proof"))
    _assert_no_secret(text, lab, docker_config_dir)


def test_secure_by_default_with_the_course_secret_app(lab, docker_config_dir):
    app = Path(__file__).resolve().parents[2] / "notebooks" / "apps" / "secret"
    if not (app / "Dockerfile").is_file():
        pytest.skip("notebooks/apps/secret is not in this checkout")
    text = prove("secure-by-default", lab.config)
    planted = re.search(r"ARG LAB_SECRET=(\S+)", (app / "Dockerfile").read_text())
    assert "read back" in text.splitlines()[0]
    if planted:
        assert planted.group(1) in text
    _assert_no_secret(text, lab, docker_config_dir)


def test_secure_by_default_without_a_secret_app_still_shows_http(lab, logged_out_docker_config_dir, tmp_path):
    text = prove("secure-by-default", lab.config, secret_app=tmp_path / "none")
    assert "travel unencrypted" in text.splitlines()[0]
    assert "401 Unauthorized" in text
    assert f"holds no stored login for {lab.config.registry}" in text
    assert "still holds" not in text


# -- the layer reader on tars made here ---------------------------------------------------------------------------

def _layer(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            entry = tarfile.TarInfo(name)
            entry.size = len(data)
            tar.addfile(entry, io.BytesIO(data))
    return buffer.getvalue()


def test_deleted_files_finds_whiteouts_over_earlier_layers_only():
    layers = [_layer({"app/.env": b"TOKEN=abc\n", "app/keep.txt": b"kept"}),
              _layer({"app/.wh..env": b"", "app/new.txt": b"new"}),
              _layer({"etc/.wh.missing": b""})]
    found = deleted_files(layers)
    assert [(item.path, item.layer, item.deleted_by, item.content) for item in found] == [
        ("app/.env", 0, 1, "TOKEN=abc\n")]
    assert deleted_files([_layer({"a.txt": b"x"}), _layer({"b.txt": b"y"})]) == []


def test_deleted_files_sees_a_whole_folder_deleted():
    layers = [_layer({"./secrets/one": b"1", "./secrets/two": b"2", "./other": b"o"}),
              _layer({"./.wh.secrets": b""})]
    assert sorted(item.path for item in deleted_files(layers)) == ["secrets/one", "secrets/two"]


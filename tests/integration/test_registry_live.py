"""RegistryClient against real registries: the lab's (htpasswd, Basic) and one in token mode (Bearer)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
import time
import uuid
from pathlib import Path

import httpx
import pytest

from labsupport.dockerconfig import Credential, load_credential
from labsupport.errors import Denied, ManifestUnknown, NameUnknown, Unauthorized
from labsupport.registry import MANIFEST_V2, RegistryClient
from tests.conftest import OFFLINE_REGISTRY_IMAGE, free_port

from .tokenserver import TokenServer

pytestmark = pytest.mark.docker
RUN = uuid.uuid4().hex[:6]
REPO = f"learner/hb-x-{RUN}"


def docker_cli(*args: str, config_dir: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    """Run the docker CLI with its own DOCKER_CONFIG; fail the test with its stderr when it fails."""
    result = subprocess.run(["docker", *args], input=stdin, capture_output=True, text=True, timeout=180,
                            env={**os.environ, "DOCKER_CONFIG": str(config_dir)}, check=False)
    assert result.returncode == 0, f"docker {args[0]} failed: {result.stderr.strip()}"
    return result


def push_base(docker_client, base_image: str, ref: str, config_dir: Path):
    """Tag the base image as `ref`, push it with the docker CLI, return the local image after the push."""
    docker_client.images.get(base_image).tag(ref)
    docker_cli("push", ref, config_dir=config_dir)
    return docker_client.images.get(ref)


def untag(docker_client, ref: str) -> None:
    from docker.errors import ImageNotFound

    try:
        docker_client.images.remove(ref, noprune=True)
    except ImageNotFound:
        return  # already gone: nothing to clean


@pytest.fixture
def pushed(lab, docker_config_dir, docker_client):
    """`<lab>/learner/hb-x-…:1` pushed from the base image with the docker CLI; untagged afterwards."""
    ref = f"{lab.config.registry}/{REPO}:1"
    image = push_base(docker_client, lab.config.base_image, ref, docker_config_dir)
    yield ref, image
    untag(docker_client, ref)


@pytest.fixture
def client(lab):
    with RegistryClient.for_lab(lab.config, credential=Credential(lab.config.learner, lab.password())) as it:
        yield it


def test_ping_shows_the_basic_challenge(lab):
    with RegistryClient(lab.config.registry_url) as anonymous:
        challenge = anonymous.ping()
    assert (challenge.status, challenge.scheme, challenge.needs_auth) == (401, "basic", True)


def test_credentials_are_checked(lab, client):
    client.check_credentials()
    with RegistryClient.for_lab(lab.config, credential=Credential(lab.config.learner, "not-the-password")) as wrong:
        with pytest.raises(Unauthorized, match="rejected") as info:
            wrong.check_credentials()
        assert "not-the-password" not in str(info.value) and lab.password() not in str(info.value)
    with RegistryClient.for_lab(lab.config, credential=None) as nobody, pytest.raises(Unauthorized) as info:
        nobody.catalog()
    assert f"docker login {lab.config.registry}" in info.value.fix


def test_what_docker_pushed_is_what_the_api_reads(lab, pushed, docker_config_dir):
    ref, image = pushed
    with RegistryClient.for_lab(lab.config) as reader:     # the credential the docker CLI just stored
        assert reader.username == lab.config.learner
        assert REPO in reader.catalog(page_size=1)          # pages of one: the Link header is followed
        assert reader.tags(REPO) == ["1"]
        manifest = reader.manifest(REPO, "1")
        reported = next(d.split("@", 1)[1] for d in image.attrs["RepoDigests"] if d.startswith(ref.split(":1")[0]))
        assert manifest.digest == reported == reader.head_manifest(REPO, "1")
        assert manifest.media_type == MANIFEST_V2 and not manifest.is_index
        view = reader.remote_view(REPO, "1")
        assert list(view.diff_ids) == image.attrs["RootFS"]["Layers"]
        for blob in view.blobs:
            assert reader.blob_exists(REPO, blob.digest) == blob.size
        assert reader.blob_exists(REPO, "sha256:" + "0" * 64) is None
        assert any(v.repository == REPO for v in reader.views())
        assert all(v.repository != REPO for v in reader.views(exclude=REPO))


def _layer(files: dict[str, bytes]) -> tuple[bytes, str]:
    """A gzipped layer tar of `files` and its diff id (sha256 of the uncompressed tar)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    plain = raw.getvalue()
    return gzip.compress(plain, mtime=0), "sha256:" + hashlib.sha256(plain).hexdigest()


def test_a_handmade_image_is_pullable_and_runs(lab, client, pushed, docker_client, docker_config_dir):
    _, base = pushed
    repo = f"learner/hb-handmade-{RUN}"
    base_view = client.remote_view(REPO, "1")
    base_blob = client.get_blob(REPO, base_view.blobs[0].digest)
    layer, diff_id = _layer({"hello.txt": b"made by hand\n"})
    digests = [client.upload_blob(repo, base_blob), client.upload_blob(repo, layer)]
    assert client.blob_exists(repo, digests[1]) == len(layer)
    config = json.dumps({"architecture": base.attrs["Architecture"], "os": "linux",
                         "config": {"Cmd": ["/bin/cat", "/hello.txt"]},
                         "rootfs": {"type": "layers", "diff_ids": [base_view.diff_ids[0], diff_id]}}).encode()
    config_digest = client.upload_blob(repo, config)
    blob_type = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": MANIFEST_V2,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": config_digest,
                   "size": len(config)},
        "layers": [{"mediaType": blob_type, "digest": digests[0], "size": len(base_blob)},
                   {"mediaType": blob_type, "digest": digests[1], "size": len(layer)}]}).encode()
    digest = client.put_manifest(repo, "1.0", manifest, MANIFEST_V2)
    assert digest == "sha256:" + hashlib.sha256(manifest).hexdigest() == client.head_manifest(repo, "1.0")
    ref = f"{lab.config.registry}/{repo}:1.0"
    try:
        docker_cli("pull", ref, config_dir=docker_config_dir)
        output = docker_client.containers.run(ref, name=f"hB-handmade-{RUN}", remove=True)
        assert output == b"made by hand\n"
        assert docker_client.images.get(ref).attrs["RootFS"]["Layers"] == [base_view.diff_ids[0], diff_id]
    finally:
        untag(docker_client, ref)
        client.delete_repository_tags(repo)


def test_delete_removes_every_tag(client, pushed):
    digest = client.head_manifest(REPO, "1")
    assert client.delete_repository_tags(REPO) == [digest]
    assert client.head_manifest(REPO, "1") is None
    with pytest.raises(ManifestUnknown):
        client.manifest(REPO, "1")
    try:
        assert client.tags(REPO) == []
    except NameUnknown:
        pass  # a registry may also forget the repository's name once no tag is left
    assert client.delete_repository_tags(f"learner/hb-never-{RUN}") == []


# -- token (Bearer) mode -----------------------------------------------------------------------------------

SERVICE = "hb-token-registry"


@pytest.fixture(scope="module")
def token_registry(docker_client, tmp_path_factory):
    """A registry in token mode on a free 127.0.0.1 port, trusting a token server in this process."""
    users = {"learner": ("token-pw", {"pull", "push", "delete", "*"}), "reader": ("reader-pw", {"pull"})}
    server = TokenServer(service=SERVICE, users=users).start()
    folder = tmp_path_factory.mktemp("hb-token")
    (folder / "bundle.pem").write_bytes(server.cert_pem)
    port = free_port()
    image = os.environ.get("LAB_REGISTRY_IMAGE") or OFFLINE_REGISTRY_IMAGE
    container = docker_client.containers.run(
        image, detach=True, name=f"hB-token-registry-{RUN}", ports={"5000/tcp": ("127.0.0.1", port)},
        volumes={str(folder / "bundle.pem"): {"bind": "/certs/bundle.pem", "mode": "ro"}},
        environment={"REGISTRY_AUTH": "token", "REGISTRY_AUTH_TOKEN_REALM": server.realm,
                     "REGISTRY_AUTH_TOKEN_SERVICE": SERVICE, "REGISTRY_AUTH_TOKEN_ISSUER": server.issuer,
                     "REGISTRY_AUTH_TOKEN_ROOTCERTBUNDLE": "/certs/bundle.pem",
                     "REGISTRY_STORAGE_DELETE_ENABLED": "true"})
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/v2/", timeout=2).status_code == 401:
                    break
            except httpx.TransportError:
                pass
            container.reload()
            assert container.status != "exited" and time.monotonic() < deadline, container.logs()[-2000:]
            time.sleep(0.2)
        yield server, url
    finally:
        container.remove(force=True, v=True)
        server.stop()


@pytest.fixture(scope="module")
def token_pushed(token_registry, docker_client, lab_config, tmp_path_factory):
    """The base image pushed by the docker CLI through the token server, as learner/hb-t:1."""
    _, url = token_registry
    host = url.split("://", 1)[1]
    config_dir = tmp_path_factory.mktemp("hb-token-docker-config")
    docker_cli("login", host, "--username", "learner", "--password-stdin", stdin="token-pw", config_dir=config_dir)
    ref = f"{host}/learner/hb-t:1"
    image = push_base(docker_client, lab_config.base_image, ref, config_dir)
    assert load_credential(host, config_dir) == Credential("learner", "token-pw")
    yield image
    untag(docker_client, ref)


def test_bearer_token_is_fetched_cached_and_reads_the_registry(token_registry, token_pushed):
    server, url = token_registry
    with RegistryClient(url, credential=Credential("learner", "token-pw")) as client:
        challenge = client.ping()
        assert (challenge.scheme, challenge.realm, challenge.service) == ("bearer", server.realm, SERVICE)
        before = len(server.requests)
        assert "learner/hb-t" in client.catalog()
        assert client.tags("learner/hb-t") == ["1"] and client.tags("learner/hb-t") == ["1"]
        view = client.remote_view("learner/hb-t", "1")
        asked = server.requests[before:]
    assert view.diff_ids == tuple(token_pushed.attrs["RootFS"]["Layers"])
    assert view.manifest_digest in {d.split("@", 1)[1] for d in token_pushed.attrs["RepoDigests"]}
    assert [r.scopes for r in asked] == [["registry:catalog:*"], ["repository:learner/hb-t:pull"]]
    assert {r.user for r in asked} == {"learner"} and {r.service for r in asked} == {SERVICE}


def test_bearer_wrong_password_and_missing_access(token_registry, token_pushed):
    server, url = token_registry
    with RegistryClient(url, credential=Credential("learner", "nope")) as wrong, \
            pytest.raises(Unauthorized, match="rejected"):
        wrong.tags("learner/hb-t")
    assert server.requests[-1].user == "!rejected"
    with RegistryClient(url) as anonymous, pytest.raises(Unauthorized, match="none were given"):
        anonymous.tags("learner/hb-t")
    with RegistryClient(url, credential=Credential("reader", "reader-pw")) as reader:
        assert reader.tags("learner/hb-t") == ["1"]
        with pytest.raises(Denied):
            reader.upload_blob("learner/hb-t", b"not allowed")

"""RegistryClient against real registries: the lab's (htpasswd, Basic) and one in token mode (Bearer)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
import uuid
from pathlib import Path

import httpx
import pytest

from bench.bench_workshop import running_workshop
from labsupport.dockerconfig import Credential, load_credential
from labsupport.errors import Denied, ManifestUnknown, NameUnknown, Unauthorized
from labsupport.registry import MANIFEST_V2, OCI_INDEX, RegistryClient

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
        view = reader.remote_view(REPO, "1")
        if manifest.is_index:  # the containerd store pushes the index it keeps (BuildKit's: image + attestation)
            assert manifest.media_type == OCI_INDEX and view.platform in manifest.image_platforms
            assert view.index_digest == manifest.digest != view.manifest_digest
        else:                  # the classic store pushes one image manifest
            assert manifest.media_type == MANIFEST_V2 and view.index_digest == ""
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
    listed = client.manifest(REPO, digest).entries        # an index's image and attestation (BuildKit), or none
    assert client.delete_repository_tags(REPO) == [digest, *listed]
    for entry in listed:
        with pytest.raises(ManifestUnknown):
            client.manifest(REPO, entry)                   # gone too: garbage collection may free their layers
    assert client.head_manifest(REPO, "1") is None
    with pytest.raises(ManifestUnknown):
        client.manifest(REPO, "1")
    try:
        assert client.tags(REPO) == []
    except NameUnknown:
        pass  # a registry may also forget the repository's name once no tag is left
    assert client.delete_repository_tags(f"learner/hb-never-{RUN}") == []


# -- token (Bearer) mode: a workshop's registry and token server (labsupport.workshop) ----------------------

@pytest.fixture(scope="module")
def token_registry(docker_client, tmp_path_factory):
    """A registry in token mode on free 127.0.0.1 ports: learners `learner` and `reader`, an instructor."""
    folder = tmp_path_factory.mktemp("hb-token") / "workshop"
    with running_workshop(folder, ["learner", "reader"], f"hB-token-{RUN}", docker_client) as running:
        yield running


@pytest.fixture(scope="module")
def token_pushed(token_registry, docker_client, lab_config, tmp_path_factory):
    """The base image pushed by the docker CLI through the token server as learner/hb-t:1 (by the learner)
    and as shared/hb-t:1 (by the instructor); the learner's DOCKER_CONFIG and the local image."""
    host = token_registry.settings.registry
    config_dir = tmp_path_factory.mktemp("hb-token-docker-config")
    docker_cli("login", host, "--username", "learner", "--password-stdin",
               stdin=token_registry.passwords["learner"], config_dir=config_dir)
    image = push_base(docker_client, lab_config.base_image, f"{host}/learner/hb-t:1", config_dir)
    teacher_dir = tmp_path_factory.mktemp("hb-token-teacher")
    docker_cli("login", host, "--username", token_registry.settings.instructor, "--password-stdin",
               stdin=token_registry.instructor_password, config_dir=teacher_dir)
    push_base(docker_client, lab_config.base_image, f"{host}/shared/hb-t:1", teacher_dir)
    yield config_dir, image
    untag(docker_client, f"{host}/learner/hb-t:1")
    untag(docker_client, f"{host}/shared/hb-t:1")


def token_requests(running) -> int:
    return httpx.get(f"http://127.0.0.1:{running.settings.token_port}/stats", trust_env=False).json()["requests"]


def test_bearer_token_is_fetched_cached_and_reads_the_registry(token_registry, token_pushed):
    settings = token_registry.settings
    _, image = token_pushed
    teacher = Credential(settings.instructor, token_registry.instructor_password)
    with RegistryClient(settings.registry_url, credential=teacher) as client:
        challenge = client.ping()
        assert (challenge.scheme, challenge.realm) == ("bearer", settings.realm)
        assert challenge.service == settings.service
        before = token_requests(token_registry)
        assert {"learner/hb-t", "shared/hb-t"} <= set(client.catalog())
        assert client.tags("learner/hb-t") == ["1"] and client.tags("learner/hb-t") == ["1"]
        view = client.remote_view("learner/hb-t", "1")
        asked = token_requests(token_registry) - before
    assert view.diff_ids == tuple(image.attrs["RootFS"]["Layers"])
    assert (view.index_digest or view.manifest_digest) in {d.split("@", 1)[1] for d in image.attrs["RepoDigests"]}
    assert asked == 2                      # one token for the catalog, one (cached, reused) for the repository
    log = token_registry.workshop.layout.services_log.read_text()
    assert f"token for {settings.instructor} via password: asked registry:catalog:*" in log
    assert "asked repository:learner/hb-t:pull; granted learner/hb-t:pull" in log


def test_the_docker_clients_identity_token_works_for_labsupport(token_registry, token_pushed):
    config_dir, _ = token_pushed
    stored = load_credential(token_registry.settings.registry, config_dir)
    assert stored.username == "learner" and stored.secret != token_registry.passwords["learner"]
    with RegistryClient(token_registry.settings.registry_url, credential=stored) as client:
        assert client.tags("learner/hb-t") == ["1"]


def test_bearer_wrong_password_and_missing_access(token_registry, token_pushed):
    url = token_registry.settings.registry_url
    with RegistryClient(url, credential=Credential("learner", "nope")) as wrong, \
            pytest.raises(Unauthorized, match="rejected"):
        wrong.tags("learner/hb-t")
    assert "token rejected: bad credentials" in token_registry.workshop.layout.services_log.read_text()
    with RegistryClient(url) as anonymous, pytest.raises(Unauthorized, match="none were given"):
        anonymous.tags("learner/hb-t")
    with RegistryClient(url, credential=Credential("reader", token_registry.passwords["reader"])) as reader:
        assert reader.tags("shared/hb-t") == ["1"]
        with pytest.raises(Denied):
            reader.upload_blob("shared/hb-t", b"not allowed")
        with pytest.raises(Denied):
            reader.tags("learner/hb-t")

"""RegistryClient's content calls against an in-memory registry: manifests, indexes, blobs, uploads, deletes."""

from __future__ import annotations

import hashlib
import json
import re

import httpx
import pytest

from labsupport import errors
from labsupport.model import Blob
from labsupport.registry import ACCEPT, MANIFEST_LIST, MANIFEST_V2, OCI_INDEX, OCI_MANIFEST, RegistryClient

BASE = "http://reg.test:5000"
_MANIFEST_PATH = re.compile(r"^/v2/(?P<name>.+)/manifests/(?P<ref>[^/]+)$")
_BLOB_PATH = re.compile(r"^/v2/(?P<name>.+)/blobs/(?P<digest>sha256:[0-9a-f]{64})$")
_UPLOAD_PATH = re.compile(r"^/v2/(?P<name>.+)/blobs/uploads/(?P<id>[^/]*)$")


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def error(status: int, code: str) -> httpx.Response:
    return httpx.Response(status, json={"errors": [{"code": code, "message": code.lower().replace("_", " ")}]})


class MemoryRegistry:
    """Just enough of the distribution API, in memory, to check what the client sends and reads."""

    def __init__(self, *, send_digest_header: bool = True) -> None:
        self.blobs: dict[str, dict[str, bytes]] = {}
        self.manifests: dict[str, dict[str, tuple[bytes, str]]] = {}   # repo -> digest -> (body, type)
        self.tags: dict[str, dict[str, str]] = {}                       # repo -> tag -> digest
        self.requests: list[httpx.Request] = []
        self.send_digest_header = send_digest_header

    def client(self, platform: str = "linux/amd64") -> RegistryClient:
        return RegistryClient(BASE, transport=httpx.MockTransport(self), platform=platform)

    def push_blob(self, name: str, data: bytes) -> Blob:
        self.blobs.setdefault(name, {})[digest(data)] = data
        return Blob(digest(data), len(data), "application/vnd.docker.image.rootfs.diff.tar.gzip")

    def push_manifest(self, name: str, tag: str, document: dict, media_type: str) -> str:
        body = json.dumps(document).encode()
        self.manifests.setdefault(name, {})[digest(body)] = (body, media_type)
        self.tags.setdefault(name, {})[tag] = digest(body)
        return digest(body)

    def push_image(self, name: str, tag: str, layers: list[bytes], diff_ids: list[str]) -> str:
        config = self.push_blob(name, json.dumps({"rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode())
        blobs = [self.push_blob(name, layer) for layer in layers]
        return self.push_manifest(name, tag, {
            "schemaVersion": 2, "mediaType": MANIFEST_V2,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": config.digest,
                       "size": config.size},
            "layers": [{"mediaType": b.media_type, "digest": b.digest, "size": b.size} for b in blobs]}, MANIFEST_V2)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path, method = request.url.path, request.method
        if path == "/v2/_catalog":
            return httpx.Response(200, json={"repositories": sorted(self.tags)})
        if path.endswith("/tags/list"):
            name = path[4:-len("/tags/list")]
            if name not in self.tags:
                return error(404, "NAME_UNKNOWN")
            return httpx.Response(200, json={"name": name, "tags": sorted(self.tags[name]) or None})
        if match := _MANIFEST_PATH.match(path):
            return self._manifest(request, match["name"], match["ref"])
        if match := _BLOB_PATH.match(path):
            data = self.blobs.get(match["name"], {}).get(match["digest"])
            if data is None:
                return error(404, "BLOB_UNKNOWN") if method == "GET" else httpx.Response(404)
            return httpx.Response(200, content=b"" if method == "HEAD" else data,
                                  headers={"Content-Length": str(len(data)), "Docker-Content-Digest": digest(data)})
        if match := _UPLOAD_PATH.match(path):
            if method == "POST":
                return httpx.Response(202, headers={"Location": f"{BASE}/v2/{match['name']}/blobs/uploads/u1"
                                                                "?_state=abc%3D%3D"})
            if request.url.params.get("_state") != "abc==" or digest(request.content) != request.url.params["digest"]:
                return error(400, "DIGEST_INVALID")
            self.push_blob(match["name"], request.content)
            return httpx.Response(201, headers={"Docker-Content-Digest": digest(request.content)})
        return httpx.Response(404)

    def _manifest(self, request: httpx.Request, name: str, ref: str) -> httpx.Response:
        known = self.manifests.get(name, {})
        key = self.tags.get(name, {}).get(ref, ref)
        if request.method == "PUT":
            for item in json.loads(request.content).get("layers", []):
                if item["digest"] not in self.blobs.get(name, {}):
                    return error(400, "MANIFEST_BLOB_UNKNOWN")
            return httpx.Response(201, headers={"Docker-Content-Digest": self.push_manifest(
                name, ref, json.loads(request.content), request.headers["content-type"])})
        if key not in known:
            return error(404, "MANIFEST_UNKNOWN") if request.method == "GET" else httpx.Response(404)
        if request.method == "DELETE":
            del known[key]
            self.tags[name] = {tag: d for tag, d in self.tags[name].items() if d != key}
            return httpx.Response(202)
        body, media_type = known[key]
        headers = {"Content-Type": media_type, "Content-Length": str(len(body))}
        if self.send_digest_header:
            headers["Docker-Content-Digest"] = key
        return httpx.Response(200, content=b"" if request.method == "HEAD" else body, headers=headers)


@pytest.fixture
def registry() -> MemoryRegistry:
    return MemoryRegistry()


def diff(text: str) -> str:
    return digest(text.encode())


def test_manifest_asks_for_every_kind_and_reads_digest_type_and_blobs(registry):
    pushed = registry.push_image("learner/x", "1", [b"base", b"app"], [diff("base"), diff("app")])
    manifest = registry.client().manifest("learner/x", "1")
    accept = registry.requests[-1].headers["accept"]
    assert all(kind in accept for kind in (MANIFEST_V2, MANIFEST_LIST, OCI_MANIFEST, OCI_INDEX)) and accept == ACCEPT
    assert (manifest.digest, manifest.media_type, manifest.is_index, manifest.platforms) == (
        pushed, MANIFEST_V2, False, [])
    assert [blob.digest for blob in manifest.layers] == [digest(b"base"), digest(b"app")]
    assert manifest.layers[0].size == 4 and manifest.config is not None
    assert digest(manifest.raw) == pushed and manifest.document["schemaVersion"] == 2


def test_manifest_digest_is_computed_when_the_header_is_missing():
    registry = MemoryRegistry(send_digest_header=False)
    pushed = registry.push_image("a", "1", [b"l"], [diff("l")])
    assert registry.client().manifest("a", "1").digest == pushed


def test_manifest_by_digest_must_match_its_content(registry):
    registry.push_image("a", "1", [b"l"], [diff("l")])
    wrong = "sha256:" + "0" * 64
    registry.manifests["a"][wrong] = registry.manifests["a"][registry.tags["a"]["1"]]
    with pytest.raises(errors.ManifestInvalid, match="does not match"):
        registry.client().manifest("a", wrong)


def test_unknown_tag_and_repository(registry):
    client = registry.client()
    with pytest.raises(errors.ManifestUnknown) as info:
        client.manifest("a", "nope")
    assert info.value.code == "MANIFEST_UNKNOWN" and info.value.fix
    assert client.head_manifest("a", "nope") is None
    with pytest.raises(errors.NameUnknown):
        client.tags("nobody")


def test_head_manifest_gives_the_digest(registry):
    pushed = registry.push_image("a", "1", [b"l"], [diff("l")])
    assert registry.client().head_manifest("a", "1") == pushed
    assert registry.requests[-1].method == "HEAD"


def push_index(registry: MemoryRegistry) -> tuple[str, str]:
    amd = registry.push_image("m", "amd", [b"amd"], [diff("amd")])
    arm = registry.push_image("m", "arm", [b"arm"], [diff("arm")])
    registry.push_manifest("m", "1.0", {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": MANIFEST_V2, "digest": amd, "size": 1, "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": MANIFEST_V2, "digest": arm, "size": 1,
         "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}}]}, OCI_INDEX)
    return amd, arm


def test_an_index_lists_platforms_and_remote_view_reads_the_engines_one(registry):
    amd, arm = push_index(registry)
    index = registry.client().manifest("m", "1.0")
    assert index.is_index and index.platforms == ["linux/amd64", "linux/arm64/v8"] and index.layers == []
    assert (index.digest_for("linux/arm64"), index.digest_for("linux/arm64/v8"), index.digest_for("linux/s390x")) \
        == (arm, arm, None)
    view = registry.client(platform="linux/arm64").remote_view("m", "1.0")
    assert (view.manifest_digest, view.diff_ids, view.blobs[0].digest) == (arm, (diff("arm"),), digest(b"arm"))
    assert (view.platform, view.index_digest) == ("linux/arm64/v8", index.digest)
    assert registry.client().remote_view("m", "1.0").manifest_digest == amd
    assert registry.client().remote_view("m", "1.0", platform="linux/arm64").manifest_digest == arm
    with pytest.raises(errors.ManifestUnknown, match="no image for windows/amd64"):
        registry.client().remote_view("m", "1.0", platform="windows/amd64")
    with pytest.raises(errors.ManifestUnknown, match="none of them linux/s390x") as info:
        registry.client(platform="linux/s390x").remote_view("m", "1.0")
    assert "platform='linux/amd64'" in info.value.fix


def push_buildkit_index(registry: MemoryRegistry, name: str = "k", tag: str = "1") -> tuple[str, str, str]:
    """An index as BuildKit pushes it: the image, and its provenance attestation on unknown/unknown."""
    image = registry.push_image(name, "img", [b"layer"], [diff("layer")])
    attestation = registry.push_image(name, "att", [b"provenance"], [diff("provenance")])
    top = registry.push_manifest(name, tag, {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": image, "size": 1, "platform": {"os": "linux", "architecture": "riscv64"}},
        {"mediaType": OCI_MANIFEST, "digest": attestation, "size": 1,
         "annotations": {"vnd.docker.reference.digest": image, "vnd.docker.reference.type": "attestation-manifest"},
         "platform": {"os": "unknown", "architecture": "unknown"}}]}, OCI_INDEX)
    return top, image, attestation


def test_an_index_with_an_attestation_is_read_as_its_one_image(registry):
    top, image, attestation = push_buildkit_index(registry)
    client = registry.client()               # an amd64 engine: the index's only image is riscv64
    index = client.manifest("k", "1")
    assert (index.platforms, index.image_platforms, index.attestations) == (
        ["linux/riscv64", "unknown/unknown"], ["linux/riscv64"], [attestation])
    assert index.digest_for("unknown/unknown") == attestation and index.choose_platform("linux/amd64") == "linux/riscv64"
    chosen = client.image_manifest("k", "1")
    assert (chosen.digest, chosen.index_digest, chosen.platform, chosen.is_index) == (image, top, "linux/riscv64", False)
    assert chosen.config.digest and chosen.layers[0].digest == digest(b"layer")
    view = client.remote_view("k", "1")
    assert (view.manifest_digest, view.index_digest, view.diff_ids) == (image, top, (diff("layer"),))
    plain = client.image_manifest("k", "img")
    assert (plain.digest, plain.index_digest, plain.platform) == (image, "", "")


def test_an_index_has_no_config_and_says_how_to_read_its_image(registry):
    push_buildkit_index(registry)
    index = registry.client().manifest("k", "1")
    assert not index.has_config
    with pytest.raises(errors.ManifestInvalid, match="image index over linux/riscv64, unknown/unknown") as info:
        _ = index.config
    assert "image_manifest('k', '1')" in info.value.fix


def test_remote_view_pairs_blobs_with_diff_ids(registry):
    pushed = registry.push_image("learner/x", "1", [b"base", b"app"], [diff("base"), diff("app")])
    view = registry.client().remote_view("learner/x", "1")
    assert (view.repository, view.tag, view.manifest_digest, view.media_type) == ("learner/x", "1", pushed,
                                                                                  MANIFEST_V2)
    assert view.diff_ids == (diff("base"), diff("app"))
    assert view.blob_for(diff("app")).digest == digest(b"app") and view.size == len(b"base") + len(b"app")


def test_views_cover_every_repository_but_the_excluded_and_read_indexes_for_a_platform(registry):
    registry.push_image("a", "1", [b"x"], [diff("x")])
    registry.push_image("a", "2", [b"x"], [diff("x")])
    registry.push_image("b", "1", [b"y"], [diff("y")])
    push_index(registry)
    views = registry.client(platform="linux/s390x").views(exclude="b")   # no image of the index for it
    assert sorted((v.repository, v.tag) for v in views) == [("a", "1"), ("a", "2"), ("m", "amd"), ("m", "arm")]
    config_reads = [r for r in registry.requests if "/blobs/" in r.url.path and r.url.path.startswith("/v2/a/")]
    assert len(config_reads) == 1      # one config blob shared by two tags is read once
    with_platform = registry.client().views(exclude=["a", "b"], platform="linux/amd64")
    assert sorted(v.tag for v in with_platform) == ["1.0", "amd", "arm"]


def test_blobs_exist_are_read_and_checked(registry):
    registry.push_blob("a", b"hello")
    client = registry.client()
    assert client.blob_exists("a", digest(b"hello")) == 5
    assert client.blob_exists("a", digest(b"other")) is None
    assert client.get_blob("a", digest(b"hello")) == b"hello"
    with pytest.raises(errors.BlobUnknown):
        client.get_blob("a", digest(b"other"))
    registry.blobs["a"][digest(b"other")] = b"tampered"
    with pytest.raises(errors.RegistryError, match="does not match its digest"):
        client.get_blob("a", digest(b"other"))


def test_get_blob_follows_a_storage_redirect_without_our_credential():
    data = b"layer bytes"
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "storage.test":
            return httpx.Response(200, content=data)
        if "authorization" not in request.headers:
            return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="x"'})
        return httpx.Response(307, headers={"Location": "http://storage.test/blob?sig=1"})

    from labsupport.dockerconfig import Credential
    client = RegistryClient(BASE, credential=Credential("u", "pw"), transport=httpx.MockTransport(handler))
    assert client.get_blob("a", digest(data)) == data
    assert seen[-1].url.host == "storage.test" and "authorization" not in seen[-1].headers


def test_upload_blob_then_put_manifest_makes_a_readable_image(registry):
    client = registry.client()
    layer = client.upload_blob("learner/handmade", b"layer")
    config = client.upload_blob("learner/handmade", json.dumps({"rootfs": {"diff_ids": [diff("raw")]}}).encode())
    post, put = registry.requests[0], registry.requests[1]
    assert (post.method, post.url.path) == ("POST", "/v2/learner/handmade/blobs/uploads/")
    assert put.method == "PUT" and put.url.params["digest"] == layer == digest(b"layer")
    assert put.url.host == "reg.test" and put.content == b"layer"
    body = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST_V2,
                       "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                                  "digest": config, "size": 1},
                       "layers": [{"mediaType": "x", "digest": layer, "size": 5}]}).encode()
    assert client.put_manifest("learner/handmade", "1.0", body, MANIFEST_V2) == digest(body)
    assert registry.requests[-1].headers["content-type"] == MANIFEST_V2
    assert client.remote_view("learner/handmade", "1.0").diff_ids == (diff("raw"),)


def test_a_manifest_listing_a_missing_blob_is_refused(registry):
    body = json.dumps({"schemaVersion": 2, "layers": [{"digest": digest(b"never"), "size": 1}]}).encode()
    with pytest.raises(errors.ManifestInvalid, match="manifest blob unknown") as info:
        registry.client().put_manifest("a", "1", body, MANIFEST_V2)
    assert "before the manifest" in info.value.fix


def test_delete_by_tag_resolves_the_digest_and_repository_reset_deletes_all(registry):
    one = registry.push_image("a", "1", [b"x"], [diff("x")])
    registry.push_image("a", "same", [b"x"], [diff("x")])
    two = registry.push_image("a", "2", [b"y"], [diff("y")])
    client = registry.client()
    client.delete_manifest("a", "2")
    assert registry.requests[-1].method == "DELETE" and registry.requests[-1].url.path == f"/v2/a/manifests/{two}"
    assert client.tags("a") == ["1", "same"]
    with pytest.raises(errors.ManifestUnknown):
        client.delete_manifest("a", "2")
    assert client.delete_repository_tags("a") == [one]
    assert client.tags("a") == [] and client.delete_repository_tags("nobody") == []


def test_repository_reset_deletes_the_manifests_an_index_lists(registry):
    """An index's image and attestation manifests have no tag; left behind, garbage collection keeps their
    layers, so deleting the tags of a BuildKit-pushed repository would free nothing."""
    index, image, attestation = push_buildkit_index(registry, "k", "1")
    client = registry.client()
    assert client.manifest("k", index).entries == [image, attestation]
    for name in ("img", "att"):
        registry.tags["k"].pop(name)          # as BuildKit pushes it: the index's entries have no tag of their own
    assert client.tags("k") == ["1"]
    assert client.delete_repository_tags("k") == [index, image, attestation]
    deleted = [r.url.path for r in registry.requests if r.method == "DELETE"]
    assert deleted == [f"/v2/k/manifests/{d}" for d in (index, image, attestation)]

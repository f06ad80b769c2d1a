"""The pure parts of lessons 08 and 09: release tag names, index documents, and an image built by hand."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile

import pytest

from labsupport.errors import LabError
from labsupport.lessons import handmade
from labsupport.lessons.production import IndexEntry, assemble_index, index_document, parse_platform
from labsupport.refs import is_commit_tag, is_semver_tag
from labsupport.registry import MANIFEST_LIST, MANIFEST_V2, OCI_INDEX, OCI_MANIFEST, Manifest


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class MemoryRegistry:
    """An in-memory stand-in for RegistryClient's blob and manifest calls, recording each call."""

    def __init__(self, lose_blobs: bool = False) -> None:
        self.blobs: dict[str, bytes] = {}
        self.manifests: dict[str, tuple[bytes, str]] = {}
        self.calls: list[str] = []
        self.lose_blobs = lose_blobs

    def upload_blob(self, repository: str, data: bytes) -> str:
        self.calls.append("upload")
        if not self.lose_blobs:
            self.blobs[digest_of(data)] = data
        return digest_of(data)

    def blob_exists(self, repository: str, digest: str) -> int | None:
        self.calls.append("head")
        return len(self.blobs[digest]) if digest in self.blobs else None

    def put_manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> str:
        self.calls.append(f"manifest {reference}")
        self.manifests[reference] = (body, media_type)
        self.manifests[digest_of(body)] = (body, media_type)
        return digest_of(body)

    def manifest(self, repository: str, reference: str) -> Manifest:
        body, media_type = self.manifests[reference]
        return Manifest(repository, reference, digest_of(body), media_type, body, json.loads(body))


# -- release tags and platforms ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tag, semver",
    [
        ("1.2.0", True),
        ("v2.10.3", True),
        ("1.0.0-rc.1", True),
        ("1.2", False),
        ("01.2.3", False),
        ("latest", False),
        ("1.2.3.4", False),
    ],
)
def test_semver_tags(tag, semver):
    assert is_semver_tag(tag) is semver


@pytest.mark.parametrize(
    "tag, commit",
    [
        ("3f2a9c1", True),
        ("3f2a9c1d4e5f60718293a4b5c6d7e8f901234567", True),
        ("3f2a9c", False),
        ("3F2A9C1", False),
        ("1234567", False),
        ("3f2a9c1d4e5f60718293a4b5c6d7e8f9012345678", False),
        ("1.2.0", False),
    ],
)
def test_commit_tags(tag, commit):
    assert is_commit_tag(tag) is commit


def test_platforms_parse_with_and_without_a_variant():
    assert parse_platform("linux/amd64") == {"os": "linux", "architecture": "amd64"}
    assert parse_platform("linux/arm/v7") == {"os": "linux", "architecture": "arm", "variant": "v7"}
    for bad in ("amd64", "linux/amd64/v8/x", "Linux/AMD64", ""):
        with pytest.raises(LabError, match="not a platform"):
            parse_platform(bad)


def test_an_index_over_docker_manifests_is_a_manifest_list_else_an_oci_index():
    docker = [
        IndexEntry("linux/amd64", "sha256:" + "a" * 64, 500, MANIFEST_V2),
        IndexEntry("linux/arm64", "sha256:" + "b" * 64, 501, MANIFEST_V2),
    ]
    body, media_type = index_document(docker)
    document = json.loads(body)
    assert media_type == document["mediaType"] == MANIFEST_LIST
    assert [(m["digest"][-1], m["size"], m["platform"]["architecture"]) for m in document["manifests"]] == [
        ("a", 500, "amd64"),
        ("b", 501, "arm64"),
    ]
    mixed = docker[:1] + [IndexEntry("linux/arm64", "sha256:" + "c" * 64, 9, OCI_MANIFEST)]
    assert index_document(mixed)[1] == OCI_INDEX


def test_assemble_index_reads_each_manifest_and_puts_the_index_under_the_tag():
    store = MemoryRegistry()
    for tag, label in (("1.0-amd64", "x"), ("1.0-arm64", "y")):
        store.put_manifest(
            "learner/multi",
            tag,
            json.dumps({"schemaVersion": 2, "config": {"digest": label}}).encode(),
            MANIFEST_V2,
        )
    digest = assemble_index(
        store, "learner/multi", "1.0", {"linux/amd64": "1.0-amd64", "linux/arm64": "1.0-arm64"}
    )
    index = store.manifest("learner/multi", "1.0")
    assert index.digest == digest and index.is_index and index.platforms == ["linux/amd64", "linux/arm64"]
    assert index.digest_for("linux/arm64") == store.manifest("learner/multi", "1.0-arm64").digest
    with pytest.raises(LabError, match="at least one platform"):
        assemble_index(store, "learner/multi", "2.0", {})


def test_assemble_index_reads_the_platform_image_out_of_an_index_that_buildkit_pushed():
    """On the containerd image store, `docker build` with BuildKit pushes an index: the image plus a provenance
    attestation (unknown/unknown). The new index lists that index's image for the platform, never the index."""
    store = MemoryRegistry()
    image = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {"digest": "x"}}).encode()
    attestation = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {"digest": "a"}}).encode()
    store.put_manifest("learner/multi", digest_of(image), image, OCI_MANIFEST)
    store.put_manifest("learner/multi", digest_of(attestation), attestation, OCI_MANIFEST)
    built = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": digest_of(image), "size": len(image),
         "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": OCI_MANIFEST, "digest": digest_of(attestation), "size": len(attestation),
         "platform": {"os": "unknown", "architecture": "unknown"},
         "annotations": {"vnd.docker.reference.type": "attestation-manifest",
                         "vnd.docker.reference.digest": digest_of(image)}}]}
    store.put_manifest("learner/multi", "1.0-amd64", json.dumps(built).encode(), OCI_INDEX)
    store.put_manifest("learner/multi", "1.0-arm64",
                       json.dumps({"schemaVersion": 2, "config": {"digest": "y"}}).encode(), MANIFEST_V2)

    digest = assemble_index(store, "learner/multi", "1.0",
                            {"linux/amd64": "1.0-amd64", "linux/arm64": "1.0-arm64"})
    index = store.manifest("learner/multi", digest)
    assert index.platforms == ["linux/amd64", "linux/arm64"] and not index.attestations
    assert index.digest_for("linux/amd64") == digest_of(image)
    assert index.document["manifests"][0]["size"] == len(image)
    assert index.media_type == OCI_INDEX          # an OCI image manifest in it: not a Docker manifest list
    with pytest.raises(LabError, match="without a linux/s390x image"):
        assemble_index(store, "learner/multi", "2.0", {"linux/s390x": "1.0-amd64"})


# -- an image by hand ---------------------------------------------------------------------------------------


def members(tar: bytes) -> list[tuple[str, int, bool]]:
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        return [(m.name.rstrip("/"), m.mode, m.isdir()) for m in archive]


def test_pack_files_is_deterministic_with_folders_first_and_sensible_modes():
    files = {
        "app/hello.sh": b"#!/bin/sh\necho hi\n",
        "app/data/notes.txt": b"notes",
        "/bin/tool": (b"x", 0o700),
    }
    tar = handmade.pack_files(files)
    assert tar == handmade.pack_files(dict(reversed(list(files.items()))))
    assert members(tar) == [
        ("app", 0o755, True),
        ("bin", 0o755, True),
        ("app/data", 0o755, True),
        ("app/data/notes.txt", 0o644, False),
        ("app/hello.sh", 0o755, False),
        ("bin/tool", 0o700, False),
    ]


@pytest.mark.parametrize("files", [{}, {"../etc/passwd": b"x"}, {"app/": b"x"}, {"  ": b"x"}])
def test_a_layer_refuses_no_files_and_paths_outside_the_image(files):
    with pytest.raises(LabError):
        handmade.pack_files(files)


def test_pick_files_copies_regular_files_and_hard_links_with_their_modes():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        busybox = tarfile.TarInfo("./bin/busybox")
        busybox.size, busybox.mode = 4, 0o755
        tar.addfile(busybox, io.BytesIO(b"\x7fELF"))
        link = tarfile.TarInfo("bin/sh")
        link.type, link.linkname = tarfile.LNKTYPE, "./bin/busybox"
        tar.addfile(link)
        hidden = tarfile.TarInfo("etc/.env")
        hidden.size = 2
        tar.addfile(hidden, io.BytesIO(b"ok"))
    picked = handmade.pick_files(buffer.getvalue(), ["/bin/busybox", "bin/sh", "etc/.env"])
    assert picked == {
        "bin/busybox": (b"\x7fELF", 0o755),
        "bin/sh": (b"\x7fELF", 0o644),
        "etc/.env": (b"ok", 0o644),
    }
    with pytest.raises(LabError, match="bin/missing"):
        handmade.pick_files(buffer.getvalue(), ["bin/missing"])


def test_push_by_hand_sends_blobs_then_checks_them_then_puts_a_matching_manifest():
    store = MemoryRegistry()
    pushed = handmade.push_by_hand(
        store,
        "learner/handmade",
        "1.0",
        {"app/hi.txt": b"hi"},
        cmd=["/bin/cat", "/app/hi.txt"],
        architecture="arm64",
    )
    assert store.calls == ["upload", "head", "upload", "head", "manifest 1.0"]
    manifest = json.loads(pushed.manifest)
    config = json.loads(store.blobs[pushed.config_digest])
    layer = store.blobs[pushed.layer_digest]
    assert manifest["mediaType"] == MANIFEST_V2 and pushed.digest == digest_of(pushed.manifest)
    assert manifest["config"] == {
        "mediaType": handmade.IMAGE_CONFIG,
        "size": len(store.blobs[pushed.config_digest]),
        "digest": pushed.config_digest,
    }
    assert manifest["layers"] == [
        {"mediaType": handmade.LAYER_GZIP, "size": len(layer), "digest": pushed.layer_digest}
    ]
    assert config["rootfs"]["diff_ids"] == [pushed.diff_id] == [digest_of(gzip.decompress(layer))]
    assert (config["architecture"], config["os"], config["config"]["Cmd"]) == (
        "arm64",
        "linux",
        ["/bin/cat", "/app/hi.txt"],
    )
    assert [step.split()[0] for step in pushed.steps] == ["layer:", "POST", "HEAD", "POST", "HEAD", "PUT"]
    again = handmade.push_by_hand(
        MemoryRegistry(),
        "learner/handmade",
        "1.0",
        {"app/hi.txt": b"hi"},
        cmd=["/bin/cat", "/app/hi.txt"],
        architecture="arm64",
    )
    assert again.digest == pushed.digest  # same files, same digests: nothing depends on time


def test_push_by_hand_stops_when_the_registry_does_not_hold_an_uploaded_blob():
    store = MemoryRegistry(lose_blobs=True)
    with pytest.raises(LabError, match="does not hold the layer blob"):
        handmade.push_by_hand(store, "learner/handmade", "1.0", {"a.txt": b"a"})
    assert "manifest 1.0" not in store.calls


@pytest.mark.parametrize(
    "machine, arch", [("x86_64", "amd64"), ("aarch64", "arm64"), ("AMD64", "amd64"), ("mips", "mips")]
)
def test_machine_names_become_go_architectures(machine, arch):
    assert handmade.engine_architecture(machine) == arch

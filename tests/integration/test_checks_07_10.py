"""The checks of lessons 07-09 on the real engine and lab registry (lesson 10: test_checks_10_capstone.py).

The passing state passes, and each mistake, made for real, gets its own code and a hint that names the fixing
command with the lab's real names; no check raises on a learner's mistake. Helpers: lessons_07_10.py.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable

import pytest

from labsupport import secrets
from labsupport.checks.base import CheckResult
from labsupport.engine import Engine
from labsupport.errors import LabError, ManifestInvalid
from labsupport.lessons import handmade
from labsupport.lessons.production import assemble_index
from labsupport.refs import COMMIT_TAG_LENGTH
from labsupport.registry import MANIFEST_V2
from tests.conftest import run_hint

from .lessons_07_10 import (
    APPS,
    COMMIT,
    OTHER_COMMIT,
    RUN,
    assert_mistake,
    build,
    check,
    context,
    delete_blob,
    forget,
    plain,
    push,
    remember,
)

pytestmark = pytest.mark.docker




# -- security.no-secrets ---------------------------------------------------------------------------------

SECURE = ("hello-lab", "secure")


def test_security_without_the_secure_tag(lab_of, admin):
    forget(admin, f"{lab_of.learner}/hello-lab", "secure")
    result = check("security.no-secrets", lab_of)
    assert_mistake(
        result, "secure-tag-missing", lab_of, "Dockerfile.secure", "docker push", lab_of.ref(*SECURE)
    )


def test_security_a_secret_deleted_by_a_later_layer_is_still_found(lab_of, admin, docker_client):
    local = build(docker_client, lab_of, APPS / "secret", "leaky", variant="leaky")
    shown = Engine(docker_client, config=lab_of).run(local)
    assert "API token: none" in shown and ".env exists" not in shown  # the container no longer shows it...
    digest = push(docker_client, lab_of, local, *SECURE)
    result = check("security.no-secrets", lab_of)
    assert_mistake(result, "secret-deleted-later", lab_of, "Dockerfile.secure", "API_TOKEN")
    assert (
        "/app/.env" in result.message and "RUN rm /app/.env" in result.message and "deletes" in result.message
    )
    assert secrets.PLANTED_SECRET not in str(result)
    # ...yet the layer the message names, read back from the registry, still holds the token.
    manifest = admin.image_manifest(f"{lab_of.learner}/hello-lab", digest)
    named = [blob for blob in manifest.layers if blob.digest[:19] in result.message]
    assert len(named) == 1
    assert secrets.PLANTED_SECRET.encode() in gzip.decompress(
        admin.get_blob(manifest.repository, named[0].digest)
    )


def test_security_a_secret_kept_in_a_layer(lab_of, docker_client, tmp_path):
    folder = context(
        tmp_path,
        "ARG BASE\nFROM ${BASE}\nCOPY env /app/.env\n",
        {"env": f"API_TOKEN={secrets.PLANTED_SECRET}\n".encode()},
    )
    push(docker_client, lab_of, build(docker_client, lab_of, folder, "kept", variant="kept"), *SECURE)
    result = check("security.no-secrets", lab_of)
    assert_mistake(result, "secret-in-layer", lab_of, "Dockerfile.secure")
    assert "layer 2 of 2 (COPY" in result.message and "/app/.env" in result.message


def test_security_a_build_argument_lands_in_the_config(lab_of, docker_client, tmp_path):
    folder = context(
        tmp_path,
        f"ARG BASE\nFROM ${{BASE}}\nARG LAB_SECRET={secrets.PLANTED_SECRET}\nRUN echo built > /built.txt\n",
    )
    push(docker_client, lab_of, build(docker_client, lab_of, folder, "arg", variant="arg"), *SECURE)
    result = check("security.no-secrets", lab_of)
    assert_mistake(result, "secret-in-config", lab_of, "Dockerfile.secure")
    assert "history[" in result.message


def test_security_another_secret_shape_is_reported_masked(lab_of, docker_client, tmp_path):
    key = ("-----BEGIN " + "OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAA\n").encode()
    folder = context(
        tmp_path, "ARG BASE\nFROM ${BASE}\nCOPY id_ed25519 /root/.ssh/id_ed25519\n", {"id_ed25519": key}
    )
    push(docker_client, lab_of, build(docker_client, lab_of, folder, "key", variant="key"), *SECURE)
    result = check("security.no-secrets", lab_of)
    assert_mistake(result, "secret-pattern", lab_of, "docker build")
    assert "private key" in result.message and "/root/.ssh/id_ed25519" in result.message
    assert "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAA" not in str(result)


def test_security_the_secure_build_passes(lab_of, docker_client):
    local = build(
        docker_client, lab_of, APPS / "secret", "secure", variant="secure", dockerfile="Dockerfile.secure"
    )
    push(docker_client, lab_of, local, *SECURE)
    result = check("security.no-secrets", lab_of)
    assert (result.passed, result.code) == (True, "ok"), str(result)
    assert "3 layers" in result.message


# -- production.tags --------------------------------------------------------------------------------------

RELEASE_TAGS = ("1.2.0", "1.2", COMMIT, OTHER_COMMIT)


@pytest.fixture
def release(lab_of, admin, docker_client, tmp_path) -> Callable[..., None]:
    """Push two unique images under the release tags asked for: `release(A=[...], B=[...])`."""
    forget(admin, f"{lab_of.learner}/hello-lab", *RELEASE_TAGS)
    first, second = (
        plain(docker_client, lab_of, tmp_path, variant) for variant in ("release-a", "release-b")
    )

    def put(a: tuple[str, ...] = (), b: tuple[str, ...] = ()) -> None:
        for local, tags in ((first, a), (second, b)):
            for tag in tags:
                push(docker_client, lab_of, local, "hello-lab", tag)

    yield put
    forget(admin, f"{lab_of.learner}/hello-lab", *RELEASE_TAGS)


def test_tags_none_of_the_three(lab_of, release):
    result = check("production.tags", lab_of)
    assert_mistake(result, "missing-tag", lab_of, "docker build", lab_of.ref("hello-lab", "1.2.0"))
    assert "1.2.0" in result.message and "1.2," in result.message and "commit" in result.message


def test_tags_without_a_commit_tag(lab_of, release):
    release(a=("1.2.0", "1.2"))
    result = check("production.tags", lab_of)
    assert_mistake(result, "missing-tag", lab_of, f"docker push {lab_of.ref('hello-lab', COMMIT)}")
    assert "commit" in result.message and "1.2.0" not in result.message.split(";")[0]


def test_tags_without_the_minor_tag(lab_of, release):
    release(a=("1.2.0", COMMIT))
    result = check("production.tags", lab_of)
    assert_mistake(
        result,
        "missing-tag",
        lab_of,
        f"docker tag {lab_of.ref('hello-lab', '1.2.0')} {lab_of.ref('hello-lab', '1.2')}",
    )


def test_tags_minor_tag_on_another_digest(lab_of, release):
    release(a=("1.2.0", COMMIT), b=("1.2",))
    result = check("production.tags", lab_of)
    assert_mistake(result, "different-digests", lab_of, lab_of.ref("hello-lab", "1.2"))
    assert "1.2 points at" in result.message


def test_tags_commit_tag_on_another_digest(lab_of, release):
    release(a=("1.2.0", "1.2"), b=(COMMIT,))
    result = check("production.tags", lab_of)
    assert_mistake(result, "different-digests", lab_of, f"docker push {lab_of.ref('hello-lab', COMMIT)}")
    assert COMMIT in result.message


def test_tags_a_7_character_commit_tag_is_not_the_lessons_12(lab_of, release):
    """The lesson tags with 12 characters of HEAD's id: a shorter (or another) commit tag on the right digest
    does not pass, and the hint, run as printed, makes the lesson's tag and the check pass."""
    release(a=("1.2.0", "1.2", OTHER_COMMIT), b=(COMMIT,))
    result = check("production.tags", lab_of)
    assert_mistake(result, "different-digests", lab_of, f"docker tag {lab_of.ref('hello-lab', '1.2.0')} "
                   f"{lab_of.ref('hello-lab', COMMIT)}")
    assert len(COMMIT) >= COMMIT_TAG_LENGTH
    run_hint(result.hint, lab_of)
    after = check("production.tags", lab_of)
    assert after.passed, str(after)
    assert COMMIT in after.message


def test_tags_on_one_digest_pass(lab_of, release, admin):
    release(a=("1.2.0", "1.2", COMMIT), b=(OTHER_COMMIT,))  # a stray commit tag elsewhere does not matter
    result = check("production.tags", lab_of)
    assert (result.passed, result.code) == (True, "ok"), str(result)
    assert COMMIT in result.message
    assert admin.head_manifest(f"{lab_of.learner}/hello-lab", "1.2") in result.message


# -- production.index ----------------------------------------------------------------------------------------


@pytest.fixture
def platforms(lab_of, admin, docker_client, tmp_path) -> str:
    """As lesson 08 makes them: `multi:1.0-amd64` built and pushed by docker (an index with its attestation on
    the containerd store with BuildKit), `multi:1.0-arm64` a stand-in pushed over the API with an arm64 config;
    `multi:1.0` gone. The repository."""
    repository = f"{lab_of.learner}/multi"
    forget(admin, repository, "1.0", "1.0-amd64", "1.0-arm64")
    push(docker_client, lab_of, plain(docker_client, lab_of, tmp_path, "multi-amd64"), "multi", "1.0-amd64")
    handmade.push_by_hand(admin, repository, "1.0-arm64", {"PLATFORM.txt": b"a stand-in for linux/arm64\n"},
                          architecture="arm64")
    yield repository
    forget(admin, repository, "1.0", "1.0-amd64", "1.0-arm64")


def test_index_missing(lab_of, platforms):
    assert_mistake(
        check("production.index", lab_of), "index-missing", lab_of, "assemble_index", "linux/arm64"
    )


def test_index_a_plain_build_is_not_a_multi_platform_index(lab_of, platforms, docker_client, tmp_path, admin):
    """A learner's one-platform build pushed as multi:1.0: a plain manifest (the legacy builder, or the classic
    store), or on the containerd store with BuildKit an index of that one image and its attestation."""
    push(docker_client, lab_of, plain(docker_client, lab_of, tmp_path, "multi-plain"), "multi", "1.0")
    result = check("production.index", lab_of)
    top = admin.manifest(platforms, "1.0")
    if top.is_index:
        assert_mistake(result, "single-platform", lab_of, "assemble_index")
        assert "attestation" in result.message and top.attestations
    else:
        assert_mistake(result, "not-an-index", lab_of, "assemble_index")
        assert MANIFEST_V2 in result.message


def test_index_with_a_single_platform(lab_of, platforms, admin):
    assemble_index(admin, platforms, "1.0", {"linux/amd64": "1.0-amd64"})
    assert admin.manifest(platforms, "1.0").platforms == ["linux/amd64"]
    result = check("production.index", lab_of)
    assert_mistake(
        result, "single-platform", lab_of, "docker buildx build --platform linux/amd64,linux/arm64"
    )


def test_index_of_two_platforms_passes(lab_of, platforms, admin):
    digest = assemble_index(admin, platforms, "1.0", {"linux/amd64": "1.0-amd64", "linux/arm64": "1.0-arm64"})
    index = admin.manifest(platforms, "1.0")
    assert (index.digest, index.is_index, index.platforms) == (digest, True, ["linux/amd64", "linux/arm64"])
    result = check("production.index", lab_of)
    assert (result.passed, result.code) == (True, "ok"), str(result)
    assert "linux/amd64, linux/arm64" in result.message


def test_assemble_index_takes_a_platform_image_out_of_an_index(lab_of, platforms, admin):
    """A source that is itself an index (as BuildKit pushes every image) gives its image for that platform;
    an index never lists another index, and a platform the source lacks is refused by name."""
    assemble_index(admin, platforms, "1.0", {"linux/amd64": "1.0-amd64", "linux/arm64": "1.0-arm64"})
    source = admin.manifest(platforms, "1.0")
    digest = assemble_index(admin, platforms, "1.1", {"linux/amd64": "1.0"})
    index = admin.manifest(platforms, "1.1")
    assert (index.digest, index.platforms) == (digest, ["linux/amd64"])
    assert index.digest_for("linux/amd64") == source.digest_for("linux/amd64")
    assert not admin.manifest(platforms, index.digest_for("linux/amd64")).is_index
    with pytest.raises(LabError, match="without a linux/s390x image"):
        assemble_index(admin, platforms, "1.2", {"linux/s390x": "1.0"})


# -- hood.handmade -------------------------------------------------------------------------------------------


@pytest.fixture
def by_hand(lab, admin, docker_client):
    """A function that pushes `<learner>/handmade:1.0` by hand with busybox from the base image and a script.

    No Docker login is needed for that (the lab's own credential talks HTTP); each test picks its Docker client.
    """
    config = lab.config
    repository = f"{config.learner}/handmade"
    forget(admin, repository, "1.0")
    engine = Engine(docker_client, config=config)
    base_layer = next(iter(engine.layer_tars(config.base_image)))[1]
    busybox = handmade.pick_files(base_layer, ["bin/busybox"])
    arch = docker_client.version().get("Arch", "amd64")

    def push_it(files: dict | None = None, cmd: list[str] | None = None) -> handmade.HandPush:
        script = f"#!/bin/busybox sh\necho handmade says hello from run {RUN}\n".encode()
        chosen = {**busybox, "app/hello.sh": script} if files is None else files
        return handmade.push_by_hand(admin, repository, "1.0", chosen, cmd=cmd, architecture=arch)

    yield push_it
    remember(docker_client, config.ref("handmade", "1.0"))  # the check pulled it: removed at the end
    forget(admin, repository, "1.0")


def test_handmade_missing(lab_of, by_hand):
    result = check("hood.handmade", lab_of)
    assert_mistake(
        result, "handmade-missing", lab_of, f"/v2/{lab_of.learner}/handmade/blobs/uploads/",
        f"/v2/{lab_of.learner}/handmade/manifests/1.0 with Content-Type"
    )
    assert "push_by_hand" not in result.hint  # the hint names the steps, not the helper that does them all


def test_handmade_pushed_by_hand_pulls_and_runs(lab_of, by_hand, admin):
    pushed = by_hand(cmd=["/bin/busybox", "sh", "/app/hello.sh"])
    assert admin.head_manifest(f"{lab_of.learner}/handmade", "1.0") == pushed.digest
    assert any(step.startswith("HEAD ") for step in pushed.steps)
    result = check("hood.handmade", lab_of)
    assert (result.passed, result.code) == (True, "ok"), str(result)
    assert f"handmade says hello from run {RUN}" in result.message


def test_a_registry_refuses_a_manifest_whose_blob_it_lacks(lab_of, admin):
    """Why the blob-missing state below is made by deleting a blob after the push: a PUT cannot make it."""
    config = handmade.image_config("sha256:" + "0" * 64, ["/x"], "amd64")
    layer = f"never uploaded {RUN}".encode()
    admin.upload_blob(f"{lab_of.learner}/handmade", config)
    with pytest.raises(ManifestInvalid) as refused:
        admin.put_manifest(
            f"{lab_of.learner}/handmade", "refused", handmade.manifest_document(config, layer), MANIFEST_V2
        )
    assert refused.value.code == "MANIFEST_BLOB_UNKNOWN"


def test_handmade_with_a_blob_the_registry_lacks(lab_of, by_hand, lab, admin):
    pushed = by_hand(cmd=["/bin/busybox", "sh", "/app/hello.sh"])
    delete_blob(lab, f"{lab_of.learner}/handmade", pushed.layer_digest)
    assert admin.blob_exists(f"{lab_of.learner}/handmade", pushed.layer_digest) is None
    result = check("hood.handmade", lab_of)
    assert_mistake(result, "blob-missing", lab_of, "PUT ?digest=")
    assert pushed.layer_digest in result.message and "layer 1" in result.message


def test_handmade_whose_config_does_not_match_its_layer_is_not_pullable(lab_of, by_hand, admin):
    """All blobs present, but the config's diff id is not the layer's: the registry accepts it, docker refuses."""
    repository = f"{lab_of.learner}/handmade"
    tar = handmade.pack_files({"app/hello.txt": f"hello {RUN}\n".encode()})
    layer = gzip.compress(tar, mtime=0)
    config = handmade.image_config(handmade.sha256(b"not the layer" + RUN.encode()), ["/bin/true"], "amd64")
    for blob in (layer, config):
        admin.upload_blob(repository, blob)
    admin.put_manifest(repository, "1.0", handmade.manifest_document(config, layer), MANIFEST_V2)
    result = check("hood.handmade", lab_of)
    assert_mistake(result, "not-pullable", lab_of, f"docker pull {lab_of.ref('handmade', '1.0')}")


def test_handmade_pull_without_a_docker_login(lab, logged_out_docker_config_dir, by_hand):
    by_hand(cmd=["/bin/busybox", "sh", "/app/hello.sh"])
    result = check("hood.handmade", lab.config)
    assert_mistake(result, "not-pullable", lab.config, f"docker login {lab.config.registry}")
    assert "auth" in result.message.lower()


@pytest.mark.parametrize("cmd", [["/app/no-such-program"], None], ids=["missing-program", "no-command"])
def test_handmade_that_pulls_but_does_not_run(lab_of, by_hand, cmd):
    by_hand(files={"app/hello.txt": f"no program here {RUN}\n".encode()}, cmd=cmd)
    result = check("hood.handmade", lab_of)
    assert_mistake(result, "does-not-run", lab_of, f"docker run --rm {lab_of.ref('handmade', '1.0')}")


def test_every_check_here_is_registered_with_its_lesson():
    from labsupport import course
    from labsupport.checks.base import check_function

    for exercise, lesson in (
        ("security.no-secrets", "07"),
        ("production.tags", "08"),
        ("production.index", "08"),
        ("hood.handmade", "09"),
        ("capstone.ship", "10"),
    ):
        info = course.exercise(exercise)
        assert check_function(info) and info.lesson == lesson
    assert json.dumps(CheckResult("x", True, "ok", "m").to_json())

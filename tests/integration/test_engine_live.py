"""The engine layer on the real Docker engine and real registries: layers, build, run, the structured push.

The push story (first push, repeat, one-layer change, cross-repository mount) runs against a registry of this
module's own: on the shared lab another test's push of the same base image would turn a "pushed" layer into a
"mounted" one. Its base image is made for this run too: the containerd image store remembers, per blob, which
repositories of a registry host it pushed it to (a label keyed by the host *without* its port), and tries a
mount from the first of them only, so a base layer that other tests pushed to other `localhost` registries
would be uploaded, not mounted. The error cases use the shared lab and Docker client configs.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
import uuid
from pathlib import Path

import pytest

from labsupport.config import LabConfig
from labsupport.dockercli import has_buildx
from labsupport.dockerconfig import Credential
from labsupport.engine import Engine
from labsupport.errors import BuildFailed, EngineUnavailable, ImageNotFound, PushFailed, RunFailed
from labsupport.lab import Lab
from labsupport.model import PushPhase
from labsupport.registry import RegistryClient
from tests.conftest import free_port, lab_env, new_docker_config

pytestmark = pytest.mark.docker
RUN = uuid.uuid4().hex[:6]
HELLO_DOCKERFILE = """ARG BASE
FROM $BASE
RUN echo "made at build time" > /etc/made && mkdir -p /app
COPY app.txt /app/app.txt
CMD ["cat", "/app/app.txt"]
"""
STEPS_DOCKERFILE = """ARG BASE
FROM $BASE
ENV GREETING=hi
RUN mkdir /data
RUN true
WORKDIR /app
RUN echo layered > /app/made
COPY app.txt /app/app.txt
LABEL course=registry
CMD ["cat", "/app/app.txt"]
"""


@pytest.fixture(scope="module")
def made(docker_client):
    """Every local tag this module makes; removed at the end."""
    refs: list[str] = []
    yield refs
    engine = Engine(docker_client)
    for ref in reversed(refs):
        engine.remove(ref, missing_ok=True, force=True)


@pytest.fixture(scope="module")
def own_lab(docker_client, lab_config, tmp_path_factory):
    """A registry for this module alone (hC-prefixed container and volume), purged at the end."""
    port = free_port()
    config = LabConfig.from_env({**lab_env(lab_config), "LAB_REGISTRY": f"localhost:{port}",
                                 "LAB_REGISTRY_URL": f"http://localhost:{port}",
                                 "LAB_CONTAINER": f"hC-engine-{RUN}-registry",
                                 "LAB_VOLUME": f"hC-engine-{RUN}-data",
                                 "LAB_STATE_DIR": str(tmp_path_factory.mktemp("hc-state"))})
    lab = Lab(config, client=docker_client)
    lab.up()
    yield lab
    lab.down(purge=True)


@pytest.fixture(scope="module")
def own_login(own_lab, tmp_path_factory):
    """A DOCKER_CONFIG folder logged in to this module's registry with `docker login --password-stdin`."""
    folder = new_docker_config(tmp_path_factory.mktemp("hc-docker-config"))
    done = subprocess.run(["docker", "login", own_lab.config.registry, "--username", own_lab.config.learner,
                           "--password-stdin"], input=own_lab.password(), capture_output=True, text=True,
                          env={**os.environ, "DOCKER_CONFIG": str(folder)}, check=False)
    assert done.returncode == 0, done.stderr
    return folder


def write_context(folder: Path, dockerfile: str, app: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Dockerfile").write_text(dockerfile)
    (folder / "app.txt").write_text(app)
    return folder


def config_of(docker_client, ref: str) -> dict:
    """The image config as `docker save` holds it: the independent truth for history and layers."""
    data = b"".join(docker_client.api.get_image(ref))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        entry = json.load(tar.extractfile("manifest.json"))[0]
        return json.load(tar.extractfile(entry["Config"]))


def empty_steps(config: dict) -> list[bool]:
    """The config's own answer to "which history steps made no layer"."""
    return [bool(step.get("empty_layer")) for step in config["history"]]


# -- the push story ------------------------------------------------------------------------------------------

def story_base(engine: Engine, folder: Path, made: list[str]) -> str:
    """A one-layer base image of this run alone: the host's static busybox as /bin/sh, and a file naming the run."""
    busybox = shutil.which("busybox")
    assert busybox, "busybox-static is needed (CI installs it)"
    (folder / "bin").mkdir(parents=True)
    shutil.copy(busybox, folder / "bin" / "busybox")
    (folder / "bin" / "sh").symlink_to("busybox")
    (folder / "etc").mkdir()
    (folder / "etc" / "story").write_text(f"the push story of run {RUN}\n")
    (folder / "Dockerfile").write_text("FROM scratch\nCOPY bin /bin\nCOPY etc /etc\n")
    name = f"hc-{RUN}-base:1"
    made.append(name)
    engine.build(folder, name)
    return name


def pushed_ids(store: str, manifest, view) -> list[str]:
    """The ids the engine's push stream gives an image's layers: the classic store names a layer by its diff id,
    the containerd store by its blob's digest in the registry (both cut to 12 hex digits)."""
    if store == "containerd":
        return [blob.digest.split(":")[1][:12] for blob in manifest.layers]
    return [layer.short_id for layer in view.fs_layers]


@pytest.fixture(scope="module")
def story(docker_client, own_lab, own_login, made, tmp_path_factory):
    """Push for real, in order: a first push, the same again, a one-layer change, the image to a 2nd repo."""
    engine = Engine(docker_client, config=own_lab.config)
    base = story_base(engine, tmp_path_factory.mktemp("hc-base"), made)
    registry = RegistryClient(own_lab.config.registry_url, registry=own_lab.config.registry,
                              credential=Credential(own_lab.config.learner, own_lab.password()))
    context = write_context(tmp_path_factory.mktemp("hc-hello"), HELLO_DOCKERFILE, f"hello {RUN}\n")
    repo, other = f"hc-{RUN}-hello", f"hc-{RUN}-other"
    local_1, local_2 = f"{repo}:1.0", f"{repo}:1.1"
    remote_1, remote_2 = own_lab.config.ref(repo, "1.0"), own_lab.config.ref(repo, "1.1")
    remote_other = own_lab.config.ref(other, "1.0")
    made.extend([local_1, local_2, remote_1, remote_2, remote_other])
    found: dict = {"events": {}}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DOCKER_CONFIG", str(own_login))
        engine.build(context, local_1, buildargs={"BASE": base})
        engine.tag(local_1, remote_1)
        for name, ref in (("first", remote_1), ("repeat", remote_1)):
            events = found["events"][name] = []
            found[name] = engine.push(ref, registry_client=registry, on_event=events.append)
        (context / "app.txt").write_text(f"hello {RUN}, changed\n")
        engine.build(context, local_2, buildargs={"BASE": base})
        engine.tag(local_2, remote_2)
        found["change"] = engine.push(remote_2, registry_client=registry)
        engine.tag(local_1, remote_other)
        found["events"]["mount"] = []
        found["mount"] = engine.push(remote_other, registry_client=registry,
                                     on_event=found["events"]["mount"].append)
        found["mount_without_registry"] = engine.push(remote_other)
    found["view_1"], found["view_2"] = engine.image_view(local_1), engine.image_view(local_2)
    found["manifest_1"] = registry.image_manifest(f"learner/{repo}", "1.0")
    found["manifest_2"] = registry.image_manifest(f"learner/{repo}", "1.1")
    found["store"] = engine.info().image_store
    found["repo"] = f"learner/{repo}"
    yield found
    registry.close()


def test_first_push_uploads_every_layer_with_its_compressed_size(story):
    report, manifest, view = story["first"], story["manifest_1"], story["view_1"]
    assert report.digest == (manifest.index_digest or manifest.digest)   # the index, where BuildKit made one
    assert [item.outcome for item in report.layers] == ["pushed"] * len(view.fs_layers)
    assert [item.id for item in report.layers] == pushed_ids(story["store"], manifest, view)
    assert [(item.digest, item.bytes) for item in report.layers] == [(b.digest, b.size)
                                                                    for b in manifest.layers]
    assert report.bytes_uploaded == sum(blob.size for blob in manifest.layers) > 0
    assert report.bytes_skipped == 0 and report.seconds > 0
    phases = {event.phase for event in story["events"]["first"]}
    # the classic store says Preparing before Pushing, the containerd store Waiting
    assert {PushPhase.PUSHING, PushPhase.PUSHED} <= phases
    assert {PushPhase.PREPARING, PushPhase.WAITING} & phases


def test_the_same_push_again_uploads_nothing(story):
    report = story["repeat"]
    assert report.digest == story["first"].digest
    assert report.bytes_uploaded == 0
    assert {item.outcome for item in report.layers} == {"exists"}
    assert report.bytes_skipped == story["first"].bytes_uploaded
    assert PushPhase.PUSHING not in {event.phase for event in story["events"]["repeat"]}


def test_changing_only_the_app_file_pushes_exactly_one_layer(story):
    report, manifest, view = story["change"], story["manifest_2"], story["view_2"]
    pushed = [item for item in report.layers if item.outcome == "pushed"]
    assert len(pushed) == 1
    assert pushed[0].id == pushed_ids(story["store"], manifest, view)[-1]  # the COPY of the app: the top layer
    assert (pushed[0].digest, pushed[0].bytes) == (manifest.layers[-1].digest, manifest.layers[-1].size)
    assert report.bytes_uploaded == manifest.layers[-1].size
    before = story["view_1"].diff_ids
    assert view.diff_ids[:-1] == before[:-1] and view.diff_ids[-1] != before[-1]


def test_the_same_image_in_a_second_repository_is_mounted_not_uploaded(story):
    report = story["mount"]
    assert report.digest == story["first"].digest
    assert {item.outcome for item in report.layers} == {"mounted"}
    assert report.bytes_uploaded == 0 and report.bytes_skipped == story["first"].bytes_uploaded
    sources = {event.source for event in story["events"]["mount"] if event.phase is PushPhase.MOUNTED}
    assert sources == {story["repo"]}


def test_without_a_registry_client_bytes_are_the_streams_totals(story):
    report = story["mount_without_registry"]
    assert {item.outcome for item in report.layers} == {"exists"}  # the 2nd repo holds them now
    assert all(item.bytes == 0 and item.digest == "" for item in report.layers)


# -- push errors ---------------------------------------------------------------------------------------------

def test_push_of_a_tag_without_registry_host_explains_the_missing_host(docker_client, lab, made, tmp_path):
    engine = Engine(docker_client, config=lab.config)
    local = f"hc-{RUN}-nohost:1.0"
    made.append(local)
    engine.build(write_context(tmp_path, HELLO_DOCKERFILE, "no host\n"), local,
                 buildargs={"BASE": lab.config.base_image})
    with pytest.raises(PushFailed) as caught:
        engine.push(local)
    error = caught.value
    # Here Docker Hub cannot be reached (no DNS); online it answers "denied". Either way: no registry host.
    assert error.kind == "no-registry-host", error.raw
    assert any(word in error.raw for word in ("registry-1.docker.io", "denied", "unauthorized", "dial tcp"))
    assert "has no registry host" in error.explanation
    target = f"{lab.config.registry}/{lab.config.learner}/hc-{RUN}-nohost:1.0"
    assert error.fix == f"docker tag {local} {target} && docker push {target}"


def test_push_without_login_says_no_credentials(docker_client, lab, logged_out_docker_config_dir, made):
    engine = Engine(docker_client, config=lab.config)
    ref = lab.config.ref(f"hc-{RUN}-nologin", "1.0")
    made.append(ref)
    engine.tag(lab.config.base_image, ref)
    with pytest.raises(PushFailed) as caught:
        engine.push(ref)
    assert caught.value.kind == "no-credentials", caught.value.raw
    # the classic store says only this; the containerd store wraps it in "push access denied, …"
    assert caught.value.raw.endswith("no basic auth credentials")
    assert f"docker login {lab.config.registry}" in caught.value.fix


def test_a_login_made_after_the_engine_object_counts(docker_client, lab, docker_config_dir, made):
    engine = Engine(docker_client, config=lab.config)
    ref = lab.config.ref(f"hc-{RUN}-login-late", "1.0")
    made.append(ref)
    engine.tag(lab.config.base_image, ref)
    report = engine.push(ref)  # docker_config_dir logged in after docker_client was created: reload_config
    assert report.digest.startswith("sha256:") and report.layers


def test_push_to_a_registry_that_is_down_and_of_a_missing_tag(docker_client, lab, made):
    engine = Engine(docker_client, config=lab.config)
    down = f"127.0.0.1:{free_port()}/learner/hc-{RUN}-down:1.0"
    made.append(down)
    engine.tag(lab.config.base_image, down)
    with pytest.raises(PushFailed) as caught:
        engine.push(down)
    assert caught.value.kind == "registry-down" and caught.value.fix.startswith("labsupport up")
    with pytest.raises(PushFailed) as missing:
        engine.push(lab.config.ref(f"hc-{RUN}-never-built", "1.0"))
    # the stores word it differently: "An image does not exist locally with the tag" / "tag does not exist"
    assert missing.value.kind == {"classic": "no-local-image", "containerd": "tag-missing"}[engine.info().image_store]


# -- image views, build, run, contents -----------------------------------------------------------------------

def test_image_view_of_a_multi_step_image_pairs_steps_with_diff_ids(docker_client, lab_config, made,
                                                                    tmp_path):
    engine = Engine(docker_client)
    ref = f"hc-{RUN}-steps:1.0"
    made.append(ref)
    image_id = engine.build(write_context(tmp_path, STEPS_DOCKERFILE, "steps\n"), ref,
                            buildargs={"BASE": lab_config.base_image})
    view = engine.image_view(ref)
    truth = config_of(docker_client, ref)
    assert view.image_id == image_id == engine.image_id(ref) and ref in view.tags
    assert list(view.diff_ids) == truth["rootfs"]["diff_ids"]
    assert [layer.empty for layer in view.layers] == empty_steps(truth)
    mine = [layer.instruction for layer in view.layers][-8:]
    assert mine[:5] == ["ENV GREETING=hi", "RUN mkdir /data", "RUN true", "WORKDIR /app",
                        "RUN echo layered > /app/made"]
    assert mine[5].startswith("COPY ") and mine[5].endswith(" /app/app.txt")
    assert mine[6:] == ["LABEL course=registry", 'CMD ["cat" "/app/app.txt"]']
    assert not any("#(nop)" in text or "/bin/sh -c" in text or text.startswith("|") for text in mine)
    # each step's size is the one `docker history` shows the learner
    assert [layer.size for layer in view.layers] == [step["Size"] for step in
                                                     reversed(docker_client.api.history(ref))]
    by_instruction = {layer.instruction: layer for layer in view.layers}
    assert by_instruction["RUN mkdir /data"].empty is False
    if has_buildx() is None:  # the legacy builder: sizes are file bytes; an empty change makes no layer
        assert by_instruction["RUN mkdir /data"].size == 0
        assert by_instruction["RUN true"].empty is True
        assert by_instruction["RUN echo layered > /app/made"].size == len("layered\n")
    else:                     # BuildKit: sizes are what each layer's snapshot takes on disk
        assert by_instruction["RUN echo layered > /app/made"].size >= len("layered\n")


@pytest.mark.skipif(not shutil.which("/usr/bin/docker"), reason="needs the docker 20.10 CLI for BuildKit")
def test_image_view_of_a_buildkit_image(docker_client, lab_config, made, tmp_path):
    ref = f"hc-{RUN}-buildkit:1.0"
    made.append(ref)
    write_context(tmp_path, STEPS_DOCKERFILE, "buildkit\n")
    built = subprocess.run(["/usr/bin/docker", "build", "-q", "--build-arg", f"BASE={lab_config.base_image}",
                            "-t", ref, str(tmp_path)], capture_output=True, text=True,
                           env={**os.environ, "DOCKER_BUILDKIT": "1"}, check=False, timeout=300)
    assert built.returncode == 0, built.stderr
    view = Engine(docker_client).image_view(ref)
    truth = config_of(docker_client, ref)
    assert list(view.diff_ids) == truth["rootfs"]["diff_ids"]
    assert [layer.empty for layer in view.layers] == empty_steps(truth)
    texts = [layer.instruction for layer in view.layers]
    for expected in ("RUN mkdir /data", "RUN echo layered > /app/made", "COPY app.txt /app/app.txt"):
        assert expected in texts
    assert not any(text.endswith("# buildkit") or "/bin/sh -c" in text for text in texts)


def test_build_failures_surface_the_builds_own_error(docker_client, lab_config, tmp_path):
    engine = Engine(docker_client)
    dockerfile = "ARG BASE\nFROM $BASE\nRUN echo about to fail && exit 3\n"
    failing = write_context(tmp_path / "fails", dockerfile, "x")
    # the legacy builder's words, or BuildKit's
    with pytest.raises(BuildFailed, match="returned a non-zero code: 3|did not complete successfully: exit code: 3",
                       ) as caught:
        engine.build(failing, f"hc-{RUN}-fails:1", buildargs={"BASE": lab_config.base_image})
    assert "RUN step failed" in caught.value.fix
    assert "about to fail" in caught.value.message  # the step's own output comes with the error
    with pytest.raises(BuildFailed) as no_base:
        engine.build(failing, f"hc-{RUN}-fails:1", buildargs={"BASE": f"hc-{RUN}-no-such-base:0"})
    assert "base image" in no_base.value.fix
    with pytest.raises(BuildFailed, match="no Dockerfile"):
        engine.build(tmp_path / "empty-folder", f"hc-{RUN}-fails:1")


def test_run_returns_output_removes_the_container_and_reports_failures(docker_client, lab_config, made,
                                                                       tmp_path):
    engine = Engine(docker_client)
    ref = f"hc-{RUN}-run:1.0"
    made.append(ref)
    engine.build(write_context(tmp_path, HELLO_DOCKERFILE, "ran fine\n"), ref,
                 buildargs={"BASE": lab_config.base_image})
    assert engine.run(ref) == "ran fine\n"
    with pytest.raises(RunFailed) as caught:
        engine.run(ref, ["sh", "-c", "echo broken; exit 4"])
    assert caught.value.exit_code == 4 and "broken" in caught.value.output
    with pytest.raises(RunFailed, match="did not exit within"):
        engine.run(ref, ["sleep", "30"], timeout=1)
    assert docker_client.containers.list(all=True, filters={"ancestor": engine.image_id(ref)}) == []


def test_layer_tar_holds_the_files_of_that_layer(docker_client, lab_config, made, tmp_path):
    engine = Engine(docker_client)
    ref = f"hc-{RUN}-files:1.0"
    made.append(ref)
    engine.build(write_context(tmp_path, HELLO_DOCKERFILE, "in the top layer\n"), ref,
                 buildargs={"BASE": lab_config.base_image})
    top = engine.image_view(ref).fs_layers[-1]
    with tarfile.open(fileobj=io.BytesIO(engine.layer_tar(ref, top.diff_id))) as tar:
        assert tar.extractfile("app/app.txt").read() == b"in the top layer\n"
    all_layers = list(engine.layer_tars(ref))
    assert [diff_id for diff_id, _ in all_layers] == list(engine.image_view(ref).diff_ids)
    with pytest.raises(ImageNotFound):
        engine.layer_tar(ref, "sha256:" + "0" * 64)


def test_info_exists_and_missing_images(docker_client):
    engine = Engine(docker_client)
    info = engine.info()
    assert info.version == docker_client.version()["Version"]
    assert info.image_store in ("classic", "containerd") and info.host
    assert engine.exists(f"hc-{RUN}-never:0") is False
    with pytest.raises(ImageNotFound, match=f"hc-{RUN}-never:0"):
        engine.image_view(f"hc-{RUN}-never:0")
    with pytest.raises(ImageNotFound):
        engine.tag(f"hc-{RUN}-never:0", f"hc-{RUN}-never:1")
    engine.remove(f"hc-{RUN}-never:0", missing_ok=True)


def test_connect_to_no_engine_says_how_to_start_one(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    with pytest.raises(EngineUnavailable) as caught:
        Engine.connect(timeout=5)
    assert "DOCKER_HOST" in caught.value.message and "no-engine.sock" in caught.value.message
    assert "colima start" in caught.value.fix and "systemctl start docker" in caught.value.fix

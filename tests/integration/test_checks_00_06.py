"""The checks of lessons 00-06 on the real engine and lab registry: each passing state passes, each mistake is
made for real and gets its own code and a hint naming the fixing command, and reset undoes an exercise.

Isolation on a shared engine: the app's local name is `hf-<run>-hello-lab` (images.LOCAL_NAME), every image is
built with this run's label (so no other build shares its id), and every tag made here is removed at the end.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import os
import shutil
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import docker.errors
import pytest

from labsupport.checks import caching, images, push, tagging
from labsupport.checks.base import HELLO_GREETING, run_check
from labsupport.checks.fixes import login_command
from labsupport.config import LabConfig
from labsupport.dockercli import builds_with_buildkit, has_buildx
from labsupport.dockerconfig import Credential
from labsupport.engine import Engine
from labsupport.errors import LabError, NameUnknown
from labsupport.lessons.reset import reset_all, reset_exercise
from labsupport.progress import ProgressLog
from labsupport.registry import RegistryClient
from tests.conftest import cli_build, free_port, fresh_build_cache
from tests.conftest import run_hint as run_printed

pytestmark = pytest.mark.docker
RUN = uuid.uuid4().hex[:6]
PREFIX = f"hf-{RUN}"
APP = Path(__file__).resolve().parents[2] / "notebooks" / "apps" / "hello"
made_tags: set[str] = set()


# -- fixtures and helpers ---------------------------------------------------------------------------------

@pytest.fixture(scope="module", autouse=True)
def own_names(docker_client):
    """Give the app a local name of this run; remove every tag this module made when it ends."""
    patch = pytest.MonkeyPatch()
    patch.setattr(images, "LOCAL_NAME", f"{PREFIX}-hello-lab")
    yield
    patch.undo()
    for name in made_tags:
        try:
            docker_client.images.remove(name)
        except docker.errors.ImageNotFound:
            continue  # removed by the test itself (reset)
        except docker.errors.APIError as exc:
            print(f"could not remove {name}: {exc}")


@pytest.fixture(autouse=True)
def untag_after_each(docker_client):
    """Each test starts with none of this module's tags: remove them after every test."""
    yield
    for name in list(made_tags):
        with contextlib.suppress(docker.errors.ImageNotFound):  # already removed by the test (reset)
            docker_client.images.remove(name)
        made_tags.discard(name)


@pytest.fixture
def admin(lab):
    """A registry client with the lab's credential; the app's repositories are emptied before and after."""
    credential = Credential(lab.config.learner, lab.password())
    with RegistryClient.for_lab(lab.config, credential=credential) as client:
        def empty() -> None:
            for name in (push.repository(lab.config), "bob/hello-lab"):
                client.delete_repository_tags(name)
        empty()
        yield client
        empty()


def docker_cli(*args: str) -> subprocess.CompletedProcess:
    """The docker CLI with this test's DOCKER_CONFIG; fails the test with its stderr when it fails."""
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, f"docker {' '.join(args[:2])} failed: {done.stderr.strip()}"
    return done


def app_copy(tmp_path: Path, version: str = "1.0", *, dockerfile: str | None = None,
             greeting: str | None = None) -> Path:
    """A copy of the hello app with another VERSION, Dockerfile or greeting."""
    folder = tmp_path / f"app-{uuid.uuid4().hex[:6]}"
    shutil.copytree(APP, folder)
    (folder / "VERSION").write_text(version + "\n")
    if dockerfile is not None:
        (folder / "Dockerfile").write_text(dockerfile)
    if greeting is not None:
        script = folder / "hello.sh"
        script.write_text(script.read_text().replace(HELLO_GREETING, greeting))
    return folder


def build(docker_client, lab_config: LabConfig, folder: Path, tag: str) -> str:
    """Build a folder as `tag` with the lab's base image and this run's label; the image id."""
    image_id = cli_build(folder, tag, base=lab_config.base_image, labels={"io.labsupport.test-run": RUN})
    made_tags.add(tag)
    return image_id


def tag(source: str, dest: str) -> None:
    docker_cli("tag", source, dest)
    made_tags.add(dest)


def check(exercise_id: str, config: LabConfig):
    result = run_check(exercise_id, config=config)
    assert result.exercise == exercise_id
    return result


def assert_mistake(result, code: str, *commands: str) -> None:
    """A failed result with this code whose hint names every given command."""
    assert (result.passed, result.code) == (False, code), str(result)
    for command in commands:
        assert command in result.hint, f"{command!r} not in hint {result.hint!r}"


def dead_config(lab_config: LabConfig) -> LabConfig:
    """The lab's settings, but pointing at a port where nothing listens."""
    port = free_port()
    return dataclasses.replace(lab_config, registry=f"localhost:{port}", registry_url=f"http://localhost:{port}")


# -- 00 setup.registry -------------------------------------------------------------------------------------

def test_setup_passes_on_the_lab(lab):
    assert check("setup.registry", lab.config).passed


def test_setup_registry_not_running(lab_config):
    assert_mistake(check("setup.registry", dead_config(lab_config)), "not-running", "labsupport up")


def test_setup_registry_without_auth(lab_config, docker_client):
    port = free_port()
    container = docker_client.containers.run(lab_config.registry_image, name=f"{PREFIX}-open-registry",
                                             detach=True, ports={"5000/tcp": ("127.0.0.1", port)})
    try:
        config = dataclasses.replace(lab_config, registry=f"localhost:{port}",
                                     registry_url=f"http://localhost:{port}")
        for _ in range(50):
            result = check("setup.registry", config)
            if result.code != "not-running":
                break
            time.sleep(0.2)
        assert_mistake(result, "no-auth", f"docker ps --filter publish={port}", "labsupport up")
    finally:
        container.remove(force=True)


def test_setup_port_held_by_another_program(lab_config):
    class NotARegistry(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), NotARegistry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        config = dataclasses.replace(lab_config, registry=f"127.0.0.1:{port}", registry_url=f"http://127.0.0.1:{port}")
        assert_mistake(check("setup.registry", config), "not-a-registry", f"lsof -i :{port}", "labsupport up")
    finally:
        server.shutdown()


def test_setup_lab_password_does_not_match(lab, tmp_path):
    state = tmp_path / "other-state"
    state.mkdir()
    (state / "password").write_text("not-the-registry-password\n")
    config = dataclasses.replace(lab.config, state_dir=state)
    assert_mistake(check("setup.registry", config), "credential-mismatch", "labsupport up")


# -- 01 images.build -----------------------------------------------------------------------------------------

def test_build_passes_for_the_app(lab_config, docker_client):
    build(docker_client, lab_config, APP, images.local_ref("1.0"))
    result = check("images.build", lab_config)
    assert result.passed, str(result)


def test_build_image_missing(lab_config):
    assert_mistake(check("images.build", lab_config), "image-missing",
                   f"docker build -t {images.local_ref('1.0')}", str(images.display_path(APP)))


def test_build_tagged_latest_instead(lab_config, docker_client):
    build(docker_client, lab_config, APP, images.local_ref("latest"))
    assert_mistake(check("images.build", lab_config), "wrong-tag",
                   f"docker tag {images.local_ref('latest')} {images.local_ref('1.0')}")


def test_build_from_another_dockerfile(lab_config, docker_client, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "Dockerfile").write_text(f'ARG BASE\nFROM ${{BASE}}\nCMD ["echo", "{HELLO_GREETING}"]\n')
    build(docker_client, lab_config, other, images.local_ref("1.0"))
    assert_mistake(check("images.build", lab_config), "not-from-app",
                   f"docker build -t {images.local_ref('1.0')}")


def test_build_that_does_not_run(lab_config, docker_client, tmp_path):
    broken = (APP / "Dockerfile").read_text().replace('CMD ["/bin/sh", "/app/hello.sh"]',
                                                      'CMD ["/bin/sh", "-c", "echo broken >&2; exit 3"]')
    build(docker_client, lab_config, app_copy(tmp_path, dockerfile=broken), images.local_ref("1.0"))
    assert_mistake(check("images.build", lab_config), "does-not-run",
                   f"docker run --rm {images.local_ref('1.0')}")


def test_build_with_another_greeting(lab_config, docker_client, tmp_path):
    build(docker_client, lab_config, app_copy(tmp_path, greeting="Howdy"), images.local_ref("1.0"))
    result = check("images.build", lab_config)
    assert_mistake(result, "wrong-greeting", f"docker build -t {images.local_ref('1.0')}")
    assert "Howdy" in result.message


# -- 03 tagging.tag ------------------------------------------------------------------------------------------

@pytest.fixture
def tag_config(lab_config) -> LabConfig:
    """The lab with a learner name of this run: its local tags cannot meet anyone else's."""
    return dataclasses.replace(lab_config, learner=f"hf{RUN}")


@pytest.fixture
def source(tag_config, docker_client) -> str:
    build(docker_client, tag_config, APP, images.local_ref("1.0"))
    return images.local_ref("1.0")


def test_tag_passes(tag_config, source):
    tag(source, tagging.target_ref(tag_config))
    assert check("tagging.tag", tag_config).passed


def test_tag_source_missing(tag_config):
    assert_mistake(check("tagging.tag", tag_config), "source-missing", "docker build",
                   tagging.tag_command(tag_config))


def test_tag_not_tagged(tag_config, source):
    assert_mistake(check("tagging.tag", tag_config), "not-tagged", tagging.tag_command(tag_config))


@pytest.mark.parametrize("wrong, code", [
    ("{learner}/hello-lab:1.0", "missing-host"),
    ("127.0.0.1:{port}/{learner}/hello-lab:1.0", "wrong-host"),
    ("{registry}/bob/hello-lab:1.0", "wrong-namespace"),
    ("{registry}/hello-lab:1.0", "wrong-namespace"),
    ("{registry}/{learner}/hello:1.0", "wrong-repository"),
    ("{registry}/{learner}/hello-lab:latest", "wrong-tag"),
])
def test_tag_mistakes(tag_config, source, wrong, code):
    name = wrong.format(learner=tag_config.learner, port=tag_config.port, registry=tag_config.registry)
    tag(source, name)
    result = check("tagging.tag", tag_config)
    right = f"{tag_config.registry}/{tag_config.learner}/hello-lab:1.0"
    assert_mistake(result, code, f"docker tag {source} {right}")
    assert name.split(":")[0].split("/")[-1] in result.message


def test_tag_wrong_name_among_several_lab_names(tag_config, source):
    """A leftover lab name of the image (lesson 08's `multi:1.0-amd64`) is not blamed for the learner's attempt
    at the exercise's name; the hint, run as printed, makes the check pass."""
    leftover = f"{tag_config.registry}/{tag_config.learner}/multi:1.0-amd64"
    attempt = f"{tag_config.learner}/hello-lab:1.0"
    tag(source, leftover)
    tag(source, attempt)
    result = check("tagging.tag", tag_config)
    assert_mistake(result, "missing-host", tagging.tag_command(tag_config))
    assert attempt in result.message and "multi" not in result.message
    run_hint(result.hint, tag_config)
    made_tags.add(tagging.target_ref(tag_config))
    assert check("tagging.tag", tag_config).passed


def test_tag_points_at_another_image(tag_config, source, docker_client, tmp_path):
    build(docker_client, tag_config, app_copy(tmp_path, "0.9"), tagging.target_ref(tag_config))
    assert_mistake(check("tagging.tag", tag_config), "different-image", tagging.tag_command(tag_config))


# -- 04 login.logged-in --------------------------------------------------------------------------------------

def login_cli(lab, host: str) -> None:
    done = subprocess.run(["docker", "login", host, "-u", lab.config.learner, "--password-stdin"],
                          input=lab.password(), capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr


def test_login_passes(lab, docker_config_dir):
    result = check("login.logged-in", lab.config)
    assert result.passed, str(result)
    assert lab.password() not in str(result.to_json())


def test_login_no_credential(lab, logged_out_docker_config_dir):
    assert_mistake(check("login.logged-in", lab.config), "no-credential",
                   f"docker login {lab.config.registry} -u {lab.config.learner} --password-stdin")


def test_login_to_the_loopback_address_instead(lab, logged_out_docker_config_dir):
    login_cli(lab, f"127.0.0.1:{lab.config.port}")
    result = check("login.logged-in", lab.config)
    assert_mistake(result, "wrong-host", f"docker login {lab.config.registry} ")
    assert f"127.0.0.1:{lab.config.port}" in result.message


def test_login_to_localhost_when_the_lab_is_the_loopback_address(lab, logged_out_docker_config_dir):
    login_cli(lab, lab.config.registry)
    numeric = dataclasses.replace(lab.config, registry=f"127.0.0.1:{lab.config.port}",
                                  registry_url=f"http://127.0.0.1:{lab.config.port}")
    assert_mistake(check("login.logged-in", numeric), "wrong-host",
                   f"docker login 127.0.0.1:{lab.config.port} ")


def write_auth(folder: Path, host: str, user: str, secret: str) -> None:
    encoded = base64.b64encode(f"{user}:{secret}".encode()).decode()
    (folder / "config.json").write_text(json.dumps({"auths": {host: {"auth": encoded}}}))


def test_login_credential_rejected(lab, logged_out_docker_config_dir):
    write_auth(logged_out_docker_config_dir, lab.config.registry, lab.config.learner, "an-old-password")
    result = check("login.logged-in", lab.config)
    assert_mistake(result, "rejected", f"docker login {lab.config.registry}")
    assert "an-old-password" not in str(result.to_json())


def test_login_config_unreadable(lab, logged_out_docker_config_dir):
    (logged_out_docker_config_dir / "config.json").write_text("{not json")
    assert_mistake(check("login.logged-in", lab.config), "config-unreadable", "docker login")


def test_login_raises_when_the_registry_is_down(lab, logged_out_docker_config_dir):
    config = dead_config(lab.config)
    write_auth(logged_out_docker_config_dir, config.registry, config.learner, "whatever")
    with pytest.raises(LabError) as info:
        check("login.logged-in", config)
    assert info.value.fix.startswith("labsupport up")


# -- 05 push.pushed ------------------------------------------------------------------------------------------

@pytest.fixture
def pushing(lab, admin, docker_config_dir, docker_client):
    """The lab, logged in, its app repositories empty, and the app built as the local 1.0."""
    build(docker_client, lab.config, APP, images.local_ref("1.0"))
    return lab.config


def test_push_passes(pushing, admin, docker_client):
    tag(images.local_ref("1.0"), tagging.target_ref(pushing))
    docker_cli("push", tagging.target_ref(pushing))
    result = check("push.pushed", pushing)
    assert result.passed, str(result)
    # What lesson 05 leaves in the registry: on the containerd store with BuildKit, the index a learner's
    # `docker build` makes, its image beside a provenance attestation (unknown/unknown); else one manifest.
    top = admin.manifest(push.repository(pushing), "1.0")
    buildkit_index = Engine(docker_client).info().image_store == "containerd" and has_buildx() is not None
    assert top.is_index is buildkit_index
    if buildkit_index:
        assert "unknown/unknown" in top.platforms and len(top.attestations) == 1 and len(top.image_platforms) == 1
        view = admin.remote_view(push.repository(pushing), "1.0")
        assert (view.index_digest, view.platform) == (top.digest, top.image_platforms[0])


def test_push_not_tagged(pushing):
    assert_mistake(check("push.pushed", pushing), "not-tagged", tagging.tag_command(pushing),
                   f"docker push {tagging.target_ref(pushing)}")


def test_push_tagged_never_pushed(pushing):
    tag(images.local_ref("1.0"), tagging.target_ref(pushing))
    result = check("push.pushed", pushing)
    assert_mistake(result, "not-pushed", f"docker push {tagging.target_ref(pushing)}")
    assert "docker tag" not in result.hint


def test_push_to_another_namespace(pushing):
    wrong = f"{pushing.registry}/bob/hello-lab:1.0"
    tag(images.local_ref("1.0"), wrong)
    docker_cli("push", wrong)
    assert_mistake(check("push.pushed", pushing), "wrong-namespace",
                   f"docker push {tagging.target_ref(pushing)}")


def test_push_of_another_tag(pushing):
    wrong = tagging.target_ref(pushing, "latest")
    tag(images.local_ref("1.0"), wrong)
    docker_cli("push", wrong)
    assert_mistake(check("push.pushed", pushing), "wrong-tag", f"docker push {tagging.target_ref(pushing)}")


@pytest.mark.parametrize("retagged", [True, False])
def test_push_then_rebuilt(pushing, docker_client, tmp_path, retagged):
    target = tagging.target_ref(pushing)
    tag(images.local_ref("1.0"), target)
    docker_cli("push", target)
    build(docker_client, pushing, app_copy(tmp_path, "1.0-rebuilt"), images.local_ref("1.0"))
    if retagged:
        tag(images.local_ref("1.0"), target)
    result = check("push.pushed", pushing)
    assert_mistake(result, "layers-differ", f"docker push {target}")
    assert ("docker tag" in result.hint) is not retagged
    assert "rebuilt after the push" in result.message
    run_hint(result.hint, pushing)                # the hint, as printed, pushes the new build
    after = check("push.pushed", pushing)
    assert after.passed, str(after)


def test_push_before_login_hints_the_login_then_the_push(lab, admin, logged_out_docker_config_dir,
                                                          docker_client):
    """Pushing before logging in fails; the check names the login lesson 04 teaches (not the same push again,
    which would fail the same way: a loop), and its hint, run as printed, logs in, pushes and passes."""
    config = lab.config
    build(docker_client, config, APP, images.local_ref("1.0"))
    target = tagging.target_ref(config)
    tag(images.local_ref("1.0"), target)
    refused = subprocess.run(["docker", "push", target], capture_output=True, text=True, timeout=180,
                             check=False)
    assert refused.returncode != 0, refused.stdout
    result = check("push.pushed", config)
    assert_mistake(result, "not-logged-in", login_command(config), f"docker push {target}")
    assert result.hint.index("--password-stdin") < result.hint.index("docker push")
    assert lab.password() not in result.hint + result.message
    run_hint(result.hint, config)
    after = check("push.pushed", config)
    assert after.passed, str(after)
    assert check("login.logged-in", config).passed


def test_push_before_login_and_before_tagging_keeps_the_first_cause(lab, admin, logged_out_docker_config_dir,
                                                                     docker_client):
    """Not tagged and not logged in: the first cause (no lab name) is named, and the hint tags, logs in and
    pushes; run as printed, the check passes."""
    config = lab.config
    build(docker_client, config, APP, images.local_ref("1.0"))
    result = check("push.pushed", config)
    assert_mistake(result, "not-tagged", tagging.tag_command(config), login_command(config),
                   f"docker push {tagging.target_ref(config)}")
    run_hint(result.hint, config)
    made_tags.add(tagging.target_ref(config))
    after = check("push.pushed", config)
    assert after.passed, str(after)


def test_push_raises_when_the_registry_is_down(lab_config):
    with pytest.raises(LabError) as info:
        check("push.pushed", dead_config(lab_config))
    assert info.value.fix.startswith("labsupport up")


def test_reset_push_deletes_the_repository_and_the_check_fails_again(pushing, admin):
    target = tagging.target_ref(pushing)
    tag(images.local_ref("1.0"), target)
    docker_cli("push", target)
    assert check("push.pushed", pushing).passed
    report = reset_exercise("push.pushed", pushing)
    assert f"deleted {target}" in str(report)
    assert admin.head_manifest(push.repository(pushing), "1.0") is None
    try:
        left = admin.tags(push.repository(pushing))
    except NameUnknown:
        left = []
    assert left == []
    assert "push.pushed" not in {row["exercise"] for row in ProgressLog(pushing.progress_file).attempts()}
    assert_mistake(check("push.pushed", pushing), "not-pushed", f"docker push {target}")


def test_reset_of_local_exercises_and_login(pushing, tmp_path):
    state = tmp_path / "state"                 # reset_all forgets all progress: keep the session's apart
    state.mkdir()
    shutil.copy(pushing.password_file, state / "password")
    pushing = dataclasses.replace(pushing, state_dir=state)
    target = tagging.target_ref(pushing)
    tag(images.local_ref("1.0"), target)
    assert check("tagging.tag", pushing).passed and check("login.logged-in", pushing).passed
    reset_exercise("tagging.tag", pushing)
    assert_mistake(check("tagging.tag", pushing), "not-tagged", tagging.tag_command(pushing))
    reset_exercise("login.logged-in", pushing)
    assert check("login.logged-in", pushing).code == "no-credential"
    report = reset_all(pushing)
    assert f"removed the local tag {images.local_ref('1.0')}" in str(report)
    assert not ProgressLog(pushing.progress_file).records()
    assert check("images.build", pushing).code == "image-missing"


# -- 06 caching.minimal-upload -------------------------------------------------------------------------------

def push_version(config: LabConfig, docker_client, folder: Path, version: str) -> None:
    """Build a folder as the local `version`, tag it with the lab name and push it."""
    build(docker_client, config, folder, images.local_ref(version))
    tag(images.local_ref(version), tagging.target_ref(config, version))
    docker_cli("push", tagging.target_ref(config, version))


@pytest.fixture
def cached(lab, admin, docker_config_dir) -> LabConfig:
    """The lab, with BuildKit's cache emptied: each test sets up the cache its case needs."""
    fresh_build_cache()
    return lab.config


def test_caching_passes_when_only_the_app_layer_changes(cached, docker_client, tmp_path):
    push_version(cached, docker_client, APP, "1.0")
    push_version(cached, docker_client, app_copy(tmp_path, "1.1"), "1.1")
    result = check("caching.minimal-upload", cached)
    assert result.passed, str(result)


def test_caching_without_1_0_in_the_registry(cached, docker_client, tmp_path):
    assert_mistake(check("caching.minimal-upload", cached), "old-not-pushed",
                   f"docker push {tagging.target_ref(cached, '1.0')}")


def test_caching_push_of_1_1_before_login_hints_the_login_then_the_push(cached, docker_client, tmp_path):
    """1.0 pushed, then logged out, 1.1 built: the check names the missing login (a push would fail with `no
    basic auth credentials`), and its hint, run as printed, logs in, pushes 1.1 and passes."""
    push_version(cached, docker_client, APP, "1.0")
    build(docker_client, cached, app_copy(tmp_path, "1.1"), images.local_ref("1.1"))
    docker_cli("logout", cached.registry)
    result = check("caching.minimal-upload", cached)
    assert_mistake(result, "not-logged-in", login_command(cached), f"docker push {tagging.target_ref(cached, '1.1')}")
    assert result.hint.index("--password-stdin") < result.hint.index("docker push")
    run_hint(result.hint, cached)
    after = check("caching.minimal-upload", cached)
    assert after.passed, str(after)


def test_caching_1_1_not_pushed(cached, docker_client, tmp_path):
    push_version(cached, docker_client, APP, "1.0")
    assert_mistake(check("caching.minimal-upload", cached), "not-pushed", "echo 1.1 >",
                   f"docker build --cache-from {tagging.target_ref(cached, '1.0')} -t {images.local_ref('1.1')}",
                   f"docker push {tagging.target_ref(cached, '1.1')}")
    build(docker_client, cached, app_copy(tmp_path, "1.1"), images.local_ref("1.1"))
    tag(images.local_ref("1.1"), tagging.target_ref(cached, "1.1"))
    result = check("caching.minimal-upload", cached)
    assert_mistake(result, "not-pushed", f"docker push {tagging.target_ref(cached, '1.1')}")
    assert "docker build" not in result.hint


def test_caching_1_1_is_1_0_again(cached, docker_client):
    push_version(cached, docker_client, APP, "1.0")
    tag(images.local_ref("1.0"), tagging.target_ref(cached, "1.1"))
    docker_cli("push", tagging.target_ref(cached, "1.1"))
    assert_mistake(check("caching.minimal-upload", cached), "unchanged", "echo 1.1 >",
                   f"docker push {tagging.target_ref(cached, '1.1')}")


def test_caching_app_copied_before_the_slow_step(cached, docker_client, tmp_path, admin):
    steps = (APP / "Dockerfile").read_text()
    copy = "COPY hello.sh VERSION /app/\n"
    run_start = steps.index("RUN ")
    copy_first = steps[:run_start] + copy + steps[run_start:].replace(copy, "")
    assert copy_first.index("COPY") < copy_first.index("RUN")
    push_version(cached, docker_client, app_copy(tmp_path, "1.0", dockerfile=copy_first), "1.0")
    push_version(cached, docker_client, app_copy(tmp_path, "1.1", dockerfile=copy_first), "1.1")
    result = check("caching.minimal-upload", cached)
    assert_mistake(result, "lower-layers-changed", "move `COPY hello.sh VERSION /app/` below the RUN step",
                   f"docker push {tagging.target_ref(cached, '1.0')}",
                   f"docker push {tagging.target_ref(cached, '1.1')}")
    old, new = (admin.remote_view(push.repository(cached), version) for version in ("1.0", "1.1"))
    assert old.blobs[0] == new.blobs[0] and old.blobs[1] != new.blobs[1]   # only the base is shared


def run_hint(hint: str, config: LabConfig) -> None:
    """Run a check's hint as printed, in a shell, as a learner pastes it (tests.conftest.run_hint: the venv's
    bin on PATH, the lab's LAB_* variables); the tags it may make are removed after the test."""
    run_printed(hint, config)
    for tag_ in ("1.0", "1.1"):
        made_tags.update({images.local_ref(tag_), tagging.target_ref(config, tag_)})


def lower_layers_equal(admin, config: LabConfig) -> bool:
    """The truth the check must find: 1.0 and 1.1 in the registry share every layer below 1.0's top one."""
    old, new = (admin.remote_view(push.repository(config), version) for version in ("1.0", "1.1"))
    return old.diff_ids[:-1] == new.diff_ids[: len(old.diff_ids) - 1]


def changed_app(tmp_path: Path, config: LabConfig) -> Path:
    """The learner's own copy of the app (where lesson 06 works), its script and VERSION changed."""
    work = caching.work_dir(config)
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(app_copy(tmp_path, "1.1"), work)
    script = work / "hello.sh"
    script.write_text(script.read_text() + "echo changed in lesson 06\n")
    return work


def test_caching_after_a_pull_back_by_digest_judges_what_the_registry_holds(cached, docker_client, tmp_path,
                                                                            admin):
    """Lesson 05 then 06 as a learner does them: 1.0 pushed, removed, pulled back by digest (its content is in
    the store again), 1.1 built from a changed copy reusing the cached RUN step, pushed."""
    push_version(cached, docker_client, APP, "1.0")
    digest = admin.head_manifest(push.repository(cached), "1.0")
    docker_cli("rmi", images.local_ref("1.0"), tagging.target_ref(cached, "1.0"))
    pulled = f"{cached.registry}/{push.repository(cached)}@{digest}"
    docker_cli("pull", pulled)
    made_tags.add(pulled)
    push_version(cached, docker_client, changed_app(tmp_path, cached), "1.1")
    result = check("caching.minimal-upload", cached)
    if lower_layers_equal(admin, cached):
        assert result.passed, str(result)
    else:
        assert_mistake(result, "lower-layers-rebuilt", f"docker push {tagging.target_ref(cached, '1.0')}")


def test_caching_after_a_no_cache_rebuild_blames_the_cache_and_its_hint_fixes_it(cached, docker_client, tmp_path,
                                                                                 admin):
    """Lesson 06's own `--no-cache` rebuild leaves a second RUN layer in the build cache; a 1.1 built after it
    may reuse that one. The Dockerfile's order is right, so the hint must not say to reorder it."""
    push_version(cached, docker_client, APP, "1.0")
    docker_cli("build", "--no-cache", "-q", "-t", images.local_ref("1.0"), "--build-arg",
               f"BASE={cached.base_image}", str(APP))
    push_version(cached, docker_client, changed_app(tmp_path, cached), "1.1")
    result = check("caching.minimal-upload", cached)
    buildkit = builds_with_buildkit()
    if lower_layers_equal(admin, cached):
        assert not buildkit, "BuildKit reuses the newest result of the RUN step for a build it never made"
        assert result.passed, str(result)
        return
    assert_mistake(result, "lower-layers-rebuilt", f"docker push {tagging.target_ref(cached, '1.0')}",
                   f"docker push {tagging.target_ref(cached, '1.1')}")
    assert "move `COPY" not in result.hint and "RUN mkdir" in result.message
    assert result.hint.startswith("docker builder prune -f && ") == buildkit
    run_hint(result.hint, cached)
    again = check("caching.minimal-upload", cached)
    assert again.passed, str(again)


def test_caching_1_1_without_the_app_layer(cached, docker_client, tmp_path):
    push_version(cached, docker_client, APP, "1.0")
    no_app = (APP / "Dockerfile").read_text().replace("COPY hello.sh VERSION /app/\n", "")
    push_version(cached, docker_client, app_copy(tmp_path, "1.1", dockerfile=no_app), "1.1")
    assert_mistake(check("caching.minimal-upload", cached), "no-app-layer", "echo 1.1 >",
                   f"docker push {tagging.target_ref(cached, '1.1')}")


def test_reset_caching_removes_1_1_here_and_there(cached, docker_client, tmp_path, admin):
    push_version(cached, docker_client, APP, "1.0")
    push_version(cached, docker_client, app_copy(tmp_path, "1.1"), "1.1")
    reset_exercise("caching.minimal-upload", cached)
    assert admin.head_manifest(push.repository(cached), "1.1") is None
    assert admin.head_manifest(push.repository(cached), "1.0") is not None
    assert not docker_client.images.list(name=images.local_ref("1.1"))
    assert check("caching.minimal-upload", cached).code == "not-pushed"
    assert os.environ.get("DOCKER_CONFIG")

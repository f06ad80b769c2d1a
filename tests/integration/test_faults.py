"""Faults a lab lives through, on the real engine and real registries: each ends in a clear message and a lab
that works again.

A registry killed in the middle of a push, a registry whose storage fills up, an engine that is not there, a
registry that is stopped, a damaged state folder, and two notebooks checking and pushing at the same time. Every
test that breaks something breaks a lab of its own (hx- container, volume, port and state folder).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import uuid
import warnings
from pathlib import Path

import docker
import httpx
import pytest

from labsupport import cli
from labsupport.attempts import attempt
from labsupport.checks import run_check
from labsupport.checks.registries import ANATOMY_REFERENCES
from labsupport.config import LabConfig
from labsupport.course import EXERCISES
from labsupport.dockerconfig import Credential
from labsupport.engine import Engine
from labsupport.errors import LabError, NameUnknown, PushFailed
from labsupport.lab import Lab
from labsupport.progress import ProgressLog
from labsupport.refs import split_for_exercise
from labsupport.registry import RegistryClient
from tests.conftest import free_port, lab_env, new_docker_config

ROOT = Path(__file__).resolve().parents[2]
MB = 1024 * 1024
#: The exercises whose check reads the lab registry: with it stopped, each must raise with `labsupport up`.
REGISTRY_READERS = ("login.logged-in", "push.pushed", "caching.minimal-upload", "security.no-secrets",
                    "production.tags", "production.index", "hood.handmade", "capstone.ship")


# -- labs, logins and images of this module's own ------------------------------------------------------------

@pytest.fixture
def hx_lab(lab_config, docker_client, tmp_path):
    """A factory of private labs (`hx-` container and volume, own port and state); each purged at the end.

    A volume made with options (a small tmpfs) is held mounted by a sleeping `hx-…-holder` container, so it
    keeps its data while the registry restarts, as a disk would: a tmpfs is gone when its last user stops.
    """
    made: list[Lab] = []
    holders: list = []

    def make(volume_opts: dict[str, str] | None = None) -> Lab:
        tag = f"hx-{uuid.uuid4().hex[:6]}"
        port = free_port()
        config = LabConfig.from_env({**lab_env(lab_config), "LAB_REGISTRY": f"localhost:{port}",
                                     "LAB_REGISTRY_URL": f"http://localhost:{port}",
                                     "LAB_CONTAINER": f"{tag}-registry", "LAB_VOLUME": f"{tag}-data",
                                     "LAB_STATE_DIR": str(tmp_path / tag / "state")})
        if volume_opts:  # made before `up`, which then uses the volume of that name as it finds it
            docker_client.volumes.create(config.volume, driver="local", driver_opts=volume_opts)
            holders.append(docker_client.containers.run(
                config.base_image, ["sleep", "3600"], name=f"{tag}-holder", detach=True,
                volumes={config.volume: {"bind": "/held", "mode": "ro"}}))
        lab = Lab(config, client=docker_client)
        made.append(lab)
        return lab

    yield make
    for holder in holders:
        holder.remove(force=True)
    for lab in made:
        lab.down(purge=True)  # the volume too, made by `up` or above


@pytest.fixture
def local_tags(docker_client):
    """Every local tag a test makes; removed at the end."""
    names: list[str] = []
    yield names
    for name in reversed(names):
        Engine(docker_client).remove(name, missing_ok=True, force=True)


def login(lab: Lab, folder: Path) -> Path:
    """A DOCKER_CONFIG folder logged in to the lab with `docker login --password-stdin`."""
    new_docker_config(folder)
    done = subprocess.run(["docker", "login", lab.config.registry, "-u", lab.config.learner, "--password-stdin"],
                          input=lab.password(), capture_output=True, text=True,
                          env={**os.environ, "DOCKER_CONFIG": str(folder)}, check=False)
    assert done.returncode == 0, done.stderr
    return folder


def build_random(engine: Engine, folder: Path, ref: str, layer_sizes: list[int], base: str) -> str:
    """Build `ref` from the base image plus one layer of random (incompressible) bytes per size."""
    folder.mkdir(parents=True, exist_ok=True)
    steps = "".join(f"COPY blob{n} /blob{n}\n" for n in range(len(layer_sizes)))
    (folder / "Dockerfile").write_text(f"ARG BASE\nFROM $BASE\n{steps}")
    for n, size in enumerate(layer_sizes):
        (folder / f"blob{n}").write_bytes(os.urandom(size))
    return engine.build(folder, ref, buildargs={"BASE": base})


def registry_of(lab: Lab) -> RegistryClient:
    """A registry client with the lab's own credential."""
    return RegistryClient(lab.config.registry_url, registry=lab.config.registry,
                          credential=Credential(lab.config.learner, lab.password()))


def assert_every_tag_is_whole(registry: RegistryClient) -> int:
    """Walk catalog → tags → manifest → every layer and the config blob: none may be missing; the tags seen."""
    seen = 0
    for repository in registry.catalog():
        try:
            tags = registry.tags(repository)
        except NameUnknown:
            continue  # every tag deleted: the repository is listed but empty
        for tag in tags:
            top = registry.manifest(repository, tag)
            # an index (BuildKit's, on the containerd store): each image it lists, its attestations too
            images = [registry.manifest(repository, digest) for digest in
                      [*(top.digest_for(p) for p in top.image_platforms), *top.attestations]] if top.is_index \
                else [top]
            blobs = [blob for manifest in images for blob in (*manifest.layers, manifest.config)]
            assert images and all(manifest.layers for manifest in images), f"{repository}:{tag} is not an image"
            for blob in blobs:
                assert registry.blob_exists(repository, blob.digest) == blob.size, (
                    f"{repository}:{tag} points at {blob.digest}, which the registry does not hold whole")
            seen += 1
    return seen


def push_in_thread(engine: Engine, ref: str, on_event=None) -> tuple[threading.Thread, dict]:
    """Start Engine.push in a thread; the dict gets "report" or "error"."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["report"] = engine.push(ref, on_event=on_event)
        except LabError as error:
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


# -- 1. the registry dies in the middle of a push ------------------------------------------------------------

def test_a_registry_killed_mid_push_fails_clearly_comes_back_and_keeps_no_broken_tag(
        hx_lab, docker_client, local_tags, tmp_path, monkeypatch):
    lab = hx_lab()
    lab.up()
    monkeypatch.setenv("DOCKER_CONFIG", str(login(lab, tmp_path / "docker-config")))
    engine = Engine(docker_client, config=lab.config)
    small, big = lab.config.ref("hx-small", "1"), lab.config.ref("hx-big", "1")
    local_tags.extend([small, big])
    build_random(engine, tmp_path / "small", small, [64 * 1024], lab.config.base_image)
    build_random(engine, tmp_path / "big", big, [12 * MB] * 4, lab.config.base_image)
    engine.push(small)  # a whole image in the registry before the fault

    uploading = threading.Event()
    thread, outcome = push_in_thread(engine, big,
                                     on_event=lambda event: event.phase.value == "pushing" and uploading.set())
    assert uploading.wait(60), "the push never started uploading"
    docker_client.containers.get(lab.config.container).kill()
    thread.join(180)  # the engine retries a layer five times (5 + 10 + 15 + 20 s) before it gives up

    assert not thread.is_alive()
    error = outcome.get("error")
    assert isinstance(error, PushFailed), f"the push did not fail: {outcome}"
    assert error.kind == "registry-down", error.raw
    assert error.fix.startswith("labsupport up")
    assert f"nothing answers at {lab.config.registry}" in error.explanation
    assert lab.status().container == "exited"

    lab.up()  # `labsupport up` starts the stopped container again
    assert lab.status().ready
    with registry_of(lab) as registry:
        assert assert_every_tag_is_whole(registry) == 1        # the small image, and no half of the big one
        with pytest.raises(NameUnknown):
            registry.tags(f"{lab.config.learner}/hx-big")
        report = engine.push(big, registry)
        assert report.digest == registry.head_manifest(f"{lab.config.learner}/hx-big", "1")
        assert assert_every_tag_is_whole(registry) == 2


# -- 2. the registry's storage fills up ----------------------------------------------------------------------

def test_a_full_registry_says_so_with_the_way_to_free_it_and_works_again_after(
        hx_lab, docker_client, local_tags, tmp_path, monkeypatch):
    lab = hx_lab({"type": "tmpfs", "device": "tmpfs", "o": "size=32m"})
    lab.up()
    mount = docker_client.containers.get(lab.config.container).attrs["Mounts"][0]
    assert (mount["Name"], mount["Destination"]) == (lab.config.volume, "/var/lib/registry")
    monkeypatch.setenv("DOCKER_CONFIG", str(login(lab, tmp_path / "docker-config")))
    engine = Engine(docker_client, config=lab.config)
    keep, junk, big = (lab.config.ref(name, "1") for name in ("hx-keep", "hx-junk", "hx-big"))
    local_tags.extend([keep, junk, big])
    build_random(engine, tmp_path / "keep", keep, [256 * 1024], lab.config.base_image)
    build_random(engine, tmp_path / "junk", junk, [6 * MB] * 3, lab.config.base_image)
    build_random(engine, tmp_path / "big", big, [7 * MB] * 2, lab.config.base_image)
    registry = registry_of(lab)
    kept = engine.push(keep, registry)
    engine.push(junk)  # 18 MB of the 32: what the big push needs is not left

    with pytest.raises(PushFailed) as caught:
        engine.push(big)
    error = caught.value
    assert error.kind == "registry-full", error.raw
    assert "no space left on device" in error.raw and "out of disk space" in error.explanation
    assert "labsupport reset" in error.fix
    gc = re.search(r"then (docker exec .+?); then docker push", error.fix)
    assert gc, error.fix
    assert gc.group(1).startswith(f"docker exec {lab.config.container} registry garbage-collect "
                                  "/etc/docker/registry/config.yml")

    registry.delete_repository_tags(f"{lab.config.learner}/hx-junk")   # what `labsupport reset` does; then the
    done = subprocess.run(gc.group(1), shell=True, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr                           # fix's garbage collection, as written
    assert "blob eligible for deletion" in done.stdout + done.stderr
    lab.up()  # waits for the restarted registry
    registry.close()
    with registry_of(lab) as registry:
        report = engine.push(big, registry)
        assert report.digest == registry.head_manifest(f"{lab.config.learner}/hx-big", "1")
        assert registry.head_manifest(f"{lab.config.learner}/hx-keep", "1") == kept.digest
        for blob in registry.image_manifest(f"{lab.config.learner}/hx-keep", "1").layers:
            assert registry.get_blob(f"{lab.config.learner}/hx-keep", blob.digest)  # checked against its digest
        assert assert_every_tag_is_whole(registry) == 2


def test_a_link_cut_short_by_a_full_disk_is_named_and_its_repair_works(hx_lab, docker_client, local_tags,
                                                                        tmp_path, monkeypatch):
    """A registry whose disk filled up mid-push can keep a layer's link file cut short: it then answers 500 to
    the HEAD that asks whether it has the layer. The classic engine uploads the layer again (and the link is
    written whole); the containerd store stops, and the fix, run as printed, repairs the registry."""
    lab = hx_lab()
    lab.up()
    monkeypatch.setenv("DOCKER_CONFIG", str(login(lab, tmp_path / "docker-config")))
    engine = Engine(docker_client, config=lab.config)
    first, second = (lab.config.ref("hx-cut", tag) for tag in ("1", "2"))
    local_tags.extend([first, second])
    build_random(engine, tmp_path / "cut", first, [64 * 1024], lab.config.base_image)
    with registry_of(lab) as registry:
        layer = registry.image_manifest(f"{lab.config.learner}/hx-cut",
                                        engine.push(first, registry).digest).layers[-1].digest
    link = (f"/var/lib/registry/docker/registry/v2/repositories/{lab.config.learner}/hx-cut/_layers/sha256/"
            f"{layer.split(':', 1)[1]}/link")
    container = docker_client.containers.get(lab.config.container)
    assert container.exec_run(["busybox", "sh", "-c", f"printf sha256:38 > {link}"]).exit_code == 0
    container.restart()   # the registry's cache of what it has, gone as after the full disk's fix
    lab.up()
    docker_client.api.tag(first, second.rsplit(":", 1)[0], "2")

    if engine.info().image_store == "classic":
        engine.push(second)
    else:
        with pytest.raises(PushFailed) as caught:
            engine.push(second)
        error = caught.value
        assert error.kind == "registry-damaged", error.raw
        assert "cut short" in error.explanation
        repair = re.fullmatch(r"(docker exec .+?); then docker push (\S+)", error.fix)
        assert repair and repair.group(2) == second, error.fix
        done = subprocess.run(repair.group(1), shell=True, capture_output=True, text=True, timeout=60,
                              check=False)
        assert done.returncode == 0, done.stderr
        engine.push(second)
    with registry_of(lab) as registry:
        assert registry.get_blob(f"{lab.config.learner}/hx-cut", layer)   # whole again, checked by its digest
        assert assert_every_tag_is_whole(registry) == 2


# -- 3. no engine, and a stopped registry --------------------------------------------------------------------

def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """`labsupport ARGV` in this process: (exit code, stdout, stderr)."""
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("docker_host", ["unix:///tmp/hx-no-engine-here.sock", "tcp://127.0.0.1:{closed}"])
def test_without_an_engine_every_command_says_so_in_one_line_with_the_fix(lab, docker_host, tmp_path,
                                                                          monkeypatch, capsys):
    host = docker_host.format(closed=free_port())
    config = LabConfig.from_env({**lab_env(lab.config), "LAB_STATE_DIR": str(tmp_path / "state")})
    for key, value in lab_env(config).items():  # the running shared registry, a state folder of this test
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DOCKER_HOST", host)
    ref = config.ref("hello-lab", "1.0")
    for argv in (["up"], ["status"], ["layers", ref], ["push", ref], ["check", "images.build"],
                 ["check", "push.pushed"]):
        code, out, err = run_cli(argv, capsys)
        assert code == 1, (argv, out, err)
        lines = err.splitlines()
        assert len(lines) == 2 and "Traceback" not in out + err, (argv, err)
        assert lines[0].startswith(f"error: the Docker engine does not answer at {host}"), (argv, err)
        assert lines[1].startswith("  fix: start the engine") and "labsupport doctor" in lines[1]
    code, out, err = run_cli(["doctor"], capsys)
    assert code == 1 and err == ""
    assert host in next(line for line in out.splitlines() if line.startswith("FAIL engine"))
    with pytest.raises(LabError) as caught:
        run_check("tagging.tag", config=config)
    assert host in caught.value.message and "start the engine" in caught.value.fix


def test_a_stopped_registry_makes_every_check_that_reads_it_say_labsupport_up(hx_lab, docker_client, tmp_path,
                                                                              monkeypatch, capsys):
    lab = hx_lab()
    lab.up()
    login(lab, tmp_path / "docker-config")  # a stored credential: the login check then asks the registry
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    docker_client.containers.get(lab.config.container).stop(timeout=2)
    setup = run_check("setup.registry", config=lab.config)
    assert (setup.passed, setup.code, setup.hint) == (False, "not-running", "labsupport up")
    for exercise in REGISTRY_READERS:
        with pytest.raises(LabError) as caught:
            attempt(exercise, config=lab.config)                 # what check() and the CLI do: recorded
        assert "labsupport up" in (caught.value.fix or ""), (exercise, caught.value)
    others = [info.id for info in EXERCISES if info.id not in (*REGISTRY_READERS, "setup.registry")]
    for exercise in others:  # they read the engine or the answer only: a result, whatever it is
        assert attempt(exercise, {} if exercise == "registries.anatomy" else None, config=lab.config).exercise
    codes = {r["exercise"]: r["code"] for r in ProgressLog(lab.config.progress_file).attempts()}
    assert all(codes[exercise] == "lab-error" for exercise in REGISTRY_READERS)
    for key, value in lab_env(lab.config).items():
        monkeypatch.setenv(key, value)
    code, _, err = run_cli(["check", "push.pushed"], capsys)
    assert code == 1 and err.startswith("error: the lab registry does not answer")
    assert "fix: labsupport up" in err


# -- 4. a damaged state folder -------------------------------------------------------------------------------

def test_a_damaged_state_folder_is_rebuilt_and_the_registry_follows(hx_lab, monkeypatch, capsys):
    lab = hx_lab()
    lab.up()
    config, url = lab.config, lab.config.registry_url
    for key, value in lab_env(config).items():
        monkeypatch.setenv(key, value)

    def accepted(password: str) -> bool:
        return httpx.get(f"{url}/v2/", auth=(config.learner, password)).status_code == 200

    for garbage in (os.urandom(64), "pässwörd mit Leerzeichen und Umlauten\n".encode(), b"short\n"):
        old = lab.password()
        config.password_file.write_bytes(garbage)
        mismatch = run_check("setup.registry", config=config)  # no traceback: a result that says to run up
        assert mismatch.code == "credential-mismatch" and mismatch.hint.startswith("labsupport up")
        with pytest.raises(LabError) as caught:
            run_check("push.pushed", config=config)
        assert "labsupport up" in caught.value.fix
        code, out, _ = run_cli(["up", "--quiet"], capsys)
        assert code == 0 and "note: the lab's state folder was damaged: made a new lab password" in out
        new = lab.password()
        assert new != old and re.fullmatch(r"[A-Za-z0-9_-]{24}", new) and new not in out
        assert accepted(new) and not accepted(old)
        assert oct(config.password_file.stat().st_mode & 0o777) == "0o600"

    password = lab.password()
    config.htpasswd_file.write_bytes(config.htpasswd_file.read_bytes()[:20])  # truncated mid-hash
    code, out, _ = run_cli(["up", "--quiet"], capsys)
    assert code == 0 and "rewrote its htpasswd file from the lab password" in out
    assert lab.password() == password and accepted(password)

    shutil.rmtree(config.state_dir)
    gone = run_check("setup.registry", config=config)
    assert gone.code == "credential-mismatch" and "missing or damaged" in gone.message
    code, out, _ = run_cli(["up", "--quiet"], capsys)
    assert code == 0 and "made a lab password" in out and accepted(lab.password())
    assert run_check("setup.registry", config=config).passed


def garbage(size: int) -> bytes:
    """Random bytes on one line (no line break of any kind inside)."""
    return os.urandom(size).replace(b"\n", b"\xff").replace(b"\r", b"\xfe")


def test_garbage_in_the_progress_file_is_skipped_with_a_warning_and_never_swallows_a_record(lab_config, tmp_path,
                                                                                           capsys, monkeypatch):
    config = LabConfig.from_env({**lab_env(lab_config), "LAB_STATE_DIR": str(tmp_path / "state")})
    right = {ref: split_for_exercise(ref) for ref in ANATOMY_REFERENCES}
    attempt("registries.anatomy", right, config=config)
    with open(config.progress_file, "ab") as handle:
        handle.write(garbage(300) + b"\n{not json}\n" + garbage(50))
    attempt("registries.anatomy", right, config=config)  # appended after garbage that has no newline
    with pytest.warns(UserWarning, match="is not a progress record; skipped") as caught:
        attempts = ProgressLog(config.progress_file).attempts()
    assert len(caught) == 3
    assert [(a["exercise"], a["passed"]) for a in attempts] == [("registries.anatomy", True)] * 2
    for key, value in lab_env(config).items():
        monkeypatch.setenv(key, value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code, out, _ = run_cli(["progress"], capsys)
    assert code == 0 and re.search(r"done\s+registries\.anatomy\s+attempts 2", out)


# -- 6. two notebooks at once --------------------------------------------------------------------------------

CHECKER = """
import os, sys, time
from labsupport.attempts import attempt
from labsupport.checks.registries import ANATOMY_REFERENCES
from labsupport.progress import record_prediction
from labsupport.refs import split_for_exercise
name, rounds, go = sys.argv[1], int(sys.argv[2]), sys.argv[3]
while not os.path.exists(go):  # both start together
    time.sleep(0.01)
right = {ref: split_for_exercise(ref) for ref in ANATOMY_REFERENCES}
for n in range(rounds):
    assert attempt("registries.anatomy", right if n % 2 else {"wrong": 1}).passed == bool(n % 2)
    attempt("setup.registry")
    record_prediction(f"{name}-{n}", {"answer": n, "note": "ü" * (n % 50)})
"""


def test_two_notebooks_checking_at_once_keep_the_progress_record_whole(lab, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "password").write_text(lab.password() + "\n")  # the lab's credential, for setup.registry
    env = {**os.environ, **lab_env(lab.config), "LAB_STATE_DIR": str(state), "PYTHONPATH": str(ROOT)}
    rounds, go = 40, tmp_path / "go"
    workers = [subprocess.Popen([sys.executable, "-c", CHECKER, name, str(rounds), str(go)], env=env, cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for name in ("a", "b")]
    go.touch()
    for worker in workers:
        _, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
    raw = (state / "progress.jsonl").read_bytes().splitlines()
    assert len(raw) == 2 * rounds * 3
    records = [json.loads(line) for line in raw]  # every line parses on its own
    attempts = [r for r in records if r["kind"] == "attempt"]
    predictions = [r for r in records if r["kind"] == "prediction"]
    assert len(attempts) == 4 * rounds and len(predictions) == 2 * rounds
    assert sorted(p["id"] for p in predictions) == sorted(f"{w}-{n}" for w in "ab" for n in range(rounds))
    anatomy = [a for a in attempts if a["exercise"] == "registries.anatomy"]
    assert sum(a["passed"] for a in anatomy) == rounds and len(anatomy) == 2 * rounds
    row = next(r for r in ProgressLog(state / "progress.jsonl").summary() if r.exercise == "setup.registry")
    assert (row.attempts, row.passed) == (2 * rounds, True)


def test_two_pushes_at_once_to_one_lab_both_succeed(hx_lab, docker_client, local_tags, tmp_path, monkeypatch):
    lab = hx_lab()
    lab.up()
    monkeypatch.setenv("DOCKER_CONFIG", str(login(lab, tmp_path / "docker-config")))
    refs = [lab.config.ref("hx-twin", tag) for tag in ("a", "b")]
    local_tags.extend(refs)
    for ref, folder in zip(refs, ("a", "b")):  # the base image's layer under both, two layers of its own
        build_random(Engine(docker_client), tmp_path / folder, ref, [3 * MB, 2 * MB], lab.config.base_image)
    clients = [docker.from_env(timeout=120) for _ in refs]  # one engine connection each, as two kernels have
    started = [push_in_thread(Engine(client, config=lab.config), ref) for client, ref in zip(clients, refs)]
    for (thread, _), client in zip(started, clients):
        thread.join(300)
        client.close()
    outcomes = [outcome for _, outcome in started]
    assert all("report" in outcome for outcome in outcomes), outcomes
    with registry_of(lab) as registry:
        assert sorted(registry.tags(f"{lab.config.learner}/hx-twin")) == ["a", "b"]
        for outcome, tag in zip(outcomes, ("a", "b")):
            assert outcome["report"].digest == registry.head_manifest(f"{lab.config.learner}/hx-twin", tag)
        assert assert_every_tag_is_whole(registry) == 2

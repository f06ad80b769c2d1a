"""Shared helpers of the lesson 07-10 check tests: build unique images, push them, set registry state for real.

Isolation on a shared engine: every image is built with a label of this run (so no other build shares its id or
its manifest digest), local names start with `hg-<run>`, and every tag made here is removed when a test module
ends (`remove_made`). Registry state is set up from scratch: `forget` deletes tags by digest, and a digest here
only ever names this run's images.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import docker.errors
import httpx

from labsupport.checks.base import CheckResult, run_check
from labsupport.checks.production import lesson_commit
from labsupport.config import LabConfig
from labsupport.engine import Engine
from labsupport.errors import ManifestUnknown
from labsupport.registry import RegistryClient
from tests.conftest import cli_build

RUN = uuid.uuid4().hex[:6]
PREFIX = f"hg-{RUN}"
APPS = Path(__file__).resolve().parents[2] / "notebooks" / "apps"
COMMIT = lesson_commit()  # the commit tag lessons 08 and 10 make: HEAD's id at the course's length
OTHER_COMMIT = f"def{RUN[:4]}"  # another commit-id tag: 7 hex characters, never digits only
made: set[str] = set()  # local tags made here
made_ids: set[str] = set()  # local images made or pulled here: each holds this run's label or content


def remember(docker_client, ref: str) -> None:
    """Note the local image a check pulled, so that it is removed with its digest references at the end."""
    try:
        made_ids.add(docker_client.images.get(ref).id)
    except docker.errors.ImageNotFound:
        pass  # the pull failed: nothing came


def remove_made(docker_client) -> None:
    """Remove every local tag and image the tests made, digest references included (a pushed or pulled image
    keeps `repo@sha256:…` names after its last tag goes, so images are removed by id)."""
    for name in sorted(made):
        try:
            made_ids.add(docker_client.images.get(name).id)
        except docker.errors.ImageNotFound:
            pass  # never made, or removed already
    for image_id in sorted(made_ids):
        try:
            docker_client.images.remove(image_id, force=True)
        except docker.errors.ImageNotFound:
            pass  # went with an earlier one
        except docker.errors.APIError as exc:
            print(f"could not remove {image_id}: {exc}")
    made.clear()
    made_ids.clear()


def check(exercise: str, config: LabConfig) -> CheckResult:
    """Run a check for real; a check that raised on a learner's mistake fails the test right here."""
    result = run_check(exercise, config=config)
    print(result)  # shown for a failing test (and with -rP): the learner's view
    assert isinstance(result, CheckResult) and result.exercise == exercise
    return result


def assert_mistake(result: CheckResult, code: str, config: LabConfig, *in_hint: str) -> None:
    """Not passed, with this code, and a hint naming the lab's real registry and learner (and more)."""
    assert (result.passed, result.code) == (False, code), str(result)
    assert result.message and result.hint, str(result)
    for text in (config.registry, config.learner, *in_hint):
        assert text in result.hint, f"{text!r} not in the hint: {result.hint}"


def build(
    docker_client,
    config: LabConfig,
    context: Path,
    name: str,
    *,
    variant: str,
    dockerfile: str = "Dockerfile",
) -> str:
    """Build a folder with this run's label (`variant` makes each image unique); the local tag `hg-<run>-name`."""
    tag = f"{PREFIX}-{name}"
    cli_build(context, tag, base=config.base_image, labels={"io.labsupport.test": f"{PREFIX}-{variant}"},
              dockerfile=dockerfile)
    made.add(tag)
    made_ids.add(docker_client.images.get(tag).id)
    return tag


def context(
    tmp_path: Path, dockerfile: str, files: dict[str, bytes] | None = None, app: str | None = None
) -> Path:
    """A build folder: a course app's files (if named), more files, and this Dockerfile."""
    folder = tmp_path / f"ctx-{uuid.uuid4().hex[:6]}"
    if app:
        shutil.copytree(APPS / app, folder)
    else:
        folder.mkdir()
    for name, data in (files or {}).items():
        (folder / name).write_bytes(data)
    (folder / "Dockerfile").write_text(dockerfile)
    return folder


def plain(docker_client, config: LabConfig, tmp_path: Path, variant: str) -> str:
    """A unique image: the base image plus this run's label."""
    return build(
        docker_client,
        config,
        context(tmp_path, "ARG BASE\nFROM ${BASE}\n"),
        f"plain-{variant}",
        variant=variant,
    )


def push(docker_client, config: LabConfig, local: str, repository: str, tag: str) -> str:
    """Tag a local image `<registry>/<learner>/repository:tag` and push it with the engine; the manifest digest."""
    ref = config.ref(repository, tag)
    engine = Engine(docker_client, config=config)
    engine.tag(local, ref)
    made.add(ref)
    return engine.push(ref).digest


def forget(admin: RegistryClient, repository: str, *tags: str) -> None:
    """Delete these tags' manifests from the registry (by digest, so every tag on them goes too)."""
    for tag in tags:
        digest = admin.head_manifest(repository, tag)
        if digest:
            try:
                admin.delete_manifest(repository, digest)
            except ManifestUnknown:
                continue  # deleted with an earlier tag on the same digest


def delete_blob(lab, repository: str, digest: str) -> None:
    """DELETE a blob through the registry API (the lab enables storage.delete); the only way to lose one for real,
    since the registry refuses a manifest whose blobs it lacks (see test_a_registry_refuses_...)."""
    answer = httpx.delete(
        f"{lab.config.registry_url}/v2/{repository}/blobs/{digest}", auth=lab.auth(), timeout=10
    )
    assert answer.status_code == 202, answer.text

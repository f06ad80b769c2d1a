"""Record real push streams from this machine's Docker engine into tests/data/push-streams/*.jsonl.

Each `<name>.jsonl` holds the decoded JSON lines of `client.api.push(ref, stream=True, decode=True)`, one per
line, exactly as the engine sent them. `<name>.meta.json` says what was pushed and, for successful pushes, the
local image's diff ids and the pushed manifest's layers and config diff ids, so the unit tests can check the
mapping of stream ids to blobs without an engine. A push the engine refused before streaming (an HTTP error)
is recorded as one line `{"http_error": status, "explanation": ...}` and marked so in the meta file.

Run (needs the engine and the offline images): .venv/bin/python tests/data/push-streams/record.py
It starts its own lab registry (container and volume prefixed `hC-rec-`) and removes it at the end.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import sys
import tempfile
import uuid
from pathlib import Path

import docker
import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from labsupport.config import LabConfig
from labsupport.lab import Lab

BASE = os.environ.get("LAB_BASE_IMAGE", "labsupport/base:1.35")
WRONG_AUTH = base64.b64encode(b"learner:nope").decode()  # a wrong password, for the "unauthorized" stream
MANIFEST_TYPES = ("application/vnd.docker.distribution.manifest.v2+json, "
                  "application/vnd.oci.image.manifest.v1+json")
DOCKERFILE = """ARG BASE
FROM $BASE
RUN echo built-by-the-recorder > /etc/recorded && mkdir -p /app
COPY app.txt /app/app.txt
CMD ["cat", "/app/app.txt"]
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def record(client: docker.DockerClient, name: str, ref: str, meta: dict, out: Path) -> list[dict]:
    """Push `ref`, write every decoded line to `<name>.jsonl` and the meta to `<name>.meta.json`."""
    client.api.reload_config()
    repository, _, tag = ref.rpartition(":")
    lines: list[dict] = []
    try:
        lines.extend(client.api.push(repository, tag=tag, stream=True, decode=True))
    except docker.errors.APIError as exc:
        lines.append({"http_error": exc.status_code, "explanation": exc.explanation})
        meta["refused_before_streaming"] = True
    (out / f"{name}.jsonl").write_text("".join(json.dumps(line, sort_keys=True) + "\n" for line in lines))
    document = json.dumps({"reference": ref, **meta}, indent=2, sort_keys=True)
    (out / f"{name}.meta.json").write_text(document + "\n")
    print(f"{name}: {len(lines)} lines")
    return lines


def remote_facts(url: str, auth: tuple[str, str], repository: str, tag: str) -> dict:
    """The pushed manifest's layers and its config's diff ids, read over the registry API."""
    with httpx.Client(base_url=url, auth=auth, timeout=10) as http:
        answer = http.get(f"/v2/{repository}/manifests/{tag}", headers={"Accept": MANIFEST_TYPES})
        answer.raise_for_status()
        manifest = answer.json()
        config = http.get(f"/v2/{repository}/blobs/{manifest['config']['digest']}").json()
    return {
        "manifest_digest": answer.headers["Docker-Content-Digest"],
        "config_digest": manifest["config"]["digest"],
        "manifest_layers": [{"digest": item["digest"], "size": item["size"], "media_type": item["mediaType"]}
                            for item in manifest["layers"]],
        "config_diff_ids": config["rootfs"]["diff_ids"],
    }


def main() -> None:
    client = docker.from_env(timeout=300)
    run = uuid.uuid4().hex[:6]
    work = Path(tempfile.mkdtemp(prefix="hC-rec-"))
    port = free_port()
    config = LabConfig.from_env({
        "LAB_REGISTRY": f"localhost:{port}", "LAB_LEARNER": "learner", "LAB_STATE_DIR": str(work / "state"),
        "LAB_CONTAINER": f"hC-rec-{run}-registry", "LAB_VOLUME": f"hC-rec-{run}-data",
        "LAB_REGISTRY_IMAGE": "labsupport/registry:2.8", "LAB_BASE_IMAGE": BASE,
    })
    lab = Lab(config, client=client)
    made: list[str] = []
    try:
        lab.up()
        auth = base64.b64encode(f"learner:{lab.password()}".encode()).decode()
        logged_in, logged_out, wrong = work / "in", work / "out", work / "wrong"
        for folder, auths in ((logged_in, {config.registry: {"auth": auth}}), (logged_out, {}),
                              (wrong, {config.registry: {"auth": WRONG_AUTH}})):
            folder.mkdir()
            (folder / "config.json").write_text(json.dumps({"auths": auths}))
        os.environ["DOCKER_CONFIG"] = str(logged_in)

        context = work / "context"
        context.mkdir()
        (context / "Dockerfile").write_text(DOCKERFILE)
        (context / "app.txt").write_text("version one\n")
        build = {"path": str(context), "buildargs": {"BASE": BASE}, "rm": True, "forcerm": True}
        image_1, _ = client.images.build(tag=f"hc-rec-{run}:1.0", **build)
        made.append(f"hc-rec-{run}:1.0")
        (context / "app.txt").write_text("version two, one layer changed\n")
        image_2, _ = client.images.build(tag=f"hc-rec-{run}:1.1", **build)
        made.append(f"hc-rec-{run}:1.1")
        engine = client.version()["Version"]

        def push_recorded(name: str, image, ref: str, repository: str, tag: str) -> None:
            image.tag(ref)
            made.append(ref)
            meta = {"engine": engine, "image_store": "classic", "diff_ids": image.attrs["RootFS"]["Layers"]}
            record(client, name, ref, meta, HERE)
            facts = remote_facts(config.registry_url, lab.auth(), repository, tag)
            meta_file = HERE / f"{name}.meta.json"
            meta_file.write_text(json.dumps({**json.loads(meta_file.read_text()), **facts}, indent=2,
                                            sort_keys=True) + "\n")

        hello = f"{config.registry}/learner/hello-lab"
        push_recorded("classic-first-push", image_1, f"{hello}:1.0", "learner/hello-lab", "1.0")
        push_recorded("classic-repeat-push", image_1, f"{hello}:1.0", "learner/hello-lab", "1.0")
        push_recorded("classic-one-layer-change", image_2, f"{hello}:1.1", "learner/hello-lab", "1.1")
        push_recorded("classic-cross-repo-mount", image_1, f"{config.registry}/learner/other:1.0",
                      "learner/other", "1.0")

        error_meta = {"engine": engine, "image_store": "classic"}
        record(client, "classic-error-no-local-image", f"{config.registry}/learner/missing:1.0",
               dict(error_meta), HERE)
        image_1.tag(f"{hello}:2.0")
        made.append(f"{hello}:2.0")
        record(client, "classic-error-tag-does-not-exist", f"{hello}:9.9", dict(error_meta), HERE)

        os.environ["DOCKER_CONFIG"] = str(logged_out)
        record(client, "classic-error-no-credentials", f"{hello}:2.0", dict(error_meta), HERE)
        os.environ["DOCKER_CONFIG"] = str(wrong)
        record(client, "classic-error-wrong-password", f"{hello}:2.0", dict(error_meta), HERE)
        os.environ["DOCKER_CONFIG"] = str(logged_in)

        record(client, "classic-error-untagged", f"hc-rec-{run}:1.0", dict(error_meta), HERE)

        closed = free_port()
        image_1.tag(f"127.0.0.1:{closed}/learner/hello-lab:1.0")
        made.append(f"127.0.0.1:{closed}/learner/hello-lab:1.0")
        record(client, "classic-error-registry-down", f"127.0.0.1:{closed}/learner/hello-lab:1.0",
               dict(error_meta), HERE)

        # The registry's address on the docker bridge is not loopback, so the engine insists on HTTPS.
        address = client.containers.get(config.container).attrs["NetworkSettings"]["IPAddress"]
        plain = f"{address}:5000/learner/hello-lab:1.0"
        image_1.tag(plain)
        made.append(plain)
        record(client, "classic-error-http-to-https", plain, dict(error_meta), HERE)
    finally:
        for ref in made:
            try:
                client.images.remove(ref)
            except docker.errors.APIError:
                pass
        lab.down(purge=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

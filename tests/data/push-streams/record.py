"""Record real push streams from the Docker engine DOCKER_HOST selects into tests/data/push-streams/*.jsonl.

Each `<store>-<case>.jsonl` holds the decoded JSON lines of `client.api.push(ref, stream=True, decode=True)`,
one per line, exactly as the engine sent them; `<store>` is the engine's image store, `classic` or
`containerd`. `<name>.meta.json` says from which engine (version, image store, builder) and what was pushed:
for a successful push the local image's diff ids and, read back from the registry, the pushed manifest's
layers, config and config diff ids; when the tag names an image index (BuildKit on the containerd store),
also the index, its image for the engine's platform and its attestation manifest with that manifest's blobs.
`<name>.registry.log` holds the lab registry's own log lines of the same push (one request each), so a test
can compare what the stream says was uploaded with what the registry received. A push the engine refused
before streaming (an HTTP error) is recorded as one line `{"http_error": status, "explanation": ...}` and
marked so in the meta file.

The images are built the way a learner's client builds them on that engine: the docker CLI's `docker build`
with the Docker client config's `cli-plugins/` (DOCKER_CONFIG, else ~/.docker). With the buildx plugin there,
that is BuildKit, which makes an image index with a provenance attestation on the containerd store; without
it, the legacy builder.

Run (needs the engine and the offline images):
    .venv/bin/python tests/data/push-streams/record.py                       # Debian 12's engine: classic-*
    eval "$(scripts/modern-engine env)" && .venv/bin/python tests/data/push-streams/record.py   # containerd-*
It starts its own lab registry (container and volume prefixed `hC-rec-`) and removes it, and its images, at
the end.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import docker
import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from labsupport.config import LabConfig
from labsupport.lab import Lab

BASE = os.environ.get("LAB_BASE_IMAGE", "labsupport/base:1.35")
REGISTRY_IMAGE = os.environ.get("LAB_REGISTRY_IMAGE", "labsupport/registry:2.8")
WRONG_AUTH = base64.b64encode(b"learner:nope").decode()  # a wrong password, for the "unauthorized" stream
ACCEPT = ("application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json, "
          "application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.index.v1+json")
DOCKERFILE = """ARG BASE
FROM $BASE
RUN echo built-by-the-recorder > /etc/recorded && mkdir -p /app
COPY app.txt /app/app.txt
CMD ["cat", "/app/app.txt"]
"""
#: One request in the registry's access log: "METHOD /v2/... HTTP/1.1" status bytes. Kept as
#: "METHOD URI STATUS", the upload's signed `_state` parameter dropped (noise, and no test needs it).
_REQUEST = re.compile(r'"(?P<method>GET|HEAD|POST|PUT|PATCH|DELETE) (?P<uri>/v2/\S+) HTTP/[\d.]+" (?P<status>\d+)')
_STATE = re.compile(r"_state=[^&\s]*&?")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def engine_facts(client: docker.DockerClient, env: dict[str, str]) -> dict:
    """Which engine this is: version, image store, storage driver, platform, and the builder the CLI uses."""
    info, version = client.info(), client.version()
    status = {str(key): str(value) for key, value in (info.get("DriverStatus") or []) if key}
    store = "containerd" if "containerd.snapshotter" in status.get("driver-type", "") else "classic"
    buildx = subprocess.run(["docker", "buildx", "version"], capture_output=True, text=True, env=env,
                            check=False)
    cli = subprocess.run(["docker", "version", "--format", "{{.Client.Version}}"], capture_output=True,
                         text=True, env=env, check=False).stdout.strip()
    if buildx.returncode == 0:
        builder = f"BuildKit ({buildx.stdout.split()[1] if len(buildx.stdout.split()) > 1 else 'buildx'}), " \
                  f"through the docker CLI {cli}'s docker build"
    else:
        builder = f"legacy builder, through the docker CLI {cli}'s docker build (no buildx plugin)"
    return {"engine": str(version.get("Version", "")), "image_store": store,
            "storage_driver": str(info.get("Driver", "")), "builder": builder,
            "buildkit": buildx.returncode == 0,
            "platform": f"{version.get('Os', 'linux')}/{version.get('Arch', 'amd64')}"}


def docker_config(folder: Path, auths: dict, plugins: Path) -> Path:
    """A client config folder holding `auths` and the cli-plugins of the learner's client config."""
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"auths": auths}))
    if plugins.is_dir():
        (folder / "cli-plugins").symlink_to(plugins.resolve(), target_is_directory=True)
    return folder


def build(context: Path, tag: str, env: dict[str, str]) -> None:
    """`docker build` as a learner types it (BuildKit's defaults kept: no --provenance=false)."""
    done = subprocess.run(["docker", "build", "--build-arg", f"BASE={BASE}", "-t", tag, str(context)],
                          capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"docker build -t {tag} failed:\n{done.stderr[-2000:]}")


class Recorder:
    """Pushes and writes `<name>.jsonl`, `<name>.meta.json` and `<name>.registry.log` into `out`."""

    def __init__(self, client: docker.DockerClient, lab: Lab, facts: dict, out: Path) -> None:
        self.client, self.lab, self.facts, self.out = client, lab, facts, out
        self.store = facts["image_store"]

    def registry_log(self) -> bytes:
        return self.client.containers.get(self.lab.config.container).logs(stdout=True, stderr=True)

    def settled_log(self) -> bytes:
        """The registry's log once it stops growing: its last lines arrive a moment after the push ends,
        and an engine may still retry a refused request after it reported the error."""
        last, still = self.registry_log(), 0
        while still < 3:
            time.sleep(0.4)
            now = self.registry_log()
            still = still + 1 if len(now) == len(last) else 0
            last = now
        return last

    def record(self, case: str, ref: str, meta: dict | None = None) -> list[dict]:
        """Push `ref`, write its stream, meta and the registry's log lines of that push."""
        name = f"{self.store}-{case}"
        meta = {**self.facts, **(meta or {})}
        self.client.api.reload_config()
        repository, _, tag = ref.rpartition(":")
        before = len(self.settled_log())
        lines: list[dict] = []
        try:
            lines.extend(self.client.api.push(repository, tag=tag, stream=True, decode=True))
        except docker.errors.APIError as exc:
            lines.append({"http_error": exc.status_code, "explanation": exc.explanation})
            meta["refused_before_streaming"] = True
        log = self.settled_log()[before:].decode(errors="replace")
        (self.out / f"{name}.jsonl").write_text("".join(json.dumps(line, sort_keys=True) + "\n"
                                                        for line in lines))
        requests = [f"{match['method']} {_STATE.sub('', match['uri']).rstrip('?')} {match['status']}"
                    for match in map(_REQUEST.search, log.splitlines()) if match]
        (self.out / f"{name}.registry.log").write_text("".join(line + "\n" for line in requests))
        self.write_meta(name, {"reference": ref, **meta})
        print(f"{name}: {len(lines)} lines, {len(requests)} registry requests")
        return lines

    def write_meta(self, name: str, meta: dict) -> None:
        (self.out / f"{name}.meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")

    def pushed(self, case: str, image_ref: str, ref: str) -> None:
        """Tag a local image as `ref`, record its push, and add what the registry then holds to the meta."""
        image = self.client.images.get(image_ref)
        image.tag(ref)
        meta = {"image_id": image.id, "diff_ids": image.attrs["RootFS"]["Layers"]}
        self.record(case, ref, meta)
        repository, tag = ref.split("/", 1)[1].rsplit(":", 1)
        name = f"{self.store}-{case}"
        document = json.loads((self.out / f"{name}.meta.json").read_text())
        document.update(remote_facts(self.lab.config.registry_url, self.lab.auth(), repository, tag,
                                     self.facts["platform"]))
        self.write_meta(name, document)


def remote_facts(url: str, auth: tuple[str, str], repository: str, tag: str, platform: str) -> dict:
    """What the tag names in the registry: its manifest (for an index, its image for `platform` and its
    attestation manifest), the image's layers and config, and the config's diff ids."""
    with httpx.Client(base_url=url, auth=auth, timeout=10) as http:
        def manifest(reference: str) -> tuple[dict, str, int]:
            answer = http.get(f"/v2/{repository}/manifests/{reference}", headers={"Accept": ACCEPT})
            answer.raise_for_status()
            return answer.json(), answer.headers["Docker-Content-Digest"], len(answer.content)

        top, top_digest, top_size = manifest(tag)
        facts: dict = {"manifest_digest": top_digest, "manifest_size": top_size,
                       "media_type": top.get("mediaType", "")}
        image, image_digest, image_size = top, top_digest, top_size
        if "manifests" in top:
            entries = top["manifests"]
            facts["index"] = [{"digest": item["digest"], "size": item["size"],
                               "platform": "/".join(filter(None, (item.get("platform", {}).get(key)
                                                                  for key in ("os", "architecture", "variant")))),
                               "annotations": item.get("annotations", {})} for item in entries]
            wanted = next(item for item in entries if item.get("platform", {}).get("os") != "unknown"
                          and "/".join((item["platform"]["os"], item["platform"]["architecture"])) == platform)
            image, image_digest, image_size = manifest(wanted["digest"])
            facts.update(image_manifest_digest=image_digest, image_manifest_size=image_size, platform=platform)
            attestations = []
            for item in entries:
                if (item.get("annotations") or {}).get("vnd.docker.reference.type") != "attestation-manifest":
                    continue
                document, digest, size = manifest(item["digest"])
                attestations.append({
                    "digest": digest, "size": size,
                    "of": item["annotations"].get("vnd.docker.reference.digest", ""),
                    "config": {"digest": document["config"]["digest"], "size": document["config"]["size"]},
                    "layers": [{"digest": layer["digest"], "size": layer["size"], "media_type": layer["mediaType"],
                                "predicate_type": (layer.get("annotations") or {}).get("in-toto.io/predicate-type",
                                                                                       "")}
                               for layer in document["layers"]],
                })
            facts["attestations"] = attestations
        config = http.get(f"/v2/{repository}/blobs/{image['config']['digest']}").json()
    facts.update({
        "config_digest": image["config"]["digest"],
        "config_size": image["config"]["size"],
        "manifest_layers": [{"digest": item["digest"], "size": item["size"], "media_type": item["mediaType"]}
                            for item in image["layers"]],
        "config_diff_ids": config["rootfs"]["diff_ids"],
    })
    return facts


def main() -> None:
    client = docker.from_env(timeout=300)
    run = uuid.uuid4().hex[:6]
    work = Path(tempfile.mkdtemp(prefix="hC-rec-"))
    learner_config = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    port = free_port()
    config = LabConfig.from_env({
        "LAB_REGISTRY": f"localhost:{port}", "LAB_LEARNER": "learner", "LAB_STATE_DIR": str(work / "state"),
        "LAB_CONTAINER": f"hC-rec-{run}-registry", "LAB_VOLUME": f"hC-rec-{run}-data",
        "LAB_REGISTRY_IMAGE": REGISTRY_IMAGE, "LAB_BASE_IMAGE": BASE,
    })
    lab = Lab(config, client=client)
    made: list[str] = []
    saved_config = os.environ.get("DOCKER_CONFIG")
    try:
        lab.up()
        auth = base64.b64encode(f"learner:{lab.password()}".encode()).decode()
        plugins = learner_config / "cli-plugins"
        logged_in = docker_config(work / "in", {config.registry: {"auth": auth}}, plugins)
        logged_out = docker_config(work / "out", {}, plugins)
        wrong = docker_config(work / "wrong", {config.registry: {"auth": WRONG_AUTH}}, plugins)
        os.environ["DOCKER_CONFIG"] = str(logged_in)
        env = {**os.environ, "DOCKER_CONFIG": str(logged_in)}
        facts = engine_facts(client, env)
        print(f"engine {facts['engine']}, {facts['image_store']} image store, {facts['builder']}")
        recorder = Recorder(client, lab, facts, HERE)

        context = work / "context"
        context.mkdir()
        (context / "Dockerfile").write_text(DOCKERFILE)
        (context / "app.txt").write_text("version one\n")
        first, changed, rebuilt = f"hc-rec-{run}:1.0", f"hc-rec-{run}:1.1", f"hc-rec-{run}:1.0-again"
        build(context, first, env)
        made.append(first)
        (context / "app.txt").write_text("version two, one layer changed\n")
        build(context, changed, env)
        made.append(changed)

        hello = f"{config.registry}/learner/hello-lab"
        recorder.pushed("first-push", first, f"{hello}:1.0")
        recorder.pushed("repeat-push", first, f"{hello}:1.0")
        recorder.pushed("one-layer-change", changed, f"{hello}:1.1")
        recorder.pushed("cross-repo-mount", first, f"{config.registry}/learner/other:1.0")
        # The same source built again, every step cached: the legacy builder makes the same image; BuildKit
        # a new provenance attestation (so a new index), whose blobs are all that upload.
        (context / "app.txt").write_text("version one\n")
        build(context, rebuilt, env)
        made.append(rebuilt)
        recorder.pushed("rebuild-push", rebuilt, f"{hello}:1.0")
        made.extend([f"{hello}:1.0", f"{hello}:1.1", f"{config.registry}/learner/other:1.0"])

        recorder.record("error-no-local-image", f"{config.registry}/learner/missing:1.0")
        client.images.get(first).tag(f"{hello}:2.0")
        made.append(f"{hello}:2.0")
        recorder.record("error-tag-does-not-exist", f"{hello}:9.9")

        os.environ["DOCKER_CONFIG"] = str(logged_out)
        recorder.record("error-no-credentials", f"{hello}:2.0")
        os.environ["DOCKER_CONFIG"] = str(wrong)
        recorder.record("error-wrong-password", f"{hello}:2.0")
        os.environ["DOCKER_CONFIG"] = str(logged_in)

        recorder.record("error-untagged", first)

        closed = free_port()
        down = f"127.0.0.1:{closed}/learner/hello-lab:1.0"
        client.images.get(first).tag(down)
        made.append(down)
        recorder.record("error-registry-down", down)

        # The registry's address on the engine's bridge is not loopback, so the engine insists on HTTPS.
        networks = client.containers.get(config.container).attrs["NetworkSettings"]["Networks"]
        address = next(network["IPAddress"] for network in networks.values() if network.get("IPAddress"))
        plain = f"{address}:5000/learner/hello-lab:1.0"
        client.images.get(first).tag(plain)
        made.append(plain)
        recorder.record("error-http-to-https", plain)
    finally:
        if saved_config is None:
            os.environ.pop("DOCKER_CONFIG", None)
        else:
            os.environ["DOCKER_CONFIG"] = saved_config
        for ref in reversed(made):
            try:
                client.images.remove(ref)
            except docker.errors.APIError:
                pass
        lab.down(purge=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

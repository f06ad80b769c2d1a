"""Live proofs of the course's four myths: each runs the real experiment and returns what really happened.

`prove(myth_id, config)` returns text whose first line says, in one sentence, what the evidence below it
shows; the rest is the real output (the docker CLI's own words where the lesson teaches the CLI, the
engine's push reports and the registry's HTTP answers otherwise). No password, token or `auth` value ever
appears in it.

    untagged-push      docker push of a name without a registry host goes to docker.io, not the lab
    anonymous-push     docker push from a client holding no credential: "no basic auth credentials"
    full-upload        the same image pushed twice, then a one-line change: bytes uploaded by each push
    secure-by-default  the lab speaks plain HTTP; a secret deleted by a later layer is read back from it
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import docker.errors
import httpx
import requests

from .. import refs
from ..cards import human_bytes
from ..config import LabConfig, course_app
from ..course import MythId
from ..dockercli import run_docker
from ..dockerconfig import Credential, config_dir
from ..engine import Engine
from ..errors import ImageNotFound, LabError, PushFailed, RegistryError, UnknownExercise
from ..lab import Credentials
from ..layers import LayerUnion, Member
from ..model import PushReport
from ..registry import RegistryClient

#: The image lessons 01-05 build and the proofs start from when it exists.
HELLO_IMAGE = "hello-lab:1.0"
_CLI_TIMEOUT = 120.0
_PROOF_FILE = "myth-proof.txt"


@dataclass(frozen=True)
class CommandRun:
    """A docker CLI command as the learner would type it, what it printed its exit code."""

    shown: str
    output: str
    code: int

    def transcript(self) -> str:
        """The command, its output and its exit status, as a terminal would show them."""
        body = self.output.rstrip()
        return "\n".join([f"$ {self.shown}", *([body] if body else []), f"(exit status {self.code})"])


def docker_cli(args: list[str], *, env: dict[str, str] | None = None, shown: str | None = None,
               timeout: float = _CLI_TIMEOUT) -> CommandRun:
    """Run the docker CLI (so the output is what the learner sees); stdout and stderr are kept in order."""
    try:
        done = run_docker(args, env=env, timeout=timeout)
    except LabError as exc:               # no docker command here (or it cannot be started)
        raise LabError("the docker command is not installed here, so the proof cannot run it",
                       fix="install the Docker CLI (Docker Desktop, or your distribution's docker package)") from exc
    return CommandRun(shown or "docker " + " ".join(args), done.output, done.code)


# -- the four proofs ---------------------------------------------------------------------------------------

def prove_untagged_push(config: LabConfig, *, image: str = HELLO_IMAGE) -> str:
    """Push a name without a registry host and show where the engine sent it: docker.io, not the lab."""
    parsed = refs.parse(image, default_tag="latest")
    short = f"{parsed.repository.rsplit('/', 1)[-1]}:{parsed.tag}"
    if parsed.explicit_host:
        raise LabError(f"{image} names the registry {parsed.host}: this proof needs a name without a host",
                       fix=f'prove("untagged-push", config, image="{short}")')
    engine = Engine(config=config)
    _require_image(engine, image)
    run = docker_cli(["push", image])
    destination, lab_repo = parsed.name, parsed.repository
    went_to_hub = "docker.io" in run.output
    with _lab_client(config) as client:
        arrived = _has_repository(client, lab_repo)
    if run.code != 0 and went_to_hub:
        headline = (f"Without a host in its name the push went to Docker Hub ({destination}), not to the lab "
                    f"at {config.registry}; Docker Hub {_hub_reaction(run.output)}.")
    elif run.code == 0:
        headline = f"The push of {image} succeeded, into {destination}: not into the lab."
    else:
        headline = f"The push of {image} failed before it reached any registry (the engine's words below)."
    landed = {True: "holds a repository {0}: something did arrive there",
              False: "does not hold a repository {0}: nothing of this push arrived there",
              None: "did not answer, so it cannot say whether it holds {0}"}[arrived].format(lab_repo)
    lines = [headline, "", run.transcript(), "", f"The lab registry {config.registry} {landed}.",
             "To push to the lab, give the image a name that starts with the lab's host:",
             f"  docker tag {image} {config.ref(short.split(':')[0], parsed.tag)}"]
    return "\n".join(lines)


def prove_anonymous_push(config: LabConfig, *, image: str = HELLO_IMAGE) -> str:
    """Push to the lab from a Docker client that holds no credential: the registry refuses it."""
    engine = Engine(config=config)
    source = _start_image(engine, image, config)
    target = config.ref("myth-anonymous", "proof")
    engine.tag(source, target)
    try:
        with tempfile.TemporaryDirectory(prefix="lab-anonymous-") as empty:
            Path(empty, "config.json").write_text("{}")
            env = {**os.environ, **_engine_host_env(), "DOCKER_CONFIG": empty}
            run = docker_cli(["push", target], env=env,
                             shown=f"DOCKER_CONFIG=<an empty folder> docker push {target}")
    finally:
        engine.remove(target, missing_ok=True)
    challenge = _challenge(config)
    refused = "no basic auth credentials" in run.output or "unauthorized" in run.output.lower()
    if run.code != 0 and refused:
        headline = ("With no credential the lab registry refused the push: it answers 401 and asks for a "
                    "login, so anonymous pushes never get in.")
    elif run.code == 0:
        headline = ("The push got in without a credential: this registry runs without authentication "
                    "(never let others reach one).")
    else:
        headline = "The push failed, but not for a missing login: read the engine's words below."
    lines = [headline, "", run.transcript(), "", challenge]
    return "\n".join(lines)


def prove_full_upload(config: LabConfig, *, image: str = HELLO_IMAGE) -> str:
    """Push an image, push it again, then push a one-line change; report the bytes each push uploaded."""
    engine = Engine(config=config)
    source = _start_image(engine, image, config)
    first_ref, changed_ref = config.ref("myth-upload", "proof"), config.ref("myth-upload", "changed")
    made: list[str] = []
    try:
        with _lab_client(config) as client:
            _build_one_line(engine, source, first_ref, "the first version of one line")
            made.append(first_ref)
            first = engine.push(first_ref, client)
            again = engine.push(first_ref, client)
            _build_one_line(engine, source, changed_ref, "a changed version of that line")
            made.append(changed_ref)
            changed = engine.push(changed_ref, client)
    finally:
        for ref in made:
            engine.remove(ref, missing_ok=True)
    total = sum(item.bytes for item in first.layers)
    headline = (f"The whole image is {human_bytes(total)}; the first push uploaded {human_bytes(first.bytes_uploaded)}, "
                f"the same push again {human_bytes(again.bytes_uploaded)}, and a one-line change "
                f"{human_bytes(changed.bytes_uploaded)}: a push sends only the layers the registry lacks.")
    lines = [headline, "",
             _push_summary("push 1", f"{first_ref} (new)", first),
             _push_summary("push 2", f"{first_ref} again, nothing changed", again),
             _push_summary("push 3", f"{changed_ref} (one line of {_PROOF_FILE} changed)", changed),
             "", f"({config.learner}/myth-upload, the proof's repository, stays in the lab registry to look at)"]
    return "\n".join(lines)


def prove_secure_by_default(config: LabConfig, *, secret_app: Path | None = None) -> str:
    """Show the lab answering in plain HTTP and, when the secret app exists, read its deleted secret back."""
    lines = [_http_evidence(config), "", _engine_exemptions(config), "", _stored_login(config)]
    app = secret_app if secret_app is not None else course_app("secret")
    found: list[str] = []
    if (app / "Dockerfile").is_file():
        found, text = _secret_evidence(config, app)
        lines += ["", text]
    tail = (", and a secret deleted by a later layer was read back from the pushed image." if found else
            ": logins and layers travel unencrypted, nothing is secure without care.")
    headline = "The lab's registry speaks plain HTTP (the engine allows that only for localhost and 127.0.0.0/8)"
    return "\n".join([headline + tail, "", *lines])


#: The one live proof of each myth of the course (tests/unit/test_course.py: no myth without one, none extra).
PROOFS: dict[MythId, Callable[..., str]] = {
    MythId.UNTAGGED_PUSH: prove_untagged_push,
    MythId.ANONYMOUS_PUSH: prove_anonymous_push,
    MythId.FULL_UPLOAD: prove_full_upload,
    MythId.SECURE_BY_DEFAULT: prove_secure_by_default,
}


def prove(myth_id: str | MythId, config: LabConfig | None = None, **options: object) -> str:
    """Run the live experiment of a myth for real; its output text, explained in one line at the top."""
    try:
        proof = PROOFS[MythId(myth_id.strip() if isinstance(myth_id, str) else myth_id)]
    except ValueError:
        known = [str(item) for item in PROOFS]
        raise UnknownExercise(f"there is no myth {myth_id!r}; the myths are: {', '.join(known)}",
                              fix=f'prove("{known[0]}", config)') from None
    return proof(config or LabConfig.from_env(), **options)


# -- helpers: images --------------------------------------------------------------------------------------

def _require_image(engine: Engine, image: str) -> None:
    if not engine.exists(image):
        raise ImageNotFound(f"there is no local image {image} to push in this proof",
                            fix='build it first: build_hello()  (or catch_up("03") in a notebook)')


def _start_image(engine: Engine, image: str, config: LabConfig) -> str:
    """The image a proof starts from: `image` when it exists locally, else the lab's base image."""
    for candidate in (image, config.base_image):
        if engine.exists(candidate):
            return candidate
    raise ImageNotFound(f"neither {image} nor the base image {config.base_image} is on this machine",
                        fix='build the hello app first: build_hello()  (or catch_up("03") in a notebook)')


def _build_one_line(engine: Engine, base: str, tag: str, line: str) -> str:
    """Build `base` plus one small file holding `line` (and a nonce, so the layer is new to the registry)."""
    with tempfile.TemporaryDirectory(prefix="lab-myth-") as folder:
        nonce = f"{time.strftime('%H:%M:%S')}, {uuid.uuid4().hex[:8]}"
        Path(folder, _PROOF_FILE).write_text(f"{line} ({nonce})\n")
        Path(folder, "Dockerfile").write_text(f"ARG BASE\nFROM ${{BASE}}\nCOPY {_PROOF_FILE} /\n")
        return engine.build(folder, tag, buildargs={"BASE": base})


def _push_summary(label: str, what: str, report: PushReport) -> str:
    """One push in a few lines: each layer's outcome and bytes, then the total uploaded."""
    counts = {name: sum(1 for item in report.layers if item.outcome == name)
              for name in ("pushed", "exists", "mounted")}
    parts = [f"{counts['pushed']} pushed", f"{counts['exists']} already there"]
    if counts["mounted"]:
        parts.append(f"{counts['mounted']} mounted from another repository")
    rows = [f"{label}: {what}",
            f"  {len(report.layers)} layers: {', '.join(parts)} -> uploaded {human_bytes(report.bytes_uploaded)}"]
    rows += [f"    {item.id:<12}  {item.outcome:<7}  {human_bytes(item.bytes)}" for item in report.layers]
    rows.append(f"  digest {report.digest}")
    return "\n".join(rows)


# -- helpers: the registry and the Docker client ------------------------------------------------------------

@contextmanager
def _lab_client(config: LabConfig) -> Iterator[RegistryClient]:
    """A registry client with the lab's own credential: what it holds, whatever the learner's login."""
    credential = Credential(config.learner, Credentials(config).password())
    with RegistryClient.for_lab(config, credential=credential) as client:
        yield client


def _has_repository(client: RegistryClient, repository: str) -> bool | None:
    """Whether the registry's catalog lists the repository; None when the registry does not answer."""
    try:
        return repository in client.catalog()
    except RegistryError:
        return None


def _hub_reaction(output: str) -> str:
    text = output.lower()
    if "denied" in text or "unauthorized" in text or "authentication required" in text:
        return "refused it"
    return "cannot even be reached from here (no internet), which shows where it went all the same"


def _engine_host_env() -> dict[str, str]:
    """DOCKER_HOST of the current context, so a CLI with another DOCKER_CONFIG reaches the same engine."""
    if os.environ.get("DOCKER_HOST"):
        return {}
    run = docker_cli(["context", "inspect", "--format", "{{.Endpoints.docker.Host}}"], timeout=20)
    host = run.output.strip().splitlines()[-1] if run.code == 0 and run.output.strip() else ""
    return {"DOCKER_HOST": host} if "://" in host else {}


def _challenge(config: LabConfig) -> str:
    """What the lab answers an anonymous GET /v2/: its status and WWW-Authenticate challenge."""
    url = f"{config.registry_url}/v2/"
    try:
        answer = httpx.get(url, timeout=5.0)
    except httpx.HTTPError as exc:
        return f"GET {url} without credentials: no answer ({type(exc).__name__})"
    header = answer.headers.get("www-authenticate", "(none)")
    return (f"GET {url} without credentials -> {answer.status_code} {answer.reason_phrase}\n"
            f"  WWW-Authenticate: {header}")


def _http_evidence(config: LabConfig) -> str:
    """The lab's /v2/ over http:// (it answers) and over https:// (no TLS at all)."""
    plain = _challenge(config)
    if config.registry_url.startswith("https://"):
        return plain + "\n(this lab is reached over HTTPS: its traffic is encrypted)"
    tls_url = "https://" + config.registry_url.split("://", 1)[1] + "/v2/"
    try:
        answer = httpx.get(tls_url, timeout=5.0, verify=False)
        tls = f"GET {tls_url} -> {answer.status_code}: this registry also speaks HTTPS"
    except httpx.HTTPError as exc:
        reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
        tls = f"GET {tls_url} -> fails: {type(exc).__name__} {reason}".rstrip()
        tls += "\n  the registry has no TLS: every byte, your login included, crosses the wire in clear text"
    return plain + "\n" + tls


def _engine_exemptions(config: LabConfig) -> str:
    """Where the engine accepts plain HTTP: its insecure-registries networks and names (docker info)."""
    try:
        info = Engine(config=config).client.info()
    except (LabError, docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        return f"(docker info did not answer: {type(exc).__name__})"
    registry = info.get("RegistryConfig") or {}
    cidrs = [str(item) for item in registry.get("InsecureRegistryCIDRs") or []]
    names = [name for name, entry in (registry.get("IndexConfigs") or {}).items()
             if isinstance(entry, dict) and entry.get("Secure") is False]
    allowed = ", ".join(cidrs + names) or "nothing"
    return (f"The engine accepts plain HTTP only from: {allowed} (docker info: insecure registries).\n"
            f"{config.registry} is a loopback name, so the engine allows HTTP there; any other host would "
            "get \"server gave HTTP response to HTTPS client\" unless listed under insecure-registries, "
            "which sends logins and layers unencrypted across the network.")


def _stored_login(config: LabConfig) -> str:
    """How the Docker client keeps the lab login: a helper, or base64 in config.json (never shown here)."""
    path = config_dir() / "config.json"
    try:
        data = json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError):
        return f"(the Docker client's config {path} could not be read)"
    if not isinstance(data, dict):
        return f"(the Docker client's config {path} is not a JSON object)"
    helper = (data.get("credHelpers") or {}).get(config.registry) or data.get("credsStore")
    if helper:
        return f"The Docker client hands logins to the credential helper docker-credential-{helper}."
    entry = (data.get("auths") or {}).get(config.registry) or {}
    if entry.get("auth"):
        return (f"The Docker client keeps your {config.registry} login in {path} as base64 of user:password "
                "(value not shown): base64 is an encoding anyone can reverse, not encryption.")
    return f"The Docker client holds no stored login for {config.registry} in {path}."


# -- helpers: the secret that a later layer deleted -------------------------------------------------------

def _secret_evidence(config: LabConfig, app: Path) -> tuple[list[str], str]:
    """Build and push the secret app, read its layers back from the registry: files a later layer deleted."""
    engine = Engine(config=config)
    ref = config.ref("myth-secret", "proof")
    base = config.base_image
    try:
        engine.build(app, ref, buildargs={"BASE": base})
        try:
            report = engine.push(ref)
        finally:
            engine.remove(ref, missing_ok=True)
    except PushFailed as exc:
        return [], (f"The secret part needs a push to the lab, which failed: {exc.explanation}\n"
                    f"  fix: {exc.fix}")
    repository = refs.parse(ref).repository
    with _lab_client(config) as client:
        manifest = client.image_manifest(repository, report.digest)
        layers = [client.get_blob(repository, blob.digest) for blob in manifest.layers]
    found = deleted_files(layers)
    if not found:
        return [], (f"Pushed {ref} ({report.digest}); no layer holds a file that a later layer deletes.")
    rows = [(f"Pushed {ref} and read its {len(layers)} layers back through the registry API "
             f"(GET /v2/{repository}/blobs/<digest>):")]
    for item in found:
        rows.append(f"  layer {item.layer + 1} still holds /{item.path} "
                    f"(deleted by layer {item.deleted_by + 1}):")
        rows += [f"    {line}" for line in item.content.splitlines()[:5]]
    rows.append("Anyone who may pull the image can read it: a later step's delete hides a file, it does not "
                "remove it.")
    return [item.path for item in found], "\n".join(rows)


@dataclass(frozen=True)
class DeletedFile:
    """A file one layer adds and a later layer deletes (a whiteout), with its text in the earlier layer."""

    path: str
    layer: int          # index (bottom 0) of the layer that still holds the bytes
    deleted_by: int     # index of the layer whose whiteout hides it
    content: str


def deleted_files(layer_blobs: list[bytes]) -> list[DeletedFile]:
    """Files a later layer deletes but an earlier layer still carries, from the layers' (gzipped) tars."""
    union: LayerUnion[str] = LayerUnion(_text_start)
    return [DeletedFile(item.path, item.layer, item.deleted_by, item.kept)
            for item in union.add_all(layer_blobs) if item.kept is not None]


def _text_start(member: Member) -> str | None:
    """The first 4 kB of a regular file as text (what the proof shows of a deleted file), None for others."""
    raw = member.content(4096) if member.info.isfile() else None
    return raw.decode("utf-8", errors="replace") if raw is not None else None

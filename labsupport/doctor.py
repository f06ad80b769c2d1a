"""`labsupport doctor`: every precondition of the course, one line each, with the command that fixes it.

A finding is ok, warn (the course works, with a caveat) or fail (something blocks the course). Besides the
preconditions it says which image store (classic or containerd) and which builder (the legacy builder or
BuildKit through buildx) the learner has, and in a sentence what that pair changes in the course.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from .checks.fixes import LAB_UP, login_command
from .config import LabConfig
from .dockercli import builder
from .dockerconfig import load_credential, stored_registries
from .engine import Engine
from .errors import InvalidReference, LabError
from .lab import Lab, connect_engine
from .refs import is_loopback_alias
from .registry import probe

OK, WARN, FAIL = "ok", "warn", "fail"
MIN_FREE_BYTES = 2 * 1024**3


@dataclass(frozen=True)
class Finding:
    """One line of the doctor's report."""

    name: str
    status: str           # ok | warn | fail
    detail: str
    fix: str = ""


def buildkit_available(env: Mapping[str, str] | None = None) -> tuple[bool, str]:
    """Whether `docker build` uses BuildKit here, and how, asked the way the learner's client decides.

    The docker CLI on PATH, with the environment's DOCKER_CONFIG (its `cli-plugins/` holds buildx on Docker
    Desktop and on a learner's Engine install), runs `docker buildx version`: with the plugin, CLI 23+ builds
    with BuildKit unless DOCKER_BUILDKIT=0. Without it, CLI 23+ falls back to the legacy builder, and an
    older CLI (18.09-22) has BuildKit built in behind DOCKER_BUILDKIT=1 (see dockercli.Builder).
    """
    found = builder(env)
    if not found.cli_found:
        return False, "no docker command on PATH"
    if found.problem:
        return False, f"could not ask the docker CLI: {found.problem}"
    version = found.client_version
    if found.buildx is not None:
        plugin = f"buildx {found.buildx}"
        if not found.buildkit:
            return False, f"legacy builder: DOCKER_BUILDKIT=0 is set, though {plugin} is installed"
        return True, f"BuildKit through {plugin} (docker CLI {version or '?'}, docker build uses it)"
    if found.buildkit_built_in:
        return True, f"docker CLI {version} (DOCKER_BUILDKIT=1 docker build)"
    return False, (f"legacy builder: docker CLI {version or '?'} without the buildx plugin "
                   f"(none in {_plugins_folder({**os.environ, **(env or {})})} nor the system's plugin folders)")


def _plugins_folder(env: Mapping[str, str]) -> str:
    """The client's own plugin folder: $DOCKER_CONFIG/cli-plugins, else ~/.docker/cli-plugins."""
    base = env.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return os.path.join(base, "cli-plugins")


#: What each (image store, BuildKit?) pair changes in the course, in one sentence.
_WHAT_IT_CHANGES = {
    ("containerd", True): "docker build makes an image index holding your image and a provenance attestation "
                          "(unknown/unknown), so the image id is the index's digest, docker push uploads the "
                          "attestation too and names blobs by compressed digest, and every rebuild, even a "
                          "fully cached one, makes a new digest",
    ("containerd", False): "images are kept as registry manifests, so the image id is the manifest's digest "
                           "(not the config's), docker push names blobs by compressed digest, and "
                           "lesson 07's --secret build needs BuildKit (the buildx plugin)",
    ("classic", True): "the image id is the config's digest and docker push sends one plain manifest, naming "
                       "layers by their uncompressed diff ids; BuildKit builds but adds no attestation here",
    ("classic", False): "the image id is the config's digest and docker push sends one plain manifest, naming "
                        "layers by their uncompressed diff ids; lesson 07's --secret build needs BuildKit "
                        "(the buildx plugin) and is skipped",
}


def course_note(image_store: str, buildkit: bool) -> str:
    """The one sentence that says what this image store and builder change in the course."""
    return _WHAT_IT_CHANGES[("containerd" if image_store == "containerd" else "classic", buildkit)]


def diagnose(config: LabConfig | None = None) -> list[Finding]:
    """Run every check; none raises."""
    config = config or LabConfig.from_env()
    findings: list[Finding] = []
    try:
        client = connect_engine()
    except LabError as exc:
        findings.append(Finding("engine", FAIL, exc.message, exc.fix or ""))
        findings.append(Finding("registry", FAIL, "not checked: the engine does not answer", "start the engine first"))
        findings.extend(_registry_http(config))
        return findings
    engine = Engine(client, config=config)
    info = engine.info()
    findings.append(Finding("engine", OK, f"Docker {info.version} at {info.host}, {info.image_store} image store"))
    ok, how = buildkit_available()
    lab = Lab(config, client=client)
    findings.append(_container(lab))
    findings.extend(_registry_http(config))
    findings.append(_credential(config))
    findings.append(_base_image(engine, config))
    findings.append(_disk(config))
    findings.append(_image_store(info.image_store, info.storage_driver))
    findings.append(Finding("buildkit", OK if ok else WARN, how,
                            "" if ok else "install the buildx plugin into the Docker client's cli-plugins/ "
                            "(only lesson 07's --secret demo needs it)"))
    findings.append(Finding("course", OK, f"{info.image_store} image store + "
                            f"{'BuildKit' if ok else 'legacy builder'}: {course_note(info.image_store, ok)}"))
    return findings


def _image_store(image_store: str, storage_driver: str) -> Finding:
    if image_store == "containerd":
        return Finding("image-store", OK, "containerd image store (docker info: driver-type "
                       f"io.containerd.snapshotter.v1, snapshotter {storage_driver or '?'}), as Docker Desktop "
                       "and new Engine installs have")
    return Finding("image-store", OK, f"classic image store (storage driver {storage_driver or '?'}), as "
                   "older Engine installs have")


def _container(lab: Lab) -> Finding:
    status = lab.status()
    if status.container == "workshop":
        return Finding("registry", OK, f"the workshop's registry at {lab.config.registry}, run by your instructor")
    name = lab.config.container
    if status.container == "missing":
        return Finding("registry", FAIL, f"no container {name}", LAB_UP)
    if status.container != "running":
        return Finding("registry", FAIL, f"container {name} is {status.container}", LAB_UP)
    if status.health == "unhealthy":
        return Finding("registry", FAIL, f"container {name} is running but unhealthy",
                       f"docker logs {name}; then labsupport down && labsupport up")
    health = f", {status.health}" if status.health else ""
    return Finding("registry", OK, f"container {name} is running{health}")


def _registry_http(config: LabConfig) -> list[Finding]:
    answer = probe(config.registry_url)
    if answer is None:
        return [Finding("v2", FAIL, f"nothing answers at {config.registry_url}/v2/",
                        "labsupport up (or set LAB_REGISTRY_URL to where the registry is)")]
    challenge = answer.headers.get("www-authenticate", "")
    if answer.status_code == 401 and challenge:
        scheme = challenge.split()[0]
        return [Finding("v2", OK, f"{config.registry_url}/v2/ answers 401 with a {scheme} challenge")]
    if answer.status_code == 200:
        return [Finding("v2", FAIL, f"{config.registry_url}/v2/ answers without asking for credentials",
                        "something else serves this port: labsupport down && labsupport up")]
    return [Finding("v2", FAIL, f"{config.registry_url}/v2/ answered {answer.status_code}", "labsupport doctor")]


def _credential(config: LabConfig) -> Finding:
    try:
        credential = load_credential(config.registry)
        stored = stored_registries()
    except LabError as exc:
        return Finding("login", FAIL, exc.message, exc.fix or "")
    login = login_command(config)
    if credential is None:
        aliases = [r for r in stored if _is_alias(r, config.registry)]
        if aliases:
            return Finding("login", WARN, f"the Docker client holds a credential for {aliases[0]}, not for "
                           f"{config.registry}: the two names are different keys", login)
        return Finding("login", WARN, f"the Docker client holds no credential for {config.registry} "
                       "(lesson 04 teaches the login)", login)
    answer = probe(config.registry_url, (credential.username, credential.secret))
    if answer is not None and answer.status_code == 200:
        return Finding("login", OK, f"the Docker client's credential for {config.registry} is accepted")
    return Finding("login", FAIL, f"the Docker client's credential for {config.registry} is rejected", login)


def _is_alias(stored: str, registry: str) -> bool:
    """A stored key that names the lab by another loopback name (a stored key may not parse as a host)."""
    try:
        return is_loopback_alias(stored, registry)
    except InvalidReference:
        return False


def _base_image(engine: Engine, config: LabConfig) -> Finding:
    if engine.exists(config.base_image):
        return Finding("base-image", OK, f"{config.base_image} is present")
    return Finding("base-image", WARN, f"{config.base_image} is not on this machine yet",
                   f"docker pull {config.base_image} (offline: labsupport bundle load FILE)")


def _disk(config: LabConfig) -> Finding:
    folder = config.state_dir if config.state_dir.exists() else config.state_dir.parent
    while not folder.exists():
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    text = f"{free / 1024**3:.1f} GiB free where the lab keeps its state"
    if free < MIN_FREE_BYTES:
        return Finding("disk", WARN, text + " (the course needs about 2 GiB)",
                       "free some space: docker system df; docker image prune")
    return Finding("disk", OK, text)


def report(findings: list[Finding]) -> str:
    """The doctor's report as a terminal or a notebook prints it: a line per finding, its fix below a failure."""
    marks = {OK: "ok  ", WARN: "WARN", FAIL: "FAIL"}
    lines = []
    for item in findings:
        lines.append(f"{marks.get(item.status, item.status)} {item.name:<11} {item.detail}")
        if item.fix and item.status != OK:
            lines.append(f"     {'':<11} fix: {item.fix}")
    lines.append("Something above blocks the course." if blocking(findings) else "Nothing blocks the course.")
    return "\n".join(lines)


def blocking(findings: list[Finding]) -> bool:
    return any(f.status == FAIL for f in findings)


def as_json(findings: list[Finding]) -> list[dict]:
    return [asdict(f) for f in findings]

"""`labsupport doctor`: every precondition of the course, one line each, with the command that fixes it.

A finding is ok, warn (the course works, with a caveat) or fail (something blocks the course).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import asdict, dataclass

from .config import LabConfig
from .errors import LabError
from .lab import Lab, connect_engine, probe

OK, WARN, FAIL = "ok", "warn", "fail"
MIN_FREE_BYTES = 2 * 1024**3


@dataclass(frozen=True)
class Finding:
    """One line of the doctor's report."""

    name: str
    status: str           # ok | warn | fail
    detail: str
    fix: str = ""


def buildkit_available() -> tuple[bool, str]:
    """Whether `docker build` can use BuildKit here (the buildx plugin, or an older CLI's built-in BuildKit)."""
    docker = shutil.which("docker")
    if not docker:
        return False, "no docker command on PATH"
    try:
        buildx = subprocess.run([docker, "buildx", "version"], capture_output=True, text=True, timeout=15)
        if buildx.returncode == 0:
            return True, "buildx " + buildx.stdout.split()[1] if len(buildx.stdout.split()) > 1 else "buildx"
        version = subprocess.run([docker, "version", "--format", "{{.Client.Version}}"],
                                 capture_output=True, text=True, timeout=15).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return False, f"could not ask the docker CLI: {exc}"
    major = int(version.split(".")[0]) if version[:1].isdigit() else 0
    if 18 <= major < 23:
        return True, f"docker CLI {version} (DOCKER_BUILDKIT=1 docker build)"
    return False, f"docker CLI {version} without the buildx plugin"


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
    from .engine import Engine

    info = Engine(client, config=config).info()
    findings.append(Finding("engine", OK, f"Docker {info.version} at {info.host}, {info.image_store} image store"))
    lab = Lab(config, client=client)
    findings.append(_container(lab))
    findings.extend(_registry_http(config))
    findings.append(_credential(config))
    findings.append(_base_image(client, config))
    findings.append(_disk(config))
    ok, detail = buildkit_available()
    findings.append(Finding("buildkit", OK if ok else WARN, detail,
                            "" if ok else "install the buildx plugin (only lesson 07's --secret demo needs it)"))
    return findings


def _container(lab: Lab) -> Finding:
    status = lab.status()
    if status.container == "workshop":
        return Finding("registry", OK, f"the workshop's registry at {lab.config.registry}, run by your instructor")
    name = lab.config.container
    if status.container == "missing":
        return Finding("registry", FAIL, f"no container {name}", "labsupport up")
    if status.container != "running":
        return Finding("registry", FAIL, f"container {name} is {status.container}", "labsupport up")
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
    from .dockerconfig import load_credential, stored_registries

    try:
        credential = load_credential(config.registry)
        stored = stored_registries()
    except LabError as exc:
        return Finding("login", FAIL, exc.message, exc.fix or "")
    login = f"docker login {config.registry} -u {config.learner} (password: labsupport credentials)"
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
    from .errors import InvalidReference
    from .refs import is_loopback_alias

    try:
        return is_loopback_alias(stored, registry)
    except InvalidReference:
        return False


def _base_image(client, config: LabConfig) -> Finding:
    from docker.errors import ImageNotFound

    try:
        client.images.get(config.base_image)
        return Finding("base-image", OK, f"{config.base_image} is present")
    except ImageNotFound:
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

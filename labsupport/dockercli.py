"""I/O: the one runner of the docker CLI, for what a learner types and the SDK does not do the same way.

The SDK's build is always the classic builder; the learner's `docker build` is BuildKit's wherever the client
has the buildx plugin (Docker Desktop, Engine 23+ packages), and on the containerd image store that makes an
image index with a provenance attestation. So the course builds with the CLI, as the learner does, and the
same client config (DOCKER_CONFIG) decides the builder for both. Every labsupport call of the docker CLI goes
through `run_docker`/`stream_docker` here, and so do the one `docker login` and `docker logout`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from .errors import LabError

__all__ = ["Builder", "CliRun", "builder", "builds_with_buildkit", "client_version", "docker_program", "has_buildx",
           "login", "logout", "run_docker", "stream_docker"]

INSTALL_CLI = "install the Docker CLI (Docker Desktop, or your distribution's docker package), then labsupport doctor"


@dataclass(frozen=True)
class CliRun:
    """What one docker command printed (stdout and stderr in order) and its exit status."""

    args: tuple[str, ...]
    output: str
    code: int

    @property
    def ok(self) -> bool:
        return self.code == 0

    @property
    def last_words(self) -> str:
        """What a failed command said last (its last non-empty line, cut at 300 characters), else its status."""
        said = [line.strip() for line in self.output.splitlines() if line.strip()]
        return said[-1][:300] if said else str(self.code)


def docker_program(env: Mapping[str, str] | None = None) -> str:
    """The docker CLI on PATH (the PATH of `env` where it sets one), or a LabError that says how to get one."""
    program = shutil.which("docker", path=_environment(env).get("PATH"))
    if program is None:
        raise LabError("the docker command is not installed here (nothing named docker on PATH)", fix=INSTALL_CLI)
    return program


def _environment(env: Mapping[str, str] | None) -> dict[str, str]:
    merged = {**os.environ, **(env or {})}
    merged.setdefault("DOCKER_CLI_HINTS", "false")      # no "What's next:" advertisements in the output
    return merged


def run_docker(args: Sequence[str], *, env: Mapping[str, str] | None = None, stdin: str | None = None,
               timeout: float = 600) -> CliRun:
    """Run `docker ARGS`, returning its output and status (a failing command is a result, not an error)."""
    command = [docker_program(env), *args]
    try:
        done = subprocess.run(command, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=_environment(env), timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        partial = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return CliRun(tuple(args), partial + f"\n(still running after {timeout:.0f} s: stopped)", -1)
    except OSError as exc:
        raise LabError(f"the docker command could not run: {exc}", fix=INSTALL_CLI) from exc
    return CliRun(tuple(args), done.stdout, done.returncode)


def stream_docker(args: Sequence[str], on_line: Callable[[str], None], *, env: Mapping[str, str] | None = None,
                  timeout: float = 900) -> CliRun:
    """Run `docker ARGS`, handing each output line to `on_line` as it comes (a build's progress)."""
    command = [docker_program(env), *args]
    lines: list[str] = []
    try:
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=_environment(env), stdin=subprocess.DEVNULL) as process:
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(line)
                on_line(line)
            code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return CliRun(tuple(args), "".join(lines) + f"\n(still running after {timeout:.0f} s: stopped)", -1)
    except OSError as exc:
        raise LabError(f"the docker command could not run: {exc}", fix=INSTALL_CLI) from exc
    return CliRun(tuple(args), "".join(lines), code)


# -- login ------------------------------------------------------------------------------------------------

def login(registry: str, username: str, password: str, *, fix: str, cannot_run_fix: str = INSTALL_CLI,
          env: Mapping[str, str] | None = None, timeout: float = 120) -> None:
    """`docker login REGISTRY --username USERNAME --password-stdin`, the password on stdin (never in argv or in
    what is kept of the run); a LabError with `fix` when the registry refuses, `cannot_run_fix` without a CLI."""
    try:
        done = run_docker(["login", registry, "--username", username, "--password-stdin"], env=env,
                          stdin=password, timeout=timeout)
    except LabError as exc:
        raise LabError(f"docker login {registry} did not run: {exc.message}", fix=cannot_run_fix) from exc
    if not done.ok:
        raise LabError(f"docker login {registry} failed: {done.last_words}", fix=fix)


def logout(registry: str, *, env: Mapping[str, str] | None = None, timeout: float = 60) -> CliRun:
    """`docker logout REGISTRY`: its run (a failure is a result); LabError when there is no docker command."""
    return run_docker(["logout", registry], env=env, timeout=timeout)


# -- the builder `docker build` uses --------------------------------------------------------------------------

def has_buildx(env: Mapping[str, str] | None = None) -> str | None:
    """The buildx plugin's version when the client has it (so `docker build` is BuildKit's), else None;
    "?" when the plugin answers without a version."""
    try:
        done = run_docker(["buildx", "version"], env=env, timeout=30)
    except LabError:
        return None
    words = done.output.split()
    return (words[1] if len(words) > 1 else "?") if done.ok else None


def client_version(env: Mapping[str, str] | None = None) -> str:
    """The docker CLI's own version (28.5.2), "" when it cannot tell; the client answers even without an engine
    (the engine's error follows on the next line)."""
    done = run_docker(["version", "--format", "{{.Client.Version}}"], env=env, timeout=30)
    first = done.output.strip().splitlines()[0] if done.output.strip() else ""
    return first.strip() if first[:1].isdigit() else ""


def _buildkit_off(env: Mapping[str, str] | None) -> bool:
    return _environment(env).get("DOCKER_BUILDKIT") == "0"


def _default_buildkit(buildx: str | None, off: bool) -> bool:
    """The one decision: a CLI 23+ `docker build` is BuildKit's where the buildx plugin is, unless
    DOCKER_BUILDKIT=0; without the plugin it is the legacy builder."""
    return buildx is not None and not off


def builds_with_buildkit(env: Mapping[str, str] | None = None) -> bool:
    """Whether `docker build` here is BuildKit's: the client has buildx and DOCKER_BUILDKIT=0 is not set."""
    off = _buildkit_off(env)
    return not off and _default_buildkit(has_buildx(env), off)      # off: no need to ask for the plugin


@dataclass(frozen=True)
class Builder:
    """What decides the builder of `docker build` with this client: the buildx plugin, the CLI's version and
    DOCKER_BUILDKIT=0; `problem` when the docker CLI is missing or could not be asked."""

    buildx: str | None
    client_version: str
    buildkit_off: bool
    cli_found: bool = True
    problem: str = ""

    @property
    def buildkit(self) -> bool:
        """Whether a plain `docker build` is BuildKit's (what builds_with_buildkit says)."""
        return _default_buildkit(self.buildx, self.buildkit_off)

    @property
    def buildkit_built_in(self) -> bool:
        """An older CLI (18.09 to 22) without the plugin: BuildKit built in, behind DOCKER_BUILDKIT=1."""
        major = self.client_version.split(".")[0]
        return self.buildx is None and major.isdigit() and 18 <= int(major) < 23


def builder(env: Mapping[str, str] | None = None) -> Builder:
    """Ask the docker CLI what decides its builder (`docker buildx version`, `docker version`)."""
    off = _buildkit_off(env)
    try:
        docker_program(env)
    except LabError as exc:
        return Builder(None, "", off, cli_found=False, problem=exc.message)
    try:
        version = client_version(env)
    except LabError as exc:
        return Builder(None, "", off, problem=exc.message)
    return Builder(has_buildx(env), version, off)

"""I/O: the one runner of the docker CLI, for what a learner types and the SDK does not do the same way.

The SDK's build is always the classic builder; the learner's `docker build` is BuildKit's wherever the client
has the buildx plugin (Docker Desktop, Engine 23+ packages), and on the containerd image store that makes an
image index with a provenance attestation. So the course builds with the CLI, as the learner does, and the
same client config (DOCKER_CONFIG) decides the builder for both.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from .errors import LabError

__all__ = ["CliRun", "builds_with_buildkit", "docker_program", "has_buildx", "run_docker", "stream_docker"]

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


def docker_program() -> str:
    """The docker CLI on PATH, or a LabError that says how to get one."""
    program = shutil.which("docker")
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
    command = [docker_program(), *args]
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
    command = [docker_program(), *args]
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


def has_buildx(env: Mapping[str, str] | None = None) -> str | None:
    """The buildx plugin's version when the client has it (so `docker build` is BuildKit's), else None."""
    try:
        done = run_docker(["buildx", "version"], env=env, timeout=30)
    except LabError:
        return None
    words = done.output.split()
    return (words[1] if len(words) > 1 else "present") if done.ok else None


def builds_with_buildkit(env: Mapping[str, str] | None = None) -> bool:
    """Whether `docker build` here is BuildKit's: the client has buildx and DOCKER_BUILDKIT=0 is not set."""
    merged = _environment(env)
    return merged.get("DOCKER_BUILDKIT") != "0" and has_buildx(env) is not None

"""What the benchmarks share: a lab registry of their own and a Docker client config logged in to it."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

from labsupport.config import LabConfig
from labsupport.lab import Lab


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def lab_for_bench(work: Path, run: str, prefix: str) -> Lab:
    """A lab registry of the bench's own (port, container, volume, state), from the LAB_* variables."""
    env = {key: value for key, value in os.environ.items() if key.startswith("LAB_")}
    env.update({"LAB_REGISTRY": f"localhost:{free_port()}", "LAB_REGISTRY_URL": "", "LAB_LEARNER": "bench",
                "LAB_CONTAINER": f"{prefix}-{run}-registry", "LAB_VOLUME": f"{prefix}-{run}-data",
                "LAB_STATE_DIR": str(work / "state")})
    env.setdefault("LAB_REGISTRY_IMAGE", "labsupport/registry:2.8")
    env.setdefault("LAB_BASE_IMAGE", "labsupport/base:1.35")
    return Lab(LabConfig.from_env(env))


def login(lab: Lab, folder: Path) -> None:
    """docker login to the bench lab in a fresh DOCKER_CONFIG, which this process then uses."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text("{}")
    command = ["docker", "login", lab.config.registry, "--username", lab.config.learner, "--password-stdin"]
    subprocess.run(command, input=lab.password(), capture_output=True, text=True, check=True,
                   env={**os.environ, "DOCKER_CONFIG": str(folder)})
    os.environ["DOCKER_CONFIG"] = str(folder)


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of `values` (fraction 0.95 for p95)."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]

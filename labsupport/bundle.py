"""Carry the lab's images into a room without internet: `docker save` them into one file, `docker load` it there."""

from __future__ import annotations

from pathlib import Path

from .config import LabConfig
from .dockercli import CliRun, run_docker
from .errors import LabError


def _docker(*args: str, check: bool = True) -> CliRun:
    """Run `docker ARGS`; with `check`, a failure is a LabError that quotes the CLI's own words."""
    try:
        done = run_docker(args, timeout=900)
    except LabError as exc:
        raise LabError("the docker command is not on PATH", fix="install the Docker CLI") from exc
    if check and not done.ok:
        raise LabError(f"docker {args[0]} failed: {done.output.strip()[:400]}", fix="labsupport doctor")
    return done


def save_bundle(config: LabConfig, file: str | Path) -> list[str]:
    """Write the registry and base images into one tar file; the list of images saved."""
    images = [config.registry_image, config.base_image]
    for image in images:
        if not _docker("image", "inspect", image, check=False).ok:
            raise LabError(f"{image} is not on this machine, so it cannot be bundled",
                           fix=f"docker pull {image} (or scripts/make-offline-images)")
    _docker("save", "-o", str(file), *images)
    return images


def load_bundle(file: str | Path) -> str:
    """Load a bundle written by save_bundle; the engine's own summary of what it loaded."""
    if not Path(file).is_file():
        raise LabError(f"no bundle file at {file}", fix="labsupport bundle save FILE on a machine with the images")
    return _docker("load", "-i", str(file)).output.strip()

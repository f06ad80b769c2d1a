"""I/O: where the docker SDK reaches the engine, and the one translation of its errors into labsupport's.

The engine module and the registry container's lifecycle both talk to the SDK inside `docker_errors()`: no
engine → EngineUnavailable (with how to start one), no image → ImageNotFound, any other refusal → a LabError
in the caller's words, with a fix.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

import docker.errors
import requests
from docker.context import ContextAPI

from .errors import EngineUnavailable, ImageNotFound, LabError

log = logging.getLogger(__name__)

START_ENGINE = ("start the engine: open Docker Desktop, or `colima start`, or `sudo systemctl start docker`; "
                "then `labsupport doctor`")


def reason_of(exc: BaseException) -> str:
    """The first line of what the SDK said about an error (its explanation), at most 300 characters."""
    text = getattr(exc, "explanation", None) or str(exc)
    lines = str(text).strip().splitlines()
    return lines[0][:300] if lines else type(exc).__name__


def engine_address() -> tuple[str, str, bool]:
    """(where the SDK reaches the engine, how that was chosen, whether it is a non-default docker context)."""
    if os.environ.get("DOCKER_HOST"):
        return os.environ["DOCKER_HOST"], "DOCKER_HOST", False
    try:
        context = ContextAPI.get_current_context()
        if context is not None and context.name != "default" and context.Host:
            return context.Host, f"the docker context {context.name!r}", True
    except (docker.errors.DockerException, OSError, ValueError, KeyError) as exc:
        log.debug("no docker context: %s", exc)  # an unreadable context store: fall back to the socket
    return "unix:///var/run/docker.sock", "the default socket", False


@contextmanager
def docker_errors(ref: str | None = None, *, refused: str = "the Docker engine refused",
                  fix: str = "labsupport doctor") -> Iterator[None]:
    """Translate docker SDK errors met inside the block into labsupport errors (the one translation).

    A 404 about the image `ref` is ImageNotFound; a lost engine is EngineUnavailable; any other refusal is
    LabError("<refused>: <the engine's reason>", fix=fix). A LabError raised inside passes unchanged.
    """
    try:
        yield
    except LabError:
        raise
    except requests.exceptions.ConnectionError as exc:
        raise EngineUnavailable(f"lost the Docker engine at {engine_address()[0]}: {reason_of(exc)}",
                                fix=START_ENGINE) from exc
    except docker.errors.APIError as exc:
        if ref is not None and isinstance(exc, docker.errors.NotFound):   # ImageNotFound is a NotFound
            raise ImageNotFound(f"there is no local image {ref}: {reason_of(exc)}",
                                fix="docker images   (lists what exists); build or tag the image first",
                                ) from exc
        raise LabError(f"{refused}: {reason_of(exc)}", fix=fix) from exc

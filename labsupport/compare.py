"""An image here against a repository there: the composition the CLI's `layers` and `show_layers` share.

The engine gives the local image, the registry what a repository holds; `model.diff_image` (pure) says which
layers a push would send, skip or mount.
"""

from __future__ import annotations

from . import refs
from .config import LabConfig
from .engine import Engine
from .errors import ManifestUnknown, NameUnknown
from .model import ImageDiff, diff_image
from .registry import RegistryClient


def repository_for(ref: str, config: LabConfig) -> str:
    """The lab repository an image is compared with: its own when it names the lab, else `<learner>/<name>`."""
    parsed = refs.parse(ref)
    if parsed.host == config.registry:
        return parsed.repository
    return f"{config.learner}/{parsed.repository.rsplit('/', 1)[-1]}"


def image_diff(ref: str, *, config: LabConfig, engine: Engine, registry: RegistryClient,
               against: str | None = None) -> ImageDiff:
    """The local image `ref` against a lab repository (`against`, default repository_for), its other tags and the
    registry's other repositories."""
    repository = against or repository_for(ref, config)
    tag = refs.parse(ref, default_tag="latest").tag or "latest"
    image = engine.image_view(ref)
    try:
        target = registry.remote_view(repository, tag)
    except (NameUnknown, ManifestUnknown):
        target = None
    return diff_image(image, repository, target, registry.views())

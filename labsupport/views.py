"""Local images against the lab registry: the lab's own registry client and an image's diff against it.

One place for the composition the CLI, the notebooks and the checks share (engine + registry → model).
"""

from __future__ import annotations

from . import refs
from .config import LabConfig
from .dockerconfig import Credential
from .engine import Engine
from .errors import ManifestUnknown, NameUnknown
from .lab import Credentials
from .model import ImageDiff, diff_image
from .registry import RegistryClient


def lab_credential(config: LabConfig) -> Credential:
    """The lab's own credential (learner + generated password), independent of the learner's docker login."""
    creds = Credentials(config)
    return Credential(creds.username, creds.password())


def lab_registry(config: LabConfig) -> RegistryClient:
    """A client of the lab registry that reads with the lab's own credential."""
    return RegistryClient.for_lab(config, credential=lab_credential(config))


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

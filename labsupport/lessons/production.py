"""Release naming and multi-platform images, as lesson 08 teaches them.

- Tags: a semantic version (`1.2.0`) plus its moving minor tag (`1.2`) plus the commit id the image was built
  from, all on one digest, so a reader can go from any of them to the exact source.
- An image index (OCI index, or Docker's manifest list) points at one image manifest per platform; a client
  pulls the entry matching its own OS and CPU. `assemble_index` writes one through the registry API from
  manifests already pushed to the same repository, which is what `docker buildx` or `docker manifest` do.

The registry is passed in (a labsupport.registry.RegistryClient or anything with `manifest` and
`put_manifest`), so this module holds no connection of its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import LabError
from ..registry import MANIFEST_LIST, MANIFEST_V2, OCI_INDEX


def parse_platform(text: str) -> dict[str, str]:
    """`os/architecture[/variant]` as an index entry's platform object; LabError for another shape."""
    parts = text.strip().split("/")
    if len(parts) not in (2, 3) or not all(re.fullmatch(r"[a-z0-9_.-]+", part) for part in parts):
        raise LabError(
            f"{text!r} is not a platform", fix="write it as os/architecture[/variant], e.g. linux/arm64"
        )
    platform = {"os": parts[0], "architecture": parts[1]}
    if len(parts) == 3:
        platform["variant"] = parts[2]
    return platform


class ManifestStore(Protocol):
    """What assemble_index needs of a registry client."""

    def manifest(self, repository: str, reference: str) -> Any: ...

    def put_manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> str: ...


@dataclass(frozen=True)
class IndexEntry:
    """One platform of an index: the manifest it points at and the platform it is for."""

    platform: str
    digest: str
    size: int
    media_type: str


def index_document(entries: list[IndexEntry]) -> tuple[bytes, str]:
    """The index body and its media type: a Docker manifest list over Docker manifests, else an OCI index."""
    docker = all(entry.media_type == MANIFEST_V2 for entry in entries)
    media_type = MANIFEST_LIST if docker else OCI_INDEX
    document = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [
            {
                "mediaType": entry.media_type,
                "digest": entry.digest,
                "size": entry.size,
                "platform": parse_platform(entry.platform),
            }
            for entry in entries
        ],
    }
    return json.dumps(document, indent=2).encode(), media_type


def assemble_index(
    registry: ManifestStore, repository: str, tag: str, platform_refs: Mapping[str, str]
) -> str:
    """Write an image index `repository:tag` over already-pushed manifests; returns the index's digest.

    `platform_refs` maps a platform (`linux/amd64`) to a tag or digest in the same repository, e.g.
    `{"linux/amd64": "1.0-amd64", "linux/arm64": "1.0-arm64"}`. Each names an image manifest, or an index
    holding that platform's image (as BuildKit pushes them): then the new index lists that image, and the
    source's attestation entries are left out.
    """
    if not platform_refs:
        raise LabError(
            "an index needs at least one platform", fix='assemble_index(..., {"linux/amd64": "1.0-amd64"})'
        )
    entries = []
    for platform, reference in platform_refs.items():
        parse_platform(platform)
        manifest = registry.manifest(repository, reference)
        if manifest.is_index:
            manifest = _platform_image(registry, repository, reference, manifest, platform)
        entries.append(
            IndexEntry(platform, manifest.digest, len(manifest.raw), manifest.media_type or MANIFEST_V2)
        )
    body, media_type = index_document(entries)
    return registry.put_manifest(repository, tag, body, media_type)


def _platform_image(registry: ManifestStore, repository: str, reference: str, index: Any, platform: str) -> Any:
    """The image manifest for `platform` inside an index that a platform's tag names, as `docker build` with
    BuildKit pushes one on the containerd image store (the image plus an attestation entry, `unknown/unknown`).
    An index lists image manifests, never other indexes, so the new index points at that image directly."""
    digest = index.digest_for(platform)
    if not digest:
        images = ", ".join(index.image_platforms) or "none"
        raise LabError(
            f"{repository}:{reference} is an image index without a {platform} image (its images: {images})",
            fix=f"point {platform} at a tag or digest that holds a {platform} image",
        )
    image = registry.manifest(repository, digest)
    if image.is_index:
        raise LabError(
            f"{repository}@{digest} (the {platform} entry of {reference}) is itself an index",
            fix="point each platform at a tag or digest pushed from a single image",
        )
    return image

"""I/O: the lab's registry over its HTTP API v2, in three modules re-exported here.

    client.py   RegistryClient: catalog, tags, manifests, blobs, uploads and deletes
    auth.py     the challenge, Basic, the one Bearer token exchange, the /v2/ probe
    wire.py     pure: media types, manifests, the digest grammar, error answers → typed errors
"""

from __future__ import annotations

from .auth import Challenge, parse_challenge, probe
from .client import RegistryClient, host_platform
from .wire import (
    ACCEPT,
    INDEX_TYPES,
    MANIFEST_LIST,
    MANIFEST_V2,
    OCI_INDEX,
    OCI_MANIFEST,
    Manifest,
    sha256_digest,
)

__all__ = [
    "ACCEPT", "INDEX_TYPES", "MANIFEST_LIST", "MANIFEST_V2", "OCI_INDEX", "OCI_MANIFEST",
    "Challenge", "Manifest", "RegistryClient", "host_platform", "parse_challenge", "probe", "sha256_digest",
]

"""Pure pieces of the registry HTTP API v2: media types, manifests, the digest grammar, error translation.

No I/O here: client.py sends the requests (auth.py authenticates them); this module names what goes over the
wire, checks names before they go into a URL path (with the one name grammar, in refs), and turns an error
answer (HTTP status plus the registry's `errors[0].code`) into the typed errors of labsupport.errors.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import httpx

from ..errors import (
    BlobUnknown,
    Denied,
    InvalidReference,
    ManifestInvalid,
    ManifestUnknown,
    NameUnknown,
    RegistryError,
    Unauthorized,
)
from ..model import Blob
from ..refs import NAME_MAX, is_repository_path, is_tag

MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
INDEX_TYPES = (MANIFEST_LIST, OCI_INDEX)
#: Every manifest kind we read; without this header a registry may answer with an old schema 1 manifest.
ACCEPT = f"{MANIFEST_V2}, {MANIFEST_LIST}, {OCI_MANIFEST}, {OCI_INDEX}"

#: A digest as a registry takes it in a URL path: any algorithm, an encoded part of 32 characters or more.
DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[A-Za-z0-9=_-]{32,}$")

#: The platform BuildKit gives the attestation manifests (provenance, SBOM) it adds to an image index.
ATTESTATION_PLATFORM = "unknown/unknown"
_REFERENCE_TYPE = "vnd.docker.reference.type"


@dataclass(frozen=True)
class Manifest:
    """A manifest as the registry served it: its digest, media type, exact bytes and parsed document.

    `index_digest` and `platform` say, for an image manifest read through an index (`image_manifest`), which
    index it was chosen from and for which platform; both are "" for a manifest read directly.
    """

    repository: str
    reference: str
    digest: str
    media_type: str
    raw: bytes = field(repr=False)
    document: dict[str, Any] = field(repr=False)
    index_digest: str = ""
    platform: str = ""

    @property
    def is_index(self) -> bool:
        """True for a manifest list / OCI index, which points at one manifest per platform."""
        return self.media_type in INDEX_TYPES or "manifests" in self.document

    @property
    def platforms(self) -> list[str]:
        """The platforms an index lists, as os/architecture[/variant], attestations (unknown/unknown)
        included; [] for a single-image manifest."""
        return [_platform_of(entry) for entry in self._entries()]

    @property
    def image_platforms(self) -> list[str]:
        """The platforms of the runnable images an index lists: its attestation entries left out."""
        return [_platform_of(entry) for entry in self._entries() if not is_attestation(entry)]

    @property
    def attestations(self) -> list[str]:
        """The digests of the attestation manifests an index lists (BuildKit's provenance and SBOM)."""
        return [str(entry.get("digest", "")) for entry in self._entries() if is_attestation(entry)]

    @property
    def entries(self) -> list[str]:
        """The digests of every manifest an index lists, images and attestations; [] for an image manifest."""
        return [str(entry.get("digest", "")) for entry in self._entries() if entry.get("digest")]

    def digest_for(self, platform: str) -> str | None:
        """The digest of this index's image for `platform` ("linux/amd64" matches any variant)."""
        wanted = platform.strip().lower()
        for entry in self._entries():
            if is_attestation(entry) and wanted != ATTESTATION_PLATFORM:
                continue
            have = _platform_of(entry)
            if have == wanted or (wanted.count("/") == 1 and have.startswith(wanted + "/")):
                return str(entry.get("digest", "")) or None
        return None

    def choose_platform(self, preferred: str | None) -> str | None:
        """The image platform to read in this index: its only one, else `preferred` when it lists it."""
        images = self.image_platforms
        if len(images) == 1:
            return images[0]
        if preferred and self.digest_for(preferred):
            return next(name for name in images if name == preferred or name.startswith(preferred + "/"))
        return None

    @property
    def layers(self) -> list[Blob]:
        """The layer blobs, bottom first; [] for an index."""
        return [_blob(item) for item in self.document.get("layers") or [] if isinstance(item, dict)]

    @property
    def config(self) -> Blob:
        """The image config blob. An index has none: ManifestInvalid says how to read one of its images."""
        item = self.document.get("config")
        if isinstance(item, dict):
            return _blob(item)
        name = f"{self.repository}{'@' if ':' in self.reference else ':'}{self.reference}"
        if self.is_index:
            raise ManifestInvalid(
                f"{name} is an image index over {', '.join(self.platforms) or 'no platform'}: an index lists "
                "one image manifest per platform and has no config of its own",
                code="MANIFEST_INVALID",
                fix=f"read one of its images: image_manifest({self.repository!r}, {self.reference!r}) "
                    "chooses your engine's platform")
        raise ManifestInvalid(f"{name} has no config blob", code="MANIFEST_INVALID",
                              fix="push the image again")

    @property
    def has_config(self) -> bool:
        return isinstance(self.document.get("config"), dict)

    def _entries(self) -> list[dict[str, Any]]:
        return [item for item in self.document.get("manifests") or [] if isinstance(item, dict)]


def is_attestation(entry: dict[str, Any]) -> bool:
    """Whether an index entry is an attestation manifest (BuildKit marks it so, on unknown/unknown)."""
    annotations = entry.get("annotations") or {}
    return (isinstance(annotations, dict) and annotations.get(_REFERENCE_TYPE) == "attestation-manifest") or (
        _platform_of(entry) == ATTESTATION_PLATFORM)


def _platform_of(entry: dict[str, Any]) -> str:
    plat = entry.get("platform") or {}
    parts = [plat.get("os", "unknown"), plat.get("architecture", "unknown")] + (
        [plat["variant"]] if plat.get("variant") else [])
    return "/".join(str(part) for part in parts)


def _blob(item: dict[str, Any]) -> Blob:
    return Blob(digest=str(item.get("digest", "")), size=int(item.get("size") or 0),
                media_type=str(item.get("mediaType", "")))


def sha256_digest(data: bytes) -> str:
    """The `sha256:<hex>` digest a registry gives these exact bytes."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


# -- error translation: the one place an error answer becomes a typed error --------------------------------

_NAMING = "lowercase letters, digits and single . _ - between them, path parts separated by /"
_BLOBS_FIRST = "upload every layer and the config blob to this repository before the manifest that lists them"
_DELETE_ENABLED = "this registry does not allow it; deleting needs REGISTRY_STORAGE_DELETE_ENABLED=true"
_BY_CODE: dict[str, tuple[type[RegistryError], str]] = {
    "UNAUTHORIZED": (Unauthorized, "docker login {registry}"),
    "DENIED": (Denied, "push to a repository your user may write to, such as your own namespace"),
    "NAME_UNKNOWN": (NameUnknown, "check the name against GET /v2/_catalog, or push the image first"),
    "MANIFEST_UNKNOWN": (ManifestUnknown, "check the tag against GET /v2/<repository>/tags/list, or push it first"),
    "BLOB_UNKNOWN": (BlobUnknown, "upload the blob first (POST then PUT ?digest=), or push the image again"),
    "BLOB_UPLOAD_UNKNOWN": (RegistryError, "start the upload again with POST /v2/<repository>/blobs/uploads/"),
    "BLOB_UPLOAD_INVALID": (RegistryError, "start the upload again with POST /v2/<repository>/blobs/uploads/"),
    "DIGEST_INVALID": (RegistryError, "send the sha256 of exactly the bytes uploaded, as sha256:<64 hex>"),
    "SIZE_INVALID": (RegistryError, "give the exact byte size of the content sent"),
    "NAME_INVALID": (RegistryError, f"write the repository name in {_NAMING}"),
    "TAG_INVALID": (RegistryError, "use a tag of up to 128 letters, digits, _ . - (not starting with . or -)"),
    "MANIFEST_INVALID": (ManifestInvalid, "check the manifest's JSON, its mediaType and the Content-Type header"),
    "MANIFEST_UNVERIFIED": (ManifestInvalid, "send a schema 2 or OCI manifest"),
    "MANIFEST_BLOB_UNKNOWN": (ManifestInvalid, _BLOBS_FIRST),
    "UNSUPPORTED": (RegistryError, _DELETE_ENABLED),
    "TOOMANYREQUESTS": (RegistryError, "wait a minute and try again"),
    "PAGINATION_NUMBER_INVALID": (RegistryError, "ask for a page size (n) of at least 1"),
}
_BY_STATUS = {401: "UNAUTHORIZED", 403: "DENIED", 405: "UNSUPPORTED", 429: "TOOMANYREQUESTS"}


def error_from(response: httpx.Response, what: str, missing: type[RegistryError], registry: str) -> RegistryError:
    """The typed error for an error answer: the registry's `errors[0].code` first, then the HTTP status."""
    status = response.status_code
    code, message = None, None
    try:
        first = (response.json().get("errors") or [{}])[0]
        code, message = str(first.get("code") or "") or None, str(first.get("message") or "") or None
    except (ValueError, AttributeError, IndexError, TypeError):
        pass  # HEAD answers and proxies have no JSON body: the status decides
    known = code if code in _BY_CODE else _BY_STATUS.get(status)
    if known:
        kind, fix = _BY_CODE[known]
        fix = fix.format(registry=registry)
    elif status == 404:
        kind, fix = missing, "check the repository, tag or digest"
    elif status >= 500:
        kind, fix = RegistryError, "the registry failed: labsupport doctor, then docker logs on its container"
    else:
        kind, fix = RegistryError, None
    detail = message or response.reason_phrase or "error"
    label = f"{code or known}, HTTP {status}" if code or known else f"HTTP {status}"
    return kind(f"{what}: {detail} ({label})", status=status, code=code or known, fix=fix)


# -- checks of names before they go into a URL path ----------------------------------------------------

def check_repository(repository: str) -> None:
    """Refuse a repository name the registry would refuse, before it is spliced into a URL path."""
    if not isinstance(repository, str) or len(repository) > NAME_MAX or not is_repository_path(repository):
        raise InvalidReference(str(repository), f"a repository name is {_NAMING}")


def check_reference(reference: str) -> None:
    """Refuse a reference that is neither a tag nor a digest."""
    if not isinstance(reference, str) or not (is_tag(reference) or DIGEST.match(reference)):
        raise InvalidReference(str(reference), "not a tag (letters, digits, _ . -, up to 128) or a digest")


def check_digest(digest: str) -> None:
    """Refuse a blob reference that is not a digest."""
    if not isinstance(digest, str) or not DIGEST.match(digest):
        raise InvalidReference(str(digest), "not a digest such as sha256:<64 hex>")

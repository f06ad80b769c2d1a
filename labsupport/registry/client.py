"""I/O: the distribution registry HTTP API v2 (catalog, tags, manifests, blobs) with Basic and Bearer auth.

Each request names the scopes (repositories and actions) it needs; auth.py's RegistryAuth answers the
registry's challenge with Basic or a Bearer token for those scopes. Every error answer is translated in one
place (wire.error_from) into the typed errors of labsupport.errors, and httpx's own errors at the boundary
(`_transmit`). No credential or token ever appears in a message, repr or log.
"""

from __future__ import annotations

import json
import platform as _platform
import re
import time
from collections.abc import Callable, Iterable
from typing import Any, Literal
from urllib.parse import quote

import httpx

from ..config import LabConfig
from ..dockerconfig import Credential, load_credential
from ..errors import (
    BlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameUnknown,
    RegistryError,
    RegistryUnreachable,
)
from ..model import RemoteView
from ..refs import is_loopback_url
from .auth import Challenge, RegistryAuth, parse_challenge
from .wire import (
    ACCEPT,
    DIGEST,
    Manifest,
    check_digest,
    check_reference,
    check_repository,
    error_from,
    sha256_digest,
)


def host_platform() -> str:
    """This machine's platform as an engine names it (linux/amd64, linux/arm64): the engine a learner runs
    here, Docker Desktop's VM included, has the same CPU architecture."""
    machine = _platform.machine().lower()
    return "linux/" + _ARCHITECTURES.get(machine, machine or "amd64")


_ARCHITECTURES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
                  "armv7l": "arm/v7", "i686": "386", "i386": "386", "ppc64le": "ppc64le", "s390x": "s390x"}


class RegistryClient:
    """A client of one registry's HTTP API. Use it as a context manager, or call close()."""

    def __init__(self, base_url: str, *, credential: Credential | None = None,
                 transport: httpx.BaseTransport | None = None, timeout: float = 10.0,
                 registry: str | None = None, clock: Callable[[], float] = time.monotonic,
                 platform: str | None = None) -> None:
        if not re.match(r"^https?://[^/\s]+/?$", base_url or ""):
            raise RegistryError(f"{base_url!r} is not a registry base URL",
                                fix="use http://host:port or https://host (LAB_REGISTRY_URL), without a path")
        self.base_url = base_url.rstrip("/")
        #: the host[:port] name shown in messages and `docker login` advice
        self.registry = registry or self.base_url.split("://", 1)[1]
        # A proxy from HTTP(S)_PROXY must not carry calls to a registry on this machine.
        self._http = httpx.Client(base_url=self.base_url, transport=transport, timeout=timeout,
                                  trust_env=not is_loopback_url(self.base_url))
        #: the platform read in an image index when a call names none: the engine's (see Engine.platform)
        self.platform = platform or host_platform()
        self._auth = RegistryAuth(self.registry, credential, self._transmit, clock=clock)
        self._send = self._auth.send   # every API call: with the auth the registry asks for, retried on a 401

    @classmethod
    def for_lab(cls, config: LabConfig, credential: Credential | None | Literal["docker"] = "docker",
                **kwargs: Any) -> RegistryClient:
        """A client of the lab's registry; by default with the credential the Docker client holds for it."""
        if credential == "docker":
            credential = load_credential(config.registry)
        return cls(config.registry_url, credential=credential, registry=config.registry, **kwargs)

    @property
    def username(self) -> str | None:
        return self._auth.username

    def __repr__(self) -> str:
        return f"RegistryClient({self.base_url!r}, registry={self.registry!r}, user={self.username!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RegistryClient:  # noqa: PYI034 (typing.Self needs Python 3.11; 3.10 is supported)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the API ------------------------------------------------------------------------------------------

    def ping(self) -> Challenge:
        """GET /v2/ without credentials: does the registry answer, and which auth does it ask for?"""
        response = self._transmit("GET", "/v2/")
        return parse_challenge(response.status_code, response.headers.get("www-authenticate"))

    def check_credentials(self) -> None:
        """Raise Unauthorized unless the registry accepts our credential (or asks for none)."""
        self._check(self._send("GET", "/v2/", (), what="log in"), "log in")

    def catalog(self, page_size: int = 100) -> list[str]:
        """Every repository in the registry, following the `Link: rel="next"` pages."""
        return self._paginate("/v2/_catalog", "repositories", ("registry:catalog:*",), "list the catalog",
                              page_size, RegistryError)

    def tags(self, repository: str, page_size: int = 100) -> list[str]:
        """The tags of a repository, following the pages; NameUnknown when the repository does not exist."""
        check_repository(repository)
        return self._paginate(f"/v2/{repository}/tags/list", "tags", (_pull(repository),),
                              f"list the tags of {repository}", page_size, NameUnknown)

    def manifest(self, repository: str, reference: str) -> Manifest:
        """The manifest a tag or digest names, as served (an index stays an index)."""
        check_repository(repository)
        check_reference(reference)
        what = f"read the manifest {repository}{_sep(reference)}{reference}"
        response = self._check(self._send("GET", f"/v2/{repository}/manifests/{reference}", (_pull(repository),),
                                          what=what, headers={"Accept": ACCEPT}), what, ManifestUnknown)
        raw = response.content
        computed = sha256_digest(raw)
        if reference.startswith("sha256:") and reference != computed:
            raise ManifestInvalid(f"{what}: the content does not match its digest {reference}",
                                  fix="the registry's storage is damaged: push the image again")
        try:
            document = json.loads(raw)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise ManifestInvalid(f"{what}: the registry served a manifest that is not a JSON object",
                                  fix="push the image again")
        media_type = response.headers.get("content-type", "").split(";")[0].strip() or str(
            document.get("mediaType", ""))
        return Manifest(repository=repository, reference=reference,
                        digest=response.headers.get("docker-content-digest") or computed,
                        media_type=media_type, raw=raw, document=document)

    def head_manifest(self, repository: str, reference: str) -> str | None:
        """The digest a tag or digest resolves to, or None when the registry does not know it."""
        check_repository(repository)
        check_reference(reference)
        what = f"look up {repository}{_sep(reference)}{reference}"
        response = self._send("HEAD", f"/v2/{repository}/manifests/{reference}", (_pull(repository),),
                              what=what, headers={"Accept": ACCEPT})
        if response.status_code == 404:
            return None
        self._check(response, what, ManifestUnknown)
        return response.headers.get("docker-content-digest") or self.manifest(repository, reference).digest

    def image_manifest(self, repository: str, reference: str, platform: str | None = None, *,
                       index: Manifest | None = None) -> Manifest:
        """The image manifest a tag or digest names: itself, or for an image index the image of `platform`
        (by default the one platform it holds, else this client's `platform`), attestations skipped.
        The manifest returned says which index and platform it came from."""
        top = index or self.manifest(repository, reference)
        if not top.is_index:
            return top
        name = f"{repository}{_sep(reference)}{reference}"
        chosen = platform or top.choose_platform(self.platform)
        if chosen is None:
            raise ManifestUnknown(f"{name} is an image index over {', '.join(top.image_platforms) or 'no image'}"
                                  f", none of them {self.platform}", code="MANIFEST_UNKNOWN",
                                  fix=f"name one: image_manifest({repository!r}, {reference!r}, "
                                      f"platform={(top.image_platforms or ['linux/amd64'])[0]!r})")
        digest = top.digest_for(chosen)
        if digest is None:
            raise ManifestUnknown(f"{name} has no image for {chosen}", code="MANIFEST_UNKNOWN",
                                  fix=f"pick one of: {', '.join(top.image_platforms) or '(none)'}")
        image = self.manifest(repository, digest)
        return Manifest(repository=image.repository, reference=image.reference, digest=image.digest,
                        media_type=image.media_type, raw=image.raw, document=image.document,
                        index_digest=top.digest, platform=chosen)

    def remote_view(self, repository: str, tag: str, platform: str | None = None) -> RemoteView:
        """A tag's layer blobs paired with its config's diff ids; for an index, those of one platform's
        image (see image_manifest), and the view says which."""
        return self._view(self.manifest(repository, tag), platform, {})

    def views(self, exclude: str | Iterable[str] | None = None, platform: str | None = None) -> list[RemoteView]:
        """Every repository's tags (but `exclude`'s) as RemoteViews: what a push could mount from. An index
        is read for `platform` (by default as in image_manifest); one without that platform is left out."""
        skip = {exclude} if isinstance(exclude, str) else set(exclude or ())
        configs: dict[str, list[str]] = {}
        found = []
        for repository in self.catalog():
            if repository in skip:
                continue
            try:
                tags = self.tags(repository)
            except NameUnknown:
                continue  # emptied between the listing and the reading
            for tag in tags:
                try:
                    found.append(self._view(self.manifest(repository, tag), platform, configs))
                except (ManifestUnknown, BlobUnknown, ManifestInvalid):
                    continue  # deleted meanwhile, an index without that platform, or not an image
        return found

    def blob_exists(self, repository: str, digest: str) -> int | None:
        """The size of a blob in the repository (HEAD), or None when the repository does not hold it."""
        check_repository(repository)
        check_digest(digest)
        what = f"look up blob {digest} in {repository}"
        response = self._send("HEAD", f"/v2/{repository}/blobs/{digest}", (_pull(repository),), what=what,
                              follow_redirects=True)
        if response.status_code == 404:
            return None
        self._check(response, what, BlobUnknown)
        return int(response.headers.get("content-length", "0"))

    def get_blob(self, repository: str, digest: str) -> bytes:
        """A blob's bytes (following a storage redirect), checked against its digest."""
        check_repository(repository)
        check_digest(digest)
        what = f"read blob {digest} from {repository}"
        response = self._check(self._send("GET", f"/v2/{repository}/blobs/{digest}", (_pull(repository),),
                                          what=what, follow_redirects=True), what, BlobUnknown)
        if digest.startswith("sha256:") and sha256_digest(response.content) != digest:
            raise RegistryError(f"{what}: the content does not match its digest",
                                fix="the registry's storage is damaged: push the image again")
        return response.content

    def delete_manifest(self, repository: str, digest: str) -> None:
        """Delete a manifest by digest (a tag is resolved first); the registry drops the tags that named it."""
        check_repository(repository)
        if not DIGEST.match(digest):
            resolved = self.head_manifest(repository, digest)
            if resolved is None:
                raise ManifestUnknown(f"{repository}:{digest} is not in the registry", status=404,
                                      code="MANIFEST_UNKNOWN", fix=f"list the tags: GET /v2/{repository}/tags/list")
            digest = resolved
        what = f"delete {repository}@{digest}"
        self._check(self._send("DELETE", f"/v2/{repository}/manifests/{digest}",
                               (f"repository:{repository}:delete",), what=what), what, ManifestUnknown)

    def delete_repository_tags(self, repository: str) -> list[str]:
        """Delete every tagged manifest of a repository, and the manifests a tagged index lists (its images and
        attestations: left behind, they would keep their layers from garbage collection); the digests deleted
        ([] when the repository does not exist)."""
        try:
            tags = self.tags(repository)
        except NameUnknown:
            return []
        digests: list[str] = []
        listed: list[str] = []
        for tag in tags:
            try:
                manifest = self.manifest(repository, tag)
            except (ManifestUnknown, NameUnknown):
                continue                  # the tag (or the repository) went meanwhile
            if manifest.digest not in digests:
                digests.append(manifest.digest)
                listed.extend(manifest.entries)
        digests.extend(dict.fromkeys(entry for entry in listed if entry not in digests))
        for digest in digests:
            try:
                self.delete_manifest(repository, digest)
            except ManifestUnknown:
                pass  # gone already
        return digests

    def upload_blob(self, repository: str, data: bytes) -> str:
        """Upload a blob the monolithic way (POST an upload, then PUT the bytes with ?digest=); its digest."""
        check_repository(repository)
        digest = sha256_digest(data)
        scopes = (f"repository:{repository}:pull,push",)
        what = f"start a blob upload to {repository}"
        started = self._check(self._send("POST", f"/v2/{repository}/blobs/uploads/", scopes, what=what), what)
        location = started.headers.get("location")
        if not location:
            raise RegistryError(f"{what}: the registry gave no upload Location", status=started.status_code)
        path = httpx.URL(location).raw_path.decode("ascii")   # stay on our base URL, whatever host it names
        path += ("&" if "?" in path else "?") + "digest=" + quote(digest, safe=":")
        what = f"upload blob {digest} to {repository}"
        done = self._check(self._send("PUT", path, scopes, what=what, content=data,
                                      headers={"Content-Type": "application/octet-stream"}), what, BlobUnknown)
        return done.headers.get("docker-content-digest") or digest

    def put_manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> str:
        """Store a manifest under a tag or digest; the digest the registry gives it."""
        check_repository(repository)
        check_reference(reference)
        what = f"put the manifest {repository}{_sep(reference)}{reference}"
        response = self._check(self._send("PUT", f"/v2/{repository}/manifests/{reference}",
                                          (f"repository:{repository}:pull,push",), what=what, content=body,
                                          headers={"Content-Type": media_type}), what)
        return response.headers.get("docker-content-digest") or sha256_digest(body)

    # -- internals ----------------------------------------------------------------------------------------

    def _view(self, top: Manifest, platform: str | None, configs: dict[str, list[str]]) -> RemoteView:
        """Build a RemoteView from a manifest (choosing a platform in an index), reading its config's diff ids."""
        chosen = self.image_manifest(top.repository, top.reference, platform, index=top)
        config = chosen.config
        if config.digest not in configs:
            try:
                document = json.loads(self.get_blob(top.repository, config.digest))
                configs[config.digest] = [str(d) for d in (document.get("rootfs") or {}).get("diff_ids") or []]
            except (ValueError, AttributeError) as exc:
                raise ManifestInvalid(f"the config blob of {top.repository}:{top.reference} is not an image "
                                      "config", fix="push the image again") from exc
        return RemoteView(repository=top.repository, tag=top.reference, manifest_digest=chosen.digest,
                          media_type=chosen.media_type, config_digest=config.digest,
                          blobs=tuple(chosen.layers), diff_ids=tuple(configs[config.digest]),
                          platform=chosen.platform, index_digest=chosen.index_digest)

    def _paginate(self, path: str, key: str, scopes: tuple[str, ...], what: str, page_size: int,
                  missing: type[RegistryError]) -> list[str]:
        items: list[str] = []
        url: str | None = path
        params: dict[str, int] | None = {"n": page_size}
        seen: set[str] = set()
        while url and url not in seen:
            seen.add(url)
            response = self._check(self._send("GET", url, scopes, what=what, params=params), what, missing)
            try:
                items.extend(str(item) for item in response.json().get(key) or [])
            except (ValueError, AttributeError) as exc:
                raise RegistryError(f"{what}: the registry's answer is not the JSON it should be",
                                    status=response.status_code) from exc
            link = response.links.get("next", {}).get("url")
            url, params = (httpx.URL(link).raw_path.decode("ascii"), None) if link else (None, None)
        return items

    def _transmit(self, method: str, url: str, *, where: str | None = None, **kwargs: Any) -> httpx.Response:
        """One HTTP exchange; httpx's errors become RegistryUnreachable / RegistryError here."""
        try:
            return self._http.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            place = where or f"the registry at {self.base_url}"
            raise RegistryUnreachable(f"no answer from {place}: {type(exc).__name__}: {exc}",
                                      fix="labsupport up starts the lab's registry; labsupport doctor says "
                                          "why it does not answer") from exc
        except httpx.HTTPError as exc:
            raise RegistryError(f"talking to {where or self.base_url} failed: {type(exc).__name__}") from exc

    def _check(self, response: httpx.Response, what: str,
               missing: type[RegistryError] = RegistryError) -> httpx.Response:
        if response.is_success:
            return response
        raise error_from(response, what, missing, self.registry)


# -- small helpers ---------------------------------------------------------------------------------------

def _pull(repository: str) -> str:
    return f"repository:{repository}:pull"


def _sep(reference: str) -> str:
    return "@" if ":" in reference else ":"

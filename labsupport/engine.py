"""I/O: the Docker engine through the docker SDK: build, tag, inspect layers, run, save, pull, a structured push,
and the entries of a local image index.

Every docker SDK error is translated here, at the boundary, into a labsupport error with a fix line:
no engine → EngineUnavailable, no image → ImageNotFound, a failed build → BuildFailed, a failed push →
PushFailed (explained by pushstream), a failed container → RunFailed. A refused pull is a PullResult.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tarfile
import tempfile
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import docker
import docker.errors
import requests

from . import refs
from .config import LabConfig
from .dockercli import stream_docker
from .errors import (
    BuildFailed,
    ConfigError,
    DockerConfigError,
    EngineUnavailable,
    ImageNotFound,
    InvalidReference,
    LabError,
    PushFailed,
    RunFailed,
)
from .history import clean_instruction, empty_flags, pair_layers
from .layers import decompress
from .model import ImageView, PushEvent, PushReport, RemoteView
from .pushstream import PushAccumulator, classify, layer_outcomes
from .registry.wire import DIGEST
from .sdk import START_ENGINE, docker_errors, engine_address, reason_of

__all__ = ["Engine", "EngineInfo", "IndexEntry", "PullResult", "RemoteViews", "clean_instruction", "docker_errors"]
log = logging.getLogger(__name__)

#: The line of a failed build that says why: the legacy builder's last words, or BuildKit's "ERROR: …".
_BUILD_ERROR = re.compile(r"^ERROR[: ]|returned a non-zero code|did not complete successfully|no such host|"
                          r"^error |pull access denied|not found")
#: The error a registry logs for a failed request (logrus text format): its storage's own words.
_REGISTRY_LOG_ERROR = re.compile(r'err\.(?:detail|message)="((?:[^"\\]|\\.)*)"')


class RemoteViews(Protocol):
    """What push needs of a registry client (labsupport.registry.RegistryClient has it)."""

    def remote_view(self, repository: str, tag: str, platform: str | None = None) -> RemoteView: ...


@dataclass(frozen=True)
class EngineInfo:
    """The engine's version, its image store ("classic" or "containerd") and where the SDK reaches it."""

    version: str
    image_store: str
    host: str
    storage_driver: str = ""


@dataclass(frozen=True)
class IndexEntry:
    """One entry of a local image index (containerd image store): "image" or "attestation", its digest, its
    platform (os/architecture; unknown/unknown for an attestation) and whether its content is on this machine."""

    kind: str
    digest: str
    platform: str
    available: bool


@dataclass(frozen=True)
class PullResult:
    """What a pull came to: the engine's own error line when it refused (a learner's image may not pull)."""

    reference: str
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


class Engine:
    """The Docker engine through the docker SDK; `config` only shapes fix lines (lab registry, learner)."""

    def __init__(self, client: docker.DockerClient | None = None, *, config: LabConfig | None = None) -> None:
        self._client = client
        self._config = config
        self._platform: str | None = None

    @classmethod
    def connect(cls, *, timeout: int = 120, config: LabConfig | None = None) -> Engine:
        """Reach the engine (DOCKER_HOST, else the current docker context, else the default socket)."""
        host, chosen_by, from_context = engine_address()
        try:
            if from_context:
                client = docker.DockerClient(base_url=host, timeout=timeout)
            else:
                client = docker.from_env(timeout=timeout)
            client.ping()
        except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
            raise EngineUnavailable(f"the Docker engine does not answer at {host} ({chosen_by}): "
                                    f"{reason_of(exc)}",
                                    fix=START_ENGINE + " (or set DOCKER_HOST / `docker context use` to "
                                        "the engine you mean)") from exc
        return cls(client, config=config)

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = Engine.connect()._client
        return self._client  # type: ignore[return-value]

    @property
    def config(self) -> LabConfig | None:
        if self._config is None:
            try:
                self._config = LabConfig.from_env()
            except ConfigError:
                return None
        return self._config

    # -- facts --------------------------------------------------------------------------------------
    def info(self) -> EngineInfo:
        """Version, image store, host: containerd's store shows `driver-type io.containerd.snapshotter.v1`."""
        with docker_errors():
            data = self.client.info()
        status = {str(key): str(value) for key, value in (data.get("DriverStatus") or []) if key}
        containerd = "containerd.snapshotter" in status.get("driver-type", "")
        base_url = self.client.api.base_url
        host = engine_address()[0] if base_url.startswith("http+docker://") else base_url
        return EngineInfo(version=str(data.get("ServerVersion", "")),
                          image_store="containerd" if containerd else "classic",
                          host=host, storage_driver=str(data.get("Driver", "")))

    def platform(self) -> str:
        """The engine's own platform (os/architecture), the one its builds make and its pulls choose."""
        if self._platform is None:
            with docker_errors():
                version = self.client.version()
            self._platform = f"{version.get('Os', 'linux')}/{version.get('Arch', 'amd64')}"
        return self._platform

    def exists(self, ref: str) -> bool:
        """Whether the engine holds an image by this name or id."""
        try:
            self.image_id(ref)
        except ImageNotFound:
            return False
        return True

    def image_id(self, ref: str) -> str:
        with docker_errors(ref):
            return str(self.client.api.inspect_image(ref)["Id"])

    def image_view(self, ref: str) -> ImageView:
        """The image's steps bottom to top, each filesystem step paired with its diff id (RootFS.Layers)."""
        with docker_errors(ref):
            attrs = self.client.api.inspect_image(ref)
            steps = list(reversed(self.client.api.history(ref)))
        diff_ids = list((attrs.get("RootFS") or {}).get("Layers") or [])
        flags = empty_flags(steps, len(diff_ids))
        if flags is None:
            flags = self._config_empty_flags(ref)
        return ImageView(image_id=str(attrs["Id"]), tags=tuple(attrs.get("RepoTags") or ()),
                         layers=pair_layers(steps, diff_ids, flags))

    def _config_empty_flags(self, ref: str) -> list[bool] | None:
        """The image config's own `empty_layer` flags, from `docker save` (only when sizes cannot tell)."""
        with self._saved(ref) as (_, config, _layers):
            history = config.get("history") or []
        return [bool(step.get("empty_layer")) for step in history] or None

    def local_index(self, ref: str) -> list[IndexEntry]:
        """The entries of a local image on the containerd image store (its platforms' images, attestations);
        [] on the classic store, which keeps one image per name."""
        if self.info().image_store != "containerd":
            return []
        api = self.client.api   # the SDK's inspect_image has no `manifests` parameter (engine API 1.48+)
        url = f"{api.base_url}/v{api.api_version}/images/{urllib.parse.quote(ref, safe='/:')}/json"
        with docker_errors(ref):
            response = api.get(url, params={"manifests": "1"}, timeout=api.timeout)
            try:
                response.raise_for_status()
            except requests.exceptions.HTTPError as exc:
                docker.errors.create_api_error_from_http_exception(exc)   # raises the SDK's own error
            answer = response.json()
        return [_index_entry(entry) for entry in answer.get("Manifests") or []]

    # -- contents -----------------------------------------------------------------------------------
    def save(self, ref: str) -> bytes:
        """The `docker save` tar of one image, in memory (the lab's images are small)."""
        with docker_errors(ref):
            return b"".join(self.client.api.get_image(ref))

    @contextmanager
    def _saved(self, ref: str) -> Iterator[tuple[tarfile.TarFile, dict, list[str]]]:
        """The saved tar spooled to a temporary file, with the image config and the layer paths, bottom up."""
        with tempfile.SpooledTemporaryFile(max_size=64 * 1024 * 1024) as spool:
            with docker_errors(ref):
                for chunk in self.client.api.get_image(ref):
                    spool.write(chunk)
            spool.seek(0)
            with tarfile.open(fileobj=spool, mode="r:") as tar:
                entry = json.load(tar.extractfile("manifest.json"))[0]  # type: ignore[arg-type]
                config = json.load(tar.extractfile(entry["Config"]))  # type: ignore[arg-type]
                yield tar, config, list(entry["Layers"])

    def layer_tars(self, ref: str) -> Iterator[tuple[str, bytes]]:
        """(diff id, uncompressed layer tar) for every layer, bottom up: what a secret scan reads."""
        with self._saved(ref) as (tar, config, paths):
            for diff_id, path in zip(config["rootfs"]["diff_ids"], paths):
                data = tar.extractfile(path).read()  # type: ignore[union-attr]
                try:
                    yield diff_id, decompress(data)
                except ValueError as exc:  # zstd or a damaged gzip stream: say so, never a traceback
                    raise LabError(f"a layer of {ref} cannot be read here: {exc}",
                                   fix=f"build {ref} again (the default gzip layers): docker build -t {ref} …") from exc

    def layer_tar(self, ref: str, diff_id: str) -> bytes:
        """The uncompressed tar of one layer of an image, by its diff id."""
        for known, data in self.layer_tars(ref):
            if known == diff_id:
                return data
        raise ImageNotFound(f"{ref} has no layer {diff_id}",
                            fix=f"docker image inspect {ref}  (RootFS.Layers)")

    # -- changes ------------------------------------------------------------------------------------
    def build(self, path: str | os.PathLike, tag: str, buildargs: Mapping[str, str] | None = None,
              on_line: Callable[[str], None] | None = None, *, nocache: bool = False) -> str:
        """Build a folder as the learner's `docker build` does: the image id, or BuildFailed with its error.

        The docker CLI builds, with the client's own config: BuildKit where the buildx plugin is there (on the
        containerd store that makes an index with an attestation), else the legacy builder.
        """
        folder = Path(path)
        if not (folder / "Dockerfile").is_file():
            raise BuildFailed(f"there is no Dockerfile in {folder}",
                              fix=f"ls {folder}   (the build context folder)")
        refs.parse(tag)
        tail: deque[str] = deque(maxlen=15)

        def seen(text: str) -> None:
            tail.append(text.rstrip())
            if on_line:
                on_line(text)

        with tempfile.TemporaryDirectory(prefix="labsupport-build-") as scratch:
            iidfile = Path(scratch) / "image-id"
            args = ["build", "-t", tag, "--iidfile", str(iidfile)]
            for key, value in (buildargs or {}).items():
                args += ["--build-arg", f"{key}={value}"]
            args += ["--no-cache"] if nocache else []
            done = stream_docker([*args, str(folder)], seen)
            if not done.ok:
                raise self._build_failure(tag, folder, list(tail))
            image_id = iidfile.read_text().strip() if iidfile.is_file() else ""
        return image_id or self.image_id(tag)

    def _build_failure(self, tag: str, folder: Path, tail: list[str]) -> LabError:
        """The error of a failed `docker build`, from its last lines (legacy builder's or BuildKit's words)."""
        said = [text.strip() for text in tail if text.strip()]
        raw = next((text for text in reversed(said) if _BUILD_ERROR.search(text)), said[-1] if said else "")
        raw = raw.removeprefix("ERROR: ").removeprefix("failed to build: ")
        if "cannot connect to the docker daemon" in raw.lower():
            return EngineUnavailable(f"the build of {tag} could not reach the Docker engine: {raw}",
                                     fix=START_ENGINE)
        shown = "".join(f"\n    {text}" for text in said[-6:-1] if text != raw)
        message = f"the build of {tag} failed: {raw}" + (f"\n  its last output:{shown}" if shown else "")
        return BuildFailed(message, fix=_build_fix(raw, folder, tag))

    def tag(self, src: str, dest: str) -> None:
        """Give the image `src` the name `dest` (a tag is a pointer: no bytes are copied)."""
        repository, tag = _engine_name(dest)
        with docker_errors(src):
            self.client.api.tag(src, repository, tag)

    def remove(self, ref: str, *, missing_ok: bool = False, force: bool = False) -> None:
        """Remove a tag (the image goes with its last tag)."""
        try:
            with docker_errors(ref):
                self.client.api.remove_image(ref, force=force)
        except ImageNotFound:
            if not missing_ok:
                raise
        except LabError as exc:
            if "conflict" in str(exc).lower() or "is using" in str(exc):
                raise LabError(f"{ref} is in use by a container: {exc.message}",
                               fix=f"docker ps -a --filter ancestor={ref}; remove those containers first",
                               ) from exc
            raise

    def run(self, ref: str, command: str | Sequence[str] | None = None, *, timeout: float = 60) -> str:
        """Run a container of the image, return what it printed (the container is removed); or RunFailed."""
        with docker_errors(ref):
            argv = command if command is None or isinstance(command, str) else list(command)
            container = self.client.containers.create(ref, command=argv, labels={"io.labsupport.run": "1"})
        try:
            with docker_errors(ref):
                try:
                    container.start()
                except docker.errors.APIError as exc:
                    raise RunFailed(ref, None, "", reason=f"did not start: {reason_of(exc)}",
                                    fix="check the CMD/ENTRYPOINT of the image (docker image inspect)",
                                    ) from exc
                try:
                    status = container.wait(timeout=timeout)
                except requests.exceptions.RequestException as exc:
                    output = container.logs().decode(errors="replace")
                    raise RunFailed(ref, None, output, reason=f"did not exit within {timeout:.0f} s",
                                    fix="run a command that ends, or give it more time") from exc
                output = container.logs(stdout=True, stderr=True).decode(errors="replace")
        finally:
            try:
                container.remove(force=True)
            except docker.errors.APIError:
                log.warning("could not remove the container %s", container.id)
        code = int(status.get("StatusCode", -1))
        if code != 0:
            raise RunFailed(ref, code, output, fix=f"docker run --rm {ref}   (to see it fail yourself)")
        return output

    # -- pull and push ------------------------------------------------------------------------------
    def pull(self, ref: str) -> PullResult:
        """Pull an image as `docker pull` does, with the Docker client's credentials (read afresh); a refusal
        is a result holding the engine's error line; EngineUnavailable when the engine goes meanwhile."""
        parsed = refs.parse(ref, default_tag="latest")
        api = self.client.api
        try:
            api.reload_config()  # a `docker login` done after the client was made counts
            for line in api.pull(parsed.name, tag=parsed.digest or parsed.tag, stream=True, decode=True):
                if line.get("error") or line.get("errorDetail"):
                    return PullResult(ref, str((line.get("errorDetail") or {}).get("message") or line.get("error")))
        except requests.exceptions.ConnectionError as exc:
            raise EngineUnavailable(f"lost the Docker engine while pulling {ref}: {exc}",
                                    fix="labsupport doctor") from exc
        except docker.errors.APIError as exc:
            return PullResult(ref, reason_of(exc))
        except docker.errors.DockerException as exc:  # a credential helper that fails
            return PullResult(ref, f"the Docker client's credentials could not be read: {exc}")
        return PullResult(ref)

    def push(self, ref: str, registry_client: RemoteViews | None = None,
             on_event: Callable[[PushEvent], None] | None = None) -> PushReport:
        """Push a tag, calling `on_event` per layer update; the report of what each layer cost.

        With a registry client the bytes are the compressed blob sizes of the pushed manifest; without one
        they are the push stream's own totals (see pushstream.layer_outcomes). A failure raises PushFailed.
        """
        parsed = refs.parse(ref, default_tag="latest")
        if parsed.digest:
            raise InvalidReference(ref, "a push names a tag, not a digest")
        repository, tag = _engine_name(str(parsed.familiar))
        config = self.config
        acc = PushAccumulator(ref, lab_registry=config.registry if config else None,
                              learner=config.learner if config else None,
                              lab_container=config.container if config else None)
        started, since = time.monotonic(), int(time.time()) - 1
        try:
            with docker_errors(ref):
                try:
                    self.client.api.reload_config()  # a `docker login` done after the client was made counts
                    for line in self.client.api.push(repository, tag=tag, stream=True, decode=True):
                        event = acc.feed(line)
                        if event is not None and on_event is not None:
                            on_event(event)
                except docker.errors.APIError as exc:  # some engines refuse before streaming (no such image)
                    raise acc.failure(reason_of(exc)) from exc
                except docker.errors.DockerException as exc:  # a credential helper that fails or is missing
                    raise DockerConfigError(
                        f"the Docker client's credentials cannot be read: {reason_of(exc)}",
                        fix="check credsStore/credHelpers in ~/.docker/config.json (or DOCKER_CONFIG), "
                            "then docker login again") from exc
        except PushFailed as failed:
            better = self._with_registry_log(failed, acc, parsed.host, since)
            if better is failed:
                raise
            raise better from failed
        result = acc.finish()
        seconds = time.monotonic() - started
        try:
            diff_ids = list(self.client.api.inspect_image(str(parsed.familiar))["RootFS"]["Layers"])
        except (docker.errors.APIError, KeyError):
            diff_ids = []
        remote = None
        if registry_client is not None:
            remote = self._pushed_view(registry_client, parsed.repository, result.digest)
        layers = layer_outcomes(acc.layers, diff_ids=diff_ids, remote=remote)
        return PushReport(reference=str(parsed.familiar), digest=result.digest, size=result.size,
                          layers=layers, seconds=seconds)

    def _with_registry_log(self, failed: PushFailed, acc: PushAccumulator, host: str,
                           since: int) -> PushFailed:
        """A push failure the engine leaves unexplained ("HTTP status: 500"), explained again by the error the
        lab registry logged meanwhile: the engine passes on a registry's status, never its reason."""
        config = self.config
        if failed.kind != "unknown" or config is None or not _is_lab(host, config.registry):
            return failed
        try:
            logs = self.client.containers.get(config.container).logs(since=since, tail=200)
        except (docker.errors.DockerException, requests.exceptions.RequestException):
            return failed
        said = [match.group(1) for line in logs.decode(errors="replace").splitlines() if "level=error" in line
                for match in [_REGISTRY_LOG_ERROR.search(line)] if match
                and not DIGEST.match(match.group(1))]   # a detail that is only a digest
        if not said:
            return failed
        # The error that explains the push: the last one the registry logged that names a known cause (its
        # storage full, …), else its last one (the containerd store's retries log "blob upload unknown" last).
        telling = [text for text in said if classify(text) != "unknown"]
        return acc.failure(f"{failed.raw} (the lab registry's log: {(telling or said)[-1][:300]})")

    def _pushed_view(self, registry: RemoteViews, repository: str, digest: str) -> RemoteView | None:
        """The pushed manifest by digest; for an image index (BuildKit's, on the containerd store), its image
        for the engine's own platform."""
        try:
            return registry.remote_view(repository, digest, platform=self.platform())
        except LabError as exc:
            log.warning("the push report falls back to the stream's byte counts: %s", exc.message)
            return None


def _index_entry(entry: Mapping) -> IndexEntry:
    """An IndexEntry from one of the engine's `Manifests` (GET /images/{name}/json?manifests=1)."""
    descriptor = entry.get("Descriptor") or {}
    platform = descriptor.get("platform") or {}
    return IndexEntry(kind=str(entry.get("Kind", "")), digest=str(descriptor.get("digest", "")),
                      platform=f"{platform.get('os', '?')}/{platform.get('architecture', '?')}",
                      available=bool(entry.get("Available")))


def _is_lab(host: str, lab: str) -> bool:
    """Whether a push's host is the lab registry, by its name or a loopback alias of it."""
    try:
        return host == lab or refs.is_loopback_alias(host, lab)
    except InvalidReference:
        return False


def _engine_name(text: str) -> tuple[str, str]:
    """(repository as the engine takes it, tag) for a reference text; "latest" when it has no tag."""
    parsed = refs.parse(text, default_tag="latest")
    if parsed.digest:
        raise InvalidReference(text, "a tag is needed here, not a digest")
    familiar, tag = parsed.familiar, str(parsed.tag)
    return familiar[: -len(tag) - 1], tag


def _build_fix(raw: str, folder: Path, tag: str) -> str:
    """The fix line for a build error: the base image, a failing RUN step, or the full build output."""
    text = raw.lower()
    if any(needle in text for needle in ("pull access denied", "no such host", "dial tcp", "manifest unknown",
                                         "not found: manifest", "repository does not exist",
                                         "failed to resolve source metadata")):
        return ("the base image is not on this machine and cannot be pulled: build with --build-arg "
                "BASE=<a local image> (LAB_BASE_IMAGE names the lab's), or pull it once when online")
    if "returned a non-zero code" in text or "did not complete successfully" in text:
        return "a RUN step failed: read its last output, then fix that command in the Dockerfile"
    return f"docker build -t {tag} {folder}   (shows the whole build output)"

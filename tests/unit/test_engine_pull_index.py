"""Engine.pull and Engine.local_index on a stub of the docker SDK's client: what each engine answer becomes.

A refused pull is a PullResult with the engine's own line (a learner's image may not pull); a lost engine is
EngineUnavailable; a local index is read as typed entries, and not at all on the classic image store.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import docker.errors
import pytest
import requests

from labsupport.engine import Engine, IndexEntry, PullResult
from labsupport.errors import EngineUnavailable, ImageNotFound, LabError
from tests.layertars import tar_of

REF = "localhost:5000/ada/handmade:1.0"
CONTAINERD = [["driver-type", "io.containerd.snapshotter.v1"]]


def response(status: int, body: object) -> requests.Response:
    """A requests.Response as the engine's API would send it (JSON body)."""
    answer = requests.Response()
    answer.status_code = status
    answer._content = json.dumps(body).encode()
    answer.url = "http+docker://localhost/v1.48/images/x/json"
    return answer


@dataclass
class StubApi:
    """The parts of docker.APIClient that Engine.pull and Engine.local_index use."""

    stream: list[dict] = field(default_factory=list)
    raises: BaseException | None = None
    answer: requests.Response | None = None
    base_url: str = "http+docker://localhost"
    api_version: str = "1.48"
    timeout: int = 60
    reloaded: int = 0
    asked: list[tuple[str, dict]] = field(default_factory=list)

    def reload_config(self) -> None:
        self.reloaded += 1

    def pull(self, repository: str, tag: str, stream: bool, decode: bool) -> Iterator[dict]:
        self.asked.append((f"{repository}:{tag}", {}))
        yield from self.stream
        if self.raises is not None:
            raise self.raises

    def get(self, url: str, params: dict, timeout: int) -> requests.Response:
        self.asked.append((url, params))
        assert self.answer is not None
        return self.answer


@dataclass
class StubClient:
    api: StubApi
    driver_status: list[list[str]] = field(default_factory=list)

    def info(self) -> dict[str, Any]:
        return {"ServerVersion": "28.5.2", "Driver": "overlayfs", "DriverStatus": self.driver_status}


def engine(**api: Any) -> tuple[Engine, StubApi]:
    stub = StubApi(**api)
    return Engine(StubClient(stub, CONTAINERD)), stub  # type: ignore[arg-type]


def test_a_pull_that_streams_to_the_end_worked_and_reads_the_login_afresh():
    eng, api = engine(stream=[{"status": "Pulling from ada/handmade"}, {"status": "Digest: sha256:ab"}])
    assert eng.pull(REF) == PullResult(REF) and eng.pull(REF).ok
    assert api.reloaded == 2 and api.asked[0][0] == "localhost:5000/ada/handmade:1.0"


def test_a_refused_pull_is_the_engines_error_line():
    detail = {"errorDetail": {"message": "unauthorized: authentication required"}, "error": "unauthorized"}
    eng, _ = engine(stream=[{"status": "Pulling"}, detail])
    pulled = eng.pull(REF)
    assert not pulled.ok and pulled.error == "unauthorized: authentication required"
    eng, _ = engine(stream=[{"error": "manifest unknown"}])
    assert eng.pull(REF).error == "manifest unknown"


def test_an_engine_that_refuses_before_streaming_or_a_broken_credential_helper():
    refusal = docker.errors.APIError("500", explanation="failed to register layer: bad diff id\nmore")
    eng, _ = engine(raises=refusal)
    assert eng.pull(REF).error == "failed to register layer: bad diff id"
    eng, _ = engine(raises=docker.errors.DockerException("helper missing"))
    assert eng.pull(REF).error == "the Docker client's credentials could not be read: helper missing"


def test_an_engine_lost_during_a_pull_is_engine_unavailable():
    eng, _ = engine(raises=requests.exceptions.ConnectionError("connection aborted"))
    with pytest.raises(EngineUnavailable) as lost:
        eng.pull(REF)
    assert lost.value.message == f"lost the Docker engine while pulling {REF}: connection aborted"
    assert lost.value.fix == "labsupport doctor"


def test_the_local_index_is_typed_entries():
    manifests = [
        {"Kind": "image", "Available": True,
         "Descriptor": {"digest": "sha256:aa", "platform": {"os": "linux", "architecture": "amd64"}}},
        {"Kind": "attestation", "Available": False,
         "Descriptor": {"digest": "sha256:bb", "platform": {"os": "unknown", "architecture": "unknown"}}},
        {"Descriptor": {}},
    ]
    eng, api = engine(answer=response(200, {"Id": "sha256:cc", "Manifests": manifests}))
    assert eng.local_index("hello-lab:1.0@sha256:cc") == [
        IndexEntry("image", "sha256:aa", "linux/amd64", True),
        IndexEntry("attestation", "sha256:bb", "unknown/unknown", False),
        IndexEntry("", "", "?/?", False),
    ]
    url, params = api.asked[0]
    assert url == "http+docker://localhost/v1.48/images/hello-lab:1.0%40sha256:cc/json"
    assert params == {"manifests": "1"}


def test_the_local_index_of_a_missing_image_and_on_the_classic_store():
    eng, _ = engine(answer=response(404, {"message": "No such image: hello-lab:9"}))
    with pytest.raises(ImageNotFound):
        eng.local_index("hello-lab:9")
    classic = Engine(StubClient(StubApi(), []))  # type: ignore[arg-type]
    assert classic.local_index("hello-lab:1.0") == []


def saved_image(*layers: bytes) -> bytes:
    """What `docker save` streams: manifest.json, a config, and the layer files."""
    files = {"config.json": json.dumps({"rootfs": {"diff_ids": [f"sha256:{n:064x}" for n in range(len(layers))]}})
             .encode(), "manifest.json": json.dumps([{"Config": "config.json", "Layers": [
                 f"l{n}.tar" for n in range(len(layers))]}]).encode()}
    files.update({f"l{n}.tar": data for n, data in enumerate(layers)})
    return tar_of(*files.items())


def test_a_layer_this_machine_cannot_read_is_a_lab_error_with_a_fix_not_a_traceback():
    eng, stub = engine()
    plain = b"plain tar bytes"
    stub.get_image = lambda ref: iter([saved_image(plain, b"\x28\xb5\x2f\xfd zstd frame")])  # type: ignore[attr-defined]
    layers = eng.layer_tars("hello-lab:1.0")
    assert next(layers) == ("sha256:" + "0" * 64, plain)
    with pytest.raises(LabError) as caught:
        next(layers)
    assert "zstd" in caught.value.message and "hello-lab:1.0" in caught.value.message
    assert caught.value.fix.startswith("build hello-lab:1.0 again")

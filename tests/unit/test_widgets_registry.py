"""RegistryBrowser over a fake source holding real Manifest objects; errors become messages. The BuildKit
index (an image plus its provenance attestation) is the one recorded from the containerd engine's push."""

from __future__ import annotations

import json
from pathlib import Path

from labsupport.errors import ManifestUnknown, RegistryUnreachable
from labsupport.registry import Manifest
from labsupport.widgets import RegistryBrowser

V2 = "application/vnd.docker.distribution.manifest.v2+json"
INDEX = "application/vnd.oci.image.index.v1+json"
LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def image_manifest(repository: str, tag: str) -> Manifest:
    document = {
        "schemaVersion": 2, "mediaType": V2,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1_430,
                   "digest": "sha256:" + "c0" * 32},
        "layers": [{"mediaType": LAYER, "size": 1_068_519, "digest": "sha256:" + "68" * 32},
                   {"mediaType": LAYER, "size": 167, "digest": "sha256:" + "61" * 32}],
    }
    raw = json.dumps(document, indent=3).encode()
    return Manifest(repository, tag, "sha256:" + "d7" * 32, V2, raw, document)


def index_manifest(repository: str, tag: str) -> Manifest:
    document = {"schemaVersion": 2, "mediaType": INDEX, "manifests": [
        {"mediaType": V2, "size": 500, "digest": "sha256:" + "a1" * 32,
         "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": V2, "size": 500, "digest": "sha256:" + "a2" * 32,
         "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}}]}
    return Manifest(repository, tag, "sha256:" + "1d" * 32, INDEX, json.dumps(document).encode(), document)


OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
RECORDED = json.loads((Path(__file__).resolve().parents[1] / "data" / "push-streams"
                       / "containerd-first-push.meta.json").read_text())


def buildkit_manifests(repository: str, tag: str) -> dict[str, Manifest]:
    """The index BuildKit pushed for a one-platform build, its image and its attestation, by tag and digest."""
    def made(reference: str, digest: str, media_type: str, document: dict) -> Manifest:
        return Manifest(repository, reference, digest, media_type, json.dumps(document).encode(), document)

    image = RECORDED["index"][0]
    proof = RECORDED["attestations"][0]
    platform_os, arch = image["platform"].split("/")
    index = {"schemaVersion": 2, "mediaType": INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": image["digest"], "size": image["size"],
         "platform": {"architecture": arch, "os": platform_os}},
        {"mediaType": OCI_MANIFEST, "digest": proof["digest"], "size": proof["size"],
         "annotations": {"vnd.docker.reference.digest": proof["of"],
                         "vnd.docker.reference.type": "attestation-manifest"},
         "platform": {"architecture": "unknown", "os": "unknown"}}]}
    image_document = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                 "digest": RECORDED["config_digest"], "size": RECORDED["config_size"]},
                      "layers": [{"mediaType": item["media_type"], "digest": item["digest"], "size": item["size"]}
                                 for item in RECORDED["manifest_layers"]]}
    proof_document = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **proof["config"]},
                      "layers": [{"mediaType": item["media_type"], "digest": item["digest"], "size": item["size"],
                                  "annotations": {"in-toto.io/predicate-type": item["predicate_type"]}}
                                 for item in proof["layers"]]}
    return {tag: made(tag, RECORDED["manifest_digest"], INDEX, index),
            image["digest"]: made(image["digest"], image["digest"], OCI_MANIFEST, image_document),
            proof["digest"]: made(proof["digest"], proof["digest"], OCI_MANIFEST, proof_document)}


class FakeRegistry:
    """catalog / tags / manifest over a dict, raising the errors the real client raises."""

    def __init__(self) -> None:
        self.repos = {"learner/hello-lab": ["1.0", "1.1"], "learner/multi": ["1.0"], "learner/built": ["1.0"]}
        self.down = False
        self.calls: list[tuple] = []

    def catalog(self):
        self.calls.append(("catalog",))
        if self.down:
            raise RegistryUnreachable("no answer from http://localhost:5001", fix="labsupport up")
        return list(self.repos)

    def tags(self, repository):
        self.calls.append(("tags", repository))
        return list(self.repos[repository])

    def manifest(self, repository, reference):
        self.calls.append(("manifest", repository, reference))
        if repository.endswith("built") and reference in buildkit_manifests(repository, "1.0"):
            return buildkit_manifests(repository, "1.0")[reference]
        if reference not in self.repos.get(repository, []):
            raise ManifestUnknown(f"{repository}:{reference} is not in the registry", status=404,
                                  code="MANIFEST_UNKNOWN",
                                  fix=f"docker push localhost:5001/{repository}:{reference}")
        if repository.endswith("multi"):
            return index_manifest(repository, reference)
        return image_manifest(repository, reference)


def test_repositories_then_tags_then_manifest_and_layers():
    source = FakeRegistry()
    browser = RegistryBrowser(source)
    assert browser.repositories == ["learner/built", "learner/hello-lab", "learner/multi"]
    assert browser._tag_box not in browser.children
    browser.repo_buttons["learner/hello-lab"].click()
    assert browser.tags == ["1.0", "1.1"] and browser._tag_box in browser.children
    assert "lab-repo--selected" in browser.repo_buttons["learner/hello-lab"]._dom_classes
    browser.tag_buttons["1.1"].click()
    html = browser._manifest.value
    assert V2 in html and "sha256:" + "d7" * 32 in html
    assert f"{len(browser.manifest.raw)} bytes" in html
    assert html.count('class="lab-registry-layer"') == 2
    assert "2 layers, 1.1 MB compressed" in html
    assert "sha256:" + "c0" * 32 in html                         # the config blob
    assert source.calls[-1] == ("manifest", "learner/hello-lab", "1.1")
    text = browser.text()
    assert "> learner/hello-lab" in text and "tags of learner/hello-lab: 1.0, 1.1" in text
    assert "layer sha256:" + "68" * 32 + "  1.1 MB" in text


def test_an_index_lists_its_platforms_each_a_button():
    browser = RegistryBrowser(FakeRegistry())
    browser.select_repository("learner/multi")
    browser.select_tag("1.0")
    assert "linux/amd64" in browser._manifest.value and "linux/arm64/v8" in browser._manifest.value
    assert "platforms: linux/amd64, linux/arm64/v8" in browser.text()
    assert [item.description for item in browser._entry_box.children] == ["linux/amd64", "linux/arm64/v8"]
    assert browser._entry_box in browser.children
    browser.entry_buttons["sha256:" + "a2" * 32].click()          # not in the fake: the error, with its fix
    assert isinstance(browser.error, ManifestUnknown) and browser.entry_manifest is None


def open_built(**kwargs) -> tuple[RegistryBrowser, FakeRegistry]:
    source = FakeRegistry()
    browser = RegistryBrowser(source, **kwargs)
    browser.repo_buttons["learner/built"].click()
    browser.tag_buttons["1.0"].click()
    return browser, source


def test_a_buildkit_index_shows_its_platform_and_its_attestation_as_what_they_are():
    browser, _ = open_built()
    image, proof = RECORDED["index"][0]["digest"], RECORDED["attestations"][0]["digest"]
    assert browser.manifest.is_index and browser.entry_manifest is None
    html = browser._manifest.value
    assert "an image index" in html and "no layers of its own" in html
    assert 'class="lab-registry-layer"' not in html
    labels = {digest: item.description for digest, item in browser.entry_buttons.items()}
    assert labels[image] == "linux/amd64"
    assert labels[proof] == f"attestation (provenance) of sha256:{image[7:19]}…"
    assert "lab-registry-platform" in browser.entry_buttons[image]._dom_classes
    assert "lab-registry-attestation" in browser.entry_buttons[proof]._dom_classes
    assert f"attestation (provenance) of {image}" in html
    text = browser.text()
    assert f"  linux/amd64  {image}" in text and f"  attestation (provenance) of {image}  {proof}" in text


def test_a_platform_button_opens_that_image_with_its_config_and_layers():
    browser, source = open_built()
    image = RECORDED["index"][0]["digest"]
    browser.entry_buttons[image].click()
    assert source.calls[-1] == ("manifest", "learner/built", image)
    assert browser.entry == image and browser._entry in browser.children
    assert "lab-registry-entry--selected" in browser.entry_buttons[image]._dom_classes
    html = browser._entry.value
    assert html.count('class="lab-registry-layer"') == len(RECORDED["manifest_layers"]) == 3
    assert RECORDED["config_digest"] in html and "3 layers, 1.1 MB compressed" in html
    assert "<b>linux/amd64</b> in learner/built:1.0" in html
    text = browser.text()
    assert f"  > linux/amd64  {image}" in text and f"  linux/amd64: {image}" in text
    assert f"    layer {RECORDED['manifest_layers'][0]['digest']}  1.1 MB" in text
    assert f"    config: {RECORDED['config_digest']}" in text


def test_the_attestation_opens_as_its_in_toto_statement_not_as_layers():
    browser, _ = open_built()
    proof = RECORDED["attestations"][0]
    browser.entry_buttons[proof["digest"]].click()
    html = browser._entry.value
    assert "1 blob: the in-toto statement BuildKit wrote about the build" in html
    assert proof["layers"][0]["digest"] in html and "application/vnd.in-toto+json" in html
    assert "layers, " not in html
    text = browser.text()
    assert f"    blob {proof['layers'][0]['digest']}  1.0 kB  application/vnd.in-toto+json" in text


def test_refresh_keeps_the_entry_open():
    browser, _ = open_built()
    image = RECORDED["index"][0]["digest"]
    browser.select_entry(image)
    browser.refresh()
    assert browser.entry == image and browser.entry_manifest is not None
    browser.select_tag("1.0")                                       # a tag clicked again: the index alone
    assert browser.entry is None and browser._entry not in browser.children


def test_refresh_finds_new_repositories_and_keeps_the_selection():
    source = FakeRegistry()
    browser = RegistryBrowser(source)
    browser.select_repository("learner/hello-lab")
    browser.select_tag("1.0")
    source.repos["learner/capstone"] = ["2.0.0"]
    source.repos["learner/hello-lab"].append("1.2")
    browser.refresh_button.click()
    assert browser.repositories == ["learner/built", "learner/capstone", "learner/hello-lab", "learner/multi"]
    assert browser.repository == "learner/hello-lab" and browser.tag == "1.0"
    assert browser.tags == ["1.0", "1.1", "1.2"] and browser.manifest is not None


def test_a_repository_that_disappeared_clears_the_selection():
    source = FakeRegistry()
    browser = RegistryBrowser(source)
    browser.select_repository("learner/multi")
    browser.select_tag("1.0")
    del source.repos["learner/multi"]
    browser.refresh()
    assert browser.repository is None and browser.tags == [] and browser.manifest is None
    assert "learner/multi" not in browser.repo_buttons
    assert browser.entry_buttons == {} and browser._entry_box not in browser.children


def test_errors_are_shown_as_messages_with_their_fix():
    source = FakeRegistry()
    source.down = True
    browser = RegistryBrowser(source)
    assert isinstance(browser.error, RegistryUnreachable)
    assert "no answer from http://localhost:5001" in browser._error.value
    assert "labsupport up" in browser._error.value
    assert "Traceback" not in browser.text() and "fix: labsupport up" in browser.text()
    source.down = False
    browser.refresh()
    assert browser.error is None and browser._error.value == ""
    browser.select_repository("learner/hello-lab")
    browser.select_tag("9.9")
    assert isinstance(browser.error, ManifestUnknown) and browser.manifest is None
    assert "docker push localhost:5001/learner/hello-lab:9.9" in browser._error.value


def test_a_source_bug_in_a_click_is_shown_not_raised():
    class Broken(FakeRegistry):
        def tags(self, repository):
            raise KeyError(repository)

    browser = RegistryBrowser(Broken())
    browser.repo_buttons["learner/multi"].click()
    assert "unexpected KeyError" in browser._error.value


def test_not_loaded_until_refresh_when_autoload_is_off():
    source = FakeRegistry()
    browser = RegistryBrowser(source, autoload=False)
    assert source.calls == [] and "not read yet" in repr(browser)
    browser.refresh()
    assert browser.loaded and source.calls == [("catalog",)]

"""RegistryBrowser over a fake source holding real Manifest objects; errors become messages."""

from __future__ import annotations

import json

from labsupport._registry_wire import Manifest
from labsupport.errors import ManifestUnknown, RegistryUnreachable
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


class FakeRegistry:
    """catalog / tags / manifest over a dict, raising the errors the real client raises."""

    def __init__(self) -> None:
        self.repos = {"learner/hello-lab": ["1.0", "1.1"], "learner/multi": ["1.0"]}
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
    assert browser.repositories == ["learner/hello-lab", "learner/multi"]
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


def test_an_index_lists_its_platforms():
    browser = RegistryBrowser(FakeRegistry())
    browser.select_repository("learner/multi")
    browser.select_tag("1.0")
    assert "linux/amd64" in browser._manifest.value and "linux/arm64/v8" in browser._manifest.value
    assert "platforms: linux/amd64, linux/arm64/v8" in browser.text()


def test_refresh_finds_new_repositories_and_keeps_the_selection():
    source = FakeRegistry()
    browser = RegistryBrowser(source)
    browser.select_repository("learner/hello-lab")
    browser.select_tag("1.0")
    source.repos["learner/capstone"] = ["2.0.0"]
    source.repos["learner/hello-lab"].append("1.2")
    browser.refresh_button.click()
    assert browser.repositories == ["learner/capstone", "learner/hello-lab", "learner/multi"]
    assert browser.repository == "learner/hello-lab" and browser.tag == "1.0"
    assert browser.tags == ["1.0", "1.1", "1.2"] and browser.manifest is not None


def test_a_repository_that_disappeared_clears_the_selection():
    source = FakeRegistry()
    browser = RegistryBrowser(source)
    browser.select_repository("learner/multi")
    del source.repos["learner/multi"]
    browser.refresh()
    assert browser.repository is None and browser.tags == [] and browser.manifest is None
    assert "learner/multi" not in browser.repo_buttons


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

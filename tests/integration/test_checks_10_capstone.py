"""The check of lesson 10, `capstone.ship`, on the real engine and lab registry: the passing state passes, and
each mistake, made for real, gets its own code and a hint naming the fixing command. Helpers: lessons_07_10.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from labsupport import secrets
from labsupport.checks import capstone as capstone_check
from labsupport.checks.production import lesson_commit
from labsupport.engine import Engine

from .lessons_07_10 import (
    APPS,
    COMMIT,
    OTHER_COMMIT,
    assert_mistake,
    build,
    check,
    context,
    delete_blob,
    forget,
    push,
)

pytestmark = pytest.mark.docker




# -- capstone.ship -------------------------------------------------------------------------------------------

CAPSTONE_TAGS = ("1.0.0", COMMIT, OTHER_COMMIT)


@pytest.fixture
def ship(lab_of, admin, docker_client) -> Callable[..., str]:
    """Push a capstone image (the app itself unless a folder is given) under some tags; the manifest digest."""
    repository = f"{lab_of.learner}/capstone"
    forget(admin, repository, *CAPSTONE_TAGS)

    def put(tags: tuple[str, ...], folder: Path | None = None, variant: str = "capstone") -> str:
        local = build(
            docker_client, lab_of, folder or APPS / "capstone", f"capstone-{variant}", variant=variant
        )
        return [push(docker_client, lab_of, local, "capstone", tag) for tag in tags][-1]

    yield put
    forget(admin, repository, *CAPSTONE_TAGS)


def reordered(tmp_path: Path) -> Path:
    """The capstone app with the app's COPY before the slow RUN step: correct, but not cache-friendly."""
    text = (APPS / "capstone" / "Dockerfile").read_text()
    run_start = text.index("RUN mkdir")
    run_end = text.index("WORKDIR")
    copy_line = "COPY VERSION capstone.sh /srv/capstone/\n"
    body = (
        text[:run_start]
        + copy_line
        + text[run_start:run_end]
        + text[run_end:].replace("COPY VERSION capstone.sh ./\n", "")
    )
    return context(tmp_path, body, app="capstone")


def test_capstone_app_files_constant_matches_the_app_folder():
    shipped = {path.name for path in (APPS / "capstone").iterdir()} - {"Dockerfile"}
    assert capstone_check.APP_FILES == shipped


def test_capstone_missing(lab_of, ship):
    assert_mistake(
        check("capstone.ship", lab_of), "capstone-missing", lab_of, "docker build",
        f"capstone:{lesson_commit(APPS / 'capstone')}"
    )


def test_capstone_without_a_commit_tag(lab_of, ship):
    ship(("1.0.0",))
    result = check("capstone.ship", lab_of)
    assert_mistake(result, "missing-commit-tag", lab_of, f"docker tag {lab_of.ref('capstone', '1.0.0')}")


def test_capstone_without_a_version_tag(lab_of, ship):
    ship((COMMIT,))
    assert_mistake(check("capstone.ship", lab_of), "missing-semver-tag", lab_of, "docker build")


def test_capstone_tags_on_different_digests(lab_of, ship):
    ship(("1.0.0",))
    ship((COMMIT,), variant="capstone-other")
    result = check("capstone.ship", lab_of)
    assert_mistake(result, "different-digests", lab_of, "docker tag")
    assert "1.0.0" in result.message and COMMIT in result.message


def test_capstone_built_in_a_cache_unfriendly_order(lab_of, ship, tmp_path):
    ship(("1.0.0", COMMIT), folder=reordered(tmp_path), variant="reordered")
    result = check("capstone.ship", lab_of)
    assert_mistake(result, "cache-unfriendly", lab_of, "Dockerfile")
    assert "RUN mkdir -p /srv/capstone/data" in result.message and "glossary.txt" in result.message


def test_capstone_not_built_from_the_app(lab_of, ship, tmp_path):
    ship(("1.0.0", COMMIT), folder=context(tmp_path, "ARG BASE\nFROM ${BASE}\n"), variant="not-the-app")
    assert_mistake(check("capstone.ship", lab_of), "app-missing", lab_of, "docker build")


def test_capstone_with_a_secret_deleted_later(lab_of, ship, tmp_path):
    text = (
        (APPS / "capstone" / "Dockerfile")
        .read_text()
        .replace(
            "WORKDIR /srv/capstone\n",
            f"RUN echo 'API_TOKEN={secrets.PLANTED_SECRET}' > /srv/capstone/.env\nRUN rm /srv/capstone/.env\n"
            "WORKDIR /srv/capstone\n",
        )
    )
    ship(("1.0.0", COMMIT), folder=context(tmp_path, text, app="capstone"), variant="secret")
    result = check("capstone.ship", lab_of)
    assert_mistake(result, "secret-found", lab_of, "docker run -e")
    assert "/srv/capstone/.env" in result.message and "deletes" in result.message


def test_capstone_shipped_right_passes(lab_of, ship, docker_client):
    digest = ship(("1.0.0", COMMIT))
    glossary = Engine(docker_client, config=lab_of).run(lab_of.ref("capstone", "1.0.0"), ["digest"])
    assert glossary.splitlines() == [
        "Capstone glossary 1.0.0",
        "  digest: the sha256 of a manifest or blob; it names exactly one content",
    ]
    result = check("capstone.ship", lab_of)
    assert (result.passed, result.code) == (True, "ok"), str(result)
    assert digest in result.message
    pulled = docker_client.images.get(f"{lab_of.ref('capstone')}@{digest}")
    assert f"{lab_of.ref('capstone')}@{digest}" in pulled.attrs["RepoDigests"]


def test_capstone_with_a_lost_layer_is_not_pullable(lab_of, ship, lab, admin):
    digest = ship(("1.0.0", COMMIT))
    top = admin.image_manifest(f"{lab_of.learner}/capstone", digest).layers[-1]
    delete_blob(lab, f"{lab_of.learner}/capstone", top.digest)
    result = check("capstone.ship", lab_of)
    assert_mistake(result, "not-pullable", lab_of, "docker push")
    assert top.digest in result.message

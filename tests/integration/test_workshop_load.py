"""A bounded load test on loopback: six learners push at once to one workshop registry, each with the docker
CLI in a DOCKER_CONFIG of its own and an image of its own. No push may fail, every pushed digest must be
pullable afterwards, and the refresh tokens `docker login` stored must spare the server a bcrypt per push.
(bench/bench_workshop.py runs the same with 30 learners and prints the timings.)"""

from __future__ import annotations

import uuid

import pytest

from bench.bench_workshop import push_class, remove_images, running_workshop

pytestmark = pytest.mark.docker
LEARNERS = 6


def test_six_learners_push_at_once(docker_client, lab_config, tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_BASE_IMAGE", lab_config.base_image)
    run = f"hW-load-{uuid.uuid4().hex[:6]}"
    with running_workshop(tmp_path / "class", LEARNERS, run, docker_client) as running:
        try:
            report = push_class(running, docker_client, tmp_path, run)
        finally:
            remove_images(docker_client, run, running.settings.registry, sorted(running.passwords))
        log = running.workshop.layout.services_log.read_text()
    print(report.summary())
    assert report.errors == []
    assert len(report.pushes) == LEARNERS and all(p.digest for p in report.pushes)
    assert len({p.digest for p in report.pushes}) == LEARNERS                # distinct images
    assert report.token_requests >= LEARNERS                                # each push asked for a token …
    assert log.count("via password") == LEARNERS                             # … but only the logins hashed
    assert log.count("via refresh") >= LEARNERS

"""Benchmark: a class pushing at once to one workshop registry, on loopback.

Makes a workshop of N learners (default 30) on free ports, builds N small distinct images (the base image plus
one layer of the learner's own), logs each learner in with the docker CLI in a DOCKER_CONFIG of its own, then
pushes all N concurrently. Prints p50/p95 push time and the token server's requests per second during the
pushes, then checks that every pushed digest can be pulled back (the local tag removed first). Exits 1 on any
error. Usage: .venv/bin/python bench/bench_workshop.py [--learners N]

The functions here are also the harness of tests/integration/test_workshop_load.py and the dashboard's browser
test: `running_workshop` starts one and always takes it down again.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import free_port, percentile
from labsupport.workshop.accounts import numbered_learners
from labsupport.workshop.control import Workshop
from labsupport.workshop.create import init_workshop
from labsupport.workshop.handout import read_credentials
from labsupport.workshop.settings import WorkshopSettings
from labsupport.workshop.web import client_verify

DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")
OFFLINE_BASE_IMAGE = "labsupport/base:1.35"


@dataclass
class RunningWorkshop:
    """A workshop that is up: its control object, settings and every learner's password."""

    workshop: Workshop
    settings: WorkshopSettings
    passwords: dict[str, str] = field(repr=False)
    instructor_password: str = field(repr=False, default="")

    @property
    def root(self) -> Path:
        return self.workshop.layout.root


def three_free_ports() -> tuple[int, int, int]:
    ports: set[int] = set()
    while len(ports) < 3:
        ports.add(free_port())
    first, second, third = sorted(ports)
    return first, second, third


@contextmanager
def running_workshop(folder: Path, learners: int | Sequence[str], prefix: str, client=None,
                     tls: bool = False) -> Iterator[RunningWorkshop]:
    """init + up a workshop (N numbered learners, or these names) on free loopback ports; down --purge after."""
    registry_port, token_port, dashboard_port = three_free_ports()
    settings = WorkshopSettings(name=prefix.lower(), container=f"{prefix}-registry", registry_port=registry_port,
                                token_port=token_port, dashboard_port=dashboard_port, tls_on_loopback=tls)
    names = numbered_learners(learners) if isinstance(learners, int) else list(learners)
    report = init_workshop(folder, names, settings=settings)
    passwords = dict(read_credentials(report.layout.credentials.read_text()))
    instructor = (report.layout.root / "handout" / "instructor.txt").read_text().split("password: ")[1].strip()
    workshop = Workshop(folder, client=client)
    try:
        settings = workshop.up()
        yield RunningWorkshop(workshop, settings, passwords, instructor)
    finally:
        workshop.down(purge=True)


def docker(*args: str, config: Path | None = None, stdin: str | None = None,
           timeout: float = 300) -> subprocess.CompletedProcess:
    """The docker CLI, with a DOCKER_CONFIG of its own when given; never raises on a failed command."""
    env = {**os.environ, **({"DOCKER_CONFIG": str(config)} if config else {})}
    return subprocess.run(["docker", *args], input=stdin, capture_output=True, text=True, env=env,
                          timeout=timeout, check=False)


def login(registry: str, learner: str, password: str, folder: Path) -> Path:
    """`docker login --password-stdin` into a fresh DOCKER_CONFIG for this learner; the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text("{}")
    done = docker("login", registry, "--username", learner, "--password-stdin", config=folder, stdin=password)
    if done.returncode != 0:
        raise RuntimeError(f"docker login as {learner} failed: {done.stderr.strip()[-300:]}")
    return folder


def push_as(registry: str, learner: str, password: str, folder: Path, image: str) -> str:
    """Log `learner` in (DOCKER_CONFIG `folder`), push `image` as <registry>/<learner>/hello-lab:1.0; the ref."""
    login(registry, learner, password, folder)
    ref = f"{registry}/{learner}/hello-lab:1.0"
    if docker("tag", image, ref).returncode != 0:
        raise RuntimeError(f"docker tag {image} {ref} failed")
    try:
        push = docker("push", ref, config=folder)
        if push.returncode != 0:
            raise RuntimeError(f"docker push {ref} failed: {push.stderr.strip()[-300:]}")
    finally:
        docker("rmi", ref)
    return ref


def build_distinct(client, learner: str, run: str, base: str | None = None) -> str:
    """A small image of the learner's own: the base plus one layer holding its name; its local tag."""
    base = base or os.environ.get("LAB_BASE_IMAGE") or OFFLINE_BASE_IMAGE
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in (("Dockerfile", f"FROM {base}\nCOPY id.txt /id.txt\n".encode()),
                           ("id.txt", f"{learner} {run}\n".encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    tag = f"{run.lower()}-{learner}:load"
    client.images.build(fileobj=context, custom_context=True, tag=tag, rm=True, forcerm=True,
                        labels={"io.labsupport.bench": run})
    return tag


@dataclass
class Push:
    learner: str
    ref: str
    seconds: float
    digest: str | None
    error: str | None


@dataclass
class LoadReport:
    pushes: list[Push]
    wall_seconds: float
    token_requests: int
    pulls_failed: list[str]

    @property
    def errors(self) -> list[str]:
        return [f"{p.learner}: {p.error}" for p in self.pushes if p.error] + self.pulls_failed

    def summary(self) -> str:
        times = [p.seconds for p in self.pushes if not p.error]
        if not times:
            return f"{len(self.pushes)} pushes, none succeeded"
        return (f"{len(self.pushes)} concurrent pushes in {self.wall_seconds:.1f} s: "
                f"p50 {percentile(times, 0.5):.2f} s, p95 {percentile(times, 0.95):.2f} s; token server "
                f"{self.token_requests} requests, {self.token_requests / self.wall_seconds:.1f}/s; "
                f"errors {len(self.errors)}")


def _push(learner: str, local: str, ref: str, config: Path) -> Push:
    tagged = docker("tag", local, ref)
    if tagged.returncode != 0:
        return Push(learner, ref, 0.0, None, tagged.stderr.strip()[-200:])
    started = time.monotonic()
    done = docker("push", ref, config=config)
    seconds = time.monotonic() - started
    found = DIGEST.search(done.stdout)
    error = None if done.returncode == 0 and found else (done.stderr or done.stdout).strip()[-300:]
    return Push(learner, ref, seconds, found.group(1) if found else None, error)


def token_requests(running: RunningWorkshop) -> int:
    verify = client_verify(running.workshop.layout.ca_cert if running.settings.tls else None)
    stats = httpx.get(f"{running.settings.scheme}://127.0.0.1:{running.settings.token_port}/stats", timeout=5,
                      verify=verify, trust_env=False).json()
    return int(stats.get("requests", 0))


def push_class(running: RunningWorkshop, client, work: Path, run: str) -> LoadReport:
    """Build, log in and push every learner's image at once; then pull every digest back."""
    learners = sorted(running.passwords)
    registry = running.settings.registry
    with ThreadPoolExecutor(max_workers=4) as pool:
        locals_ = dict(zip(learners, pool.map(lambda name: build_distinct(client, name, run), learners)))
    with ThreadPoolExecutor(max_workers=8) as pool:
        configs = dict(zip(learners, pool.map(
            lambda name: login(registry, name, running.passwords[name], work / "docker" / name), learners)))
    refs = {name: f"{registry}/{name}/load:1" for name in learners}
    before = token_requests(running)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(learners)) as pool:
        pushes = list(pool.map(lambda name: _push(name, locals_[name], refs[name], configs[name]), learners))
    wall = time.monotonic() - started
    requests = token_requests(running) - before
    failed = []
    for push in pushes:
        if push.digest is None:
            continue
        docker("rmi", push.ref, locals_[push.learner])     # gone locally: the pull must fetch its own layer
        pulled = docker("pull", f"{registry}/{push.learner}/load@{push.digest}", config=configs[push.learner])
        if pulled.returncode != 0:
            failed.append(f"pull of {push.learner}'s {push.digest[:19]}: {pulled.stderr.strip()[-200:]}")
    return LoadReport(pushes, wall, requests, failed)


def remove_images(client, run: str, registry: str, learners: list[str]) -> None:
    """Remove the bench's local images and every tag it made."""
    for name in learners:
        for ref in (f"{run.lower()}-{name}:load", f"{registry}/{name}/load:1"):
            docker("rmi", ref)
        digests = [d for image in client.images.list(name=f"{registry}/{name}/load") for d in image.attrs.get(
            "RepoDigests", [])]
        for ref in digests:
            docker("rmi", ref)


def main() -> int:
    import docker as docker_sdk

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=30)
    args = parser.parse_args()
    run = f"hW-bench-{uuid.uuid4().hex[:6]}"
    client = docker_sdk.from_env(timeout=300)
    with tempfile.TemporaryDirectory(prefix="hw-bench-") as tmp:
        work = Path(tmp)
        with running_workshop(work / "workshop", args.learners, run, client) as running:
            try:
                report = push_class(running, client, work, run)
            finally:
                remove_images(client, run, running.settings.registry, sorted(running.passwords))
    print(report.summary())
    for error in report.errors:
        print(f"  error: {error}")
    print(f"every pushed digest pullable: {'yes' if not report.pulls_failed else 'NO'}")
    return 1 if report.errors or len(report.pushes) != args.learners else 0


if __name__ == "__main__":
    sys.exit(main())

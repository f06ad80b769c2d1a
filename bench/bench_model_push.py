"""Benchmark: (a) the local view, the remote view and their diff for a 20-layer image; (b) the structured push
against `docker push` of the same kind of image.

(a) builds one image of 20 layers, pushes it once, then times `Engine.image_view` +
`RegistryClient.remote_view` (+ the other repositories' views, the mount sources) + `diff_image`, median of
N runs.
(b) builds, for every run, two fresh 20-layer images (nocache, random bytes per layer, so nothing is in the
registry yet but the shared base layer) and pushes one with `Engine.push` (stream parsing, report, manifest
fetch included) and one with the docker CLI, each to a new repository, alternating which goes first; it
prints min / median / max and the ratios. Push times on a shared machine vary a lot from run to run (the
registry checks a bcrypt password on every request): read the minimums, use more runs for steadier figures.

Runs on its own lab registry (container and volume prefixed `hC-bench-`), removed at the end with every
image it made. Usage: .venv/bin/python bench/bench_model_push.py [--runs N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import lab_for_bench, login
from labsupport.dockerconfig import Credential
from labsupport.engine import Engine
from labsupport.lab import Lab
from labsupport.model import diff_image
from labsupport.registry import RegistryClient

LAYERS = 20
LAYER_BYTES = 64 * 1024


def twenty_layer_context(folder: Path) -> Path:
    """A Dockerfile FROM the base with 19 RUN steps, each writing its own file of random bytes: 20 layers."""
    folder.mkdir(parents=True, exist_ok=True)
    steps = [f"RUN head -c {LAYER_BYTES} /dev/urandom > /layer-{index:02d}" for index in range(1, LAYERS)]
    (folder / "Dockerfile").write_text("ARG BASE\nFROM $BASE\n" + "\n".join(steps) + "\n")
    return folder


def bench_views(engine: Engine, registry: RegistryClient, lab: Lab, context: Path, runs: int,
                made: list[str]) -> None:
    """(a): median time of local view + remote view (+ mount sources) + diff for a 20-layer image."""
    ref = lab.config.ref("views", "1.0")
    made.append(ref)
    engine.build(context, ref, buildargs={"BASE": lab.config.base_image})
    engine.push(ref)
    repository = f"{lab.config.learner}/views"
    target_only, with_sources = [], []
    for _ in range(runs):
        started = time.perf_counter()
        view = engine.image_view(ref)
        diff = diff_image(view, repository, registry.remote_view(repository, "1.0"))
        target_only.append(time.perf_counter() - started)
        started = time.perf_counter()
        view = engine.image_view(ref)
        diff = diff_image(view, repository, registry.remote_view(repository, "1.0"),
                          registry.views(exclude=repository))
        with_sources.append(time.perf_counter() - started)
    assert len(diff.layers) == LAYERS, f"expected {LAYERS} layers, got {len(diff.layers)}"
    print(f"(a) local view + remote view + diff, {LAYERS} layers: "
          f"median {statistics.median(target_only) * 1000:.1f} ms over {runs} runs")
    print(f"    with the other repositories' views as mount sources ({len(registry.catalog())} "
          f"repositories): median {statistics.median(with_sources) * 1000:.1f} ms")


def bench_push(engine: Engine, registry: RegistryClient, lab: Lab, context: Path, runs: int,
               made: list[str]) -> None:
    """(b): structured push vs `docker push`, fresh 20-layer images to fresh repositories."""
    structured, cli = [], []
    for index in range(runs):
        refs = {kind: lab.config.ref(f"push-{kind}-{index}", "1.0") for kind in ("structured", "cli")}
        for ref in refs.values():
            made.append(ref)
            engine.build(context, ref, buildargs={"BASE": lab.config.base_image}, nocache=True)
        order = ("structured", "cli") if index % 2 == 0 else ("cli", "structured")
        for kind in order:
            started = time.perf_counter()
            if kind == "structured":
                report = engine.push(refs[kind], registry_client=registry)
                assert len(report.layers) == LAYERS and report.bytes_uploaded > 0
                structured.append(time.perf_counter() - started)
            else:
                subprocess.run(["docker", "push", "-q", refs[kind]], check=True, capture_output=True)
                cli.append(time.perf_counter() - started)
    s, c = statistics.median(structured), statistics.median(cli)
    print(f"(b) push of a fresh {LAYERS}-layer image ({LAYERS - 1} new layers of {LAYER_BYTES // 1024} KiB), "
          f"{runs} runs each, min / median / max:")
    print(f"    structured push {min(structured):.2f} / {s:.2f} / {max(structured):.2f} s")
    print(f"    docker push     {min(cli):.2f} / {c:.2f} / {max(cli):.2f} s")
    print(f"    ratio structured / docker push: {s / c:.2f} (medians), "
          f"{min(structured) / min(cli):.2f} (minimums)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (default 5)")
    args = parser.parse_args()
    run = uuid.uuid4().hex[:6]
    work = Path(tempfile.mkdtemp(prefix="hC-bench-"))
    lab = lab_for_bench(work, run, "hC-bench")
    made: list[str] = []
    engine = Engine(config=lab.config)
    try:
        lab.up()
        login(lab, work / "docker-config")
        context = twenty_layer_context(work / "context")
        with RegistryClient(lab.config.registry_url, registry=lab.config.registry,
                            credential=Credential(lab.config.learner, lab.password())) as registry:
            bench_views(engine, registry, lab, context, args.runs, made)
            bench_push(engine, registry, lab, context, args.runs, made)
    finally:
        for ref in made:
            engine.remove(ref, missing_ok=True, force=True)
        lab.down(purge=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

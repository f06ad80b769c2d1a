"""Benchmark: each check's latency (median and 95th percentile) against a local lab registry.

Sets up the state lessons 01 to 05 leave behind (hello-lab built, tagged, logged in, pushed) on a lab of its
own, then runs every exercise that takes no answer N times with `run_check`, passed or not (a check that does
not pass does the same reads). Usage: .venv/bin/python bench/bench_checks.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import lab_for_bench, login, percentile
from labsupport.checks import run_check
from labsupport.config import repo_root
from labsupport.course import EXERCISES
from labsupport.engine import Engine
from labsupport.errors import LabError


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    run = uuid.uuid4().hex[:6]
    with tempfile.TemporaryDirectory() as work:
        lab = lab_for_bench(Path(work), run, "bench-checks")
        config = lab.config
        lab.up()
        engine = Engine(config=config)
        local, target = f"hello-lab:bench-{run}", config.ref("hello-lab", "1.0")
        try:
            login(lab, Path(work) / "docker")
            for key, value in {f"LAB_{k}": v for k, v in (
                    ("REGISTRY", config.registry), ("LEARNER", config.learner), ("STATE_DIR", str(config.state_dir)),
                    ("CONTAINER", config.container), ("VOLUME", config.volume))}.items():
                os.environ[key] = value
            os.environ["LAB_REGISTRY_URL"] = config.registry_url
            engine.build(repo_root() / "notebooks" / "apps" / "hello", local, buildargs={"BASE": config.base_image})
            engine.tag(local, target)
            engine.push(target)
            print(f"check latency over {args.runs} runs, lab {config.registry} (ms)")
            print(f"{'exercise':<24} {'result':<8} {'median':>8} {'p95':>8}")
            for info in EXERCISES:
                if info.answer:
                    continue
                times, outcome = [], ""
                for _ in range(args.runs):
                    started = time.perf_counter()
                    try:
                        result = run_check(info.id, config=config)
                        outcome = "passed" if result.passed else result.code
                    except LabError as exc:
                        outcome = f"error: {exc.message[:30]}"
                    times.append((time.perf_counter() - started) * 1000)
                print(f"{info.id:<24} {outcome[:8]:<8} {statistics.median(times):8.1f} {percentile(times, 0.95):8.1f}")
        finally:
            for ref in (local, target):
                engine.remove(ref, missing_ok=True, force=True)
            lab.down(purge=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

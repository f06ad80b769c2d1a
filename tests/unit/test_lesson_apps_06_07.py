"""The small apps lessons 06 and 07 build: their Dockerfiles teach by their order and content, so pin both.

No Docker here: the notebooks build these for real (tests/notebooks); this reads the files the lessons cat.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from labsupport.secrets import PLANTED_SECRET, scan_bytes

APPS = Path(__file__).resolve().parents[2] / "notebooks" / "apps"
ORDER = APPS / "hello-badorder"
FIXES = APPS / "secret-fixes"


def steps(dockerfile: Path) -> list[str]:
    """The instruction keywords of a Dockerfile, in order (continuation lines and comments skipped)."""
    keywords = []
    continued = False
    for line in dockerfile.read_text().splitlines():
        text = line.strip()
        if not continued and text and not text.startswith("#"):
            keywords.append(text.split()[0].upper())
        continued = text.endswith("\\")
    return keywords


def test_steps_reads_instructions_not_comments_or_continuations(tmp_path):
    sample = tmp_path / "Dockerfile"
    sample.write_text("# COPY in a comment\nFROM x\nRUN a \\\n && COPY-looking b\nCOPY c /d\n")
    assert steps(sample) == ["FROM", "RUN", "COPY"]


def test_bad_order_copies_the_app_before_the_dependency_step():
    order = steps(ORDER / "Dockerfile")
    assert order.index("COPY") < order.index("RUN")


def test_fixed_order_runs_the_dependency_step_before_copying_the_app():
    order = steps(ORDER / "Dockerfile.fixed")
    assert order.index("RUN") < order.index("COPY")


def test_both_orders_run_the_same_dependency_step():
    """Only the order may differ, else the byte counts of lesson 06 compare two different builds."""
    def run_step(path: Path) -> str:
        text = path.read_text()
        return re.search(r"^RUN .*?[^\\]$", text, re.MULTILINE | re.DOTALL).group(0)

    assert run_step(ORDER / "Dockerfile") == run_step(ORDER / "Dockerfile.fixed")


@pytest.mark.parametrize("name", ["hello.sh", "VERSION"])
def test_bad_order_app_is_the_hello_app(name):
    assert (ORDER / name).read_bytes() == (APPS / "hello" / name).read_bytes()


def test_every_dockerfile_takes_the_base_image_from_a_build_argument():
    for dockerfile in [ORDER / "Dockerfile", ORDER / "Dockerfile.fixed", FIXES / "Dockerfile",
                       FIXES / "Dockerfile.mount"]:
        text = dockerfile.read_text()
        assert re.search(r"^ARG BASE=", text, re.MULTILINE), dockerfile
        assert all(line.strip() in ("FROM ${BASE}", "FROM ${BASE} AS fetch")
                   for line in text.splitlines() if line.startswith("FROM")), dockerfile


def test_multi_stage_fix_uses_the_planted_token_only_in_its_first_stage():
    text = (FIXES / "Dockerfile").read_text()
    first, final = text.split("\nFROM ${BASE}\n", 1)
    assert re.findall(r"^ARG LAB_SECRET=(\S+)$", first, re.MULTILINE) == [PLANTED_SECRET]
    assert PLANTED_SECRET not in final and "LAB_SECRET" not in final
    assert "COPY --from=fetch /app/deps.txt" in final


def test_mount_fix_reads_the_token_from_a_secret_mount_and_holds_none():
    text = (FIXES / "Dockerfile.mount").read_text()
    assert "RUN --mount=type=secret,id=api_token" in text
    assert "ARG LAB_SECRET" not in text
    assert scan_bytes(text.encode(), "Dockerfile.mount", None) == []

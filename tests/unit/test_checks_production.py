"""The commit tag lesson 08's check looks for: the one the lesson makes, at the course's one length."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from labsupport.checks import images, production
from labsupport.refs import COMMIT_TAG_LENGTH, commit_tag, is_commit_tag


@pytest.mark.skipif(shutil.which("git") is None, reason="no git on this machine")
def test_lesson_commit_is_heads_id_at_the_courses_length():
    head = subprocess.run(["git", "-C", str(images.app_dir()), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=False)
    if head.returncode != 0:
        pytest.skip("this course folder is not a git checkout")
    tag = production.lesson_commit()
    assert tag == commit_tag(head.stdout.strip())
    assert len(tag) >= COMMIT_TAG_LENGTH and is_commit_tag(tag)


def test_lesson_commit_outside_git_is_a_stand_in_from_the_apps_files(tmp_path: Path):
    app = tmp_path / "app"
    app.mkdir()
    (app / "Dockerfile").write_bytes(b"FROM busybox\n")
    (app / "VERSION").write_bytes(b"1.2.0\n")
    stand_in = hashlib.sha1(b"FROM busybox\n" + b"1.2.0\n").hexdigest()
    assert production.lesson_commit(app) == commit_tag(stand_in)

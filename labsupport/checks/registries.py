"""Lesson 02's check: the anatomy of an image reference, `host[:port]/namespace/repo:tag@digest`.

`registries.anatomy` is pure: the learner splits the five ANATOMY_REFERENCES into host / repository / tag /
digest, and each split is compared with `labsupport.refs.split_for_exercise`, the answer key. A wrong split
gets a code naming the typical mistake, so the hint can teach the rule that was missed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .. import refs
from .base import OK, CheckContext, CheckResult, exercise

#: The five references of the exercise, each hiding a different trap.
ANATOMY_REFERENCES: tuple[str, ...] = (
    "ubuntu:22.04",                                  # host and library/ are implied
    "localhost:5000/learner/hello-lab",              # the :5000 is a port, and the tag latest is implied
    "alice/web:5000",                                # alice is no host (no '.' or ':'), 5000 is a tag
    "nginx@sha256:cf62ad8036b06ffd899a1f857afa95945d03361b8950a81aa611e5e2984c1919",  # a digest, no tag
    ("registry.example.com:8443/team/tools/api:2.1"
     "@sha256:7c51e223da3eafba124fb47237bd5a8a4e878456766ceb67a5aa096fc2c06aa6"),  # all parts, deep path
)

FIELDS = ("host", "repository", "tag", "digest")

#: The rule each mistake missed, shown as the hint.
RULES: dict[str, str] = {
    "wrong-shape": 'answer = {"ubuntu:22.04": {"host": ..., "repository": ..., "tag": ..., '
                   '"digest": None}, ...}'
                   "  (or a list of five such dicts in the given order)",
    "implied-host": "a first part is a host only if it has a '.' or a ':' or is 'localhost'; "
                    "otherwise Docker uses docker.io",
    "implied-library": "on docker.io a one-part name lives under library/  (ubuntu is library/ubuntu)",
    "port-as-tag": "a ':' before the first '/' belongs to the host (host:port); "
                   "only a ':' in the last part starts a tag",
    "digest-as-tag": "the part after '@' is the digest (sha256:…), never the tag",
    "implied-latest": "with neither a tag nor a digest, Docker uses the tag latest",
    "digest-only": "a digest pins the image: with only '@sha256:…' no tag is implied (tag None)",
    "wrong-host": "the host is everything before the first '/', when that part is a host",
    "wrong-repository": "the repository is the whole path after the host, without the tag or digest",
    "wrong-tag": "the tag follows the last ':' of the last path part, before any '@'",
    "wrong-digest": "the digest is everything after '@', algorithm included (sha256:…)",
}


class _Shape(ValueError):
    """Internal: the answer does not have the expected shape; the message says how."""


def _value(entry: Mapping[str, Any], key: str) -> str | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Shape(f"{key} must be text or None, not {type(value).__name__}")
    return value.strip() or None


def _entry(raw: Any, reference: str) -> dict[str, str | None]:
    """One learner split as a dict of the four fields (None for an absent tag or digest)."""
    if isinstance(raw, Sequence) and not isinstance(raw, str) and len(raw) == len(FIELDS):
        raw = dict(zip(FIELDS, raw))
    if not isinstance(raw, Mapping):
        raise _Shape(f"the split of {reference!r} must be a dict with host, repository, tag and digest")
    missing = [k for k in ("host", "repository") if k not in raw]
    if missing:
        raise _Shape(f"the split of {reference!r} has no {' or '.join(missing)}")
    entry = {k: _value(raw, k) for k in FIELDS}
    if entry["repository"] is None:
        raise _Shape(f"the split of {reference!r} has an empty repository; every reference names one")
    return entry


def _entries(answer: Any) -> list[dict[str, str | None]]:
    """The learner's five splits in ANATOMY_REFERENCES order, from a dict keyed by reference or a list."""
    if isinstance(answer, Mapping):
        by_text = {str(k).strip(): v for k, v in answer.items()}
        missing = [r for r in ANATOMY_REFERENCES if r not in by_text]
        if missing:
            raise _Shape(f"no split for {missing[0]!r} ({len(missing)} of the five references missing)")
        return [_entry(by_text[r], r) for r in ANATOMY_REFERENCES]
    if isinstance(answer, Sequence) and not isinstance(answer, str):
        if len(answer) != len(ANATOMY_REFERENCES):
            raise _Shape(f"a list of {len(answer)} splits; give exactly {len(ANATOMY_REFERENCES)}, in order")
        return [_entry(raw, r) for raw, r in zip(answer, ANATOMY_REFERENCES)]
    raise _Shape(f"the answer is of type {type(answer).__name__}; "
                 "give a dict keyed by reference or a list of five")


def _host_parts(host: str) -> tuple[str, str | None]:
    name, colon, port = host.rpartition(":") if not host.endswith("]") else (host, "", "")
    return (name, port) if colon else (host, None)


def diagnose(reference: str,  # noqa: C901 (a learner's mistakes in a split, one test each, in order)
             given: Mapping[str, str | None]) -> tuple[str, str] | None:
    """The first mistake in one split as (code, explanation), or None when the split is right."""
    want = refs.split_for_exercise(reference)
    host = given["host"]
    if host == refs.LEGACY_DOCKER_HUB:
        host = refs.DOCKER_HUB
    if host != want["host"]:
        bare, port = _host_parts(str(want["host"]))
        if want["host"] == refs.DOCKER_HUB:
            if host is None:
                return "implied-host", "it names no host, yet Docker always sends it to one"
            return "implied-host", f"{host!r} is not a registry host here"
        if port and (host == bare or given["tag"] == port):
            return "port-as-tag", f":{port} is part of the host, not a tag"
        return "wrong-host", "the host is not empty" if host is None else f"the host is not {host!r}"
    repository = given["repository"] or ""
    if repository != want["repository"]:
        if want["repository"] == f"{refs.OFFICIAL_NAMESPACE}/{repository}":
            return "implied-library", f"on {refs.DOCKER_HUB} the repository {repository!r} is incomplete"
        return "wrong-repository", f"the repository is not {repository!r}"
    tag, digest = given["tag"], given["digest"]
    if tag != want["tag"]:
        if tag is not None and (tag == want["digest"] or tag.startswith(("sha256", "@"))):
            return "digest-as-tag", f"{tag!r} is the digest, not the tag"
        _, port = _host_parts(str(want["host"]))
        if port and tag == port:
            return "port-as-tag", f"{tag!r} is the host's port, not the tag"
        if tag is None and want["tag"] == "latest":
            return "implied-latest", "it names no tag, yet Docker still uses one"
        if want["tag"] is None and want["digest"] is not None:
            return "digest-only", f"it names only a digest, so its tag is not {tag!r}"
        return "wrong-tag", f"the tag is not {tag!r}"
    if digest != want["digest"]:
        if want["digest"] and digest and want["digest"].endswith(":" + digest):
            return "wrong-digest", "the digest starts with its algorithm, 'sha256:'"
        return "wrong-digest", ("it has a digest, and yours is not it" if want["digest"]
                                else f"it names no digest, yet you gave {digest!r}")
    return None


@exercise("registries.anatomy")
def check_anatomy(ctx: CheckContext, answer: Any) -> CheckResult:
    """Compare the learner's five splits with the answer key; report how many are wrong and the first."""
    exercise_id = "registries.anatomy"
    try:
        entries = _entries(answer)
    except _Shape as shape:
        return CheckResult(exercise_id, False, "wrong-shape", f"the answer's shape is off: {shape}",
                           hint=RULES["wrong-shape"])
    mistakes = []
    for number, (reference, given) in enumerate(zip(ANATOMY_REFERENCES, entries), start=1):
        found = diagnose(reference, given)
        if found:
            mistakes.append((number, reference, *found))
    if not mistakes:
        return CheckResult(exercise_id, True, OK,
                           f"all {len(ANATOMY_REFERENCES)} references split correctly, "
                           "implied parts included")
    number, reference, code, why = mistakes[0]
    return CheckResult(exercise_id, False, code,
                       f"{len(mistakes)} of {len(ANATOMY_REFERENCES)} splits are wrong; first, reference "
                       f"{number} {reference!r}: {why}",
                       hint=RULES[code])

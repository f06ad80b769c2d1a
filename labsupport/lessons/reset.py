"""Undo what an exercise made, so the learner can do it again: `labsupport reset ID` / `reset --all`.

Each exercise leaves known things behind: local tags, tags in the lab registry (deleted through its HTTP API,
by manifest digest, which also drops every other tag naming that digest), a login in the Docker client. The
exercise's progress records are forgotten too. The registry's blobs stay until its garbage collection runs;
that does not matter to any check, which reads tags and manifests.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import course
from ..checks import images
from ..checks.push import lab_registry_errors
from ..config import LabConfig
from ..course import Leftovers
from ..dockercli import logout
from ..dockerconfig import load_credential
from ..engine import Engine
from ..errors import LabError
from ..lab import lab_registry
from ..progress import ProgressLog

#: A lab repository name relative to the learner's namespace, and the tag to delete (None: every tag).
RemoteTag = tuple[str, str | None]


def local_names(left: Leftovers, config: LabConfig) -> list[str]:
    """The local tags an exercise's leftovers name, with the learner's real names filled in."""
    return [images.local_ref(tag) for tag in left.app_tags] + [config.ref(name, tag) for name, tag in left.lab_tags]


@dataclass
class ResetReport:
    """What a reset did, one line per action, for the CLI and the notebook."""

    exercises: tuple[str, ...]
    done: list[str] = field(default_factory=list)
    forgotten: int = 0

    def __str__(self) -> str:
        head = f"reset {', '.join(self.exercises) if len(self.exercises) < 4 else 'every exercise'}"
        lines = [f"  {line}" for line in self.done] or ["  nothing of it was left in the engine or registry"]
        lines.append(f"  forgot {self.forgotten} progress record(s)")
        return "\n".join([head + ":", *lines])


def _delete_remote(config: LabConfig, items: list[RemoteTag], report: ResetReport) -> None:
    """Delete the tags' manifests from the lab registry, with the lab's own credential."""
    if not items:
        return

    with lab_registry(config) as registry, lab_registry_errors():
        for name, tag in items:
            repository = f"{config.learner}/{name}"
            if tag is None:
                for digest in registry.delete_repository_tags(repository):
                    report.done.append(f"deleted {config.registry}/{repository}@{digest} from the registry")
                continue
            named = registry.head_manifest(repository, tag)
            if named is not None:
                registry.delete_manifest(repository, named)
                report.done.append(f"deleted {config.registry}/{repository}:{tag} ({named[:19]}…) "
                                   "from the registry")


def _remove_local(config: LabConfig, names: list[str], report: ResetReport) -> None:
    """Remove local tags (an image goes with its last); one in use by a container is reported, not forced."""
    if not names:
        return

    engine = Engine(config=config)
    for name in names:
        if not engine.exists(name):
            continue
        try:
            engine.remove(name)
        except LabError as exc:
            report.done.append(f"kept {name}: {exc.message}" + (f" ({exc.fix})" if exc.fix else ""))
            continue
        report.done.append(f"removed the local tag {name}")


def _logout(config: LabConfig, report: ResetReport) -> None:
    """`docker logout` from the lab registry, so the login exercise starts from no credential."""
    if load_credential(config.registry) is None:
        return
    try:
        done = logout(config.registry)
    except LabError:                         # no docker command here
        report.done.append("still logged in: there is no docker command here; run "
                           f"docker logout {config.registry}")
        return
    if done.ok:
        report.done.append(f"logged the Docker client out of {config.registry}")
    else:
        report.done.append(f"docker logout {config.registry} failed: {done.last_words}")


def _reset(ids: tuple[str, ...], config: LabConfig, report: ResetReport) -> ResetReport:
    found = [course.exercise(exercise_id).leftovers for exercise_id in ids]
    remote = list(dict.fromkeys(item for left in found for item in left.remote))
    local = list(dict.fromkeys(name for left in found for name in local_names(left, config)))
    _delete_remote(config, remote, report)   # first: a registry that is down stops it before any change
    _remove_local(config, local, report)
    if any(left.login for left in found):
        _logout(config, report)
    return report


def reset_exercise(exercise_id: str, config: LabConfig | None = None) -> ResetReport:
    """Undo one exercise (its local tags, registry tags, login) and forget its progress."""
    config = config or LabConfig.from_env()
    info = course.exercise(exercise_id)     # an unknown id raises UnknownExercise with the known ones
    report = _reset((info.id,), config, ResetReport((info.id,)))
    report.forgotten = ProgressLog(config.progress_file).reset(info.id)
    return report


def reset_all(config: LabConfig | None = None) -> ResetReport:
    """Undo every exercise and forget all progress (predictions too); the registry itself keeps running."""
    config = config or LabConfig.from_env()
    ids = tuple(info.id for info in course.EXERCISES)
    report = _reset(ids, config, ResetReport(ids))
    report.forgotten = ProgressLog(config.progress_file).reset(None)
    return report

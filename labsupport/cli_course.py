"""`labsupport` commands about images, the registry and the exercises (the lab's own are in cli.py).

Parsing and printing only: the work is done by views, engine, registry, checks, progress, reset, release.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .config import LabConfig, repo_root
from .errors import LabError, ManifestUnknown


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"


def layers(args: argparse.Namespace) -> int:
    from .engine import Engine
    from .views import image_diff, lab_registry

    config = LabConfig.from_env()
    with lab_registry(config) as registry:
        diff = image_diff(args.ref, config=config, engine=Engine(config=config), registry=registry,
                          against=args.against)
    if args.json:
        print(json.dumps({
            "image": args.ref,
            "repository": diff.repository,
            "layers": [{"diff_id": item.layer.diff_id, "size": item.layer.size,
                        "instruction": item.layer.instruction, "state": item.state.value,
                        **({"source": item.source} if item.source else {})} for item in diff.layers],
            "upload_bytes": diff.upload_bytes,
        }, indent=2))
        return 0
    print(f"{args.ref} against {config.registry}/{diff.repository}, bottom to top:")
    for item in diff.layers:
        where = f" (from {item.source})" if item.source else ""
        print(f"  {item.layer.short_id}  {_size(item.layer.size):>9}  {item.state.value:<9}{where:<24} "
              f"{item.layer.instruction[:60]}")
    print(f"a push would send about {_size(diff.upload_bytes)} (uncompressed estimate)")
    return 0


def push(args: argparse.Namespace) -> int:
    from .engine import Engine
    from .model import PushEvent
    from .views import lab_registry

    config = LabConfig.from_env()
    last: dict[str, str] = {}

    def show(event: PushEvent) -> None:
        if args.json or last.get(event.layer) == event.phase.value:
            return
        last[event.layer] = event.phase.value
        extra = f" from {event.source}" if event.source else ""
        print(f"  {event.layer}: {event.phase.value}{extra}", flush=True)

    with lab_registry(config) as registry:
        report = Engine(config=config).push(args.ref, registry, on_event=show)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(f"pushed {report.reference}: {report.digest}")
        print(f"  uploaded {_size(report.bytes_uploaded)}, skipped {_size(report.bytes_skipped)} "
              f"({sum(1 for x in report.layers if x.outcome != 'pushed')} of {len(report.layers)} layers), "
              f"{report.seconds:.1f} s")
    return 0


def registry_ls(args: argparse.Namespace) -> int:
    from . import refs
    from .views import lab_registry

    config = LabConfig.from_env()
    with lab_registry(config) as registry:
        if not args.target:
            result: object = {"repositories": registry.catalog()}
        else:
            parsed = refs.parse(f"{config.registry}/{args.target}")
            if parsed.tag is None and parsed.digest is None:
                result = {"repository": parsed.repository, "tags": registry.tags(parsed.repository)}
            else:
                reference = parsed.digest or parsed.tag
                manifest = registry.manifest(parsed.repository, reference)
                image = _image_of(registry, manifest)
                result = {"repository": parsed.repository, "reference": reference,
                          "digest": manifest.digest, "media_type": manifest.media_type, "size": len(manifest.raw),
                          "platforms": list(manifest.platforms) if manifest.is_index else [],
                          "image": ({"platform": image.platform, "digest": image.digest}
                                    if image is not None and manifest.is_index else None),
                          "layers": [] if image is None else
                          [{"digest": b.digest, "size": b.size, "media_type": b.media_type} for b in image.layers]}
    if args.json:
        print(json.dumps(result, indent=2))
    elif "repositories" in result:
        print("\n".join(result["repositories"]) or "(the registry holds no repository yet)")
    elif "tags" in result:
        print("\n".join(result["tags"]) or "(no tags)")
    else:
        print(f"{result['repository']}@{result['digest']}\n  {result['media_type']}, {result['size']} bytes")
        for platform in result["platforms"]:
            print(f"  platform {platform}")
        if result["image"]:
            print(f"  the {result['image']['platform']} image: {result['image']['digest']}")
        for blob in result["layers"]:
            print(f"  layer {blob['digest'][:19]}  {_size(blob['size'])}")
    return 0


def _image_of(registry, manifest):
    """The image a manifest stands for: itself, or an index's image for this machine's platform (None when the
    index holds no image for it; its platforms are listed then)."""
    try:
        return registry.image_manifest(manifest.repository, manifest.digest, index=manifest)
    except ManifestUnknown:
        return None


def check(args: argparse.Namespace) -> int:
    from .checks import exercises, run_check

    if args.all:
        rows = []
        for info in exercises():
            if info.answer:
                rows.append((info.id, "answer", "needs your answer: check() in the notebook"))
                continue
            try:
                result = run_check(info.id)
                rows.append((info.id, "passed" if result.passed else "not yet", result.message))
            except LabError as exc:
                rows.append((info.id, "error", exc.message))
        if args.json:
            print(json.dumps([{"exercise": r[0], "status": r[1], "message": r[2]} for r in rows], indent=2))
        else:
            for exercise_id, status, message in rows:
                print(f"{exercise_id:<24} {status:<8} {message[:80]}")
        return 0 if all(r[1] in ("passed", "answer") for r in rows) else 1
    if not args.exercise:
        raise LabError("name an exercise, or --all", fix="labsupport check --all   (lists them)")
    answer = None
    if args.answer is not None:
        try:
            answer = json.loads(args.answer)
        except json.JSONDecodeError as exc:
            raise LabError(f"--answer is not JSON: {exc.msg}", fix="quote it: --answer '{\"…\": …}'") from exc
    result = run_check(args.exercise, answer)
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        print(str(result))
    return 0 if result.passed else 1


def progress(args: argparse.Namespace) -> int:
    from . import progress as record

    config = LabConfig.from_env()
    if args.csv:
        print(record.export_csv(config=config), end="")
        return 0
    rows = record.summary(config=config)
    done = sum(1 for row in rows if row.passed)
    for row in rows:
        mark = "done" if row.passed else ("tried" if row.attempts else "    ")
        print(f"{mark:<5} {row.exercise:<24} attempts {row.attempts:<3} {row.last_code or ''}")
    print(f"{done} of {len(rows)} exercises done")
    return 0


def reset(args: argparse.Namespace) -> int:
    from .reset import reset_all, reset_exercise

    config = LabConfig.from_env()
    if args.all:
        print(reset_all(config))
    elif args.exercise:
        print(reset_exercise(args.exercise, config))
    else:
        raise LabError("name an exercise to reset, or --all", fix="labsupport reset push.pushed")
    return 0


def release(args: argparse.Namespace) -> int:
    from .release import release_folder

    written = release_folder(repo_root() / "notebooks", Path(args.out))
    print(f"wrote {len(written)} learner notebooks to {args.out}")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> dict:
    """Add this module's subcommands; the name → function table for cli.main."""
    p = sub.add_parser("layers", help="an image's layers against the lab registry")
    p.add_argument("ref")
    p.add_argument("--against", metavar="REPOSITORY", help="the lab repository to compare with")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("push", help="push with per-layer progress and a byte report")
    p.add_argument("ref")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("registry", help="what the lab registry holds")
    p.add_argument("action", choices=["ls"])
    p.add_argument("target", nargs="?", metavar="REPOSITORY[:TAG]")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("check", help="check an exercise (exit 0 when passed)")
    p.add_argument("exercise", nargs="?")
    p.add_argument("--answer", help="the answer, as JSON, for answer exercises")
    p.add_argument("--all", action="store_true", help="a table of every exercise")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("progress", help="which exercises are done")
    p.add_argument("--csv", action="store_true")
    p = sub.add_parser("reset", help="undo what an exercise made so it can be done again")
    p.add_argument("exercise", nargs="?")
    p.add_argument("--all", action="store_true")
    p = sub.add_parser("release", help="write the learner notebooks (solutions replaced by stubs)")
    p.add_argument("--out", default="released")
    return {"layers": layers, "push": push, "registry": registry_ls, "check": check, "progress": progress,
            "reset": reset, "release": release}

"""`labsupport layers, push, registry`: an image against the lab registry, a push with its report, what the
registry holds."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from .. import refs
from ..cards import human_bytes
from ..compare import image_diff
from ..config import LabConfig
from ..engine import Engine
from ..errors import ManifestUnknown
from ..lab import lab_registry
from ..model import PushEvent
from .command import arg, command

if TYPE_CHECKING:  # only named in annotations: the registry client's module is the views' business
    from ..registry import Manifest, RegistryClient

_JSON = arg("--json", action="store_true")


@command("layers", args=[arg("ref"), arg("--against", metavar="REPOSITORY",
                                          help="the lab repository to compare with"), _JSON])
def _layers(args: argparse.Namespace) -> int:
    """An image's layers bottom to top, each with its state against the lab repository (or JSON)."""
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
        print(f"  {item.layer.short_id}  {human_bytes(item.layer.size):>9}  {item.state.value:<9}{where:<24} "
              f"{item.layer.instruction[:60]}")
    print(f"a push would send about {human_bytes(diff.upload_bytes)} (uncompressed estimate)")
    return 0


@command("push", args=[arg("ref"), _JSON])
def _push(args: argparse.Namespace) -> int:
    """Push with a line a layer as its phase changes, then the byte report (or only the report as JSON)."""
    config = LabConfig.from_env()
    last: dict[str, str] = {}

    def show(event: PushEvent) -> None:
        """One line a layer each time its phase changes (none with --json, which prints the report only)."""
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
        print(f"  uploaded {human_bytes(report.bytes_uploaded)}, skipped {human_bytes(report.bytes_skipped)} "
              f"({sum(1 for x in report.layers if x.outcome != 'pushed')} of {len(report.layers)} layers), "
              f"{report.seconds:.1f} s")
    return 0


@command("registry", args=[arg("action", choices=["ls"]),
                           arg("target", nargs="?", metavar="REPOSITORY[:TAG]"), _JSON])
def _registry(args: argparse.Namespace) -> int:
    """`registry ls`: the catalog, a repository's tags, or one manifest with its platforms and layers."""
    config = LabConfig.from_env()
    with lab_registry(config) as registry:
        result = _listing(registry, config, args.target)
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
            print(f"  layer {blob['digest'][:19]}  {human_bytes(blob['size'])}")
    return 0


def _listing(registry: RegistryClient, config: LabConfig, target: str | None) -> dict[str, Any]:
    """What `registry ls [TARGET]` shows, as its --json: the catalog, a repository's tags, or one manifest."""
    if not target:
        return {"repositories": registry.catalog()}
    parsed = refs.parse(f"{config.registry}/{target}")
    reference = parsed.digest or parsed.tag
    if reference is None:
        return {"repository": parsed.repository, "tags": registry.tags(parsed.repository)}
    manifest = registry.manifest(parsed.repository, reference)
    image = _image_of(registry, manifest)
    return {"repository": parsed.repository, "reference": reference,
            "digest": manifest.digest, "media_type": manifest.media_type, "size": len(manifest.raw),
            "platforms": list(manifest.platforms) if manifest.is_index else [],
            "image": ({"platform": image.platform, "digest": image.digest}
                      if image is not None and manifest.is_index else None),
            "layers": [] if image is None else
            [{"digest": b.digest, "size": b.size, "media_type": b.media_type} for b in image.layers]}


def _image_of(registry: RegistryClient, manifest: Manifest) -> Manifest | None:
    """The image a manifest stands for: itself, or an index's image for this machine's platform (None when the
    index holds no image for it; its platforms are listed then)."""
    try:
        return registry.image_manifest(manifest.repository, manifest.digest, index=manifest)
    except ManifestUnknown:
        return None

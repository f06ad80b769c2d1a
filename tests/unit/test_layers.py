"""labsupport.layers: a blob's compression, whiteouts, the union a container sees, deterministic tars."""

from __future__ import annotations

import gzip
import io
import tarfile

import pytest

from labsupport.layers import (
    LayerUnion,
    Whiteout,
    decompress,
    deterministic_tar,
    layer_members,
    member_path,
    whiteout_target,
)
from tests.layertars import tar_of

# -- decompress ----------------------------------------------------------------------------------------------


def test_decompress_gunzips_by_magic_and_leaves_a_plain_tar_as_it_is():
    plain = tar_of(("app/hello.txt", b"hi"))
    assert decompress(gzip.compress(plain, mtime=0)) == plain
    assert decompress(plain) == plain


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"\x28\xb5\x2f\xfd" + b"\0" * 40,
         "the layer is zstd-compressed, which this scan does not read; push it with gzip"),
        (b"\x1f\x8b" + b"broken gzip", "the layer's gzip stream is damaged: "),
        (gzip.compress(b"x" * 100)[:-6], "the layer's gzip stream is damaged: "),
    ],
)
def test_decompress_refuses_zstd_and_a_damaged_gzip_with_a_reason(blob, message):
    with pytest.raises(ValueError) as caught:
        decompress(blob)
    assert str(caught.value).startswith(message)


# -- entries and whiteouts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "path"), [("./app/x", "app/x"), ("/app/x", "app/x"), ("app/x/", "app/x"),
                                            ("./", ""), ("app//x", "app/x")])
def test_member_path_is_relative_to_the_root(name, path):
    assert member_path(name) == path


def test_whiteout_target_names_the_deleted_entry_or_the_opaque_folder():
    assert whiteout_target("app/.wh..env") == Whiteout("app", ".env")
    assert whiteout_target(".wh.secrets") == Whiteout("", "secrets")
    assert whiteout_target("app/.wh..wh..opq") == Whiteout("app", None)
    assert whiteout_target("app/.wh..wh..opq").opaque
    assert whiteout_target("app/.env") is None and whiteout_target("app/x.wh.y") is None
    assert Whiteout("app", ".env").path == "app/.env" and Whiteout("app", None).path == "app"


def test_a_whiteout_hides_its_entry_and_everything_below_it_only():
    gone = Whiteout("app", "conf")
    assert gone.hides("app/conf") and gone.hides("app/conf/.env")
    assert not gone.hides("app/config") and not gone.hides("app") and not gone.hides("other/conf")
    assert Whiteout("", "app").hides("app/x") and not Whiteout("", "app").hides("apps/x")
    assert Whiteout("app", "").hides("app/x")          # a bare `.wh.` deletes its folder, as the engine does


def test_an_opaque_marker_hides_the_content_of_its_folder_not_the_folder():
    opaque = Whiteout("app", None)
    assert opaque.hides("app/x") and opaque.hides("app/sub/y")
    assert not opaque.hides("app") and not opaque.hides("apps/x")
    assert Whiteout("", None).hides("anything/at/all")


def test_layer_members_reads_gzip_blobs_with_clean_paths_and_contents():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in (("./bin/busybox", b"\x7fELF"), ("app/.wh..env", b"")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, kind in (("bin/sh", tarfile.LNKTYPE), ("bin/ls", tarfile.SYMTYPE)):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, "./bin/busybox" if kind == tarfile.LNKTYPE else "busybox"
            tar.addfile(info)
    members = list(layer_members(gzip.compress(buffer.getvalue())))
    assert [(m.path, m.whiteout) for m in members] == [
        ("bin/busybox", None), ("app/.wh..env", Whiteout("app", ".env")), ("bin/sh", None), ("bin/ls", None)]
    contents = {}
    for member in layer_members(buffer.getvalue()):
        contents[member.path] = member.content()
    assert contents == {"bin/busybox": b"\x7fELF", "app/.wh..env": b"", "bin/sh": b"\x7fELF", "bin/ls": None}


def test_layer_members_of_something_that_is_no_tar_raises_a_tar_error():
    with pytest.raises(tarfile.TarError):
        list(layer_members(b"this is not a tar at all" * 40))


# -- the union a container sees ------------------------------------------------------------------------------


def union_of(*layers: bytes) -> tuple[LayerUnion[bytes], list[tuple[str, int, int, bytes | None]]]:
    union: LayerUnion[bytes] = LayerUnion(lambda member: member.content())
    hidden = union.add_all(layers)
    return union, [(item.path, item.layer, item.deleted_by, item.kept) for item in hidden]


def test_a_later_layer_wins_and_its_whiteout_deletes_a_file_of_the_layers_below():
    union, hidden = union_of(tar_of(("app/.env", b"TOKEN"), ("app/x", b"old")),
                             tar_of(("./app/x", b"new")),
                             tar_of(("app/.wh..env", b""), ("etc/.wh.missing", b"")))
    assert union.kept("app/x") == b"new" and union.files["app/x"] == (1, b"new")
    assert union.kept("app/.env") is None and "app/.wh..env" not in union.files
    assert hidden == [("app/.env", 0, 2, b"TOKEN")]


def test_a_deleted_folder_and_an_opaque_folder_hide_all_they_held_below():
    _, hidden = union_of(tar_of(("secrets/one", b"1"), ("secrets/two", b"2"), ("other", b"o")),
                         tar_of(("./.wh.secrets", b"")))
    assert hidden == [("secrets/one", 0, 1, b"1"), ("secrets/two", 0, 1, b"2")]
    union, hidden = union_of(tar_of(("app/a", b"a"), ("apps/b", b"b")), tar_of(("app/.wh..wh..opq", b"")))
    assert [path for path, *_ in hidden] == ["app/a"] and set(union.files) == {"apps/b"}


def test_a_whiteout_hides_only_the_layers_below_never_its_own_layer():
    union, hidden = union_of(tar_of(("app/x", b"old")), tar_of(("app/.wh..wh..opq", b""), ("app/x", b"again")))
    assert union.kept("app/x") == b"again" and hidden == [("app/x", 0, 1, b"old")]
    union, _ = union_of(tar_of(("app/x", b"one")), tar_of(("app/.wh.x", b"")), tar_of(("app/x", b"back")))
    assert union.files["app/x"] == (2, b"back")


def test_a_link_above_a_file_is_what_the_container_sees():
    symlink = io.BytesIO()
    with tarfile.open(fileobj=symlink, mode="w") as tar:
        info = tarfile.TarInfo("app/x")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/x"
        tar.addfile(info)
    union, _ = union_of(tar_of(("app/x", b"file")), symlink.getvalue())
    assert "app/x" in union.files and union.kept("app/x") is None


# -- deterministic tars --------------------------------------------------------------------------------------


def test_a_deterministic_tar_depends_only_on_paths_bytes_and_modes():
    files = {"app/hello.sh": (b"#!/bin/sh\n", 0o755), "app/data/notes.txt": (b"notes", 0o644),
             "bin/x": (b"x", 0o700)}
    tar = deterministic_tar(files)
    assert tar == deterministic_tar(dict(reversed(list(files.items()))))
    assert tar != deterministic_tar({**files, "bin/x": (b"x", 0o755)})
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        members = archive.getmembers()
    assert [m.name for m in members] == ["app", "bin", "app/data", "app/data/notes.txt", "app/hello.sh", "bin/x"]
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, 0, "", "")}
    assert [m.mode for m in members if m.isdir()] == [0o755, 0o755, 0o755]

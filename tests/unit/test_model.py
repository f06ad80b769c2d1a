"""The pure diff of a local image against a repository tag and the registry's other repositories, and the
fold of a push's events per layer."""

from __future__ import annotations

from labsupport.model import (
    Blob,
    ImageView,
    Layer,
    LayerProgress,
    LayerState,
    PushEvent,
    PushPhase,
    RemoteView,
    diff_image,
)


def sha(char: str) -> str:
    return "sha256:" + char * 64


BASE = Layer(sha("a"), 1_900_000, "COPY rootfs/ /")
ENV = Layer("", 0, "ENV PATH=/bin", empty=True)
RUN = Layer(sha("b"), 22, "RUN echo hi > /etc/hi")
APP = Layer(sha("c"), 31, "COPY app.txt /app/app.txt")
CMD = Layer("", 0, 'CMD ["sh"]', empty=True)
IMAGE = ImageView("sha256:" + "9" * 64, ("hello-lab:1.1",), (BASE, ENV, RUN, APP, CMD))


def remote(repository: str, pairs: dict[str, Blob]) -> RemoteView:
    return RemoteView(repository, "1.0", sha("m"), "application/vnd.docker.distribution.manifest.v2+json",
                      sha("f"), tuple(pairs.values()), tuple(pairs))


BASE_BLOB, RUN_BLOB, OLD_APP_BLOB = Blob(sha("1"), 1_068_519), Blob(sha("2"), 168), Blob(sha("3"), 154)
HELLO_1_0 = remote("ada/hello-lab", {BASE.diff_id: BASE_BLOB, RUN.diff_id: RUN_BLOB, sha("d"): OLD_APP_BLOB})


def states(diff) -> list[LayerState]:
    return [item.state for item in diff.layers]


def test_nothing_in_the_registry_means_every_filesystem_layer_uploads_with_its_uncompressed_size():
    diff = diff_image(IMAGE, "ada/hello-lab", None)
    assert [item.layer for item in diff.layers] == [BASE, RUN, APP]  # empty ENV/CMD steps are not layers
    assert states(diff) == [LayerState.UPLOAD] * 3
    assert diff.upload_bytes == BASE.size + RUN.size + APP.size
    assert diff.count(LayerState.UPLOAD) == 3 and diff.count(LayerState.THERE) == 0


def test_layers_the_tag_holds_are_there_and_only_the_changed_one_uploads():
    diff = diff_image(IMAGE, "ada/hello-lab", HELLO_1_0)
    assert states(diff) == [LayerState.THERE, LayerState.THERE, LayerState.UPLOAD]
    assert [item.blob for item in diff.layers] == [BASE_BLOB, RUN_BLOB, None]
    assert diff.upload_bytes == APP.size
    assert all(item.upload_bytes == 0 for item in diff.layers if item.state is LayerState.THERE)


def test_layers_in_another_repository_are_mountable_and_name_their_source():
    other = remote("ada/base-only", {BASE.diff_id: BASE_BLOB})
    diff = diff_image(IMAGE, "ada/new-repo", None, [other])
    assert states(diff) == [LayerState.MOUNTABLE, LayerState.UPLOAD, LayerState.UPLOAD]
    first = diff.layers[0]
    assert (first.source, first.blob, first.upload_bytes) == ("ada/base-only", BASE_BLOB, 0)
    assert diff.upload_bytes == RUN.size + APP.size


def test_the_target_repository_wins_over_other_repositories():
    other = remote("ada/base-only", {BASE.diff_id: BASE_BLOB})
    diff = diff_image(IMAGE, "ada/hello-lab", HELLO_1_0, [other])
    assert diff.layers[0].state is LayerState.THERE and diff.layers[0].source is None


def test_another_tag_of_the_same_repository_makes_its_layers_there_not_mountable():
    # A push checks blobs per repository: 1.1's lower layers are already there when 1.0 holds them.
    app_blob = Blob(sha("4"), 160)
    same_repo_other_tag = remote("ada/hello-lab", {APP.diff_id: app_blob})
    diff = diff_image(IMAGE, "ada/hello-lab", None, [same_repo_other_tag])
    assert states(diff) == [LayerState.UPLOAD, LayerState.UPLOAD, LayerState.THERE]
    assert (diff.layers[2].blob, diff.layers[2].source) == (app_blob, None)
    assert diff.upload_bytes == BASE.size + RUN.size


def test_a_blob_with_a_different_diff_id_is_not_a_match():
    lookalike = remote("ada/hello-lab", {sha("e"): Blob(APP.diff_id, APP.size)})  # blob digest == a diff id
    diff = diff_image(IMAGE, "ada/hello-lab", lookalike)
    assert states(diff) == [LayerState.UPLOAD] * 3


def test_an_image_of_only_empty_steps_has_nothing_to_push():
    empty = ImageView(sha("0"), (), (ENV, CMD))
    diff = diff_image(empty, "ada/x", HELLO_1_0)
    assert diff.layers == () and diff.upload_bytes == 0


# -- one layer's push events, folded ------------------------------------------------------------------------

def fold(*events: PushEvent) -> LayerProgress:
    state = LayerProgress(events[0].layer, events[0].phase)
    for event in events:
        state.advance(event)
    return state


def test_a_layer_counts_bytes_while_pushing_and_a_finished_upload_fills_its_bar():
    state = fold(PushEvent("a", PushPhase.PREPARING), PushEvent("a", PushPhase.PUSHING, 500, 1000))
    assert (state.phase, state.current, state.total, state.outcome) == (PushPhase.PUSHING, 500, 1000, None)
    assert state.advance(PushEvent("a", PushPhase.PUSHED))
    assert (state.current, state.total, state.outcome) == (1000, 1000, "pushed")


def test_a_late_progress_line_never_undoes_a_finished_layer():
    state = fold(PushEvent("a", PushPhase.EXISTS))
    assert not state.advance(PushEvent("a", PushPhase.PUSHING, 5, 10))
    assert (state.phase, state.current, state.total) == (PushPhase.EXISTS, 0, 0)


def test_retries_keep_the_bytes_counted_and_a_mount_keeps_its_source():
    state = fold(PushEvent("a", PushPhase.PUSHING, 40, 90), PushEvent("a", PushPhase.RETRYING),
                 PushEvent("a", PushPhase.RETRYING))
    assert (state.retries, state.current, state.total) == (2, 40, 90)
    mounted = fold(PushEvent("b", PushPhase.WAITING), PushEvent("b", PushPhase.MOUNTED, source="team/base"))
    assert (mounted.outcome, mounted.source) == ("mounted", "team/base")

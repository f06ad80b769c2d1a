"""The pure history helpers: CreatedBy texts as Dockerfile lines, and which steps made layers.

The CreatedBy texts are the shapes this engine wrote (classic builder and BuildKit, see test_engine_live.py,
which checks the same functions against real images and their saved configs).
"""

from __future__ import annotations

import pytest

from labsupport.history import clean_instruction, empty_flags, pair_layers


@pytest.mark.parametrize(("created_by", "instruction"), [
    ("/bin/sh -c #(nop)  ENV PATH=/bin", "ENV PATH=/bin"),
    ('/bin/sh -c #(nop)  CMD ["cat" "/app/app.txt"]', 'CMD ["cat" "/app/app.txt"]'),
    ("/bin/sh -c #(nop) COPY file:336615d4 in /app/ ", "COPY file:336615d4 in /app/"),
    ("/bin/sh -c #(nop) WORKDIR /app", "WORKDIR /app"),
    ("/bin/sh -c echo hi > /hi", "RUN echo hi > /hi"),
    ("|1 BASE=labsupport/base:1.35 /bin/sh -c mkdir /data", "RUN mkdir /data"),
    ("|2 A=1 B=two /bin/sh -c echo $A$B", "RUN echo $A$B"),
    ("|1 BASE=x echo exec form", "RUN echo exec form"),
    ("RUN /bin/sh -c echo hi > /hi # buildkit", "RUN echo hi > /hi"),
    ("RUN |1 BASE=labsupport/base:1.35 /bin/sh -c mkdir /data # buildkit", "RUN mkdir /data"),
    ("COPY app.txt /app/app.txt # buildkit", "COPY app.txt /app/app.txt"),
    ("ENV GREETING=hi", "ENV GREETING=hi"),
    ("", ""),
])
def test_clean_instruction(created_by, instruction):
    assert clean_instruction(created_by) == instruction


def step(created_by: str, size: int = 0) -> dict:
    return {"CreatedBy": created_by, "Size": size}


BASE = step("/bin/sh -c #(nop) COPY dir:53fe in / ", 1_984_172)
ENV = step("/bin/sh -c #(nop)  ENV PATH=/bin")
MKDIR = step("/bin/sh -c mkdir /data")                # zero bytes, but a layer (a directory)
NOTHING = step("/bin/sh -c true")                      # zero bytes and no layer (classic builder)
ECHO = step("/bin/sh -c echo hi > /hi", 3)
CMD = step('/bin/sh -c #(nop)  CMD ["sh"]')


def test_sizes_decide_when_every_zero_byte_step_is_metadata():
    assert empty_flags([BASE, ENV, ECHO, CMD], 2) == [False, True, False, True]


def test_zero_byte_run_steps_are_layers_when_the_count_says_so():
    assert empty_flags([BASE, MKDIR, ECHO, CMD], 3) == [False, False, False, True]
    assert empty_flags([BASE, NOTHING, ECHO, CMD], 2) == [False, True, False, True]


def test_ambiguous_zero_byte_steps_leave_the_answer_to_the_config():
    assert empty_flags([BASE, MKDIR, NOTHING, ECHO], 3) is None


def test_pair_layers_in_order_and_falls_back_to_diff_ids_when_counts_disagree():
    steps, diff_ids = [BASE, ENV, MKDIR, ECHO], ["sha256:" + char * 64 for char in "abc"]
    layers = pair_layers(steps, diff_ids, [False, True, False, False])
    assert [layer.diff_id for layer in layers] == [diff_ids[0], "", diff_ids[1], diff_ids[2]]
    assert [layer.empty for layer in layers] == [False, True, False, False]
    assert [layer.size for layer in layers] == [1_984_172, 0, 0, 3]
    assert layers[1].instruction == "ENV PATH=/bin" and layers[3].instruction == "RUN echo hi > /hi"
    fallback = pair_layers(steps, diff_ids, [False, False, False, False])  # 4 layers claimed, 3 exist
    assert [layer.diff_id for layer in fallback] == diff_ids and not any(layer.empty for layer in fallback)
    assert pair_layers(steps, diff_ids, None) == fallback

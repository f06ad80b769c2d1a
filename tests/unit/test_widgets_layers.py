"""LayerStack: rows bottom to top, states and colours, scale choice, the push total, text twins."""

from __future__ import annotations

import re

import pytest
import traitlets
from IPython.lib.pretty import pretty

from labsupport.model import Blob, ImageView, Layer, LayerState, RemoteView, diff_image
from labsupport.widgets import LayerStack, diff_from_view
from labsupport.widgets.layers import bar_width, choose_scale

BASE = "sha256:d1a882f9dff71bf8635c5c0bf8e19df3b0b0d1ca37c96058572e5945d06ca846"
COPY = "sha256:26241cbacc42e6f3f32a3d6743c21f0b2a245a5a6e29958dbed14854a864ab80"
RUN = "sha256:5a4ce7b62c13c56c4bc9b5c77869d400f5e9f07608c9fdf0ae8641b3054c55bd"


def hello_image() -> ImageView:
    """hello-lab:1.0 as the engine describes it: a busybox base, the app copied in, made executable."""
    return ImageView(
        image_id="sha256:" + "ab" * 32,
        tags=("hello-lab:1.0",),
        layers=(
            Layer(BASE, 2_124_800, "ADD file:0a1b in /"),
            Layer("", 0, 'CMD ["sh"]', empty=True),
            Layer("", 0, "ARG BASE", empty=True),
            Layer(COPY, 3_072, "COPY hello.sh /app/hello.sh"),
            Layer(RUN, 2_560, "RUN chmod +x /app/hello.sh"),
            Layer("", 0, 'ENTRYPOINT ["/app/hello.sh"]', empty=True),
        ),
    )


def hello_diff():
    """The base already in the repository, the COPY layer in another repository, the RUN layer new."""
    target = RemoteView("learner/hello-lab", "0.9", "sha256:" + "01" * 32, "m", "sha256:" + "02" * 32,
                        blobs=(Blob("sha256:" + "68" * 32, 1_068_519),), diff_ids=(BASE,))
    other = RemoteView("learner/other", "1.0", "sha256:" + "03" * 32, "m", "sha256:" + "04" * 32,
                       blobs=(Blob("sha256:" + "68" * 32, 1_068_519), Blob("sha256:" + "27" * 32, 168)),
                       diff_ids=(BASE, COPY))
    return diff_image(hello_image(), "learner/hello-lab", target, [other])


def test_rows_follow_the_image_bottom_to_top_with_each_state():
    stack = LayerStack(hello_diff())
    rows = stack.rows
    assert [row.layer.instruction for row in rows] == [layer.instruction for layer in hello_image().layers]
    assert [row.state for row in rows] == [LayerState.THERE, None, None, LayerState.MOUNTABLE,
                                           LayerState.UPLOAD, None]
    assert rows[3].label == "mountable from learner/other"
    assert rows[1].width == 0.0


def test_html_has_one_lab_layer_per_filesystem_layer_and_thin_empty_steps():
    stack = LayerStack(hello_diff())
    html = stack._stack.value
    assert html.count('class="lab-layer ') == 3
    assert html.count("lab-step--empty") == 3
    assert "lab-layer--there" in html and "lab-layer--mountable" in html and "lab-layer--upload" in html
    assert 'data-digest="' + BASE + '"' in html
    # the DOM lists the base first; column-reverse draws it at the bottom
    assert html.index("d1a882f9dff7") < html.index("26241cbacc42") < html.index("5a4ce7b62c13")
    assert "column-reverse" in html
    assert "lab-layerstack" in stack._dom_classes


def test_footer_counts_states_and_totals_only_the_upload():
    stack = LayerStack(hello_diff())
    footer = stack._footer.value
    assert "already there: 1" in footer and "upload: 1" in footer and "mountable: 1" in footer
    assert "2.6 kB" in footer                      # only the RUN layer's 2 560 bytes
    assert "1 of 3 layers" in footer


def test_scale_is_log_when_sizes_span_orders_of_magnitude():
    stack = LayerStack(hello_diff())
    assert stack.scale == "log"
    widths = {row.layer.short_id: row.width for row in stack.rows if row.state}
    assert widths["d1a882f9dff7"] == 100.0
    assert 2.0 < widths["5a4ce7b62c13"] < widths["26241cbacc42"] < 100.0


def test_scale_is_linear_for_similar_sizes_and_widths_are_proportional():
    assert choose_scale([1000, 2000, 0]) == "linear"
    assert choose_scale([10, 100_000]) == "log"
    assert choose_scale([5]) == "linear"
    assert bar_width(500, 1000, "linear") == 50.0
    assert bar_width(1, 1_000_000, "linear") == 2.0          # a tiny layer stays visible
    assert bar_width(0, 1000, "linear") == 0.0
    assert bar_width(999, 999, "log") == 100.0


def test_a_plain_image_view_counts_every_layer_as_an_upload():
    stack = LayerStack(hello_image())
    assert not stack.compared
    assert {row.state for row in stack.rows if row.state} == {LayerState.UPLOAD}
    assert stack.diff.upload_bytes == hello_image().size
    assert "not compared with a registry" in stack._title.value
    assert "not compared with a registry" in repr(stack)
    assert diff_from_view(hello_image()).count(LayerState.UPLOAD) == 3


def test_assigning_a_new_diff_or_view_re_renders():
    stack = LayerStack(hello_image())
    assert "lab-layer--there" not in stack._stack.value
    stack.diff = hello_diff()
    assert "lab-layer--there" in stack._stack.value
    stack.diff = hello_image()
    assert "lab-layer--there" not in stack._stack.value


def test_empty_steps_can_be_summarised():
    stack = LayerStack(hello_diff(), show_empty=False)
    assert "lab-step--empty" not in stack._stack.value
    assert "3 empty steps" in stack._stack.value
    assert "(3 empty steps hidden)" in stack.text()
    stack.show_empty = True
    assert stack._stack.value.count("lab-step--empty") == 3


def test_text_lists_the_stack_top_first_with_states_and_total():
    text = repr(LayerStack(hello_diff()))
    lines = text.splitlines()
    assert lines[0].startswith("LayerStack hello-lab:1.0: 3 layers, 6 steps (against learner/hello-lab)")
    layer_lines = [line for line in lines if re.match(r"^\s+[0-9a-f]{12}\s", line)]
    assert [line.split()[0] for line in layer_lines] == ["5a4ce7b62c13", "26241cbacc42", "d1a882f9dff7"]
    assert "mountable from learner/other" in text
    assert "a push would send about 2.6 kB" in text
    assert pretty(LayerStack(hello_diff())) == text


def test_mimebundle_keeps_the_widget_view_and_the_whole_text():
    stack = LayerStack(hello_diff())
    bundle = stack._repr_mimebundle_()
    assert bundle["text/plain"] == stack.text()
    assert len(bundle["text/plain"]) > 110                 # not cut short like the ipywidgets default
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == stack.model_id


def test_instructions_are_escaped_in_html():
    image = ImageView("sha256:" + "cd" * 32, (), (Layer(BASE, 10, "RUN echo '<script>x</script>'"),))
    html = LayerStack(image)._stack.value
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_a_wrong_argument_type_is_refused():
    with pytest.raises(traitlets.TraitError):
        LayerStack("hello-lab:1.0")  # type: ignore[arg-type]


def test_the_stack_is_named_by_the_reference_asked_about_not_by_some_other_tag():
    named = LayerStack(hello_diff(), name="localhost:5000/learner/hello-copy:1.0")
    assert "localhost:5000/learner/hello-copy:1.0" in named._title.value
    assert named.text().startswith("LayerStack localhost:5000/learner/hello-copy:1.0:")
    assert LayerStack(hello_diff()).text().startswith("LayerStack hello-lab:1.0:")  # no name: the first tag


def test_the_text_says_the_push_total_is_an_estimate_from_docker_history():
    last = LayerStack(hello_diff()).text().splitlines()[-1]
    assert "as docker history reports them" in last and "compressed tars" in last

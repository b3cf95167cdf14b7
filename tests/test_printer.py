"""The printer: a typed graph back to `.cnn` text (what `cnndsl import` writes).

The one property that matters: reading the printed text gives the graph that was printed,
layer for layer (kind and every attribute, input and output shapes, wiring, and automatic
names, since the printed text writes the same layers in the same order). It is checked on
every example, folded and not, and on random networks drawn by test_properties.py's
strategies (nested merges, repetitions, every step that changes sizes). Then what the
folding must find, written the way a person would: blocks with parameters (`x{f}`,
`x{4*f}`), defaults, repetitions, `C`-relative widths, and which graphs it refuses.
No Keras needed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from test_differential_v2 import v2_networks
from test_properties import SETTINGS, merged_networks, networks, shape_text

from cnndsl import compile_text
from cnndsl.errors import NOWHERE
from cnndsl.graph.ir import Graph, Node
from cnndsl.graph.structure import NotSeriesParallel, decompose
from cnndsl.layers.conv import Conv
from cnndsl.layers.core import Input
from cnndsl.layers.merge import Add
from cnndsl.views.printing.check import Mismatch, match
from cnndsl.views.printing.printer import _text, to_text
from cnndsl.views.printing.steps import StepWords, number

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.cnn"))


def nodes(graph: Graph) -> list[tuple]:
    return [(n.name, n.layer, n.inputs, n.in_shapes, n.shape) for n in graph.nodes]


def names_of(graph: Graph, order) -> list[str]:
    """Layer names in `order`; a lone input is `input` whatever it was called in a text
    of several inputs that lost all but one (it is then written as in version 1)."""
    lone = len(graph.inputs) == 1
    return ["input" if lone and graph.nodes[i].kind == "input" else graph.nodes[i].name
            for i in order]


def round_trip(text: str, **options) -> str:
    """Print `text`'s graph, read it back, and require the same nodes, names included:
    in the same order where the text nests (version 1), else paired by `match` from the
    outputs back (named tensors write a layer where it is read)."""
    graph = compile_text(text, "t")
    printed = to_text(graph, **options)
    again = compile_text(printed, "t")
    if "@" not in printed:  # the same order
        assert [n[1:] for n in nodes(again)] == [n[1:] for n in nodes(graph)], printed
        assert match(graph, again) == list(range(len(graph.nodes)))
    twin = match(graph, again)
    assert names_of(again, twin) == names_of(graph, range(len(graph.nodes))), printed
    assert [twin[i] for i in graph.inputs] == list(again.inputs), printed
    assert [twin[i] for i in graph.outputs] == list(again.outputs), printed
    return printed


@pytest.mark.parametrize("fold", [True, False], ids=["folded", "flat"])
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_reads_back_as_itself(path, fold):
    round_trip(path.read_text(encoding="utf-8"), fold=fold)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_names_kept_read_back_as_themselves(path):
    text = path.read_text(encoding="utf-8")
    graph = compile_text(text, "t")
    printed = to_text(graph, names=True)
    assert "def " not in printed and ") * " not in printed
    again = compile_text(printed, "t")
    if "@" not in printed:
        assert nodes(again) == nodes(graph)
    twin = match(graph, again)
    assert [again.nodes[t].name for t in twin] == [n.name for n in graph.nodes], printed


@SETTINGS
@given(merged_networks())
def test_random_merged_networks_read_back(drawn):
    round_trip(drawn[0])


@SETTINGS
@given(v2_networks())
def test_random_v2_networks_read_back(drawn):
    """Several inputs and outputs, merges of named tensors, jumps, tensor parameters:
    printed with named tensors where needed, and read back as the same graph."""
    text, _ = drawn
    graph = compile_text(text, "t")
    printed = round_trip(text)
    for flat in (False, True):  # each layout on its own (to_text falls back to flat)
        own = _text(graph, False, True, (), flat)
        again = compile_text(own, "t")
        twin = match(graph, again)
        assert [again.nodes[t].name for t in twin] == [n.name for n in graph.nodes], own
    if not graph.single:
        assert "as " in printed
    if len(graph.outputs) > 1:
        assert "output @" in printed


@SETTINGS
@given(networks())
def test_random_chains_read_back(net):
    start, steps = net
    round_trip(f"input {shape_text(start)} -> " + " -> ".join(t for t, _, _ in steps))


# ---- what folding writes ----------------------------------------------------------------

def test_vgg_blocks_take_widths_and_counts():
    printed = round_trip((EXAMPLES[0].parent / "vgg16.cnn").read_text(encoding="utf-8"))
    assert "def block(f, n) = (conv 3 x{f} same relu) * {n} -> maxpool 2" in printed
    assert "block(64, 2)" in printed and "(block(512, 3)) * 2" in printed


def test_resnet_bottleneck_shares_one_width_parameter():
    printed = round_trip((EXAMPLES[0].parent / "resnet50.cnn").read_text(encoding="utf-8"))
    assert "conv 1 x{4*f}" in printed and "s=2" in printed  # a multiple, and a default
    assert "(residual {" in printed or "residual { block" in printed
    assert len(printed.splitlines()) <= 20, printed


def test_widths_relative_to_the_entering_channels():
    """MobileNet's expansion: a width always 6 times the channels entering it is `x{C*6}`,
    not a parameter; the projection's width, which has no such rule, is one."""
    block = ("conv 1 x{e} same bias=false -> bn -> relu6 -> dwconv 3 same bias=false -> bn "
             "-> relu6 -> conv 1 x{f} same bias=false -> bn")
    chain = [block.format(e=6 * c, f=f) for c, f in ((4, 5), (5, 7), (7, 9))]
    printed = round_trip("input 8x8x4 -> " + " -> ".join(chain))
    assert "conv 1 x{C*6} same" in printed and "x{f} same" in printed, printed
    assert "block(5)" in printed and "block(9)" in printed


def test_identical_steps_become_a_repetition():
    printed = round_trip("input 8x8x3 -> conv 3 x8 same relu -> conv 3 x8 same relu"
                         " -> conv 3 x8 same relu -> gap")
    assert "(conv 3 x8 same relu) * 3" in printed


def test_a_repetition_starts_after_the_step_that_finishes_another():
    printed = round_trip("input 8x8x8 -> conv 1 x8 -> relu -> residual { conv 1 x8 } -> relu"
                         " -> residual { conv 1 x8 } -> relu -> gap")
    assert "(residual { conv 1 x8 } -> relu) * 2" in printed, printed


def test_flat_printing_writes_every_layer():
    printed = round_trip("input 8x8x3 -> (conv 3 x8 same relu) * 3", fold=False)
    assert printed.count("conv 3 x8 same relu") == 3 and "def" not in printed


def test_header_lines_are_comments_and_lines_end_with_their_shape():
    printed = round_trip("input 8x8x3 -> conv 3/2 x8 same -> gap -> dense 2",
                         header=["made by a test", "second line"])
    lines = printed.splitlines()
    assert lines[:3] == ["# made by a test", "# second line", ""]
    assert lines[-2].endswith("# 4x4x8") and lines[-1].endswith("# 2")


def test_steps_are_written_short():
    graph = compile_text("input 8x8x4 -> conv 3x3/1x1 x8 valid -> zeropad 1:1x1:1 "
                         "-> maxpool 2x2/2x2 -> bn eps=0.001 momentum=0.99 "
                         "-> leaky_relu=0.2 -> dense 3 linear", "t")
    printed = to_text(graph, fold=False)
    steps = " ".join(" ".join(line.split("#")[0].split()) for line in printed.splitlines())
    assert steps == ("input 8x8x4 -> conv 3 x8 -> zeropad 1 -> maxpool 2 -> bn -> leaky_relu "
                     "-> dense 3 linear")


def test_version_2_steps_are_written_and_read_back():
    """Every version-2 step and option, each defaults left out, numbers exact."""
    text = ("input 8x8x3 -> rescale {1/255} offset=-1 -> normalize mean=0.5,0.25,0.125 "
            "variance=1,2,3 -> normalize mean=0.5 variance=2 -> normalize -> crop 1:2x0:1 "
            "-> conv 3 x4 hard_silu -> bn scale=false center=false -> bn scale=false "
            "-> layernorm eps=1e-6 center=false -> layernorm -> dropout 0.2 noise=1x1x1 "
            "-> gap keepdims -> gmp keepdims -> flatten")
    printed = round_trip(text, fold=False)
    steps = " ".join(" ".join(line.split("#")[0].split()) for line in printed.splitlines())
    for written in ("rescale 0.00392156862745098 offset=-1.0",
                    "normalize mean=0.5,0.25,0.125 variance=1.0,2.0,3.0",
                    "normalize mean=0.5 variance=2.0 -> normalize -> crop 1:2x0:1",
                    "conv 3 x4 hard_swish -> bn scale=false center=false -> bn scale=false",
                    "layernorm eps=1e-6 center=false -> layernorm -> dropout 0.2 noise=1x1x1",
                    "gap keepdims -> gmp keepdims -> flatten"):
        assert written in steps, steps


def test_version_3_padding_is_written_and_read_back():
    """Every padding form of version 3 (`pad=`, `causal`, `ceil`, `include_pad`,
    `outpad=`, the `pad` step's modes), written as short as it reads back."""
    text = ("input 32x32x3 -> conv 7/2 x8 pad=3x3 bias=false -> maxpool 3/2 pad=1:1 ceil "
            "-> pad 1:1x1:1 reflect -> conv 3 x8 pad=0:1x1 -> avgpool 3/2 pad=1 include_pad "
            "-> deconv 3/2 x4 pad=1 outpad=1x1 -> pad 2 replicate -> pad 1 "
            "-> avgpool 3/2 same include_pad -> avgpool 2 ceil")
    printed = round_trip(text, fold=False)
    steps = " ".join(" ".join(line.split("#")[0].split()) for line in printed.splitlines())
    assert steps == ("input 32x32x3 -> conv 7/2 x8 pad=3 bias=false -> maxpool 3/2 pad=1 ceil "
                     "-> pad 1 reflect -> conv 3 x8 pad=0:1x1 -> avgpool 3/2 pad=1 include_pad "
                     "-> deconv 3/2 x4 pad=1 outpad=1 -> pad 2 replicate -> pad 1 "
                     "-> avgpool 3/2 same include_pad -> avgpool 2 ceil"), steps
    printed = round_trip("input 20x3 -> conv 5 x4 causal -> dwconv 3 causal "
                         "-> sepconv 3 x2 causal dilation=2", fold=False)
    assert "conv 5 x4 causal -> dwconv 3 causal -> sepconv 3 x2 causal dilation=2" in \
        " ".join(printed.split()), printed


def test_several_inputs_and_outputs_use_named_tensors():
    printed = round_trip((EXAMPLES[0].parent / "image_and_meta.cnn").read_text())
    lines = printed.splitlines()
    assert lines[:2] == ["input 32x32x3 as image", "input 4 as meta"]
    assert lines[2] == "concat {" and lines[3].strip().startswith("@image -> conv 3 x8")
    assert lines[-1] == "output @dense_3, @dense_4"
    assert "def " not in printed


def test_numbers_read_back_exactly():
    for x in (1.001e-5, 0.1, 1e-300, 0.30000001192092896, 2.0, 0.999):
        assert float(number(x)) == x
    assert number(1.001e-5) == "1.001e-5"


def test_the_printer_writes_every_kind():
    from cnndsl.layers import KINDS

    for kind in KINDS:
        assert callable(getattr(StepWords, kind.kind, None)), kind.kind


# ---- what cannot be written without named tensors ---------------------------------------

def _node(index, name, layer, inputs, graph_nodes, shape):
    in_shapes = tuple(graph_nodes[i].shape for i in inputs)
    return Node(index, name, layer, inputs, in_shapes, shape, NOWHERE, name)


def _conv(index, name, inputs, made):
    layer = Conv(kernel=(1, 1), stride=(1, 1), padding="valid", activation=None, bias=True,
                 dilation=(1, 1), filters=2)
    return _node(index, name, layer, inputs, made, (4, 4, 2))


def test_a_tensor_read_across_branches_is_refused_naming_the_reader():
    """x -> a, x -> b, m1 = add(a, b), m2 = add(b, m1): m2 reads b, which m1's branch
    makes, from outside that branch; written with named tensors, m2 needs `@b`."""
    made: list[Node] = [Node(0, "input", Input((4, 4, 2)), (), (), (4, 4, 2), NOWHERE, "")]
    made.append(_conv(1, "a", (0,), made))
    made.append(_conv(2, "b", (0,), made))
    made.append(_node(3, "m1", Add(), (1, 2), made, (4, 4, 2)))
    made.append(_node(4, "m2", Add(), (2, 3), made, (4, 4, 2)))
    graph = Graph("t", tuple(made), ())
    with pytest.raises(NotSeriesParallel) as e:
        decompose(graph)
    assert (e.value.reader, e.value.shared) == (4, 2)
    printed = to_text(graph)  # written with named tensors instead
    again = compile_text(printed, "t")
    match(graph, again)
    named = compile_text(to_text(graph, names=True), "t")
    twin = match(graph, named)
    assert [named.nodes[t].name for t in twin] == ["input", "a", "b", "m1", "m2"]
    assert "as b" in printed and "add { @b | @m1 }" in printed, printed


def test_a_series_parallel_graph_nests():
    graph = compile_text("input 4x4x2 -> add { id | residual { conv 1 x2 } }", "t")
    (merge,) = decompose(graph)
    assert merge.branches[0] == () and len(merge.branches[1]) == 1


def test_a_wrong_reading_is_a_mismatch():
    a = compile_text("input 4x4x2 -> conv 1 x2", "t")
    b = compile_text("input 4x4x2 -> conv 1 x3", "t")
    with pytest.raises(Mismatch):
        match(a, b)

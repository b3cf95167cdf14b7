"""Language version 2: named tensors, several statements, inputs and outputs.

What LANGUAGE.md's version-2 section promises, checked by hand: scoping and binding,
the errors and warnings it names, the layers kept (those on a path to an output), names
and shapes, `cnndsl run` with one `.npz` array per input and output, and the report.
Numbers against Keras are in test_differential_v2.py; here a few models are also built
by hand with Keras's functional API and compared for their parameter counts.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_errors import check_row, parse_diagnostics, row, run

from cnndsl import compile_text, load, parse
from cnndsl.cli import main
from cnndsl.graph.ir import Group

NASNET_CELL = """
def sep(f, k) = relu -> sepconv {k} x{f} same bias=false -> bn
def cell(@prev, f) =
     relu -> conv 1 x{f} bias=false -> bn as h
  -> @prev -> relu -> conv 1 x{f} bias=false -> bn as p
  -> concat { @p
            | add { @h -> sep(f, 5) | @p -> sep(f, 3) }
            | add { @h -> avgpool 3/1 same | @p }
            | add { @h -> sep(f, 3) | @h } }

input 32x32x3 -> conv 3 x32 same bias=false -> bn as c0
  -> cell(@c0, 32) as c1 -> cell(@c0, 32) as c2 -> cell(@c1, 32) -> gap -> dense 10 softmax
"""

TWO_BY_TWO = """
input 16x16x3 as image -> conv 3 x8 same relu -> maxpool 2 -> gap as features
input 4 as meta -> dense 8 relu as m
concat { @features | @m } -> dense 16 relu as joint
@joint -> dense 10 softmax as label
@joint -> dense 4 as box
output @label, @box
"""


# ---- errors --------------------------------------------------------------------------------

ERRORS = [
    row("unbound name", "input 8 -> dense 4 -> @x\n", 1, 23, ["`@x`", "not bound"]),
    row("used before bound", "input 8 -> @x -> dense 4 as x\n", 1, 12, ["`@x`", "not bound"]),
    row("misspelt name", "input 8 -> dense 4 as feats -> @feat\n", 1, 32, ["`@feat`"],
        hint="`@feats`"),
    row("bound twice", "input 8 as x -> dense 4 as x\n", 1, 28, ["`@x`", "already bound"],
        notes=["line 1, column 12"]),
    row("bound by each pass of a repeat", "input 8 -> ( dense 8 as x ) * 2\n", 1, 25,
        ["`@x`", "already bound"], hint="block"),
    # Issue 20: a block's scope holds each name once too, parameters included.
    row("bound twice in a block", "def b = dense 4 as x -> dense 4 as x\ninput 8 -> b\n",
        1, 36, ["`@x`", "already bound in this block"],
        notes=["line 1, column 20", "in block `b`, used at line 2, column 12"]),
    row("a block binds its tensor parameter's name",
        "def b(@t) = dense 4 as t\ninput 8 as x -> b(@x)\n", 1, 24,
        ["`@t`", "already bound in this block"], notes=["line 1, column 7"]),
    row("block sees no file names", "def b = add { id | @x }\ninput 8 as x -> b\n", 1, 20,
        ["`@x`", "not bound"], hint="block `b`"),
    # Whitespace means nothing, so a statement that starts with a layer reads as
    # arguments of the step before it.
    row("a statement starting with a layer",
        "input 8 as x -> relu\ndense 3\n", 2, 1, ["`dense`"], hint="`->` missing"),
    row("a statement starting with a repeat",
        "input 8 as x -> add { id | @x }\n( dense 3 ) * 2\n", 2, 1,
        [("statement", "starts")]),
    row("id where there is no input", "input 8 as x -> relu\nadd { id | @x }\n", 2, 7,
        ["no input"], hint="`id`"),
    row("a merge of no names at the start", "input 8 as x\nadd { @x | relu }\n", 2, 12,
        ["no input"]),
    row("a tensor for a number", "def b(n) = dense {n}\ninput 8 as x -> b(@x)\n", 2, 19,
        ["`n`", "a number"]),
    row("a number for a tensor", "def b(@t) = add { id | @t }\ninput 8 -> b(3)\n", 2, 14,
        ["`@t`", "tensor"]),
    row("a tensor parameter left out", "def b(@t) = add { id | @t }\ninput 8 -> b\n", 2, 12,
        ["needs a tensor", "`@t`"]),
    row("a tensor parameter by name", "def b(@t) = add { id | @t }\ninput 8 as x -> b(t=3)\n",
        2, 19, ["`@t`", "position"]),
    row("an output listed twice", "input 8 -> dense 2 as y\noutput @y, @y\n", 2, 12,
        ["`@y`", "twice"]),
    row("an output not bound", "input 8 -> dense 2 as y\noutput @z\n", 2, 8, ["`@z`"]),
    row("two inputs, one unnamed", "input 8 as a\ninput 4 -> dense 2\n", 2, 1,
        ["`input`", "named"], hint="as NAME"),
    row("no input at all", "@x -> dense 2\n", 1, 1, ["`input`"]),
    row("`output` twice", "input 8 as x\noutput @x\noutput @x\n", 3, 1, ["`output`"]),
    row("`as` with no name", "input 8 -> dense 2 as\n", 1, 22, ["end of file"]),
]


@pytest.mark.parametrize("source, line, col, words, hint, notes", ERRORS)
def test_error(tmp_path, source, line, col, words, hint, notes):
    check_row(tmp_path, source, line, col, words, hint, notes)


# ---- warnings and the layers kept --------------------------------------------------------------

def warnings_of(tmp_path, source: str) -> list:
    r = run(tmp_path, source)
    assert r.rc == 0, r.err
    return [d for d in parse_diagnostics(r) if d.severity == "warning"]


def test_a_dropped_result_is_a_warning_where_it_is_dropped(tmp_path):
    source = "input 8 as x -> dense 4 -> @x -> dense 2\n"
    (w,) = warnings_of(tmp_path, source)
    assert (w.line, w.column) == (1, 28) and "dense_1" in w.message and "dropped" in w.message
    assert w.hint and "as NAME" in w.hint  # what to do about it (mutation testing)
    graph = compile_text(source)
    assert [n.name for n in graph.nodes] == ["input", "dense_2"]  # dense_1 is left out
    assert [n.index for n in graph.nodes] == [0, 1]  # renumbered, as their inputs are
    assert parse(source).params == 8 * 2 + 2


def test_a_statement_not_read_by_any_output_is_left_out(tmp_path):
    source = "input 8 as x -> dense 4 as a\n@x -> dense 3 as b\noutput @b\n"
    (w,) = warnings_of(tmp_path, source)
    assert (w.line, w.column) == (1, 17) and "`dense_1`" in w.message
    assert "no path to an output" in w.message
    graph = compile_text(source)
    assert [n.name for n in graph.nodes] == ["input", "dense_2"]
    assert parse(source).params == 8 * 3 + 3


def test_a_dead_chain_is_one_warning_at_its_end(tmp_path):
    """Only the last layer of a chain no output reads is a dead end: the layers before it
    are read by it (found by mutation testing: a dead end per layer, and a layer called
    an input, went unseen)."""
    source = "input 8 as x -> dense 4 as a\n@x -> dense 3 -> dense 2\noutput @a\n"
    (w,) = warnings_of(tmp_path, source)
    assert w.message.startswith("layer `dense_3` is on no path to an output"), w.message
    assert (w.line, w.column) == (2, 18)  # the `dense 2` of `@x -> dense 3 -> dense 2`
    graph = compile_text(source)
    assert [(n.index, n.name, n.inputs) for n in graph.nodes] == [(0, "input", ()),
                                                                  (1, "dense_1", (0,))]


def test_an_input_no_output_reads_is_left_out(tmp_path):
    source = "input 8 as x -> dense 2 as y\ninput 4 as unused\noutput @y\n"
    (w,) = warnings_of(tmp_path, source)
    assert "input `unused`" in w.message and w.line == 2
    graph = compile_text(source)
    assert [n.name for n in graph.input_nodes] == ["x"]


def test_an_unread_input_is_not_kept_for_having_no_inputs(tmp_path):
    """Issue 20: an input reads nothing, but that does not put it on a path to an output;
    the graph, and what `check` counts, hold the two layers that are."""
    source = "input 8 as x -> dense 2 as y\ninput 4 as unused\noutput @y\n"
    graph = compile_text(source)
    assert [(n.name, n.inputs) for n in graph.nodes] == [("x", ()), ("dense_1", (0,))]
    assert graph.inputs == (0,) and graph.outputs == (1,)
    r = run(tmp_path, source)
    assert r.rc == 0 and r.out == "ok: 2 layers, 18 params\n"  # dense: 8*2 + 2


def test_a_bound_result_used_later_is_not_dropped(tmp_path):
    source = "input 8 -> dense 4 as a -> @a -> relu -> add { id | @a }\n"
    assert warnings_of(tmp_path, source) == []


def test_groups_are_counted_in_the_layers_kept():
    """The boxes `draw --collapse` shows: a group whose every layer is left out goes, the
    others' bounds are counted in the layers kept (found by mutation testing)."""
    graph = compile_text("input 8 as x -> ( relu ) * 2\n"
                         "@x -> ( dense 3 ) * 2 -> ( relu -> relu ) * 1\n")
    assert [n.name for n in graph.nodes] == ["input", "dense_1", "dense_2", "relu_3", "relu_4"]
    assert graph.groups == (Group(1, 3, "( dense 3 ) * 2", 2),
                            Group(3, 5, "( relu -> relu ) * 1", 1))
    # A block use whose second layer is dropped inside it keeps one layer.
    graph = compile_text("def b = dense 4 as a -> dense 2 -> @a\ninput 8 -> b -> relu\n")
    assert [n.name for n in graph.nodes] == ["input", "dense_1", "relu_1"]
    assert graph.groups == (Group(1, 2, "b", 1),)


# ---- meaning ----------------------------------------------------------------------------

def test_one_input_and_output_keep_version_1_names_and_shapes():
    v1 = compile_text("input 8x8x1 -> conv 3 x4 -> relu -> flatten -> dense 2")
    v2 = compile_text("input 8x8x1 as image -> conv 3 x4 as c -> relu -> flatten "
                      "-> dense 2 as out\noutput @out")
    assert [(n.name, n.shape, n.inputs) for n in v1.nodes] == \
        [(n.name, n.shape, n.inputs) for n in v2.nodes]
    assert v2.single and v2.input.name == "input"


def test_several_inputs_are_named_after_their_tensors_and_kept_in_written_order():
    graph = compile_text(TWO_BY_TWO)
    assert [(n.name, n.shape) for n in graph.input_nodes] == [("image", (16, 16, 3)),
                                                             ("meta", (4,))]
    assert [(n.name, n.shape) for n in graph.output_nodes] == [("dense_3", (10,)),
                                                              ("dense_4", (4,))]
    concat = next(n for n in graph.nodes if n.kind == "concat")
    assert concat.shape == (8 + 8,)


def test_a_branch_starts_from_a_named_tensor_instead_of_the_merge_input():
    graph = compile_text("input 4x4x2 as x -> conv 1 x2 as a -> conv 1 x2 "
                         "-> add { id | @a | @x }")
    add = graph.nodes[-1]
    assert [graph.nodes[i].name for i in add.inputs] == ["conv_2", "conv_1", "input"]


def test_names_bound_in_a_block_are_local_to_each_use():
    source = "def b = relu as r -> add { id | @r }\ninput 8 -> b -> b -> b\n"
    graph = compile_text(source)
    adds = [n for n in graph.nodes if n.kind == "add"]
    assert len(adds) == 3 and all(n.inputs[0] == n.inputs[1] for n in adds)


def test_a_tensor_parameter_is_the_tensor_passed_in():
    source = "def mix(@other) = add { id | @other }\n" \
             "input 4 as x -> dense 4 as a -> dense 4 -> mix(@a) -> mix(@x)\n"
    graph = compile_text(source)
    first, second = [n for n in graph.nodes if n.kind == "add"]
    assert [graph.nodes[i].name for i in first.inputs] == ["dense_2", "dense_1"]
    assert [graph.nodes[i].name for i in second.inputs] == ["add_1", "input"]


def test_nasnet_cell_counts_match_a_keras_model_written_by_hand():
    keras = pytest.importorskip("keras")
    layers = keras.layers

    def sep(x, f, k):
        x = layers.ReLU()(x)
        x = layers.SeparableConv2D(f, k, padding="same", use_bias=False)(x)
        return layers.BatchNormalization()(x)

    def cell(x, prev, f):
        h = layers.BatchNormalization()(layers.Conv2D(f, 1, use_bias=False)(
            layers.ReLU()(x)))
        p = layers.BatchNormalization()(layers.Conv2D(f, 1, use_bias=False)(
            layers.ReLU()(prev)))
        return layers.Concatenate()([
            p,
            layers.Add()([sep(h, f, 5), sep(p, f, 3)]),
            layers.Add()([layers.AveragePooling2D(3, 1, padding="same")(h), p]),
            layers.Add()([sep(h, f, 3), h])])

    inputs = keras.Input((32, 32, 3))
    c0 = layers.BatchNormalization()(layers.Conv2D(32, 3, padding="same",
                                                   use_bias=False)(inputs))
    c1 = cell(c0, c0, 32)
    c2 = cell(c1, c0, 32)
    x = cell(c2, c1, 32)
    out = layers.Dense(10, activation="softmax")(layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, out)
    net = parse(NASNET_CELL)
    stats = net.stats()
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert (stats.params, stats.total("trainable")) == (model.count_params(), trainable)
    assert net.output_shape == tuple(model.output.shape[1:])
    assert len(net.graph.nodes) == len(model.layers)


def test_two_inputs_two_outputs_counts_match_a_keras_model_written_by_hand():
    keras = pytest.importorskip("keras")
    layers = keras.layers
    image, meta = keras.Input((16, 16, 3)), keras.Input((4,))
    features = layers.GlobalAveragePooling2D()(layers.MaxPooling2D(2)(
        layers.Conv2D(8, 3, padding="same", activation="relu")(image)))
    m = layers.Dense(8, activation="relu")(meta)
    joint = layers.Dense(16, activation="relu")(layers.Concatenate()([features, m]))
    model = keras.Model([image, meta], [layers.Dense(10, activation="softmax")(joint),
                                        layers.Dense(4)(joint)])
    net = parse(TWO_BY_TWO)
    assert net.params == model.count_params()
    assert [n.shape for n in net.graph.output_nodes] == \
        [tuple(o.shape[1:]) for o in model.outputs]


# ---- running ---------------------------------------------------------------------------------

def test_run_takes_an_array_per_input_and_gives_one_per_output(tmp_path, capsys):
    spec = tmp_path / "two.cnn"
    spec.write_text(TWO_BY_TWO)
    rng = np.random.default_rng(0)
    image = rng.normal(size=(5, 16, 16, 3)).astype(np.float32)
    meta = rng.normal(size=(5, 4)).astype(np.float32)
    np.savez(tmp_path / "in.npz", image=image, meta=meta)
    out = tmp_path / "out.npz"
    assert main(["run", str(spec), "--input", str(tmp_path / "in.npz"), "-o", str(out)]) == 0
    assert "label (5, 10), box (5, 4)" in capsys.readouterr().out
    net = parse(TWO_BY_TWO)
    net.init_weights(0)
    expected = net.run({"image": image, "meta": meta})
    with np.load(out, allow_pickle=False) as got:
        assert sorted(got.files) == ["box", "label"]
        for name in ("label", "box"):
            np.testing.assert_array_equal(got[name], expected[name])
        assert np.allclose(got["label"].sum(axis=1), 1.0, atol=1e-5)  # a softmax
    # One example without the batch axis gives one without it too.
    np.savez(tmp_path / "one.npz", image=image[0], meta=meta[0])
    assert main(["run", str(spec), "--input", str(tmp_path / "one.npz"), "-o", str(out)]) == 0
    with np.load(out, allow_pickle=False) as got:
        np.testing.assert_allclose(got["box"], expected["box"][0], rtol=1e-5,
                                   atol=1e-6)


def test_run_names_outputs_as_the_spec_does_issue_19_item_23(tmp_path, capsys):
    """examples/image_and_meta.cnn ends `output @label, @box`: `run` wrote `dense_3` and
    `dense_4`. The arrays are keyed `label` and `box`, computed by hand from the weights."""
    example = Path(__file__).parent.parent / "examples" / "image_and_meta.cnn"
    rng = np.random.default_rng(1)
    image = rng.normal(size=(3, 32, 32, 3)).astype(np.float32)
    meta = rng.normal(size=(3, 4)).astype(np.float32)
    np.savez(tmp_path / "in.npz", image=image, meta=meta)
    out = tmp_path / "out.npz"
    assert main(["run", str(example), "--input", str(tmp_path / "in.npz"), "-o", str(out),
                 "--weights", str(_weights_of(example, tmp_path))]) == 0
    assert "label (3, 10), box (3, 4)" in capsys.readouterr().out
    w = np.load(tmp_path / "w.npz")
    joint = _joint(image, meta, w)
    with np.load(out, allow_pickle=False) as got:
        assert sorted(got.files) == ["box", "label"]
        logits = joint @ w["dense_3/kernel"] + w["dense_3/bias"]
        softmax = np.exp(logits - logits.max(1, keepdims=True))
        np.testing.assert_allclose(got["label"], softmax / softmax.sum(1, keepdims=True),
                                   rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(got["box"], joint @ w["dense_4/kernel"] + w["dense_4/bias"],
                                   rtol=1e-4, atol=1e-5)


def _weights_of(example: Path, tmp_path: Path) -> Path:
    """Random weights for every layer, saved where `run --weights` reads them."""
    rng = np.random.default_rng(2)
    net = load(example)
    weights = {k: rng.normal(scale=0.3, size=v.shape).astype(np.float32)
               for k, v in net.init_weights(0).items()}
    np.savez(tmp_path / "w.npz", **weights)
    return tmp_path / "w.npz"


def _joint(image: np.ndarray, meta: np.ndarray, w) -> np.ndarray:
    """`@joint` of image_and_meta.cnn, by a naive loop: conv 3 same, relu, maxpool 2, conv
    3 same, relu, gap; dense 8 relu of meta; concat; dense 32 relu."""
    def conv_same(x, kernel, bias):
        padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
        out = np.zeros((*x.shape[:3], kernel.shape[-1]), np.float64)
        for i in range(x.shape[1]):
            for j in range(x.shape[2]):
                window = padded[:, i:i + 3, j:j + 3, :]
                out[:, i, j] = np.tensordot(window, kernel, axes=([1, 2, 3], [0, 1, 2]))
        return np.maximum(out + bias, 0)

    x = conv_same(image, w["conv_1/kernel"], w["conv_1/bias"])
    x = x.reshape(len(x), 16, 2, 16, 2, -1).max(axis=(2, 4))
    x = conv_same(x, w["conv_2/kernel"], w["conv_2/bias"]).mean(axis=(1, 2))
    m = np.maximum(meta @ w["dense_1/kernel"] + w["dense_1/bias"], 0)
    joint = np.concatenate([x, m], axis=1) @ w["dense_2/kernel"] + w["dense_2/bias"]
    return np.maximum(joint, 0)


def test_a_lone_input_is_read_by_its_tensor_name_or_its_layer_name(tmp_path, capsys):
    """`input 8 as x` with two outputs: the archive's array may be keyed `x` (the spec's
    name; refused before) or `input` (the layer's name, which was the only key read)."""
    spec = tmp_path / "one.cnn"
    spec.write_text("input 8 as x -> dense 2 as a\n@x -> dense 3 as b\noutput @a, @b\n")
    x = np.arange(16, dtype=np.float32).reshape(2, 8) / 10
    for key in ("x", "input"):
        np.savez(tmp_path / "in.npz", **{key: x})
        assert main(["run", str(spec), "--input", str(tmp_path / "in.npz"),
                     "-o", str(tmp_path / "out.npz")]) == 0, capsys.readouterr().err
        assert "a (2, 2), b (2, 3)" in capsys.readouterr().out
    np.savez(tmp_path / "in.npz", y=x)
    assert main(["run", str(spec), "--input", str(tmp_path / "in.npz"),
                 "-o", str(tmp_path / "out.npz")]) == 1
    err = capsys.readouterr().err
    assert "no array for input `x`" in err and "numpy.savez(path, x=(N, 8))" in err
    net = parse(spec.read_text())
    assert set(net.run({"x": x})) == {"a", "b"}
    np.testing.assert_array_equal(net.run({"input": x})["b"], net.run({"x": x})["b"])


@pytest.mark.parametrize("arrays, words", [
    ({"image": np.zeros((2, 16, 16, 3))}, "no array for input `meta`"),
    ({"image": np.zeros((2, 16, 16, 3)), "meta": np.zeros((2, 4)), "x": np.zeros(1)},
     "`x` is no input"),
    ({"image": np.zeros((2, 16, 16, 3)), "meta": np.zeros((3, 4))}, "batch sizes differ"),
    ({"image": np.zeros((2, 16, 16, 3)), "meta": np.zeros((2, 5))}, "shape (2, 5)"),
    ({"image": np.zeros((16, 16, 3)), "meta": np.zeros((2, 4))}, "batch sizes differ"),
])
def test_run_refuses_inputs_that_do_not_fit(tmp_path, capsys, arrays, words):
    spec = tmp_path / "two.cnn"
    spec.write_text(TWO_BY_TWO)
    np.savez(tmp_path / "in.npz", **arrays)
    out = tmp_path / "out.npz"
    assert main(["run", str(spec), "--input", str(tmp_path / "in.npz"), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert words in err and "hint: " in err and not out.exists()


def test_run_of_several_outputs_writes_an_npz(tmp_path, capsys):
    spec = tmp_path / "two.cnn"
    spec.write_text(TWO_BY_TWO)
    np.savez(tmp_path / "in.npz", image=np.zeros((1, 16, 16, 3)), meta=np.zeros((1, 4)))
    assert main(["run", str(spec), "--input", str(tmp_path / "in.npz"),
                 "-o", str(tmp_path / "out.npy")]) == 1
    assert ".npz" in capsys.readouterr().err


# ---- the report ------------------------------------------------------------------------------

def test_the_report_lists_each_input_and_output(tmp_path):
    r = run(tmp_path, TWO_BY_TWO, command="shapes")
    assert r.rc == 0, r.err
    assert r.out.splitlines()[0] == ("net: 10 layers, inputs image 16x16x3, meta 4 -> "
                                     "outputs label 10, box 4")
    r = run(tmp_path, TWO_BY_TWO, "--format", "json", command="shapes")
    doc = json.loads(r.out)
    # each end by the name `run` reads or writes it under, and the layer that makes it
    assert doc["inputs"] == [{"name": "image", "layer": "image", "shape": [16, 16, 3]},
                             {"name": "meta", "layer": "meta", "shape": [4]}]
    assert doc["outputs"] == [{"name": "label", "layer": "dense_3", "shape": [10]},
                              {"name": "box", "layer": "dense_4", "shape": [4]}]
    # A layer that sees both inputs has no receptive field in either.
    rows = {layer["name"]: layer for layer in doc["layers"]}
    assert rows["conv_1"]["receptive_field"]["size"] == [3, 3]
    assert rows["concat_1"]["receptive_field"] is None

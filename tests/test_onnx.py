"""`cnndsl compile -o NET.onnx`: the ONNX backend against the NumPy backend, in onnxruntime.

The oracle is the NumPy interpreter (itself held to Keras by the differential tests) on
the same weights (`init_weights`), never the ONNX backend's own output:

* every example compiles to ONNX, passes `onnx.checker` with full shape inference, has
  ONNX's inferred shapes equal to cnndsl's for every layer, and runs in onnxruntime with
  the NumPy backend's outputs (relative error <= 1e-5), for a batch of 2 although the
  model was written without knowing the batch size; the big examples at a small input
  size where their spec allows it (the layers are the same; only the spatial sizes and
  the first dense layer after a `flatten` shrink), and with
  CNNDSL_HYPOTHESIS_PROFILE=thorough their outputs at the size the spec writes too;
* the model's boundary: inputs and outputs named as in the spec, channels-last; layer
  names in node names; weights as initializers named LAYER/VARIABLE; no transpose
  feeding a transpose, and a plain CNN with exactly one (its input's);
* opsets: every activation and global pooling at the oldest opset accepted, the default
  and the newest onnxruntime 1.17 reads (operators that changed form: ReduceMean's axes,
  HardSwish, Gelu); layernorm before opset 17 is a located error;
* the command: `-o NET.onnx` and `--emit onnx`, `--weights`, `--seed`, `--opset`, its
  errors, and no TensorFlow imported.

The random networks of every kind (1-D, 2-D, 3-D, every option, every merge, several
inputs and outputs) go through onnxruntime in tests/test_differential.py and
tests/test_differential_v2.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from onnx_check import (
    ORT_RTOL,
    check_inferred_shapes,
    ort,
    relative_error,
    run_every_layer,
    run_onnx,
    small,
)
from zoo import lively

from cnndsl import CnnError, compile_text
from cnndsl.backends.numpy import Interpreter
from cnndsl.backends.weights import init_weights
from cnndsl.cli import main

if ort is None:
    pytest.skip("onnx and onnxruntime are not installed: pip install 'cnndsl[onnx]'",
                allow_module_level=True)

from cnndsl.backends.onnx import DEFAULT_OPSET, MIN_OPSET, build_model  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.cnn"))
# CNNDSL_HYPOTHESIS_PROFILE=thorough runs every example at the size its spec writes.
THOROUGH = os.environ.get("CNNDSL_HYPOTHESIS_PROFILE") == "thorough"
NEWEST_ORT_OPSET = 20  # what onnxruntime 1.17 (the oldest the extras allow) reads: Gelu


def inputs(graph, batch: int = 2, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((batch, *n.shape)).astype(np.float32)
            for n in graph.input_nodes]


def assert_agrees(graph, model, xs, weights) -> float:
    expected = Interpreter(graph, weights).run_many(xs)
    outs = run_onnx(graph, model, xs)
    assert [o.shape for o in outs] == [e.shape for e in expected]
    err = max(relative_error(o, e) for o, e in zip(outs, expected))
    assert err <= ORT_RTOL, f"onnxruntime differs from NumPy by {err:.3g} (relative)"
    return err


def transposes(model) -> list:
    return [n for n in model.graph.node if n.op_type == "Transpose"]


# ---- every example ----------------------------------------------------------------------------

@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_runs_in_onnxruntime_as_in_numpy(path):
    """The outputs to 1e-5 of max(1, max|numpy|), and every layer to 1e-5 of its own
    largest value (the first layer that disagrees is named), at the small size; with the
    thorough profile the outputs again at the size the spec writes. (Not every layer
    there: a `gap` over 112x112 positions sums in another order in each backend, and a
    mean near 0 of values near 1 then differs by more than 1e-5 of itself in float32.)"""
    text = path.read_text(encoding="utf-8")
    check_example(compile_text(small(text), path.stem), every_layer=True)
    if THOROUGH and small(text) != text:
        check_example(compile_text(text, path.stem), every_layer=False)


def check_example(graph, every_layer: bool) -> None:
    # At Keras's initial values a deep network's activations fade, and a constant softmax
    # would prove nothing.
    weights = lively(init_weights(graph, 0), np.random.default_rng(0), gamma=(0.5, 1.5),
                     variance=(0.5, 1.5))
    model = build_model(graph, weights)  # onnx.checker, full_check=True, inside
    assert check_inferred_shapes(graph, model) >= len(graph.nodes)
    made = {n.output[0] for n in transposes(model)}
    assert not [n.name for n in transposes(model) if n.input[0] in made], \
        "a transpose feeds a transpose"
    xs = inputs(graph)
    assert_agrees(graph, model, xs, weights)
    if not every_layer:
        return
    expected = Interpreter(graph, weights, fuse=False, keep=True).run_all(xs)
    layers = run_every_layer(graph, model, xs)
    assert len(layers) == len(graph.nodes) - len(graph.inputs)
    for node in graph.nodes:
        if node.name in layers:
            ours, theirs = layers[node.name], expected[node.name]
            scale = max(float(np.max(np.abs(theirs))), 1e-12)
            err = float(np.max(np.abs(ours - theirs))) / scale
            assert err <= ORT_RTOL, f"first disagreement at {node.name} ({node.text}): {err:.3g}"


# Each method of the ONNX backend with the options the examples do not reach, in both of
# its layouts where it has two (after a conv it is channels-first, after the input
# channels-last): without Keras, so that mutation testing holds the backend to them too
# (the random networks of tests/test_differential.py reach them, with Keras).
KINDS = [
    "input 9x9x3 -> conv 3 x4 same dilation=2 -> conv 2/2 x4 bias=false selu",
    "input 6x6x4 -> conv 3 x4 groups=2 same",
    "input 10x3 -> conv 3/2 x4 same -> maxpool 2 -> avgpool 3/1 same -> gap",
    "input 6x6x6x2 -> conv 3 x2 same -> maxpool 2 -> upsample 2 -> gmp",
    "input 8x8x3 -> dwconv 3/2 x2 same bias=false relu6 -> dwconv 2 dilation=2",
    "input 10x3 -> dwconv 3 x2 same -> sepconv 3 x4",  # 1-D: kernels of rank 3
    "input 8x8x3 -> sepconv 3 x5 same bias=false -> sepconv 3/2 x2 relu",
    "input 5x5x2 -> deconv 3/2 x3 same -> deconv 1/2 x2 bias=false relu",
    # Keras's padding of a transposed convolution: 4 split 2 and 2, none for `valid`,
    # none where the stride is the kernel's size.
    "input 4x4x2 -> deconv 6/2 x3 same -> deconv 3/2 x2 -> deconv 2/2 x2 same",
    "input 6 -> dense 4 relu -> dense 3 bias=false",
    "input 4x6 -> dense 5 -> dense 3 bias=false",
    "input 7x7x2 -> maxpool 3/2 same -> avgpool 2",
    "input 7x7x2 -> avgpool 3/2 same",
    "input 6x6x3 -> conv 1 x2 -> gap keepdims",
    "input 6x6x3 -> gmp keepdims",
    "input 4x4x2 -> conv 1 x2 -> flatten -> dense 3",
    "input 12 -> reshape 3x4 -> dense 2",
    "input 6x6x2 -> conv 1 x2 -> dropout 0.5 -> conv 1 x2",
    "input 5x5x2 -> conv 1 x2 -> zeropad 1:2x0:1",
    "input 5x5x2 -> zeropad 2:0x1:1",
    "input 7x6x2 -> conv 1 x2 -> crop 1:2x0:1",
    "input 7x6x2 -> crop 0:1x2:0",
    "input 3x4x2 -> conv 1 x2 -> upsample 2x3",
    "input 3x4x2 -> upsample 2x1",
    "input 5x5x3 -> conv 1 x3 -> bn scale=false center=false eps=0.01",
    "input 6 -> bn",
    "input 4x4x2 -> conv 1 x2 -> rescale 0.5 offset=1",
    "input 4x4x3 -> normalize mean=1,2,3 variance=4,1,0",
    "input 4x4x3 -> conv 1 x3 -> normalize",
    "input 4x4x3 -> layernorm scale=false center=false eps=0.1",
    "input 4x4x2 -> conv 1 x2 -> add { id | relu | conv 1 x2 }",
    "input 4x4x2 -> mul { id | relu | conv 1 x2 }",
    "input 4x4x2 -> conv 1 x2 -> avg { id | conv 1 x2 }",
    "input 4x4x2 -> max { id | conv 1 x2 | conv 1 x2 }",
    "input 4x4x2 -> concat { conv 1 x2 | relu | id }",
]


@pytest.mark.parametrize("spec", KINDS)
def test_every_kind_and_option_runs_in_onnxruntime_as_in_numpy(spec):
    check_example(compile_text(spec, "kinds"), every_layer=True)


def test_the_boundary_carries_the_spec_names_and_channels_last():
    graph = compile_text((ROOT / "examples" / "image_and_meta.cnn").read_text("utf-8"), "m")
    model = build_model(graph, init_weights(graph, 0))

    def dims(value):
        return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]

    assert [(v.name, dims(v)) for v in model.graph.input] == \
        [(n.name, ["batch", *n.shape]) for n in graph.input_nodes]
    assert [(v.name, dims(v)) for v in model.graph.output] == \
        [(n.name, ["batch", *n.shape]) for n in graph.output_nodes]
    assert [n.name for n in graph.input_nodes] == ["image", "meta"]


def test_names_weights_and_transposes_of_a_plain_cnn():
    spec = ("input 16x16x3 -> conv 3 x8 same name=stem -> bn -> relu -> maxpool 2 "
            "-> residual { conv 3 x8 same relu -> conv 3 x8 same } -> relu -> gap -> dense 4")
    graph = compile_text(spec, "plain")
    weights = init_weights(graph, 0)
    model = build_model(graph, weights)
    layers = {n.name for n in graph.nodes}
    assert all(n.name.split("/")[0] in layers for n in model.graph.node)
    assert "stem" in {n.name for n in model.graph.node if n.op_type == "Conv"}
    initializers = {i.name: i for i in model.graph.initializer}
    assert list(initializers["stem/kernel"].dims) == [8, 3, 3, 3]  # (filters, in, kh, kw)
    assert [t.input[0] for t in transposes(model)] == [graph.input.name]
    assert_agrees(graph, model, inputs(graph, batch=3), weights)


def test_a_channels_last_layer_between_convolutions_costs_two_transposes():
    # layernorm normalises the channels at each position: channels-last in ONNX.
    graph = compile_text("input 8x8x4 -> conv 3 x4 same -> layernorm -> conv 3 x4 same", "t")
    weights = init_weights(graph, 0)
    model = build_model(graph, weights)
    assert len(transposes(model)) == 4  # the input, both ways around layernorm, the output
    assert_agrees(graph, model, inputs(graph), weights)


# ---- opsets ---------------------------------------------------------------------------------

EVERY_ACTIVATION = ("input 6x6x3 -> conv 3 x6 same relu -> relu6 -> sigmoid -> hard_sigmoid "
                    "-> tanh -> elu -> selu -> gelu -> silu -> softplus -> leaky_relu "
                    "-> leaky_relu=0.1 -> linear -> hard_swish -> add { gap keepdims | "
                    "gmp keepdims } -> softmax -> flatten -> dense 5 gelu")


@pytest.mark.parametrize("opset", [MIN_OPSET, 14, DEFAULT_OPSET, 18, NEWEST_ORT_OPSET])
def test_every_activation_and_global_pooling_at_each_opset(opset):
    graph = compile_text(EVERY_ACTIVATION, "acts")
    weights = init_weights(graph, 2)
    model = build_model(graph, weights, opset)
    assert model.opset_import[0].version == opset
    ops = {n.op_type for n in model.graph.node}
    assert ("Gelu" in ops) == (opset >= 20) and ("HardSwish" in ops) == (opset >= 14)
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((2, 6, 6, 3)) * 3).astype(np.float32)
    assert_agrees(graph, model, [x], weights)


def test_layernorm_before_opset_17_is_a_located_error(tmp_path, capsys):
    spec = tmp_path / "ln.cnn"
    spec.write_text("input 4x4x2\n  -> conv 1 x2 -> layernorm\n", encoding="utf-8")
    assert main(["compile", str(spec), "-o", str(tmp_path / "ln.onnx"), "--opset", "16"]) == 1
    err = capsys.readouterr().err
    assert f"{spec}:2:19: error: `layernorm` needs ONNX's LayerNormalization" in err
    assert "hint: compile with --opset 17 or later" in err
    assert not (tmp_path / "ln.onnx").exists()


# ---- the command --------------------------------------------------------------------------------

def _spec(tmp_path: Path) -> Path:
    path = tmp_path / "net.cnn"
    # 3*3*2*4 + 4 = 76 and 4*4*4*3 + 3 = 195 params: 271
    path.write_text("input 8x8x2 -> conv 3 x4 same relu -> maxpool 2 -> flatten -> dense 3\n",
                    encoding="utf-8")
    return path


def _load(path: Path):
    import onnx

    return onnx.load(str(path))


@pytest.mark.parametrize("how", [["-o", "{dir}/out.onnx"], ["--emit", "onnx"]])
def test_compile_writes_onnx_with_the_seeded_weights(tmp_path, capsys, how):
    spec = _spec(tmp_path)
    args = [a.format(dir=tmp_path) for a in how]
    assert main(["compile", str(spec), *args, "--seed", "3"]) == 0
    out = tmp_path / ("out.onnx" if "-o" in how else "net.onnx")
    assert f"ok: {out} (ONNX opset {DEFAULT_OPSET}, 271 params)" in capsys.readouterr().out
    graph = compile_text(spec.read_text(), "net")
    assert_agrees(graph, _load(out), inputs(graph), init_weights(graph, 3))


def test_compile_to_standard_output_writes_the_model_there(tmp_path, capsysbinary):
    """`-o -`: the model's bytes on standard output, and no file (found by mutation
    testing: no test wrote ONNX to standard output)."""
    import onnx

    spec = _spec(tmp_path)
    assert main(["compile", str(spec), "--emit", "onnx", "-o", "-", "--seed", "3"]) == 0
    model = onnx.load_from_string(capsysbinary.readouterr().out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.cnn"]
    graph = compile_text(spec.read_text(), "net")
    assert_agrees(graph, model, inputs(graph), init_weights(graph, 3))


def test_compile_carries_the_weights_given(tmp_path, capsys):
    spec = _spec(tmp_path)
    graph = compile_text(spec.read_text(), "net")
    rng = np.random.default_rng(5)
    weights = {k: rng.standard_normal(v.shape).astype(np.float32)
               for k, v in init_weights(graph, 0).items()}
    np.savez(tmp_path / "w.npz", **weights)
    assert main(["compile", str(spec), "-o", str(tmp_path / "w.onnx"), "--weights",
                 str(tmp_path / "w.npz"), "--opset", "18"]) == 0
    model = _load(tmp_path / "w.onnx")
    assert model.opset_import[0].version == 18
    assert_agrees(graph, model, inputs(graph), weights)


def test_the_oldest_and_newest_opsets_are_accepted(tmp_path, capsys):
    """Both ends of `--opset`'s range (found by mutation testing: `<` for `<=` at either
    end refused it unseen); one past the newest is refused."""
    import onnx

    spec = _spec(tmp_path)
    newest = onnx.defs.onnx_opset_version()
    for opset in (MIN_OPSET, newest):
        out = tmp_path / f"{opset}.onnx"
        assert main(["compile", str(spec), "-o", str(out), "--opset", str(opset)]) == 0
        assert _load(out).opset_import[0].version == opset
    assert main(["compile", str(spec), "-o", str(tmp_path / "x.onnx"), "--opset",
                 str(newest + 1)]) == 1
    assert f"--opset must be between {MIN_OPSET} and {newest}" in capsys.readouterr().err


@pytest.mark.parametrize(("extra", "message"), [
    (["-o", "{dir}/x.onnx", "--opset", "12"], "--opset must be between 13 and"),
    (["-o", "{dir}/x.onnx", "--opset", "999"], "--opset must be between 13 and"),
    (["-o", "{dir}/x.keras", "--opset", "17"], "--opset applies to ONNX, not to --emit keras"),
    (["--emit", "onnx", "-o", "{dir}/x.keras"], "-o must name a .onnx file"),
])
def test_command_errors(tmp_path, capsys, extra, message):
    spec = _spec(tmp_path)
    assert main(["compile", str(spec), *[a.format(dir=tmp_path) for a in extra]]) == 1
    err = capsys.readouterr().err
    assert message in err and "hint: " in err
    assert not list(tmp_path.glob("x.*"))


def test_a_missing_onnx_package_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` raises ImportError
    assert main(["compile", str(_spec(tmp_path)), "-o", str(tmp_path / "x.onnx")]) == 1
    err = capsys.readouterr().err
    assert "needs the onnx package" in err and "pip install 'cnndsl[onnx]'" in err


def test_compile_to_onnx_never_imports_tensorflow(tmp_path):
    spec = _spec(tmp_path)
    code = ("import sys; from cnndsl.cli import main; "
            f"rc = main(['compile', {str(spec)!r}, '-o', {str(tmp_path / 'n.onnx')!r}]); "
            "print(rc, sorted(m for m in sys.modules if m.split('.')[0] in "
            "('tensorflow', 'keras')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT),
                                                     "PATH": "/usr/bin:/bin"}).stdout
    assert out.strip().splitlines()[-1] == "0 []"


def test_a_model_over_2_gib_is_refused_before_a_weight_is_made(tmp_path, capsys, monkeypatch):
    """Issue 19 item 17: refused rightly, but after drawing 2 GiB of weights (7.8 s, 2.3 GB).
    4096 inputs to 131,072 units: 536,870,912 + 131,072 = 537,001,984 weights, 2.00 GiB as
    float32, over the (2^31 - 1 - 2^24) / 4 = 532,676,607 that fit beside 16 MiB of graph."""
    import cnndsl.backends.given
    import cnndsl.backends.weights

    def never(*args, **kwargs):
        raise AssertionError("weights were made for a model that is refused")

    monkeypatch.setattr(cnndsl.backends.weights, "init_weights", never)
    monkeypatch.setattr(cnndsl.backends.given, "read_weights", never)
    spec = tmp_path / "big.cnn"
    spec.write_text("input 4096 -> dense 131072\n", encoding="utf-8")
    np.savez(tmp_path / "w.npz", x=np.zeros(1))
    for extra in ([], ["--weights", str(tmp_path / "w.npz")]):
        assert main(["compile", str(spec), "-o", str(tmp_path / "big.onnx"), *extra]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"{spec}:1:15: error: the ONNX model would hold 537,001,984 "
                              "weights (2.00 GiB as float32), over the 532,676,607 that fit")
        assert "hint: make the network smaller, or compile to .keras" in err
    assert not (tmp_path / "big.onnx").exists()
    # at the limit: 130,016 units of 4,096 weights and a bias are 532,675,552 weights, and
    # 130,017 are 532,679,649
    from cnndsl.backends.onnx import check_size

    check_size(compile_text("input 4096 -> dense 130016", "fits"))
    with pytest.raises(CnnError, match="532,679,649 weights"):
        check_size(compile_text("input 4096 -> dense 130017", "over"))


@pytest.mark.parametrize(("command", "hint"), [
    ("compile", "the weights are held several times while the model is built and written: "
                "make the network smaller (`cnndsl shapes` lists each layer's weights), or "
                "free some memory"),
    ("maps", "`maps` holds every layer's output for the one example: a smaller input or "
             "network, or free some memory"),
    ("run", "a smaller --batch-size, or a smaller network"),
])
def test_the_out_of_memory_hint_fits_the_command(tmp_path, capsys, monkeypatch, command,
                                                 hint):
    """Issue 19 item 17: `compile` and `maps` were told to use a smaller --batch-size,
    which neither has. Running out of memory is simulated where each command makes its
    first big arrays, the weights."""
    import cnndsl.backends.weights
    import cnndsl.network

    def out_of_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(cnndsl.backends.weights, "init_weights", out_of_memory)
    monkeypatch.setattr(cnndsl.network, "init_weights", out_of_memory)
    if command == "maps":
        pytest.importorskip("matplotlib")
    spec = _spec(tmp_path)
    np.save(tmp_path / "x.npy", np.zeros((8, 8, 2), np.float32))
    args = {"compile": ["-o", str(tmp_path / "n.onnx")],
            "maps": ["--input", str(tmp_path / "x.npy"), "-o", str(tmp_path / "m.png")],
            "run": ["--input", str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.npy")]}
    assert main([command, str(spec), *args[command]]) == 1
    assert capsys.readouterr().err == (f"{spec}: error: out of memory\n"
                                       f"hint: {hint}; see docs/reliability.md\n")


# ---- version 3: rearranging ------------------------------------------------------------------

V3_REARRANGING = """\
input 6x6x8 as image
input 10x6 as seq
@image -> pixel_shuffle 2 -> conv 3 x12 same -> pixel_unshuffle 2 -> channel_shuffle 4
  -> split 16,32 { id | conv 1 x8 relu }
  -> split { relu | sepconv 3 x6 same mult=2 | add { tanh } | mul { id } }
  -> upsample 2x3 bilinear -> channel_shuffle 2 -> flatten chw -> dense 3 as a
@seq -> channel_shuffle 3 -> split { sepconv 3 x4 mult=3 same | concat { id } }
  -> flatten chw -> split 2,3,65 { dense 2 | id | max { relu } } as b
@image -> pixel_unshuffle 3 -> flatten chw as c
output @a, @b, @c
"""


@pytest.mark.parametrize("opset", [MIN_OPSET, DEFAULT_OPSET])
def test_version_3_rearranging_runs_in_onnxruntime_as_in_numpy(opset):
    """DepthToSpace CRD, the unshuffle's Reshape-Transpose, Slice for a split's parts,
    bilinear upsampling as two MatMuls: every layer equal to NumPy's, in both layouts (a shuffle of
    channels-first values and of channels-last ones)."""
    graph = compile_text(V3_REARRANGING, "v3")
    weights = lively(init_weights(graph, 0), np.random.default_rng(0), gamma=(0.5, 1.5),
                     variance=(0.5, 1.5))
    model = build_model(graph, weights, opset)
    assert check_inferred_shapes(graph, model) >= len(graph.nodes)
    ops = {n.op_type for n in model.graph.node}
    assert {"DepthToSpace", "Slice", "MatMul"} <= ops
    assert [dict(mode=a.s) for n in model.graph.node if n.op_type == "DepthToSpace"
            for a in n.attribute if a.name == "mode"] == [{"mode": b"CRD"}]
    xs = inputs(graph)
    assert_agrees(graph, model, xs, weights)
    expected = Interpreter(graph, weights, fuse=False, keep=True).run_all(xs)
    layers = run_every_layer(graph, model, xs)
    for node in graph.nodes:
        if node.name in layers:
            np.testing.assert_allclose(layers[node.name], expected[node.name], rtol=0,
                                       atol=1e-5, err_msg=node.name)

# ---- version 3: padding -------------------------------------------------------------------

PADDED = {
    # PyTorch's padding on every window, even sizes where Keras's `same` pads otherwise
    "conv": "input 8x8x3 -> conv 3/2 x4 pad=1 relu -> dwconv 3 pad=0:1x2 -> sepconv 3 x4 "
            "pad=1x0 -> conv 3 x4 pad=2 dilation=2",
    "causal": "input 12x3 -> conv 3 x4 causal dilation=2 -> dwconv 3 causal "
              "-> sepconv 2 x4 causal -> conv 3/2 x2 causal",
    # max pooling padded with minus infinity on negative inputs; averages of the real
    # inputs and with the padding counted; ceil windows overhanging the padding
    "pools": "input 9x9x2 -> maxpool 3/2 pad=1 ceil -> avgpool 3/2 pad=1 ceil include_pad "
             "-> avgpool 2 ceil pad=1 -> maxpool 2 pad=1:0x0 -> avgpool 2/1 same include_pad",
    "pools 1-D": "input 10x2 -> avgpool 3/2 ceil pad=1 include_pad -> maxpool 3/2 ceil pad=1",
    "deconv": "input 5x5x3 -> deconv 3/2 x4 pad=1 outpad=1 relu -> deconv 4/2 x2 pad=1 "
              "-> deconv 3/3 x2 pad=0 outpad=2 -> deconv 3/2x1 x2 pad=0:1x1",
    "pad": "input 5x6x2 -> pad 2 reflect -> pad 1x0:2 replicate -> pad 1 -> conv 3 x2",
    "volumes": "input 4x5x6x2 -> conv 3 x2 pad=1x0x2 -> deconv 2/2 x2 pad=1x0x0 outpad=1x0x0 "
               "-> pad 1 reflect -> maxpool 2 ceil -> avgpool 2 pad=1 ceil include_pad",
}


@pytest.mark.parametrize("name", sorted(PADDED))
def test_version_3_padding_runs_in_onnxruntime_as_in_numpy(name):
    check_example(compile_text(PADDED[name], name.replace(" ", "_")), every_layer=True)


def test_version_3_padding_uses_onnx_own_operators():
    graph = compile_text(PADDED["pad"] + " -> avgpool 3/2 pad=1 ceil include_pad", "ops")
    model = build_model(graph, init_weights(graph, 0))
    pads = [n for n in model.graph.node if n.op_type == "Pad"]
    modes = [next((a.s.decode() for a in n.attribute if a.name == "mode"), "constant")
             for n in pads]
    assert modes == ["reflect", "edge", "constant", "constant"]
    pool = next(n for n in model.graph.node if n.op_type == "AveragePool")
    attributes = {a.name: list(a.ints) or a.i for a in pool.attribute}
    # the pool's input is 11x12 (5x6 + 4x4 + 2x2 + 2x2 - 2x2): the zeros of `pad=1`
    # written by a Pad, counted as inputs; the ceil windows' overhang left to the pool's
    # own pads, not counted: rows ceil((11 + 2 - 3) / 2) + 1 = 6 windows fit the 13,
    # columns ceil((12 + 2 - 3) / 2) + 1 = 7 need 6*2 + 3 = 15, one more than 14
    assert attributes["pads"] == [0, 0, 0, 1] and attributes["count_include_pad"] == 0

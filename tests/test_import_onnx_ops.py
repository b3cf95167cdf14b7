"""`cnndsl import MODEL.onnx`, operator by operator: small hand-built ONNX models laid out
as PyTorch's exporters write them (channels first, NCHW; PyTorch's node names such as
`/conv1/Conv`), each imported and run by the NumPy interpreter on the same batch as
onnxruntime (the batch transposed to channels last and back), and its text read where the
point is how a person would write the step: `pad=1` for PyTorch's `padding=1` (and
`same` only where the model says ONNX's own word for it, `auto_pad=SAME_UPPER`), a plain
`flatten` before a dense layer whose rows take
the channels-first order, one `gelu` for the five nodes of the TorchScript exporter's.

Then what is refused, through the command: exit status 1, `MODEL.onnx: error: ...` and a
`hint:`, no traceback and nothing written. A model's external data is read only from a
file inside its own folder.
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import numpy as np
import pytest
from onnx_check import ORT_RTOL, session
from outcomes import cli

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from cnndsl.backends.numpy import Interpreter  # noqa: E402
from cnndsl.commands.import_ import Result, import_model  # noqa: E402
from cnndsl.language.frontend import compile_text  # noqa: E402

OPSET = 17  # what torch.onnx.export writes by default today


# -- building models --------------------------------------------------------------------

def random(shape, seed: int = 0, scale: float = 0.5) -> np.ndarray:
    """Weights as float32 normal numbers: never all zeros or ones, so nothing cancels."""
    return np.random.default_rng(seed).normal(0, scale, shape).astype(np.float32)


def node(op: str, inputs: list[str], outputs: list[str], **attrs) -> onnx.NodeProto:
    """A node named `/OP`, as PyTorch's TorchScript exporter names a function called
    outside any module (`torch.relu(x)`): a name that says no more than its kind, so the
    text gives the layer an automatic one (tests/test_import_names.py has the names)."""
    return helper.make_node(op, inputs, outputs, name=f"/{op}_{next(NUMBERS)}", **attrs)


NUMBERS = itertools.count(1)  # node names are unique in a model: `/Relu_1`, `/Relu_2`


def constant(name: str, value) -> onnx.NodeProto:
    """A `Constant` node, as the TorchScript exporter writes scalars and shapes."""
    return helper.make_node("Constant", [], [name], name=f"/{name}/Constant",
                            value=numpy_helper.from_array(np.asarray(value), name))


def model(nodes: list, weights: dict[str, np.ndarray] | None = None,
          x: tuple = (2, 3, 8, 8), opset: int = OPSET,
          more_inputs: dict[str, tuple] | None = None) -> onnx.ModelProto:
    """A model of one float input `x` (dims in ONNX's order; a string is a named, dynamic
    dimension) and one output `y`, its `weights` as initializers."""
    inputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, list(dims))
              for name, dims in {"x": x, **(more_inputs or {})}.items()]
    graph = helper.make_graph(
        nodes, "net", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in (weights or {}).items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                             producer_name="pytorch")


def conv(x: str, y: str, filters: int, channels: int, k: int = 3, seed: int = 0,
         **attrs) -> tuple[onnx.NodeProto, dict[str, np.ndarray]]:
    """A Conv node with bias as torch.nn.Conv2d(channels, filters, k) writes it, and its
    weights (F, C/G, k, k)."""
    groups = attrs.get("group", 1)
    w = {f"{y}.weight": random((filters, channels // groups, k, k), seed),
         f"{y}.bias": random((filters,), seed + 1)}
    return node("Conv", [x, *w], [y], kernel_shape=[k, k], **attrs), w


# -- importing and comparing --------------------------------------------------------------

def saved(onnx_model: onnx.ModelProto, folder: Path, name: str = "m.onnx") -> Path:
    path = folder / name
    onnx.save_model(onnx_model, path)
    return path


def imported(onnx_model: onnx.ModelProto, folder: Path, **options) -> Result:
    """The model saved in `folder` and imported as `cnndsl import` does."""
    return import_model(saved(onnx_model, folder), **options)


def batch(dims: tuple, seed: int = 7, scale: float = 2.0) -> np.ndarray:
    return random(dims, seed, scale)


def channels_last(a: np.ndarray) -> np.ndarray:
    return np.moveaxis(a, 1, -1) if a.ndim > 2 else a


def channels_first(a: np.ndarray) -> np.ndarray:
    return np.moveaxis(a, -1, 1) if a.ndim > 2 else a


def agree(onnx_model: onnx.ModelProto, result: Result, x: np.ndarray) -> None:
    """The imported network and onnxruntime compute the same on batch `x` (NCHW)."""
    graph = compile_text(result.text, "m")
    ours = Interpreter(graph, result.weights).run_many([channels_last(x)])[0]
    theirs = session(onnx_model).run(["y"], {"x": x})[0]
    ours = channels_first(ours)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=ORT_RTOL, atol=ORT_RTOL)


def written(text: str) -> str:
    """The network's steps on one line: no comments, one space between words."""
    lines = [line.split("#", 1)[0] for line in text.splitlines()]
    return " ".join(" ".join(lines).split())


def check(onnx_model: onnx.ModelProto, folder: Path, x: np.ndarray | None = None,
          **options) -> str:
    """Import, agree with onnxruntime on `x` (default: a batch of the input's size),
    and the steps as written."""
    result = imported(onnx_model, folder, **options)
    if x is None:
        dims = onnx_model.graph.input[0].type.tensor_type.shape.dim
        x = batch(tuple(d.dim_value for d in dims))
    agree(onnx_model, result, x)
    return written(result.text)


# -- convolutions -------------------------------------------------------------------------

def test_conv_stride_2_padding_1_is_pad_1_not_same(tmp_path):
    """nn.Conv2d(3, 4, 3, stride=2, padding=1) on 8x8: pads 1 on both sides, where Keras's
    `same` would pad 0 before and 1 after."""
    c, w = conv("x", "y", 4, 3, strides=[2, 2], pads=[1, 1, 1, 1])
    steps = check(model([c], w), tmp_path)
    assert "conv 3/2 x4 pad=1" in steps and "same" not in steps


def test_conv_stride_1_padding_1_is_pad_1(tmp_path):
    """nn.Conv2d(3, 4, 3, padding=1): what PyTorch writes is what the text says, although
    Keras's `same` pads the same there."""
    c, w = conv("x", "y", 4, 3, pads=[1, 1, 1, 1])
    steps = check(model([c], w), tmp_path)
    assert "conv 3 x4 pad=1" in steps and "same" not in steps


@pytest.mark.parametrize("stride", [1, 2])
def test_auto_pad_same_upper_is_same(tmp_path, stride):
    """ONNX's `auto_pad=SAME_UPPER` is Keras's `same` by definition (the odd one after),
    whatever the sizes: what cnndsl's own export writes for `same`."""
    c, w = conv("x", "y", 4, 3, strides=[stride, stride], auto_pad="SAME_UPPER")
    steps = check(model([c], w, x=(2, 3, 7, 7)), tmp_path)
    assert f"conv 3{'/2' if stride == 2 else ''} x4 same" in steps


@pytest.mark.parametrize("stride, pads, expected", [
    (1, [0, 0, 1, 1], "conv 3 x4 pad=0:1"),  # the same before:after for each dimension
    (1, [0, 1, 1, 2], "conv 3 x4 pad=0:1x1:2"),  # H 0 and 1, W 1 and 2
    (2, [0, 0, 1, 1], "conv 3/2 x4 pad=0:1"),  # Keras's `same` here, written out
], ids=["before_after", "per_dimension", "keras_same"])
def test_conv_asymmetric_pads(tmp_path, stride, pads, expected):
    c, w = conv("x", "y", 4, 3, strides=[stride, stride], pads=pads)
    steps = check(model([c], w), tmp_path)
    assert expected in steps


def test_grouped_conv(tmp_path):
    """nn.Conv2d(4, 6, 3, groups=2): weights (6, 2, 3, 3)."""
    c, w = conv("x", "y", 6, 4, group=2, pads=[1, 1, 1, 1])
    steps = check(model([c], w, x=(2, 4, 8, 8)), tmp_path)
    assert "conv 3 x6 pad=1 groups=2" in steps


def test_depthwise_conv_with_two_filters_per_channel(tmp_path):
    """nn.Conv2d(3, 6, 3, groups=3): each input channel's two filters next to each other,
    which is Keras's depth multiplier order."""
    c, w = conv("x", "y", 6, 3, group=3)
    steps = check(model([c], w), tmp_path)
    assert "dwconv 3 x2" in steps and "groups" not in steps


def test_conv_then_relu_nodes_stay_two_steps(tmp_path):
    """PyTorch writes nn.ReLU as its own node `/relu/Relu`: a step of its own."""
    c, w = conv("x", "c", 4, 3, pads=[1, 1, 1, 1])
    steps = check(model([c, node("Relu", ["c"], ["y"])], w), tmp_path)
    assert "conv 3 x4 pad=1 -> relu" in steps


# -- pooling ------------------------------------------------------------------------------

def test_max_pool_padding_never_wins(tmp_path):
    """nn.MaxPool2d(3, 2, padding=1), ResNet's stem, on negative numbers only: a padded
    position taken as 0 would be every edge window's maximum."""
    pool = node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2],
                pads=[1, 1, 1, 1])
    x = -np.abs(batch((2, 3, 8, 8))) - 1
    steps = check(model([pool]), tmp_path, x)
    assert "maxpool 3/2 pad=1" in steps


def test_max_pool_ceil_mode_on_an_odd_size(tmp_path):
    """nn.MaxPool2d(2, 2, ceil_mode=True) on 9x9: 5x5 (as onnxruntime's output, which
    `check` compares), where floor would give 4x4."""
    pool = node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)
    steps = check(model([pool], x=(2, 3, 9, 9)), tmp_path)
    assert steps.endswith("input 9x9x3 -> maxpool 2 ceil")


def test_average_pool_counting_the_padding(tmp_path):
    """nn.AvgPool2d(3, 2, padding=1): PyTorch's default count_include_pad=True."""
    pool = node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2],
                pads=[1, 1, 1, 1], count_include_pad=1)
    steps = check(model([pool]), tmp_path)
    assert "avgpool 3/2 pad=1 include_pad" in steps


def test_average_pool_not_counting_the_padding(tmp_path):
    """nn.AvgPool2d(3, 2, padding=1, count_include_pad=False) on 7x7: the input positions
    only are averaged (as Keras's `same` does), written `pad=1` without `include_pad`."""
    pool = node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2],
                pads=[1, 1, 1, 1], count_include_pad=0)
    steps = check(model([pool], x=(2, 3, 7, 7)), tmp_path)
    assert "avgpool 3/2 pad=1" in steps and "include_pad" not in steps


# -- padding ------------------------------------------------------------------------------

def pad_node(mode: str, pads: list[int]) -> tuple[list, dict]:
    """F.pad(x, ..., mode=MODE) as opset 11+ writes it: the pads (N, C, H, W begins, then
    ends) as an input."""
    return [node("Pad", ["x", "pads"], ["p"], mode=mode)], {"pads": np.array(pads, np.int64)}


def test_zero_pad_before_a_conv_is_its_pad(tmp_path):
    """nn.ZeroPad2d((1, 1, 2, 2)) then nn.Conv2d(3, 4, 3): one step, `pad=2x1`."""
    nodes, w = pad_node("constant", [0, 0, 2, 1, 0, 0, 2, 1])
    c, cw = conv("p", "y", 4, 3)
    steps = check(model([*nodes, c], {**w, **cw}), tmp_path)
    assert "conv 3 x4 pad=2x1" in steps and "zeropad" not in steps


@pytest.mark.parametrize("mode, word", [("reflect", "reflect"), ("edge", "replicate")])
def test_reflect_and_edge_padding(tmp_path, mode, word):
    """nn.ReflectionPad2d(2) and nn.ReplicationPad2d(2), then a convolution."""
    nodes, w = pad_node(mode, [0, 0, 2, 2, 0, 0, 2, 2])
    c, cw = conv("p", "y", 4, 3)
    steps = check(model([*nodes, c], {**w, **cw}), tmp_path)
    assert f"pad 2 {word} -> conv 3 x4" in steps


# -- flatten and dense ---------------------------------------------------------------------

def flatten_model(*between: str) -> onnx.ModelProto:
    """A channels-first 2x3x4 map (a 1x1 conv's) flattened by torch.flatten(x, 1), then
    nn.Linear(24, 5) (Gemm with transB=1), with element-wise nodes `between` the two."""
    c, w = conv("x", "c", 2, 3, k=1)
    nodes = [c, node("Flatten", ["c"], ["f0"], axis=1)]
    for k, op in enumerate(between):
        nodes.append(node(op, [f"f{k}"], [f"f{k + 1}"]))
    w |= {"fc.weight": random((5, 24), 3), "fc.bias": random((5,), 4)}
    nodes.append(node("Gemm", [f"f{len(between)}", "fc.weight", "fc.bias"], ["y"],
                      transB=1))
    return model(nodes, w, x=(2, 3, 3, 4))


def test_flatten_into_a_dense_layer_is_a_plain_flatten(tmp_path):
    """The dense rows are put in channels-last order; the text does not say `chw`."""
    steps = check(flatten_model(), tmp_path)
    assert "flatten -> dense 5" in steps and "chw" not in steps


def test_flatten_read_by_something_else_first_is_flatten_chw(tmp_path):
    steps = check(flatten_model("Relu"), tmp_path)
    assert "flatten chw -> relu -> dense 5" in steps


def test_global_average_pool_flatten_dense_is_gap_dense(tmp_path):
    """nn.AdaptiveAvgPool2d(1), torch.flatten(x, 1), nn.Linear: `gap -> dense`."""
    w = {"fc.weight": random((5, 3), 3), "fc.bias": random((5,), 4)}
    nodes = [node("GlobalAveragePool", ["x"], ["g"]), node("Flatten", ["g"], ["f"], axis=1),
             node("Gemm", ["f", "fc.weight", "fc.bias"], ["y"], transB=1)]
    steps = check(model(nodes, w), tmp_path)
    assert steps.endswith("input 8x8x3 -> gap -> dense 5")
    assert "keepdims" not in steps and "flatten" not in steps


# -- activations --------------------------------------------------------------------------

def clip(low: float, high: float) -> tuple[list, dict]:
    """torch.clamp / nn.ReLU6 as opset 11+ writes them: the bounds as inputs."""
    bounds = {"min": np.array(low, np.float32), "max": np.array(high, np.float32)}
    return [node("Clip", ["x", "min", "max"], ["y"])], bounds


@pytest.mark.parametrize("nodes, weights, step", [
    (*clip(0, 6), "relu6"),
    (*clip(-1, 1), "clip=-1,1"),
    ([node("LeakyRelu", ["x"], ["y"], alpha=0.1)], {}, "leaky_relu=0.1"),
    ([node("Elu", ["x"], ["y"], alpha=0.5)], {}, "elu=0.5"),
    ([node("HardSigmoid", ["x"], ["y"], alpha=1 / 6, beta=0.5)], {}, "hard_sigmoid"),
    ([node("HardSwish", ["x"], ["y"])], {}, "hard_swish"),
], ids=["relu6", "clip", "leaky_relu", "elu", "hard_sigmoid", "hard_swish"])
def test_activation(tmp_path, nodes, weights, step):
    steps = check(model(nodes, weights), tmp_path)
    assert steps.endswith(f"input 8x8x3 -> {step}")


def test_sigmoid_times_its_input_is_one_silu(tmp_path):
    """nn.SiLU as older exporters write it: Sigmoid, then Mul(x, sigmoid(x))."""
    nodes = [node("Sigmoid", ["x"], ["s"]), node("Mul", ["x", "s"], ["y"])]
    steps = check(model(nodes), tmp_path)
    assert steps.endswith("input 8x8x3 -> silu")


def test_gelu_as_torchscript_writes_it_is_one_gelu(tmp_path):
    """nn.GELU() through torch.onnx.export (TorchScript, opset < 20): x/√2, Erf, + 1,
    times x, times 0.5, its constants as Constant nodes."""
    nodes = [constant("sqrt2", np.float32(1.4142135)), node("Div", ["x", "sqrt2"], ["d"]),
             node("Erf", ["d"], ["e"]), constant("one", np.float32(1.0)),
             node("Add", ["e", "one"], ["a"]), node("Mul", ["x", "a"], ["m"]),
             constant("half", np.float32(0.5)), node("Mul", ["m", "half"], ["y"])]
    steps = check(model(nodes), tmp_path)
    assert steps.endswith("input 8x8x3 -> gelu")


def test_softmax_after_a_dense_layer(tmp_path):
    """nn.Linear(6, 5) then nn.Softmax(dim=1)."""
    w = {"fc.weight": random((5, 6), 3), "fc.bias": random((5,), 4)}
    nodes = [node("Gemm", ["x", "fc.weight", "fc.bias"], ["g"], transB=1),
             node("Softmax", ["g"], ["y"], axis=1)]
    steps = check(model(nodes, w, x=(2, 6)), tmp_path)
    assert steps.endswith("input 6 -> dense 5 -> softmax")


# -- normalisation and PReLU --------------------------------------------------------------

def test_batch_norm_in_eval_mode(tmp_path):
    """nn.BatchNorm2d(4) after a convolution, with running statistics of its own:
    PyTorch's eps 1e-5 and momentum 0.1, which ONNX writes as 0.9 (Keras's sense)."""
    c, w = conv("x", "c", 4, 3, pads=[1, 1, 1, 1])
    rng = np.random.default_rng(5)
    w |= {"bn.weight": random((4,), 6) + 1, "bn.bias": random((4,), 7),
          "bn.running_mean": random((4,), 8),
          "bn.running_var": rng.uniform(0.5, 2.0, 4).astype(np.float32)}
    bn = node("BatchNormalization", ["c", "bn.weight", "bn.bias", "bn.running_mean",
                                     "bn.running_var"], ["y"], epsilon=1e-5, momentum=0.9)
    steps = check(model([c, bn], w), tmp_path)
    assert steps.endswith("conv 3 x4 pad=1 -> bn eps=1e-5 momentum=0.9")


def test_prelu_with_a_slope_per_channel(tmp_path):
    """nn.PReLU(4): its slope (4,) exported as (4, 1, 1), broadcast over H and W."""
    c, w = conv("x", "c", 4, 3, pads=[1, 1, 1, 1])
    w["slope"] = random((4, 1, 1), 9)
    steps = check(model([c, node("PRelu", ["c", "slope"], ["y"])], w), tmp_path)
    assert "conv 3 x4 pad=1 -> prelu" in steps


# -- merges -------------------------------------------------------------------------------

def test_residual_add_of_two_conv_branches(tmp_path):
    """A ResNet basic block: relu(conv2(relu(conv1(x))) + x)."""
    c1, w1 = conv("x", "c1", 3, 3, pads=[1, 1, 1, 1], seed=1)
    c2, w2 = conv("r1", "c2", 3, 3, pads=[1, 1, 1, 1], seed=3)
    nodes = [c1, node("Relu", ["c1"], ["r1"]), c2, node("Add", ["c2", "x"], ["s"]),
             node("Relu", ["s"], ["y"])]
    steps = check(model(nodes, w1 | w2), tmp_path)
    assert steps.endswith("add { conv 3 x3 pad=1 -> relu -> conv 3 x3 pad=1 | id } -> relu")


def test_concat_along_the_channels(tmp_path):
    """torch.cat([conv_a(x), conv_b(x)], dim=1)."""
    a, wa = conv("x", "a", 4, 3, pads=[1, 1, 1, 1], seed=1)
    b, wb = conv("x", "b", 2, 3, k=1, seed=3)
    steps = check(model([a, b, node("Concat", ["a", "b"], ["y"], axis=1)], wa | wb),
                  tmp_path)
    assert steps.endswith("input 8x8x3 -> concat { conv 3 x4 pad=1 | conv 1 x2 }")


def test_squeeze_excitation_gate_is_mul(tmp_path):
    """torchvision's SqueezeExcitation: x * sigmoid(fc2(relu(fc1(avgpool(x))))), the
    gate (N, C, 1, 1) broadcast over H and W."""
    fc1, w1 = conv("g", "f1", 2, 4, k=1, seed=1)
    fc2, w2 = conv("r", "f2", 4, 2, k=1, seed=3)
    nodes = [node("GlobalAveragePool", ["x"], ["g"]), fc1, node("Relu", ["f1"], ["r"]), fc2,
             node("Sigmoid", ["f2"], ["s"]), node("Mul", ["x", "s"], ["y"])]
    steps = check(model(nodes, w1 | w2, x=(2, 4, 8, 8)), tmp_path)
    assert steps.endswith("mul { id | gap keepdims -> conv 1 x2 -> relu -> conv 1 x4 "
                          "-> sigmoid }")


# -- rearrangements and resizing ------------------------------------------------------------

def test_depth_to_space_crd_is_pixel_shuffle(tmp_path):
    """nn.PixelShuffle(2): DepthToSpace mode CRD."""
    d2s = node("DepthToSpace", ["x"], ["y"], blocksize=2, mode="CRD")
    steps = check(model([d2s], x=(2, 8, 3, 3)), tmp_path)
    assert steps.endswith("input 3x3x8 -> pixel_shuffle 2")


def test_channel_shuffle_as_torchvision_writes_it(tmp_path):
    """torchvision's channel_shuffle(x, 3) (ShuffleNet): x.view(N, 3, 2, H, W),
    transpose(1, 2), x.view(N, -1, H, W), each shape a Constant just before its Reshape."""
    nodes = [constant("groups", np.array([2, 3, 2, 4, 4], np.int64)),
             node("Reshape", ["x", "groups"], ["g"]),
             node("Transpose", ["g"], ["t"], perm=[0, 2, 1, 3, 4]),
             constant("back", np.array([2, -1, 4, 4], np.int64)),
             node("Reshape", ["t", "back"], ["y"])]
    steps = check(model(nodes, x=(2, 6, 4, 4)), tmp_path)
    assert steps.endswith("input 4x4x6 -> channel_shuffle 3")


def resize(mode: str, where: str, **attrs) -> tuple[list, dict]:
    """nn.Upsample(scale_factor=2, mode=...): Resize with an empty roi and scales."""
    nodes = [node("Resize", ["x", "", "scales"], ["y"], mode=mode,
                  coordinate_transformation_mode=where, **attrs)]
    return nodes, {"scales": np.array([1, 1, 2, 2], np.float32)}


@pytest.mark.parametrize("nodes, weights, step", [
    (*resize("linear", "half_pixel"), "upsample 2 bilinear"),
    (*resize("nearest", "asymmetric", nearest_mode="floor"), "upsample 2"),
], ids=["bilinear", "nearest"])
def test_resize_by_two(tmp_path, nodes, weights, step):
    steps = check(model(nodes, weights), tmp_path)
    assert steps.endswith(f"input 8x8x3 -> {step}")


# -- sizes ----------------------------------------------------------------------------------

def test_a_dynamic_batch_axis_imports(tmp_path):
    """torch.onnx.export(..., dynamic_axes={"x": {0: "N"}})."""
    c, w = conv("x", "y", 4, 3, pads=[1, 1, 1, 1])
    onnx_model = model([c], w, x=("N", 3, 8, 8))
    steps = check(onnx_model, tmp_path, batch((3, 3, 8, 8)))
    assert steps.endswith("input 8x8x3 -> conv 3 x4 pad=1")


def test_open_spatial_sizes_need_input_shape(tmp_path):
    c, w = conv("x", "y", 4, 3, pads=[1, 1, 1, 1])
    onnx_model = model([c], w, x=("N", 3, "H", "W"))
    source = saved(onnx_model, tmp_path)
    rc, out, err = cli("import", source, "-o", tmp_path / "m.cnn")
    assert (rc, out) == (1, "")
    assert err.startswith(f"{source}: error: ") and "--input-shape" in err, err
    assert err.splitlines()[-1].startswith("hint: ") and not (tmp_path / "m.cnn").exists()
    rc, _, err = cli("import", source, "-o", tmp_path / "m.cnn", "--input-shape", "8x8x3")
    assert rc == 0, err
    assert written((tmp_path / "m.cnn").read_text()).endswith("input 8x8x3 -> conv 3 x4 pad=1")
    agree(onnx_model, imported(onnx_model, tmp_path, input_sizes={None: (8, 8, 3)}),
          batch((2, 3, 8, 8)))


# -- external data ----------------------------------------------------------------------------

def with_external_data(onnx_model: onnx.ModelProto, folder: Path) -> Path:
    """The model saved as PyTorch's dynamo exporter saves a large one: its weights in
    `m.onnx.data` beside `m.onnx`."""
    copy = onnx.ModelProto()
    copy.CopyFrom(onnx_model)  # saving moves the weights out of the proto
    folder.mkdir(exist_ok=True)
    path = folder / "m.onnx"
    onnx.save_model(copy, path, save_as_external_data=True, all_tensors_to_one_file=True,
                    location="m.onnx.data", size_threshold=0)
    return path


def test_external_data_beside_the_model(tmp_path):
    c, w = conv("x", "y", 4, 3, pads=[1, 1, 1, 1])
    onnx_model = model([c], w)
    path = with_external_data(onnx_model, tmp_path)
    assert (tmp_path / "m.onnx.data").stat().st_size == sum(a.nbytes for a in w.values())
    agree(onnx_model, import_model(path), batch((2, 3, 8, 8)))


def relocated(path: Path, location: str) -> None:
    """The model at `path` with its tensors' external data said to be at `location`."""
    stored = onnx.load_model(path, load_external_data=False)
    for tensor in stored.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = location
    path.write_bytes(stored.SerializeToString())


# -- refusals -------------------------------------------------------------------------------

def conv_relu() -> onnx.ModelProto:
    c, w = conv("x", "c", 4, 3, pads=[1, 1, 1, 1])
    return model([c, node("Relu", ["c"], ["y"])], w)


def unknown_operator(folder: Path) -> Path:
    """torch.einsum, which has no cnndsl step."""
    return saved(model([node("Einsum", ["x"], ["y"], equation="nchw->nchw")]), folder)


def truncated(folder: Path) -> Path:
    path = saved(conv_relu(), folder)
    path.write_bytes(path.read_bytes()[:100])
    return path


def not_onnx(folder: Path) -> Path:
    path = folder / "m.onnx"
    path.write_text("input 8x8x3 -> conv 3 x4\n")
    return path


def out_of_order(folder: Path) -> Path:
    """The Relu before the Conv that computes its input."""
    onnx_model = conv_relu()
    nodes = list(onnx_model.graph.node)
    del onnx_model.graph.node[:]
    onnx_model.graph.node.extend(reversed(nodes))
    return saved(onnx_model, folder)


def cycle(folder: Path) -> Path:
    """y = relu(x + y): the Add reads the Relu's output, the Relu the Add's."""
    nodes = [node("Add", ["x", "y"], ["a"]), node("Relu", ["a"], ["y"])]
    return saved(model(nodes), folder)


def data_outside(folder: Path) -> Path:
    path = with_external_data(conv_relu(), folder / "model")
    shutil.move(folder / "model" / "m.onnx.data", folder / "outside.bin")
    relocated(path, "../outside.bin")
    return path


def data_at_an_absolute_path(folder: Path) -> Path:
    path = with_external_data(conv_relu(), folder)
    relocated(path, str(folder / "m.onnx.data"))  # the file is there, but said absolutely
    return path


def data_missing(folder: Path) -> Path:
    path = with_external_data(conv_relu(), folder)
    relocated(path, "weights.bin")
    return path


def depth_to_space_dcr(folder: Path) -> Path:
    """TensorFlow's depth_to_space order, as tf2onnx writes it."""
    d2s = node("DepthToSpace", ["x"], ["y"], blocksize=2, mode="DCR")
    return saved(model([d2s], x=(2, 8, 3, 3)), folder)


def computed_kernel(folder: Path) -> Path:
    """F.conv2d(x, w) with `w` given as a second input."""
    conv_node = node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3])
    return saved(model([conv_node], more_inputs={"w": (4, 3, 3, 3)}), folder)


REFUSALS = [
    (unknown_operator, "(Einsum): cnndsl has no step for this operator"),
    (truncated, "not an ONNX model"),
    (not_onnx, "not an ONNX model"),
    (out_of_order, "is computed by no node before it"),
    (cycle, "or has a cycle"),
    (data_outside, "outside the model's folder"),
    (data_at_an_absolute_path, "not a path relative to the model"),
    (data_missing, "cannot be read"),
    (depth_to_space_dcr, "mode DCR"),
    (computed_kernel, "its kernel (input 2) is computed, not a constant"),
]


@pytest.mark.parametrize("make, phrase", REFUSALS, ids=[f.__name__ for f, _ in REFUSALS])
def test_refused(tmp_path, make, phrase):
    source = make(tmp_path)
    output = tmp_path / "net.cnn"
    before = sorted(p.name for p in tmp_path.rglob("*"))
    rc, out, err = cli("import", source, "-o", output, "--weights-out", tmp_path / "w.npz")
    assert (rc, out) == (1, "")
    first, *rest = err.splitlines()
    assert first.startswith(f"{source}: error: ") and phrase in first, err
    assert rest and rest[-1].startswith("hint: "), err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before, "something was written"

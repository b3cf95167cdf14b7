"""Version 3's normalisations, PReLU and activations in the ONNX export: each written with
ONNX's own operators (GroupNormalization composed of ReduceMean and others;
InstanceNormalization, LRN, PRelu, Elu/Celu with alpha, Gelu tanh from opset 20, Mish
from 18, Softsign, LogSoftmax, Clip), the model checked with full shape inference
(`build_model` runs `onnx.checker` with full_check), and onnxruntime equal to the NumPy
interpreter on weights drawn away from their initial values. `lrn` of an even size is
the case where ONNX's window and PyTorch's differ (hand-worked below), composed of an
AveragePool over the channels.
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx_check import check_inferred_shapes, ort, relative_error, run_onnx
from zoo import lively_weights

from cnndsl import compile_text
from cnndsl.backends.numpy import Interpreter

if ort is None:  # pragma: no cover - depends on the installation
    pytest.skip("onnx and onnxruntime are not installed: pip install 'cnndsl[onnx]'",
                allow_module_level=True)

from cnndsl.backends.onnx import DEFAULT_OPSET, MIN_OPSET, build_model  # noqa: E402

RTOL = 2e-5


def agree(text, opset=DEFAULT_OPSET, scale=2.0):
    graph = compile_text(text, "v3")
    weights = lively_weights(graph)
    model = build_model(graph, weights, opset)
    assert check_inferred_shapes(graph, model) >= 1
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((2, *graph.input.shape)) * scale + 0.5).astype(np.float32)
    want = Interpreter(graph, weights).run(x)
    (got,) = run_onnx(graph, model, [x])
    assert got.shape == want.shape
    err = relative_error(got, want)
    assert err <= RTOL, f"onnxruntime differs from NumPy by {err:.3g}"
    return model


def ops(model) -> set[str]:
    return {n.op_type for n in model.graph.node}


SPECS = [
    "input 6x6x8 -> conv 3 x8 same -> groupnorm 4 -> relu",
    "input 6x6x8 -> groupnorm 2 eps=1e-5 affine=false -> conv 1 x4",
    "input 12 -> dense 8 -> groupnorm 4",
    "input 5x6 -> conv 3 x6 -> groupnorm 3",
    "input 4x4x3x4 -> groupnorm 2",
    "input 6x6x3 -> conv 3 x5 same -> instancenorm eps=1e-5",
    "input 6x6x5 -> instancenorm affine=false",
    "input 5x5x7 -> conv 1 x7 -> lrn 5 alpha=0.01 beta=0.75 k=2",
    "input 5x5x7 -> lrn 4 alpha=0.1 beta=0.5 k=1",
    "input 5x5x6 -> lrn 2 alpha=1 beta=1 k=1",
    "input 6x6x4 -> conv 3 x4 same -> prelu",
    "input 6x6x4 -> prelu shared -> conv 1 x2",
    "input 10 -> dense 6 -> prelu",
    "input 8x3 -> prelu",
]


@pytest.mark.parametrize("text", SPECS)
@pytest.mark.parametrize("opset", [MIN_OPSET, DEFAULT_OPSET, 18, 20])
def test_normalisations_and_prelu(text, opset):
    model = agree(text, opset)
    if "groupnorm" in text:
        assert "ReduceMean" in ops(model)  # composed: see norm_layers's docstring
    if "lrn 5" in text:
        assert "LRN" in ops(model)
    if "prelu" in text:
        assert "PRelu" in ops(model)
    if "instancenorm" in text:
        assert "InstanceNormalization" in ops(model)


ACTIVATIONS = ("input 6x6x3 -> conv 3 x6 same elu=0.5 -> celu=2 -> celu -> mish -> "
               "softsign -> gelu=tanh -> clip=-0.5,0.75 -> log_softmax -> flatten -> "
               "dense 5 celu=0.5 -> log_softmax")


@pytest.mark.parametrize("opset", [MIN_OPSET, DEFAULT_OPSET, 18, 20])
def test_every_version_3_activation(opset):
    model = agree(ACTIVATIONS, opset, scale=3.0)
    names = ops(model)
    assert {"Elu", "Celu", "Softsign", "LogSoftmax", "Clip"} <= names
    assert ("Mish" in names) == (opset >= 18) and ("Gelu" in names) == (opset >= 20)


@pytest.mark.parametrize("word", ["elu=2", "celu=0.5", "gelu=tanh", "mish", "softsign",
                                  "clip=0,6", "log_softmax"])
def test_fused_into_a_conv(word):
    agree(f"input 6x6x3 -> conv 3 x4 same {word}", scale=4.0)


def test_even_lrn_window_by_hand():
    # channels (1, 2, 3), lrn 2 alpha=2 beta=1 k=1: PyTorch's window is the channel and
    # the one before: 1/(1 + 1), 2/(1 + 5), 3/(1 + 13), where ONNX's own LRN would take
    # the channel and the one after
    graph = compile_text("input 1x3 -> lrn 2 alpha=2 beta=1 k=1", "lrn")
    model = build_model(graph, {})
    (got,) = run_onnx(graph, model, [np.array([[[1.0, 2.0, 3.0]]], np.float32)])
    np.testing.assert_allclose(got[0, 0], [1 / 2, 2 / 6, 3 / 14], rtol=1e-6)


def test_every_node_is_named_after_its_layer():
    """Each ONNX node a version 3 step makes carries its layer's name, the whole node or
    before a `/` (as version 1's do), so a node in a runtime's profile or error is found
    in the spec; the composed ones (group norm's statistics, gelu=tanh before opset 20,
    pixel shuffle's reshape) included (found by mutation testing)."""
    graph = compile_text("input 6x6x8 -> conv 3 x8 same -> groupnorm 4 -> gelu=tanh "
                         "-> lrn 2 -> prelu -> pixel_shuffle 2 -> mish", "v3")
    model = build_model(graph, lively_weights(graph), MIN_OPSET)
    layers = {n.name for n in graph.nodes}
    unnamed = [(n.op_type, n.name) for n in model.graph.node
               if n.name.split("/")[0] not in layers]
    assert unnamed == []
    made = {n.name.split("/")[0] for n in model.graph.node}
    assert made - {"input"} == layers - {"input"}  # and every layer makes a node

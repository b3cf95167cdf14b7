"""Version 3's padding in Keras: built exactly from Keras's own layers, or refused at the
step with the reason and the backends that run it.

Each built network runs in Keras with random weights and must compute what the NumPy
interpreter computes in float64 (the reference, itself held to a slow oracle in
tests/test_numpy_padding.py); the `--emit python` source must build the same layers.
Keras only (skipped without TensorFlow); every network is tiny, one model each.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # see tests/test_classics_keras.py
keras = pytest.importorskip(
    "keras", reason="TensorFlow/Keras not installed: pip install 'cnndsl[keras]'")

from cnndsl import compile_text  # noqa: E402
from cnndsl.backends.keras.builder import build_model  # noqa: E402
from cnndsl.backends.keras.source import python_source  # noqa: E402
from cnndsl.backends.numpy import Interpreter  # noqa: E402
from cnndsl.errors import CnnError  # noqa: E402


def _weights(graph, seed=0):
    rng = np.random.default_rng(seed)
    return {f"{n.name}/{name}": rng.uniform(-1, 1, var.shape).astype(np.float32)
            for n in graph.nodes for name, var in n.layer.variables(n.in_shapes).items()}


BUILT = {
    # conv/dwconv/sepconv with pad=: ZeroPadding + valid; even sizes, where `same` differs
    "images": ("input 8x8x3 -> conv 3/2 x4 pad=1 relu -> dwconv 3 pad=0:1x2 "
               "-> sepconv 3 x4 pad=1 -> pad 1 -> avgpool 3/2 pad=1 include_pad "
               "-> conv 1 x4 pad=1 -> avgpool 2 same include_pad",
               ["ZeroPadding2D", "Conv2D", "ZeroPadding2D", "DepthwiseConv2D",
                "ZeroPadding2D", "SeparableConv2D", "ZeroPadding2D", "ZeroPadding2D",
                "AveragePooling2D", "ZeroPadding2D", "Conv2D", "ZeroPadding2D",
                "AveragePooling2D"]),
    # pad= that pads as `same` does: Keras's own `same` (minus infinity, real inputs only)
    # (15 -> 8 -> 4 -> 2 -> 1; 7x6 -> 4x3, where `same` pads 1:1 and 0:1)
    "same pools": ("input 15x15x2 -> maxpool 3/2 pad=1 -> maxpool 3/2 ceil -> avgpool 2 ceil "
                   "-> avgpool 3/2 ceil",
                   ["MaxPooling2D", "MaxPooling2D", "AveragePooling2D", "AveragePooling2D"]),
    "same average": ("input 7x6x2 -> avgpool 3/2 pad=1x0:1", ["AveragePooling2D"]),
    # causal: Keras's own for Conv1D, a ZeroPadding before the others
    "causal": ("input 12x3 -> conv 3 x4 causal dilation=2 -> dwconv 3 causal "
               "-> sepconv 2 x4 causal -> maxpool 3/2 ceil",
               ["Conv1D", "ZeroPadding1D", "DepthwiseConv1D", "ZeroPadding1D",
                "SeparableConv1D", "MaxPooling1D"]),
    # deconv: Keras's `valid` with output_padding, then a Cropping of what pad= cuts
    "deconv": ("input 5x5x3 -> deconv 3/2 x4 pad=1 outpad=1 relu -> deconv 4/2 x2 pad=1 "
               "-> deconv 3/3 x2 pad=0 outpad=2 -> deconv 3/2x1 x2 pad=0:1x1",
               ["Conv2DTranspose", "Cropping2D", "Conv2DTranspose", "Cropping2D",
                "Conv2DTranspose", "Conv2DTranspose", "Cropping2D"]),
    "volumes": ("input 4x5x6x2 -> conv 3 x2 pad=1x0x2 -> deconv 2/2 x2 pad=1x0x0 outpad=1x0x0"
                " -> pad 1",
                ["ZeroPadding3D", "Conv3D", "Conv3DTranspose", "Cropping3D",
                 "ZeroPadding3D"]),
}


@pytest.mark.parametrize("name", sorted(BUILT))
def test_keras_computes_what_numpy_computes(name):
    text, classes = BUILT[name]
    graph = compile_text(text)
    weights = _weights(graph)
    model = build_model(graph, weights)
    assert [type(layer).__name__ for layer in model.layers[1:]] == classes
    assert tuple(model.output.shape[1:]) == graph.output.shape
    x = np.random.default_rng(1).uniform(-3, 3, (2, *graph.input.shape)).astype(np.float32)
    want = Interpreter(graph, weights, dtype=np.float64).run(x.astype(np.float64))
    got = np.asarray(model(x))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
    # the Python source builds the same layers, in the same order, with the same shapes
    namespace: dict = {}
    exec(compile(python_source(graph), "<source>", "exec"), namespace)  # our own output
    built = next(v for k, v in namespace.items() if k.startswith("build_"))()
    assert [(type(a).__name__, a.name, tuple(a.output.shape)) for a in built.layers] == \
        [(type(b).__name__, b.name, tuple(b.output.shape)) for b in model.layers]


@pytest.mark.parametrize("text, words", [
    # Keras's `same` pads 0:1 on 8 with window 3 / 2, pad=1 pads 1:1
    ("input 8x8x2 -> maxpool 3/2 pad=1", ["maxpool 3x3/2x2 pad=1", "minus infinity",
                                          "`pad=0:1`", "not `pad=1`"]),
    ("input 8x8x2 -> avgpool 3/2 pad=1", ["only the real inputs"]),
    # ceil((6 + 2 - 3) / 2) + 1 = 4 windows, `same` makes 3
    ("input 6x6x2 -> maxpool 3/2 pad=1 ceil", ["not `pad=1 ceil`"]),
    ("input 7x7x2 -> maxpool 4/2 ceil", ["not `valid ceil`"]),
    # the 4th window starts at 6 - 1 = 5 and overhangs the padded 8 by 1
    ("input 6x6x1 -> avgpool 3/2 pad=1 ceil include_pad", ["overhangs the padded input"]),
    ("input 5x5x1 -> pad 1 reflect", ["pads by `reflect`"]),
    ("input 5x5x1 -> pad 2 replicate", ["pads by `replicate`"]),
])
def test_what_keras_cannot_pad_is_refused_at_the_step(text, words):
    graph = compile_text(text + "\n")
    with pytest.raises(CnnError) as caught:
        build_model(graph)
    error = caught.value
    assert (error.span.line, error.span.column) == (1, text.index("->") + 4)
    assert "the Keras backend cannot build" in error.message
    for word in words:
        assert word in error.message, error.message
    assert "cnndsl run" in error.hint and "onnx" in error.hint
    with pytest.raises(CnnError):  # the Python source refuses it too
        python_source(graph)

"""The classic networks of examples/ against the live `keras.applications` models.

examples/vgg16.cnn, resnet50.cnn, mobilenet_v2.cnn and densenet121.cnn are written to be
`keras.applications.X(weights=None)` (include_top=True, 224x224x3). Built with
`build_model(graph, weights)`, each must have exactly Keras's parameter count, trainable /
non-trainable split and output shape, and the same layers in the same order: the list of
(layer kind, output shape, params) of our model equals Keras's after the InputLayer.
Equal shapes and counts cannot see a misplaced activation, batch norm or bias, so the
weights are then copied layer by layer into the Keras model and both must compute the
same function, and the NumPy interpreter the same numbers.

Keras only (skipped without TensorFlow). Each model pair is built once, by a module-scoped
fixture parametrised over the four networks (pytest groups the tests by model, so at most
one pair is alive at a time: VGG16 alone is 138M parameters).
"""

from __future__ import annotations

import gc
import os
from math import prod
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# TensorFlow's oneDNN conv2d is wrong for some strided single-channel inputs (see
# tests/test_differential.py); off before TensorFlow loads, so every Keras test of this
# session uses the same, correct kernels whichever file is collected first.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
keras = pytest.importorskip(
    "keras", reason="TensorFlow/Keras not installed: pip install 'cnndsl[keras]'")

from zoo import lively  # noqa: E402

from cnndsl import analyse, compile_file  # noqa: E402
from cnndsl.backends.keras.builder import build_model  # noqa: E402
from cnndsl.backends.numpy.interpreter import Interpreter  # noqa: E402
from cnndsl.backends.weights import init_weights  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# example name -> (keras.applications function, published params, trainable)
CLASSICS = {
    "vgg16": ("VGG16", 138_357_544, 138_357_544),
    "resnet50": ("ResNet50", 25_636_712, 25_583_592),
    "mobilenet_v2": ("MobileNetV2", 3_538_984, 3_504_872),
    "densenet121": ("DenseNet121", 8_062_504, 7_978_856),
}

# Keras classes that compute what one of ours computes under another class: MobileNetV2
# writes its ReLU6 as `ReLU(6.0)`, cnndsl as `Activation("relu6")`.
SAME_KIND = {"ReLU": "Activation"}


class Pair:
    """One example compiled and built, next to its keras.applications model."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.graph, _ = compile_file(EXAMPLES / f"{name}.cnn")
        self.weights = _weights(self.graph)
        self.ours = build_model(self.graph, self.weights)
        self.theirs = getattr(keras.applications, CLASSICS[name][0])(weights=None)


def _weights(graph) -> dict[str, np.ndarray]:
    """`init_weights(graph, 0)` with every bias and batch-norm variable moved off Keras's
    initial value (zero biases and an identity batch norm would hide a misplaced one)."""
    return lively(init_weights(graph, 0), np.random.default_rng(1))


@pytest.fixture(scope="module", params=list(CLASSICS))
def pair(request):
    built = Pair(request.param)
    yield built
    del built
    keras.backend.clear_session()
    gc.collect()


def _count(variables) -> int:
    return sum(prod(int(d) for d in v.shape) for v in variables)


def _layers(model) -> list[tuple[str, tuple, int]]:
    """(kind, output shape, params) of every layer after the InputLayer, in Keras's order."""
    return [(SAME_KIND.get(type(layer).__name__, type(layer).__name__),
             tuple(layer.output.shape[1:]), layer.count_params())
            for layer in model.layers if type(layer).__name__ != "InputLayer"]


def test_parameter_counts_equal_keras_applications(pair):
    _, total, trainable = CLASSICS[pair.name]
    theirs = pair.theirs
    assert theirs.count_params() == total  # the published numbers, as a sanity check
    assert pair.ours.count_params() == theirs.count_params()
    assert _count(pair.ours.trainable_weights) == _count(theirs.trainable_weights) == trainable
    assert _count(pair.ours.non_trainable_weights) == _count(theirs.non_trainable_weights) \
        == total - trainable
    stats = analyse(pair.graph)
    assert (stats.params, stats.total("trainable")) == (total, trainable)


def test_output_shape_equals_keras_applications(pair):
    assert tuple(pair.ours.output.shape) == tuple(pair.theirs.output.shape) == (None, 1000)
    assert tuple(pair.ours.input.shape) == tuple(pair.theirs.input.shape)
    assert pair.graph.output.shape == (1000,)


def test_layer_by_layer_equals_keras_applications(pair):
    """Same layers in the same order. Both are Keras functional models and Keras orders
    layers by its own topological sort of the graph, so equal graphs give equal lists even
    where branches meet (ResNet's shortcut is the first branch of each projection block,
    as keras.applications creates it first); the multiset is compared first, so a failure
    says whether a layer differs or only the order does."""
    ours, theirs = _layers(pair.ours), _layers(pair.theirs)
    assert len(ours) == len(theirs)
    assert sorted(ours) == sorted(theirs), "the layers differ, not only their order"
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert a == b, (f"layer {i + 1}: ours {pair.ours.layers[i + 1].name} {a}, keras "
                        f"{pair.theirs.layers[i + 1].name} {b}")


def test_same_function_as_keras_applications(pair):
    """Our weights copied into the keras.applications model layer by layer: both Keras
    models give the same output, and the NumPy interpreter the same numbers."""
    for mine, theirs in zip(pair.ours.layers, pair.theirs.layers):
        theirs.set_weights(mine.get_weights())  # raises if any shape differs
    rng = np.random.default_rng(2)
    x = rng.uniform(-1.0, 1.0, (2, *pair.graph.input.shape)).astype(np.float32)
    expected = np.asarray(pair.theirs(x, training=False))
    got = np.asarray(pair.ours(x, training=False))
    # The outputs are softmaxes over 1000 classes (values near 1e-3), so the logits'
    # inputs, the globally pooled features, are compared too.
    penultimate = [keras.Model(m.input, m.layers[-2].output) for m in (pair.ours, pair.theirs)]
    features = [np.asarray(p(x, training=False)) for p in penultimate]
    assert np.max(np.abs(got - expected)) <= 1e-5 * np.max(np.abs(expected))
    assert np.max(np.abs(features[0] - features[1])) <= 1e-5 * np.max(np.abs(features[1]))

    values = Interpreter(pair.graph, pair.weights, keep=True).run_all(x)
    feature_name = pair.graph.nodes[-2].name
    assert np.max(np.abs(values[feature_name] - features[1])) <= \
        1e-4 * np.max(np.abs(features[1]))
    ours = Interpreter(pair.graph, pair.weights).run(x)
    assert np.max(np.abs(ours - expected)) <= 1e-4 * np.max(np.abs(expected))

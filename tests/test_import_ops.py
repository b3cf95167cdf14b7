"""`cnndsl import` of Keras operations on tensors and of keras.applications' own layers.

MobileNetV3 writes its hard sigmoid as `ReLU(6.0)(x + 3.0) * (1.0 / 6.0)`, operations on
tensors rather than layers; ConvNeXt sums with `inputs + x` and has layers of its own
(LayerScale, StochasticDepth). Small functional models use every form the importer reads
(each hard-sigmoid and hard-swish spelling, the merge operations, activation operations,
LayerScale, StochasticDepth, nested Sequential models); near misses (another constant, a
tensor inside the chain read twice, an operation with no merge, broadcasting no merge
does) are refused naming the operation and its class. Then MobileNetV3Small (weights=None,
32x32) through the whole command; the keras.applications models themselves are rows of
tests/test_applications.py. Every expected value comes from Keras: its counts,
`model.predict`.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_import import (
    ROOT,
    TOLERANCE,
    Imported,
    _refused,
    counts,
    randomised,
    relative_error,
    split,
)


def scaled(model, seed: int = 0):
    """`randomised`, and LayerScale's gamma moved off its 1e-6 (which would hide the
    branch it scales) to around 1."""
    randomised(model, seed)
    rng = np.random.default_rng(seed + 1)
    for layer in _leaves(model):
        if type(layer).__name__ == "LayerScale":
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(np.float32)
                               for w in layer.get_weights()])
    return model


def _leaves(model) -> list:
    out = []
    for layer in model.layers:
        out += _leaves(layer) if hasattr(layer, "layers") else [layer]
    return out


def operations(model) -> int:
    """Keras's operations, layers and operations on tensors alike, nested models inlined,
    the inputs left out."""
    total = 0
    for op in getattr(model, "operations", None) or model.layers:  # Sequential: layers
        if hasattr(op, "layers"):
            total += operations(op)
        elif type(op).__name__ != "InputLayer":
            total += 1
    return total


def activations(graph, name: str) -> int:
    return sum(1 for n in graph.nodes if n.kind == "activation"
               and n.layer.function.name == name)


def check(keras, imported: Imported, folded: int) -> float:
    """Keras's counts and output shape; the graph has Keras's operations less the
    `folded` nodes that chains of them became one step; `cnndsl run` and the text
    compiled back to Keras compute `model.predict`. Returns the worst relative error."""
    from cnndsl.cli import main

    model, graph = imported.model, imported.graph
    assert split(graph) == counts(model)
    assert graph.output.shape == tuple(model.output_shape[1:])
    assert len(graph.nodes) - 1 == operations(model) - folded
    x = imported.batch()
    np.save(imported.where / "x.npy", x)
    expected = model.predict(x, verbose=0)
    assert main(["run", str(imported.cnn), "--weights", str(imported.npz), "-i",
                 str(imported.where / "x.npy"), "-o", str(imported.where / "y.npy")]) == 0
    ours = relative_error(np.load(imported.where / "y.npy"), expected)
    back = imported.where / "back.keras"
    assert main(["compile", str(imported.cnn), "--weights", str(imported.npz), "-o",
                 str(back)]) == 0
    again = keras.saving.load_model(back)
    assert counts(again) == counts(model)
    theirs = relative_error(again.predict(x, verbose=0), expected)
    print(f"\n{model.name}: {len(imported.text.splitlines())} lines, relative error "
          f"{ours:.2e} (cnndsl run), {theirs:.2e} (compiled back)")
    assert ours <= TOLERANCE and theirs <= TOLERANCE
    return max(ours, theirs)


# ---- every form read --------------------------------------------------------------------

def hard_gates(keras):
    """The hard sigmoid as Keras's MobileNetV3 writes it and in the other exact spellings
    (constant first, `/ 6`, relu6 as an Activation or an operation), the hard swish as
    `x * hard_sigmoid(x)` by an operation and by a Multiply layer, squeeze-excite as an
    operation, the merge operations and the activation operations."""
    L, ops = keras.layers, keras.ops
    x = keras.Input((8, 8, 4))
    y = L.Conv2D(8, 3, padding="same")(x)
    y = L.ReLU(6.0)(y + 3.0) * (1.0 / 6.0)                      # hard_sigmoid, as Keras
    y = L.Conv2D(8, 1)(y)
    y = L.Activation("relu6")(3.0 + y) / 6.0                    # hard_sigmoid
    y = L.Conv2D(8, 1)(y)
    y = y * (ops.relu6(y + 3.0) * (1.0 / 6.0))                  # hard_swish, an operation
    y = L.Conv2D(8, 1)(y)
    y = L.Multiply()([L.ReLU(max_value=6.0)(y + 3.0) / 6.0, y])  # hard_swish, a layer
    gate = L.Conv2D(8, 1)(L.GlobalAveragePooling2D(keepdims=True)(y))
    y = y * (L.ReLU(6.0)(gate + 3.0) * (1.0 / 6.0))             # squeeze-excite: mul
    y = y + L.Conv2D(8, 1)(y)                                   # add
    y = ops.maximum(L.Conv2D(8, 1)(y), y)                       # max
    y = ops.tanh(ops.silu(ops.relu(L.Conv2D(8, 1)(y))))
    y = ops.hard_silu(ops.hard_sigmoid(ops.softplus(ops.sigmoid(L.Conv2D(8, 1)(y)))))
    y = ops.relu6(L.Conv2D(8, 1)(y))
    y = L.Dense(5)(L.GlobalAveragePooling2D()(y))
    return keras.Model(x, y, name="hard_gates")


def test_hard_gates_and_operations_import_exactly(keras, tmp_path):
    imported = Imported(randomised(hard_gates(keras)), tmp_path)
    graph = imported.graph
    # three nodes became hard_sigmoid (three times), four hard_swish (twice)
    check(keras, imported, folded=3 * 2 + 2 * 3)
    assert activations(graph, "hard_sigmoid") == 3 + 1  # and one operation
    assert activations(graph, "hard_swish") == 2 + 1
    kinds = [n.kind for n in graph.nodes]
    assert (kinds.count("mul"), kinds.count("add"), kinds.count("max")) == (1, 1, 1)
    for word in ("relu", "relu6", "tanh", "silu", "softplus", "sigmoid"):
        assert activations(graph, word) >= 1, word
    assert "mul {" in imported.text and "hard_swish" in imported.text


def convnext_like(keras):
    """ConvNeXt's parts at a small size: the preprocessing Normalization, a nested
    Sequential stem, LayerNormalization, Dense on an image, LayerScale, StochasticDepth
    (and its inference identity, Activation("linear")), `inputs + x`."""
    from keras.src.applications.convnext import LayerScale, StochasticDepth

    L = keras.layers
    x = keras.Input((8, 8, 3))
    y = L.Normalization(mean=[120.0, 110.0, 100.0], variance=[3400.0, 3200.0, 3300.0])(x)
    stem = keras.Sequential([L.Conv2D(8, 2, strides=2), L.LayerNormalization(epsilon=1e-6)],
                            name="stem")
    y = stem(y)
    for i, drop in enumerate((0.0, 0.25)):
        z = L.Conv2D(8, 3, padding="same", groups=8)(y)
        z = L.LayerNormalization(epsilon=1e-6)(z)
        z = L.Dense(16, activation="gelu")(z)
        z = L.Dense(8)(z)
        z = LayerScale(1e-6, 8, name=f"scale_{i}")(z)
        z = StochasticDepth(drop)(z) if drop else L.Activation("linear")(z)
        y = y + z
    s = L.Conv1D(4, 1)(L.Reshape((16, 8))(y))
    s = LayerScale(0.1, 4)(s)                                   # a sequence: dwconv 1 in 1-D
    y = L.Dense(3)(L.LayerNormalization()(L.GlobalAveragePooling1D()(s)))
    return keras.Model(x, y, name="convnext_like")


def test_convnext_parts_import_exactly(keras, tmp_path):
    imported = Imported(scaled(convnext_like(keras)), tmp_path, "--no-fold")
    check(keras, imported, folded=0)
    text = " ".join(imported.text.split())
    assert text.count("dwconv 1 bias=false") == 3 and "dropout 0.25 noise=1x1x1" in text
    assert "residual {" in text or "add {" in text
    weights = np.load(imported.npz)
    gamma = imported.model.get_layer("scale_1").get_weights()[0]
    (kernel,) = [v for k, v in weights.items() if k.endswith("depthwise_kernel")
                 and v.shape == (1, 1, 8, 1) and np.array_equal(v.ravel(), gamma)]
    assert kernel.shape == (1, 1, 8, 1)


# ---- near misses: refused, naming the operation -----------------------------------------

def _near_misses(keras):
    L, ops = keras.layers, keras.ops

    def model(build, shape=(4, 4, 2)):
        x = keras.Input(shape)
        return keras.Model(x, build(L.Conv2D(2, 1, name="c")(x)))

    def twice(t):
        u = t + 3.0
        return L.ReLU(6.0)(u) * (1.0 / 6.0) + u

    return [
        # (model, phrases in the error, in the hint)
        (model(lambda t: L.ReLU(6.0)(t + 2.0) * (1.0 / 6.0)), ["(Add)", "`c + 2.0`",
                                                            "with a constant"], "hard_sigmoid"),
        (model(lambda t: L.ReLU(6.0)(t + 3.0) * 0.2), ["(Add)", "`c + 3.0`"], "Rescaling"),
        (model(lambda t: L.ReLU(5.0)(t + 3.0) / 6.0), ["(Add)", "`c + 3.0`"], "hard_sigmoid"),
        (model(lambda t: 6.0 / L.ReLU(6.0)(t + 3.0)), ["(Add)"], "hard_sigmoid"),
        (model(twice), ["(Add)", "`c + 3.0`"], "hard_sigmoid"),
        (model(lambda t: t - L.Conv2D(2, 1, name="d")(t)), ["(Subtract)", "`c - d`",
                                                          "no step for this Keras operation"],
         "merges"),
        (model(lambda t: ops.leaky_relu(t)), ["(LeakyRelu)", "`leaky_relu(c"], "merges"),
        (model(lambda t: t + L.Dense(2, name="v")(L.GlobalAveragePooling2D()(t))),
         ["(Add)", "same rank"], "reshape"),
    ]


def test_near_misses_are_refused(keras, tmp_path):
    for i, (model, phrases, hint) in enumerate(_near_misses(keras)):
        where = tmp_path / str(i)
        where.mkdir()
        _refused(keras, where, model, *phrases, hint=hint)


def test_layer_scale_on_a_vector_is_refused(keras, tmp_path):
    from keras.src.applications.convnext import LayerScale

    x = keras.Input((4,))
    model = keras.Model(x, LayerScale(0.5, 4, name="ls")(keras.layers.Dense(4)(x)))
    _refused(keras, tmp_path, model, "layer `ls` (LayerScale)", "vector", hint="dwconv 1")


# ---- keras.applications -----------------------------------------------------------------

# MobileNetV3Small at 32x32 through the whole command (files, `cnndsl run`), its outputs
# compared in the default run. Every keras.applications model, these included, is a row of
# tests/test_applications.py (counts and every layer at the default size; ConvNeXtTiny's
# and MobileNetV3Large's outputs with the thorough profile: ConvNeXtTiny alone took 80 s
# here, and test_convnext_parts_import_exactly covers each of its parts).
APPLICATIONS = {"MobileNetV3Small": "mobilenet_v3_small"}


@pytest.fixture(scope="module", params=sorted(APPLICATIONS))
def application(request, keras, tmp_path_factory):
    model = getattr(keras.applications, request.param)(weights=None, input_shape=(32, 32, 3))
    imported = Imported(scaled(model, seed=3), tmp_path_factory.mktemp(request.param),
                        "--auto-names")
    yield request.param, imported
    keras.backend.clear_session()


def test_applications_import_exactly(keras, application):
    """Each squeeze-excite's hard sigmoid (three Keras nodes) is one step; with
    `--auto-names` the text is folded into blocks, no longer than the hand-written
    example (and its comment lists each layer's Keras name)."""
    name, imported = application
    model, graph = imported.model, imported.graph
    gates = sum(1 for op in model.operations if op.name.endswith("squeeze_excite_mul"))
    assert activations(graph, "hard_sigmoid") == gates
    assert sum(split(graph)) == model.count_params()
    check(keras, imported, folded=2 * gates)
    example = ROOT / "examples" / f"{APPLICATIONS[name]}.cnn"
    assert "def " in imported.text
    body = imported.text.split("\n# Layers named otherwise")[0]
    assert len(body.splitlines()) <= len(example.read_text().splitlines())
    listed = imported.text.split("\n# Layers named otherwise")[1]
    assert " dwconv_1 " in listed and " expanded_conv_depthwise\n" in listed

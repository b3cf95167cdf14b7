"""`cnndsl import`: Keras models as `.cnn` text and weights, checked against Keras itself.

Every expected value comes from the Keras model: its parameter counts, its output shape,
`model.predict` on a random batch. For small Sequential and functional models that use
every v1 layer kind and activation (fused and as layers, nested models, the five merges),
the import must give the same counts, `cnndsl run NET.cnn --weights W.npz` must
reproduce `model.predict` (relative error <= 1e-5), and the text compiled back to Keras
must compute it too. Language version 2: models with several inputs and outputs, a
graph that is not series-parallel (a NASNet-style cell), every new layer and option,
checked the same way with inputs and outputs by name. (The keras.applications models are
rows of tests/test_applications.py.) Then what cannot be imported: a Lambda,
options with no step, a shared layer; each is `MODEL.keras: error: ...` with a hint,
exit 1, nothing written. Without TensorFlow,
the pip command. Keras tests skip without TensorFlow.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from outcomes import cli
from zoo import TOLERANCE, counts, randomised, relative_error, split

from cnndsl import compile_file
from cnndsl.cli import main

ROOT = Path(__file__).resolve().parent.parent
NO_KERAS = "TensorFlow/Keras not installed: pip install 'cnndsl[keras]'"
OLD = b"an existing good file, which no failure may touch"


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


class Imported:
    """A Keras model saved, imported with its weights, and its text compiled."""

    def __init__(self, model, where: Path, *options: str) -> None:
        self.model, self.where = model, where
        self.source = where / f"{model.name}.keras"
        model.save(self.source)
        self.cnn, self.npz = where / f"{model.name}.cnn", where / f"{model.name}.npz"
        rc, out, err = cli("import", self.source, "-o", self.cnn, "--weights-out", self.npz,
                           *options)
        assert rc == 0, err
        self.stdout = out
        self.text = self.cnn.read_text(encoding="utf-8")
        self.graph, _ = compile_file(self.cnn)

    def batch(self, n: int = 4) -> np.ndarray:
        rng = np.random.default_rng(7)
        return rng.normal(0, 2, (n, *self.model.input_shape[1:])).astype(np.float32)


def check_counts_and_outputs(keras, imported: Imported) -> None:
    model, graph = imported.model, imported.graph
    assert split(graph) == counts(model)
    assert graph.output.shape == tuple(model.output_shape[1:])
    assert len(graph.nodes) - 1 == len(_layers(model)), "one cnndsl layer per Keras layer"
    x = imported.batch()
    np.save(imported.where / "x.npy", x)
    expected = model.predict(x, verbose=0)
    rc, _, err = cli("run", imported.cnn, "--weights", imported.npz,
                     "-i", imported.where / "x.npy", "-o", imported.where / "y.npy")
    assert rc == 0, err
    assert relative_error(np.load(imported.where / "y.npy"), expected) <= TOLERANCE
    back = imported.where / "back.keras"
    rc, _, err = cli("compile", imported.cnn, "--weights", imported.npz, "-o", back)
    assert rc == 0, err
    again = keras.saving.load_model(back)
    assert relative_error(again.predict(x, verbose=0), expected) <= TOLERANCE
    assert counts(again) == counts(model)


def check_every_layer(keras, imported: Imported) -> None:
    """Imported again with `--keep-names`: every layer's output (`cnndsl run --layers`)
    equals the Keras layer's of the same name (those of nested models but the last are
    out of the outer model's reach)."""
    where = imported.where / "named"
    where.mkdir()
    rc, _, err = cli("import", imported.source, "-o", where / "n.cnn", "--weights-out",
                     where / "n.npz", "--keep-names")
    assert rc == 0, err
    x = imported.batch()
    np.save(where / "x.npy", x)
    rc, _, err = cli("run", where / "n.cnn", "--weights", where / "n.npz", "-i",
                     where / "x.npy", "-o", where / "y.npy", "--layers", where / "l.npz")
    assert rc == 0, err
    ours = np.load(where / "l.npz")
    outer = [layer for layer in imported.model.layers
             if type(layer).__name__ != "InputLayer" and not hasattr(layer, "layers")]
    probe = keras.Model(imported.model.inputs, [layer.output for layer in outer])
    rc, _, err = cli("compile", where / "n.cnn", "--weights", where / "n.npz", "-o",
                     where / "back.keras")
    assert rc == 0, err
    back = keras.saving.load_model(where / "back.keras")
    for layer, theirs in zip(outer, probe.predict(x, verbose=0)):
        name = layer.name if layer.name in ours else layer.name + "_"  # `add` is a merge word
        assert relative_error(ours[name], theirs) <= TOLERANCE, layer.name
        same_options(layer, back.get_layer(name))


# Options that change what a layer is, though not always what it computes at inference
# (a dropout rate, a batch-norm momentum): compared wherever both configs have them.
OPTIONS = ("filters", "kernel_size", "strides", "padding", "dilation_rate", "groups",
           "use_bias", "activation", "depth_multiplier", "units", "rate", "epsilon",
           "momentum", "negative_slope", "pool_size", "size", "target_shape", "axis")


def same_options(original, compiled) -> None:
    ours, theirs = compiled.get_config(), original.get_config()
    for key in OPTIONS:
        if key in ours and key in theirs:
            a, b = ours[key], theirs[key]
            if key == "strides" and b is None:  # pooling: None is the window
                b = theirs["pool_size"]
            if key == "activation":
                a, b = (("silu" if v == "swish" else v) for v in (a, b))
            assert _plain(a) == _plain(b), f"{original.name}: {key} {a} != {b}"


def _plain(value):
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v) for v in value)
    if isinstance(value, dict):  # a layer as an activation (ELU(alpha=0.5)): not its name
        return {k: _plain(v) for k, v in value.items() if k != "name"}
    return value


def _layers(model) -> list:
    """Keras's layers, nested models inlined, the inputs left out."""
    out = []
    for layer in model.layers:
        if hasattr(layer, "layers"):
            out += _layers(layer)
        elif type(layer).__name__ != "InputLayer":
            out.append(layer)
    return out


# ---- small models: every v1 layer kind and activation -----------------------------------

def sequential_2d(keras):
    """Every 2-D kind with its options, and every activation fused or as a layer; no
    squashing activation near the end, so the outputs tell a wrong step."""
    L = keras.layers
    return keras.Sequential([
        keras.Input((16, 16, 3)),
        L.Conv2D(8, 3, padding="same", activation="relu", dilation_rate=2),
        L.Conv2D(8, 3, strides=2, groups=2, use_bias=False),
        L.BatchNormalization(epsilon=1e-5, momentum=0.9),
        L.LeakyReLU(negative_slope=0.1),
        L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="leaky_relu"),
        L.SeparableConv2D(8, 3, padding="same", activation="swish"),
        L.MaxPooling2D(2, padding="same"),
        L.AveragePooling2D(3, strides=1, padding="same"),
        L.ZeroPadding2D(((0, 1), (0, 1))),
        L.Conv2DTranspose(6, 3, strides=2, padding="same", activation="elu"),
        L.UpSampling2D(2),
        L.ReLU(max_value=6.0),
        L.Dropout(0.3),
        L.Activation("gelu"),
        L.ELU(),
        L.Conv2D(4, (1, 3), strides=(2, 1), activation="hard_sigmoid"),
        L.GlobalMaxPooling2D(),
        L.Dense(12, activation="tanh"),
        L.Reshape((3, 4)),
        L.Conv1D(4, 2, activation="selu"),
        L.Flatten(),
        L.Dense(6, activation="softplus", use_bias=False),
        L.Activation("sigmoid"),
        L.Activation("relu6"),
        L.Dense(5),
    ], name="sequential_2d")


def functional_merges(keras):
    """Every merge, a broadcasting multiply, `add` with the input first (residual) and
    not, a nested functional model and a nested Sequential, both inlined."""
    L = keras.layers
    inner_in = keras.Input((8, 8, 8))
    inner = keras.Model(inner_in, L.Conv2D(8, 3, padding="same", activation="sigmoid")(
        L.BatchNormalization()(inner_in)), name="inner")
    head = keras.Sequential([L.GlobalAveragePooling2D(), L.Dense(4, activation="softmax")],
                            name="head")
    x = keras.Input((8, 8, 3))
    stem = L.Conv2D(8, 3, padding="same", activation="linear")(x)
    residual = L.Add()([stem, L.Conv2D(8, 1)(stem)])
    squeeze = L.Reshape((1, 1, 8))(L.Dense(8, activation="sigmoid")(
        L.GlobalAveragePooling2D()(residual)))
    gated = L.Multiply()([residual, squeeze])
    branch = inner(gated)
    both = L.Average()([L.Conv2D(8, 1, activation="relu")(gated), branch, gated])
    top = L.Maximum()([L.Conv2D(8, 1)(both), both])
    joined = L.Concatenate()([L.MaxPooling2D(2)(top), L.AveragePooling2D(2)(top),
                              L.Conv2D(4, 2, strides=2)(top)])
    return keras.Model(x, head(joined), name="functional_merges")


def volumes_and_sequences(keras):
    """3-D and 1-D layers: the other Keras classes of each kind."""
    L = keras.layers
    x = keras.Input((6, 8, 8, 2))
    y = L.Conv3D(4, 3, padding="same", activation="relu")(x)
    y = L.ZeroPadding3D(1)(y)
    y = L.MaxPooling3D(2)(y)
    y = L.Conv3DTranspose(3, 2, strides=2)(y)
    y = L.AveragePooling3D(2, padding="same")(y)
    y = L.UpSampling3D((1, 2, 2))(y)
    y = L.GlobalAveragePooling3D()(y)
    y = L.Reshape((3, 1))(y)
    y = L.ZeroPadding1D((2, 1))(y)
    y = L.Conv1D(6, 2, padding="same")(y)
    y = L.DepthwiseConv1D(3, padding="same", use_bias=False)(y)
    y = L.SeparableConv1D(4, 2, activation="tanh")(y)
    y = L.Conv1DTranspose(4, 2, strides=2)(y)
    y = L.UpSampling1D(2)(y)
    y = L.MaxPooling1D(2)(y)
    y = L.AveragePooling1D(2, strides=1)(y)
    y = L.GlobalMaxPooling1D()(y)
    y = L.Softmax()(L.Dense(3)(y))
    return keras.Model(x, y, name="volumes_and_sequences")


SMALL = {"sequential_2d": sequential_2d, "functional_merges": functional_merges,
         "volumes_and_sequences": volumes_and_sequences}


@pytest.mark.parametrize("build", sorted(SMALL))
def test_small_models_import_exactly(keras, tmp_path, build):
    imported = Imported(randomised(SMALL[build](keras)), tmp_path)
    check_counts_and_outputs(keras, imported)
    check_every_layer(keras, imported)
    assert imported.stdout.startswith(f"ok: {imported.cnn} (")
    assert leftovers(tmp_path) == []


# ---- version 2: several inputs and outputs, named tensors, the new steps -----------------

def every_v2_layer(keras):
    """Three inputs (a sequence, an image, a volume: every Cropping), two outputs, and
    every version-2 layer and option; the adapted Normalization has statistics of its
    own, the constant ones both one number and one per channel."""
    L = keras.layers
    rng = np.random.default_rng(1)
    seq, img, vol = keras.Input((12, 3), name="seq"), keras.Input((10, 10, 3), name="img"), \
        keras.Input((6, 6, 6, 2), name="vol")
    adapted = L.Normalization(axis=-1, name="adapted")
    adapted.adapt(rng.normal(1.0, 3.0, (64, 10, 10, 3)).astype(np.float32))
    x = L.Rescaling(0.5, offset=-0.25)(img)
    x = adapted(x)
    x = L.Normalization(mean=[0.1, 0.2, 0.3], variance=[1.5, 2.0, 0.5])(x)
    x = L.Normalization(mean=0.2, variance=4.0)(x)
    x = L.Cropping2D(((1, 0), (0, 2)))(x)
    x = L.Conv2D(6, 3, activation="hard_silu")(x)
    x = L.BatchNormalization(scale=False, center=False)(x)
    x = L.BatchNormalization(scale=False)(x)
    x = L.LayerNormalization(epsilon=1e-6)(x)
    x = L.LayerNormalization(center=False)(x)
    x = L.LayerNormalization(scale=False)(x)
    x = L.Dropout(0.3, noise_shape=(None, 1, 1, 6))(x)
    x = L.Dropout(0.3, noise_shape=(None, 1, None, 1))(x)
    x = L.Activation("hard_silu")(x)
    x = L.GlobalAveragePooling2D(keepdims=True)(x)
    x = L.Flatten()(x)
    s = L.Cropping1D((2, 1))(seq)
    s = L.Conv1D(6, 3)(s)
    s = L.GlobalMaxPooling1D(keepdims=True)(s)
    s = L.Reshape((6,))(s)
    v = L.Cropping3D(1)(vol)
    v = L.Conv3D(6, 2)(v)
    v = L.GlobalMaxPooling3D()(v)
    joined = L.Concatenate()([x, s, v])
    first = L.Dense(5, name="first")(joined)
    second = L.Dense(3, name="second")(L.Add()([s, v]))
    return keras.Model([seq, img, vol], [first, second], name="every_v2_layer")


def nasnet_like_cell(keras):
    """Two cells of a NASNet-style network: each reads its input and the previous cell's
    output, so branches share tensors (not series-parallel); two outputs, one of them
    also read further on."""
    L = keras.layers
    x = keras.Input((8, 8, 3), name="image")
    c0 = L.BatchNormalization()(L.Conv2D(8, 3, padding="same", use_bias=False)(x))

    def cell(h, p):
        h = L.Conv2D(8, 1, use_bias=False)(L.ReLU()(h))
        p = L.Conv2D(8, 1, use_bias=False)(L.ReLU()(p))
        a = L.Add()([L.SeparableConv2D(8, 3, padding="same")(h), p])
        b = L.Add()([L.AveragePooling2D(3, strides=1, padding="same")(p), h])
        return L.Concatenate()([p, a, b])

    c1 = cell(c0, x)
    c2 = cell(c1, c0)
    head = L.Dense(4, name="head")(L.GlobalAveragePooling2D()(c2))
    side = L.Dense(2, name="side")(L.GlobalAveragePooling2D()(c1))
    return keras.Model(x, [head, side], name="nasnet_like_cell")


V2 = {"every_v2_layer": every_v2_layer, "nasnet_like_cell": nasnet_like_cell}


def check_several(keras, imported: Imported) -> None:
    """Counts, output shapes, and `cnndsl run` on an `.npz` of inputs by name against
    `model.predict`; then the text compiled back to Keras computes the same."""
    model, graph = imported.model, imported.graph
    assert split(graph) == counts(model)
    shapes = [tuple(s[1:]) for s in model.output_shape] if len(model.outputs) > 1 \
        else [tuple(model.output_shape[1:])]
    assert [n.shape for n in graph.output_nodes] == shapes
    assert len(graph.nodes) - len(graph.inputs) == len(_layers(model))
    rng = np.random.default_rng(7)
    xs = [rng.normal(0, 2, (4, *t.shape[1:])).astype(np.float32) for t in model.inputs]
    expected = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    expected = expected if isinstance(expected, list) else [expected]
    np.savez(imported.where / "x.npz", **{n.name: x for n, x in zip(graph.input_nodes, xs)})
    rc, _, err = cli("run", imported.cnn, "--weights", imported.npz,
                     "-i", imported.where / "x.npz", "-o", imported.where / "y.npz")
    assert rc == 0, err
    ours = np.load(imported.where / "y.npz")
    # `run` writes each output under the spec's name for it (`output @first, @second`)
    for name, theirs in zip(graph.output_names, expected):
        assert relative_error(ours[name], theirs) <= TOLERANCE, name
    back = imported.where / "back.keras"
    rc, _, err = cli("compile", imported.cnn, "--weights", imported.npz, "-o", back)
    assert rc == 0, err
    again = keras.saving.load_model(back)
    assert counts(again) == counts(model)
    for ours_, theirs in zip(again.predict(xs if len(xs) > 1 else xs[0], verbose=0),
                             expected):
        assert relative_error(ours_, theirs) <= TOLERANCE


@pytest.mark.parametrize("build", sorted(V2))
def test_version_2_models_import_exactly(keras, tmp_path, build):
    imported = Imported(randomised(V2[build](keras)), tmp_path)
    assert "output @" in imported.text and " as " in imported.text
    check_several(keras, imported)
    assert leftovers(tmp_path) == []


def test_version_2_models_keep_their_keras_names(keras, tmp_path):
    """`--keep-names` with named tensors: every layer (and each of several inputs) is
    named as in Keras, and still computes what Keras computes."""
    imported = Imported(randomised(every_v2_layer(keras)), tmp_path, "--keep-names")
    from cnndsl.support.escaping import CNN_WORDS as RESERVED

    names = {n.name for n in imported.graph.nodes}
    expected = {layer.name for layer in _layers(imported.model)} | {"seq", "img", "vol"}
    assert {n + "_" if n in RESERVED else n for n in expected} == names  # `add` is a word
    check_several(keras, imported)


def test_adapted_statistics_become_weights(keras, tmp_path):
    """`normalize` keeps mean, variance and count (an int64) as the adapted layer's."""
    imported = Imported(randomised(every_v2_layer(keras)), tmp_path)
    weights = np.load(imported.npz)
    (name,) = [n.name for n in imported.graph.nodes
               if n.kind == "normalize" and n.layer.mean is None]
    layer = imported.model.get_layer("adapted")
    mean, variance, count = (np.asarray(v) for v in layer.get_weights())
    assert np.array_equal(weights[f"{name}/mean"], mean)
    assert np.array_equal(weights[f"{name}/variance"], variance)
    assert weights[f"{name}/count"].dtype == np.int64
    assert int(weights[f"{name}/count"]) == int(count)  # as Keras keeps it
    assert np.allclose(mean, 1.0, atol=0.2) and np.allclose(variance, 9.0, rtol=0.2)
    assert "normalize mean=0.1,0.2,0.3 variance=1.5,2.0,0.5" in imported.text
    # Options that change nothing at inference, so only the text shows them.
    steps = " ".join(imported.text.split())
    assert "dropout 0.3 noise=1x1x6 -> dropout 0.3 noise=1x6x1" in steps, steps


def test_every_activation_and_kind_is_covered(keras):
    """The small models use every step kind and every activation word (hard_swish as
    Keras's hard_silu)."""
    from cnndsl.layers import KINDS
    from cnndsl.layers.activations import FLOPS_PER_ELEMENT

    seen_kinds, seen_acts = set(), set()
    for build in [*SMALL.values(), *V2.values(), every_v3norm_layer]:
        model = build(keras)
        for layer in _layers(model):
            config = layer.get_config()
            act = config.get("activation")  # a name, or a layer's config (ELU(alpha=...))
            seen_acts.add(act["class_name"] if isinstance(act, dict) else act)
            seen_kinds.add(type(layer).__name__)
    assert {"silu", "swish"} & seen_acts and "hard_silu" in seen_acts
    assert set(FLOPS_PER_ELEMENT) - {"silu", "relu", "relu6", "leaky_relu", "elu", "softmax",
                                     "linear", "hard_swish", "clip"} <= seen_acts
    assert "hard_tanh" in seen_acts  # clip=-1,1
    assert {"ReLU", "LeakyReLU", "ELU", "Softmax", "Flatten", "Dropout"} <= seen_kinds
    assert {"LayerNormalization", "Rescaling", "Normalization", "Cropping1D", "Cropping2D",
            "Cropping3D"} <= seen_kinds
    assert {"GroupNormalization", "PReLU"} <= seen_kinds
    # Kinds no one Keras layer is (compile builds them from Reshape, Permute, Cropping1D),
    # and version 3's `pad` (ZeroPadding is `zeropad`; its options are read in padding_v3).
    not_layers = {"pixel_shuffle", "pixel_unshuffle", "channel_shuffle", "split", "part", "pad"}
    # when the catalogue grows, add the new kind to a model above
    assert len([k for k in KINDS if k.kind not in not_layers]) == 30


def test_keep_names_gives_every_layer_its_keras_name(keras, tmp_path):
    imported = Imported(randomised(functional_merges(keras)), tmp_path, "--keep-names")
    from cnndsl.support.escaping import CNN_WORDS as RESERVED

    names = {n.name for n in imported.graph.nodes[1:]}
    expected = {layer.name for layer in _layers(imported.model)}
    assert {n + "_" if n in RESERVED else n for n in expected} == names  # `add` is a word
    assert "def " not in imported.text
    check_counts_and_outputs(keras, imported)


def test_text_to_standard_output(keras, tmp_path):
    model = sequential_2d(keras)
    model.save(tmp_path / "m.keras")
    rc, out, err = cli("import", tmp_path / "m.keras", "-o", "-")
    assert rc == 0, err
    assert out.startswith("# sequential_2d: imported from m.keras")
    assert out.splitlines()[3].startswith("input 16x16x3")
    assert list(tmp_path.iterdir()) == [tmp_path / "m.keras"]


def test_text_to_standard_output_is_the_files_bytes(keras, tmp_path):
    """`-o -` writes what `-o NET.cnn` writes, UTF-8 whatever the terminal's encoding (as
    `compile --emit python -o -` did): on an ASCII terminal, the header's `modèle.keras`
    was `mod\\xe8le.keras`, a name no file has."""
    keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]).save(tmp_path / "modèle.keras")
    terminal = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    with contextlib.redirect_stdout(terminal):
        assert main(["import", str(tmp_path / "modèle.keras"), "-o", "-"]) == 0
    terminal.flush()
    assert cli("import", tmp_path / "modèle.keras")[0] == 0
    written = (tmp_path / "modèle.cnn").read_bytes()
    assert "imported from modèle.keras".encode() in written
    assert terminal.buffer.getvalue() == written


# ---- what cannot be imported ------------------------------------------------------------

def _refused(keras, tmp_path, model, *phrases: str, hint: str = "") -> str:
    """Import `model`: exit 1, `MODEL.keras: error: ...` naming `phrases`, nothing written."""
    source = tmp_path / "m.keras"
    model.save(source)
    (tmp_path / "m.cnn").write_bytes(OLD)
    rc, out, err = cli("import", source, "-o", tmp_path / "m.cnn", "--weights-out",
                       tmp_path / "w.npz")
    assert rc == 1 and out == ""
    first, *rest = err.splitlines()
    assert first.startswith(f"{source}: error: "), err
    for phrase in phrases:
        assert phrase in first, err
    assert rest and rest[-1].startswith("hint: ") and hint in rest[-1], err
    assert (tmp_path / "m.cnn").read_bytes() == OLD and not (tmp_path / "w.npz").exists()
    assert leftovers(tmp_path) == []
    return err


def _model(keras, *layers, shape=(8, 8, 3)):
    return keras.Sequential([keras.Input(shape), *layers])


def test_a_lambda_layer_is_named_with_its_class(keras, tmp_path):
    L = keras.layers
    model = _model(keras, L.Conv2D(2, 3), L.Lambda(lambda t: t * 2, name="double"))
    _refused(keras, tmp_path, model, "layer `double` (Lambda)", "no step",
             hint="Python code")


REFUSED_OPTIONS = [
    # (layers, shape, phrases in the error)
    (lambda L: [L.ReLU(threshold=1.0, name="r")], (4,), ["layer `r` (ReLU)", "threshold"]),
    (lambda L: [L.GroupNormalization(2, center=False, name="g")], (4, 4),
     ["layer `g` (GroupNormalization)", "only one of center and scale"]),
    (lambda L: [L.UpSampling2D(2, interpolation="bicubic", name="u")], (4, 4, 2),
     ["layer `u` (UpSampling2D)", "interpolation='bicubic'"]),
    (lambda L: [L.Conv2D(2, 3, name="c"), L.PReLU(name="p")], (8, 8, 3),
     ["layer `p` (PReLU)", "a slope per position"]),
    # an activation Keras has and cnndsl has not (found by mutation testing: its refusal
    # was reached by no test)
    (lambda L: [L.Dense(3, activation="exponential", name="d")], (4,),
     ["layer `d` (Dense)", "activation `exponential` has no cnndsl equivalent"]),
]


@pytest.mark.parametrize("case", range(len(REFUSED_OPTIONS)))
def test_options_without_a_step_are_refused(keras, tmp_path, case):
    build, shape, phrases = REFUSED_OPTIONS[case]
    _refused(keras, tmp_path, _model(keras, *build(keras.layers), shape=shape), *phrases)


def test_a_graph_that_is_not_series_parallel_imports(keras, tmp_path):
    """m2 reads b, which also feeds m1's branches: written with `as b` and `@b`."""
    L = keras.layers
    x = keras.Input((4, 4, 2))
    a, b = L.Conv2D(2, 1, name="a")(x), L.Conv2D(2, 1, name="b")(x)
    m1 = L.Add(name="m1")([a, b])
    m2 = L.Add(name="m2")([b, m1])
    imported = Imported(randomised(keras.Model(x, m2, name="not_sp")), tmp_path)
    assert "@" in imported.text
    check_counts_and_outputs(keras, imported)


def test_a_shared_layer_is_refused(keras, tmp_path):
    L = keras.layers
    x = keras.Input((4,))
    shared = L.Dense(4, name="twice")
    _refused(keras, tmp_path, keras.Model(x, shared(shared(x))), "layer `twice` (Dense)",
             "more than once")


def test_unknown_sizes_are_refused(keras, tmp_path):
    x = keras.Input((None, None, 3))
    model = keras.Model(x, keras.layers.Conv2D(2, 3)(x))
    _refused(keras, tmp_path, model, "unknown size", hint="--input-shape 224x224x3")


# ---- files, and no TensorFlow -----------------------------------------------------------

def test_file_problems_are_found_before_keras(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("m.keras").write_text("not a model", encoding="utf-8")
    for argv, expected in [
            (["import", "m.h5"], "m.h5: error: legacy HDF5 models are not supported"),
            (["import", "m.keras"], "m.keras: error: the file is not a Keras model"),
            (["import", "nope.keras"], "nope.keras: error: no such file"),
    ]:
        rc, out, err = cli(*argv)
        assert (rc, out) == (1, "") and err.startswith(expected), err
    import zipfile

    with zipfile.ZipFile("ok.keras", "w") as archive:
        archive.writestr("config.json", json.dumps({"class_name": "Sequential", "config": {
            "layers": [{"module": "keras.layers", "class_name": "Lambda",
                        "config": {"name": "fn"}}]}}))
    for argv, expected in [
            (["import", "ok.keras", "-o", "out.txt"], "out.txt: error: -o must name a .cnn"),
            (["import", "ok.keras", "--weights-out", "w.npy"],
             "w.npy: error: --weights-out must name a .npz"),
            (["import", "ok.keras"], "ok.keras: error: layer `fn` (Lambda): cnndsl has no "
             "step"),
    ]:
        rc, out, err = cli(*argv)
        assert (rc, out) == (1, "") and err.startswith(expected), err
    assert sorted(os.listdir()) == ["m.keras", "ok.keras"]


MISSING_TF_SCRIPT = r"""
import json, sys, zipfile
from cnndsl.cli import main
with zipfile.ZipFile("m.keras", "w") as archive:
    archive.writestr("config.json", "{}")
code = main(["import", "m.keras", "-o", "m.cnn"])
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
print(json.dumps({"code": code, "loaded": loaded}))
"""


def test_missing_tensorflow_says_how_to_install_it(tmp_path):
    fake = tmp_path / "fake" / "keras"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named "
                                      "'tensorflow'\", name='tensorflow')\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "fake"), str(ROOT)])}
    result = subprocess.run([sys.executable, "-c", MISSING_TF_SCRIPT], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert json.loads(result.stdout.splitlines()[-1]) == {"code": 1, "loaded": []}
    assert result.stderr.endswith("hint: pip install 'cnndsl[keras]'\n"), result.stderr
    assert "needs TensorFlow" in result.stderr and not (tmp_path / "m.cnn").exists()


def test_keras_operations_and_channels_first_are_refused(keras, tmp_path):
    L = keras.layers
    x = keras.Input((4, 4, 2))
    y = L.Conv2D(2, 1, name="c")(x)
    _refused(keras, tmp_path, keras.Model(x, y - x), "(Subtract)", "no step for this Keras "
             "operation")  # `y + x` is an `add` (tests/test_import_ops.py)
    model = _model(keras, L.Conv2D(2, 1, data_format="channels_first", name="cf"),
                   shape=(2, 4, 4))
    _refused(keras, tmp_path, model, "layer `cf` (Conv2D)", "data_format='channels_first'",
             hint="channels_last")


def test_no_fold_writes_every_layer(keras, tmp_path):
    model = _model(keras, *(keras.layers.Dense(4, activation="relu") for _ in range(3)),
                   shape=(4,))
    model.save(tmp_path / "m.keras")
    rc, out, err = cli("import", tmp_path / "m.keras", "--no-fold")
    assert rc == 0, err
    text = (tmp_path / "m.cnn").read_text(encoding="utf-8")
    assert text.count("dense 4 relu") == 3 and ") * " not in text
    rc, out, err = cli("import", tmp_path / "m.keras", "-o", tmp_path / "f.cnn")
    assert "(dense 4 relu) * 3" in (tmp_path / "f.cnn").read_text(encoding="utf-8")


# ---- version 3: rearranging -------------------------------------------------------------------

def depth_multipliers_and_bilinear(keras):
    """SeparableConv with a depth multiplier in 2-D and 1-D, bilinear upsampling by
    unequal factors: each now a step (`sepconv ... mult=`, `upsample ... bilinear`)."""
    L = keras.layers
    x = keras.Input((6, 5, 3))
    y = L.SeparableConv2D(4, 3, depth_multiplier=2, padding="same", activation="relu")(x)
    y = L.UpSampling2D((2, 3), interpolation="bilinear")(y)
    y = L.Reshape((12 * 15, 4))(y)
    y = L.SeparableConv1D(5, 3, depth_multiplier=3, strides=2)(y)
    y = L.GlobalAveragePooling1D()(y)
    return keras.Model(x, L.Dense(3)(y), name="depth_multipliers_and_bilinear")


def test_version_3_rearranging_layers_import_exactly(keras, tmp_path):
    imported = Imported(randomised(depth_multipliers_and_bilinear(keras)), tmp_path)
    assert "sepconv 3 x4 same relu mult=2" in imported.text
    assert "upsample 2x3 bilinear" in imported.text and "mult=3" in imported.text
    check_counts_and_outputs(keras, imported)
    check_every_layer(keras, imported)

# ---- version 3: padding -------------------------------------------------------------------

def padding_v3_sequence(keras):
    """Conv1D's causal padding (dilated, strided) and transposed convolutions with
    output_padding, `same` and `valid`, becoming `causal` and `pad=`/`outpad=`."""
    L = keras.layers
    x = keras.Input((16, 3))
    y = L.Conv1D(4, 3, padding="causal", dilation_rate=2, activation="relu")(x)
    y = L.Conv1D(4, 3, padding="causal", strides=2)(y)
    y = L.Conv1DTranspose(3, 3, strides=2, padding="same", output_padding=1)(y)
    y = L.Conv1DTranspose(2, 4, strides=3, output_padding=2, activation="tanh")(y)
    y = L.Dense(3)(L.GlobalAveragePooling1D()(y))
    return keras.Model(x, y, name="padding_v3_sequence")


def padding_v3_image(keras):
    L = keras.layers
    x = keras.Input((7, 7, 3))
    y = L.Conv2DTranspose(4, 3, strides=2, padding="same", output_padding=1)(x)
    y = L.Conv2DTranspose(4, 3, strides=2, padding="same", output_padding=0)(y)
    y = L.Conv2DTranspose(2, (3, 2), strides=(2, 3), output_padding=(1, 2))(y)
    y = L.Conv2DTranspose(2, 1, strides=2, padding="same", output_padding=1)(y)
    y = L.Dense(2)(L.Flatten()(L.MaxPooling2D(4)(y)))
    return keras.Model(x, y, name="padding_v3_image")


@pytest.mark.parametrize("build", [padding_v3_sequence, padding_v3_image])
def test_version_3_padding_imports_exactly(keras, tmp_path, build):
    imported = Imported(randomised(build(keras)), tmp_path)
    check_counts_and_outputs(keras, imported)
    steps = " ".join(imported.text.split())
    if build is padding_v3_sequence:
        # Keras: 8 -> (8-1)*2 + 3 - 2*(3//2) + 1 = 16 of the full 17: TensorFlow's `same`
        # cuts 1 // 2 = 0 before, 1 after; `valid` with output_padding 2 adds 2 after
        assert "conv 3 x4 causal relu dilation=2 -> conv 3/2 x4 causal" in steps, steps
        assert "deconv 3/2 x3 pad=0:1 -> deconv 4/3 x2 pad=0 tanh outpad=2" in steps, steps
    else:
        # Keras: 7 -> (7-1)*2 + 3 - 2*(3//2) + 1 = 14 of the full 15, TensorFlow's `same`
        # cuts 1 // 2 = 0 before, 1 after; 14 -> 27 of the full 29: 1 before, 1 after;
        # then valid with output_padding 1x2; a 1x1 kernel: full 2*(n-1) + 1, one added
        assert "deconv 3/2 x4 pad=0:1 -> deconv 3/2 x4 pad=1 ->" in steps, steps
        assert "deconv 3x2/2x3 x2 pad=0 outpad=1x2" in steps, steps
        assert "deconv 1/2 x2 pad=0 outpad=1" in steps, steps

# ---- version 3: normalisation and activations ---------------------------------------------

def every_v3norm_layer(keras):
    """Every Keras layer and option that version 3's normalisations and activations read:
    GroupNormalization (groups, -1 and C as instancenorm, epsilon, neither gamma nor
    beta), PReLU per channel, shared, and on a vector, ELU's alpha (a layer, and fused),
    ReLU's max_value, and the activations mish, softsign, celu, hard_tanh, log_softmax."""
    L = keras.layers
    x = keras.Input((8, 8, 3))
    y = L.Conv2D(8, 3, padding="same", activation=L.ELU(alpha=0.5))(x)
    y = L.GroupNormalization(groups=4)(y)
    y = L.PReLU(shared_axes=[1, 2])(y)
    y = L.Conv2D(6, 3, activation="mish")(y)
    y = L.GroupNormalization(groups=-1, epsilon=1e-5)(y)
    y = L.PReLU(shared_axes=[1, 2, 3])(y)
    y = L.GroupNormalization(groups=6, center=False, scale=False)(y)
    for name in ("softsign", "celu", "hard_tanh"):
        y = L.Activation(name)(y)
    y = L.ReLU(max_value=4.0)(y)
    y = L.ELU(alpha=2.0)(y)  # not mean 0, as the normalised values are, before the gap
    y = L.GlobalAveragePooling2D()(y)
    y = L.PReLU()(L.Dense(6)(y))
    y = L.Dense(5, activation="log_softmax")(y)
    model = keras.Model(x, y, name="every_v3norm_layer")
    rng = np.random.default_rng(3)
    for layer in model.layers:  # slopes off Keras's initial 0
        if type(layer).__name__ == "PReLU":
            layer.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32)
                               for w in layer.get_weights()])
    return model


def test_version_3_normalisations_and_activations_import_exactly(keras, tmp_path):
    imported = Imported(randomised(every_v3norm_layer(keras)), tmp_path)
    check_counts_and_outputs(keras, imported)
    check_every_layer(keras, imported)
    text = imported.text
    for step in ("elu=0.5", "groupnorm 4", "prelu", "mish", "instancenorm eps=1e-5",
                 "prelu shared", "softsign", "celu", "clip=-1,1", "clip=0,4", "elu=2",
                 "instancenorm affine=false", "log_softmax"):
        assert step in text, (step, text)

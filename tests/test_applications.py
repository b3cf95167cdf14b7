"""Every CNN of keras.applications, imported and compared with Keras: one row per model.

The rows are `tests/zoo.py`'s table (name, input size, example). Each model is built with
weights=None at its default size (224, 299 for InceptionV3 and Xception, 300 for
EfficientNetB3), its biases and batch-norm statistics randomised, and imported as `cnndsl
import` does it. Then: the text's trainable and non-trainable counts and output shape are
Keras's; every layer of the text has the output shape and counts of the Keras layer it came
from, each Keras layer written exactly once; the NumPy interpreter and the text compiled
back to Keras compute Keras's output (relative error <= 1e-5); and the hand-written
example of the model, given the Keras model's weights (paired layer by layer,
`zoo.example_weights`), computes it too. The outputs are compared in the default run for
the rows of `OUTPUTS` and `EXAMPLES` (chosen by measuring: building a model takes seconds,
and running it twice more), for every row with CNNDSL_HYPOTHESIS_PROFILE=thorough.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import zoo

ROOT = Path(__file__).resolve().parent.parent
NO_KERAS = "TensorFlow/Keras not installed: pip install 'cnndsl[keras]'"
THOROUGH = os.environ.get("CNNDSL_HYPOTHESIS_PROFILE") == "thorough"

# Not imported yet, so not rows of this test until they are: MobileNetV3 writes its hard
# sigmoid as operations on tensors and ConvNeXt has LayerScale (both come with branch
# imp-v3); InceptionResNetV2 scales each residual in a CustomScaleLayer. The lead adds each
# back (deletes it here) once its import lands.
TESTED = zoo.ROWS

# What the default run compares beyond counts and shapes, chosen by measuring (pytest
# --durations, docs/testing.md): building every model is most of the file's time, running
# the import and building it back in Keras costs about as much again, running an example
# a fraction. So the outputs of a cheap model of each family (residual v1 and v2, depthwise,
# inverted residuals, squeeze-and-excite with rescaling and normalisation, concatenated
# branches), and the examples of all but the largest models (VGG16 too: its setup is the
# file's slowest, and randomising 138M weights would add to it); everything with
# CNNDSL_HYPOTHESIS_PROFILE=thorough.
OUTPUTS = {"ResNet50", "ResNet50V2", "MobileNet", "MobileNetV2", "EfficientNetB0",
           "EfficientNetV2B0", "InceptionV3"}
EXAMPLES = {"ResNet50", "ResNet50V2", "InceptionV3", "Xception", "MobileNet",
            "MobileNetV2", "DenseNet121", "NASNetMobile", "EfficientNetB0", "EfficientNetV2B0"}

# The model-specific checks: the imported text of these uses named tensors (`@name`): the
# cells of NASNet read the cell before the last, so the graph is not series-parallel.
NAMED_TENSORS = {"NASNetMobile"}
# Hand-written examples that are the same network only up to a change of weights.
EXAMPLE_DIFFERS = {
    "InceptionResNetV2": "the example adds each residual branch unscaled, its scale folded "
                         "into the 1x1 conv before (the import writes `rescale 0.17`): the "
                         "same function only for weights scaled to match, so Keras's "
                         "weights do not pair",
}
# Models that apply operations to tensors (`x + 3.0`), read by cnndsl.importers.keras_ops.
OPERATIONS = {"MobileNetV3Small", "MobileNetV3Large", "ConvNeXtTiny"}
# Imports longer than the hand-written example (every other is no longer), and why.
DROP_RATES = ("the stochastic-depth rate grows block by block (the example computes it "
              "from the block's number, `dropout {b/80}`), so no two residual blocks are "
              "the same and none fold")
LONGER = {
    "NASNetMobile": "its cells read the cell before the last: written with named tensors, "
                    "its two stem cells each unlike any other (132 lines against the "
                    "example's 78)",
    "EfficientNetB0": DROP_RATES,
    "EfficientNetB3": DROP_RATES,
    "EfficientNetV2B0": DROP_RATES,
}


def predict(model, x: np.ndarray) -> np.ndarray:
    """Keras's output in inference mode (what `model.predict` computes, without tracing a
    function for one batch)."""
    return np.asarray(model(x, training=False))


@pytest.fixture(scope="module", params=TESTED, ids=[row.name for row in TESTED])
def application(request, keras):
    """The row's model and its import: (row, model, imported). Its weights are randomised
    where its outputs are compared."""
    row = request.param
    model = row.build(keras)
    if THOROUGH or row.name in OUTPUTS | EXAMPLES:
        model = zoo.randomised(model, seed=3)
    yield row, model, zoo.import_in_memory(model, row.example)
    keras.backend.clear_session()


def thorough_unless(row: zoo.Row, chosen: set[str]) -> None:
    if row.name not in chosen and not THOROUGH:
        pytest.skip("this row with CNNDSL_HYPOTHESIS_PROFILE=thorough")


def test_counts_and_output_shape(application):
    row, model, imported = application
    assert zoo.split(imported.graph) == zoo.counts(model)
    assert sum(zoo.split(imported.graph)) == model.count_params()
    assert imported.graph.output.shape == tuple(model.output_shape[1:]) == (1000,)
    assert ("@" in imported.text) == (row.name in NAMED_TENSORS)


def test_every_layer_has_the_shape_and_params_of_its_keras_layer(application):
    """Each Keras layer is written once, with its output shape and counts. Two exceptions,
    each checked: a layer read as several steps (Inception-ResNet-v2's CustomScaleLayer,
    `add { @x | @r -> rescale S }`: the last step gives its output) and a weightless layer
    inside a chain of operations read as one step (MobileNetV3's `ReLU(6)(x + 3) / 6`
    is `hard_sigmoid`); steps read from operations on tensors have no weights."""
    from cnndsl.graph.analysis import analyse
    from cnndsl.importers.keras_apps import STEPS

    row, model, imported = application
    theirs = zoo.keras_layers(model)
    stats = {s.node.name: s for s in analyse(imported.graph).layers}
    written: dict[str, list] = {}
    for node in imported.graph.nodes[1:]:
        written.setdefault(imported.origin[node.name], []).append(node)
    for name, layer in theirs.items():
        nodes = written.get(name)
        if nodes is None:
            assert row.name in OPERATIONS and not layer.weights, f"{name} is not written"
            continue
        assert len(nodes) == 1 or type(layer).__name__ in STEPS, name
        assert nodes[-1].shape == tuple(layer.output.shape[1:]), name
        mine = [stats[node.name] for node in nodes]
        assert (sum(m.trainable for m in mine), sum(m.non_trainable for m in mine)) == \
            zoo.counts(layer), name
    for name in set(written) - set(theirs):  # operations on tensors, not layers
        assert row.name in OPERATIONS and all(stats[n.name].params == 0 for n in written[name])


def test_imported_text_is_no_longer_than_the_example(application):
    """With `--auto-names`, folded into blocks, the import reads like the hand-written
    example (the comment listing Keras's names aside)."""
    row, model, _ = application
    if row.name in LONGER:
        pytest.skip(LONGER[row.name])
    text = zoo.import_in_memory(model, row.example, auto_names=True).text
    body = text.split("\n# Layers named otherwise")[0]
    example = (ROOT / "examples" / f"{row.example}.cnn").read_text(encoding="utf-8")
    assert len(body.splitlines()) <= len(example.splitlines())


def test_the_imported_text_is_formatted_and_formats_to_the_same_network(application):
    """`cnndsl import` writes `cnndsl fmt`'s layout; and the text written badly (random
    whitespace, comments at random token boundaries) formats to the same graph."""
    from scrambled import comments_of, scrambled, signature

    from cnndsl.formatting import format_text
    from cnndsl.language.frontend import compile_text

    row, _, imported = application
    text = imported.text
    assert format_text(text) == text
    bad, comments = scrambled(text, seed=len(text), comments=0.2)
    out = format_text(bad)
    assert format_text(out) == out
    assert signature(compile_text(out)) == signature(compile_text(text))
    assert sorted(comments_of(out)) == sorted(comments)


def test_the_import_keeps_the_names_keras_gives_its_layers(application):
    """By default every layer keras.applications names (`conv5_block3_add`, not the
    `add_16` of an automatic name) keeps its name; only Keras's own automatic names
    (`re_lu_3`) give way, each listed with its Keras name in the comment."""
    row, _, imported = application
    raw, names = imported.raw, {n.name for n in imported.graph.nodes}
    listed = imported.text.partition("# Layers named otherwise")[2]
    for node in raw.graph.nodes:
        keras_name = raw.origins[node.name][0]
        if node.index in raw.kept:
            assert node.name in names, keras_name
        else:
            assert f" {keras_name}\n" in listed or keras_name in names, keras_name
    if row.name == "ResNet50":
        assert {"conv5_block3_add", "conv1_conv", "predictions"} <= names


def test_outputs_of_run_and_of_the_compiled_import(application):
    """The NumPy interpreter and the text compiled back to Keras compute Keras's output."""
    from cnndsl import Network
    from cnndsl.backends.keras.builder import build_model

    row, model, imported = application
    thorough_unless(row, OUTPUTS)
    x = zoo.batch(model)
    expected = predict(model, x)
    ours = Network(imported.graph).run(x, weights=imported.weights)
    assert zoo.relative_error(ours, expected) <= zoo.TOLERANCE
    compiled = build_model(imported.graph, imported.weights)
    assert zoo.counts(compiled) == zoo.counts(model)
    assert zoo.relative_error(predict(compiled, x), expected) <= zoo.TOLERANCE


def test_the_example_computes_what_keras_computes(application):
    """The hand-written example with the Keras model's weights."""
    from cnndsl import Network, compile_file

    row, model, imported = application
    if row.name in EXAMPLE_DIFFERS:
        pytest.skip(EXAMPLE_DIFFERS[row.name])
    thorough_unless(row, EXAMPLES)
    graph, _ = compile_file(ROOT / "examples" / f"{row.example}.cnn")
    x = zoo.batch(model, 1)
    ours = Network(graph).run(x, weights=zoo.example_weights(graph, imported.raw))
    assert zoo.relative_error(ours, predict(model, x)) <= zoo.TOLERANCE


def test_pairing_follows_the_wiring_and_refuses_to_guess(keras):
    """`zoo.example_weights` on small models: a shortcut written after its block pairs by
    what each layer reads; two interchangeable convs, or a conv without its bias, refuse."""
    from cnndsl import Network, compile_text

    L = keras.layers
    x = keras.Input((4, 4, 2))
    shortcut = L.Conv2D(4, 1)(x)  # Keras's first weighted layer, the example's last
    model = keras.Model(x, L.Add()([L.Conv2D(4, 1)(L.Conv2D(3, 1)(x)), shortcut]))
    model = zoo.randomised(model, seed=1)
    graph = compile_text("input 4x4x2 -> add { conv 1 x3 -> conv 1 x4 | conv 1 x4 }", "t")
    weights = zoo.example_weights(graph, zoo.import_in_memory(model, "t").raw)
    xs = zoo.batch(model)
    ours = Network(graph).run(xs, weights=weights)
    assert zoo.relative_error(ours, predict(model, xs)) <= zoo.TOLERANCE

    twins = keras.Model(x, L.Add()([L.Conv2D(4, 1)(x), L.Conv2D(4, 1)(x)]))
    graph = compile_text("input 4x4x2 -> add { conv 1 x4 | conv 1 x4 }", "t")
    with pytest.raises(zoo.NoPairing, match="fits 2 layers"):
        zoo.example_weights(graph, zoo.import_in_memory(twins, "t").raw)
    graph = compile_text("input 4x4x2 -> add { conv 1 x3 -> conv 1 x4 | conv 1 x4 bias=false }",
                         "t")
    with pytest.raises(zoo.NoPairing, match="fits 0 layers"):
        zoo.example_weights(graph, zoo.import_in_memory(model, "t").raw)

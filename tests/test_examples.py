"""Every network in examples/ against Keras's own numbers.

The oracle is Keras, never cnndsl: `tests/golden/keras_applications.json` holds, per layer,
[Keras class, output shape without the batch axis, params] of the `keras.applications`
models (VGG16, ResNet50, MobileNetV2, DenseNet121, weights=None), and
`tests/golden/keras_examples.json` the same for every example rebuilt layer by layer with
`keras.layers` exactly as its .cnn file is written. Both were dumped with TensorFlow 2.21 /
Keras 3.15 (see each file's `_about`).

Keras and cnndsl may list a graph's layers in different (equally topological) orders, so
layers are compared as multisets of (kind, output shape, params).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from cnndsl.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden"
REBUILT = json.loads((GOLDEN / "keras_examples.json").read_text(encoding="utf-8"))
EXAMPLE_NAMES = sorted(p.stem for p in EXAMPLES.glob("*.cnn"))

# The published totals (keras.applications, include_top=True).
TOTALS = {
    # name: (params, trainable, layers incl. the input, output shape)
    "vgg16": (138_357_544, 138_357_544, 23, [1000]),
    "resnet50": (25_636_712, 25_583_592, 177, [1000]),
    "mobilenet_v2": (3_538_984, 3_504_872, 156, [1000]),
    "densenet121": (8_062_504, 7_978_856, 429, [1000]),
}

# Every `keras_applications*.json` (one per group of models) holds the per-layer dumps, and
# may list published totals under "_published" (name: [params, trainable, layers, output])
# and, under "_kinds_differ", models whose layers match Keras's in shape and parameters
# but not in class, each with the reason (a Keras layer the language writes another way).
APPLICATIONS: dict[str, dict] = {}
KINDS_DIFFER: dict[str, str] = {}
for _path in sorted(GOLDEN.glob("keras_applications*.json")):
    for _key, _value in json.loads(_path.read_text(encoding="utf-8")).items():
        if _key == "_published":
            TOTALS.update({name: tuple(row) for name, row in _value.items()})
        elif _key == "_kinds_differ":
            KINDS_DIFFER.update(_value)
        elif not _key.startswith("_"):
            APPLICATIONS[_key] = _value

# An example is checked against its hand rebuild, or else against keras.applications.
REFERENCE = {**APPLICATIONS, **REBUILT}

# Keras class (dimension suffix removed) -> the step kind cnndsl reports.
KERAS_KIND = {
    "InputLayer": "input", "Conv": "conv", "ConvTranspose": "deconv",
    "DepthwiseConv": "dwconv", "SeparableConv": "sepconv", "Dense": "dense",
    "Flatten": "flatten", "Dropout": "dropout", "BatchNormalization": "batchnorm",
    "Activation": "activation", "ReLU": "activation", "Add": "add", "Multiply": "mul",
    "Average": "avg", "Maximum": "max", "Concatenate": "concat", "MaxPooling": "maxpool",
    "AveragePooling": "avgpool", "GlobalAveragePooling": "gap", "GlobalMaxPooling": "gmp",
    "ZeroPadding": "zeropad", "UpSampling": "upsample", "Reshape": "reshape",
    "LayerNormalization": "layernorm", "Rescaling": "rescale", "Normalization": "normalize",
    "Cropping": "crop",
}


def keras_kind(cls: str) -> str:
    return KERAS_KIND[re.sub(r"[123]D", "", cls)]


def report(name: str) -> dict:
    """`cnndsl shapes examples/NAME.cnn --format json`, parsed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(["shapes", str(EXAMPLES / f"{name}.cnn"), "--format", "json"])
    assert rc == 0, f"cnndsl shapes failed on {name}.cnn"
    return json.loads(out.getvalue())


def ours(doc: dict, with_kind: bool = False) -> Counter:
    return Counter(((layer["kind"],) if with_kind else ()) + (tuple(layer["output_shape"]),
                                                               layer["params"])
                   for layer in doc["layers"])


def theirs(golden: dict, with_kind: bool = False) -> Counter:
    return Counter(((keras_kind(cls),) if with_kind else ()) + (tuple(shape), params)
                   for cls, shape, params in golden["layers"])


def diff(a: Counter, b: Counter) -> str:
    return f"only in cnndsl: {dict(a - b)}; only in Keras: {dict(b - a)}"


@pytest.fixture(scope="module")
def reports():
    cache: dict[str, dict] = {}

    def get(name: str) -> dict:
        if name not in cache:
            cache[name] = report(name)
        return cache[name]
    return get


# ---- published totals ---------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(TOTALS))
def test_published_totals(name, reports):
    params, trainable, count, output = TOTALS[name]
    doc = reports(name)
    total = doc["total"]
    assert total["params"] == params
    assert total["trainable_params"] == trainable
    assert total["non_trainable_params"] == params - trainable
    assert doc["output_shape"] == output
    assert doc["layers"][-1]["output_shape"] == output
    assert len(doc["layers"]) == count


@pytest.mark.parametrize("name", sorted(TOTALS))
def test_published_totals_agree_with_the_keras_dumps(name):
    # Guards the golden files themselves: the dump and the published numbers must agree.
    params, trainable, count, output = TOTALS[name]
    g = APPLICATIONS[name]
    assert (g["total"], g["trainable"], len(g["layers"]), g["output"]) == \
        (params, trainable, count, output)
    assert sum(p for _, _, p in g["layers"]) == params


# ---- layer by layer against keras.applications --------------------------------------------

@pytest.mark.parametrize("name", sorted(TOTALS))
def test_layers_match_keras_applications(name, reports):
    doc, golden = reports(name), APPLICATIONS[name]
    assert len(doc["layers"]) == len(golden["layers"])
    mine, keras = ours(doc), theirs(golden)
    assert mine == keras, diff(mine, keras)


@pytest.mark.parametrize("name", sorted(set(TOTALS) - set(KINDS_DIFFER)))
def test_layer_kinds_match_keras_applications(name, reports):
    mine, keras = ours(reports(name), True), theirs(APPLICATIONS[name], True)
    assert mine == keras, diff(mine, keras)


# ---- layer by layer against every example rebuilt in Keras ----------------------------------

def test_every_example_has_a_keras_reference():
    assert EXAMPLE_NAMES, "no examples found"
    missing = sorted(set(EXAMPLE_NAMES) - set(REFERENCE))
    assert not missing, f"examples without a Keras reference in tests/golden: {missing}"


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_example_layers_match_keras(name, reports):
    doc, golden = reports(name), REFERENCE[name]
    assert len(doc["layers"]) == len(golden["layers"])
    mine, keras = ours(doc), theirs(golden)
    assert mine == keras, diff(mine, keras)


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_example_layer_kinds_match_keras(name, reports):
    mine, keras = ours(reports(name), True), theirs(REFERENCE[name], True)
    assert mine == keras, diff(mine, keras)


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_example_totals_match_keras(name, reports):
    doc, golden = reports(name), REFERENCE[name]
    total = doc["total"]
    assert total["params"] == golden["total"]
    assert total["trainable_params"] == golden["trainable"]
    assert total["non_trainable_params"] == golden["non_trainable"]
    assert doc["output_shape"] == golden["output"]
    # The totals are the sums of the rows.
    assert total["params"] == sum(layer["params"] for layer in doc["layers"])
    assert total["trainable_params"] == sum(layer["trainable_params"] for layer in doc["layers"])
    assert total["params"] == total["trainable_params"] + total["non_trainable_params"]


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_example_check_agrees_with_shapes(name, capsys, reports):
    assert main(["check", str(EXAMPLES / f"{name}.cnn")]) == 0
    out = capsys.readouterr().out
    doc = reports(name)
    assert out == f"ok: {len(doc['layers'])} layers, {doc['total']['params']:,} params\n"


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_example_compiles_without_warnings(name, capsys):
    assert main(["check", str(EXAMPLES / f"{name}.cnn")]) == 0
    assert capsys.readouterr().err == ""

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

# An example's reference: rebuilt by hand in Keras, or the keras.applications model it is.
REFERENCE = {**APPLICATIONS, **REBUILT}

# Language version 3's examples are PyTorch's networks, some of which Keras cannot build
# (max pooling with `ceil`, reflection padding): their reference is PyTorch's arithmetic.
# Parameters as torchvision counts them (`sum(p.numel() for p in model.parameters())`:
# squeezenet1_0 1,248,424, shufflenet_v2_x1_0 2,278,604; running statistics are buffers,
# here non-trainable), or as the model's layers add up by hand (in each file's header);
# and the output sizes of the layers where PyTorch's padding and rounding show, read off
# torchvision's models with forward hooks on a 224x224 input (batch axis and channels
# moved: PyTorch's (N, C, H, W) is (H, W, C) here).
PYTORCH = {
    # name: (trainable, non-trainable, output, {layer: output shape})
    "squeezenet": (1_248_424, 0, [1000], {
        "conv_1": [109, 109, 96], "maxpool_1": [54, 54, 96], "maxpool_2": [27, 27, 256],
        "maxpool_3": [13, 13, 512]}),
    "shufflenet_v2": (2_278_604, 16_180, [1000], {
        "maxpool_1": [56, 56, 24], "channel_shuffle_1": [28, 28, 116],
        "channel_shuffle_5": [14, 14, 232], "channel_shuffle_13": [7, 7, 464],
        "channel_shuffle_16": [7, 7, 464]}),
    # 1*64*25+64 + 64*64*9+64 + 64*32*9+32 + 32*9*9+9
    "espcn": (59_657, 0, [672, 672, 1], {"conv_4": [224, 224, 9]}),
    # conv 3->32 k9, 32->64 k3, 64->128 k3, five residual blocks of two 128->128 k3, then
    # 128->64 k3, 64->32 k3, 32->3 k9; 2C per instance norm (ten in the blocks, five more)
    "style_transfer": (7808 + 18_496 + 73_856 + 5 * 2 * 147_584 + 73_792 + 18_464 + 7779
                       + 2 * (32 + 64 + 128 + 10 * 128 + 64 + 32), 0, [256, 256, 3], {
        "conv_1": [256, 256, 32], "conv_2": [128, 128, 64], "conv_3": [64, 64, 128],
        "upsample_2": [256, 256, 64]}),
}
KERAS_EXAMPLES = [name for name in EXAMPLE_NAMES if name not in PYTORCH]

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
    missing = sorted(set(KERAS_EXAMPLES) - set(REFERENCE))
    assert not missing, f"examples without a Keras reference in tests/golden: {missing}"


@pytest.mark.parametrize("name", KERAS_EXAMPLES)
def test_example_layers_match_keras(name, reports):
    doc, golden = reports(name), REFERENCE[name]
    assert len(doc["layers"]) == len(golden["layers"])
    mine, keras = ours(doc), theirs(golden)
    assert mine == keras, diff(mine, keras)


@pytest.mark.parametrize("name", KERAS_EXAMPLES)
def test_example_layer_kinds_match_keras(name, reports):
    if name in KINDS_DIFFER:
        pytest.skip(KINDS_DIFFER[name])
    mine, keras = ours(reports(name), True), theirs(REFERENCE[name], True)
    assert mine == keras, diff(mine, keras)


@pytest.mark.parametrize("name", KERAS_EXAMPLES)
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


# ---- version 3's examples against PyTorch's arithmetic --------------------------------------

@pytest.mark.parametrize("name", sorted(PYTORCH))
def test_pytorch_example_counts_and_sizes(name, reports):
    trainable, frozen, output, sizes = PYTORCH[name]
    doc = reports(name)
    assert (doc["total"]["trainable_params"], doc["total"]["non_trainable_params"]) == \
        (trainable, frozen)
    assert doc["output_shape"] == output
    found = {layer["name"]: layer["output_shape"] for layer in doc["layers"]}
    assert {k: found.get(k) for k in sizes} == sizes

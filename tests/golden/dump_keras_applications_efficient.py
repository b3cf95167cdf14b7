"""Dump keras.applications EfficientNet / MobileNetV3 / ConvNeXt models for tests/test_examples.py.

Run once (it builds the Keras models, so it is slow and not part of the tests):

    python tests/golden/dump_keras_applications_efficient.py \
        > tests/golden/keras_applications_efficient.json

(model names as arguments dump only those).

For each model, keras.applications.X(weights=None) with its defaults (include_top=True, 1000
classes, 224x224 input, or 300x300 for EfficientNetB3; MobileNetV3 is given 224x224, see
KWARGS): per layer [Keras class, output shape
without the batch axis, count_params()] in model.layers order, and the totals.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

MODELS = {
    # example name: keras.applications class
    "efficientnet_b0": "EfficientNetB0",
    "mobilenet_v3_small": "MobileNetV3Small",
    "mobilenet_v3_large": "MobileNetV3Large",
    "efficientnet_b3": "EfficientNetB3",
    "efficientnet_v2_b0": "EfficientNetV2B0",
    "convnext_tiny": "ConvNeXtTiny",
}

# MobileNetV3 alone leaves its input size open (None x None x 3) by default; it is built at
# 224x224, the size its ImageNet weights are for (and its docstring's default).
KWARGS = {
    "mobilenet_v3_small": {"input_shape": (224, 224, 3)},
    "mobilenet_v3_large": {"input_shape": (224, 224, 3)},
}

# Layers of these models that the language writes with another step (same function and
# parameters): see each example's header comment.
KINDS_DIFFER = {
    "convnext_tiny": "Keras's LayerScale (a learned per-channel multiplier, ConvNeXt's gamma) "
                     "is written `dwconv 1 bias=false`, the same function with the same C "
                     "parameters, and its StochasticDepth (identity at inference, rate 0 in "
                     "ConvNeXtTiny) is left out: an `add` of the block's input and its branch",
}


def count(weights) -> int:
    return int(sum(int(w.numpy().size) if hasattr(w, "numpy") else int(w.size) for w in weights))


def dump(name: str) -> dict:
    model = getattr(keras.applications, MODELS[name])(weights=None, **KWARGS.get(name, {}))
    layers = []
    for layer in model.layers:
        shape = layer.output.shape
        layers.append([type(layer).__name__, [int(d) for d in shape[1:]],
                       int(layer.count_params())])
    trainable = count(model.trainable_weights)
    non_trainable = count(model.non_trainable_weights)
    total = int(model.count_params())
    assert total == trainable + non_trainable, name
    out = model.output.shape
    return {"total": total, "trainable": trainable, "non_trainable": non_trainable,
            "output": [int(d) for d in out[1:]], "layers": layers}


def main() -> None:
    names = sys.argv[1:] or list(MODELS)
    doc: dict = {
        "_about": (f"keras.applications models (weights=None, include_top=True) as built by "
                   f"TensorFlow {tf.__version__} / Keras {keras.__version__}: per layer [Keras "
                   f"class, output shape without the batch axis, count_params()], in "
                   f"model.layers order; MobileNetV3 with input_shape=(224, 224, 3). Dumped by "
                   f"tests/golden/dump_keras_applications_efficient.py."),
    }
    for name in names:
        doc[name] = dump(name)
        keras.backend.clear_session()
    doc["_published"] = {name: [doc[name]["total"], doc[name]["trainable"],
                                len(doc[name]["layers"]), doc[name]["output"]] for name in names}
    doc["_kinds_differ"] = {k: v for k, v in KINDS_DIFFER.items() if k in names}
    # One layer a line, as keras_applications.json.
    parts = ["{"]
    items = list(doc.items())
    for i, (key, value) in enumerate(items):
        sep = "," if i < len(items) - 1 else ""
        if isinstance(value, dict) and "layers" in value:
            head = {k: v for k, v in value.items() if k != "layers"}
            rows = ",\n".join(json.dumps(row, separators=(",", ":")) for row in value["layers"])
            parts.append(f"{json.dumps(key)}:{json.dumps(head, separators=(',', ':'))[:-1]},"
                         f"\"layers\":[\n{rows}]}}{sep}")
        else:
            parts.append(f"{json.dumps(key)}:{json.dumps(value, separators=(',', ':'))}{sep}")
    parts.append("}")
    print("\n".join(parts))


if __name__ == "__main__":
    main()

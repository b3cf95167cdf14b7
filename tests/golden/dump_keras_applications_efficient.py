"""Dump keras.applications EfficientNet / MobileNetV3 / ConvNeXt models for tests/test_examples.py.

Run once (it builds the Keras models, so it is slow and not part of the tests):

    python tests/golden/dump_keras_applications_efficient.py

(model names as arguments print only those, and write nothing).

For each model, keras.applications.X(weights=None) with its defaults (include_top=True, 1000
classes, 224x224 input, or 300x300 for EfficientNetB3; MobileNetV3 is given 224x224, see
KWARGS): per layer [Keras class, output shape without the batch axis, count_params()] in
model.layers order (ConvNeXt by operation, see BY_OPERATION), and the totals.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import golden_json  # noqa: E402  (beside this script)
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

OUT = Path(__file__).resolve().parent / "keras_applications_efficient.json"

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

# ConvNeXt is listed operation by operation, not layer by layer: its model.layers hides
# what the model computes in two ways, so that no spec (and no Keras model written with
# keras.layers alone) could have its 135 layers.
# - The stem and the three downsampling layers are each a nested Sequential (conv 4x4/4 then
#   LayerNormalization; LayerNormalization then conv 2x2/2): one row of model.layers with
#   the two layers' parameters together. They are listed as their two layers.
# - Each block's residual sum is `inputs + x`, a keras.ops Add operation, not a layer, so
#   model.layers leaves it out. model.operations holds it; it is listed (as "Add", 0 params).
# The totals are unchanged; the rows are 157 instead of 135.
BY_OPERATION = {"convnext_tiny"}

# Layers of these models that the language writes with another step (same function and
# parameters): see each example's header comment.
KINDS_DIFFER = {
    "convnext_tiny": "Keras's LayerScale (ConvNeXt's learned per-channel multiplier gamma) "
                     "has no step of its own and is written `dwconv 1 bias=false`, the same "
                     "function with the same C parameters; the pointwise Dense layers on the "
                     "HxWxC map are written `conv 1`, the same function and parameters, since "
                     "`dense` on an image warns",
}


def rows(model, by_operation: bool) -> list:
    """[class, output shape without batch, params] for each layer (or operation)."""
    out = []
    for op in (model.operations if by_operation else model.layers):
        if by_operation and isinstance(op, keras.Sequential):
            shape = tuple(op.input.shape)
            for layer in op.layers:
                shape = tuple(layer.compute_output_shape(shape))
                out.append([type(layer).__name__, [int(d) for d in shape[1:]],
                            int(layer.count_params())])
            assert shape == tuple(op.output.shape), op.name
            continue
        params = int(op.count_params()) if isinstance(op, keras.layers.Layer) else 0
        out.append([type(op).__name__, [int(d) for d in op.output.shape[1:]], params])
    return out


def dump(name: str) -> dict:
    model = getattr(keras.applications, MODELS[name])(weights=None, **KWARGS.get(name, {}))
    return golden_json.entry(model, rows(model, name in BY_OPERATION))


def main() -> None:
    names = sys.argv[1:] or list(MODELS)
    doc: dict = {
        "_about": (f"keras.applications models (weights=None, include_top=True) as built by "
                   f"TensorFlow {tf.__version__} / Keras {keras.__version__}: per layer [Keras "
                   f"class, output shape without the batch axis, count_params()], in "
                   f"model.layers order; MobileNetV3 with input_shape=(224, 224, 3); ConvNeXtTiny "
                   f"by model.operations, its nested Sequential layers (stem, downsampling) "
                   f"listed as their two layers and its residual `+` (a keras.ops Add, not a "
                   f"layer) as an Add row (157 rows for 135 layers). Dumped by "
                   f"tests/golden/dump_keras_applications_efficient.py."),
    }
    for name in names:
        doc[name] = dump(name)
        keras.backend.clear_session()
    # [params, trainable, rows (layers incl. the input; for ConvNeXt, see BY_OPERATION),
    # output shape]
    doc["_published"] = golden_json.published({name: doc[name] for name in names})
    doc["_kinds_differ"] = {k: v for k, v in KINDS_DIFFER.items() if k in names}
    golden_json.save(OUT, doc, subset=bool(sys.argv[1:]))


if __name__ == "__main__":
    main()

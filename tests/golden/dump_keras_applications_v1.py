"""Dump tests/golden/keras_applications_v1.json: the Keras oracle for the examples of
VGG19, ResNet101/152, ResNet50V2/101V2/152V2, Xception, MobileNet, DenseNet169/201.

For each `keras.applications.X(weights=None)` (include_top=True, 1000 classes) it writes,
in model.layers order, [Keras class, output shape without the batch axis, count_params()]
per layer, the totals, and the published totals under "_published". Run it by hand (it
builds the Keras models, which takes a minute); the tests only read the JSON:

    python tests/golden/dump_keras_applications_v1.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

OUT = Path(__file__).resolve().parent / "keras_applications_v1.json"

# example name -> keras.applications constructor and its keyword arguments
MODELS = {
    "vgg19": ("VGG19", {}),
    "resnet101": ("ResNet101", {}),
    "resnet152": ("ResNet152", {}),
    "resnet50_v2": ("ResNet50V2", {}),
    "resnet101_v2": ("ResNet101V2", {}),
    "resnet152_v2": ("ResNet152V2", {}),
    "xception": ("Xception", {}),
    "mobilenet": ("MobileNet", {"alpha": 1.0, "input_shape": (224, 224, 3)}),
    "densenet169": ("DenseNet169", {}),
    "densenet201": ("DenseNet201", {}),
}


def count(weights) -> int:
    return sum(int(w.numpy().size) for w in weights)


def dump(cls: str, kwargs: dict) -> dict:
    keras.backend.clear_session()
    model = getattr(keras.applications, cls)(weights=None, include_top=True, **kwargs)
    layers = [[type(layer).__name__, [int(d) for d in layer.output.shape[1:]],
               int(layer.count_params()) if layer.weights else 0]
              for layer in model.layers]
    return {"total": int(model.count_params()),
            "trainable": count(model.trainable_weights),
            "non_trainable": count(model.non_trainable_weights),
            "output": [int(d) for d in model.output.shape[1:]],
            "layers": layers}


def main() -> None:
    dumps = {name: dump(cls, kwargs) for name, (cls, kwargs) in MODELS.items()}
    doc = {
        "_about": (f"keras.applications models (weights=None, include_top=True) as built by "
                   f"TensorFlow {tf.__version__} / Keras {keras.__version__}: per layer "
                   "[Keras class, output shape without the batch axis, count_params()], in "
                   "model.layers order. Dumped by tests/golden/dump_keras_applications_v1.py."),
        "_published": {name: [d["total"], d["trainable"], len(d["layers"]), d["output"]]
                       for name, d in dumps.items()},
        **dumps,
    }
    # One layer a line, as keras_applications.json, so that diffs stay readable.
    lines = ["{"]
    items = list(doc.items())
    for i, (key, value) in enumerate(items):
        end = "," if i < len(items) - 1 else ""
        if key.startswith("_"):
            lines.append(f"{json.dumps(key)}:{json.dumps(value, separators=(',', ':'))}{end}")
            continue
        head = {k: v for k, v in value.items() if k != "layers"}
        lines.append(f"{json.dumps(key)}:{json.dumps(head, separators=(',', ':'))[:-1]},"
                     '"layers":[')
        rows = [json.dumps(row, separators=(",", ":")) for row in value["layers"]]
        lines.append(",\n".join(rows))
        lines.append("]}" + end)
    lines.append("}")
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

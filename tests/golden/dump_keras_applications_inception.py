"""Dump the Keras oracle for the Inception-family examples.

Writes tests/golden/keras_applications_inception.json: for each of InceptionV3,
InceptionResNetV2 and NASNetMobile built as `keras.applications.X(weights=None)`
(include_top=True, 1000 classes), every layer in `model.layers` order as
[Keras class, output shape without the batch axis, count_params()], with the totals.

Run (builds the models, ~20 s; the tests only read the JSON):
    python tests/golden/dump_keras_applications_inception.py [NAME ...]
NAMEs (default: all) choose which models the file holds.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

OUT = Path(__file__).resolve().parent / "keras_applications_inception.json"

MODELS = {
    "inception_v3": keras.applications.InceptionV3,
    "inception_resnet_v2": keras.applications.InceptionResNetV2,
    "nasnet_mobile": keras.applications.NASNetMobile,
}

# Models whose .cnn example writes a Keras layer as another step of the same shape and
# parameter count, with the reason (see the example's comments).
KINDS_DIFFER = {
    "inception_resnet_v2": "Keras adds each residual branch scaled by a constant, x + s*r, "
    "in one CustomScaleLayer; the language has no scaled add (`rescale {s}` then `add` would "
    "be 40 more layers), so the example writes an `add` there and leaves s to the weights "
    "of the linear 1x1 conv before it: same layers, shapes and params, another class",
}


def shape_of(layer) -> list[int]:
    shape = layer.output.shape
    return [int(d) for d in shape[1:]]


def n_params(weights) -> int:
    return int(sum(int(w.numpy().size) for w in weights))


def dump(build) -> dict:
    model = build(weights=None)
    layers = [[type(layer).__name__, shape_of(layer), int(layer.count_params())]
              for layer in model.layers]
    return {"total": int(model.count_params()),
            "trainable": n_params(model.trainable_weights),
            "non_trainable": n_params(model.non_trainable_weights),
            "output": [int(d) for d in model.output.shape[1:]],
            "layers": layers}


def main() -> None:
    names = sys.argv[1:] or list(MODELS)
    dumps = {name: dump(MODELS[name]) for name in names}
    doc = {
        "_about": f"keras.applications models (weights=None, include_top=True) as built by "
                  f"TensorFlow {tf.__version__} / Keras {keras.__version__}: per layer "
                  f"[Keras class, output shape without the batch axis, count_params()], in "
                  f"model.layers order. Dumped by tests/golden/"
                  f"dump_keras_applications_inception.py.",
        "_published": {name: [d["total"], d["trainable"], len(d["layers"]), d["output"]]
                       for name, d in dumps.items()},
        "_kinds_differ": {n: why for n, why in KINDS_DIFFER.items() if n in dumps},
        **dumps,
    }
    # One layer a line, as keras_applications.json is laid out.
    parts = ["{"]
    items = list(doc.items())
    for i, (key, value) in enumerate(items):
        end = "," if i < len(items) - 1 else ""
        if key.startswith("_"):
            parts.append(f"{json.dumps(key)}:{json.dumps(value)}{end}")
            continue
        head = {k: v for k, v in value.items() if k != "layers"}
        rows = ",\n".join(json.dumps(row, separators=(",", ":")) for row in value["layers"])
        parts.append(f"{json.dumps(key)}:{json.dumps(head, separators=(',', ':'))[:-1]},"
                     f"\"layers\":[\n{rows}]}}{end}")
    parts.append("}")
    OUT.write_text("\n".join(parts) + "\n", encoding="utf-8")
    json.loads(OUT.read_text(encoding="utf-8"))
    print(f"wrote {OUT}: " + ", ".join(f"{n} {d['total']:,}" for n, d in dumps.items()))


if __name__ == "__main__":
    main()

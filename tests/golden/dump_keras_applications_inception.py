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

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import golden_json  # noqa: E402  (beside this script)
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


def dump(build) -> dict:
    model = build(weights=None)
    return golden_json.entry(model, golden_json.layer_rows(model))


def main() -> None:
    names = sys.argv[1:] or list(MODELS)
    dumps = {name: dump(MODELS[name]) for name in names}
    doc = {
        "_about": f"keras.applications models (weights=None, include_top=True) as built by "
                  f"TensorFlow {tf.__version__} / Keras {keras.__version__}: per layer "
                  f"[Keras class, output shape without the batch axis, count_params()], in "
                  f"model.layers order. Dumped by tests/golden/"
                  f"dump_keras_applications_inception.py.",
        "_published": golden_json.published(dumps),
        "_kinds_differ": {n: why for n, why in KINDS_DIFFER.items() if n in dumps},
        **dumps,
    }
    golden_json.save(OUT, doc, subset=bool(sys.argv[1:]))


if __name__ == "__main__":
    main()

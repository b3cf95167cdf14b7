"""Dump tests/golden/keras_applications_v1.json: the Keras oracle for the examples of
VGG19, ResNet101/152, ResNet50V2/101V2/152V2, Xception, MobileNet, DenseNet169/201.

For each `keras.applications.X(weights=None)` (include_top=True, 1000 classes) it writes,
in model.layers order, [Keras class, output shape without the batch axis, count_params()]
per layer, the totals, and the published totals under "_published". Run it by hand (it
builds the Keras models, which takes a minute); the tests only read the JSON:

    python tests/golden/dump_keras_applications_v1.py
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import golden_json  # noqa: E402  (beside this script)
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


def dump(cls: str, kwargs: dict) -> dict:
    keras.backend.clear_session()
    model = getattr(keras.applications, cls)(weights=None, include_top=True, **kwargs)
    return golden_json.entry(model, golden_json.layer_rows(model))


def main() -> None:
    dumps = {name: dump(cls, kwargs) for name, (cls, kwargs) in MODELS.items()}
    golden_json.write(OUT, {
        "_about": (f"keras.applications models (weights=None, include_top=True) as built by "
                   f"TensorFlow {tf.__version__} / Keras {keras.__version__}: per layer "
                   "[Keras class, output shape without the batch axis, count_params()], in "
                   "model.layers order. Dumped by tests/golden/dump_keras_applications_v1.py."),
        "_published": golden_json.published(dumps),
        **dumps,
    })


if __name__ == "__main__":
    main()

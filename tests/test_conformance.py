"""Every layer kind of the catalogue is implemented by every backend: one key (`conv`)
names the kind, the NumPy interpreter's method and the Keras backend's method."""

import pytest

from cnndsl.backends.numpy import Interpreter
from cnndsl.layers import KINDS

BACKENDS = {"numpy": Interpreter}
try:  # the Keras backend module imports Keras only when used, so it always imports
    from cnndsl.backends.keras.builder import KerasSpecs

    BACKENDS["keras"] = KerasSpecs
except ImportError:  # pragma: no cover
    pass
# The ONNX backend's module imports `onnx` only when a model is built, so it always imports.
# A kind ONNX could not express at all would still need its method, raising a located
# error (as `layernorm` does before opset 17, see docs/onnx.md).
from cnndsl.backends.onnx.layers import OnnxLayers  # noqa: E402

BACKENDS["onnx"] = OnnxLayers
# The PyTorch backend's steps import torch only when a module runs: checked without it.
from cnndsl.backends.torch.steps import TorchSteps  # noqa: E402

BACKENDS["torch"] = TorchSteps

RUNNABLE = [k.kind for k in KINDS if k.kind != "input"]  # the input is no computation


@pytest.mark.parametrize("backend", sorted(BACKENDS))
@pytest.mark.parametrize("kind", RUNNABLE)
def test_every_backend_has_every_kind(backend, kind):
    assert callable(getattr(BACKENDS[backend], kind, None)), f"{backend} lacks `{kind}`"


def test_every_kind_has_a_unique_word():
    words = [w for k in KINDS for w in (k.words or (k.kind,))]
    assert len(words) == len(set(words))


def test_keras_backend_is_in_the_table():
    assert "keras" in BACKENDS


def test_onnx_backend_is_in_the_table():
    assert "onnx" in BACKENDS

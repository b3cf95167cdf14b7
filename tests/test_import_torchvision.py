"""torchvision's classification CNNs, as PyTorch users export them, through `cnndsl import`.

Each model is built with `weights=None` (the architecture only: nothing is downloaded),
every weight and batch-norm statistic redrawn from a seed so that nothing is trivially 0
or 1, exported in eval mode by `torch.onnx.export` (the TorchScript-based exporter at
opset 17; the dynamo-based one, which writes the weights as external data beside the
model, for two of them), imported, and `cnndsl run`'s NumPy interpreter on the imported
text and weights must give onnxruntime's output on the exported file (relative error at
most 1e-4), with as many parameters as the model's ONNX initializers hold.

A fast subset runs by default; CNNDSL_HYPOTHESIS_PROFILE=thorough runs the whole family.
Needs the `torch` extra (pip install -e '.[torch]'): skipped without it.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from onnx_check import ort, relative_error, session

from cnndsl import compile_text
from cnndsl.backends.numpy import Interpreter

torch = pytest.importorskip("torch", reason="needs the torch extra: pip install -e '.[torch]'")
torchvision = pytest.importorskip("torchvision",
                                  reason="needs the torch extra: pip install -e '.[torch]'")
if ort is None:
    pytest.skip("onnx and onnxruntime are not installed: pip install 'cnndsl[onnx]'",
                allow_module_level=True)

import onnx  # noqa: E402

from cnndsl.commands.import_ import import_model  # noqa: E402

THOROUGH = os.environ.get("CNNDSL_HYPOTHESIS_PROFILE") == "thorough"
RTOL = 1e-4
# The family, each with its input side (Inception v3 wants 299, or at least 75).
FAMILY = {
    "resnet18": 224, "resnet50": 224, "resnext50_32x4d": 224, "wide_resnet50_2": 224,
    "vgg11": 224, "vgg11_bn": 224, "alexnet": 224, "squeezenet1_0": 224,
    "squeezenet1_1": 224, "googlenet": 224, "inception_v3": 299, "densenet121": 224,
    "mobilenet_v2": 224, "mobilenet_v3_small": 224, "mobilenet_v3_large": 224,
    "efficientnet_b0": 224, "mnasnet0_5": 224, "regnet_x_400mf": 224,
    "regnet_y_400mf": 224, "shufflenet_v2_x0_5": 224, "convnext_tiny": 224,
}
# One of each way PyTorch's CNNs are built: plain, residual with batch norms folded by
# the exporter, ceil pooling and concatenation, depthwise with hard activations and
# squeeze-excitation, chunk and channel shuffle.
FAST = ("resnet18", "squeezenet1_1", "mobilenet_v3_small", "shufflenet_v2_x0_5")
DYNAMO = ("mobilenet_v3_small", "shufflenet_v2_x0_5")  # the exporter writes external data


def redrawn(name: str, seed: int = 0):
    """The model in eval mode, every parameter and batch-norm statistic drawn anew."""
    torch.manual_seed(seed)
    options = {"aux_logits": False, "init_weights": True} \
        if name in ("googlenet", "inception_v3") else {}
    model = getattr(torchvision.models, name)(weights=None, **options).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn_like(parameter) * (1 / max(1, parameter[0].numel()))
                            ** 0.5)
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
    return model


def exported(name: str, folder: Path, dynamo: bool) -> Path:
    side = FAMILY[name]
    path = folder / f"{name}.onnx"
    # TorchScript's export with a dynamic batch axis, as users export for serving
    options = {} if dynamo else {"input_names": ["x"], "dynamic_axes": {"x": {0: "batch"}}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(redrawn(name), (torch.randn(1, 3, side, side),), str(path),
                          dynamo=dynamo, opset_version=18 if dynamo else 17, **options)
    return path


def initializer_count(model) -> int:
    """The numbers the model's floating-point initializers hold: its weights (the
    integer ones are shapes and axes)."""
    floating = (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16)
    return sum(int(np.prod(t.dims)) for t in model.graph.initializer
               if t.data_type in floating)


def check(name: str, folder: Path, dynamo: bool = False) -> None:
    path = exported(name, folder, dynamo)
    result = import_model(path, stem=name)
    graph = compile_text(result.text, name)
    model = onnx.load(str(path))  # with its external data, if any
    assert result.params == initializer_count(model)
    side = FAMILY[name]
    batch = 1 if dynamo else 2  # the dynamo export's batch axis is fixed at 1
    x = np.random.default_rng(1).standard_normal((batch, 3, side, side)).astype(np.float32)
    runner = session(model)
    theirs = runner.run(None, {runner.get_inputs()[0].name: x})[0]
    ours = Interpreter(graph, result.weights).run(np.moveaxis(x, 1, -1))
    assert ours.shape == theirs.shape
    assert relative_error(ours, theirs) <= RTOL


@pytest.mark.parametrize("name", sorted(FAMILY))
def test_torchvision_model_through_torchscript_export(name, tmp_path):
    if name not in FAST and not THOROUGH:
        pytest.skip("the whole family runs with CNNDSL_HYPOTHESIS_PROFILE=thorough")
    check(name, tmp_path)


@pytest.mark.parametrize("name", DYNAMO)
def test_torchvision_model_through_dynamo_export(name, tmp_path):
    pytest.importorskip("onnxscript", reason="PyTorch's dynamo exporter needs onnxscript")
    check(name, tmp_path, dynamo=True)

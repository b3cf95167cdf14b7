"""Random PyTorch CNNs through `torch.onnx.export` and `cnndsl import`, compared with
PyTorch itself.

Hypothesis draws `nn.Sequential` stacks as PyTorch users write them: Conv2d with random
kernels, strides, paddings (PyTorch's symmetric `padding=`, `padding="same"`), dilations,
groups and bias; MaxPool2d and AvgPool2d with random padding and ceil modes (and
`count_include_pad` both ways); BatchNorm2d with redrawn statistics; the activations
torch.nn has a step for; and a head of Flatten or global pooling, then Linear. Each is
exported in eval mode by the TorchScript-based exporter (opset 17), imported, and the NumPy
interpreter on the imported text and weights must give PyTorch's output on the same batch
(relative error at most 1e-4), with as many parameters as the exported initializers hold.

Default run: 100 networks, deterministically; CNNDSL_HYPOTHESIS_PROFILE=thorough: 1000 at
random. Needs the `torch` extra (pip install -e '.[torch]'): skipped without it.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, reject, settings
from hypothesis import strategies as st
from onnx_check import ort, relative_error

torch = pytest.importorskip("torch", reason="needs the torch extra: pip install -e '.[torch]'")
if ort is None:
    pytest.skip("onnx and onnxruntime are not installed: pip install 'cnndsl[onnx]'",
                allow_module_level=True)

import onnx  # noqa: E402

from cnndsl import compile_text  # noqa: E402
from cnndsl.backends.numpy import Interpreter  # noqa: E402
from cnndsl.commands.import_ import import_model  # noqa: E402

nn = torch.nn
THOROUGH = os.environ.get("CNNDSL_HYPOTHESIS_PROFILE") == "thorough"
RTOL = 1e-4
ACTIVATIONS = (nn.ReLU, nn.ReLU6, lambda: nn.LeakyReLU(0.1), nn.ELU, nn.GELU, nn.SiLU,
               nn.Hardswish, nn.Hardsigmoid, nn.Sigmoid, nn.Tanh)


@st.composite
def stacks(draw):
    """(the layers of an nn.Sequential, the input's channels and sides)."""
    channels, height, width = draw(st.integers(1, 4)), draw(st.integers(5, 14)), \
        draw(st.integers(5, 14))
    c, layers = channels, []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(("conv", "conv", "maxpool", "avgpool", "bn", "act")))
        if kind == "conv":
            k = draw(st.integers(1, 4))
            stride = draw(st.integers(1, 3))
            # strided and dilated at once is refused: Keras's windows are one or the other
            dilation = draw(st.integers(1, 2)) if stride == 1 or k == 1 else 1
            groups = draw(st.sampled_from([g for g in (1, 2, 3, 4) if c % g == 0]))
            filters = groups * draw(st.integers(1, 3))
            padding = "same" if stride == 1 and draw(st.booleans()) else \
                (draw(st.integers(0, k // 2 + 1)), draw(st.integers(0, k // 2 + 1)))
            layers.append(nn.Conv2d(c, filters, k, stride, padding, dilation, groups,
                                    bias=draw(st.booleans())))
            c = filters
        elif kind in ("maxpool", "avgpool"):
            k = draw(st.integers(1, 3))
            stride = draw(st.integers(1, 3))
            padding = draw(st.integers(0, k // 2))
            ceil = draw(st.booleans())
            layers.append(nn.MaxPool2d(k, stride, padding, ceil_mode=ceil) if kind == "maxpool"
                          else nn.AvgPool2d(k, stride, padding, ceil_mode=ceil,
                                            count_include_pad=draw(st.booleans())))
        elif kind == "bn":
            layers.append(nn.BatchNorm2d(c))
        else:
            layers.append(draw(st.sampled_from(ACTIVATIONS))())
    head = draw(st.sampled_from(("flatten", "gap", "none")))
    if head != "none":
        layers.append(nn.Flatten() if head == "flatten" else
                      nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()))
        layers.append(nn.LazyLinear(draw(st.integers(1, 6)), bias=draw(st.booleans())))
        if draw(st.booleans()):
            layers.append(draw(st.sampled_from(ACTIVATIONS))())
    return layers, (channels, height, width)


def built(layers, shape, seed: int):
    """The stack in eval mode with every weight and statistic redrawn; None where
    PyTorch refuses the sizes (a window larger than its padded input)."""
    model = nn.Sequential(*layers).eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, *shape))  # sizes the LazyLinear, checks every window
    except RuntimeError:
        return None
    return redrawn(model, seed)


def redrawn(model, seed: int):
    """Every parameter and batch-norm statistic drawn anew, so nothing is trivially 0 or
    1 (a batch norm left at its initial statistics would be an identity)."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn_like(parameter) / max(1, parameter[0].numel()) ** 0.5)
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 1.5)
    return model


@settings(max_examples=1000 if THOROUGH else 100, derandomize=not THOROUGH, deadline=None,
          database=None, suppress_health_check=list(HealthCheck))
@given(stacks(), st.integers(0, 2**16))
def test_a_random_pytorch_cnn_imports_and_computes_what_pytorch_does(stack, seed):
    layers, shape = stack
    model = built(layers, shape, seed)
    if model is None:
        reject()
    note(repr(model))
    x = torch.from_numpy(np.random.default_rng(seed).standard_normal((2, *shape))
                         .astype(np.float32))
    with torch.no_grad():
        theirs = model(x).numpy()
    if min(theirs.shape) == 0:
        reject()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "net.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (x,), str(path), dynamo=False, opset_version=17,
                              input_names=["x"], dynamic_axes={"x": {0: "batch"}})
        result = import_model(path, stem="net")
        floating = sum(int(np.prod(t.dims)) for t in onnx.load(str(path)).graph.initializer
                       if t.data_type == onnx.TensorProto.FLOAT)
    note(result.text)
    assert result.params == floating
    graph = compile_text(result.text, "net")
    ours = Interpreter(graph, result.weights).run(np.moveaxis(x.numpy(), 1, -1))
    ours = np.moveaxis(ours, -1, 1) if ours.ndim == 4 else ours
    assert ours.shape == theirs.shape
    assert relative_error(ours, theirs) <= RTOL


class EveryOpset(nn.Module):
    """What the TorchScript exporter writes differently from opset to opset: HardSwish and
    HardSigmoid (whole operators from 14), GELU (Erf before 20), Upsample (Resize's inputs),
    ReduceMean's axes (an input from 18), a ceil pool, PixelShuffle, a squeeze-excitation
    product, batch norm folded into the conv before it."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.BatchNorm2d(8), nn.ReLU6())
        self.se = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(8, 4, 1), nn.ReLU(),
                                nn.Conv2d(4, 8, 1), nn.Hardsigmoid())
        self.body = nn.Sequential(
            nn.Conv2d(8, 8, 3, 1, 1, groups=8), nn.Hardswish(), nn.Conv2d(8, 16, 1), nn.GELU(),
            nn.Upsample(scale_factor=2), nn.MaxPool2d(3, 2, 1, ceil_mode=True),
            nn.PixelShuffle(2), nn.AvgPool2d(2, 2, ceil_mode=True, count_include_pad=False),
            nn.Dropout(0.2))
        self.head = nn.Sequential(nn.Flatten(), nn.LazyLinear(10), nn.Softmax(dim=1))

    def forward(self, x):
        x = self.stem(x)
        return self.head(self.body(x * self.se(x)))


@pytest.mark.parametrize("opset", range(13, 21))
def test_the_torchscript_exporter_at_every_opset_from_13_to_20(opset, tmp_path):
    """The same module exported at each opset the TorchScript exporter writes imports as
    the same text (the module paths as layer names: `stem_0`, `body_3`), computing what
    PyTorch does."""
    module = EveryOpset().eval()
    x = torch.from_numpy(np.random.default_rng(opset).standard_normal((2, 3, 19, 19))
                         .astype(np.float32))
    with torch.no_grad():
        module(x)  # sizes the LazyLinear
        theirs = redrawn(module, opset)(x).numpy()
    path = tmp_path / "net.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (x,), str(path), dynamo=False, opset_version=opset)
    assert onnx.load(str(path)).opset_import[0].version == opset
    result = import_model(path, stem="net")
    steps = " ".join(line.split("#")[0].strip() for line in result.text.splitlines())
    assert "conv 3/2 x8 pad=1 name=stem_0 -> relu6 name=stem_2" in steps
    assert "hard_swish name=body_1" in steps and "gelu name=body_3" in steps
    assert "maxpool 3/2 pad=1 ceil name=body_5" in steps
    assert "pixel_shuffle 2 name=body_6 -> avgpool 2 ceil name=body_7" in steps
    graph = compile_text(result.text, "net")
    ours = Interpreter(graph, result.weights).run(np.moveaxis(x.numpy(), 1, -1))
    assert relative_error(ours, theirs) <= RTOL

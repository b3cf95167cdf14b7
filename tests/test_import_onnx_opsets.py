"""`cnndsl import` reads every opset from 13 to 21 alike: one network whose steps ONNX
writes differently across those opsets (HardSwish from 14, LayerNormalization from 17,
ReduceMean's and Split's and Squeeze's axes moved from attributes to inputs at 13 and 18,
Split's `num_outputs` from 18, Gelu from 20, Resize and Pad as they are at each) exported by
cnndsl at each opset, imported, and compared with the network it came from: the same
text, and the NumPy interpreter on the imported text and weights computes the original's
output on the same batch, as onnxruntime does on the file (relative error at most 1e-5).
PyTorch's exporter at each opset it writes is in tests/test_import_torch_random.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx_check import ORT_RTOL, relative_error, session
from zoo import lively_weights

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from cnndsl import compile_text  # noqa: E402
from cnndsl.backends.numpy import Interpreter  # noqa: E402
from cnndsl.backends.onnx import build_model  # noqa: E402
from cnndsl.commands.import_ import import_model  # noqa: E402
from cnndsl.views.printing.printer import to_text  # noqa: E402

NETWORK = """input 12x12x4
  -> zeropad 1 -> conv 3 x8 relu6 -> bn
  -> mul {{ id | gap keepdims -> conv 1 x2 relu -> conv 1 x8 hard_sigmoid }}
  -> dwconv 3 same hard_swish -> conv 1 x8 gelu
  -> split {{ conv 1 x4 silu | id }} -> channel_shuffle 2
  -> {norm} -> upsample 2 -> maxpool 2 -> avgpool 2 same
  -> pixel_shuffle 2 -> conv 1 x8 elu
  -> concat {{ gap | gmp }} -> dense 10 softmax
"""


@pytest.mark.parametrize("opset", range(13, 22))
def test_every_opset_from_13_to_21_comes_back(opset, tmp_path):
    # LayerNormalization is ONNX's from opset 17 on (cnndsl refuses `layernorm` before)
    graph = compile_text(NETWORK.format(norm="layernorm" if opset >= 17 else "bn"), "net")
    weights = lively_weights(graph, opset)
    model = build_model(graph, weights, opset=opset)
    assert model.opset_import[0].version == opset
    path = tmp_path / "net.onnx"
    onnx.save(model, path)
    result = import_model(path, stem="net")
    text = "\n".join(line for line in result.text.splitlines() if not line.startswith("#"))
    assert text.strip() == to_text(graph).strip()
    x = np.random.default_rng(opset).normal(0, 1, (2, 12, 12, 4)).astype(np.float32)
    back = compile_text(result.text, "net")
    ours = Interpreter(back, result.weights).run(x)
    assert relative_error(ours, Interpreter(graph, weights).run(x)) <= ORT_RTOL
    runner = session(model)
    theirs = runner.run(None, {runner.get_inputs()[0].name: x})[0]
    assert relative_error(ours, theirs) <= ORT_RTOL

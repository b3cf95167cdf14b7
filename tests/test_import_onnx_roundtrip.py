"""The round trip, on networks Hypothesis draws: `cnndsl compile NET.cnn -o NET.onnx`, then
`cnndsl import NET.onnx`, gives back a network that computes the same (the NumPy
interpreter on both, the same weights through the `.npz` the import writes, relative
error at most 1e-5) and, but for what ONNX cannot tell apart, the same text: the printer's
text of the network drawn, folding and names included.

What ONNX cannot tell apart, each of which comes back as a text of the same function: a
transposed convolution's `same` and `valid` where they pad alike (the stride is the
kernel; `ALIKE`), and a `same` that pads nothing for its sizes (`maxpool 1/2 same` on 2:
`valid` computes the same) or that a pooling's narrow window makes the export write out
as pads. Decimals and fractions held as float32 come back as written (`rescale {1/255}`,
`variance={1/9}`, ImageNet's `variance=3409.976025`), an adapted `normalize` as adapted
(its statistics are initializers), a dropout's noise shape from the node's documentation.

The networks are test_differential.py's strategy (every step of the language); the
default run draws 150 of them, deterministically (127 of which are held to the same text,
measured), `CNNDSL_HYPOTHESIS_PROFILE=thorough` 3000 at random.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings

onnx = pytest.importorskip("onnx")
from test_differential import networks  # noqa: E402 - needs Keras, as that file does
from zoo import lively_weights  # noqa: E402

from cnndsl import compile_text  # noqa: E402
from cnndsl.backends.numpy import Interpreter  # noqa: E402
from cnndsl.backends.onnx import build_model  # noqa: E402
from cnndsl.commands.import_ import import_model  # noqa: E402
from cnndsl.layers.shapes import same_padding  # noqa: E402
from cnndsl.views.printing.printer import to_text  # noqa: E402

THOROUGH = os.environ.get("CNNDSL_HYPOTHESIS_PROFILE") == "thorough"
ALIKE = re.compile(r"deconv")
RTOL = 1e-5


def body(text: str) -> str:
    """The text without its comments (the header, the list of names)."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("#")).strip()


@settings(max_examples=3000 if THOROUGH else 150, derandomize=not THOROUGH, deadline=None,
          database=None, suppress_health_check=list(HealthCheck))
@given(networks)
def test_a_drawn_network_comes_back_from_its_onnx_export(spec):
    note(f"spec: {spec}")
    graph = compile_text(spec, "net")
    weights = lively_weights(graph, 0)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "net.onnx"
        onnx.save(build_model(graph, weights), path)
        result = import_model(path, stem="net")
    back = compile_text(result.text, "net")
    x = np.random.default_rng(1).normal(0, 1, (2, *graph.input.shape)).astype(np.float32)
    ours = Interpreter(graph, weights).run_many([x])
    theirs = Interpreter(back, result.weights).run_many([x])
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape
        assert np.max(np.abs(a - b)) <= RTOL * max(1.0, float(np.max(np.abs(a)))), result.text
    if not ALIKE.search(spec) and not same_padding_nothing(graph):
        assert body(result.text) == body(to_text(graph)), result.text


def same_padding_nothing(graph) -> bool:
    """Whether a window of the graph says `same` where that pads nothing, or where the
    export must write `same` out as pads (a pooling window that misses the input's end,
    narrower than its stride: onnxruntime refuses ONNX's own `SAME_UPPER` there)."""
    for n in graph.nodes:
        if getattr(n.layer, "padding", None) != "same":
            continue
        sizes, kernel, stride = n.in_shapes[0][:-1], n.layer.kernel, n.layer.stride
        dilation = getattr(n.layer, "dilation", None) or (1,) * len(kernel)
        if not any(sum(same_padding(*a)) for a in zip(sizes, kernel, stride, dilation)):
            return True
        if n.kind in ("maxpool", "avgpool") and any(
                (-(-size // s) - 1) * s + k < size for size, k, s in zip(sizes, kernel, stride)):
            return True
    return False

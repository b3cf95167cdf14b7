"""`cnndsl import NET.onnx` of every example's own ONNX export: the function comes back.

Each example (at the small size tests/test_onnx.py runs it at) is compiled to ONNX with
lively weights (no batch norm at 0 and 1, no zero bias: a constant output would prove
nothing), imported back, and the imported text run in the NumPy interpreter with the
imported weights must give onnxruntime's output for the exported model, with as many
parameters. The oracle is onnxruntime on the exported file, never the importer's view of
it. And the round trip: the imported text is the text the printer writes for the example
itself (`to_text`, as `cnndsl import` of a Keras model writes it), folding, names and
numbers and all, for every example.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from onnx_check import ORT_RTOL, ort, relative_error, session, small
from zoo import lively

from cnndsl import compile_text
from cnndsl.backends.numpy import Interpreter
from cnndsl.backends.weights import init_weights
from cnndsl.formatting import format_text
from cnndsl.views.printing.printer import to_text

if ort is None:
    pytest.skip("onnx and onnxruntime are not installed: pip install 'cnndsl[onnx]'",
                allow_module_level=True)

import onnx  # noqa: E402

from cnndsl.backends.onnx import build_model  # noqa: E402
from cnndsl.commands.import_ import import_model  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
THOROUGH = os.environ.get("CNNDSL_HYPOTHESIS_PROFILE") == "thorough"
EXAMPLES = sorted((ROOT / "examples").glob("*.cnn"))
# The deepest examples are their smaller siblings' layers many times over: in the
# default run the siblings stand for them (CNNDSL_HYPOTHESIS_PROFILE=thorough runs all).
DEEP = {"resnet101", "resnet152", "resnet101_v2", "resnet152_v2", "densenet169",
        "densenet201", "vgg19", "efficientnet_b3"}


def body(text: str) -> str:
    """The text without its header comment."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("# ")).strip()


def params(graph) -> int:
    return graph.params


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_comes_back_from_its_onnx_export(path, tmp_path):
    if path.stem in DEEP and not THOROUGH:
        pytest.skip("a deeper sibling of an example checked here (thorough profile: all)")
    graph = compile_text(small(path.read_text(encoding="utf-8")), path.stem)
    weights = lively(init_weights(graph, 0), np.random.default_rng(0), gamma=(0.5, 1.5),
                     variance=(0.5, 1.5))
    model = build_model(graph, weights)
    saved = tmp_path / f"{path.stem}.onnx"
    onnx.save(model, saved)

    result = import_model(saved, stem=path.stem)

    imported = compile_text(result.text, path.stem)
    assert body(result.text) == body(to_text(graph)), result.text
    assert format_text(result.text) == result.text  # `cnndsl import` writes fmt's layout
    assert result.params == params(imported) == params(graph)
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal((2, *n.shape)).astype(np.float32) for n in graph.input_nodes]
    expected = session(model).run([n.name for n in graph.output_nodes],
                                  {n.name: x for n, x in zip(graph.input_nodes, xs)})
    # the imported inputs are in the model's order, named as the export names them
    got = Interpreter(imported, result.weights).run_many(xs)
    assert [g.shape for g in got] == [e.shape for e in expected]
    for ours, theirs in zip(got, expected):
        assert relative_error(ours, theirs) <= 10 * ORT_RTOL

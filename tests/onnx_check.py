"""onnxruntime as a backend for the tests: run a network's ONNX model, check its shapes.

Shared by tests/test_onnx.py and the differential tests (NumPy against onnxruntime).
`ort` is None when onnxruntime or onnx is not installed; callers skip then.
"""

from __future__ import annotations

import re

import numpy as np

from cnndsl import CnnError, compile_text

try:
    import onnx
    import onnxruntime as ort
except ImportError:  # pragma: no cover - depends on the installation
    onnx = ort = None

ORT_RTOL = 1e-5  # max|onnxruntime - numpy| <= ORT_RTOL * max(1, max|numpy|)
IMAGE = re.compile(r"^(\s*input (?:\d+x)?)(\d+)x(\d+)(x\d+\s)", re.MULTILINE)
SMALL_SIDES = (32, 48, 64, 75, 96, 128)


def session(model):
    """An onnxruntime CPU session of `model`, on one thread: the tests run side by side."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options,
                                providers=["CPUExecutionProvider"])


def run_onnx(graph, model, xs) -> list[np.ndarray]:
    """The outputs (in `graph.outputs` order) of `model` on `xs` (one per input)."""
    feeds = {node.name: x for node, x in zip(graph.input_nodes, xs)}
    return session(model).run([n.name for n in graph.output_nodes], feeds)


def relative_error(ours: np.ndarray, reference: np.ndarray) -> float:
    return float(np.max(np.abs(ours - reference), initial=0.0)
                 / max(1.0, float(np.max(np.abs(reference), initial=0.0))))


def inferred_shapes(model) -> dict[str, tuple]:
    """Every value's shape as ONNX's own shape inference finds it (batch axis included;
    a symbolic dimension as its name)."""
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    values = [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]
    return {v.name: tuple(d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim)
            for v in values}


def check_inferred_shapes(graph, model) -> int:
    """ONNX's inferred shape of every layer's value equals cnndsl's, in whichever layout
    it was written (channels-last under the layer's name, channels-first under
    `NAME/channels_first`); returns how many values were compared."""
    shapes = inferred_shapes(model)
    compared = 0
    for node in graph.nodes:
        last = node.shape
        first = last if len(last) < 2 else (last[-1], *last[:-1])
        for name, expected in ((node.name, last), (f"{node.name}/channels_first", first)):
            if name in shapes:
                assert shapes[name] == ("batch", *expected), \
                    f"{name}: ONNX infers {shapes[name]}, cnndsl {expected}"
                compared += 1
    return compared


def run_every_layer(graph, model, xs) -> dict[str, np.ndarray]:
    """Every layer's value (channels-last, by layer name) as onnxruntime computes it:
    the model with each layer's value, in whichever layout it was written, as an output."""
    names = {value for node in model.graph.node for value in node.output}
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    wanted: dict[str, tuple[str, bool]] = {}
    for node in graph.nodes[1:]:
        first = f"{node.name}/channels_first"
        if node.name in names:
            wanted[node.name] = (node.name, False)
        elif first in names:
            wanted[node.name] = (first, True)
    outputs = {v.name for v in probe.graph.output}
    for value, _ in wanted.values():
        if value not in outputs:
            probe.graph.output.append(onnx.helper.make_empty_tensor_value_info(value))
    feeds = {node.name: x for node, x in zip(graph.input_nodes, xs)}
    got = dict(zip([v for v, _ in wanted.values()],
                   session(probe).run([v for v, _ in wanted.values()], feeds)))
    return {layer: np.moveaxis(got[value], 1, -1) if first else got[value]
            for layer, (value, first) in wanted.items()}


def small(text: str) -> str:
    """The spec at the smallest image side it compiles with, among SMALL_SIDES (the
    spec as written if none is smaller than its own)."""
    found = IMAGE.search(text)
    if found is None:
        return text
    for side in SMALL_SIDES:
        if side >= min(int(found[2]), int(found[3])):
            break
        shrunk = IMAGE.sub(lambda m, s=side: f"{m[1]}{s}x{s}{m[4]}", text, count=1)
        try:
            compile_text(shrunk, "small")
        except CnnError:
            continue
        return shrunk
    return text

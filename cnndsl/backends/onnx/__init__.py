"""The ONNX backend: a typed network as an ONNX model, written with the `onnx` package
alone (no TensorFlow, no converter).

    cnndsl compile resnet50.cnn -o resnet50.onnx --opset 17

The model takes and gives channels-last tensors, as every cnndsl backend does, with a
batch axis of any size (`batch`); its inputs and outputs are named after the spec's,
every ONNX node after the layer it computes, and the weights are initializers named
`LAYER/VARIABLE` (in ONNX's layout: a conv kernel is (filters, in, *k)). Inside, the
graph is channels-first where ONNX's operators need it; see `emitter` for where the
transposes go, `layers` for one method per layer kind.

`onnx` is imported only when a model is built: `shapes`, `check` and `run` never need it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ...errors import CnnError
from ...graph.ir import Graph
from .emitter import FIRST, LAST, Emitter, in_layout, permutation

DEFAULT_OPSET = 17  # LayerNormalization's; read by onnxruntime >= 1.13, TensorRT 8.6
MIN_OPSET = 13  # Softmax over one axis, Clip's and Pad's bounds as inputs
INSTALL = "pip install 'cnndsl[onnx]'"
MAX_PROTOBUF = 2**31 - 1  # protobuf's limit on one serialised message, the whole model

__all__ = ["DEFAULT_OPSET", "MIN_OPSET", "FIRST", "LAST", "build_model", "save_model",
           "max_opset", "in_layout", "permutation", "Emitter", "onnx_module"]


def onnx_module():
    """The `onnx` package, or a `CnnError` naming the pip command."""
    try:
        import onnx
    except ImportError as e:
        raise CnnError(f"writing ONNX needs the onnx package ({e})", hint=INSTALL) from e
    return onnx


def max_opset() -> int:
    """The newest operator set the installed `onnx` package knows."""
    return int(onnx_module().defs.onnx_opset_version())


def build_model(graph: Graph, weights: Mapping[str, np.ndarray], opset: int = DEFAULT_OPSET):
    """The network as an `onnx.ModelProto` carrying `weights` (keyed `LAYER/VARIABLE`),
    checked by `onnx.checker` with full shape inference."""
    onnx = onnx_module()
    from ..weights import check_weights
    from .layers import OnnxLayers

    check_weights(graph, weights)
    check_size(graph)
    builder = OnnxLayers(graph, weights, opset)
    for node in graph.nodes:
        if node.kind == "input":
            builder.record(node, node.name, LAST)
        else:
            builder.emit(node)
    for index in graph.outputs:
        builder.value(index, LAST)  # every output channels-last, named after its layer
    helper = onnx.helper

    def tensor(node):
        return helper.make_tensor_value_info(node.name, onnx.TensorProto.FLOAT,
                                             ["batch", *node.shape])

    body = helper.make_graph(builder.nodes, graph.name,
                             [tensor(n) for n in graph.input_nodes],
                             [tensor(n) for n in graph.output_nodes], builder.initializers)
    opsets = [helper.make_opsetid("", opset)]
    model = helper.make_model(body, opset_imports=opsets, producer_name="cnndsl",
                              producer_version=_version(),
                              ir_version=helper.find_min_ir_version_for(opsets))
    onnx.checker.check_model(model, full_check=True)
    return model


MAX_WEIGHTS = (MAX_PROTOBUF - 2**24) // 4  # float32 weights, 16 MiB left for the graph


def check_size(graph: Graph) -> None:
    """A located error, at the layer with the most weights, for a model over protobuf's
    2 GiB (ONNX keeps such weights in a file of their own, which cnndsl does not write).
    Counted from the layers' declarations alone, so it costs nothing however big."""
    params = [sum(n.layer.params(n.in_shapes)) for n in graph.nodes]
    if sum(params) <= MAX_WEIGHTS:
        return
    biggest = max(range(len(params)), key=params.__getitem__)
    raise CnnError(f"the ONNX model would hold {sum(params):,} weights ({_gib(4 * sum(params))}"
                   f" as float32), over the {MAX_WEIGHTS:,} that fit in one .onnx file "
                   f"(protobuf's 2 GiB); this layer has {params[biggest]:,} of them",
                   graph.nodes[biggest].span, "make the network smaller, or compile to .keras")


def _gib(size: int) -> str:
    return f"{size / 2**30:,.2f} GiB"


def save_model(model, path: Path | None) -> None:
    """Write the model atomically to `path`, or to standard output if None."""
    from ...support.files import staged, staged_stdout

    data = model.SerializeToString()
    with staged(path, suffix=".onnx") if path is not None else \
            staged_stdout(suffix=".onnx") as tmp:
        tmp.write_bytes(data)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cnndsl")
    except PackageNotFoundError:
        return "0"

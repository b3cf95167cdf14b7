"""`cnndsl compile NET.cnn -o NET.onnx [--opset K]`: the network as an ONNX model.

Written by cnndsl's own ONNX backend with the `onnx` package alone: TensorFlow is never
imported (unless the weights come from a `.keras` model, which only Keras can read).
The opset and the model's size (protobuf's 2 GiB, from the layers' parameter counts) are
checked before any work, so a network too big for one file is refused before a weight is
drawn or read; a layer the chosen opset cannot express is a located error from the
backend; the file is written atomically, as every output.
"""

from __future__ import annotations

from pathlib import Path

from .. import signals
from ..errors import CnnError
from ..files import FileError
from ..ir import Graph


def compile_onnx(graph: Graph, output: Path | None, weights: Path | None = None,
                 seed: int = 0, opset: int | None = None) -> tuple[int, int]:
    """Write the network with `weights` (or seeded Keras-like initial weights) as ONNX to
    `output`, or to standard output if None; returns (its parameter count, the opset)."""
    from .. import compile as keras_compile
    from ..backends import onnx as backend
    from ..weights import init_weights

    # From the layers' counts: a refusal makes no weight and does not wait for onnx's
    # import (2 s on a busy machine).
    backend.check_size(graph)
    try:
        newest = backend.max_opset()
    except CnnError as e:
        raise FileError("cnndsl", f"{e.message}: it is not installed or cannot be imported",
                        backend.INSTALL) from None
    opset = backend.DEFAULT_OPSET if opset is None else opset
    if not backend.MIN_OPSET <= opset <= newest:
        raise FileError("cnndsl compile", f"--opset must be between {backend.MIN_OPSET} and "
                        f"{newest} (the newest the installed onnx package knows), got {opset}",
                        f"the default, {backend.DEFAULT_OPSET}, is read by onnxruntime 1.13 "
                        "and later")
    if weights is not None:
        values = keras_compile.read_weights(weights)
        keras_compile.fit(graph, values, weights)
    else:
        values = init_weights(graph, seed)
    model = backend.build_model(graph, values, opset)
    signals.check()
    with keras_compile.writing(output):
        backend.save_model(model, output)
    params = sum(sum(n.layer.params(n.in_shapes)) for n in graph.nodes)
    return params, opset

"""The network as an ONNX model: built (`onnx_model`) or built and written (`compile_onnx`,
for `cnndsl compile NET.cnn -o NET.onnx [--opset K]`).

Written by cnndsl's own ONNX backend with the `onnx` package alone: TensorFlow is never
imported (unless the weights come from a `.keras` model, which only Keras can read).
The opset and the model's size (protobuf's 2 GiB, from the layers' parameter counts) are
checked before any work, so a network too big for one file is refused before a weight is
drawn or read; a layer the chosen opset cannot express is a located error from the
backend; the file is written atomically, as every output.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import CnnError, MissingExtra
from ...graph.ir import Graph
from ...support import signals
from ...support.files import FileError, writing

if TYPE_CHECKING:
    from ..given import GivenWeights


def compile_onnx(graph: Graph, output: Path | None, weights: Path | None = None,
                 seed: int = 0, opset: int | None = None) -> tuple[int, int]:
    """Write the network with `weights` (or seeded Keras-like initial weights) as ONNX to
    `output`, or to standard output if None; returns (its parameter count, the opset)."""
    from .. import onnx as backend

    try:
        model, opset = onnx_model(graph, weights, seed, opset)
    except MissingExtra as e:
        raise FileError("cnndsl", e.args[0], e.hint) from None
    signals.check()
    with writing(output):
        backend.save_model(model, output)
    params = graph.params
    return params, opset


def onnx_model(graph: Graph, weights: GivenWeights = None, seed: int = 0,
               opset: int | None = None):
    """(the `onnx.ModelProto` `compile_onnx` writes, its opset), built the same way
    (`Network.to_onnx`): `weights` as a file (`--weights`), a mapping, or None for
    seeded initial weights. `MissingExtra` without the onnx package."""
    from .. import onnx as backend
    from ..given import given_weights
    from ..weights import init_weights

    # From the layers' counts: a refusal makes no weight and does not wait for onnx's
    # import (2 s on a busy machine).
    backend.check_size(graph)
    try:
        newest = backend.max_opset()
    except CnnError as e:
        raise MissingExtra(f"{e.message}: it is not installed or cannot be imported",
                           "onnx") from None
    opset = backend.DEFAULT_OPSET if opset is None else opset
    if not backend.MIN_OPSET <= opset <= newest:
        raise FileError("cnndsl compile", f"--opset must be between {backend.MIN_OPSET} and "
                        f"{newest} (the newest the installed onnx package knows), got {opset}",
                        f"the default, {backend.DEFAULT_OPSET}, is read by onnxruntime 1.13 "
                        "and later")
    values = init_weights(graph, seed) if weights is None else \
        given_weights(graph, weights)
    return backend.build_model(graph, values, opset), opset

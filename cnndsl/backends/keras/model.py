"""The network as a Keras model: built (`keras_model`) or built and saved (`compile_keras`).

Both build the same way, with given weights or seeded Keras-like initial ones, after a
check that the build fits in the memory available now (measured factors in `runtime`).
"""

from __future__ import annotations

from pathlib import Path

from ...errors import CnnError, MissingExtra
from ...graph.ir import Graph
from ...support import files, signals
from ...support.files import FileError, writing
from ..given import GivenWeights, given_weights
from ..weights import Weights
from . import runtime
from .runtime import COPIES, COPIES_FROM_KERAS, INSTALL, TENSORFLOW_BYTES, gib


def compile_keras(graph: Graph, output: Path | None, weights: Path | None = None,
                  seed: int = 0) -> int:
    """Write the network as a `.keras` model carrying `weights` (or seeded Keras-like
    initial weights) to `output`, or to standard output if None; returns its parameter
    count. A network whose weights cannot fit in memory while Keras builds and saves it
    is refused first (`check_memory`)."""
    check_memory(graph, weights)
    where = output if output is not None else "cnndsl compile"
    # a bad file is said before TensorFlow's import (seconds)
    values = None if weights is None else given_weights(graph, weights)
    with runtime.keras_backend(where, "building and saving the model") as backend:
        model = _build_keras(backend, graph, values, seed)
        signals.check()  # a signal Keras swallowed while building: no save
        with writing(output):
            backend.save_model(model, output)
    return int(model.count_params())


def keras_model(graph: Graph, weights: GivenWeights = None, seed: int = 0):
    """The `keras.Model` `compile_keras` saves, built the same way (`Network.to_keras`):
    `weights` as a file (`--weights`), a mapping, or None for seeded initial weights."""
    check_memory(graph, weights)
    values = None if weights is None else given_weights(graph, weights)
    try:
        with runtime.keras_backend("cnndsl", "building the model") as backend:
            return _build_keras(backend, graph, values, seed)
    except FileError as e:
        if e.hint == INSTALL:  # no TensorFlow: from Python, an ImportError naming the extra
            raise MissingExtra(e.message, "keras") from None
        raise


def _build_keras(backend, graph: Graph, values: Weights | None, seed: int):
    """The one build of both: `values`, or seeded weights drawn while Keras builds."""
    if values is None:
        return backend.build_seeded(graph, seed)
    return backend.build_model(graph, values)


def compile_memory(graph: Graph, weights: GivenWeights = None) -> int:
    """Bytes of memory `compile_keras` is expected to take at its peak."""
    params = graph.params
    return TENSORFLOW_BYTES + 4 * params * _copies(weights)


def _copies(weights: GivenWeights) -> int:
    """How many times the weights are held at once, by where they come from."""
    from_keras = isinstance(weights, Path) and weights.suffix.lower() == ".keras"
    return COPIES_FROM_KERAS if from_keras else COPIES


def check_memory(graph: Graph, weights: GivenWeights = None) -> None:
    """A located `CnnError` (at the layer with the most weights) if the compile would need
    more memory than the system has available now: TensorFlow would fail part way with
    an out-of-memory error, or the system would kill the process."""
    need, available = compile_memory(graph, weights), files.available_memory()
    if available is None or need <= available:
        return
    params = [sum(n.layer.params(n.in_shapes)) for n in graph.nodes]
    biggest = max(range(len(params)), key=params.__getitem__)
    fits = max(0, (available - TENSORFLOW_BYTES) // (4 * _copies(weights)))
    raise CnnError(f"compiling this network needs about {gib(need)} of memory, more than "
                   f"the {gib(available)} available ({sum(params):,} weights of 4 bytes, "
                   f"held about {_copies(weights)} times while Keras builds and saves the "
                   f"model); this layer has {params[biggest]:,} of them",
                   graph.nodes[biggest].span, f"a compile here can take about {fits:,} "
                   "weights (`cnndsl shapes` lists each layer's); free some memory or make "
                   "the network smaller")

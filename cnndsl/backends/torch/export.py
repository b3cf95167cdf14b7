"""The network as a `torch.export` program carrying its weights, for `cnndsl compile NET.cnn
-o NET.pt2 [--weights W.npz | --seed N]`: loadable with `torch.export.load` alone, its
`state_dict` keyed as the readable source's module (`cnndsl compile --emit torch`), so the
weights load into that module too. The batch axis is left open; the file is written
atomically, as every output.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import MissingExtra
from ...graph.ir import Graph
from ...support import signals
from ...support.files import FileError, writing

if TYPE_CHECKING:
    from ..given import GivenWeights


def compile_pt2(graph: Graph, output: Path | None, weights: Path | None = None,
                seed: int = 0) -> int:
    """Write the program to `output` (None: standard output); returns its parameter count."""
    from ...support.files import staged, staged_stdout

    try:
        program = exported_program(graph, weights, seed)
    except MissingExtra as e:
        raise FileError("cnndsl", e.args[0], e.hint) from None
    signals.check()
    import torch

    with writing(output), (staged(output, suffix=".pt2") if output is not None
                           else staged_stdout(suffix=".pt2")) as tmp:
        torch.export.save(program, str(tmp))
    return sum(sum(n.layer.params(n.in_shapes)) for n in graph.nodes)


def exported_program(graph: Graph, weights: GivenWeights = None, seed: int = 0):
    """`torch.export.export` of the built module on a batch of two, the batch axis a
    dynamic dimension; `MissingExtra` without torch."""
    from ..given import given_weights
    from ..weights import init_weights
    from .module import build_module

    try:
        import torch
    except ImportError:
        raise MissingExtra("writing a .pt2 program needs PyTorch, which is not installed",
                           "torch") from None
    values = init_weights(graph, seed) if weights is None else given_weights(graph, weights)
    module = build_module(graph, values)
    examples = tuple(torch.zeros(2, *_first(n.shape)) for n in graph.input_nodes)
    batch = torch.export.Dim("batch", min=1)
    # forward(*xs): the inputs are one argument, a tuple, and so are their dynamic shapes
    return torch.export.export(module, examples,
                               dynamic_shapes=(tuple({0: batch} for _ in examples),))


def _first(shape: tuple) -> tuple:
    """A channels-last shape (without the batch axis) channels first."""
    return (shape[-1], *shape[:-1]) if len(shape) > 1 else tuple(shape)

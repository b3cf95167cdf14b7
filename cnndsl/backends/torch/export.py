"""The network as a `torch.export` program carrying its weights, for `cnndsl compile NET.cnn
-o NET.pt2 [--weights W.npz | --seed N]`: loadable with `torch.export.load` alone, its
`state_dict` keyed as the readable source's module (`cnndsl compile --emit torch`), so the
weights load into that module too, and the spec inside (`files.SPEC_FILE`), so
`cnndsl weights NET.pt2` needs nothing else. The batch axis is left open. Or, with
`-o NET.pt`, only the weights: that module's `state_dict`, saved by `torch.save`. Files
are written atomically, as every output.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import MissingExtra
from ...graph.ir import Graph
from ...support import signals
from ...support.files import FileError, writing
from .files import SPEC_FILE

if TYPE_CHECKING:
    from ..given import GivenWeights


def compile_pt2(graph: Graph, output: Path | None, weights: Path | None = None,
                seed: int = 0, text: str = "") -> int:
    """Write the program, and `text` (the spec) inside it, to `output` (None: standard
    output); returns its parameter count."""
    try:
        program = exported_program(graph, weights, seed)
    except MissingExtra as e:
        raise FileError("cnndsl", e.args[0], e.hint) from None
    signals.check()
    import torch

    with _staged(output, ".pt2") as tmp:
        torch.export.save(program, str(tmp), extra_files={SPEC_FILE: text} if text else None)
    return graph.params


def compile_state(graph: Graph, output: Path | None, weights: Path | None = None,
                  seed: int = 0) -> int:
    """Write the `state_dict` of the `--emit torch` module with the weights to `output`
    (`torch.save`); returns the parameter count."""
    try:
        module = weighted_module(graph, weights, seed, ".pt state_dict")
    except MissingExtra as e:
        raise FileError("cnndsl", e.args[0], e.hint) from None
    signals.check()
    import torch

    with _staged(output, ".pt") as tmp:
        torch.save(module.state_dict(), str(tmp))
    return graph.params


def exported_program(graph: Graph, weights: GivenWeights = None, seed: int = 0):
    """`torch.export.export` of the built module on a batch of two, the batch axis a
    dynamic dimension; `MissingExtra` without torch."""
    try:
        # Before weights from a .keras file bring TensorFlow in: torch.export loads
        # triton, whose LLVM crashes the process where TensorFlow's is already loaded
        # (torch 2.14, TensorFlow 2.21); loaded first, both work.
        import torch._dynamo  # noqa: F401
    except ImportError:
        pass  # no torch: weighted_module says which extra
    module = weighted_module(graph, weights, seed, ".pt2 program")
    import torch

    examples = tuple(torch.zeros(2, *_first(n.shape)) for n in graph.input_nodes)
    batch = torch.export.Dim("batch", min=1)
    # forward(*xs): the inputs are one argument, a tuple, and so are their dynamic shapes
    return torch.export.export(module, examples,
                               dynamic_shapes=(tuple({0: batch} for _ in examples),))


def weighted_module(graph: Graph, weights: GivenWeights, seed: int, what: str):
    """The built module with the weights given (a file or arrays), or drawn from `seed`;
    `MissingExtra` without torch."""
    from ..given import given_weights
    from ..weights import init_weights
    from .module import build_module

    try:
        import torch  # noqa: F401 - only to say which extra is missing
    except ImportError:
        raise MissingExtra(f"writing a {what} needs PyTorch, which is not installed",
                           "torch") from None
    values = init_weights(graph, seed) if weights is None else given_weights(graph, weights)
    return build_module(graph, values)


@contextmanager
def _staged(output: Path | None, suffix: str) -> Iterator[Path]:
    """A temporary file renamed over `output` when complete (or copied to standard
    output), its OS errors said in terms of the file."""
    from ...support.files import staged, staged_stdout

    with writing(output), (staged(output, suffix=suffix) if output is not None
                           else staged_stdout(suffix=suffix)) as tmp:
        yield tmp


def _first(shape: tuple) -> tuple:
    """A channels-last shape (without the batch axis) channels first."""
    return (shape[-1], *shape[:-1]) if len(shape) > 1 else tuple(shape)

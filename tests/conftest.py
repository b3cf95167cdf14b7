"""Shared helpers for the test suite: build a one-step network and check it.

`check_layer("conv 3x3 x32", (28, 28, 16), (26, 26, 32), 3*3*16*32 + 32)` compiles
`input 28x28x16 -> conv 3x3 x32` and checks the last layer's shape and the parameters
(and optionally trainable parameters and MACs) of every layer the step made, so a merge
or a small chain can be checked as one unit. Expected numbers come from the caller,
worked out by hand, never from cnndsl.
"""

from __future__ import annotations

import pytest

from cnndsl import analyse, compile_text


def dims(shape: tuple[int, ...]) -> str:
    """`(6, 6, 1)` -> `6x6x1`, as the language writes a shape."""
    return "x".join(str(d) for d in shape)


def step_stats(spec: str, in_shape: tuple[int, ...]):
    """The graph of `input IN_SHAPE -> SPEC` and the statistics of the layers SPEC made."""
    graph = compile_text(f"input {dims(in_shape)} -> {spec}", name="t")
    return graph, analyse(graph).layers[1:]


def _check_layer(spec: str, in_shape: tuple[int, ...], out_shape: tuple[int, ...],
                 params: int, trainable: int | None = None, macs: int | None = None):
    graph, stats = step_stats(spec, in_shape)
    assert graph.nodes[0].shape == tuple(in_shape)
    assert graph.output.shape == tuple(out_shape), f"{spec} on {dims(in_shape)}"
    assert sum(s.params for s in stats) == params, f"params of {spec} on {dims(in_shape)}"
    # The catalogue's own count must agree with what the analysis reports.
    for s in stats:
        assert s.node.layer.params(s.node.in_shapes) == (s.trainable, s.non_trainable)
    if trainable is not None:
        assert sum(s.trainable for s in stats) == trainable, f"trainable of {spec}"
        assert sum(s.non_trainable for s in stats) == params - trainable
    if macs is not None:
        assert sum(s.macs for s in stats) == macs, f"MACs of {spec} on {dims(in_shape)}"
    return graph


@pytest.fixture(scope="session")
def check_layer():
    """`check_layer(spec, in_shape, out_shape, params[, trainable, macs])`, see module doc."""
    return _check_layer

"""Static costs of a typed network: parameters, MACs, FLOPs, receptive field, memory.

Everything comes from the architecture alone, with no framework and no forward pass.
FLOPs count 2 per multiply-accumulate plus every element-wise operation (bias adds,
activations, pooling comparisons, merge adds, batch norm): the convention is spelled
out in docs/report.md and in each layer's `flops`.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import ceil, prod

from ..layers import GLOBAL
from ..support.util import no_gc
from .ir import Graph, Node

BYTES_PER_VALUE = 4  # float32


@dataclass(frozen=True)
class ReceptiveField:
    """What one output value sees of the network's input, per spatial dimension.

    `size` is the extent in input positions and `jump` the distance between neighbouring
    outputs in input positions; `whole` when every output sees the entire input.
    """

    size: tuple[int, ...]
    jump: tuple[int | Fraction, ...]
    whole: bool = False

    def __str__(self) -> str:
        return "global" if self.whole else "x".join(str(s) for s in self.size)


@dataclass(frozen=True)
class LayerStats:
    node: Node
    trainable: int
    non_trainable: int
    macs: int
    flops: int
    receptive_field: ReceptiveField | None
    dense_equivalent: int | None  # params of a fully connected layer, same sizes

    @property
    def params(self) -> int:
        return self.trainable + self.non_trainable


@dataclass(frozen=True)
class Stats:
    graph: Graph
    layers: tuple[LayerStats, ...]

    def total(self, field: str) -> int:
        return sum(getattr(layer, field) for layer in self.layers)

    @property
    def params(self) -> int:
        return self.total("params")

    @property
    def param_bytes(self) -> int:
        return self.params * BYTES_PER_VALUE

    @property
    def activation_bytes(self) -> int:
        """Every layer's output at batch 1, the input included, as if all were kept."""
        return sum(prod(n.shape) for n in self.graph.nodes) * BYTES_PER_VALUE

    @property
    def conv_params(self) -> int:
        return sum(s.params for s in self.layers if s.dense_equivalent is not None)

    @property
    def dense_equivalent(self) -> int:
        return sum(s.dense_equivalent or 0 for s in self.layers)

    @property
    def sharing_factor(self) -> float | None:
        """How many times more parameters dense layers would need than the conv layers."""
        return self.dense_equivalent / self.conv_params if self.conv_params else None


def analyse(graph: Graph) -> Stats:
    """Per-layer statistics of `graph`, in its topological order."""
    with no_gc():
        return _analyse(graph)


def _analyse(graph: Graph) -> Stats:
    fields: list[ReceptiveField | None] = []
    origins: list[int | None] = []  # the one input each node sees, None if several
    layers = []
    for node in graph.nodes:
        trainable, frozen = node.layer.params(node.in_shapes)
        seen = {origins[i] for i in node.inputs}
        origin = node.index if not node.inputs else (seen.pop() if len(seen) == 1 else None)
        origins.append(origin)
        # A receptive field is a region of one input: none for what sees several.
        rf = None if origin is None else _receptive_field(node, fields,
                                                          graph.nodes[origin].shape)
        fields.append(rf)
        dense = None
        if node.layer.conv_type:
            dense = prod(node.in_shapes[0]) * prod(node.shape) + prod(node.shape)
        layers.append(LayerStats(node, trainable, frozen, node.layer.macs(node.in_shapes,
                                 node.shape), node.layer.flops(node.in_shapes, node.shape),
                                 rf, dense))
    return Stats(graph, tuple(layers))


def _receptive_field(node: Node, fields, input_shape) -> ReceptiveField | None:
    if not node.inputs:
        if len(input_shape) == 1:
            return None  # a vector has no spatial positions
        d = len(input_shape) - 1
        return ReceptiveField((1,) * d, (1,) * d)
    before = [fields[i] for i in node.inputs]
    if any(f is None for f in before):
        return None
    whole = ReceptiveField(input_shape[:-1], (0,) * (len(input_shape) - 1), True)
    if any(f.whole for f in before):
        return whole
    merged = ReceptiveField(tuple(map(max, *(f.size for f in before))) if len(before) > 1
                            else before[0].size,
                            tuple(map(max, *(f.jump for f in before))) if len(before) > 1
                            else before[0].jump)
    window = node.layer.window(node.in_shapes)
    if window is None:
        return merged
    if window is GLOBAL or len(window.kernel) != len(merged.size):
        return whole
    # After upsampling the jump is fractional; a partial input position still counts.
    size = tuple(ceil(s + (k - 1) * j)
                 for s, k, j in zip(merged.size, window.kernel, merged.jump))
    jump = tuple(j * st for j, st in zip(merged.jump, window.stride))
    return ReceptiveField(size, jump)

"""The bookkeeping of an ONNX graph under construction: nodes, initializers, names, layouts.

cnndsl's tensors are channels-last (N, H, W, C); ONNX's Conv and pooling operators want
channels-first (N, C, H, W). Each IR node's value is therefore kept in one layout or
both, and `value(index, layout)` makes the other with a Transpose the first time it is
asked for, then reuses it. A chain `conv -> bn -> relu -> conv` stays channels-first from
the first convolution to the last, since `bn` and `relu` compute in whichever layout
their input is in: a transpose appears only where a layer needs the other layout, and
a transpose back and forth between two layers never does.

Names: the channels-last value of a layer is named exactly after it (`conv_1`), so the
graph's inputs and outputs carry the spec's names; its channels-first value is
`conv_1/channels_first`, and every ONNX node a layer makes is named after the layer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import CnnError
from ...graph.ir import Graph, Node
from ...layers.shapes import Shape

LAST, FIRST = "channels_last", "channels_first"


def _other(layout: str) -> str:
    return FIRST if layout == LAST else LAST


def permutation(rank: int, layout: str) -> list[int]:
    """The Transpose `perm` taking a rank-`rank` tensor (batch axis included) to `layout`."""
    if layout == FIRST:
        return [0, rank - 1, *range(1, rank - 1)]
    return [0, *range(2, rank), 1]


def in_layout(shape: Shape, layout: str) -> Shape:
    """`shape` (no batch axis, channels last) as it is laid out in `layout`."""
    return shape if layout == LAST or len(shape) < 2 else (shape[-1], *shape[:-1])


def channel_axis(layout: str) -> int:
    return 1 if layout == FIRST else -1


def spatial_axes(shape: Shape, layout: str) -> list[int]:
    """The axes (batch counted) of the spatial dimensions of a tensor of `shape`."""
    first = 2 if layout == FIRST else 1
    return list(range(first, first + len(shape) - 1))


class Emitter:
    """An ONNX graph being written for `graph` at operator set `opset`."""

    def __init__(self, graph: Graph, opset: int) -> None:
        from onnx import helper

        self.helper = helper
        self.graph, self.opset = graph, opset
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._constants: set[str] = set()
        self.values: dict[int, dict[str, str]] = {}
        self.home: dict[int, str] = {}  # the layout each layer computed its value in

    # -- values in layouts ----------------------------------------------------------------------
    def value(self, index: int, layout: str) -> str:
        """The name of node `index`'s value in `layout`, transposed from the other once."""
        node = self.graph.nodes[index]
        have = self.values[index]
        if layout not in have:
            source, out, name = have[_other(layout)], self.name(node, layout), \
                f"{node.name}/to_{layout}"
            if max(node.shape[:-1]) == 1:  # (N, 1, 1, C): both layouts hold the same order
                shape = self.ints(f"{name}/shape", [0, *in_layout(node.shape, layout)])
                self.op("Reshape", [source, shape], out, name)
            else:
                self.op("Transpose", [source], out, name,
                        perm=permutation(len(node.shape) + 1, layout))
            have[layout] = out
        return have[layout]

    def layout_of(self, index: int) -> str:
        """The layout node `index` was computed in: the cheapest one to read it in."""
        return self.home[index]

    def record(self, node: Node, name: str, layout: str) -> None:
        """`name` holds `node`'s value in `layout` (in both, for a vector)."""
        if len(node.shape) < 2:
            self.values[node.index] = {LAST: name, FIRST: name}
            layout = LAST
        else:
            self.values[node.index] = {layout: name}
        self.home[node.index] = layout

    @staticmethod
    def name(node: Node, layout: str) -> str:
        """`conv_1` for the channels-last value, `conv_1/channels_first` for the other."""
        return node.name if layout == LAST or len(node.shape) < 2 else f"{node.name}/{FIRST}"

    # -- nodes and constants -------------------------------------------------------------------
    def op(self, op_type: str, inputs: list[str], output: str, name: str, **attrs) -> str:
        """Add one ONNX node; returns its output's name."""
        self.nodes.append(self.helper.make_node(op_type, inputs, [output], name=name, **attrs))
        return output

    def const(self, name: str, array: np.ndarray | list | float) -> str:
        """An initializer (a weight, a shape, a scalar), added once by name."""
        if name not in self._constants:
            from onnx import numpy_helper

            array = np.asarray(array)
            if array.dtype.kind == "f":
                array = array.astype(np.float32)
            elif array.dtype.kind in "iu":
                array = array.astype(np.int64)
            self.initializers.append(numpy_helper.from_array(array, name))
            self._constants.add(name)
        return name

    def fixed(self, name: str, array: np.ndarray) -> str:
        """A constant that is part of the operator, not a weight: a Constant node (an
        importer reads initializers as weights)."""
        from onnx import numpy_helper

        return self.op("Constant", [], name, name, value=numpy_helper.from_array(
            np.asarray(array), name))

    def ints(self, name: str, values: list[int]) -> str:
        return self.const(name, np.asarray(values, np.int64))

    def reduce(self, op_type: str, x: str, axes: list[int], keepdims: bool, output: str,
               name: str) -> str:
        """ReduceMean/ReduceMax over `axes`: an attribute before opset 18, an input after."""
        if self.opset >= 18:
            return self.op(op_type, [x, self.ints(f"{name}/axes", axes)], output, name,
                           keepdims=int(keepdims))
        return self.op(op_type, [x], output, name, axes=axes, keepdims=int(keepdims))

    def needs(self, node: Node, opset: int, operator: str) -> None:
        """A located error if the chosen opset lacks the operator `node` is written with."""
        if self.opset < opset:
            raise CnnError(f"`{node.kind}` needs ONNX's {operator} operator, which opset "
                           f"{self.opset} lacks (it has been in ONNX since opset {opset})",
                           node.span, f"compile with --opset {opset} or later")

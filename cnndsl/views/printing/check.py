"""The printed text read back: the same layers, shapes and wiring as the graph printed.

`match` pairs every node of the original graph with the node the text made, walking both
from the output back through the inputs in order, and compares each pair's layer (kind and
every attribute), input shapes and output shape. The pairing gives the text's automatic
names to the original layers, which is how imported weights get their keys.
"""

from __future__ import annotations

from ...graph.ir import Graph, Node
from ...layers.shapes import format_shape


class Mismatch(Exception):
    """The text does not make the graph it was printed from (a bug in the printer)."""


def match(original: Graph, reparsed: Graph) -> list[int]:
    """For each node of `original`, the index of its twin in `reparsed`."""
    if len(original.nodes) != len(reparsed.nodes):
        raise Mismatch(f"{len(original.nodes)} layers printed, {len(reparsed.nodes)} read back")
    twin = [-1] * len(original.nodes)
    if len(original.outputs) != len(reparsed.outputs):
        raise Mismatch(f"{len(original.outputs)} outputs printed, "
                       f"{len(reparsed.outputs)} read back")
    stack = list(zip(original.outputs, reparsed.outputs))
    while stack:
        a, b = stack.pop()
        if twin[a] == b:
            continue
        if twin[a] != -1:
            raise Mismatch(f"`{original.nodes[a].name}` is read back twice")
        _same(original.nodes[a], reparsed.nodes[b])
        twin[a] = b
        stack += zip(original.nodes[a].inputs, reparsed.nodes[b].inputs)
    if -1 in twin or len(set(twin)) != len(twin):
        raise Mismatch("some layers are not read back")
    return twin


def _same(a: Node, b: Node) -> None:
    if a.layer != b.layer or a.in_shapes != b.in_shapes or a.shape != b.shape \
            or len(a.inputs) != len(b.inputs):
        raise Mismatch(f"`{a.name}` ({a.layer.describe()}, {format_shape(a.shape)}) is read "
                       f"back as `{b.name}` ({b.layer.describe()}, {format_shape(b.shape)})")

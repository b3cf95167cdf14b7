"""What every importer gives back: the model as a typed graph, its weights, and where each
layer came from; and the pruning every importer applies before it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..graph.ir import Graph, Node
from ..support.escaping import cnn_name


@dataclass
class Imported:
    """The model as a typed graph (layers named after the model's) and its weights, keyed
    `LAYER/VARIABLE` by those names."""

    graph: Graph
    weights: dict[str, np.ndarray]
    origins: dict[str, tuple[str, str]]  # node name -> its layer or node name, class or op
    model_name: str

    def label(self, index: int) -> str:
        """`layer `conv1` (Conv2D)` for a node, in the model's own terms."""
        name, cls = self.origins[self.graph.nodes[index].name]
        return f"layer `{name}` ({cls})"


def reachable(graph: Graph, n_inputs: int, outs: list[int]) -> Graph:
    """Only the layers the outputs depend on (a nested model may compute more); every
    input kept, in order, and the nodes still in topological order."""
    keep, stack = set(outs) | set(range(n_inputs)), list(outs)
    while stack:
        for i in graph.nodes[stack.pop()].inputs:
            if i not in keep:
                keep.add(i)
                stack.append(i)
    order = sorted(keep)  # a node comes after its inputs
    index = {old: new for new, old in enumerate(order)}
    nodes = tuple(Node(index[n.index], n.name, n.layer, tuple(index[i] for i in n.inputs),
                       n.in_shapes, n.shape, n.span, n.text)
                  for n in (graph.nodes[i] for i in order))
    return Graph(graph.name, nodes, (), tuple(range(n_inputs)),
                 tuple(index[o] for o in outs))


def unique_name(text: str, nodes: list[Node]) -> str:
    """A model's name for a layer as a cnndsl name (`name=` accepts it), unique among
    `nodes` (`conv`, `conv_2`, ...)."""
    name = cnn_name(text)
    taken = {n.name for n in nodes}
    base, k = name, 2
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    return name

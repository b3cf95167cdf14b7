"""A graph as the language's nesting: chains of steps, and merges whose branches are chains.

`.cnn` text without named tensors can say exactly the series-parallel graphs: every merge
reads branches that all start from one tensor (the merge's fork) and touch nothing outside
themselves. `decompose` finds that nesting, or says which layer breaks it. The fork of a
merge is its immediate dominator: the last tensor every path from the input to the merge
passes through.
"""

from __future__ import annotations

from dataclasses import dataclass

from .dominators import immediate, post
from .ir import Graph


@dataclass(frozen=True)
class Step:
    """One single-input layer, by node index."""

    node: int


@dataclass(frozen=True)
class Fork:
    """A merge node and its branches, each a chain from the fork (empty: `id`)."""

    node: int
    branches: tuple[tuple[Step | Fork, ...], ...]


Chain = tuple["Step | Fork", ...]


class NotSeriesParallel(Exception):
    """`reader` reads the output of `shared` from outside the branch that makes it."""

    def __init__(self, reader: int, shared: int) -> None:
        super().__init__(f"node {reader} reads node {shared} across branches")
        self.reader, self.shared = reader, shared


def dominators(graph: Graph) -> list[int]:
    """The immediate dominator of every node (an input's is itself). With several inputs,
    a node reached from more than one has no dominator among the nodes: -1 (the inputs'
    common root)."""
    idom = immediate([node.inputs for node in graph.nodes])
    return [node.index if not node.inputs else d for node, d in zip(graph.nodes, idom)]


def postdominators(graph: Graph) -> list[int]:
    """The immediate post-dominator of every node: the first node that every path from it
    to an output passes through; -1 where only the outputs' common sink does (an output, a
    layer whose paths end at different outputs, a layer nothing reads)."""
    readers: list[list[int]] = [[] for _ in graph.nodes]
    for node in graph.nodes:
        for i in node.inputs:
            readers[i].append(node.index)
    return post(readers, set(graph.outputs))


def decompose(graph: Graph) -> Chain:
    """The network after its input as nested chains, or `NotSeriesParallel` naming the
    first layer (in graph order) that reads a tensor from outside its own branch."""
    idom = dominators(graph)
    seen: dict[int, int] = {}  # node -> the layer that reads it in the nesting so far
    clashes: list[tuple[int, int]] = []

    def chain(src: int, dst: int, reader: int) -> Chain:
        steps: list[Step | Fork] = []
        node = dst
        while node != src:
            if node in seen:  # a second way to reach this tensor: it is shared
                clashes.append((max(reader, seen[node]), node))
                break
            seen[node] = reader
            n = graph.nodes[node]
            if n.layer.arity == "many":
                fork = idom[node]
                branches = tuple(chain(fork, i, node) for i in n.inputs)
                steps.append(Fork(node, branches))
                reader, node = node, fork
            else:
                steps.append(Step(node))
                reader, node = node, n.inputs[0]
        return tuple(reversed(steps))

    out = chain(0, len(graph.nodes) - 1, len(graph.nodes))
    if clashes:
        reader, shared = min(clashes)
        raise NotSeriesParallel(reader, shared)
    return out

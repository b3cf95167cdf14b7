"""The typed network: a DAG of layer nodes in topological order, each with its source.

Built by `cnndsl.expand`, read by the analysis, the report and the backends. Nodes refer
to their inputs by index; the last node is the network's output.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import Diagnostic, Span
from .layers import Layer
from .shapes import Shape


@dataclass(frozen=True)
class Node:
    """One layer: its kind and attributes (`layer`), where it reads from and what it makes."""

    index: int
    name: str
    layer: Layer
    inputs: tuple[int, ...]
    in_shapes: tuple[Shape, ...]
    shape: Shape
    span: Span
    text: str  # the step as written, whitespace folded

    @property
    def kind(self) -> str:
        return self.layer.kind


@dataclass(frozen=True)
class Graph:
    """A whole network, typed; `warnings` are legal but likely mistakes."""

    name: str
    nodes: tuple[Node, ...]
    warnings: tuple[Diagnostic, ...]

    @property
    def output(self) -> Node:
        return self.nodes[-1]

    @property
    def input(self) -> Node:
        return self.nodes[0]

    def __len__(self) -> int:
        return len(self.nodes)

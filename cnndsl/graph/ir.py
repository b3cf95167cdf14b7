"""The typed network: a DAG of layer nodes in topological order, each with its source.

Built by `cnndsl.language.expand`, read by the analysis, the report and the backends. Nodes refer
to their inputs by index. A network has one or more inputs and outputs (`Graph.inputs`,
`Graph.outputs`, in the order written); with one of each, `Graph.input` and
`Graph.output` name them, and the output is the last node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from ..errors import Diagnostic, Span
from ..layers import Layer
from ..layers.shapes import Shape


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
class Group:
    """The nodes one use of a `def` block or one `( ... ) * N` made: `nodes[start:stop]`
    (expansion appends a use's nodes one after another), and the use as written.

    Drawing reads groups (`cnndsl draw --collapse` shows each outermost one as a box),
    and the language server (a block use's totals on hover, found by `span`, the use as
    written); `count` is N for a repetition, 1 for a block use."""

    start: int
    stop: int
    text: str
    count: int = 1
    span: Span | None = field(default=None, compare=False)  # where; not what it is


@dataclass(frozen=True)
class Graph:
    """A whole network, typed; `warnings` are legal but likely mistakes.

    `inputs` and `outputs` index `nodes`; left empty, they are the first node and the
    last, as in a network of one chain."""

    name: str
    nodes: tuple[Node, ...]
    warnings: tuple[Diagnostic, ...]
    inputs: tuple[int, ...] = ()
    outputs: tuple[int, ...] = ()
    groups: tuple[Group, ...] = ()  # in the order their uses end (inner before outer)
    # The file's named tensors, for what a user reads and writes: `as NAME` bindings as
    # (node, NAME) in the order bound, and the names `output @a, @b` lists, in its order.
    tensors: tuple[tuple[int, str], ...] = ()
    listed: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.inputs:
            object.__setattr__(self, "inputs", (0,))
        if not self.outputs:
            object.__setattr__(self, "outputs", (len(self.nodes) - 1,))

    @property
    def params(self) -> int:
        """Every layer's parameters, trainable or not: the count every report gives."""
        return sum(sum(n.layer.params(n.in_shapes)) for n in self.nodes)

    @property
    def input_nodes(self) -> tuple[Node, ...]:
        return tuple(self.nodes[i] for i in self.inputs)

    @property
    def output_nodes(self) -> tuple[Node, ...]:
        return tuple(self.nodes[i] for i in self.outputs)

    def tensor_name(self, index: int) -> str | None:
        """The name the file binds node `index` to (`as NAME`; the first, if several)."""
        return self._names.get(index)

    @cached_property
    def _names(self) -> dict[int, str]:
        names: dict[int, str] = {}
        for node, name in self.tensors:
            names.setdefault(node, name)
        return names

    @property
    def input_names(self) -> tuple[str, ...]:
        """Each input's name: `input 4 as meta` is `meta`, an unnamed one its layer's."""
        return tuple(self.tensor_name(i) or self.nodes[i].name for i in self.inputs)

    @property
    def output_names(self) -> tuple[str, ...]:
        """Each output's name as the spec gives it (`output @label, @box`: `label`, `box`;
        a lone output bound `as y`: `y`), else its layer's (`dense_3`)."""
        if len(self.listed) == len(self.outputs):
            return self.listed
        return tuple(self.tensor_name(i) or self.nodes[i].name for i in self.outputs)

    @property
    def single(self) -> bool:
        """One input and one output: everything behaves as in language version 1."""
        return len(self.inputs) == 1 and len(self.outputs) == 1

    @property
    def output(self) -> Node:
        """The one output (the first, if there are several)."""
        return self.nodes[self.outputs[0]]

    @property
    def input(self) -> Node:
        """The one input (the first, if there are several)."""
        return self.nodes[self.inputs[0]]

    def __len__(self) -> int:
        return len(self.nodes)

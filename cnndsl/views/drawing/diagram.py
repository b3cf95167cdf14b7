"""What a picture shows, before any coordinates: one item per layer, or per block use.

    input 6x6x1 -> conv 3x3/1 x2        two items: `input 6x6x1`, `conv 3x3/1 x2`

Each item carries the step as written, the layer's name, its output shape and parameter
count, the items it reads, and what the spec calls it: its tensor name (`as NAME`, or
the name `output @NAME` lists) and whether it is an output (inputs are of kind `input`).
Collapsed, every outermost group of the IR (a `def` block use or a `( ... ) * N`,
`Graph.groups`) becomes one item: a group's nodes are a run of consecutive indices and
only its last one is read from outside, so contracting it keeps the graph acyclic and in
topological order.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ...graph.analysis import Stats
from ...graph.ir import Graph, Group
from ...layers.shapes import Shape, format_shape
from ...support.util import no_gc


@dataclass(frozen=True)
class Item:
    """One box of the picture: a layer, or a whole block use (`layers` > 1)."""

    index: int
    kind: str  # the layer kind, or "block"
    title: str  # the step as written: `conv 3x3/1 x2`, `project(64, s=1)`
    name: str
    shape: Shape
    params: int
    inputs: tuple[int, ...]
    layers: int = 1
    home: int = -1  # the first item of the outermost block use holding this one, if any
    tensor: str | None = None  # the name the spec gives its result, if any
    output: bool = False  # one of the network's outputs

    @property
    def detail(self) -> str:
        """The second line: name (or layer count), output shape, parameters."""
        who = f"{self.layers} layers" if self.kind == "block" else self.name
        return f"{who} · {format_shape(self.shape)} · {self.params:,} params"

    @property
    def mark(self) -> str | None:
        """The third line, for a named tensor or an output: `as label · output`."""
        named = f"as {self.tensor}" if self.tensor else None
        if self.output:
            return f"{named} · output" if named else "output"
        return named

    @property
    def lines(self) -> tuple[str, ...]:
        mark = self.mark
        first = (clip(self.title), clip(self.detail))
        return first if mark is None else (*first, clip(mark))


@dataclass(frozen=True)
class Diagram:
    name: str
    items: tuple[Item, ...]
    outputs: tuple[int, ...]  # items that are the network's outputs
    layers: int
    params: int


MAX_LABEL = 48  # characters of a label line; longer ones end in `…`


def clip(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[:MAX_LABEL - 1] + "…"


def describe(graph: Graph, stats: Stats, collapse: bool = False) -> Diagram:
    """The items of `graph` in topological order; collapsed, one per outermost group."""
    with no_gc():
        return _describe(graph, stats, collapse)


def _describe(graph: Graph, stats: Stats, collapse: bool) -> Diagram:
    outermost = _outermost(graph.groups, len(graph.nodes))
    homes = {i: g.start for i, g in outermost.items()}
    owner = outermost if collapse else {}
    item_of = [0] * len(graph.nodes)
    last_of: dict[int, int] = {}  # the node each item ends with -> the item
    items: list[Item] = []
    for node in graph.nodes:
        group = owner.get(node.index)
        if group is not None and node.index != group.start:
            item_of[node.index] = item_of[group.start]
            continue
        index = len(items)
        item_of[node.index] = index
        last_of[node.index if group is None else group.stop - 1] = index
        if group is None:
            inputs = tuple(dict.fromkeys(item_of[i] for i in node.inputs))
            home = homes.get(node.index)
            items.append(Item(index, node.kind, node.text, node.name, node.shape,
                              stats.layers[node.index].params, inputs,
                              home=-1 if home is None else item_of[home]))
        else:
            items.append(_group_item(graph, stats, group, index, item_of))
    outputs = tuple(dict.fromkeys(item_of[o] for o in graph.outputs))
    marks = _marks(graph)
    for node_index, k in last_of.items():
        if node_index in marks:
            tensor, output = marks[node_index]
            items[k] = replace(items[k], tensor=tensor, output=output)
    return Diagram(graph.name, tuple(items), outputs, len(graph.nodes), stats.params)


def _marks(graph: Graph) -> dict[int, tuple[str | None, bool]]:
    """The nodes the spec names or outputs: (tensor name, is an output), by node."""
    marks: dict[int, tuple[str | None, bool]] = {i: (graph.tensor_name(i), False)
                                                 for i, _ in graph.tensors}
    for o, name in zip(graph.outputs, graph.output_names):
        given = name != graph.nodes[o].name or graph.tensor_name(o) == name
        marks[o] = (name if given else None, True)
    return marks


def _group_item(graph: Graph, stats: Stats, group: Group, index: int,
                item_of: list[int]) -> Item:
    """A block use as one item: its inputs are what its nodes read from before it."""
    outside = (i for n in graph.nodes[group.start:group.stop] for i in n.inputs
               if i < group.start)
    inputs = tuple(dict.fromkeys(item_of[i] for i in outside))
    last = graph.nodes[group.stop - 1]
    params = sum(s.params for s in stats.layers[group.start:group.stop])
    return Item(index, "block", group.text, last.name, last.shape, params, inputs,
                group.stop - group.start)


def _outermost(groups: tuple[Group, ...], size: int) -> dict[int, Group]:
    """Each node's outermost group of more than one node (groups nest or are apart)."""
    owner: dict[int, Group] = {}
    end = 0
    for group in sorted(groups, key=lambda g: (g.start, -g.stop)):
        if group.start >= end and group.stop - group.start > 1:
            for i in range(group.start, min(group.stop, size)):
                owner[i] = group
            end = group.stop
    return owner

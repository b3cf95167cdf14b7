"""The report table's rows as a tree: every merge heads its branches, drawn indented under it.

The order is the order of the source: `add { A | B }` writes the merge word before its
branches, and so the table shows a merge's row first and then each branch, one level
deeper, as torchinfo shows a module above its children. A branch that reads a tensor made
elsewhere starts with a reference row, `@name`: an `id` branch (the shortcut of a residual
block) is one reference alone, to the merge's fork.

This is general over graphs, not only the series-parallel ones the nesting of
`structure.decompose` can say: a branch runs back from a merge's input to the merge's fork
(its immediate dominator), and a tensor already shown elsewhere, as happens with named
tensors (language version 2), becomes a reference instead of a second copy. Several
outputs give several top-level chains, one per output in the order written; every node is
shown exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..graph.ir import Graph
from ..graph.structure import dominators


@dataclass(frozen=True)
class Glyphs:
    """The characters of the tree lines, and of a cell's shortening."""

    tee: str
    last: str
    pipe: str
    blank: str
    ellipsis: str


UNICODE = Glyphs("├─", "└─", "│ ", "  ", "…")
ASCII = Glyphs("|-", "`-", "| ", "  ", "...")


@dataclass(frozen=True)
class Row:
    """One line of the table: a node (`ref` False), or a reference to one (`ref` True).

    `empty` marks a reference that is a whole branch (`id`). `lead` is the tree drawing
    before the name."""

    node: int
    lead: str
    ref: bool = False
    empty: bool = False


def outline(graph: Graph, glyphs: Glyphs = UNICODE) -> list[Row]:
    """Every node of `graph` once, as rows of the merge tree (see the module docstring)."""
    return _Outline(graph, glyphs).rows()


class _Outline:
    """One walk over a graph; `rows` gives the result."""

    def __init__(self, graph: Graph, glyphs: Glyphs) -> None:
        self.graph, self.glyphs = graph, glyphs
        self.idom = dominators(graph)
        self.readers = [0] * len(graph.nodes)  # how many layers (and outputs) read each
        for node in graph.nodes:
            for i in node.inputs:
                self.readers[i] += 1
        for i in graph.outputs:
            self.readers[i] += 1
        self.shown: set[int] = set()
        self.pending: list[int] = []  # shared tensors referred to, to show as chains

    def rows(self) -> list[Row]:
        chains: list[tuple[int, list[Row]]] = []
        # Outputs first, in the order written (popped from the end); then any node still
        # unshown, from the last (pruning leaves none unreachable, but the walk is total).
        heads = [n.index for n in self.graph.nodes] + list(reversed(self.graph.outputs))
        while heads or self.pending:
            head = self.pending.pop() if self.pending else heads.pop()
            if head not in self.shown:
                chains.append((head, self.chain(head, -1, "", "", top=True)[0]))
        out: list[Row] = []
        for _, rows in sorted(chains, key=lambda c: c[0]):
            # `@x` right under x's own row says nothing: the chain simply goes on
            if out and rows[0].ref and rows[0].node == out[-1].node and not out[-1].lead:
                rows = rows[1:]
            out += rows
        return out

    def chain(self, dst: int, src: int, first: str, rest: str,
              top: bool = False) -> tuple[list[Row], int]:
        """The rows of the chain ending at `dst` that starts after `src` (-1: an input),
        and how many reads of `src` it accounts for (0: it did not reach `src`).

        A tensor shown elsewhere, or read by more layers than the chain accounts for (a
        named tensor, not a merge's own fork), starts the chain as a reference. `first`
        leads the first row, `rest` the others and their branches."""
        steps: list[tuple[int, list[Row]]] = []  # backwards: (node, its branches' rows)
        start, node, reads = None, dst, len(self.readers) + 1 if top else 1
        while node != src and node >= 0:
            if node in self.shown or self.readers[node] > reads:
                start = node
                self.pending.append(node)
                break
            self.shown.add(node)
            n = self.graph.nodes[node]
            if n.layer.arity == "many":
                branches, reads = self.branches(node, rest)
                steps.append((node, branches))
                if not reads:  # it reads named tensors: the merge starts the chain
                    break
                node = self.idom[node]
            else:
                steps.append((node, []))
                if not n.inputs:
                    break
                node, reads = n.inputs[0], 1
        if not steps and start is None:  # an empty branch: the fork itself, `id`
            return [Row(src, first, ref=True, empty=True)], 1
        rows = [] if start is None else [Row(start, first, ref=True)]
        for index, branches in reversed(steps):
            rows.append(Row(index, rest if rows else first))
            rows += branches
        return rows, reads if node == src else 0

    def branches(self, merge: int, lead: str) -> tuple[list[Row], int]:
        """The rows of a merge's branches, and how many reads of its fork they account
        for: 0 unless every branch reached it."""
        inputs, fork, g = self.graph.nodes[merge].inputs, self.idom[merge], self.glyphs
        walks = []
        for k, i in enumerate(inputs):
            last = k == len(inputs) - 1
            first, rest = lead + (g.last if last else g.tee), lead + (g.blank if last else g.pipe)
            walks.append((*self.chain(i, fork, first, rest), first, rest))
        closed = fork >= 0 and all(reads for _, reads, _, _ in walks)
        rows: list[Row] = []
        for more, reads, first, rest in walks:
            if not closed and reads and not more[0].ref:  # say where it reads from
                self.pending.append(fork)
                more = [Row(fork, first, ref=True), replace(more[0], lead=rest), *more[1:]]
            rows += more
        return rows, sum(reads for _, reads, _, _ in walks) if closed else 0

"""A diagram's items as nested chains and forks, the way the language writes a network.

    input -> a -> add { b | id } -> c       Chain(Step input, Step a, Fork(add, [[b], []]), Step c)

Series-parallel graphs come out exactly: a merge's branches are the chains from its
fork (its immediate dominator) to each of its inputs. Any other graph (named tensors
read across branches, NASNet cells reading two cells back, several inputs and outputs)
still gets a nesting: each item is placed once, where the walk back from the outputs
first meets it, and the edges the nesting does not hold are drawn apart (`layout`
routes them beside the picture). Several inputs meet at a virtual root (-1), several
outputs at a virtual sink (`len(items)`). The walk visits each item once; finding the
dominators climbs the dominator tree from each merge's inputs to their meeting point.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...graph.dominators import NONE as ROOT
from ...graph.dominators import immediate as dominators
from .diagram import Diagram

DETACHED = -2  # the fork of a branch walked until it meets what is placed already
MAX_DEPTH = 60  # forks inside forks; deeper merges are drawn as steps with side edges


@dataclass(frozen=True)
class Step:
    """An item drawn as one box in its chain."""

    item: int


@dataclass(frozen=True)
class Fork:
    """A merge (`item`; past the last item, a virtual one: the sink of several outputs,
    or the place of what the walk left over) of branches from `fork`."""

    item: int
    fork: int
    branches: list[Chain]


@dataclass(frozen=True)
class Chain:
    """Elements from top to bottom; `end` is the item the chain leads to (an empty chain
    with `end` equal to its fork is an `id` branch)."""

    elements: tuple[Step | Fork, ...]
    end: int
    reached: bool = True  # the walk back came to the fork (not to a tensor placed before)
    size: int = 0  # the items placed in it


def nest(diagram: Diagram) -> Chain:
    """The whole diagram as one chain ending at its output (or the virtual sink)."""
    return _Walk(diagram).run()


class _Walk:
    """The walk back from the outputs; each item is claimed by the first chain to reach it.

    A merge's fork is its immediate dominator, so the walk back along any branch comes to
    the fork or to an item placed already. A merge whose branches all come to the fork
    untouched is drawn as a fork, branches side by side. Otherwise (named tensors read
    across branches, NASNet cells reading two cells back) its largest branch becomes part
    of the chain and the merge forks from that branch's end, the other branches beside an
    `id` lane: so cells follow one another instead of nesting each in the next. Merges
    nested past MAX_DEPTH are steps, and their other inputs are walked at the end, from
    the top level, which keeps the recursion shallow however the graph is wired."""

    def __init__(self, diagram: Diagram) -> None:
        self.inputs = [item.inputs for item in diagram.items]
        self.homes = [item.home for item in diagram.items]
        self.sink = len(self.inputs)
        self.end = self.sink if len(diagram.outputs) > 1 else diagram.outputs[0]
        if len(diagram.outputs) > 1:
            self.inputs.append(diagram.outputs)
        self.idom = dominators(self.inputs)
        self.claimed = [False] * len(self.inputs)
        self.orphans: list[int] = []  # inputs left to walk from the top level
        self.placed = 0

    def run(self) -> Chain:
        top = self.chain(ROOT, self.end, 0)
        extra: list[Chain] = []
        while self.orphans:
            found = self.chain(DETACHED, self.orphans.pop(), 0)
            if found.elements:
                extra.append(found)
        if not extra:
            return top
        return Chain((*top.elements, Fork(self.sink + 1, DETACHED, extra)), top.end)

    def chain(self, src: int, dst: int, depth: int) -> Chain:
        elements: list[Step | Fork] = []
        node = dst
        reached = True
        before = self.placed
        while node != src:
            if self.claimed[node]:
                reached = False
                break
            self.claimed[node] = True
            self.placed += 1
            ins = self.inputs[node]
            if len(ins) > 1 and depth < MAX_DEPTH:
                fork = self.idom[node]
                branches = [self.chain(fork, i, depth + 1) for i in ins]
                elements.extend(self.merge(node, fork, branches))
                node = fork
            else:
                elements.append(Step(node))
                self.orphans.extend(ins[1:])
                node = ins[0] if ins else ROOT  # an input hangs from the virtual root
            if node == ROOT:
                reached = src == ROOT
                break
        return Chain(tuple(reversed(elements)), dst, reached, self.placed - before)

    def local(self, node: int, fork: int) -> bool:
        """Whether a merge's fork lies in the block use the merge belongs to, or is what
        that use reads: not a tensor from cells before (NASNet's reduction cells)."""
        home = self.homes[node] if node < len(self.homes) else -1
        return home < 0 or fork >= home or fork in self.inputs[home]

    def merge(self, node: int, fork: int, branches: list[Chain]) -> list[Step | Fork]:
        """The merge and what comes before it in its chain, bottom-up."""
        if all(b.reached for b in branches) and self.local(node, fork):
            return [Fork(node, fork, branches)]
        trunk = max((b for b in branches if b.reached), key=lambda b: b.size, default=None)
        if trunk is None or not trunk.elements:
            return [Fork(node, fork, branches)]
        others = [b for b in branches if b is not trunk and b.elements]
        head: list[Step | Fork] = [Fork(node, trunk.end, [Chain((), trunk.end), *others])
                                   if others else Step(node)]
        return head + list(reversed(trunk.elements))

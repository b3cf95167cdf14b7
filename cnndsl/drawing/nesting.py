"""A diagram's items as nested chains and forks, the way the language writes a network.

    input -> a -> add { b | id } -> c       Chain(Step input, Step a, Fork(add, [[b], []]), Step c)

Series-parallel graphs come out exactly (a merge's branches are the chains from its
fork to each of its inputs). Any other graph (named tensors
read across branches, several inputs and outputs) still gets a nesting: each item is
placed once, where the walk back from the outputs first meets it, and the edges the
nesting does not hold are drawn apart (`layout` routes them beside the picture). Several
inputs meet at a virtual root (-1), several outputs at a virtual sink (`len(items)`).
Every item is placed once; finding a merge's fork walks at most MAX_WALK steps.
"""

from __future__ import annotations

from dataclasses import dataclass

from .diagram import Diagram

ROOT = -1
MAX_DEPTH = 60  # forks inside forks; deeper merges are drawn as steps with side edges


@dataclass(frozen=True)
class Step:
    item: int


@dataclass(frozen=True)
class Fork:
    """A merge (`item`; the virtual sink for several outputs) of branches from `fork`."""

    item: int
    fork: int
    branches: tuple[Chain, ...]


@dataclass(frozen=True)
class Chain:
    """Elements from top to bottom; `end` is the item the chain leads to (an empty chain
    with `end` equal to its fork is an `id` branch)."""

    elements: tuple[Step | Fork, ...]
    end: int
    reached: bool = True  # the walk back came to the fork (not to a tensor placed before)


def forks(inputs: list[tuple[int, ...]]) -> list[int]:
    """Where each merge's branches part: the nearest common ancestor of its inputs in the
    tree of first inputs. For the series-parallel graphs the language writes without
    names, that is the merge's immediate dominator; for cells that also read tensors from
    further back (NASNet's `@prev`), it is where the cell's own branches part, not the
    distant tensor that dominates them. ROOT when the inputs have no common ancestor, or
    none within MAX_WALK steps (a merge with the network's input, a hundred layers on)."""
    depth = [0] * len(inputs)
    for i, ins in enumerate(inputs):
        if ins:
            depth[i] = depth[ins[0]] + 1
    fork = [ROOT] * len(inputs)
    for i, ins in enumerate(inputs):
        if len(ins) > 1:
            found = ins[0]
            for other in ins[1:]:
                found = _ancestor(found, other, inputs, depth)
                if found == ROOT:
                    break
            fork[i] = found
    return fork


MAX_WALK = 256


def _ancestor(a: int, b: int, inputs: list[tuple[int, ...]], depth: list[int]) -> int:
    for _ in range(MAX_WALK):
        if a == b:
            return a
        if depth[a] >= depth[b]:
            if not inputs[a]:
                return ROOT
            a = inputs[a][0]
        else:
            if not inputs[b]:
                return ROOT
            b = inputs[b][0]
    return ROOT


def nest(diagram: Diagram) -> Chain:
    """The whole diagram as one chain ending at its output (or the virtual sink)."""
    inputs = [item.inputs for item in diagram.items]
    sink = len(inputs)
    if len(diagram.outputs) > 1:
        inputs.append(diagram.outputs)
    idom = forks(inputs)
    claimed = [False] * len(inputs)

    def chain(src: int, dst: int, depth: int) -> Chain:
        elements: list[Step | Fork] = []
        node = dst
        while node != src:
            if claimed[node]:
                return Chain(tuple(reversed(elements)), dst, False)
            claimed[node] = True
            ins = inputs[node]
            if len(ins) > 1 and depth < MAX_DEPTH:
                fork = idom[node]
                branches = tuple(chain(fork, i, depth + 1) for i in ins)
                elements.extend(_fork(node, fork, branches))
                node = fork
                if node == ROOT:
                    break
            else:
                elements.append(Step(node))
                node = ins[0] if ins else ROOT  # an input hangs from the virtual root
                if node == ROOT:
                    break
        return Chain(tuple(reversed(elements)), dst, node == src)

    def _fork(node: int, fork: int, branches: tuple[Chain, ...]) -> list[Step | Fork]:
        """The merge and what comes before it, bottom-up. When only one branch comes
        from the fork (the others read tensors placed in it already: NASNet cells read
        the two cells before), that branch goes first, as part of the chain, and the
        merge forks from its end: drawn side by side it would nest every cell before."""
        came = [b for b in branches if b.reached]
        if len(came) != 1 or not came[0].elements:
            return [Fork(node, fork, branches)]
        trunk = came[0]
        others = tuple(b for b in branches if b is not trunk and b.elements)
        head: list[Step | Fork] = [Fork(node, trunk.end, (Chain((), trunk.end), *others))
                                   if others else Step(node)]
        return head + list(reversed(trunk.elements))

    end = sink if len(diagram.outputs) > 1 else diagram.outputs[0]
    top = chain(ROOT, end, 0)
    return top

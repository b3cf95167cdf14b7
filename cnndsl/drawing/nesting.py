"""A diagram's items as nested chains and forks, the way the language writes a network.

    input -> a -> add { b | id } -> c       Chain(Step input, Step a, Fork(add, [[b], []]), Step c)

Series-parallel graphs come out exactly (a merge's branches are the chains from its
fork, the immediate dominator, to each of its inputs). Any other graph (named tensors
read across branches, several inputs and outputs) still gets a nesting: each item is
placed once, where the walk back from the outputs first meets it, and the edges the
nesting does not hold are drawn apart (`layout` routes them beside the picture). Several
inputs meet at a virtual root (-1), several outputs at a virtual sink (`len(items)`).
Every item is visited once; a merge's fork is found by walking the dominator tree.
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


def dominators(inputs: list[tuple[int, ...]]) -> list[int]:
    """Each item's immediate dominator, ROOT for inputs and for what several inputs reach."""
    idom, depth = [ROOT] * len(inputs), [0] * len(inputs)
    for i, ins in enumerate(inputs):
        if not ins:
            continue
        first = ins[0]
        for other in ins[1:]:
            first = meet(first, other, idom, depth)
        idom[i] = first
        depth[i] = 0 if first == ROOT else depth[first] + 1
    return idom


def meet(a: int, b: int, idom: list[int], depth: list[int]) -> int:
    while a != b:
        if a == ROOT or b == ROOT:
            return ROOT
        if depth[a] >= depth[b]:
            a = idom[a]
        else:
            b = idom[b]
    return a


def nest(diagram: Diagram) -> Chain:
    """The whole diagram as one chain ending at its output (or the virtual sink)."""
    inputs = [item.inputs for item in diagram.items]
    sink = len(inputs)
    if len(diagram.outputs) > 1:
        inputs.append(diagram.outputs)
    idom = dominators(inputs)
    claimed = [False] * len(inputs)

    def chain(src: int, dst: int, depth: int) -> Chain:
        elements: list[Step | Fork] = []
        node = dst
        while node != src and not claimed[node]:
            claimed[node] = True
            ins = inputs[node]
            if len(ins) > 1 and depth < MAX_DEPTH:
                fork = idom[node]
                branches = tuple(chain(fork, i, depth + 1) for i in ins)
                elements.append(Fork(node, fork, branches))
                node = fork
                if node == ROOT:
                    break
            else:
                elements.append(Step(node))
                if not ins:
                    break
                node = ins[0]
        return Chain(tuple(reversed(elements)), dst)

    end = sink if len(diagram.outputs) > 1 else diagram.outputs[0]
    top = chain(ROOT, end, 0)
    return top

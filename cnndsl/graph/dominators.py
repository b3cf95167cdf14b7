"""Immediate dominators of a DAG whose items are numbered in topological order.

The fork of a merge (where its branches start) is the merge's immediate dominator: the last
item every path from the inputs to it passes through. The printer (`structure`), the
diagram's nesting (`drawing.nesting`) and the printer's cells (post-dominators: the same on
the graph turned round) all ask this one question. With items in topological order one
pass suffices: an item's dominator is where its inputs' dominator chains meet.

    >>> immediate([(), (0,), (1,), (1,), (2, 3)])  # a diamond: 1 forks, 4 merges
    [-1, 0, 1, 1, 1]
"""

from __future__ import annotations

from collections.abc import Sequence

NONE = -1  # no item dominates: an input, or an item reached from two inputs


def immediate(inputs: Sequence[Sequence[int]]) -> list[int]:
    """Each item's immediate dominator (`NONE` for an item without inputs, or one that
    paths from different inputs reach); `inputs[i]` lists items before `i`."""
    idom, depth = [NONE] * len(inputs), [0] * len(inputs)
    for i, ins in enumerate(inputs):
        if not ins:
            continue
        first = ins[0]
        for other in ins[1:]:
            first = _meet(first, other, idom, depth)
        idom[i] = first
        depth[i] = 0 if first == NONE else depth[first] + 1
    return idom


def _meet(a: int, b: int, idom: list[int], depth: list[int]) -> int:
    """Where the dominator chains from `a` and `b` meet (deeper one climbs first)."""
    while a != b:
        if a == NONE or b == NONE:
            return NONE
        if depth[a] >= depth[b]:
            a = idom[a]
        else:
            b = idom[b]
    return a


def post(readers: Sequence[Sequence[int]], ends: set[int]) -> list[int]:
    """Each item's immediate post-dominator: the first item every path from it to an end
    passes through (`NONE` for an end, an item nothing reads, or one whose paths reach
    different ends); `readers[i]` lists the items after `i` that read it.

    >>> post([(1,), (2, 3), (4,), (4,), ()], {4})  # the same diamond
    [1, 4, 4, 4, -1]
    """
    n = len(readers)
    turned = [() if v in ends else tuple(n - 1 - w for w in readers[v])
              for v in reversed(range(n))]
    return [NONE if d == NONE else n - 1 - d for d in reversed(immediate(turned))]

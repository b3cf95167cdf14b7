"""The layers a network computes: those on a path from an input to an output.

A statement whose result is not an output, a result dropped by `-> @other`, an input no
output reads: Keras would leave them out of the model, so cnndsl does too, with a
warning at each dead end, so that the report, the weights and both backends count the
same layers as the Keras model.
"""

from __future__ import annotations

from dataclasses import replace

from ..errors import Diagnostic, Span
from ..graph.ir import Group, Node


def reaching(nodes: list[Node], outputs: tuple[int, ...]) -> list[bool]:
    """For each node, whether some output reads it (nodes are in topological order)."""
    keep = [False] * len(nodes)
    for out in outputs:
        keep[out] = True
    for node in reversed(nodes):
        if keep[node.index]:
            for i in node.inputs:
                keep[i] = True
    return keep


def dead_ends(nodes: list[Node], keep: list[bool], dropped: dict[int, Span]
              ) -> list[Diagnostic]:
    """A warning for each layer left out that no other layer reads: the end of a statement
    that is not an output, or a result dropped by `-> @NAME` (said where it is dropped)."""
    read = [False] * len(nodes)
    for node in nodes:
        for i in node.inputs:
            read[i] = True
    warnings = []
    for node in nodes:
        if keep[node.index] or read[node.index]:
            continue
        if node.index in dropped:
            warnings.append(Diagnostic(
                f"the result of `{node.name}` is dropped here and never used",
                dropped[node.index], "bind it with `as NAME` and use it, or remove the "
                "steps that make it"))
        else:
            what = "input" if node.kind == "input" else "layer"
            warnings.append(Diagnostic(
                f"{what} `{node.name}` is on no path to an output; it is left out",
                node.span, "list it with `output @a, @b`, or use its result"))
    return warnings


def kept(nodes: list[Node], keep: list[bool]) -> tuple[tuple[Node, ...], dict[int, int]]:
    """The nodes kept, renumbered, and each kept node's new index by its old one."""
    new: dict[int, int] = {}
    out: list[Node] = []
    for node in nodes:
        if keep[node.index]:
            new[node.index] = len(out)
            out.append(replace(node, index=len(out),
                               inputs=tuple(new[i] for i in node.inputs)))
    return tuple(out), new


def kept_groups(groups: list[Group], keep: list[bool]) -> tuple[Group, ...]:
    """The groups over the kept nodes (a group left empty by pruning is dropped)."""
    before = [0]  # kept nodes before each old index
    for k in keep:
        before.append(before[-1] + k)
    out = (Group(before[g.start], before[g.stop], g.text, g.count, g.span) for g in groups)
    return tuple(g for g in out if g.stop > g.start)

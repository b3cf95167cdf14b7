"""Any graph as `.cnn` text with named tensors (language version 2).

The nesting of `structure.decompose` can say only series-parallel graphs with one input
and one output. Every other graph (a NASNet cell reading the cell before the last, two
inputs, two outputs) is written here: the layers in graph order, each continuing the
chain from the layer written just before it where it reads that tensor, and reading any
other tensor by name (`@NAME` to continue from it, or as a merge branch). A tensor gets
`as NAME` only where it is read again out of that order, or is one of several outputs;
`output @a, @b` only where the outputs are not just the last statement's result. Writing
the layers in graph order makes the text's layers come in the same order, so automatic
names (`conv_3`) are the same when read back.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Set

from ..ir import Graph, Node
from .terms import Word, word_text

WIDTH = 96
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
KEYWORDS = {"def", "input", "output", "as", "add", "mul", "avg", "max", "concat",
            "residual", "id", "C"}


def needs_names(graph: Graph) -> bool:
    """Whether the graph cannot be written without named tensors."""
    return not graph.single or graph.outputs[0] != len(graph.nodes) - 1


def named_lines(graph: Graph, words: Callable[[Node], list[Word]],
                names: bool | Set[int]) -> list[str]:
    """The statements (and `output` line) that make `graph`, a chain continued on the
    next line where it is longer than a line; `name=` on every layer (True) or on the
    layers of those indices."""
    n = len(graph.nodes)
    several_inputs = len(graph.inputs) > 1
    output_line = len(graph.outputs) > 1 or graph.outputs[0] != n - 1
    # A tensor read other than by the very next layer (as its chain input) needs a name.
    wanted: set[int] = set(graph.outputs) if output_line else set()
    for node in graph.nodes:
        for k, i in enumerate(node.inputs):
            if not _in_chain(node, k, i):
                wanted.add(i)
    if several_inputs:
        wanted |= set(graph.inputs)
    label = _labels(graph, wanted, several_inputs)

    statements: list[list[str]] = []
    for node in graph.nodes:
        step = " ".join(word_text(w) for w in words(node) if word_text(w))
        keep = names if isinstance(names, bool) else node.index in names
        extra = [f"name={node.name}"] if keep and not (
            several_inputs and node.index in graph.inputs and label[node.index] == node.name
        ) and not (node.kind == "input" and node.name == "input") else []
        if node.kind == "input":
            statements.append([" ".join([step, *extra])])
        elif node.layer.arity == "many":
            branches = []
            for k, i in enumerate(node.inputs):
                branches.append("id" if _in_chain(node, k, i) else f"@{label[i]}")
            text = f"{step} {{ {' | '.join(branches)} }}"
            text = " ".join([text, *extra])
            if "id" in branches:
                statements[-1].append(text)
            else:
                statements.append([text])
        else:
            text = " ".join([step, *extra])
            if _in_chain(node, 0, node.inputs[0]):
                statements[-1].append(text)
            else:
                statements.append([f"@{label[node.inputs[0]]}", text])
        if node.index in label:
            statements[-1][-1] += f" as {label[node.index]}"
    lines: list[str] = []
    for steps in statements:
        lines += _wrap(steps)
    if output_line:
        lines.append("output " + ", ".join(f"@{label[i]}" for i in graph.outputs))
    return lines


def _in_chain(node: Node, k: int, source: int) -> bool:
    """Whether input `k` of `node` is the chain it continues: the layer just before it.
    A merge's branches may all be `id`; a single-input layer's one input."""
    return source == node.index - 1


def _labels(graph: Graph, wanted: set[int], several_inputs: bool) -> dict[int, str]:
    """A tensor name for each wanted node: the layer's own name where it can be one
    (an input's must be, when there are several: it names the input), else `t_N`."""
    out: dict[int, str] = {}
    taken: set[str] = set()
    for i in sorted(wanted):
        name = graph.nodes[i].name
        if not IDENT.fullmatch(name) or name in KEYWORDS or name in taken:
            name = f"t_{i}"
            while name in taken:
                name += "_"
        taken.add(name)
        out[i] = name
    return out


def _wrap(steps: list[str]) -> list[str]:
    """One statement: steps joined by ` -> `, continued on lines starting `  -> `."""
    lines, current = [], steps[0]
    for step in steps[1:]:
        if len(current) + 4 + len(step) <= WIDTH:
            current += " -> " + step
        else:
            lines.append(current)
            current = "  -> " + step
    return lines + [current]

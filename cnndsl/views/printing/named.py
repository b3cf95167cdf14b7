"""Any graph as `.cnn` text with named tensors (language version 2).

The nesting of `structure.decompose` can say only series-parallel graphs with one input
and one output. Every other graph (a NASNet cell reading the cell before the last, two
inputs, two outputs) is written here, two ways:

- `tree_lines` (what the printer writes): series-parallel parts still nested, a
  statement `... as NAME` only for tensors that must be named (read twice, an output,
  an input, a merge of branches from different tensors);
- `named_lines` (the fallback, should the first ever fail to read back): the layers in
  graph order, each continuing from the layer just before it or from `@NAME`, which
  keeps even automatic names in order.

`to_text` reads either back (`check.match`) before it returns it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Set

from ...graph.ir import Graph, Node
from ...support.escaping import cnn_name
from .layout import WIDTH
from .terms import Word, word_text


def needs_names(graph: Graph) -> bool:
    """Whether the graph cannot be written without named tensors."""
    return not graph.single or graph.outputs[0] != len(graph.nodes) - 1


def named_lines(graph: Graph, words: Callable[[Node], list[Word]],
                names: bool | Set[int], given: Mapping[int, str] | None = None) -> list[str]:
    """The statements (and `output` line) that make `graph`, a chain continued on the
    next line where it is longer than a line; `name=` on every layer (True) or on the
    layers of those indices; `given` tensor names where the model has them."""
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
    label = labels(graph, wanted, several_inputs, given)

    statements: list[list[str]] = []
    for node in graph.nodes:
        step = " ".join(word_text(w) for w in words(node) if word_text(w))
        keep = names if isinstance(names, bool) else node.index in names
        extra = [f"name={cnn_name(node.name)}"] if keep and not (
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


def tree_lines(graph: Graph, words: Callable[[Node], list[Word]],
               names: bool | Set[int], given: Mapping[int, str] | None = None) -> list[str]:
    """The graph with its series-parallel parts nested, named tensors between them.

    A tensor read once, by a layer that is not an output, is written inline where it is
    read: chains continue, and a merge whose branches all start from one tensor is
    `@t -> add { A | B }` as in version 1. The rest are roots, each a statement bound
    `as NAME` where read again: the inputs, tensors read twice or never (outputs), and
    merges whose branches start from different tensors (`add { @a -> A | @b -> B }`).
    A statement that starts from the one just before it continues it instead."""
    n = len(graph.nodes)
    uses = [0] * n
    for node in graph.nodes:
        for i in node.inputs:
            uses[i] += 1
    output_line = len(graph.outputs) > 1 or graph.outputs[0] != n - 1
    roots = set(graph.inputs) | set(graph.outputs) | {i for i in range(n) if uses[i] != 1}
    label = labels(graph, set(range(n)), len(graph.inputs) > 1, given)
    origin: dict[int, int] = {}  # non-root node -> the root its chain starts from
    steps: dict[int, list[str]] = {}  # node -> its chain's steps after that root

    def text(node: Node) -> str:
        keep = names if isinstance(names, bool) else node.index in names
        words_ = " ".join(t for t in (word_text(w) for w in words(node)) if t)
        return words_ + (f" name={cnn_name(node.name)}" if keep and node.kind != "input"
                         and words_ else "")  # a split's part has no words, and no name

    def branch(i: int) -> tuple[int, list[str]]:
        return (i, []) if i in roots else (origin[i], steps[i])

    for node in graph.nodes:
        if node.kind == "input":
            continue
        if node.layer.arity == "many":
            parts = [branch(i) for i in node.inputs]
            starts = {o for o, _ in parts}
            head = 2 if len(set(getattr(node.layer, "sizes", ()))) > 1 else 1
            said = text(node).split(" ")  # `split 24,40`: its sizes before `{`
            word, rest = " ".join(said[:head]), " ".join(said[head:])
            if len(starts) == 1:
                (o,) = starts
                inner = " | ".join(" -> ".join(st) or "id" for _, st in parts)
            else:
                roots.add(node.index)
                o = -1
                inner = " | ".join(" -> ".join([f"@{label[b]}", *st]) for b, st in parts)
            origin[node.index] = o
            steps[node.index] = [f"{word} {{ {inner} }}" + (f" {rest}" if rest else "")]
        else:
            o, st = branch(node.inputs[0])
            here = text(node)  # empty for a split's part, which the split writes
            origin[node.index], steps[node.index] = o, [*st, here] if here else list(st)
    # Statements, one per root in graph order; references counted to drop unused names.
    refs = [0] * n
    index_of = {t: i for i, t in label.items()}
    body: dict[int, tuple[int, list[str]]] = {}
    for r in sorted(roots):
        node = graph.nodes[r]
        if node.kind == "input":
            keep = names if isinstance(names, bool) else r in names
            extra = f" name={cnn_name(node.name)}" if keep and node.name != "input" and not (
                len(graph.inputs) > 1 and label[r] == node.name) else ""
            body[r] = (-1, [text(node) + extra])
            continue
        o = origin[r]
        body[r] = (o, steps[r])
        for written in steps[r]:
            for m in re.finditer(r"@(\w+)", written):
                refs[index_of[m[1]]] += 1
        if o >= 0:
            refs[o] += 1
    statements: list[list[str]] = []
    previous = -2
    for r in sorted(roots):
        o, st = body[r]
        if o >= 0 and o == previous:
            refs[o] -= 1
            statements[-1] += st  # continues the statement just before
        else:
            statements.append(([f"@{label[o]}"] if o >= 0 else []) + list(st))
        statements[-1][-1] += f"\0{r}"  # where `as NAME` may go
        previous = r
    multiple = len(graph.inputs) > 1
    lines: list[str] = []
    for chain in statements:
        done = []
        for step in chain:
            while "\0" in step:
                step, _, r_text = step.rpartition("\0")
                r = int(r_text)
                named = refs[r] > 0 or (output_line and r in graph.outputs) or (
                    multiple and r in graph.inputs)
                step += f" as {label[r]}" if named else ""
            done.append(step)
        lines += _wrap(done)
    if output_line:
        lines.append("output " + ", ".join(f"@{label[i]}" for i in graph.outputs))
    return lines


def _in_chain(node: Node, k: int, source: int) -> bool:
    """Whether input `k` of `node` is the chain it continues: the layer just before it.
    A merge's branches may all be `id`; a single-input layer's one input."""
    return source == node.index - 1


def labels(graph: Graph, wanted: set[int], several_inputs: bool,
           given: Mapping[int, str] | None = None) -> dict[int, str]:
    """A tensor name for each wanted node: the name `given` for it (an imported model's
    own name for an output), else the layer's own name where it can be one (an input's
    must be, when there are several: it names the input), else `t_N`."""
    out: dict[int, str] = {}
    taken: set[str] = set()
    given = given or {}
    for i in sorted(wanted, key=lambda i: (i not in given, i)):  # given names first
        name = given.get(i, graph.nodes[i].name)
        if cnn_name(name) != name or name in taken:
            name = f"t_{i}"
            while name in taken:
                name += "_"
        taken.add(name)
        out[i] = name
    return out


def _wrap(steps: list[str]) -> list[str]:
    """One statement: steps joined by ` -> `, continued on lines starting `  -> `; a merge
    too long for a line opens its braces and puts each branch on a line of its own."""
    lines, current = [], steps[0]
    for step in steps[1:]:
        if len(current) + 4 + len(step) <= WIDTH:
            current += " -> " + step
        else:
            lines.append(current)
            current = "  -> " + step
    lines.append(current)
    out: list[str] = []
    for line in lines:
        out += _open(line) if len(line) > WIDTH else [line]
    return out


def _open(line: str) -> list[str]:
    """The first merge of `line` with its branches one a line, under its `{`."""
    start = line.find(" { ")
    if start < 0:
        return [line]
    depth, cuts, end = 0, [], -1
    for i in range(start + 1, len(line)):
        if line[i] == "{":
            depth += 1
        elif line[i] == "}":
            depth -= 1
            if depth == 0:
                end = i
                break
        elif line[i] == "|" and depth == 1:
            cuts.append(i)
    if end < 0:
        return [line]
    pad = " " * (len(line) - len(line.lstrip()) + 2)
    bounds = [start + 3, *cuts, end]
    branches = [line[a:b].strip(" |") for a, b in zip(bounds, bounds[1:])]
    out = [line[:start + 2]]
    for k, b in enumerate(branches):
        out += _fill(_top_steps(b), f"{pad}{'| ' if k else '  '}", f"{pad}    -> ")
    return out + [f"{pad}}}{line[end + 1:]}"]


def _top_steps(chain: str) -> list[str]:
    """A chain's steps, split at the arrows outside braces."""
    steps, depth, last = [], 0, 0
    for i, c in enumerate(chain):
        depth += (c == "{") - (c == "}")
        if depth == 0 and chain.startswith(" -> ", i):
            steps.append(chain[last:i])
            last = i + 4
    return steps + [chain[last:]]


def _fill(steps: list[str], lead: str, cont: str) -> list[str]:
    """Steps joined by ` -> ` on lines of at most WIDTH (a step never split)."""
    lines, current = [], lead + steps[0]
    for step in steps[1:]:
        if len(current) + 4 + len(step) <= WIDTH:
            current += " -> " + step
        else:
            lines.append(current)
            current = cont + step
    return lines + [current]

"""Graphs that need named tensors, with their repeated cells folded into `def` blocks that
take tensor parameters, as a person writes NASNet:

    def normal(@prev, f) =
         relu -> conv 1 x{f} same bias=false -> bn as a
      -> @prev -> relu -> conv 1 x{f} same bias=false -> bn as b
      -> concat { @b | add { @a -> ... | @b -> ... } | ... }
    ...
      -> normal(@normal_concat_0, 44) as normal_concat_1            # 28x28x264

A cell is a unit (`printing.statements`): a layer and the layers it post-dominates (every
path from them to an output passes through it, `structure.postdominators`), which for a
NASNet cell's output is the cell, since the cells before it are also read by the one
after. From the network's end backwards, the first unit written alike elsewhere is taken
whole, else the search goes on inside it. Near the end a layer post-dominates all before
it, so the last cells are found again as what leads only to them (`_more_uses`). Inside a
unit, tensors are named by their place (`a`, `b`, ...), so that units built alike are
written alike but for their numbers: two or more such units are one block, the numbers
parameters as `printing.params` finds them, the tensors from outside tensor parameters
(`@prev`) but one, the block's chain input. The network is then a statement a line, each
ending with the shape it makes.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from ...graph.ir import Graph
from ...graph.structure import postdominators
from ...layers.shapes import format_shape
from .layout import WIDTH, chain_lines, statement_lines
from .params import parameters
from .statements import Label, Stmt, Unit, Words, joined, statements, unit_of
from .terms import Block, Hole, Leaf, Param, Term, holes, key, rebuild

COMMENT_COLUMN = 64


def regions(graph: Graph) -> list[list[int]]:
    """Per node, the nodes it post-dominates directly (its children in the tree)."""
    children: list[list[int]] = [[] for _ in graph.nodes]
    for v, d in enumerate(postdominators(graph)):
        if d >= 0:
            children[d].append(v)
    return children


def _subtree(children: list[list[int]], w: int) -> set[int]:
    out, stack = set(), [w]
    while stack:
        v = stack.pop()
        out.add(v)
        stack += children[v]
    return out


# -- blocks ---------------------------------------------------------------------------------

@dataclass
class Cell:
    """A block of units built alike: its parameters, body, and per use the arguments."""

    block: Block
    tensors: list[str]  # tensor parameters' names
    start: int  # the position in a unit's inputs of the block's chain input
    uses: dict[int, list[Hole]]  # unit output -> numeric arguments


def _local(unit: Unit, start: int) -> Label:
    """Names inside a block: tensor parameters `prev`, `prev2`, ...; the rest `a`, `b`."""
    given: dict[int, str] = {}
    params = [i for k, i in enumerate(unit.inputs) if k != start]
    for k, i in enumerate(params):
        given[i] = "prev" if k == 0 else f"prev{k + 1}"
    count = [0]

    def label(i: int) -> str:
        if i not in given:
            k = count[0]
            count[0] += 1
            given[i] = chr(ord("a") + k) if k < 26 else f"t{k}"
        return given[i]

    return label


def _start(graph: Graph, unit: Unit) -> int | None:
    """The input that can be a block's chain input: read once, by a one-input layer;
    the latest such (in a chain of cells, the cell before)."""
    members = set(unit.members)
    best = None
    for k, i in enumerate(unit.inputs):
        readers = [v for v in unit.members for j in graph.nodes[v].inputs if j == i]
        if len(readers) == 1 and graph.nodes[readers[0]].layer.arity != "many" and (
                best is None or i > unit.inputs[best]) and i not in members:
            best = k
    return best


def body_of(graph: Graph, unit: Unit, words: Words, start: int,
            readers: list[list[int]]) -> list[Term] | None:
    """The unit as one chain starting from input `start`: its statement first, the others
    after it as `-> @NAME -> ...`."""
    label = _local(unit, start)
    stmts = statements(graph, unit, words, label, readers)
    entry = unit.inputs[start]
    stmts.sort(key=lambda s: s.origin != entry)  # stable: the rest keep their order
    if stmts[0].origin != entry:
        return None  # the input is read inside a merge of named tensors: it needs a name
    terms: list[Term] = []
    for _, part, _ in joined(stmts, label, set(), entry):
        terms += part
    return terms


MIN_LAYERS = 4  # a unit smaller than this is not worth a block


def find_cells(graph: Graph, words: Words, taken: set[str],
               readers: list[list[int]]) -> tuple[list[Cell], dict[int, Unit]]:
    """Blocks for units written alike (two or more) whose numbers can be parameters, and
    the units they stand for (by output)."""
    children = regions(graph)
    found = _candidates(graph, children, words, readers)
    keyed = {w: k for w, (k, _) in found.items()}
    count = Counter(keyed.values())
    chosen: dict[tuple, list[int]] = defaultdict(list)
    below = {c for cs in children for c in cs}
    stack = [v for v in reversed(range(len(graph.nodes))) if v not in below]
    while stack:  # from the end back: the first unit written alike elsewhere, whole
        v = stack.pop()
        if v in keyed and count[keyed[v]] > 1:
            chosen[keyed[v]].append(v)
        else:
            stack += children[v]
    _more_uses(graph, chosen, found, words, readers)
    cells: list[Cell] = []
    units: dict[int, Unit] = {}
    for outs in chosen.values():
        same = [found[w][1] for w in sorted(outs)]
        cell = _cell(same) if len(same) > 1 else None
        if cell is not None:
            cells.append(cell)
            units.update((u.out, u) for u, _, _ in same)
    cells.sort(key=lambda c: min(c.uses))
    for c in sorted(cells, key=lambda c: -len(c.uses)):  # the most used, the plain name
        c.block.name = _fresh(_word(graph, list(c.uses)), taken)
    return cells, units


def _word(graph: Graph, outs: list[int]) -> str:
    """What the model's author called these cells, if their outputs' names say it
    (Keras's `normal_concat_3`, `normal_concat_7`: `normal`), else `cell`. A name of one
    word and a number (`concatenate_2`) is Keras's default, which says nothing."""
    words = set()
    for w in outs:
        parts = graph.nodes[w].name.rstrip("_0123456789").split("_")
        words.add(parts[0] if len(parts) > 1 else "")
    (word,) = words if len(words) == 1 else ("",)
    return word if word.isidentifier() and word.islower() and word.isalpha() else "cell"


Found = dict[int, tuple[tuple, tuple[Unit, int, list[Term]]]]  # out -> key, (unit, start, body)


def _candidates(graph: Graph, children: list[list[int]], words: Words,
                readers: list[list[int]]) -> Found:
    """Units that could be cells: a layer and all it post-dominates, of some size, with
    a chain input and a tensor parameter, and as large as another unit of its kind."""
    size = [1] * len(graph.nodes)
    for v in range(len(graph.nodes)):
        size[v] += sum(size[c] for c in children[v])
    alike: dict[tuple, list[int]] = defaultdict(list)
    for v, node in enumerate(graph.nodes):
        if size[v] >= MIN_LAYERS and node.kind != "input":
            alike[(size[v], node.kind)].append(v)
    found: Found = {}
    for group in alike.values():
        for w in group if len(group) > 1 else ():
            inside = _subtree(children, w)
            if any(graph.nodes[v].kind == "input" for v in inside):
                continue
            keyed = _keyed(graph, unit_of(graph, w, inside), words, readers)
            if keyed is not None:
                found[w] = keyed
    return found


def _keyed(graph: Graph, unit: Unit, words: Words, readers: list[list[int]]):
    """(what units written alike share, (the unit, its chain input, its body)), or None
    for a unit that cannot be a cell."""
    start = _start(graph, unit)
    if start is None or len(unit.inputs) < 2:
        return None
    body = body_of(graph, unit, words, start, readers)
    if body is None:
        return None
    return (start, len(unit.inputs), tuple(key(t) for t in body)), (unit, start, body)


def _more_uses(graph: Graph, chosen: dict[tuple, list[int]], found: Found, words: Words,
               readers: list[list[int]]) -> None:
    """Units outside those chosen that are written as some chosen ones are. A unit here is
    what leads only to its output, up to the chosen units: near the network's end, a layer
    post-dominates all before it (NASNet's last cell, all the cells before it)."""
    taken = {v for outs in chosen.values() for w in outs for v in found[w][1][0].members}
    kinds = {graph.nodes[w].kind for outs in chosen.values() for w in outs}
    outputs = set(graph.outputs)
    for w in reversed(range(len(graph.nodes))):
        if w in taken or graph.nodes[w].kind not in kinds:
            continue
        inside = {w}
        for v in range(w - 1, -1, -1):  # readers come later: decided before what they read
            if v not in taken and v not in outputs and graph.nodes[v].kind != "input" \
                    and readers[v] and all(r in inside for r in readers[v]):
                inside.add(v)
        keyed = _keyed(graph, unit_of(graph, w, inside), words, readers)
        if keyed is not None and keyed[0] in chosen:
            chosen[keyed[0]].append(w)
            found[w] = keyed
            taken |= inside


def _cell(group: list[tuple[Unit, int, list[Term]]]) -> Cell | None:
    """The block for units written alike, if their numbers can be its parameters."""
    table = [[h for t in body for h in holes(t)] for _, _, body in group]
    columns = parameters(table)
    if columns is None:
        return None
    params, values, args = columns
    position = {id(h): j for j, h in enumerate(table[0])}
    body = [rebuild(t, lambda h: h.copy(values.get(position[id(h)]))) for t in group[0][2]]
    unit0, start = group[0][0], group[0][1]
    label = _local(unit0, start)
    tensors = [label(i) for k, i in enumerate(unit0.inputs) if k != start]
    _name_params(params)
    uses = {unit.out: [Hole(v, p.role, None, p.default, "", p if p.default is not None else None)
                       for v, p in zip(row, params)]
            for (unit, _, _), row in zip(group, args)}
    return Cell(Block("cell", params, body, len(group)), tensors, start, uses)


def _fresh(base: str, taken: set[str]) -> str:
    name, k = base, 2
    while name in taken:
        name, k = f"{base}{k}", k + 1
    taken.add(name)
    return name


def _name_params(params: list[Param]) -> None:
    seen: Counter = Counter()
    for p in params:
        seen[p.role] += 1
        p.name = p.role if seen[p.role] == 1 else f"{p.role}{seen[p.role]}"


def definition(cell: Cell) -> list[str]:
    """`def cell(@prev, f) =` and its body, a statement a line."""
    params = [f"@{t}" for t in cell.tensors] + [
        p.name + ("" if p.default is None else f"={p.default}") for p in cell.block.params]
    head = f"def {cell.block.name}" + (f"({', '.join(params)})" if params else "") + " ="
    lines = chain_lines(cell.block.body, head + " ", 4, first_base=2)
    if len(lines) == 1:
        return lines
    return [head] + statement_lines(cell.block.body, "    ", "    -> ")


# -- the network ----------------------------------------------------------------------------

def cell_lines(graph: Graph, words: Words, label: Label, taken: set[str],
               fold: Callable[[list[list[Term]]], list[str]]) -> list[str]:
    """The graph with units written alike as blocks with tensor parameters; `fold` folds
    sub-chains of the cells' bodies and the statements into blocks of their own, in
    place, and gives their definitions."""
    readers: list[list[int]] = [[] for _ in graph.nodes]
    for node in graph.nodes:
        for i in node.inputs:
            readers[i].append(node.index)
    cells, units = find_cells(graph, words, taken, readers)
    by_unit = {w: c for c in cells for w in c.uses}
    folded = {v for u in units.values() for v in u.members}
    rest = [v for v in range(len(graph.nodes)) if v not in folded and v not in graph.inputs]
    stmts = [Stmt(-1, [Leaf(words(graph.nodes[i]), i)], i) for i in graph.inputs]
    if rest:
        remainder = Unit(rest[-1], rest, [*graph.inputs, *units])
        stmts += statements(graph, remainder, words, label, readers, nested=False)
    for w, unit in units.items():
        cell = by_unit[w]
        tensors = [i for k, i in enumerate(unit.inputs) if k != cell.start]
        shown = [f"@{label(i)}" for i in tensors] + [
            h.text() if h.keyword else h.val.arg_text() for h in cell.uses[w] if h.text()]
        call = Leaf([(f"{cell.block.name}({', '.join(shown)})",)], w)
        stmts.append(Stmt(unit.inputs[cell.start], [call], w, tensors))
    stmts.sort(key=lambda s: s.root)
    several = len(graph.outputs) > 1 or graph.outputs[0] != len(graph.nodes) - 1
    keep = set(graph.outputs) if several else set()
    keep |= set(graph.inputs) if len(graph.inputs) > 1 else set()
    written = joined(stmts, label, keep)
    lines = fold([c.block.body for c in cells] + [terms for _, terms, _ in written])
    for c in cells:
        lines += definition(c) + [""]
    for more, terms, root in written:
        part = chain_lines(terms, "  -> " if more else "", 4 if more else 2)
        shape = format_shape(graph.nodes[root].shape)
        room = max(COMMENT_COLUMN, len(part[-1]) + 2)
        if room + len(shape) + 2 <= WIDTH and graph.nodes[root].kind != "input":
            part[-1] = part[-1].ljust(room) + f"# {shape}"
        lines += part
    if several:
        lines.append("output " + ", ".join(f"@{label(i)}" for i in graph.outputs))
    return lines

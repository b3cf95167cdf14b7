"""Graphs that need named tensors, with their repeated cells folded into `def` blocks that
take tensor parameters, as a person writes NASNet:

    def cell(@prev, f) =
         relu -> conv 1 x{f} same bias=false -> bn as a
      -> @prev -> relu -> conv 1 x{f} same bias=false -> bn as b
      -> concat { @b | add { @a -> ... | @b -> ... } | ... }
    ...
      -> cell(@normal_concat_0, 44) as normal_concat_1                 # 28x28x264

The graph is cut into units at the tensors whose readers lead to different places (a
NASNet cell's output is read by the next cell and by the one after it): a unit is such a
tensor and every layer all of whose paths meet there first (it post-dominates them,
`structure.postdominators`). Inside a unit the layers are written as `named.tree_lines`
writes a graph: series-parallel parts nested, a name only where a tensor is read twice.
Tensors inside a unit get names by their place in it (`a`, `b`, ...), so that units built
alike are written alike but for their numbers; two or more such units are one block, its
numbers parameters as `printing.params` finds them, the tensors from outside it tensor
parameters (`@prev`) but one, the block's chain input. The network is then the units in
order, one a line, each ending with the shape it makes.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from ..ir import Graph, Node
from ..shapes import format_shape
from ..structure import postdominators
from .layout import WIDTH, chain_lines
from .params import parameters
from .terms import Block, Hole, Leaf, Merge, Param, Term, Word, holes, key, rebuild, word_text

COMMENT_COLUMN = 64
Words = Callable[[Node], list[Word]]
Label = Callable[[int], str]


@dataclass
class Unit:
    """A tensor read from several places (`out`) and the layers that lead only to it."""

    out: int
    members: list[int]  # in the order written: each after the layers it reads
    inputs: list[int]  # tensors from outside it reads, in the order first read


@dataclass
class Stmt:
    """A chain from a named tensor (`origin`; -1: none, a merge of named tensors) to the
    tensor it makes (`root`), and the other tensors it names."""

    origin: int
    terms: list[Term]
    root: int
    reads: list[int] = field(default_factory=list)


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


def _unit(graph: Graph, w: int, inside: set[int]) -> Unit:
    """The unit ending at `w` with the layers `inside`, in post-order from `w` (inputs in
    order), and the tensors from outside it reads."""
    members: list[int] = []
    inputs: list[int] = []
    seen: set[int] = set()
    stack: list[tuple[int, bool]] = [(w, False)]
    while stack:
        v, done = stack.pop()
        if done:
            members.append(v)
            continue
        if v in seen:
            continue
        seen.add(v)
        stack.append((v, True))
        for i in graph.nodes[v].inputs:
            if i not in inside and i not in inputs:
                inputs.append(i)
        stack += [(i, False) for i in reversed(graph.nodes[v].inputs) if i in inside]
    return Unit(w, members, inputs)


# -- a unit's statements --------------------------------------------------------------------

def ref(i: int, label: Label) -> Leaf:
    """`@NAME` as a step."""
    return Leaf([(f"@{label(i)}",)], i)


def statements(graph: Graph, unit: Unit, words: Words, label: Label,
               readers: list[list[int]], nested: bool = True) -> list[Stmt]:
    """The unit as statements, as `named.tree_lines` writes a graph, but for merges of
    named tensors read once: those too are written where they are read (`concat { @p |
    add { @h -> ... | @p } }`). The roots, statements of their own, are the tensors read
    twice, by another unit, or as an output. A statement of its own cannot begin with a
    merge one of whose branches is such a merge (it would have no input to start from):
    without `nested` (statements, not a block's one chain), those are roots too."""
    outside = set(unit.inputs)
    inside = set(unit.members)
    roots = {v for v in unit.members if len(readers[v]) != 1 or readers[v][0] not in inside
             or v in graph.outputs} | {unit.out}
    origin: dict[int, int] = {}
    steps: dict[int, list[Term]] = {}
    reads: dict[int, list[int]] = {}

    def branch(i: int) -> tuple[int, list[Term], list[int]]:
        if i in roots or i in outside:
            return i, [], []
        return origin[i], steps[i], reads[i]

    for v in unit.members:
        node = graph.nodes[v]
        ws = words(node)
        if node.layer.arity != "many":
            origin[v], st, reads[v] = branch(node.inputs[0])
            steps[v] = [*st, Leaf(ws, v)]
            continue
        parts = [branch(i) for i in node.inputs]
        if not nested and any(o < 0 for o, _, _ in parts):
            roots.update(i for i, (o, _, _) in zip(node.inputs, parts) if o < 0)
            parts = [branch(i) for i in node.inputs]
        read = [r for _, _, rd in parts for r in rd]
        starts = {o for o, _, _ in parts}
        if len(starts) == 1 and -1 not in starts:
            origin[v], branches = parts[0][0], [list(st) for _, st, _ in parts]
        else:  # branches from named tensors (or merges of them), read where it is read
            origin[v] = -1
            branches = [[ref(o, label), *st] if o >= 0 else list(st) for o, st, _ in parts]
            read += [o for o, _, _ in parts if o >= 0]
        op = word_text(ws[0])
        if op == "add" and len(branches) == 2 and not branches[0] and branches[1]:
            op, branches = "residual", branches[1:]
        steps[v], reads[v] = [Merge(op, branches, v, list(ws[1:]))], read
    return [Stmt(origin[r], steps[r], r, reads[r]) for r in unit.members if r in roots]


def joined(stmts: list[Stmt], label: Label, keep: set[int],
           start: int | None = None) -> list[tuple[bool, list[Term], int]]:
    """Statements as written: (continues the one before, its terms, its root); `as NAME`
    on a root read later or in `keep`; `start` is a block's chain input, never named."""
    refs = Counter(r for s in stmts for r in s.reads)
    refs.update(s.origin for s in stmts if s.origin >= 0)
    out: list[tuple[bool, list[Term], int]] = []
    previous = start
    for s in stmts:
        if s.origin >= 0 and s.origin == previous:
            refs[s.origin] -= 1
            out.append((True, list(s.terms), s.root))
        else:
            lead = [ref(s.origin, label)] if s.origin >= 0 else []
            out.append((False, lead + list(s.terms), s.root))
        previous = s.root
    for _, terms, root in out:
        if refs[root] > 0 or root in keep:
            _bind(terms[-1], label(root))
    return out


def _bind(term: Term, name: str) -> None:
    if isinstance(term, Leaf):
        term.words.append((f"as {name}",))
    elif isinstance(term, Merge):
        term.suffix.append((f"as {name}",))


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
    the units they stand for (by output). A unit is a layer and all it post-dominates;
    from the network's end back, the first such unit that is written alike elsewhere is
    taken whole (a NASNet cell), else the search goes on inside it."""
    children = regions(graph)
    size = [1] * len(graph.nodes)
    for v in range(len(graph.nodes)):
        size[v] += sum(size[c] for c in children[v])
    alike: dict[tuple, list[int]] = defaultdict(list)
    for v, node in enumerate(graph.nodes):
        if size[v] >= MIN_LAYERS and node.kind != "input":
            alike[(size[v], node.kind)].append(v)
    keyed: dict[int, tuple] = {}
    found: dict[int, tuple[Unit, int, list[Term]]] = {}
    for group in alike.values():
        for w in group if len(group) > 1 else ():
            inside = _subtree(children, w)
            unit = _unit(graph, w, inside)
            start = _start(graph, unit)
            if start is None or len(unit.inputs) < 2 or any(
                    graph.nodes[v].kind == "input" for v in inside):
                continue
            body = body_of(graph, unit, words, start, readers)
            if body is None:
                continue
            keyed[w] = (start, len(unit.inputs), tuple(key(t) for t in body))
            found[w] = (unit, start, body)
    count = Counter(keyed.values())
    chosen: dict[tuple, list[int]] = defaultdict(list)
    below = {c for cs in children for c in cs}
    stack = [v for v in reversed(range(len(graph.nodes))) if v not in below]
    while stack:
        v = stack.pop()
        if v in keyed and count[keyed[v]] > 1:
            chosen[keyed[v]].append(v)
        else:
            stack += children[v]
    _more_uses(graph, chosen, found, words, readers)
    cells: list[Cell] = []
    units: dict[int, Unit] = {}
    for outs in chosen.values():
        same = [found[w] for w in sorted(outs)]
        cell = _cell(same) if len(same) > 1 else None
        if cell is not None:
            cells.append(cell)
            units.update((u.out, u) for u, _, _ in same)
    cells.sort(key=lambda c: min(c.uses))
    for c in cells:  # named in the order they are first used
        c.block.name = _fresh("cell", taken)
    return cells, units


def _more_uses(graph: Graph, chosen: dict[tuple, list[int]],
               found: dict[int, tuple[Unit, int, list[Term]]], words: Words,
               readers: list[list[int]]) -> None:
    """Units outside those chosen that are written as some chosen ones are. A cell's
    region is all it post-dominates, which for the last cells of a network is everything
    before them; here a unit is instead what leads only to its output, up to the chosen
    units' outputs (NASNet's last cell, beside the ones before it)."""
    taken = {v for outs in chosen.values() for w in outs for v in found[w][0].members}
    kinds = {graph.nodes[w].kind for outs in chosen.values() for w in outs}
    for w in reversed(range(len(graph.nodes))):
        if w in taken or graph.nodes[w].kind not in kinds:
            continue
        inside = {w}
        for v in range(w - 1, -1, -1):
            if v not in taken and graph.nodes[v].kind != "input" and readers[v] and all(
                    r in inside for r in readers[v]):
                inside.add(v)
        unit = _unit(graph, w, inside)
        start = _start(graph, unit)
        if start is None:
            continue
        body = body_of(graph, unit, words, start, readers)
        if body is None:
            continue
        k = (start, len(unit.inputs), tuple(key(t) for t in body))
        if k in chosen:
            chosen[k].append(w)
            found[w] = (unit, start, body)
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
    return [head] + _statement_lines(cell.block.body, "     ", "  -> ")


def _statement_lines(terms: list[Term], first: str, then: str) -> list[str]:
    """A block body, a new line at each `@NAME` step or merge of named tensors."""
    groups: list[list[Term]] = [[]]
    for t in terms:
        if groups[-1] and _restarts(t):
            groups.append([])
        groups[-1].append(t)
    lines: list[str] = []
    for k, group in enumerate(groups):
        lines += chain_lines(group, first if k == 0 else then, 6)
    return lines


def _restarts(term: Term) -> bool:
    """`@NAME`, or a merge every branch of which starts from named tensors."""
    if isinstance(term, Leaf):
        return word_text(term.words[0]).startswith("@")
    return isinstance(term, Merge) and all(b and _restarts(b[0]) for b in term.branches)


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

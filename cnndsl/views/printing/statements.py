"""A unit of a graph (a layer and the layers that lead only to it) as statements with
named tensors, written as `named.tree_lines` writes a graph: series-parallel parts nested,
a merge of named tensors read once written where it is read (`concat { @p | add { @h ->
... | @p } }`), and a statement `... as NAME` only for a tensor that must be named (read
twice, by another unit, or an output). `printing.cells` makes blocks of such units.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from ...graph.ir import Graph, Node
from .terms import Leaf, Merge, Term, Word, word_text

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


def unit_of(graph: Graph, w: int, inside: set[int]) -> Unit:
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
            steps[v] = [*st, Leaf(ws, v)] if ws else list(st)  # a split's part: no words
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
        head = 2 if len(set(getattr(node.layer, "sizes", ()))) > 1 else 1
        op = " ".join(word_text(w) for w in ws[:head])  # `split 24,40`: sizes before `{`
        if op == "add" and len(branches) == 2 and not branches[0] and branches[1]:
            op, branches = "residual", branches[1:]
        steps[v], reads[v] = [Merge(op, branches, v, list(ws[head:]))], read
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

"""A network as printable terms: steps made of words, whose numbers are holes.

A hole is a number the folding may turn into a block parameter (`x{f}`), a multiple of
one (`x{4*f}`) or a multiple of the entering channels (`x{C*6}`). Terms with the same
`key` are written alike but for their holes, which is what a `def` can share.
"""

from __future__ import annotations

from collections.abc import Callable, Set
from dataclasses import dataclass, field
from fractions import Fraction

from ...graph.ir import Graph, Node
from ...graph.structure import Chain, Fork, Step
from ...layers.base import Layer
from ...support.escaping import cnn_name


class Param:
    """A block parameter; `name` is given when the block is written out."""

    def __init__(self, role: str, default: int | None = None) -> None:
        self.role, self.default, self.name = role, default, role


CHANNELS = Param("C")  # `C`: the channels entering the step where it is read


@dataclass(frozen=True)
class Val:
    """A number: `coef` alone, or `coef` times a parameter (or `C`)."""

    param: Param | None
    coef: Fraction

    def text(self) -> str:
        if self.param is None:
            return str(self.coef)
        name, c = self.param.name, self.coef
        if c == 1:
            return f"{{{name}}}"
        if c.denominator == 1:
            return f"{{{name}*{c}}}" if self.param is CHANNELS else f"{{{c}*{name}}}"
        if c.numerator == 1:
            return f"{{{name}//{c.denominator}}}"
        return f"{{{name}*{c.numerator}//{c.denominator}}}"

    def arg_text(self) -> str:
        """As a block argument: a parameter passed on is its bare name."""
        if self.param is not None and self.coef == 1 and self.param is not CHANNELS:
            return self.param.name
        return self.text()

    def times(self, other: Val) -> Val:
        """A parameter's value `self` substituted into `other` = coef * parameter."""
        if other.param is None:
            return other
        return Val(self.param, self.coef * other.coef)


def const(n: int) -> Val:
    return Val(None, Fraction(n))


@dataclass(eq=False)
class Hole:
    """A number in a step: its value, what it is (`role`), the channels entering the step
    (None where `C` may not stand for it), the value left out when literal (`omit`), and
    the text written before it (`/`, `x`, `dilation=`)."""

    val: Val
    role: str
    channels: int | None = None
    omit: int | None = None
    prefix: str = ""
    keyword: Param | None = None  # a block argument given by name: `s=1`

    def text(self) -> str:
        if self.val.param is None and self.omit is not None and self.val.coef == self.omit:
            return ""
        if self.keyword is not None:
            return f"{self.keyword.name}={self.val.arg_text()}"
        return self.prefix + self.val.text()

    def copy(self, val: Val | None = None) -> Hole:
        """The hole in a block's body or a repetition: `C` no longer known here."""
        return Hole(self.val if val is None else val, self.role, None, self.omit, self.prefix,
                    self.keyword)


Word = tuple[str | Hole, ...]


def word_text(word: Word) -> str:
    """A word's text; a word of holes left out (`/1`) is empty."""
    return "".join(w.text() if isinstance(w, Hole) else w for w in word)


@dataclass(eq=False)
class Leaf:
    """One layer step."""

    words: list[Word]
    first: int  # node index (for shapes and entering channels)

    @property
    def last(self) -> int:
        return self.first


@dataclass(eq=False)
class Merge:
    """`op { branch | branch }`; an empty branch is `id`; `residual` has one branch."""

    op: str
    branches: list[list[Term]]
    node: int
    suffix: list[Word] = field(default_factory=list)  # `name=...`
    entry: int | None = None  # the node reading the fork, if no branch's first term does

    @property
    def last(self) -> int:
        return self.node


@dataclass(eq=False)
class Call:
    """A use of a block: `name(args)`."""

    block: Block
    args: list[Hole]
    first: int
    last: int


@dataclass(eq=False)
class Repeat:
    """`( body ) * count`."""

    body: list[Term]
    count: Hole
    first: int
    last: int


Term = Leaf | Merge | Call | Repeat


@dataclass(eq=False)
class Block:
    """A `def`: its parameters and body (holes refer to the parameters)."""

    name: str
    params: list[Param]
    body: list[Term]
    uses: int = 0
    pinned: bool = False  # written out whatever its uses (a cell, a statement of its own)


def first_node(term: Term) -> int:
    """The node whose input is the term's input (a merge's: its fork's reader)."""
    if isinstance(term, Merge):
        if term.entry is not None:  # a split's first part
            return term.entry
        for branch in term.branches:
            if branch:
                return first_node(branch[0])
        return term.node
    return term.first


# -- keys, holes, texts -------------------------------------------------------------------

def key(term: Term) -> tuple:
    """Equal for terms written alike but for their holes."""
    if isinstance(term, Leaf):
        return ("leaf", tuple(tuple(_hole_key(w) for w in word) for word in term.words))
    if isinstance(term, Merge):
        return ("merge", term.op, tuple(tuple(key(t) for t in b) for b in term.branches),
                tuple(tuple(_hole_key(w) for w in word) for word in term.suffix))
    if isinstance(term, Call):
        return ("call", id(term.block))
    return ("repeat", tuple(key(t) for t in term.body), _hole_key(term.count))


def _hole_key(part: str | Hole):
    return part if isinstance(part, str) else ("hole", part.role, part.omit, part.prefix)


def holes(term: Term) -> list[Hole]:
    """Every hole of a term, in a fixed order (terms of one key list them alike)."""
    if isinstance(term, Leaf):
        return [w for word in term.words for w in word if isinstance(w, Hole)]
    if isinstance(term, Merge):
        return [h for b in term.branches for t in b for h in holes(t)] + \
            [w for word in term.suffix for w in word if isinstance(w, Hole)]
    if isinstance(term, Call):
        return list(term.args)
    return [h for t in term.body for h in holes(t)] + [term.count]


def signature(term: Term) -> tuple:
    """Equal for terms written exactly alike."""
    return key(term), tuple(h.val for h in holes(term))


def flat_text(term: Term) -> str:
    """The term on one line."""
    if isinstance(term, Leaf):
        return " ".join(t for t in (word_text(w) for w in term.words) if t)
    if isinstance(term, Merge):
        inside = " | ".join(chain_text(b) if b else "id" for b in term.branches)
        suffix = "".join(" " + word_text(w) for w in term.suffix)
        return f"{term.op} {{ {inside} }}{suffix}"
    if isinstance(term, Call):
        return call_text(term)
    return f"({chain_text(term.body)}) * {term.count.val.text()}"


def call_text(call: Call) -> str:
    shown = [h.text() if h.keyword else h.val.arg_text() for h in call.args
             if h.text()]
    return f"{call.block.name}({', '.join(shown)})" if shown else call.block.name


def chain_text(terms: list[Term]) -> str:
    return " -> ".join(flat_text(t) for t in terms)


@dataclass(frozen=True)
class Hints:
    """What the printer knows of the network, for choosing where blocks begin and end.

    `ends(term)`: a step that finishes the one before it (a batch norm, an activation, a
    pooling), better not the first of a block. `bond(a, b)`: how much two neighbouring
    layers belong together (0: not at all), from their names: the Keras layers
    `block_3_expand` and `block_3_expand_BN` share three words, `block_3_project_BN` and
    `block_4_expand` one, so blocks are cut where the model's author cut them.
    `keeps_channels(a, b)`: whether the channels entering node `a` leave node `b`."""

    ends: Callable[[Term], bool]
    bond: Callable[[int, int], int]
    keeps_channels: Callable[[int, int], bool]  # (first node, last node) of a run
    # A term no block may hold: it names a tensor (`as a`, `@a`), and names are local.
    opaque: Callable[[Term], bool] = lambda term: False


def rebuild(term: Term, fill: Callable[[Hole], Hole]) -> Term:
    """A copy of `term` with every hole replaced by `fill(hole)`."""
    if isinstance(term, Leaf):
        return Leaf([tuple(fill(w) if isinstance(w, Hole) else w for w in word)
                     for word in term.words], term.first)
    if isinstance(term, Merge):
        return Merge(term.op, [[rebuild(t, fill) for t in b] for b in term.branches],
                     term.node, [tuple(fill(w) if isinstance(w, Hole) else w for w in word)
                                 for word in term.suffix], term.entry)
    if isinstance(term, Call):
        return Call(term.block, [fill(h) for h in term.args], term.first, term.last)
    return Repeat([rebuild(t, fill) for t in term.body], fill(term.count), term.first,
                  term.last)


# -- from the structure ---------------------------------------------------------------------

def terms_of(graph: Graph, chain: Chain, words, names: bool | Set[int]) -> list[Term]:
    """The chain as terms; `words(node)` gives a layer's words; `names` adds `name=` to
    every layer (True) or to the layers of those indices."""
    out: list[Term] = []
    for part in chain:
        node = graph.nodes[part.node]
        keep = names if isinstance(names, bool) else node.index in names
        suffix: list[Word] = [(f"name={cnn_name(node.name)}",)] if keep else []
        if isinstance(part, Step):
            out.append(Leaf(words(node) + suffix, node.index))
        else:
            out.append(_merge(graph, part, words, names, suffix))
    return out


def _merge(graph: Graph, fork: Fork, words, names: bool | Set[int], suffix: list[Word]) -> Merge:
    node = graph.nodes[fork.node]
    if node.kind == "split":  # each branch starts from its part, which `split` writes
        branches = [terms_of(graph, b[1:], words, names) for b in fork.branches]
        op = " ".join(word_text(w) for w in words(node))
        return Merge(op, branches, node.index, suffix, fork.branches[0][0].node)
    branches = [terms_of(graph, b, words, names) for b in fork.branches]
    if node.kind == "add" and len(branches) == 2 and not branches[0] and branches[1]:
        return Merge("residual", branches[1:], node.index, suffix)
    return Merge(node.kind, branches, node.index, suffix)


def is_attached(term: Term, graph: Graph) -> bool:
    """A step that finishes the one before it (batch norm, an activation, dropout)."""
    return isinstance(term, Leaf) and graph.nodes[term.first].kind in (
        "batchnorm", "layernorm", "activation", "dropout")


def ends_stage(term: Term, graph: Graph) -> bool:
    """A step that finishes what comes before it: `is_attached`, or a pooling."""
    return is_attached(term, graph) or (
        isinstance(term, Leaf) and graph.nodes[term.first].kind in ("maxpool", "avgpool"))


__all__ = ["Layer", "Node"]

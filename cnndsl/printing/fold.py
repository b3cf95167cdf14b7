"""Folding: repeated runs of steps become `( ... ) * N`, and sub-chains written alike
(but for their numbers) become `def` blocks with parameters.

The search is greedy, largest saving first, over every chain of the program (the network,
merge branches, repetition and block bodies), in the manner of grammar compression
(Re-Pair), but with whole sub-chains rather than pairs, so that the blocks found are the
ones a person would name (a ResNet bottleneck, a MobileNet inverted residual), not
fragments. The numbers of the occurrences decide the parameters: a number that never
changes stays written, numbers that change together (`64, 256` / `128, 512`) share one
parameter (`x{f}`, `x{4*f}`), a width that is always a fixed multiple of the channels
entering it becomes `x{C*6}`, and a parameter that mostly takes one value gets it as its
default. Blocks used once in the end are written out where they are used.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from .terms import (
    CHANNELS,
    Block,
    Call,
    Hole,
    Leaf,
    Merge,
    Param,
    Repeat,
    Term,
    Val,
    const,
    first_node,
    flat_text,
    holes,
    key,
    signature,
)

MAX_RUN = 24  # the longest sub-chain (in steps) considered for a block or a repetition
BLOCK_COST = 40  # characters a block must save beyond its own text: a def is a new word
CUT_COST = 30  # a block that starts with, or leaves behind, a batch norm or activation
BOND_COST = 30  # per degree two neighbours belong together (`Hints.bond`), where cut
LOOSE_COST = 60  # per joint inside a block as loose as where it is cut out
MAX_ROUNDS = 200
ROLES = "fmnksdg"
NO_DEFAULT = "f"  # parameters in this order: widths first, strides after kernels
# What a parameter costs, in characters: one for a kernel or a stride makes blocks of
# layers that only look alike (a 3x3 stem and a 1x1 expansion), so it must pay more.
PARAM_COST = {"k": 400, "s": 12}


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


@dataclass
class Program:
    """The network's chain and the blocks found so far."""

    main: list[Term]
    blocks: list[Block]


@dataclass
class _Seq:
    terms: list[Term]
    concrete: bool  # in the network itself (not a block or repetition body): `C` is known


def chains(program: Program) -> list[_Seq]:
    """Every chain of the program, nested ones included."""
    out: list[_Seq] = []

    def visit(terms: list[Term], concrete: bool) -> None:
        out.append(_Seq(terms, concrete))
        for t in terms:
            if isinstance(t, Merge):
                for b in t.branches:
                    if b:
                        visit(b, concrete)
            elif isinstance(t, Repeat):
                visit(t.body, False)

    visit(program.main, True)
    for block in program.blocks:
        visit(block.body, False)
    return out


# -- repetitions ----------------------------------------------------------------------------

def fold_repeats(terms: list[Term], hints: Hints) -> None:
    """Runs of identical sub-chains in `terms` (and in its nested chains) in place.

    A run is begun one step later where that step belongs with the one before it more
    than with the one after (`relu -> (block -> relu) * 2`, not `(relu -> block) * 2`)."""
    for t in terms:
        if isinstance(t, Merge):
            for b in t.branches:
                fold_repeats(b, hints)
        elif isinstance(t, Repeat):
            fold_repeats(t.body, hints)
    sigs = [signature(t) for t in terms]
    out: list[Term] = []
    i = 0
    while i < len(terms):
        length, count = _run(sigs, i)
        if count > 1 and _run(sigs, i + 1)[1] > 1 and _later(terms, i, hints):
            length, count = 1, 1
        if count == 1:
            out.append(terms[i])
            i += 1
            continue
        run = terms[i:i + length]
        # Every copy of a body that keeps its channels sees the same `C` at each step.
        body = run if hints.keeps_channels(first_node(run[0]), run[-1].last) else \
            [_detached(t) for t in run]
        fold_repeats(body, hints)
        out.append(Repeat(body, Hole(const(count), "n"), first_node(terms[i]),
                          terms[i + length * count - 1].last))
        i += length * count
    terms[:] = out


def _later(terms: list[Term], i: int, hints: Hints) -> bool:
    """Whether a run is better begun after `terms[i]` than at it."""
    if hints.ends(terms[i]):
        return True
    before = hints.bond(terms[i - 1].last, first_node(terms[i])) if i else 0
    return before > hints.bond(terms[i].last, first_node(terms[i + 1]))


def _run(sigs: list, i: int) -> tuple[int, int]:
    """(length, count) of the longest-covering run of copies starting at `i`."""
    best = (1, 1)
    for length in range(1, min(MAX_RUN, (len(sigs) - i) // 2) + 1):
        count = 1
        while sigs[i + count * length:i + (count + 1) * length] == sigs[i:i + length]:
            count += 1
        if count > 1 and length * count > best[0] * best[1]:
            best = (length, count)
    return best


def _detached(term: Term) -> Term:
    """A copy whose holes no longer know their channels (a body is written once for
    several places)."""
    return rebuild(term, lambda h: h.copy())


def rebuild(term: Term, fill: Callable[[Hole], Hole]) -> Term:
    """A copy of `term` with every hole replaced by `fill(hole)`."""
    if isinstance(term, Leaf):
        return Leaf([tuple(fill(w) if isinstance(w, Hole) else w for w in word)
                     for word in term.words], term.first)
    if isinstance(term, Merge):
        return Merge(term.op, [[rebuild(t, fill) for t in b] for b in term.branches],
                     term.node, [tuple(fill(w) if isinstance(w, Hole) else w for w in word)
                                 for word in term.suffix])
    if isinstance(term, Call):
        return Call(term.block, [fill(h) for h in term.args], term.first, term.last)
    return Repeat([rebuild(t, fill) for t in term.body], fill(term.count), term.first,
                  term.last)


# -- blocks ---------------------------------------------------------------------------------

@dataclass
class _Plan:
    """How the holes of a candidate's occurrences become a block's parameters."""

    saving: float
    occurrences: list[tuple[_Seq, int]]
    length: int
    params: list[Param]
    body: dict[int, Val]  # hole position -> its value in the body
    args: list[list[Val]]  # per occurrence, per parameter


class _Texts:
    """Lengths of terms' one-line texts, computed once per round."""

    def __init__(self) -> None:
        self.lengths: dict[int, int] = {}

    def __call__(self, term: Term) -> int:
        found = self.lengths.get(id(term))
        if found is None:
            found = self.lengths[id(term)] = len(flat_text(term))
        return found


def fold_blocks(program: Program, hints: Hints) -> None:
    """Make blocks while one saves text; then write out blocks used once."""
    fold_repeats(program.main, hints)
    for _ in range(MAX_ROUNDS):
        plan = _best(program, hints)
        if plan is None:
            break
        _apply(program, plan)
        for seq in chains(program):
            fold_repeats(seq.terms, hints)
    _inline_single_uses(program, hints)


def _best(program: Program, hints: Hints) -> _Plan | None:
    """The block that saves the most text, if any saves some. Candidates are tried in
    the order of what they could save at most (their copies' text but one), and the
    search stops where that bound cannot beat the best found."""
    seqs = chains(program)
    texts = _Texts()
    ids: dict[tuple, int] = {}
    found: dict[tuple[int, ...], list[tuple[int, int]]] = defaultdict(list)
    ends: list[list[int]] = []  # per chain, text length up to each term
    for s, seq in enumerate(seqs):
        keys = [ids.setdefault(key(t), len(ids)) for t in seq.terms]
        ends.append([0])
        for t in seq.terms:
            ends[-1].append(ends[-1][-1] + texts(t) + 4)
        for i in range(len(keys)):
            for length in range(1, min(MAX_RUN, len(keys) - i) + 1):
                found[tuple(keys[i:i + length])].append((s, i))
    bounded = []
    for run, places in found.items():
        if len(places) < 2:
            continue
        occurrences = _disjoint(places, len(run))
        if len(occurrences) < 2:
            continue
        sizes = [ends[s][i + len(run)] - ends[s][i] for s, i in occurrences]
        bound = sum(sizes) - min(sizes) - BLOCK_COST  # no plan of these saves more
        if bound > 0:
            bounded.append((bound, len(run), occurrences))
    bounded.sort(key=lambda b: (-b[0], -b[1]))
    best: _Plan | None = None
    for bound, length, occurrences in bounded:
        if best is not None and bound <= best.saving:
            break
        first = seqs[occurrences[0][0]].terms[occurrences[0][1]]
        if length == 1 and isinstance(first, Call):
            continue
        located = [(seqs[s], i) for s, i in occurrences]
        for subset in (located, _alike(located, length)):
            plan = _plan(subset, length, texts, hints) if len(subset) > 1 else None
            if plan is not None and plan.saving > 0 and (
                    best is None or (plan.saving, plan.length) > (best.saving, best.length)):
                best = plan
    return best


def _alike(places: list[tuple[_Seq, int]], length: int) -> list[tuple[_Seq, int]]:
    """The most occurrences that agree on their kernels: a parameter for a kernel makes
    look-alikes of different things (a 3x3 stem and a 1x1 expansion), so the run is also
    tried without the odd ones out."""
    kernels: dict[tuple, list[tuple[_Seq, int]]] = defaultdict(list)
    for seq, i in places:
        values = tuple(h.val for t in seq.terms[i:i + length] for h in holes(t)
                       if h.role == "k")
        kernels[values].append((seq, i))
    if len(kernels) == 1:
        return []
    return max(kernels.values(), key=len)


def _disjoint(places: list[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, i in sorted(places):
        if out and out[-1][0] == s and i < out[-1][1] + length:
            continue
        out.append((s, i))
    return out


def _plan(occurrences: list[tuple[_Seq, int]], length: int, texts: _Texts,
          hints: Hints) -> _Plan | None:
    runs = [seq.terms[i:i + length] for seq, i in occurrences]
    table = [[h for t in run for h in holes(t)] for run in runs]
    columns = _columns(table)
    if columns is None:
        return None
    params, body, args = columns
    written = sum(texts(t) for run in runs for t in run) + 4 * (length - 1) * len(runs)
    body_text = sum(texts(t) for t in runs[0]) + 4 * (length - 1) + 2 * len(body)
    calls = sum(6 + sum(len(v.arg_text()) + 2 for v, p in zip(a, params)
                        if p.default is None or v != const(p.default)) for a in args)
    cuts = sum(_cuts(seq.terms, i, length, hints) for seq, i in occurrences)
    saving = written - body_text - calls - BLOCK_COST - cuts - sum(
        PARAM_COST.get(p.role, 4) for p in params)
    return _Plan(saving, occurrences, length, params, body, args)


def _cuts(terms: list[Term], i: int, length: int, hints: Hints) -> int:
    """What cutting `terms[i:i + length]` out of its chain costs: more where a step that
    finishes another is cut from it, where neighbours belong together, and where the run
    holds looser joints than its ends (several blocks of the author's, not one)."""
    cost = CUT_COST if hints.ends(terms[i]) else 0
    outside = 0
    if i:
        outside = hints.bond(terms[i - 1].last, first_node(terms[i]))
    if i + length < len(terms):
        after = terms[i + length]
        cost += CUT_COST if hints.ends(after) else 0
        outside = max(outside, hints.bond(terms[i + length - 1].last, first_node(after)))
    cost += BOND_COST * outside
    if outside:
        cost += LOOSE_COST * sum(
            1 for a, b in zip(terms[i:i + length - 1], terms[i + 1:i + length])
            if hints.bond(a.last, first_node(b)) <= outside)
    return cost


def _columns(table: list[list[Hole]]):
    """Parameters for the holes of the occurrences (rows), or None if some cannot be
    shared. Returns (params, body values by hole position, argument values per row)."""
    groups: list[tuple[Param, int, list[Val]]] = []  # param, first column, its values
    body: dict[int, Val] = {}
    for j in range(len(table[0])):
        column = [row[j].val for row in table]
        role = table[0][j].role
        if all(v == column[0] for v in column) and column[0].param in (None, CHANNELS):
            continue  # written as it is
        if any(v.param is CHANNELS for v in column):
            return None  # `C` of a step inside cannot be passed from outside
        joined = _join(groups, column, role)
        if joined is not None:
            body[j] = joined
            continue
        ratio = _channels_ratio([row[j] for row in table])
        if ratio is not None:
            body[j] = Val(CHANNELS, ratio)
            continue
        param = Param(role)
        groups.append((param, j, column))
        body[j] = Val(param, Fraction(1))
    params, args = _rebase(groups, body, len(table))
    return params, body, args


def _join(groups, column: list[Val], role: str) -> Val | None:
    """`column` as a whole multiple (or fraction 1/k) of an existing parameter's."""
    for param, _, values in groups:
        if param.role != role:
            continue
        ratio = _ratio(column, values)
        if ratio is not None and (ratio.denominator == 1 or ratio.numerator == 1):
            return Val(param, ratio)
    return None


def _ratio(column: list[Val], base: list[Val]) -> Fraction | None:
    found = None
    for v, b in zip(column, base):
        if v.param is not b.param or b.coef == 0:
            return None
        r = v.coef / b.coef
        if found is not None and r != found:
            return None
        found = r
    return found


def _channels_ratio(column: list[Hole]) -> Fraction | None:
    """C*k (k whole) or C//2, when every hole knows its channels and the ratio is fixed."""
    if any(h.channels is None or h.val.param is not None for h in column):
        return None
    ratios = {h.val.coef / h.channels for h in column if h.channels}
    if len(ratios) != 1 or len(column) != sum(1 for h in column if h.channels):
        return None
    (ratio,) = ratios
    return ratio if ratio.denominator == 1 or ratio == Fraction(1, 2) else None


def _rebase(groups, body: dict[int, Val], rows: int):
    """Each parameter on the member most holes take as they are (`x{f}`, `x{4*f}`,
    `dense {f//16}`), defaults for the values most uses take, parameters with defaults
    last, widths first."""
    params: list[Param] = []
    values: list[list[Val]] = []
    for param, _, column in groups:
        coefs = [v.coef for v in body.values() if v.param is param]
        base = max(sorted(set(coefs)), key=lambda b: (_simple(coefs, b), coefs.count(b)))
        if base != 1 and _simple(coefs, base):
            for j, v in body.items():
                if v.param is param:
                    body[j] = Val(param, v.coef / base)
            column = [Val(v.param, v.coef * base) for v in column]
        param.default = _default(column, rows, param.role)
        params.append(param)
        values.append(column)
    order = sorted(range(len(params)), key=lambda k: (
        params[k].default is not None, ROLES.find(params[k].role), k))
    params = [params[k] for k in order]
    args = [[values[k][r] for k in order] for r in range(rows)]
    return params, args


def _simple(coefs: list[Fraction], base: Fraction) -> bool:
    """Every coefficient a whole multiple or a whole fraction (1/k) of `base`."""
    return all((c / base).denominator == 1 or (c / base).numerator == 1 for c in coefs)


def _default(column: list[Val], rows: int, role: str) -> int | None:
    """The value most uses give (more than half of them), or the only plain number
    given where the others pass on a parameter of their own block. Widths have none:
    `res(24)` says what `res` alone would hide."""
    if role in NO_DEFAULT:
        return None
    plain = Counter(v for v in column if v.param is None)
    if not plain:
        return None
    common, count = plain.most_common(1)[0]
    if common.coef.denominator != 1:
        return None
    if (count >= 2 and 2 * count > rows) or (len(plain) == 1 and count < rows):
        return int(common.coef)
    return None


def _apply(program: Program, plan: _Plan) -> None:
    (seq0, i0), length = plan.occurrences[0], plan.length
    position = {id(h): j for j, h in enumerate(h for t in seq0.terms[i0:i0 + length]
                                               for h in holes(t))}

    def fill(hole: Hole) -> Hole:
        j = position[id(hole)]
        return hole.copy(plan.body.get(j))

    block = Block(f"block{len(program.blocks)}", plan.params,
                  [rebuild(t, fill) for t in seq0.terms[i0:i0 + length]],
                  uses=len(plan.occurrences))
    program.blocks.append(block)
    # Later occurrences in one chain first, so earlier indices stay valid.
    for (seq, i), values in sorted(zip(plan.occurrences, plan.args),
                                   key=lambda o: -o[0][1]):
        run = seq.terms[i:i + length]
        start = first_node(run[0])
        channels = None  # the call's `C` is not used for its arguments (see _columns)
        call = Call(block, [Hole(v, p.role, channels, p.default, "",
                                 p if p.default is not None else None)
                            for v, p in zip(values, plan.params)], start, run[-1].last)
        seq.terms[i:i + length] = [call]


# -- blocks used once -----------------------------------------------------------------------

def uses(program: Program) -> Counter:
    """How many calls of each block the program writes."""
    count: Counter = Counter()

    def visit(terms: list[Term]) -> None:
        for t in terms:
            if isinstance(t, Call):
                count[id(t.block)] += 1
            elif isinstance(t, Merge):
                for b in t.branches:
                    visit(b)
            elif isinstance(t, Repeat):
                visit(t.body)

    visit(program.main)
    for block in program.blocks:
        visit(block.body)
    return count


def _inline_single_uses(program: Program, hints: Hints) -> None:
    while True:
        count = uses(program)
        once = [b for b in program.blocks if count[id(b)] <= 1]
        if not once:
            return
        block = once[0]
        program.blocks.remove(block)
        for seq in chains(program):
            _inline(seq.terms, block)
        for seq in chains(program):
            fold_repeats(seq.terms, hints)


def _inline(terms: list[Term], block: Block) -> None:
    for i in range(len(terms) - 1, -1, -1):
        call = terms[i]
        if isinstance(call, Call) and call.block is block:
            given = {id(p): a.val for p, a in zip(block.params, call.args)}
            terms[i:i + 1] = [rebuild(t, _substitute(given)) for t in block.body]


def _substitute(given: dict[int, Val]) -> Callable[[Hole], Hole]:
    """A hole of a block's body with the call's arguments put in for the parameters."""
    def fill(hole: Hole) -> Hole:
        v = hole.val
        if v.param is not None and id(v.param) in given:
            arg = given[id(v.param)]
            return hole.copy(Val(arg.param, arg.coef * v.coef))
        return hole.copy()
    return fill

"""Folding: sub-chains written alike (but for their numbers) become `def` blocks with
parameters, and runs of identical steps `( ... ) * N` (`printing.repeats`).

The search is greedy, largest saving first, over every chain of the program (the network,
merge branches, repetition and block bodies), in the manner of grammar compression
(Re-Pair), but with whole sub-chains rather than pairs, so that the blocks found are the
ones a person would name (a ResNet bottleneck, a MobileNet inverted residual), not
fragments. What a block saves is counted in characters, less what it costs: its own
text, a parameter (much more for a kernel, which makes look-alikes of different things),
and cutting a block out where its neighbours belong with it (`Hints`). The copies'
numbers decide the parameters (`printing.params`). Blocks used once in the end are
written out where they are used.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from .params import parameters
from .repeats import MAX_RUN, fold_repeats
from .terms import (
    Block,
    Call,
    Hints,
    Hole,
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
    rebuild,
)

BLOCK_COST = 40  # characters a block must save beyond its own text: a def is a new word
CUT_COST = 30  # a block that starts with, or leaves behind, a batch norm or activation
BOND_COST = 30  # per degree two neighbours belong together (`Hints.bond`), where cut
LOOSE_COST = 60  # per joint inside a block as loose as where it is cut out
MAX_ROUNDS = 200
# What a parameter costs, in characters: one for a kernel or a stride makes blocks of
# layers that only look alike (a 3x3 stem and a 1x1 expansion), so it must pay more.
PARAM_COST = {"k": 400, "s": 12}


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
        keys = [ids.setdefault(("opaque", id(t)) if hints.opaque(t) else key(t), len(ids))
                for t in seq.terms]
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
    columns = parameters(table)
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
        once = [b for b in program.blocks if count[id(b)] <= 1 and not b.pinned]
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

"""Runs of identical sub-chains as `( ... ) * N`: `(conv 3 x64 same relu) * 2`.

A run is the longest-covering one starting at each place, begun one step later where that
step finishes the one before it (`relu -> (block -> relu) * 2`, not `(relu -> block) * 2`).
"""

from __future__ import annotations

from .terms import Hints, Hole, Merge, Repeat, Term, const, first_node, rebuild, signature

MAX_RUN = 24  # the longest sub-chain (in steps) considered for a repetition or a block


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
    sigs = [("opaque", id(t)) if hints.opaque(t) else signature(t) for t in terms]
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

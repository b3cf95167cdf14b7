"""Laying terms out in lines: chains fill a line and continue with `-> `, a merge that
does not fit opens its braces and puts each branch on its own lines, as in
docs/language.md:

    -> add {
         conv 1/2 x128 -> bn
       | conv 3/2 x128 same -> bn -> relu -> conv 3 x128 same -> bn
       } -> relu
"""

from __future__ import annotations

from ...formatting.layout import WIDTH  # the width `cnndsl fmt` lays the text out to
from .terms import Leaf, Merge, Repeat, Term, chain_text, flat_text, word_text


def chain_lines(terms: list[Term], lead: str, indent: int,
                first_base: int | None = None) -> list[str]:
    """`terms` after `lead` (the text already on the first line); continuation lines
    start with `-> ` at column `indent`. A merge opened on the first line puts its `|`
    at `first_base` if given (a `def`'s body: column 2), else under its word."""
    lines: list[str] = []
    current = lead
    for n, term in enumerate(terms):
        joint = " -> " if n else ""
        flat = flat_text(term)
        if len(current) + len(joint) + len(flat) <= WIDTH:
            current += joint + flat
            continue
        if n and current.strip():
            lines.append(current)
            current = " " * indent + "-> "
            if len(current) + len(flat) <= WIDTH:
                current += flat
                continue
        else:
            current += joint
        opened = _open(term, current, indent, first_base if not lines else None)
        lines += opened[:-1]
        current = opened[-1]
    lines.append(current)
    return lines


def _open(term: Term, current: str, indent: int, base: int | None) -> list[str]:
    """A term too long for its line, spread over several; the last line is left open."""
    if isinstance(term, Merge):
        base = min(len(current), indent + 4) if base is None else base
        lines = [current + term.op + " {"]
        for n, branch in enumerate(term.branches):
            lead = " " * (base + 2) if n == 0 else " " * base + "| "
            lines += chain_lines(branch, lead, base + 2) if branch else [lead + "id"]
        suffix = "".join(" " + t for t in _suffix(term))
        return lines + [" " * base + "}" + suffix]
    if isinstance(term, Repeat):
        body = chain_lines(term.body, current + "(", len(current) + 1)
        body[-1] += f") * {term.count.val.text()}"
        return body
    return [current + flat_text(term)]


def _suffix(term: Merge) -> list[str]:
    return [t for t in (word_text(w) for w in term.suffix) if t]


def statement_lines(terms: list[Term], first: str, then: str) -> list[str]:
    """A block body with named tensors, a new line at each `@NAME` step or merge of
    named tensors (`first` leads the first line, `then` the others):

        relu -> conv 1 x{f} bias=false as a
        -> @prev -> relu -> conv 1 x{f} bias=false as b
        -> concat { @b | add { @a -> sepconv 3 x{f} same | @b } }
    """
    groups: list[list[Term]] = [[]]
    for t in terms:
        if groups[-1] and _restarts(t):
            groups.append([])
        groups[-1].append(t)
    lines = []
    for k, group in enumerate(groups):
        lines += chain_lines(group, first if k == 0 else then, 6)
    return lines


def _restarts(term: Term) -> bool:
    """`@NAME`, or a merge every branch of which starts from named tensors."""
    if isinstance(term, Leaf):
        return word_text(term.words[0]).startswith("@")
    return isinstance(term, Merge) and all(b and _restarts(b[0]) for b in term.branches)


__all__ = ["chain_lines", "chain_text", "statement_lines"]

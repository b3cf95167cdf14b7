"""Laying terms out in lines: chains fill a line and continue with `-> `, a merge that
does not fit opens its braces and puts each branch on its own lines, as in
docs/language.md:

    -> add {
         conv 1/2 x128 -> bn
       | conv 3/2 x128 same -> bn -> relu -> conv 3 x128 same -> bn
       } -> relu
"""

from __future__ import annotations

from .terms import Merge, Repeat, Term, chain_text, flat_text

WIDTH = 96


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
    from .terms import word_text

    return [t for t in (word_text(w) for w in term.suffix) if t]


__all__ = ["chain_lines", "chain_text"]

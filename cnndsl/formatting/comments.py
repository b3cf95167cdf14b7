"""Comments and blank lines put back around the formatted code.

A comment belongs to a token: an end-of-line comment to the token before it on its line,
an own-line comment to the token after it. It comes back beside that token wherever the
layout put it: at the end of the token's line, or on its own line(s) just above, indented
like that line. End-of-line comments on consecutive lines share one column, so a table
of shapes stays a table: the column where at least half of them can stay (see
`_aligned`); a longer line's comment two spaces after its code. A blank line stays (one,
however many there were) where the author left one before a line; none is added, none
at the start or the end of the file.

Nothing is dropped and the comments stay in order: should a line receive two end-of-line
comments (the author wrote one inside a step, which never breaks), the earlier goes on its
own line above it, as does one written before an own-line comment that goes above it.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field

from lark import Token

from .tree import later_line, rows, start


@dataclass
class _Line:
    code: str
    above: list[Token] = field(default_factory=list)  # own-line comments, in order
    after: list[Token] = field(default_factory=list)  # end-of-line comments


def place(code: list[str], line_of: list[int], tokens: list[Token],
          comments: list[Token]) -> str:
    """The whole file: `code` lines with the comments and blank lines of the source."""
    lines = [_Line(text) for text in code]
    trailing: list[Token] = []
    starts = [start(t) for t in tokens]
    for comment in comments:
        k = bisect_left(starts, start(comment))  # the first token after it
        before = tokens[k - 1] if k else None
        if before is not None and not later_line(before, comment):
            lines[line_of[k - 1]].after.append(comment)
        elif k < len(tokens):
            lines[line_of[k]].above.append(comment)
        else:
            trailing.append(comment)
    blank = _blank_before(tokens, comments)
    first = _first_tokens(line_of, len(lines))
    out: list[tuple[str, Token | None]] = []  # (code, end-of-line comment)

    def add(text: str, gap: bool, comment: Token | None = None) -> None:
        if gap and out and out[-1][0]:
            out.append(("", None))
        out.append((text, comment))

    for n, line in enumerate(lines):
        indent = " " * (len(line.code) - len(line.code.lstrip()))
        after = line.after[-1:]
        if after and any(start(c) > start(after[0]) for c in line.above):
            after = []  # it came before an own-line comment: it goes above too, in order
        above = sorted(line.above + line.after[:len(line.after) - len(after)],
                       key=start)
        for comment in above:
            add(indent + _text(comment), blank[("c", start(comment))])
        add(line.code, blank[("t", first[n])], after[0] if after else None)
    for comment in trailing:
        add(_text(comment), blank[("c", start(comment))])
    return "\n".join(_aligned(out)) + "\n"


def _column(comment: Token) -> int:
    """Where the author put a comment: its column, counted from 0."""
    assert comment.column is not None
    return comment.column - 1


def _text(comment: Token) -> str:
    return str(comment).rstrip()


def _blank_before(tokens: list[Token], comments: list[Token]) -> dict[tuple, bool]:
    """For each token and comment: whether a blank line separates it from what precedes
    it in the source (nothing precedes the first)."""
    marks: list[tuple[int, int, int, tuple]] = [
        (start(t), *rows(t), ("t", k)) for k, t in enumerate(tokens)]
    marks += [(start(c), *rows(c), ("c", start(c))) for c in comments]
    marks.sort()
    found: dict[tuple, bool] = {}
    last_line = None
    for _, line, end_line, key in marks:
        found[key] = last_line is not None and line - last_line >= 2
        last_line = end_line
    return found


def _first_tokens(line_of: list[int], count: int) -> list[int]:
    first = [-1] * count
    for k in range(len(line_of) - 1, -1, -1):
        first[line_of[k]] = k
    return first


def _aligned(lines: list[tuple[str, Token | None]]) -> list[str]:
    """End-of-line comments of consecutive lines in one column: the column at which at
    least half of them can stay (where their author put them, or two spaces after their
    code if that is further right), so that a table of shapes stays a table and one long
    line does not push all of it to the right. A comment whose code passes that column
    goes two spaces after its code. Formatting again finds the same column."""
    out = [code if comment is None else code + "  " + _text(comment) for code, comment in lines]
    n = 0
    while n < len(lines):
        end = n
        while end < len(lines) and lines[end][1] is not None:
            end += 1
        if end > n:
            wanted = sorted(max(len(code) + 2, _column(comment))
                            for code, comment in lines[n:end] if comment is not None)
            column = wanted[(len(wanted) - 1) // 2]
            for k in range(n, end):
                code, comment = lines[k]
                out[k] = code.ljust(max(column, len(code) + 2)) + _text(comment)  # type: ignore[arg-type]
        n = max(end, n + 1)
    return out

"""Offsets in a text and the editor's positions, and an old text's offsets in a new one.

The language counts characters and lines broken at `\\n`; an editor counts lines broken at
`\\n`, `\\r\\n` or `\\r` and columns in the code units it negotiated (UTF-16 unless told
otherwise). `normalise` makes the first agree with the second line for line, so an offset
in the analysed text and a position in the editor's convert through `Lines` alone.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

_BREAK = re.compile(r"\r\n?")


def normalise(text: str) -> str:
    """The editor's text as the language reads it: line breaks as `\\n`, a byte-order mark
    as a space (so that columns stay the editor's).

    >>> normalise("input 4\\r\\n-> dense 2\\r")
    'input 4\\n-> dense 2\\n'
    """
    if text.startswith("\ufeff"):
        text = " " + text[1:]
    return _BREAK.sub("\n", text) if "\r" in text else text


class Lines:
    """Where each line of a text starts, to convert offsets and positions both ways.

    >>> lines = Lines("input 6x6x1\\n  -> conv 3 x2  # é\\n")
    >>> lines.position(14), lines.offset(1, 2)
    ((1, 2), 14)
    >>> Lines("# é𝄞x", "utf-16").position(4), Lines("# é𝄞x", "utf-8").position(4)
    ((0, 5), (0, 8))
    """

    def __init__(self, text: str, encoding: str = "utf-16") -> None:
        self.text, self.encoding = text, encoding
        self.starts = [0]
        at = text.find("\n")
        while at >= 0:
            self.starts.append(at + 1)
            at = text.find("\n", at + 1)

    def __len__(self) -> int:
        return len(self.starts)

    def _units(self, part: str) -> int:
        if self.encoding == "utf-32" or part.isascii():
            return len(part)
        if self.encoding == "utf-8":
            return len(part.encode("utf-8", "surrogatepass"))
        return len(part.encode("utf-16-le", "surrogatepass")) // 2

    def line_end(self, line: int) -> int:
        """The offset of the end of `line` (0-based), before its line break."""
        return self.starts[line + 1] - 1 if line + 1 < len(self.starts) else len(self.text)

    def position(self, offset: int) -> tuple[int, int]:
        """The 0-based line and column (in code units) of a character offset."""
        offset = min(max(offset, 0), len(self.text))
        line = bisect_right(self.starts, offset) - 1
        return line, self._units(self.text[self.starts[line]:offset])

    def offset(self, line: int, column: int) -> int:
        """The character offset of a 0-based line and column in code units; a column past
        the line's end is its end, a line past the text's end the text's end."""
        if line < 0:
            return 0
        if line >= len(self.starts):
            return len(self.text)
        start, end = self.starts[line], self.line_end(line)
        part = self.text[start:end]
        if self.encoding == "utf-32" or part.isascii():
            return start + min(max(column, 0), len(part))
        units = 0
        for i, char in enumerate(part):
            if units >= column:
                return start + i
            units += self._units(char)
        return end

    def at(self, line: int, column: int) -> int:
        """The offset of a 1-based line and a 1-based column in characters, as the
        language's spans and the CLI count them."""
        if line > len(self.starts):
            return len(self.text)
        start = self.starts[max(line, 1) - 1]
        return min(start + max(column, 1) - 1, self.line_end(max(line, 1) - 1) + 1,
                   len(self.text))


@dataclass(frozen=True)
class Shift:
    """How an older text's offsets sit in a newer one: both share `head` characters at the
    start and a tail, which starts at `old_tail` in the old and `new_tail` in the new;
    what lies between was edited and has no counterpart.

    >>> s = Shift.between("input 4 -> dense 2", "input 4 -> relu -> dense 2")
    >>> s.to_new(11), s.to_new(16), s.to_old(19), s.to_old(13)
    (11, 24, 11, None)
    """

    head: int
    old_tail: int
    new_tail: int

    @staticmethod
    def between(old: str, new: str) -> Shift:
        if old == new:
            return Shift(len(old), len(old), len(new))
        head = _common(old, new, min(len(old), len(new)))
        tail = _common(old, new, min(len(old), len(new)) - head, backwards=True)
        return Shift(head, len(old) - tail, len(new) - tail)

    def to_new(self, offset: int) -> int | None:
        if offset <= self.head:
            return offset
        if offset >= self.old_tail:
            return offset - self.old_tail + self.new_tail
        return None

    def to_old(self, offset: int) -> int | None:
        if offset <= self.head:
            return offset
        if offset >= self.new_tail:
            return offset - self.new_tail + self.old_tail
        return None

    def region_to_new(self, start: int, end: int) -> tuple[int, int]:
        """An old region in the new text, an edited end moved to the edit's edge."""
        first = self.to_new(start)
        last = self.to_new(end)
        first = self.head if first is None else first
        last = self.new_tail if last is None else last
        return first, max(first, last)


def _common(a: str, b: str, most: int, backwards: bool = False) -> int:
    """The length of the longest common prefix (or suffix) of `a` and `b`, at most `most`,
    by bisection over slices compared in C: no Python loop over characters."""
    lo, hi = 0, most
    while lo < hi:
        mid = (lo + hi + 1) // 2
        same = (a[len(a) - mid:] == b[len(b) - mid:]) if backwards else a[:mid] == b[:mid]
        lo, hi = (mid, hi) if same else (lo, mid - 1)
    return lo

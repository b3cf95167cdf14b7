"""Nested regions of a text, each with its values, found by offset in O(log n + depth).

A network's steps nest (a merge holds its branches' steps, a block use its arguments) and
never partly overlap, so the regions are sorted once by start (outer before inner) and each
keeps its parent: the innermost region around an offset is the last one starting at or
before it, or the nearest of its ancestors that reaches past it. A region several values
share (a step in a block used three times made three layers) is one region.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Regions(Generic[T]):
    """Values by the region `(start, end)` of the text they come from.

    >>> r = Regions([((0, 20), "merge"), ((2, 8), "conv_1"), ((10, 18), "conv_2"),
    ...              ((10, 18), "conv_3")])
    >>> r.innermost(12), r.innermost(9), r.innermost(30)
    (((10, 18), ['conv_2', 'conv_3']), ((0, 20), ['merge']), None)
    >>> [region for region, _ in r.around(4)], r.get((2, 8))
    ([(2, 8), (0, 20)], ['conv_1'])
    """

    def __init__(self, items: Iterable[tuple[tuple[int, int], T]]) -> None:
        self.by_region: dict[tuple[int, int], list[T]] = {}
        for region, value in items:
            self.by_region.setdefault(region, []).append(value)
        self.regions = sorted(self.by_region, key=lambda r: (r[0], -r[1]))
        self.starts = [r[0] for r in self.regions]
        self.parents: list[int] = []
        open_: list[int] = []  # the regions around the one being placed
        for i, (start, _) in enumerate(self.regions):
            while open_ and self.regions[open_[-1]][1] <= start:
                open_.pop()
            self.parents.append(open_[-1] if open_ else -1)
            open_.append(i)

    def __len__(self) -> int:
        return len(self.regions)

    def get(self, region: tuple[int, int]) -> list[T]:
        """The values of exactly this region (none: an empty list)."""
        return self.by_region.get(region, [])

    def around(self, offset: int, closed: bool = False) -> Iterator[tuple[tuple[int, int],
                                                                           list[T]]]:
        """The regions holding the character at `offset`, innermost first; `closed`: an
        offset just past a region's end counts as in it (a cursor after a word)."""
        i = bisect_right(self.starts, offset) - 1
        while i >= 0:
            region = self.regions[i]
            if offset < region[1] or (closed and offset == region[1]):
                yield region, self.by_region[region]
            i = self.parents[i]

    def innermost(self, offset: int, closed: bool = False
                  ) -> tuple[tuple[int, int], list[T]] | None:
        return next(self.around(offset, closed), None)

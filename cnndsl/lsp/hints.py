"""Inlay hints: the output shapes of the steps that end on a line, after the line.

    input 28x28x1
      -> conv 3x3 x16 relu      # a comment            26x26x16
      -> maxpool 2 -> flatten                          13x13x16 → 2704

What the docs write as comments (`# 26x26x16`), the editor shows without anyone writing
or updating it. A step in a block used several times has a shape per use: the first
distinct ones are shown, `|` between them. A block use or a repetition is one step (its
output), and a step inside another that ends on the same line is left to it. Built once
per analysis, then found by line.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from ..layers.shapes import Shape, format_shape
from .document import Analysis

MAX_STEPS = 4  # steps ending on one line that are shown; before them, `…`
MAX_SHAPES = 2  # distinct shapes of one step (its uses) that are shown
ARROW = " → "


def line_hints(analysis: Analysis) -> tuple[list[int], list[tuple[int, str]]]:
    """Each line with a hint (sorted), and the hint: its offset (the end of the line's
    text) and its label."""
    memo = analysis.memo.get("hints")
    if memo is None:
        memo = analysis.memo["hints"] = _build(analysis)
    return memo


def hints(analysis: Analysis, first: int, last: int) -> list[tuple[int, str]]:
    """The hints of lines `first` to `last` (0-based, both included)."""
    lines, found = line_hints(analysis)
    return found[bisect_left(lines, first):bisect_right(lines, last)]


def _build(analysis: Analysis) -> tuple[list[int], list[tuple[int, str]]]:
    graph = analysis.graph
    if graph is None:
        return [], []
    starts = analysis.lines.starts
    per_line: dict[int, dict[tuple[int, int], list[Shape]]] = {}
    made = [(analysis.region(n), n.shape) for n in graph.nodes
            if n.kind not in ("input", "part")]
    made += [((g.span.start, g.span.end), graph.nodes[g.stop - 1].shape)
             for g in graph.groups if g.span]
    for (start, end), shape in made:
        line = bisect_right(starts, max(start, end - 1)) - 1
        per_line.setdefault(line, {}).setdefault((start, end), []).append(shape)
    lines, found = [], []
    for line in sorted(per_line):
        steps = per_line[line]
        ordered = sorted(_outermost(steps), key=lambda r: r[1])
        labels = [_shapes(steps[r]) for r in ordered]
        if len(labels) > MAX_STEPS:
            labels = ["…", *labels[-MAX_STEPS + 1:]]
        end = analysis.lines.line_end(line)
        text = analysis.text[analysis.lines.starts[line]:end]
        end -= len(text) - len(text.rstrip())
        lines.append(line)
        found.append((end, ARROW.join(labels)))
    return lines, found


def _outermost(regions) -> list[tuple[int, int]]:
    """The regions not inside another one: a branch's step ending on the line of its
    merge's end is the merge's business, a block use inside a repetition the
    repetition's."""
    kept: list[tuple[int, int]] = []
    for r in sorted(regions, key=lambda r: (r[0], -r[1])):
        if not any(k[0] <= r[0] and r[1] <= k[1] for k in kept):
            kept.append(r)
    return kept


def _shapes(shapes: list[Shape]) -> str:
    distinct = list(dict.fromkeys(shapes))
    shown = " | ".join(format_shape(s) for s in distinct[:MAX_SHAPES])
    return shown + (" | …" if len(distinct) > MAX_SHAPES else "")

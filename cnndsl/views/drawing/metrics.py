"""How much room text takes: one conservative rule, shared by the layout and the tests.

The SVG asks for a monospace font, whose glyphs are 0.6 em wide in the common ones
(DejaVu Sans Mono, Menlo, Consolas, Liberation Mono); 0.62 em leaves a margin, so a label
never runs out of its box whichever of them the viewer has.
"""

from __future__ import annotations

FONT_SIZE = 12
CHAR_WIDTH = 0.62 * FONT_SIZE
LINE_HEIGHT = 16
FONT_FAMILY = "DejaVu Sans Mono, Menlo, Consolas, Liberation Mono, monospace"


def text_width(text: str, size: float = FONT_SIZE) -> float:
    """The widest a line of `text` can render at `size` pixels."""
    return len(text) * 0.62 * size


def text_box(x: float, y: float, text: str, size: float = FONT_SIZE,
             anchor: str = "middle") -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of `text` drawn with its baseline at `y`: ascent 0.8 em
    above, descent 0.25 em below."""
    width = text_width(text, size)
    left = x - width / 2 if anchor == "middle" else x - width if anchor == "end" else x
    return left, y - 0.8 * size, left + width, y + 0.25 * size

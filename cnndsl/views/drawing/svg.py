"""The layout as SVG text: a rectangle and its centred lines per item, a polyline per edge.

Written by hand as text (with XML escaping) rather than through a library: the format
needs a dozen elements, and `draw` must stay free of dependencies. Each item is a
`<g class="item">` holding its `<title>` (the tooltip: name, kind, shape), its `<rect>`
and its `<text>` lines (two, and a third for a named tensor or an output); edges come
first so that boxes are drawn over them. Inputs and outputs have a heavier, coloured
outline and rounder corners (`<rect class="input">`, `class="output"`).
"""

from __future__ import annotations

from ...support.escaping import xml_attribute, xml_text
from ...support.util import no_gc
from .diagram import Item
from .layout import PAD_Y, Box, Layout, title
from .metrics import FONT_FAMILY, FONT_SIZE, LINE_HEIGHT

# Fill colours by layer kind: the kinds a reader looks for stand out, the rest are grey.
COLOURS = {"input": "#fff3c4", "conv": "#cfe3ff", "sepconv": "#cfe3ff", "dwconv": "#cfe3ff",
           "deconv": "#cfe3ff", "dense": "#ffd9b3", "maxpool": "#d4f2d4",
           "avgpool": "#d4f2d4", "gap": "#d4f2d4", "gmp": "#d4f2d4", "add": "#e8e8e8",
           "concat": "#e8e8e8", "mul": "#e8e8e8", "block": "#e6dcff",
           # version 3: rearranging
           "split": "#e8e8e8"}
DEFAULT_COLOUR = "#f7f7f7"
# The outline of the network's inputs and outputs, over their kind's fill.
ENDS = {"input": "#9a6700", "output": "#b3261e"}


def end(item: Item) -> str | None:
    """"input" or "output" for the items where the network starts or ends, else None."""
    return "input" if item.kind == "input" else "output" if item.output else None


def header(width: float, height: float, name: str) -> list[str]:
    """The opening of an SVG document of that size, its arrowhead and white background."""
    return [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family={xml_attribute(FONT_FAMILY)} '
        f'font-size="{FONT_SIZE}">',
        f"<title>{xml_text(name)}</title>",
        '<defs><marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#555"/></marker>'
        "</defs>",
        f'<rect class="background" width="{width:.0f}" height="{height:.0f}" fill="white"/>',
    ]


def text(x: float, y: float, content: str, extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}"{extra}>{xml_text(content)}</text>'


def svg(placed: Layout) -> str:
    with no_gc():
        return _svg(placed)


def _svg(placed: Layout) -> str:
    out = header(placed.width, placed.height, placed.diagram.name)
    out.append(text(16, 16 + LINE_HEIGHT, title(placed.diagram), ' font-weight="bold"'))
    out.append('<g class="edges" fill="none" stroke="#555" stroke-width="1.2">')
    for edge in placed.edges:
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in edge.points)
        dash = ' stroke-dasharray="4 3"' if edge.side else ""
        out.append(f'<polyline points="{points}" marker-end="url(#arrow)"{dash}/>')
    out.append("</g>")
    out.append('<g class="items" text-anchor="middle">')
    for box in placed.boxes:
        out.extend(_box(box))
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _box(box: Box) -> list[str]:
    item = box.item
    fill = COLOURS.get(item.kind, DEFAULT_COLOUR)
    tip = f"{item.name} ({item.kind}): {item.title}"
    role = end(item)
    # rx 12 leaves the text's corners inside the outline: the first baseline is 14 px down
    # and the text 8 px in (PAD_X), inside a circle of radius 12 about (12, 12).
    outline = (f'rx="12" stroke="{ENDS[role]}" stroke-width="2.5" class="{role}"' if role
               else 'rx="4" stroke="#333"')
    base = box.y + PAD_Y + LINE_HEIGHT - 4
    lines = [text(box.cx, base + k * LINE_HEIGHT, line,
                  "" if k == 0 else f' fill="{ENDS[role] if role and k == 2 else "#444"}"')
             for k, line in enumerate(item.lines)]
    return [f'<g class="item" id={xml_attribute("item-" + str(item.index))}>',
            f"<title>{xml_text(tip)}</title>",
            f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.w:.1f}" height="{box.h:.1f}" '
            f'fill="{fill}" {outline}/>',
            *lines,
            "</g>"]

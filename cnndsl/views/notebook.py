"""What a notebook shows for a network: the report's table beside its diagram, capped.

A Jupyter cell that ends with a network displays `_repr_html_`, which a notebook keeps
in its file and a browser renders in full. A 60,000-layer network of different layers
(no repeats to collapse) made 36 MB of HTML there, 13.7 MB of table and 22.5 MB of
diagram. So a notebook gets at most `report_html.MAX_ROWS` rows of the table (the first
and the last, a row between saying how many are left out) and at most `MAX_BOXES` boxes
of the diagram (the rest of the network drawn as one box saying how many layers it
holds); the caption, the title and the totals always count the whole network. What is
left out is a call away: `net.summary()` prints every row, `net.draw()` every box.
"""

from __future__ import annotations

from dataclasses import replace

from ..graph.analysis import Stats, analyse
from ..graph.ir import Graph
from .drawing import Diagram, describe

MAX_BOXES = 300  # the largest example, collapsed, is 52 boxes; 300 boxes are ~0.12 MB
COLLAPSE_PAST = 60  # layers: past this, each block use or repeat is drawn as one box


def html(graph: Graph) -> str:
    """The table beside the diagram, as one HTML fragment."""
    from .report_html import to_html

    stats = analyse(graph)
    picture = svg(graph, stats)
    picture = picture[picture.index("<svg"):]  # no XML declaration inside an HTML page
    # flex:none: a notebook's narrow output column must not squash the diagram (its text
    # would no longer fit its boxes); it scrolls instead.
    return (f'<div style="display:flex;gap:24px;align-items:flex-start;overflow-x:auto">'
            f"<div>{to_html(stats)}</div>"
            f'<div class="cnndsl-diagram" style="flex:none">{picture}</div></div>')


def svg(graph: Graph, stats: Stats | None = None) -> str:
    """The diagram, collapsed past COLLAPSE_PAST layers, at most MAX_BOXES boxes."""
    from .drawing.layout import layout
    from .drawing.svg import svg as write_svg

    diagram = describe(graph, stats or analyse(graph), collapse=len(graph) > COLLAPSE_PAST)
    return write_svg(layout(capped(diagram)))


def capped(diagram: Diagram, boxes: int = MAX_BOXES) -> Diagram:
    """`diagram` with its items past the first `boxes - 1` contracted into one box.

    The items are in topological order, so the rest of them is read only from before it
    and reads nothing after it: as one box, it keeps the picture acyclic, and its edges
    are the edges from the first items into the rest."""
    items = diagram.items
    if len(items) <= boxes:
        return diagram
    cut = boxes - 1
    rest = items[cut:]
    layers = sum(item.layers for item in rest)
    more = replace(rest[-1], index=cut, kind="block", home=-1, layers=layers, tensor=None,
                   output=any(item.output for item in rest),
                   title=f"… {layers:,} more layers (net.draw() draws all)",
                   name=f"{layers:,} more layers", params=sum(item.params for item in rest),
                   inputs=tuple(dict.fromkeys(i for item in rest for i in item.inputs
                                              if i < cut)))
    outputs = tuple(dict.fromkeys(min(o, cut) for o in diagram.outputs))
    return replace(diagram, items=(*items[:cut], more), outputs=outputs)

"""The feature-maps picture's page, worked out from the graph alone: which layers, how
many inches and pixels. NumPy and matplotlib are not imported here, so that `cnndsl maps`
can refuse a picture too big to draw in well under a second, before anything runs.
"""

from __future__ import annotations

from ...errors import did_you_mean, shown
from ...graph.ir import Node
from . import MAX_PIXELS, MAX_ROWS

CELL = 1.5  # inches per map
LABEL = 2.4  # inches for the layers' labels
GAP = 0.15  # inches between maps
ROW = CELL + 0.55  # a row: the channel's title, the map, its range under it
TOP = 0.9  # the picture's title
MARGIN = 0.2
DPI = 100
FORMATS = (".png", ".svg", ".pdf")


class LayerChoice(ValueError):
    """Layers or channels that cannot be drawn: a name the network does not have (`hint`
    names a close one), or more than a picture can hold."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


def page_size(rows: int, columns: int) -> tuple[float, float]:
    """The picture's width (at least the title's) and height in inches."""
    return max(LABEL + CELL * columns + MARGIN, 6.5), TOP + ROW * max(rows, 1)


def plan(graph, layers: list[str] | None, channels: int) -> tuple[list[Node], int]:
    """The layers to draw and how many were left out (past MAX_ROWS, when none were
    chosen): `LayerChoice` for a name the network does not have or a picture too big to
    draw. From the graph alone, so that it is answered before anything runs."""
    nodes = choose(graph, layers)
    left_out = 0
    if layers is None and len(nodes) > MAX_ROWS:
        nodes, left_out = nodes[:MAX_ROWS], len(nodes) - MAX_ROWS
    _check_size(nodes, channels)
    return nodes, left_out


def _check_size(nodes: list[Node], channels: int) -> None:
    """`LayerChoice` if the picture would be more pixels across or down than an image can
    be (matplotlib's Agg canvas stops at 2^16), or more in all than MAX_PIXELS."""
    columns = max([min(n.shape[-1], channels) if len(n.shape) > 1 else 1 for n in nodes]
                  + [1])
    width, height = (round(v * DPI) for v in page_size(len(nodes), columns))
    hint = "draw fewer layers (--layers A,B) or fewer channels (--channels C)"
    if max(width, height) >= 2**16:
        raise LayerChoice(f"the picture would be {width:,}x{height:,} pixels, over the "
                          f"limit of {2**16 - 1:,} each way", hint)
    if width * height > MAX_PIXELS:
        raise LayerChoice(f"the picture would be {width:,}x{height:,} pixels, "
                          f"{width * height:,} in all ({width * height * 4 / 2**30:,.1f} GiB "
                          f"to draw), over the limit of {MAX_PIXELS:,} (1 GiB)", hint)


def spatial(node: Node) -> bool:
    """Whether the output has spatial axes: (L, C), (H, W, C) or (D, H, W, C)."""
    return 2 <= len(node.shape) <= 4


def choose(graph, names: list[str] | None) -> list[Node]:
    """The nodes to draw, in network order; `LayerChoice` for a name it does not have."""
    if names is None:
        return [n for n in graph.nodes if spatial(n)]
    by_name = {n.name: n for n in graph.nodes}
    for name in names:
        if name not in by_name:
            close = did_you_mean(name, list(by_name))
            raise LayerChoice(f"the network has no layer named `{shown(name)}`",
                              f"did you mean `{close}`?" if close else
                              "`cnndsl shapes` lists the layers' names")
    wanted = set(names)
    return [n for n in graph.nodes if n.name in wanted]

"""Feature maps as a picture: each layer's output channels as grey images, one row per layer.

This is the lesson's picture: the 6x6 input, the 4x4 map each filter makes, the 2x2
pooled maps. Each map is scaled on its own (black its smallest value, white its largest,
the range written under it), because layers differ in range by orders of magnitude and a
common scale would leave most maps flat grey. A map of at most 8x8 also gets its values
written in the cells, so the numbers worked out by hand can be read off the picture.

Drawn with matplotlib (the `plot` extra), imported only here and only when a picture is
made, and used through `Figure` and its Agg canvas, never `pyplot`: no global backend is
chosen, no window opens, and a notebook's own matplotlib settings are left alone.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..errors import did_you_mean, shown
from ..ir import Node
from ..shapes import format_shape
from . import MAX_CHANNELS, MAX_ROWS

NUMBERS_UP_TO = 8  # maps at most this many cells high and wide get their values written
CELL = 1.5  # inches per map
LABEL = 2.4  # inches for the layers' labels
GAP = 0.15  # inches between maps
ROW = CELL + 0.65  # a row: the channel's title, the map, its range under it
TOP = 0.9  # the picture's title
MARGIN = 0.2
DPI = 100
FORMATS = (".png", ".svg", ".pdf")


class MissingExtra(ImportError):
    """matplotlib is not installed; `hint` says how to install it."""

    hint = "pip install 'cnndsl[plot]'"


class LayerChoice(ValueError):
    """A layer asked for that the network does not have; `hint` names a close one."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


@dataclass
class Row:
    """One layer's row: its node, the 2-D planes drawn, and what was left out."""

    node: Node
    planes: list[np.ndarray]
    channels: int  # the layer's channel count; more than len(planes) if capped
    note: str = ""


@dataclass
class Maps:
    """The picture: `figure` (a matplotlib `Figure`), `save(path)`, and inline display in
    Jupyter (`_repr_png_`). Each map's axes is labelled `LAYER/CHANNEL` (1-based)."""

    figure: Any
    rows: list[Row] = field(default_factory=list)
    left_out: int = 0  # layers not drawn because of MAX_ROWS

    def save(self, path: str | Path | BinaryIO, format: str | None = None) -> None:
        """Write the picture; the format is the file's suffix (png, svg, pdf) unless given."""
        self.figure.savefig(path, format=format, dpi=DPI)

    def _repr_png_(self) -> bytes:
        out = io.BytesIO()
        self.save(out, format="png")
        return out.getvalue()


def _figure_class():
    """matplotlib's `Figure` with the Agg canvas, or `MissingExtra`."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:
        raise MissingExtra("drawing feature maps needs matplotlib, which is not "
                           "installed") from e

    def make(**kwargs):
        figure = Figure(**kwargs)
        FigureCanvasAgg(figure)
        return figure
    return make


def require_matplotlib() -> None:
    """`MissingExtra` now, before a long run, if the picture could not be drawn after it."""
    _figure_class()


def picture(network, x, layers: list[str] | None = None,
            channels: int = MAX_CHANNELS) -> Maps:
    """The feature maps of one example `x` (no batch axis) through `network`.

    `layers` are names (the input's too, e.g. `input`); by default every layer whose
    output has spatial axes, the input first, at most `MAX_ROWS` of them."""
    make = _figure_class()
    nodes = choose(network.graph, layers)
    left_out = 0
    if layers is None and len(nodes) > MAX_ROWS:
        nodes, left_out = nodes[:MAX_ROWS], len(nodes) - MAX_ROWS
    outputs = network.run_layers(np.asarray(x))
    rows = [_row(node, outputs[node.name], channels) for node in nodes]
    return Maps(_draw(make, network.name, rows, left_out), rows, left_out)


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


def _row(node: Node, out: np.ndarray, channels: int) -> Row:
    """The planes of one layer's output: one per channel (the first `channels`)."""
    shape = node.shape
    if len(shape) == 1:  # a vector asked for by name: one strip
        return Row(node, [out[None, :]], 1)
    count = shape[-1]
    note = f"first {channels} of {count} channels" if count > channels else ""
    if len(shape) == 4:  # a volume: the middle slice of its depth
        depth = shape[0]
        out = out[depth // 2]
        note = "; ".join(filter(None, [f"depth slice {depth // 2 + 1} of {depth}", note]))
    if len(shape) == 2:  # a signal (L, C): each channel a strip
        out = out[None]
    return Row(node, [out[..., c] for c in range(min(count, channels))], count, note)


def _draw(make, name: str, rows: list[Row], left_out: int):
    """The figure: a column of labels, then a grid of maps, one row per layer.

    Every box is placed by arithmetic in inches (a fixed grid), not by a layout engine:
    matplotlib's constrained layout draws the figure twice and grows with the number of
    axes, many seconds for a ResNet's 600 maps."""
    columns = max([len(r.planes) for r in rows] + [1])
    width = max(LABEL + CELL * columns + MARGIN, 6.5)  # room for the title's lines
    height = TOP + ROW * max(len(rows), 1)
    figure = make(figsize=(width, height), dpi=DPI)
    title = f"{shown(name)}: feature maps of one example"
    if left_out:
        title += f" (the first {len(rows)} layers; {left_out} more left out)"
    figure.text(0.5, 1 - 0.15 / height, f"{title}\neach map is scaled on its own: black "
                "is its smallest value, white its largest,\nas written under it",
                ha="center", va="top", fontsize=10)
    side = CELL - GAP
    for r, row in enumerate(rows):
        bottom = height - TOP - ROW * r - 0.3 - side  # under the row: a title's height
        figure.text((LABEL - 0.15) / width, (bottom + side / 2) / height, _label(row),
                    ha="right", va="center", fontsize=9)
        for c, plane in enumerate(row.planes):
            axes = figure.add_axes(((LABEL + CELL * c) / width, bottom / height,
                                    side / width, side / height))
            _map(axes, plane, f"{row.node.name}/{c + 1}", row.channels > 1, c)
    return figure


def _label(row: Row) -> str:
    step = row.node.text if len(row.node.text) <= 28 else row.node.text[:27] + "…"
    lines = [shown(row.node.name), shown(step), format_shape(row.node.shape)]
    return "\n".join(lines + ([row.note] if row.note else []))


def _map(axes, plane: np.ndarray, label: str, titled: bool, c: int) -> None:
    """One channel as a grey image, its range under it, its values in it when small."""
    finite = plane[np.isfinite(plane)]  # a NaN or an infinity is drawn, not scaled by
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    flat = low == high  # one value throughout: mid grey
    axes.imshow(plane, cmap="gray", vmin=low - 1 if flat else low,
                vmax=high + 1 if flat else high, interpolation="nearest", aspect="equal")
    axes.set_label(label)
    axes.set_xticks([])
    axes.set_yticks([])
    if titled:
        axes.set_title(f"channel {c + 1}", fontsize=9)
    axes.set_xlabel(f"all {number(low)}" if flat else f"{number(low)} … {number(high)}",
                    fontsize=8)
    _numbers(axes, plane, low, high)


def _numbers(axes, plane: np.ndarray, low: float, high: float) -> None:
    """Each value written in its cell, white on dark and black on light, in a font small
    enough to fit the cell, or not at all if that would be too small to read."""
    height, width = plane.shape
    if height > NUMBERS_UP_TO or width > NUMBERS_UP_TO:
        return
    texts = [[number(float(v), digits=2) for v in row] for row in plane]
    widest = max(len(t) for row in texts for t in row)
    cell = (CELL - GAP) / max(height, width) * 72  # points
    size = min(11.0, cell * 0.8, cell / (0.62 * widest))  # a digit is about 0.6 em wide
    if size < 5.5:
        return
    middle = (low + high) / 2
    for (i, j), v in np.ndenumerate(plane):
        dark = low == high or v < middle
        axes.text(j, i, texts[i][j], ha="center", va="center", fontsize=size,
                  color="white" if dark else "black")


def number(v: float, digits: int = 3) -> str:
    """A value as written: whole numbers whole, others to `digits` significant figures.

    >>> number(3.0), number(-0.0), number(0.123456), number(1234567.0)
    ('3', '0', '0.123', '1.23e+06')
    """
    v += 0.0  # -0.0 -> 0.0
    if v.is_integer() and abs(v) < 1e5:
        return str(int(v))
    return f"{v:.{digits}g}"

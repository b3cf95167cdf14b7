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

from ...errors import MissingExtra, shown
from ...graph.ir import Node
from ...layers.shapes import format_shape
from . import MAX_CHANNELS
from .page import CELL, DPI, GAP, LABEL, ROW, TOP, page_size, plan

NUMBERS_UP_TO = 8  # maps at most this many cells high and wide get their values written


@dataclass
class Row:
    """One layer's row: its node, the 2-D planes drawn, and what was left out."""

    node: Node
    planes: list[np.ndarray]
    channels: int  # the layer's channel count; more than len(planes) if capped
    note: str = ""


@dataclass
class Drawn:
    """One map as drawn: its image, the range written under it, and the numbers written
    in its cells (rows of text artists; none when the map is too big for them)."""

    image: Any
    scale: Any
    numbers: list[list[Any]]


@dataclass
class Maps:
    """The picture: `figure` (a matplotlib `Figure`), `save(path)`, and inline display in
    Jupyter (`_repr_png_`); `drawn` is each map's artists by `LAYER/CHANNEL` (1-based)."""

    figure: Any
    rows: list[Row] = field(default_factory=list)
    left_out: int = 0  # layers not drawn because of MAX_ROWS
    drawn: dict[str, Drawn] = field(default_factory=dict)

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
                           "installed", "plot") from e

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
    nodes, left_out = plan(network.graph, layers, channels)
    outputs = network.run_layers(np.asarray(x))
    rows = [_row(node, outputs[node.name], channels) for node in nodes]
    figure, drawn = _draw(make, network.name, rows, left_out)
    return Maps(figure, rows, left_out, drawn)


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
    """The figure and its maps: a column of labels, then the maps, one row per layer.

    Everything is drawn on one page-sized axes whose units are inches, each map an image
    placed by arithmetic: an axes per map costs matplotlib some 20 ms to make (ticks,
    spines), ten seconds for a ResNet's 500 maps, and a layout engine more again."""
    width, height = page_size(len(rows), max([len(r.planes) for r in rows] + [1]))
    figure = make(figsize=(width, height), dpi=DPI)
    page = figure.add_axes((0, 0, 1, 1))
    page.set_axis_off()
    title = f"{shown(name)}: feature maps of one example"
    if left_out:
        title += f" (the first {len(rows)} layers; {left_out} more left out)"
    page.text(0.3, height - 0.15, f"{title}\neach map is scaled on its own: black is its "
              "smallest value,\nwhite its largest (as written under it)", ha="left",
              va="top", fontsize=10)
    side, drawn = CELL - GAP, {}
    for r, row in enumerate(rows):
        bottom = height - TOP - ROW * r - 0.3 - side  # under the row: a title's height
        page.text(LABEL - 0.15, bottom + side / 2, _label(row), ha="right", va="center",
                  fontsize=9)
        size = _number_size(row.planes, side)  # one size for the row, or no numbers
        for c, plane in enumerate(row.planes):
            title = f"channel {c + 1}" if row.channels > 1 else ""
            drawn[f"{row.node.name}/{c + 1}"] = _map(page, plane, (LABEL + CELL * c, bottom),
                                                     side, title, size)
    page.set_xlim(0, width)
    page.set_ylim(0, height)
    return figure, drawn


def _label(row: Row) -> str:
    step = row.node.text if len(row.node.text) <= 28 else row.node.text[:27] + "…"
    lines = [shown(row.node.name), shown(step), format_shape(row.node.shape)]
    return "\n".join(lines + ([row.note] if row.note else []))


def _map(page, plane: np.ndarray, at: tuple[float, float], side: float, title: str,
         size: float | None) -> Drawn:
    """One channel as a grey image in a `side`-inch square at `at` (its lower left), its
    title over it, its range under it, its values in it in a `size`-point font if given."""
    from matplotlib.patches import Rectangle

    finite = plane[np.isfinite(plane)]  # a NaN or an infinity is drawn, not scaled by
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    flat = low == high  # one value throughout: mid grey
    rows, cols = plane.shape
    cell = side / max(rows, cols)
    left, bottom = at[0] + (side - cols * cell) / 2, at[1] + (side - rows * cell) / 2
    top, middle = bottom + rows * cell, left + cols * cell / 2
    image = page.imshow(plane, cmap="gray", vmin=low - 1 if flat else low,
                        vmax=high + 1 if flat else high, interpolation="nearest",
                        extent=(left, left + cols * cell, bottom, top), aspect="auto")
    page.add_patch(Rectangle((left, bottom), cols * cell, rows * cell, fill=False,
                             linewidth=0.8, edgecolor="black"))
    if title:
        page.text(middle, top + 0.06, title, ha="center", va="bottom", fontsize=9)
    scale = page.text(middle, bottom - 0.06, f"all {number(low)}" if flat else
                      f"{number(low)} … {number(high)}", ha="center", va="top", fontsize=8)
    numbers = [] if size is None else _numbers(page, plane, (left, top), cell, size,
                                               (low, high))
    return Drawn(image, scale, numbers)


def _number_size(planes: list[np.ndarray], side: float) -> float | None:
    """The font size (points) that fits every value of these maps in its cell, or None if
    the maps are too big or that size would be too small to read."""
    if not planes or max(max(p.shape) for p in planes) > NUMBERS_UP_TO:
        return None
    points = side / max(max(p.shape) for p in planes) * 72  # a cell's width
    widest = max(len(number(float(v), digits=2)) for p in planes for v in p.flat)
    size = min(11.0, points * 0.5, points / (0.62 * widest))  # a digit is about 0.6 em
    return size if size >= 5.5 else None


def _numbers(page, plane: np.ndarray, corner: tuple[float, float], cell: float, size: float,
             scale: tuple[float, float]) -> list[list[Any]]:
    """Each value written in its cell (`corner` is the map's top left), white on dark and
    black on light."""
    low, high = scale
    out = []
    for i, row in enumerate(plane):
        out.append([page.text(corner[0] + (j + 0.5) * cell, corner[1] - (i + 0.5) * cell,
                              number(float(v), digits=2), ha="center", va="center",
                              fontsize=size, color="white" if low == high or
                              v < (low + high) / 2 else "black") for j, v in enumerate(row)])
    return out


def number(v: float, digits: int = 3) -> str:
    """A value as written: whole numbers whole, others to `digits` significant figures.

    >>> number(3.0), number(-0.0), number(0.123456), number(1234567.0)
    ('3', '0', '0.123', '1.23e+06')
    """
    v += 0.0  # -0.0 -> 0.0
    if v.is_integer() and abs(v) < 1e5:
        return str(int(v))
    return f"{v:.{digits}g}"

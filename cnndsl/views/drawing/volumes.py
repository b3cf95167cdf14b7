"""`--style volumes`: the lesson's picture, each tensor a 3-D box, left to right.

    input 6x6x1 -> conv 3x3/1 x2 -> maxpool 2     three volumes: 6x6x1, 4x4x2, 2x2x2

A volume's front face is as tall as the tensor's height and as wide as its channels,
and its receding side as deep as its width, all on a logarithmic scale so that 224 and
7 both stay visible (the LeNet and AlexNet figures draw them so). A vector is a thin
bar. Layers that keep their input's shape and read the one before (activations, batch
norm) draw no volume of their own: their names join the label of the volume before.

Every branch is drawn. The nesting `layout` uses (chains and forks) is turned on its
side: a chain is a row of volumes on one axis, a fork's branches are rows stacked
below that axis, joined again at the merge's volume; an `id` branch is a lane. Several
inputs are rows that meet where they are merged, several outputs rows that end apart.
Edges the nesting does not hold (a named tensor read across branches) are dashed
lines from one volume to the other. Inputs and outputs are coloured apart, and a
named tensor's or an output's label has a third line, as in the boxes style.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import log2

from ...layers.shapes import format_shape
from .diagram import Diagram, Item
from .layout import title
from .metrics import LINE_HEIGHT, text_width
from .nesting import Chain, Step, nest
from .svg import ENDS, end, header, text

GAP = 28  # between the volumes of a row
FAN = 24  # before a fork's rows and after them: room for the lines that part and join
ROW_GAP = 18  # between the rows of a fork
LANE = 10  # the height of an `id` branch
LABEL = 24  # from the bottom of a row's tallest volume to its labels' first baseline
MARGIN = 16
SLANT = 0.55  # how far the receding side goes right (and up) per pixel of depth
MAX_KINDS = 30  # characters of the label that lists the layers
# (side, top, front) fills: inputs amber, outputs red, the rest blue, as the boxes style.
FILLS = {None: ("#8fb3e0", "#c4d9f2", "#a9c6ea"), "input": ("#e3bf63", "#f6e4b0", "#eed38f"),
         "output": ("#e59a90", "#f7d0ca", "#eeb3aa")}


def spatial(n: int) -> float:
    return 10 + 12 * log2(max(n, 1))


def thickness(channels: int) -> float:
    return 4 + 5 * log2(max(channels, 1))


@dataclass
class Volume:
    """Consecutive items of one shape, drawn as one box; its place once placed."""

    items: list[Item]
    x: float = 0.0
    axis: float = 0.0

    @property
    def geometry(self) -> tuple[float, float, float]:
        return _geometry(self.items[0].shape)

    @property
    def body(self) -> float:
        t, _, d = self.geometry
        return t + d * SLANT

    @property
    def lines(self) -> list[str]:
        return _label(self.items)

    @property
    def width(self) -> float:
        return max(self.body, max(text_width(s) for s in self.lines))

    @property
    def left(self) -> float:  # of the box, centred in its column
        return self.x + (self.width - self.body) / 2


@dataclass
class Split:
    """A fork: its branches as rows, top to bottom, and the volume they merge into."""

    rows: list[Row]
    merge: Volume | None
    lanes: list[bool]  # which rows are `id` branches


@dataclass
class Row:
    """Volumes and forks on one axis; `up`, `down` and `width` once measured."""

    elements: list[Volume | Split] = field(default_factory=list)
    up: float = 0.0
    down: float = 0.0
    width: float = 0.0


class _Picture:
    def __init__(self, diagram: Diagram) -> None:
        self.items = diagram.items
        self.sink = len(self.items)
        self.volume_of: dict[int, Volume] = {}
        self.drawn: set[tuple[int, int]] = set()
        self.body: list[str] = []

    # -- from the nesting to rows ---------------------------------------------------------
    def row(self, chain: Chain) -> Row:
        out = Row()
        for element in chain.elements:
            if isinstance(element, Step):
                self.add(out, self.items[element.item])
                continue
            rows = [self.row(b) for b in element.branches]
            lanes = [not b.elements and b.end == element.fork for b in element.branches]
            keep = [k for k, r in enumerate(rows) if r.elements or lanes[k]]
            merge = Volume([self.items[element.item]]) if element.item < self.sink else None
            if merge is not None:
                self.volume_of[element.item] = merge
            out.elements.append(Split([rows[k] for k in keep], merge, [lanes[k] for k in keep]))
        return out

    def add(self, row: Row, item: Item) -> None:
        last = row.elements[-1] if row.elements else None
        if isinstance(last, Split):
            last = last.merge
        if (last is not None and last.items[-1].shape == item.shape and item.kind != "input"
                and last.items[-1].index in item.inputs and not last.items[-1].output):
            last.items.append(item)
            self.drawn.add((last.items[-2].index, item.index))
        else:
            last = Volume([item])
            row.elements.append(last)
        self.volume_of[item.index] = last

    # -- measuring: extents above and below a row's axis ----------------------------------
    def drop(self, row: Row) -> float:
        """Half the tallest volume on the row's axis: where its labels start."""
        halves = [0.0]
        for e in row.elements:
            if isinstance(e, Volume):
                halves.append(e.geometry[1] / 2)
            else:
                if e.merge is not None:
                    halves.append(e.merge.geometry[1] / 2)
                if e.rows:
                    halves.append(self.drop(e.rows[0]))
        return max(halves)

    def measure(self, row: Row, drop: float | None = None) -> float:
        """Fills in the row's extents (and its forks'); returns its drop."""
        if drop is None:
            drop = self.drop(row)
        if not row.elements:
            row.up, row.down, row.width = 0.0, float(LANE), 0.0
            return drop
        up, down, width = 0.0, 0.0, 0.0
        for e in row.elements:
            if isinstance(e, Volume):
                ups, downs, w = [_up(e)], [drop + _below(e)], e.width
            else:
                y = 0.0
                ups, downs = [], []
                for k, sub in enumerate(e.rows):
                    self.measure(sub, drop if k == 0 else None)
                    if k:
                        y += e.rows[k - 1].down + ROW_GAP + sub.up
                    ups.append(sub.up - y)
                    downs.append(y + sub.down)
                w = 2 * FAN + max((r.width for r in e.rows), default=0.0)
                if e.merge is not None:
                    ups.append(_up(e.merge))
                    downs.append(drop + _below(e.merge))
                    w += e.merge.width
            up, down = max(up, *ups), max(down, *downs)
            width += w + GAP
        row.up, row.down, row.width = up, down, width - GAP
        return drop

    # -- placing and drawing ---------------------------------------------------------------
    def place(self, row: Row, x: float, axis: float, drop: float,
              src: tuple[float, Item] | None) -> tuple[float, Item] | None:
        """Draws the row from `x`; `src` is where its first element is fed from (the right
        edge on this axis, and the item). Returns the same for what follows it."""
        for e in row.elements:
            if isinstance(e, Volume):
                self.volume(e, x, axis, drop)
                if src is not None:
                    self.arrow([(src[0], axis), (e.left - 2, axis)], src[1], e.items[0])
                src = (e.left + e.body, e.items[-1])
                x += e.width + GAP
            else:
                src = self.split(e, x, axis, drop, src)
                x += 2 * FAN + max((r.width for r in e.rows), default=0.0) + GAP
                if e.merge is not None:
                    x += e.merge.width
        return src

    def split(self, e: Split, x: float, axis: float, drop: float,
              src: tuple[float, Item] | None) -> tuple[float, Item] | None:
        """A fork's rows below one another, fed from `src` if it reads it, and joined at
        the merge's volume; returns where what follows is fed from."""
        fan, join = x + FAN / 2, x + 1.5 * FAN + max((r.width for r in e.rows), default=0.0)
        ends: list[tuple[float, float, Item]] = []
        y = axis
        for k, sub in enumerate(e.rows):
            if k:
                y += e.rows[k - 1].down + ROW_GAP + sub.up
            first = sub.elements[0] if sub.elements else None
            fed = src is not None and (not isinstance(first, Volume)
                                       or src[1].index in first.items[0].inputs)
            if src is not None and fed:
                self.line([(src[0], axis), (fan, axis), (fan, y)])
            if e.lanes[k]:
                if src is not None:
                    ends.append((fan, y, src[1]))
                continue
            done = self.place(sub, x + FAN, y, drop if k == 0 else self.drop(sub),
                              (fan, src[1]) if src is not None and fed else None)
            if done is not None:
                ends.append((done[0], y, done[1]))
        if e.merge is None:
            return None
        merge = e.merge
        self.volume(merge, join + FAN / 2, axis, drop)
        for px, py, item in ends:
            self.arrow([(px, py), (join, py), (join, axis), (merge.left - 2, axis)],
                       item, merge.items[0])
        return (merge.left + merge.body, merge.items[-1])

    def volume(self, v: Volume, x: float, axis: float, drop: float) -> None:
        v.x, v.axis = x, axis
        t, h, d = v.geometry
        role = _role(v)
        self.body.extend(_cuboid(v.left, axis - h / 2, t, h, d, role))
        for k, line in enumerate(v.lines):
            colour = "" if k == 0 else f' fill="{ENDS[role] if role and k == 2 else "#444"}"'
            self.body.append(text(x + v.width / 2, axis + drop + LABEL + k * LINE_HEIGHT,
                                  line, ' text-anchor="middle"' + colour))

    def arrow(self, points: list[tuple[float, float]], src: Item, dst: Item) -> None:
        """An edge the nesting holds, if `dst` reads `src` (else a side edge draws it)."""
        if src.index in dst.inputs:
            self.drawn.add((src.index, dst.index))
            self.line(points, ' marker-end="url(#arrow)"')

    def line(self, points: list[tuple[float, float]], extra: str = "") -> None:
        listed = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        self.body.append(f'<polyline points="{listed}" fill="none" stroke="#888"{extra}/>')

    def side_edges(self) -> None:
        """The edges no row or fork drew: dashed, straight from volume to volume."""
        for item in self.items:
            for src in item.inputs:
                a, b = self.volume_of[src], self.volume_of[item.index]
                if a is b or (src, item.index) in self.drawn:
                    continue
                self.line([(a.left + a.body, a.axis), (b.left - 2, b.axis)],
                          ' stroke-dasharray="4 3" marker-end="url(#arrow)"')


def volumes_svg(diagram: Diagram) -> str:
    picture = _Picture(diagram)
    top = picture.row(nest(diagram))
    drop = picture.measure(top)
    axis = MARGIN + 2 * LINE_HEIGHT + top.up
    picture.place(top, MARGIN, axis, drop, None)
    picture.side_edges()
    heading = title(diagram)
    width = max(top.width + 2 * MARGIN, text_width(heading) + 2 * MARGIN)
    height = axis + top.down + MARGIN
    out = header(width, height, diagram.name)
    out.append(text(MARGIN, MARGIN + LINE_HEIGHT, heading, ' font-weight="bold"'))
    out.extend(picture.body)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _up(v: Volume) -> float:
    _, h, d = v.geometry
    return h / 2 + d * SLANT


def _below(v: Volume) -> float:
    """From the row's drop to the bottom of the volume's last label line."""
    return LABEL + (len(v.lines) - 1) * LINE_HEIGHT + 4


def _role(v: Volume) -> str | None:
    return end(v.items[0]) if v.items[0].kind == "input" else end(v.items[-1])


def _geometry(shape: tuple[int, ...]) -> tuple[float, float, float]:
    """(thickness, height, depth) of a tensor's volume."""
    if len(shape) == 1:
        return 6.0, spatial(shape[0]), 0.0
    if len(shape) == 2:  # a sequence: length by channels
        return thickness(shape[1]), spatial(shape[0]), 8.0
    return thickness(shape[-1]), spatial(shape[-3]), spatial(shape[-2]) * 0.6


def _label(group: list[Item]) -> list[str]:
    kinds = ", ".join(dict.fromkeys(i.title.split()[0] if i.kind != "block" else i.title
                                    for i in group))
    lines = [format_shape(group[0].shape), _short(kinds)]
    mark = next((i.mark for i in reversed(group) if i.mark), None)
    return lines if mark is None else [*lines, _short(mark)]


def _short(text: str) -> str:
    return text if len(text) <= MAX_KINDS else text[:MAX_KINDS - 1] + "…"


def _cuboid(x: float, y: float, t: float, h: float, d: float, role: str | None) -> list[str]:
    """Front face, top and side of a box whose front-left-top corner is (x, y)."""
    dx, dy = d * SLANT, -d * SLANT
    front = f"{x:.1f},{y:.1f} {x + t:.1f},{y:.1f} {x + t:.1f},{y + h:.1f} {x:.1f},{y + h:.1f}"
    top = (f"{x:.1f},{y:.1f} {x + dx:.1f},{y + dy:.1f} {x + t + dx:.1f},{y + dy:.1f} "
           f"{x + t:.1f},{y:.1f}")
    side = (f"{x + t:.1f},{y:.1f} {x + t + dx:.1f},{y + dy:.1f} {x + t + dx:.1f},"
            f"{y + h + dy:.1f} {x + t:.1f},{y + h:.1f}")
    style = f'stroke="{ENDS[role]}" stroke-width="1.5"' if role else \
        'stroke="#335" stroke-width="1"'
    fills = FILLS[role]
    marked = f' class="{role}"' if role else ""
    return ['<g class="volume">',
            f'<polygon points="{side}" fill="{fills[0]}" {style}/>',
            f'<polygon points="{top}" fill="{fills[1]}" {style}/>',
            f'<polygon points="{front}" fill="{fills[2]}" {style}{marked}/>', "</g>"]


__all__ = ["volumes_svg"]

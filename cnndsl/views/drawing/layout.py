"""Boxes and edges with coordinates: a pure function of the diagram, in linear time.

    input -> conv -> add { id | conv -> bn } -> relu

is drawn top to bottom: a chain's elements stacked on one axis, a merge's branches side
by side under a fan-out point, joined again above the merge's box; an `id` branch is a
lane with a line down it. Each element is measured once (bottom-up) and placed once
(top-down), so the cost is proportional to the items and edges. Boxes of one chain lie
on its axis and branches own disjoint columns, so no two boxes or labels can overlap.
Edges the nesting does not hold (a named tensor read across branches) run down lanes to
the right of the picture.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from ...support.util import no_gc
from .diagram import Diagram, Item
from .metrics import LINE_HEIGHT, text_width
from .nesting import Chain, Fork, Step, nest

PAD_X, PAD_Y = 8, 6
GAP_Y = 26  # between the elements of a chain; the fan-out and fan-in zones too
GAP_X = 22  # between branches
LANE = 18  # an `id` branch
MARGIN = 16
HEADER = 2 * LINE_HEIGHT  # the title line above the picture
CROSS_GAP = 12  # between the lanes of side edges

Point = tuple[float, float]


@dataclass(frozen=True)
class Box:
    item: Item
    x: float
    y: float
    w: float
    h: float

    @property
    def cx(self) -> float:
        return self.x + self.w / 2


@dataclass(frozen=True)
class Edge:
    src: int
    dst: int
    points: tuple[Point, ...]
    side: bool = False  # routed beside the picture


@dataclass
class Layout:
    diagram: Diagram
    width: float
    height: float
    boxes: list[Box]
    edges: list[Edge] = field(default_factory=list)


def box_size(item: Item) -> tuple[float, float]:
    lines = item.lines
    return (max(text_width(t) for t in lines) + 2 * PAD_X,
            len(lines) * LINE_HEIGHT + 2 * PAD_Y)


def layout(diagram: Diagram) -> Layout:
    """Every item's box and every edge's polyline."""
    with no_gc():  # many small objects, none cyclic: the collector would only cost time
        return _Placer(diagram).run()


class _Placer:
    def __init__(self, diagram: Diagram) -> None:
        self.diagram = diagram
        self.items = diagram.items
        self.sizes = [box_size(item) for item in self.items]
        self.size: dict[int, tuple[float, float]] = {}  # by id() of chain/fork
        self.boxes: list[Box | None] = [None] * len(self.items)
        self.edges: list[Edge] = []
        self.sink = len(self.items)

    def run(self) -> Layout:
        top = nest(self.diagram)
        w, h = self.measure(top)
        self.chain(top, MARGIN, MARGIN + HEADER, [], None)
        boxes = [b for b in self.boxes if b is not None]
        assert len(boxes) == len(self.items)
        width = w + 2 * MARGIN
        width = max(width, text_width(title(self.diagram)) + 2 * MARGIN)
        height = h + 2 * MARGIN + HEADER
        lanes = self.side_edges(boxes, w + MARGIN)
        return Layout(self.diagram, width + lanes * CROSS_GAP, height, boxes, self.edges)

    # -- measuring ------------------------------------------------------------------------
    def measure(self, element: Chain | Fork | Step) -> tuple[float, float]:
        if isinstance(element, Step):
            return self.sizes[element.item]
        if isinstance(element, Chain):
            if not element.elements:
                size: tuple[float, float] = (float(LANE), 0.0)
            else:
                parts = [self.measure(e) for e in element.elements]
                size = (max(p[0] for p in parts),
                        sum(p[1] for p in parts) + GAP_Y * (len(parts) - 1))
        else:
            parts = [self.measure(b) for b in element.branches]
            width: float = sum(p[0] for p in parts) + GAP_X * (len(parts) - 1)
            height: float = GAP_Y + max(p[1] for p in parts)
            if element.item < self.sink:
                mw, mh = self.sizes[element.item]
                width, height = max(width, mw), height + GAP_Y + mh
            size = (width, height)
        self.size[id(element)] = size
        return size

    # -- placing --------------------------------------------------------------------------
    def chain(self, chain: Chain, left: float, top: float, lead: list[Point],
              src: int | None) -> None:
        width = self.size[id(chain)][0]
        axis = left + width / 2
        y = top
        for element in chain.elements:
            w, h = self.size[id(element)] if not isinstance(element, Step) \
                else self.sizes[element.item]
            if isinstance(element, Step):
                self.step(element.item, axis - w / 2, y, lead, src)
                last = element.item
            else:
                self.fork(element, axis - w / 2, y, lead, src)
                last = element.item
            y += h + GAP_Y
            if last < self.sink:
                box = self.boxes[last]
                assert box is not None
                lead, src = [(box.cx, box.y + box.h)], last

    def step(self, item: int, x: float, y: float, lead: list[Point], src: int | None) -> None:
        w, h = self.sizes[item]
        self.boxes[item] = Box(self.items[item], x, y, w, h)
        if src is not None and src in self.items[item].inputs:
            self.edges.append(Edge(src, item, (*lead, (x + w / 2, y))))

    def fork(self, fork: Fork, left: float, top: float, lead: list[Point],
             src: int | None) -> None:
        width = self.size[id(fork)][0]
        junction = (left + width / 2, top)
        inner = sum(self.size[id(b)][0] for b in fork.branches) + GAP_X * (len(fork.branches)
                                                                           - 1)
        x = left + (width - inner) / 2
        branches_top = top + GAP_Y
        bottom = branches_top + max(self.size[id(b)][1] for b in fork.branches)
        ends: list[tuple[int, float]] = []  # (item, x of its column) for each branch
        fan = [*lead, junction] if src is not None else []
        for branch in fork.branches:
            bw = self.size[id(branch)][0]
            if branch.elements:
                self.chain(branch, x, branches_top, fan, src)
                ends.append((branch.end, x + bw / 2))
            elif branch.end == fork.fork:
                ends.append((-1, x + bw / 2))
            x += bw + GAP_X
        if fork.item >= self.sink:
            return
        mw, mh = self.sizes[fork.item]
        self.step(fork.item, left + (width - mw) / 2, bottom + GAP_Y, [], None)
        entry = (left + width / 2, bottom + GAP_Y)
        for end, column in ends:
            if end == -1:  # an `id` branch: down its lane from the fork
                if src == fork.fork:
                    self.edges.append(Edge(src, fork.item, (*fan, (column, branches_top),
                                                            (column, bottom), entry)))
                continue
            box = self.boxes[end]
            assert box is not None
            self.edges.append(Edge(end, fork.item, ((box.cx, box.y + box.h),
                                                    (box.cx, bottom), entry)))

    # -- the edges the nesting does not hold ----------------------------------------------
    def side_edges(self, boxes: list[Box], right: float) -> int:
        """Route every edge not yet drawn down a lane right of the picture; lanes are
        reused by edges whose spans do not overlap. Returns the number of lanes."""
        drawn: dict[tuple[int, int], int] = {}
        for edge in self.edges:
            drawn[edge.src, edge.dst] = drawn.get((edge.src, edge.dst), 0) + 1
        missing = []
        for item in self.items:
            for src in item.inputs:
                if drawn.get((src, item.index), 0):
                    drawn[src, item.index] -= 1
                else:
                    missing.append((src, item.index))
        spans = []
        for src, dst in missing:
            a, b = boxes[src], boxes[dst]
            ya, yb = a.y + a.h / 2, b.y + b.h / 2
            spans.append((min(ya, yb), max(ya, yb), src, dst))
        spans.sort()
        free: list[tuple[float, int]] = []  # (bottom of the last span, lane)
        lanes = 0
        for low, high, src, dst in spans:
            if free and free[0][0] < low - 4:
                _, lane = heapq.heappop(free)
            else:
                lane, lanes = lanes, lanes + 1
            heapq.heappush(free, (high, lane))
            x = right + CROSS_GAP * (lane + 1)
            a, b = boxes[src], boxes[dst]
            ya, yb = a.y + a.h / 2, b.y + b.h / 2
            self.edges.append(Edge(src, dst, ((a.x + a.w, ya), (x, ya), (x, yb),
                                              (b.x + b.w, yb)), side=True))
        return lanes


def title(diagram: Diagram) -> str:
    return (f"{diagram.name} · {diagram.layers:,} layers · {diagram.params:,} params")

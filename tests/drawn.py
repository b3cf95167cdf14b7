"""What an SVG drawn by cnndsl shows, read back from the SVG text alone (for the tests).

Boxes are the `<rect>`s (but the background) and each volume's polygons; a label's
extent is estimated from its position, font size and length with the conservative rule
the layout promises (cnndsl/views/drawing/metrics.py: at most 0.62 em a character).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from cnndsl.views.drawing.metrics import FONT_SIZE, text_box

NS = "{http://www.w3.org/2000/svg}"
Rect = tuple[float, float, float, float]  # left, top, right, bottom


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg.encode("utf-8"))


def boxes(root: ET.Element) -> list[Rect]:
    """Every drawn box: rectangles, and the bounding box of each volume's polygons."""
    out = []
    for rect in root.iter(f"{NS}rect"):
        if rect.get("class") == "background":
            continue
        x, y = float(rect.get("x", 0)), float(rect.get("y", 0))
        out.append((x, y, x + float(rect.get("width")), y + float(rect.get("height"))))
    for group in root.iter(f"{NS}g"):
        if group.get("class") == "volume":
            points = [tuple(map(float, p.split(","))) for poly in group.iter(f"{NS}polygon")
                      for p in poly.get("points").split()]
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            out.append((min(xs), min(ys), max(xs), max(ys)))
    return out


def labels(root: ET.Element) -> list[tuple[str, Rect]]:
    """Each `<text>`'s content and estimated extent (anchor inherited from its group)."""
    out = []

    def walk(element: ET.Element, anchor: str) -> None:
        anchor = element.get("text-anchor", anchor)
        if element.tag == f"{NS}text":
            size = float(element.get("font-size", FONT_SIZE))
            out.append((element.text or "", text_box(float(element.get("x")),
                                                     float(element.get("y")),
                                                     element.text or "", size, anchor)))
        for child in element:
            walk(child, anchor)

    walk(root, "start")
    return out


def overlapping(rects: list[Rect]) -> list[tuple[Rect, Rect]]:
    """Pairs that share area (touching edges do not count); a sweep along x."""
    found = []
    order = sorted(rects)
    active: list[Rect] = []
    for r in order:
        active = [a for a in active if a[2] > r[0] + 1e-6]
        for a in active:
            if a[1] < r[3] - 1e-6 and r[1] < a[3] - 1e-6:
                found.append((a, r))
        active.append(r)
    return found


def inside(inner: Rect, outer: Rect) -> bool:
    return (inner[0] >= outer[0] - 1e-6 and inner[1] >= outer[1] - 1e-6
            and inner[2] <= outer[2] + 1e-6 and inner[3] <= outer[3] + 1e-6)

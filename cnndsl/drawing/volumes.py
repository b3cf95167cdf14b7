"""`--style volumes`: the lesson's picture, each tensor a 3-D box, left to right.

    input 6x6x1 -> conv 3x3/1 x2 -> maxpool 2     three volumes: 6x6x1, 4x4x2, 2x2x2

A volume's front face is as tall as the tensor's height and as wide as its channels,
and its receding side as deep as its width, all on a logarithmic scale so that 224 and
7 both stay visible (the LeNet and AlexNet figures draw them so). A vector is a thin
bar. Layers that keep their input's shape (activations, batch norm, the adds of residual
blocks) draw no volume of their own: their names join the label of the volume before.

Branches: the picture follows the network's trunk, the top-level chain of the nesting
`layout` draws (a merge appears as its result, labelled with its kind); with several
inputs or outputs, the first branch of each is followed. The default style shows every
branch.
"""

from __future__ import annotations

from math import log2

from ..shapes import format_shape
from .diagram import Diagram, Item, clip
from .layout import title
from .metrics import LINE_HEIGHT, text_width
from .nesting import Chain, Step, nest
from .svg import header, text

GAP = 28
MARGIN = 16
SLANT = 0.55  # how far the receding side goes right (and up) per pixel of depth
MAX_KINDS = 30  # characters of the label that lists the layers


def spatial(n: int) -> float:
    return 10 + 12 * log2(max(n, 1))


def thickness(channels: int) -> float:
    return 4 + 5 * log2(max(channels, 1))


def trunk(diagram: Diagram) -> list[Item]:
    """The items along the top-level chain, a merge standing for its branches."""
    out: list[Item] = []
    sink = len(diagram.items)

    def follow(chain: Chain) -> None:
        for element in chain.elements:
            if isinstance(element, Step):
                out.append(diagram.items[element.item])
                continue
            if element.fork < 0 or element.item >= sink:  # several inputs or outputs
                follow(next(b for b in element.branches if b.elements))
            if element.item < sink:
                out.append(diagram.items[element.item])

    follow(nest(diagram))
    return out


def volumes_svg(diagram: Diagram) -> str:
    groups: list[list[Item]] = []
    for item in trunk(diagram):
        if groups and groups[-1][-1].shape == item.shape and item.kind != "input":
            groups[-1].append(item)
        else:
            groups.append([item])
    shapes = [_geometry(g[0].shape) for g in groups]
    labels = [_label(g) for g in groups]
    top = MARGIN + 2 * LINE_HEIGHT
    middle = top + max(h / 2 + d * SLANT for _, h, d in shapes)
    label_y = middle + max(h / 2 for _, h, _ in shapes) + GAP
    x: float = MARGIN
    body: list[str] = []
    previous_right = None
    for (t, h, d), lines in zip(shapes, labels):
        column = max(t + d * SLANT, max(text_width(s) for s in lines))
        left = x + (column - (t + d * SLANT)) / 2
        y = middle - h / 2
        if previous_right is not None:
            body.append(f'<line x1="{previous_right:.1f}" y1="{middle:.1f}" x2="{left - 2:.1f}" '
                        f'y2="{middle:.1f}" stroke="#888" marker-end="url(#arrow)"/>')
        body.extend(_cuboid(left, y, t, h, d))
        for k, line in enumerate(lines):
            body.append(text(x + column / 2, label_y + k * LINE_HEIGHT, line,
                             ' text-anchor="middle"' + (' fill="#444"' if k else "")))
        previous_right = left + t + d * SLANT
        x += column + GAP
    heading = title(diagram)
    width = max(x - GAP + MARGIN, text_width(heading) + 2 * MARGIN)
    height = label_y + 2 * LINE_HEIGHT + MARGIN
    out = header(width, height, diagram.name)
    out.append(text(MARGIN, MARGIN + LINE_HEIGHT, heading, ' font-weight="bold"'))
    out.extend(body)
    out.append("</svg>")
    return "\n".join(out) + "\n"


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
    return [format_shape(group[0].shape), clip(kinds)[:MAX_KINDS]]


def _cuboid(x: float, y: float, t: float, h: float, d: float) -> list[str]:
    """Front face, top and side of a box whose front-left-top corner is (x, y)."""
    dx, dy = d * SLANT, -d * SLANT
    front = f"{x:.1f},{y:.1f} {x + t:.1f},{y:.1f} {x + t:.1f},{y + h:.1f} {x:.1f},{y + h:.1f}"
    top = (f"{x:.1f},{y:.1f} {x + dx:.1f},{y + dy:.1f} {x + t + dx:.1f},{y + dy:.1f} "
           f"{x + t:.1f},{y:.1f}")
    side = (f"{x + t:.1f},{y:.1f} {x + t + dx:.1f},{y + dy:.1f} {x + t + dx:.1f},"
            f"{y + h + dy:.1f} {x + t:.1f},{y + h:.1f}")
    style = 'stroke="#335" stroke-width="1"'
    return ['<g class="volume">',
            f'<polygon points="{side}" fill="#8fb3e0" {style}/>',
            f'<polygon points="{top}" fill="#c4d9f2" {style}/>',
            f'<polygon points="{front}" fill="#a9c6ea" {style}/>', "</g>"]


__all__ = ["trunk", "volumes_svg"]

"""Pictures of a network, from its IR alone: no framework, no Graphviz, no third-party package.

`describe` turns a typed graph (and its statistics) into a `Diagram`: items with their
labels and inputs, one per layer or, collapsed, one per outermost block use. The writers
read that one description: `svg` lays it out (`layout`) and draws boxes and edges,
`volumes` draws the lesson's 3-D feature-map volumes, and `dot` and `mermaid` leave the
layout to Graphviz or to a Markdown renderer.
"""

from __future__ import annotations

from ...graph.analysis import analyse
from ...graph.ir import Graph
from .diagram import Diagram, describe

FORMATS = ("svg", "dot", "mermaid")
STYLES = ("boxes", "volumes")


def draw(graph: Graph, format: str = "svg", style: str = "boxes",
         collapse: bool = False) -> str:
    """The network drawn as text: SVG, Graphviz dot or Mermaid.

    `--style volumes` is a picture, not a graph description, so it is SVG only."""
    diagram = describe(graph, analyse(graph), collapse)
    if style == "volumes":
        if format != "svg":
            raise ValueError("the volumes style is drawn as SVG only")
        from .volumes import volumes_svg

        return volumes_svg(diagram)
    if format == "svg":
        from .layout import layout
        from .svg import svg

        return svg(layout(diagram))
    if format == "dot":
        from .dot import dot

        return dot(diagram)
    from .mermaid import mermaid

    return mermaid(diagram)


__all__ = ["FORMATS", "STYLES", "Diagram", "describe", "draw"]

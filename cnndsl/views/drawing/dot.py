"""The diagram as Graphviz dot, for those who lay it out with Graphviz themselves.

    digraph "seed" { n0 [label="input 6x6x1\\ninput · 6x6x1 · 0 params"]; n0 -> n1; ... }

No coordinates: Graphviz places the nodes. Blocks (collapsed) get a different fill;
inputs and outputs a heavier outline in the SVG's colours, and a named tensor or an
output a third line (`as label · output`).
"""

from __future__ import annotations

from ...support.escaping import dot_string
from .diagram import Diagram
from .svg import COLOURS, DEFAULT_COLOUR, ENDS, end


def dot(diagram: Diagram) -> str:
    out = [f"digraph {dot_string(diagram.name)} {{",
           "  rankdir=TB;",
           '  node [shape=box, style="rounded,filled", fontname="monospace", fontsize=10];',
           "  edge [color=\"#555555\"];"]
    for item in diagram.items:
        label = dot_string(item.lines)
        fill = COLOURS.get(item.kind, DEFAULT_COLOUR)
        role = end(item)
        outline = f', color="{ENDS[role]}", penwidth=2.5' if role else ""
        out.append(f'  n{item.index} [label={label}, fillcolor="{fill}"{outline}];')
    for item in diagram.items:
        for src in item.inputs:
            out.append(f"  n{src} -> n{item.index};")
    out.append("}")
    return "\n".join(out) + "\n"

"""The diagram as a Mermaid flowchart, which renders inside Markdown on the common
code-hosting sites (in a ```mermaid fence).

Labels are quoted; the characters Mermaid would read as syntax are written as its
entity codes (`escaping.mermaid_label`), lines joined with `<br/>`. Inputs and
outputs are stadiums (`n0(["..."])`) with the SVG's heavier coloured outline (the
classes `input` and `output`); a named tensor or an output has a third line.
"""

from __future__ import annotations

from ...support.escaping import mermaid_label
from .diagram import Diagram
from .svg import ENDS, end


def mermaid(diagram: Diagram) -> str:
    out = ["flowchart TB"]
    ends: dict[str, list[str]] = {"input": [], "output": []}
    for item in diagram.items:
        lines = "<br/>".join(mermaid_label(line) for line in item.lines)
        role = end(item)
        if role:
            ends[role].append(f"n{item.index}")
            out.append(f'  n{item.index}(["{lines}"])')
        else:
            out.append(f'  n{item.index}["{lines}"]')
    for item in diagram.items:
        for src in item.inputs:
            out.append(f"  n{src} --> n{item.index}")
    for role, nodes in ends.items():
        if nodes:
            out.append(f"  classDef {role} stroke:{ENDS[role]},stroke-width:3px")
            out.append(f"  class {','.join(nodes)} {role}")
    return "\n".join(out) + "\n"

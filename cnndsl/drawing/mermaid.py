"""The diagram as a Mermaid flowchart, which renders inside Markdown on the common
code-hosting sites (in a ```mermaid fence).

Labels are quoted; the characters Mermaid would read as syntax are written as its
entity codes (`escaping.mermaid_label`), lines joined with `<br/>`.
"""

from __future__ import annotations

from ..escaping import mermaid_label
from .diagram import Diagram


def mermaid(diagram: Diagram) -> str:
    out = ["flowchart TB"]
    for item in diagram.items:
        lines = "<br/>".join(mermaid_label(line) for line in item.lines)
        out.append(f'  n{item.index}["{lines}"]')
    for item in diagram.items:
        for src in item.inputs:
            out.append(f"  n{src} --> n{item.index}")
    return "\n".join(out) + "\n"

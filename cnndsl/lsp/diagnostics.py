"""The CLI's errors and warnings, as an editor shows them.

`cnndsl check` prints `FILE:LINE:COL: error: message`, notes and a hint; the editor gets
the same message at the same line and column (0-based there), its range the span the
CLI's caret and tildes mark, the hint as the message's second line and the notes after
it. Warnings come only with a graph, as on the command line, where an error stops
everything before them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import Diagnostic
from .document import Analysis

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Found:
    """One diagnostic: its region (character offsets), severity and message."""

    start: int
    end: int
    severity: str
    message: str


def diagnostics(analysis: Analysis) -> list[Found]:
    """Every error and warning `cnndsl check` gives for the analysed text."""
    if analysis.crash is not None:
        return [Found(0, 0, ERROR, f"internal error in cnndsl: {analysis.crash}\n"
                      "this is a bug in cnndsl; please report it with the file")]
    if analysis.error is not None:
        return [_found(analysis, analysis.error.diagnostic, ERROR)]
    graph = analysis.graph
    return [_found(analysis, w, WARNING) for w in (graph.warnings if graph else ())]


def _found(analysis: Analysis, d: Diagnostic, severity: str) -> Found:
    # The start is the CLI's LINE:COL; the range is as long as the span, at least one
    # character (an error at the end of the file marks where more was expected).
    start = analysis.lines.at(d.span.line, d.span.column)
    end = min(start + max(d.span.end - d.span.start, 1), len(analysis.text))
    lines = [d.message]
    if d.hint:
        lines.append(f"hint: {d.hint}")
    lines += [f"note: {n}" for n in d.notes]
    return Found(start, max(start, end), severity, "\n".join(lines))

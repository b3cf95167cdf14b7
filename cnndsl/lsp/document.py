"""One text analysed once per version, and a file open in the editor.

An `Analysis` is what `cnndsl check` computes (the syntax tree, then the typed graph, or
the error that stopped it), plus what answering by position needs, each built on first
use and kept: the statistics, the names, and the indexes of steps and block uses by their
regions. A `Document` holds the text the editor has now, analyses it once per version,
and keeps the last analysis that parsed and the last that compiled: while the text is
half-written, hover, the outline and the hints answer from those, their offsets carried
into the new text by a `Shift`.
"""

from __future__ import annotations

import logging
import re
import time
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import cached_property
from itertools import accumulate
from typing import Any

from ..errors import NOWHERE, CnnError
from ..graph.analysis import Stats, analyse
from ..graph.ir import Graph, Group, Node
from ..language.frontend import compile_tree, decode, parse_text
from ..syntax import ast
from .names import Names
from .positions import Lines, Shift, normalise
from .spans import Regions

log = logging.getLogger("cnndsl.lsp")
_CLOSE = re.compile(r"(?:\s|#[^\n]*)*\}")


@dataclass(eq=False)
class Analysis:
    """A text as `cnndsl check` reads it: `module` if it parsed, `graph` if it compiled,
    else `error`; `crash` if cnndsl itself failed on it (a bug, said as one)."""

    text: str
    lines: Lines
    version: int | None = None
    module: ast.Module | None = None
    graph: Graph | None = None
    error: CnnError | None = None
    crash: str | None = None
    memo: dict[str, Any] = field(default_factory=dict)  # what a feature built from it

    @cached_property
    def stats(self) -> Stats | None:
        return analyse(self.graph) if self.graph is not None else None

    @cached_property
    def names(self) -> Names | None:
        return Names(self.module, self.text) if self.module is not None else None

    @cached_property
    def steps(self) -> Regions[int]:
        """Each layer by the region of the step that made it (a step in a block used
        three times made three)."""
        nodes = self.graph.nodes if self.graph is not None else ()
        return Regions((self.region(n), n.index) for n in nodes)

    def region(self, node: Node) -> tuple[int, int]:
        """The offsets of the step that made `node`, a merge's through its `}`."""
        if node.layer.arity == "many":
            return self.closed(node.span.start, node.span.end)
        return node.span.start, node.span.end

    def closed(self, start: int, end: int) -> tuple[int, int]:
        """A merge's offsets through its `}`: its span ends with its last branch."""
        close = _CLOSE.match(self.text, end)
        return start, close.end() if close else end

    @cached_property
    def uses(self) -> Regions[Group]:
        """Each block use and repetition by the region of the use as written."""
        groups = self.graph.groups if self.graph is not None else ()
        return Regions(((g.span.start, g.span.end), g) for g in groups if g.span is not None)

    @cached_property
    def _sums(self) -> tuple[list[int], list[int]]:
        layers = self.stats.layers if self.stats is not None else ()
        return ([0, *accumulate(s.params for s in layers)],
                [0, *accumulate(s.macs for s in layers)])

    def totals(self, start: int, stop: int) -> tuple[int, int]:
        """The parameters and MACs of layers `start` to `stop - 1`, in O(1)."""
        params, macs = self._sums
        return params[stop] - params[start], macs[stop] - macs[start]

    @cached_property
    def _outer(self) -> tuple[list[int], list[Group]]:
        """The outermost groups, which never overlap, in order."""
        found: list[Group] = []
        groups = self.graph.groups if self.graph is not None else ()
        for g in sorted(groups, key=lambda g: (g.start, -g.stop)):
            if not found or g.start >= found[-1].stop:
                found.append(g)
        return [g.start for g in found], found

    def outer_use(self, node: int) -> Group | None:
        """The outermost block use or repetition that made layer `node`, if any."""
        starts, groups = self._outer
        i = bisect_right(starts, node) - 1
        return groups[i] if i >= 0 and node < groups[i].stop else None


def analysed(text: str, name: str = "model", version: int | None = None,
             encoding: str = "utf-16") -> Analysis:
    """`text` read as `cnndsl check` reads a file: never raises."""
    text = normalise(text)
    found = Analysis(text, Lines(text, encoding), version)
    try:
        if "\x00" in text:  # the CLI refuses it before parsing, with its own message
            decode(text.encode("utf-8", "surrogatepass"))
        found.module = parse_text(text)  # `compile_text`, keeping the tree it parses
        found.graph = compile_tree(found.module, text, name)
    except CnnError as e:
        found.error = e
    except RecursionError:
        found.error = CnnError("the network is nested too deeply to process", NOWHERE,
                               "merges, repeats and blocks nest at most 200 deep")
    except MemoryError:
        found.error = CnnError("out of memory", NOWHERE, "a smaller network")
    except Exception as e:  # noqa: BLE001 - a bug in cnndsl must not stop the server
        log.exception("internal error analysing version %s", version)
        found.crash = f"{type(e).__name__}: {e}"
    return found


class Document:
    """A file open in the editor: its text now, analysed once per version on demand."""

    def __init__(self, name: str, text: str, version: int | None = None,
                 encoding: str = "utf-16") -> None:
        self.name, self.encoding = name, encoding
        self.parsed: Analysis | None = None  # the last analysis with a syntax tree
        self.compiled: Analysis | None = None  # the last with a graph
        self._shifts: dict[int, Shift] = {}
        self.took = 0.0  # seconds the last analysis took
        self.update(text, version)

    def update(self, text: str, version: int | None) -> None:
        self.text, self.version = normalise(text), version
        self._current: Analysis | None = None
        self._lines: Lines | None = None
        self._shifts.clear()

    @property
    def lines(self) -> Lines:
        """The current text's lines (analysed or not yet)."""
        if self._current is not None:
            return self._current.lines
        if self._lines is None:
            self._lines = Lines(self.text, self.encoding)
        return self._lines

    @property
    def current(self) -> Analysis:
        """The analysis of the text as it is now, computed once per version."""
        if self._current is None:
            start = time.perf_counter()
            self._current = analysed(self.text, self.name, self.version, self.encoding)
            self.took = time.perf_counter() - start
            if self._current.module is not None:
                self.parsed = self._current
            if self._current.graph is not None:
                self.compiled = self._current
        return self._current

    def view(self, graph: bool) -> tuple[Analysis, Shift] | None:
        """The analysis to answer from, with a graph if `graph` else a syntax tree: the
        current one if it has it, else the last that had, and how its text's offsets
        sit in the current text."""
        now = self.current
        if (now.graph if graph else now.module) is not None:
            return now, Shift(len(now.text), len(now.text), len(now.text))
        old = self.compiled if graph else self.parsed
        if old is None:
            return None
        shift = self._shifts.get(id(old))
        if shift is None:
            shift = self._shifts[id(old)] = Shift.between(old.text, self.text)
        return old, shift

"""What hovering over a part of the text says, as Markdown.

- a step: its layer, with the `cnndsl shapes` row (output, memory, params, MACs, FLOPs,
  receptive field, in the report's number formats); a step in a block used several
  times made a layer per use: one row per use, or one row when all uses agree;
- a block use (`project(64, s=1)`, `stem`) or a repetition: what it expanded to, in
  total (layers, params, MACs, output shape), per use when it is itself repeated;
- a block's name after `def`: each use's totals;
- `@NAME` (or the NAME after `as`): where it is bound and its shape;
- `C` inside `{...}`: the channel count there.

Everything is found by offset through the analysis's indexes, never by a scan.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from ..graph.ir import Group
from ..language.blocks import use_span
from ..layers.shapes import Shape, format_shape
from ..syntax import ast
from ..views.report import human, output_bytes, short_bytes
from .document import Analysis
from .names import BLOCK, Binding, Names, Occurrence, region
from .spans import Regions

MAX_ROWS = 8  # uses listed one by one; the rest are counted
MAX_DEPTH = 32  # tensor parameters passed on through blocks that use blocks
MAX_SHAPES = 4096  # shapes gathered for one tensor parameter
Hover = tuple[str, tuple[int, int]]  # Markdown, and the region it is about


def hover(analysis: Analysis, offset: int) -> Hover | None:
    """The hover at `offset` of the analysed text, or None where there is nothing to say."""
    names = analysis.names
    found = names.at(offset) if names is not None else None
    if found is not None and offset < found.region[1] and names is not None:
        if found.role != BLOCK:
            return _tensor(analysis, names, found), found.region
        if found.region == _def_region(names, found) or analysis.graph is None:
            return _block(analysis, names, found), found.region
        # a use: its region, found below, holds its name
    if analysis.graph is None:
        return None
    channels = _channels(analysis, offset)
    if channels is not None:
        return channels, (offset, offset + 1)
    step, use = analysis.steps.innermost(offset), analysis.uses.innermost(offset)
    if use is not None and (step is None or _inside(use[0], step[0])):
        return _uses(analysis, use[1]), use[0]
    if step is not None:
        return _steps(analysis, step[1]), step[0]
    return None


def _inside(inner: tuple[int, int], outer: tuple[int, int]) -> bool:
    return outer[0] <= inner[0] and inner[1] <= outer[1]


def _def_region(names: Names, found: Occurrence) -> tuple[int, int] | None:
    """The region of `def NAME`'s name, to tell a definition from a use."""
    d = names.definitions.get(found.name)
    return region(d.name_span) if d is not None else None


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def _more(shown: int, total: int, what: str) -> str:
    return f"\n\n…and {total - shown:,} more {what}" if total > shown else ""


def _code(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    text = text if len(text) <= limit else text[:limit - 1] + "…"
    return "`" + text.replace("`", "'") + "`"


# -- steps ----------------------------------------------------------------------------
ROW = ("output", "memory", "params", "MACs", "FLOPs", "RF")


def _row(analysis: Analysis, index: int) -> list[str]:
    """A layer's `cnndsl shapes` row, from its output on."""
    assert analysis.stats is not None
    s = analysis.stats.layers[index]
    rf = "-" if s.receptive_field is None else str(s.receptive_field)
    return [format_shape(s.node.shape), short_bytes(output_bytes(s.node)), f"{s.params:,}",
            human(s.macs), human(s.flops), rf]


def _where(analysis: Analysis, index: int) -> str:
    """Which use of a block made layer `index`: the line of its outermost use."""
    group = analysis.outer_use(index)
    if group is None or group.span is None:
        return ""
    return f"line {group.span.line}"


def _written_at(analysis: Analysis, group: Group) -> str:
    """The line a use is written on and, if that is in a block, the line of the
    outermost use that made it."""
    line = f"line {group.span.line}" if group.span else ""
    outer = analysis.outer_use(group.start)
    if outer is not None and outer is not group and outer.span is not None:
        line += f", via {outer.span.line}"
    return line


def _steps(analysis: Analysis, indices: list[int]) -> str:
    assert analysis.graph is not None and analysis.stats is not None
    nodes = [analysis.graph.nodes[i] for i in indices]
    head = nodes[0]
    if len(nodes) == 1:
        return f"**{head.name}** {_code(head.text)}\n\n" + _table(ROW, [_row(analysis, head.index)])
    layers = analysis.stats.layers
    alike = len({(n.shape, layers[n.index].params, layers[n.index].macs,
                  layers[n.index].flops, str(layers[n.index].receptive_field))
                 for n in nodes}) == 1  # compared raw: only the rows shown are written
    written = analysis.text[head.span.start:head.span.end]
    title = f"{_code(written)}: {len(nodes):,} layers, one per use of the step"
    if alike:
        names = f"**{head.name}** … **{nodes[-1].name}**"
        return f"{title}, all alike ({names})\n\n" + _table(ROW, [_row(analysis, head.index)])
    shown = [[f"**{n.name}**", _where(analysis, n.index), *_row(analysis, n.index)]
             for n in nodes[:MAX_ROWS]]
    return (f"{title}\n\n" + _table(("layer", "use", *ROW), shown)
            + _more(len(shown), len(nodes), "uses"))


# -- block uses -----------------------------------------------------------------------
TOTALS = ("layers", "params", "MACs", "output")


def _totals(analysis: Analysis, group: Group) -> list[str]:
    assert analysis.graph is not None
    params, macs = analysis.totals(group.start, group.stop)
    out = analysis.graph.nodes[group.stop - 1].shape
    return [f"{group.stop - group.start:,}", f"{params:,}", human(macs), format_shape(out)]


def _uses(analysis: Analysis, groups: list[Group]) -> str:
    assert analysis.graph is not None
    head, nodes = groups[0], analysis.graph.nodes
    what = "repetition" if head.count > 1 or head.text.startswith("(") else "block use"
    title = f"**{what}** {_code(head.text)}"
    alike = len({(g.stop - g.start, analysis.totals(g.start, g.stop), nodes[g.stop - 1].shape)
                 for g in groups}) == 1
    if alike:
        each = f", the same in each of its {len(groups):,} uses" if len(groups) > 1 else ""
        return f"{title}{each}\n\n" + _table(TOTALS, [_totals(analysis, head)])
    shown = [[_where(analysis, g.start), *_totals(analysis, g)] for g in groups[:MAX_ROWS]]
    return (f"{title}, {len(groups):,} uses\n\n" + _table(("use", *TOTALS), shown)
            + _more(len(shown), len(groups), "uses"))


def _block(analysis: Analysis, names: Names, found: Occurrence) -> str:
    """`def NAME`: the block's signature and each use's totals."""
    d = names.definitions.get(found.name)
    if d is None:
        return f"block `{found.name}` is not defined in this file"
    params = ", ".join("@" * p.tensor + p.name
                       + (f"={analysis.text[p.default.span.start:p.default.span.end]}"
                          if p.default is not None else "") for p in d.params)
    title = f"**def** `{d.name}{f'({params})' if d.params else ''}`"
    uses = names.uses.get(d.name, [])
    if not uses:
        return f"{title}: never used"
    if analysis.graph is None:
        return f"{title}: used {len(uses):,} times"
    groups = [g for u in uses for g in analysis.uses.get(region(u.span))]
    rows = [[_written_at(analysis, g), *_totals(analysis, g)] for g in groups[:MAX_ROWS]]
    times = f"{len(groups):,} use" + ("s" if len(groups) != 1 else "")
    return (f"{title}: {times} in the network\n\n" + _table(("use", *TOTALS), rows)
            + _more(len(rows), len(groups), "uses"))


# -- named tensors --------------------------------------------------------------------
def _tensor(analysis: Analysis, names: Names, found: Occurrence) -> str:
    binding = names.binding(found)
    if binding is None:
        return f"`@{found.name}` is not bound here"
    line = analysis.lines.position(binding.region[0])[0] + 1
    if binding.how == "param":
        block = names.blocks[binding.scope].name
        where = f"a tensor parameter of block `{block}`, line {line}"
    else:
        step = binding.step
        span = use_span(analysis.text, step.span) if isinstance(step, ast.Call) else \
            step.span if step else None
        made = _code(analysis.text[span.start:span.end]) if span else ""
        where = f"bound at line {line} by {made}"
    text = f"**@{found.name}**: {where}"
    if analysis.graph is None:
        return text
    shapes = tensor_shapes(analysis, names, binding)
    return text + ("\n\n" + _shapes(shapes) if shapes else "\n\nnot in the network (left out)")


def _shapes(shapes: list[Shape]) -> str:
    counts = Counter(shapes)
    if len(counts) == 1:
        uses = f" (in each of {len(shapes):,} uses)" if len(shapes) > 1 else ""
        return f"shape `{format_shape(shapes[0])}`{uses}"
    parts = [f"`{format_shape(s)}` in {n:,} use{'s' * (n > 1)}"
             for s, n in list(counts.items())[:MAX_ROWS]]
    return "shape " + ", ".join(parts) + (", …" if len(counts) > MAX_ROWS else "")


def tensor_shapes(analysis: Analysis, names: Names, binding: Binding,
                  depth: int = 0) -> list[Shape]:
    """The shapes a bound name stands for, one per use of the scope it is bound in."""
    graph = analysis.graph
    if graph is None or depth > MAX_DEPTH:
        return []
    if binding.how == "param":
        out: list[Shape] = []
        for use in names.uses.get(names.blocks[binding.scope].name, []):
            if len(out) > MAX_SHAPES:  # blocks in blocks, each used many times
                break
            args = getattr(use.step, "args", ())
            arg = args[binding.param] if binding.param < len(args) else None
            passed = names.bindings.get((use.scope, getattr(arg, "name", "")))
            if passed is not None:
                out += tensor_shapes(analysis, names, passed, depth + 1)
        return out
    step = binding.step
    if isinstance(step, ast.Ref):  # `@a as b`
        passed = names.bindings.get((binding.scope, step.name))
        return tensor_shapes(analysis, names, passed, depth + 1) if passed else []
    if isinstance(step, ast.Repeat | ast.Call) or (isinstance(step, ast.Layer)
                                                    and step.word in names.definitions):
        span = use_span(analysis.text, step.span) if isinstance(step, ast.Call) else step.span
        return [graph.nodes[g.stop - 1].shape for g in analysis.uses.get(region(span))]
    return [graph.nodes[i].shape for i in analysis.steps.get(region(step.span))] \
        if step is not None else []


# -- C ----------------------------------------------------------------------------------
def _channels(analysis: Analysis, offset: int) -> str | None:
    """`C` inside `{...}`: the channels entering the step (or block use, or repetition)
    whose arguments it is in."""
    text = analysis.text
    if not (0 <= offset < len(text) and text[offset] == "C"):
        return None
    if _word_char(text, offset - 1) or _word_char(text, offset + 1):
        return None
    line_start = text.rfind("\n", 0, offset) + 1
    opened = text.rfind("{", line_start, offset)
    if opened < 0 or text.rfind("}", opened, offset) >= 0:
        return None
    assert analysis.graph is not None
    nodes = analysis.graph.nodes
    values = (_entering_default(analysis, offset)
              or _entering(analysis.steps, analysis.uses, offset, nodes))
    if not values:
        return None
    counts = Counter(values)
    if len(counts) == 1:
        uses = f", in each of its {len(values):,} uses" if len(values) > 1 else ""
        return f"`C` = **{values[0]:,}**: the channels entering here{uses}"
    parts = [f"**{c:,}** in {n:,} use{'s' * (n > 1)}" for c, n in counts.items()]
    return "`C`: the channels entering here: " + ", ".join(parts[:MAX_ROWS])


def _entering(steps: Regions[int], uses: Regions[Group], offset: int, nodes) -> list[int]:
    step, use = steps.innermost(offset), uses.innermost(offset)
    if use is not None and (step is None or _inside(use[0], step[0])):
        return [nodes[g.start].in_shapes[0][-1] for g in use[1] if nodes[g.start].in_shapes]
    if step is None:
        return []
    made = [nodes[i] for i in step[1]]
    return [n.in_shapes[0][-1] for n in made if len(n.in_shapes) == 1]


def _entering_default(analysis: Analysis, offset: int) -> list[int]:
    """`C` in a block parameter's default (`def se(c={C})`): it is read where the block is
    used, so the channels entering each use."""
    names, graph = analysis.names, analysis.graph
    if names is None or graph is None:
        return []
    for d in names.blocks:
        if any(p.default is not None and p.span.start <= offset < p.span.end
               for p in d.params):
            groups = [g for use in names.uses.get(d.name, ())
                      for g in analysis.uses.get((use.span.start, use.span.end))]
            nodes = graph.nodes
            return [nodes[g.start].in_shapes[0][-1] for g in groups if nodes[g.start].in_shapes]
    return []


def _word_char(text: str, at: int) -> bool:
    return 0 <= at < len(text) and (text[at].isalnum() or text[at] == "_")

"""The `cnndsl shapes` report: a table for people, JSON, Markdown and CSV for tools.

The table fits in 100 columns (long names and steps are shortened with `…`; the other
formats keep everything). It ends with the lesson of weight sharing: what fully
connected layers between the same sizes would cost.
"""

from __future__ import annotations

import csv
import io
import json
from fractions import Fraction
from math import prod

from ..errors import shown
from ..graph.analysis import BYTES_PER_VALUE, LayerStats, ReceptiveField, Stats
from ..layers.shapes import format_shape
from ..support.escaping import markdown_cell
from ..support.util import no_gc
from .outline import UNICODE, Glyphs, Row, outline

COLUMNS = ("#", "name", "step", "output", "memory", "params", "MACs", "FLOPs", "RF")
ALIGN = "><<<>>>><"
NAME, STEP = 1, 2
# Widths of the text columns; longer text is shortened with `…`. Number columns are as
# wide as their widest entry, never shortened. When a table is still wider than WIDTH
# (deep nesting, long shapes), the step column gives way first, then the name column, each
# down to SHRINK_TO.
TEXT_WIDTHS = {NAME: 22, STEP: 24, 3: 14, 8: 9}
WIDTH, SHRINK_TO = 100, 12
LEGEND = ("RF: receptive field, the input positions one output value sees per spatial "
          "dimension\n    (global: all of them; -: the input is a vector); memory: the "
          "layer's output,\n    float32, one example")
REFERENCE_LEGEND = ("@name: a branch reads a tensor shown on another row (an `id` branch: "
                    "its merge's\n    input, the shortcut)")


def figures(value: float) -> str:
    """A value of 1 to 999.4 to three significant figures, its zeros kept, so that every
    abbreviated number in a column has the same precision: 4.10, 96.0, 256.

    >>> figures(4.1), figures(96), figures(256.04), figures(9.996)
    ('4.10', '96.0', '256', '10.0')
    """
    digits = 2 if value < 9.995 else 1 if value < 99.95 else 0
    return f"{value:.{digits}f}"


def human(n: float) -> str:
    """A compact count, in powers of 1000: 288 -> '288', 115_605_504 -> '116M'; three
    significant figures, as the memory column's byte sizes.

    >>> human(288), human(1_234), human(96_000), human(256_000), human(115_605_504)
    ('288', '1.23K', '96.0K', '256K', '116M')
    >>> human(999_600), human(3_868_000_000)
    ('1.00M', '3.87G')
    """
    if n < 1000:
        return f"{n:g}" if isinstance(n, float) else str(n)
    value = float(n)
    for unit in ("K", "M", "G", "T"):
        value /= 1000
        if value < 999.5 or unit == "T":  # 999,600 is 1.00M, not 1000K
            return figures(value) + unit
    raise AssertionError("unreachable")


def exact(n: int) -> str:
    """A total as the report prints it: exact, and abbreviated beside it when that says
    something else (`4,089,184,256 (4.09G)`, but `368`, not `368 (368)`)."""
    short = human(n)
    return f"{n:,}" if short == str(n) else f"{n:,} ({short})"


def size_bytes(n: int) -> str:
    """A byte count in binary units.

    >>> size_bytes(440), size_bytes(553_430_176)
    ('440 B', '527.8 MiB')
    """
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def short_bytes(n: int) -> str:
    """A byte count in binary units, in at most 7 characters, for a table cell: three
    significant figures, as the MACs and FLOPs columns.

    >>> short_bytes(376), short_bytes(1_536), short_bytes(802_816), short_bytes(12_845_056)
    ('376B', '1.50KiB', '784KiB', '12.2MiB')
    """
    if n < 2**10:
        return f"{n}B"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 2**10
        if value < 1023.5 or unit == "TiB":  # 1023.98 KiB is 1.00MiB, not 1024KiB
            return figures(value) + unit
    raise AssertionError("unreachable")


def _clip(text: str, width: int, ellipsis: str = "…", keep: int = 0) -> str:
    """`text` in `width` characters; its first `keep` (tree lines) are never cut."""
    if len(text) <= width:
        return text
    return text[: max(width - len(ellipsis), keep)] + ellipsis


def _widths(cells: list[list[str]], align: str, text_widths: dict[int, int],
            budget: int | None) -> list[int]:
    """Each column's width: text columns capped, and shrunk (step, then name) to fit."""
    widths = []
    for col in range(len(align)):
        widest = max(len(row[col]) for row in cells)
        widths.append(min(widest, text_widths[col]) if col in text_widths else widest)
    for col in (STEP, NAME):
        over = sum(widths) + len(widths) - 1 - budget if budget else 0
        if over > 0 and col in text_widths:
            widths[col] = max(widths[col] - over, min(SHRINK_TO, widths[col]))
    return widths


def _grid(rows: list[tuple], align: str, text_widths: dict[int, int], *,
          budget: int | None = None, ellipsis: str = "…",
          leads: list[int] | None = None) -> list[str]:
    """Rows of cells as aligned lines: text columns clipped, number columns whole.
    `leads`: per row, how many leading characters of the name column never to cut."""
    cells = [[str(c) for c in row] for row in rows]
    widths = _widths(cells, align, text_widths, budget)
    lines = []
    for r, row in enumerate(cells):
        out = []
        for i, (cell, width) in enumerate(zip(row, widths)):
            if i in text_widths:
                keep = leads[r] if leads and i == NAME else 0
                cell = _clip(cell, width, ellipsis, keep)
            out.append(cell.rjust(width) if align[i] == ">" else cell.ljust(width))
        lines.append(" ".join(out).rstrip())
    return lines


def _rf(rf: ReceptiveField | None) -> str:
    return "-" if rf is None else str(rf)


def _ends(g) -> str:
    """`input 6x6x1 -> output 10`, or with several, each by the spec's name for it (the
    name `cnndsl run` reads and writes it under; JSON also gives its layer's)."""
    if g.single:
        return f"input {format_shape(g.input.shape)} -> output {format_shape(g.output.shape)}"

    def listed(ends) -> str:
        return ", ".join(f"{shown(name)} {format_shape(n.shape)}" for name, n in ends)
    return (f"inputs {listed(zip(g.input_names, g.input_nodes))} -> "
            f"outputs {listed(zip(g.output_names, g.output_nodes))}")


def _row(stats: Stats, row: Row) -> tuple:
    s = stats.layers[row.node]
    node = s.node
    if row.ref:
        return ("", f"{row.lead}@{node.name}", "id" if row.empty else "",
                format_shape(node.shape), "", "", "", "", "")
    return (node.index, row.lead + node.name, node.text, format_shape(node.shape),
            short_bytes(output_bytes(node)), f"{s.params:,}", human(s.macs),
            human(s.flops), _rf(s.receptive_field))


def table(stats: Stats, glyphs: Glyphs = UNICODE) -> str:
    """The human report (at most 100 columns wide), its rows the merge tree of `outline`."""
    with no_gc():  # a million small strings and tuples, none of them cyclic
        return _table(stats, glyphs)


def _table(stats: Stats, glyphs: Glyphs) -> str:
    g = stats.graph
    layers = "layer" if len(g) == 1 else "layers"
    tree = outline(g, glyphs)
    rows = [_row(stats, row) for row in tree]
    header, *body = _grid([COLUMNS, *rows], ALIGN, TEXT_WIDTHS, budget=WIDTH,
                          ellipsis=glyphs.ellipsis, leads=[0] + [len(r.lead) for r in tree])
    rule = "-" * max(len(line) for line in (header, *body))
    lines = [f"{shown(g.name)}: {len(g)} {layers}, {_ends(g)}", "", rule, header, rule,
             *body, rule, LEGEND]
    if any(r.ref for r in tree):
        lines.append(REFERENCE_LEGEND)
    trainable, frozen = stats.total("trainable"), stats.total("non_trainable")
    lines += [
        "",
        f"Total params:         {stats.params:,} ({size_bytes(stats.param_bytes)})",
        f"  trainable:          {trainable:,}",
        f"  non-trainable:      {frozen:,}",
        f"MACs:                 {exact(stats.total('macs'))}",
        f"FLOPs:                {exact(stats.total('flops'))}",
        f"Activation memory:    {size_bytes(stats.activation_bytes)} "
        "(float32, batch 1, every layer's output)",
    ]
    lines += _sharing(stats, glyphs.ellipsis)
    return "\n".join(lines)


def _sharing(stats: Stats, ellipsis: str) -> list[str]:
    convs = [s for s in stats.layers if s.dense_equivalent is not None]
    if not convs or stats.sharing_factor is None:
        return []
    rows = [("layer", "params", "as dense", "factor")]
    for s in convs:
        dense = s.dense_equivalent or 0
        rows.append((s.node.name, f"{s.params:,}", f"{dense:,}",
                     f"{dense / max(s.params, 1):,.0f}x"))
    lines = ["", "Weight sharing: a fully connected layer between the same input and output "
             "sizes", "would need these parameters instead of each convolution's:", "",
             *_grid(rows, "<>>>", {0: 16}, ellipsis=ellipsis)]
    lines.append(f"All convolutions: {stats.conv_params:,} params; as dense layers "
                 f"{stats.dense_equivalent:,} ({stats.sharing_factor:,.0f}x more)")
    return lines


def _rf_json(rf: ReceptiveField | None):
    if rf is None:
        return None
    return {"size": list(rf.size), "jump": [_num(j) for j in rf.jump], "global": rf.whole}


def _num(value: int | Fraction) -> int | float:
    return int(value) if value.denominator == 1 else float(value)


def _layer_json(s: LayerStats) -> dict:
    node = s.node
    return {
        "index": node.index, "name": node.name, "kind": node.kind, "step": node.text,
        "layer": node.layer.describe(), "inputs": [i for i in node.inputs],
        "line": node.span.line, "column": node.span.column,
        "output_shape": list(node.shape), "output_bytes": output_bytes(node),
        "params": s.params,
        "trainable_params": s.trainable, "non_trainable_params": s.non_trainable,
        "macs": s.macs, "flops": s.flops, "receptive_field": _rf_json(s.receptive_field),
        "dense_equivalent_params": s.dense_equivalent,
    }


def to_json(stats: Stats) -> str:
    """The machine-readable report (schema in docs/report.md)."""
    g = stats.graph
    doc = {
        "name": g.name,
        "input_shape": list(g.input.shape),
        "output_shape": list(g.output.shape),
        "inputs": [{"name": name, "layer": n.name, "shape": list(n.shape)}
                   for name, n in zip(g.input_names, g.input_nodes)],
        "outputs": [{"name": name, "layer": n.name, "shape": list(n.shape)}
                    for name, n in zip(g.output_names, g.output_nodes)],
        "layers": [_layer_json(s) for s in stats.layers],
        "total": {
            "params": stats.params, "trainable_params": stats.total("trainable"),
            "non_trainable_params": stats.total("non_trainable"),
            "macs": stats.total("macs"), "flops": stats.total("flops"),
            "param_bytes": stats.param_bytes, "activation_bytes": stats.activation_bytes,
            "conv_params": stats.conv_params,
            "dense_equivalent_params": stats.dense_equivalent,
            "weight_sharing_factor": stats.sharing_factor,
        },
        "conventions": {"dtype": "float32", "batch": 1,
                        "flops": "2 per MAC plus element-wise work; see docs/report.md"},
    }
    return dumps(doc)


def dumps(value, indent: str = "") -> str:
    """JSON indented by two spaces, with a list of numbers on one line.

    >>> print(dumps({"shape": [6, 6, 1], "rf": {"size": [3, 3]}, "inputs": []}))
    {
      "shape": [6, 6, 1],
      "rf": {
        "size": [3, 3]
      },
      "inputs": []
    }
    """
    inner = indent + "  "
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(k)}: {dumps(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{indent}}}"
    if isinstance(value, list) and value and not all(_is_number(v) for v in value):
        items = [inner + dumps(v, inner) for v in value]
        return "[\n" + ",\n".join(items) + f"\n{indent}]"
    return json.dumps(value, separators=(", ", ": "))


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def output_bytes(node) -> int:
    """The layer's output at float32, one example: what the table's memory column shows."""
    return prod(node.shape) * BYTES_PER_VALUE


def _flat_rows(stats: Stats):
    for s in stats.layers:
        yield (s.node.index, s.node.name, s.node.text, format_shape(s.node.shape), s.params,
               s.trainable, s.non_trainable, s.macs, s.flops, _rf(s.receptive_field),
               "" if s.dense_equivalent is None else s.dense_equivalent, output_bytes(s.node))


TEXT_COLUMNS = ("name", "step", "output", "receptive_field")
FLAT_HEADER = ("index", "name", "step", "output", "params", "trainable", "non_trainable",
               "macs", "flops", "receptive_field", "dense_equivalent", "output_bytes")


def to_csv(stats: Stats) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FLAT_HEADER)
    writer.writerows(_flat_rows(stats))
    return out.getvalue().rstrip("\n")


def to_markdown(stats: Stats) -> str:
    def cell(v) -> str:
        return f"{v:,}" if isinstance(v, int) else markdown_cell(v)

    g = stats.graph
    lines = [f"## {markdown_cell(g.name)}", "", "| " + " | ".join(FLAT_HEADER) + " |",
             "|" + "|".join("---" if h in TEXT_COLUMNS else "---:" for h in FLAT_HEADER) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in _flat_rows(stats)]
    lines += ["", f"**Total params:** {stats.params:,} ({stats.total('trainable'):,} "
              f"trainable, {stats.total('non_trainable'):,} non-trainable), "
              f"{size_bytes(stats.param_bytes)}  ",
              f"**MACs:** {stats.total('macs'):,}  ", f"**FLOPs:** {stats.total('flops'):,}  ",
              f"**Activation memory:** {size_bytes(stats.activation_bytes)}"]
    if stats.sharing_factor:
        lines.append(f"  \n**Weight sharing:** convolutions use {stats.conv_params:,} params; "
                     f"dense layers would need {stats.dense_equivalent:,} "
                     f"({stats.sharing_factor:,.0f}x)")
    return "\n".join(lines)


FORMATS = {"table": table, "json": to_json, "markdown": to_markdown, "csv": to_csv}

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

from .analysis import LayerStats, ReceptiveField, Stats
from .errors import shown
from .shapes import format_shape

COLUMNS = ("#", "name", "step", "output", "params", "MACs", "FLOPs", "RF")
ALIGN = "><<<>>><"
# Widths of the text columns; longer text is shortened with `…`. Number columns are as
# wide as their widest entry, never shortened: with ordinary numbers the table fits in
# 100 columns.
TEXT_WIDTHS = {1: 16, 2: 24, 3: 14, 7: 9}


def human(n: float) -> str:
    """A compact count: 288 -> '288', 115_605_504 -> '115.6M'.

    >>> human(288), human(1_234), human(115_605_504), human(3_868_000_000)
    ('288', '1.23K', '115.6M', '3.87G')
    """
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            value = n / scale
            return f"{value:.3g}{unit}" if value < 100 else f"{value:.1f}{unit}"
    return f"{n:g}" if isinstance(n, float) else str(n)


def size_bytes(n: int) -> str:
    """A byte count in binary units.

    >>> size_bytes(440), size_bytes(553_430_176)
    ('440 B', '527.8 MiB')
    """
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _grid(rows: list[tuple], align: str, text_widths: dict[int, int]) -> list[str]:
    """Rows of cells as aligned lines: text columns clipped, number columns whole."""
    cells = [[str(c) for c in row] for row in rows]
    widths = []
    for col in range(len(align)):
        widest = max(len(row[col]) for row in cells)
        widths.append(min(widest, text_widths[col]) if col in text_widths else widest)
    lines = []
    for row in cells:
        out = []
        for i, (cell, width) in enumerate(zip(row, widths)):
            cell = _clip(cell, width) if i in text_widths else cell
            out.append(cell.rjust(width) if align[i] == ">" else cell.ljust(width))
        lines.append(" ".join(out).rstrip())
    return lines


def _rf(rf: ReceptiveField | None) -> str:
    return "-" if rf is None else str(rf)


def _ends(g) -> str:
    """`input 6x6x1 -> output 10`, or with several, each by its layer's name."""
    if g.single:
        return f"input {format_shape(g.input.shape)} -> output {format_shape(g.output.shape)}"

    def listed(nodes) -> str:
        return ", ".join(f"{shown(n.name)} {format_shape(n.shape)}" for n in nodes)
    return (f"inputs {listed(g.input_nodes)} -> outputs {listed(g.output_nodes)}")


def table(stats: Stats) -> str:
    """The human report (at most 100 columns wide)."""
    g = stats.graph
    layers = "layer" if len(g) == 1 else "layers"
    rows = [(s.node.index, s.node.name, s.node.text, format_shape(s.node.shape),
             f"{s.params:,}", human(s.macs), human(s.flops), _rf(s.receptive_field))
            for s in stats.layers]
    header, *body = _grid([COLUMNS, *rows], ALIGN, TEXT_WIDTHS)
    rule = "-" * max(len(line) for line in (header, *body))
    lines = [f"{shown(g.name)}: {len(g)} {layers}, {_ends(g)}", "", rule, header, rule,
             *body, rule]
    trainable, frozen = stats.total("trainable"), stats.total("non_trainable")
    lines += [
        f"Total params:         {stats.params:,} ({size_bytes(stats.param_bytes)})",
        f"  trainable:          {trainable:,}",
        f"  non-trainable:      {frozen:,}",
        f"MACs:                 {stats.total('macs'):,} ({human(stats.total('macs'))})",
        f"FLOPs:                {stats.total('flops'):,} ({human(stats.total('flops'))})",
        f"Activation memory:    {size_bytes(stats.activation_bytes)} "
        "(float32, batch 1, every layer's output)",
    ]
    lines += _sharing(stats)
    return "\n".join(lines)


def _sharing(stats: Stats) -> list[str]:
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
             *_grid(rows, "<>>>", {0: 16})]
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
        "output_shape": list(node.shape), "params": s.params,
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
        "inputs": [{"name": n.name, "shape": list(n.shape)} for n in g.input_nodes],
        "outputs": [{"name": n.name, "shape": list(n.shape)} for n in g.output_nodes],
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
    return json.dumps(doc, indent=2)


def _flat_rows(stats: Stats):
    for s in stats.layers:
        yield (s.node.index, s.node.name, s.node.text, format_shape(s.node.shape), s.params,
               s.trainable, s.non_trainable, s.macs, s.flops, _rf(s.receptive_field),
               "" if s.dense_equivalent is None else s.dense_equivalent)


TEXT_COLUMNS = ("name", "step", "output", "receptive_field")
FLAT_HEADER = ("index", "name", "step", "output", "params", "trainable", "non_trainable",
               "macs", "flops", "receptive_field", "dense_equivalent")


def to_csv(stats: Stats) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FLAT_HEADER)
    writer.writerows(_flat_rows(stats))
    return out.getvalue().rstrip("\n")


def to_markdown(stats: Stats) -> str:
    def cell(v) -> str:
        return (f"{v:,}" if isinstance(v, int) else str(v)).replace("|", "\\|")

    g = stats.graph
    lines = [f"## {shown(g.name)}", "", "| " + " | ".join(FLAT_HEADER) + " |",
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

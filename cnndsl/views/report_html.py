"""The shapes report as an HTML table, for notebooks (`Network._repr_html_`).

The same rows and totals as the text table of `cnndsl.views.report`, numbers in full and right
aligned; every piece of text from the spec (names, steps) is escaped, so a layer named
`<script>` is shown as written and never run by the page.
"""

from __future__ import annotations

from ..graph.analysis import Stats
from ..layers.shapes import format_shape
from ..support.escaping import html_text
from .report import COLUMNS, exact, output_bytes, size_bytes

NUMBERS = {"#", "memory", "params", "MACs", "FLOPs"}  # right-aligned columns
# Jupyter right-aligns every table cell (with a selector of two classes and an element);
# names and steps read better from the left, so every cell has a class of its own.
STYLE = ("<style>table.cnndsl-report td, table.cnndsl-report th {padding: 1px 8px; "
         "font-family: monospace} table.cnndsl-report td.txt, table.cnndsl-report th.txt "
         "{text-align: left} table.cnndsl-report td.num, table.cnndsl-report th.num "
         "{text-align: right}</style>")


def _cells(s) -> tuple:
    """One layer's cells, in the order of the text table's COLUMNS."""
    rf = "-" if s.receptive_field is None else str(s.receptive_field)
    return (s.node.index, s.node.name, s.node.text, format_shape(s.node.shape),
            size_bytes(output_bytes(s.node)), f"{s.params:,}", f"{s.macs:,}", f"{s.flops:,}",
            rf)


def _row(cells, tag: str) -> str:
    out = []
    for column, cell in zip(COLUMNS, cells):
        kind = ' class="num"' if column in NUMBERS else ' class="txt"'
        out.append(f"<{tag}{kind}>{html_text(str(cell))}</{tag}>")
    return "<tr>" + "".join(out) + "</tr>"


# A notebook gets at most this many rows: the first and the last, and between them a row
# saying how many are left out. Every example (up to 782 layers) is shown whole, in about
# 0.2 MB; 60,000 layers were 13.7 MB of table, which a browser tab barely holds.
MAX_ROWS = 1_000
HEAD, TAIL = 750, 250


def to_html(stats: Stats, limit: int | None = MAX_ROWS) -> str:
    """A caption (name, layers), the per-layer table and the totals, as one HTML fragment;
    past `limit` rows (None: no limit), the first and the last with a note between them.
    The caption and the totals always count the whole network.

    >>> from cnndsl import compile_text, analyse
    >>> html = to_html(analyse(compile_text("input 6x6x1 -> conv 3x3 x2", "a<b")))
    >>> "a&lt;b" in html and '<td class="txt">conv 3x3 x2</td>' in html
    True
    """
    g = stats.graph
    head = _row(COLUMNS, "th")
    body = "\n".join(_body(stats.layers, limit))
    layers = "layer" if len(g) == 1 else "layers"
    ends = " -> ".join(", ".join(format_shape(n.shape) for n in nodes)
                       for nodes in (g.input_nodes, g.output_nodes))
    caption = f"{html_text(g.name)}: {len(g):,} {layers}, {ends}"
    macs = stats.total("macs")
    totals = (f"Total params: {stats.params:,} ({html_text(size_bytes(stats.param_bytes))}); "
              f"trainable {stats.total('trainable'):,}, non-trainable "
              f"{stats.total('non_trainable'):,}. MACs: {html_text(exact(macs))}. "
              f"Activation memory: {html_text(size_bytes(stats.activation_bytes))} "
              "(float32, batch 1).")
    return (f'{STYLE}<table class="cnndsl-report"><caption>{caption}</caption>\n'
            f"<thead>{head}</thead>\n<tbody>\n{body}\n</tbody></table>\n<p>{totals}</p>")


def _body(layers, limit: int | None) -> list[str]:
    """The rows of `layers`, or past `limit` the first and last with a note between."""
    if limit is None or len(layers) <= limit:
        return [_row(_cells(s), "td") for s in layers]
    head, tail = round(limit * HEAD / MAX_ROWS), round(limit * TAIL / MAX_ROWS)
    left_out = len(layers) - head - tail
    note = (f'<tr><td class="txt" colspan="{len(COLUMNS)}">… {left_out:,} more layers, '
            f"#{head:,} to #{head + left_out - 1:,} (net.summary() or `cnndsl shapes` "
            "lists every one)</td></tr>")
    return ([_row(_cells(s), "td") for s in layers[:head]] + [note]
            + [_row(_cells(s), "td") for s in layers[-tail:]])

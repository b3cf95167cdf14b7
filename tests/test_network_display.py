"""How a `Network` shows itself in Python: `repr`, `summary()`, `_repr_html_()`, and
`CnnError` from `cnndsl.parse` / `cnndsl.load` printing the line, the caret and the hint."""

from __future__ import annotations

import pickle
from html.parser import HTMLParser

import pytest

import cnndsl
from cnndsl.errors import CnnError, SourceError

SEED = "input 6x6x1 -> conv 3x3/1 x2 -> maxpool 2 -> flatten -> dense 10"


def test_repr_is_one_line_with_shapes_params_and_layers():
    net = cnndsl.parse(SEED, name="seed")
    # 3*3*1*2 + 2 = 20 conv params, 8*10 + 10 = 90 dense: 110
    assert repr(net) == "<Network 'seed': 6x6x1 -> 10, 5 layers, 110 params>"


def test_repr_of_several_inputs_and_outputs():
    net = cnndsl.parse("input 4 as a\ninput 3 as b\n"
                       "concat { @a | @b } -> dense 2 as c\n@c -> dense 1 as d\n"
                       "output @c, @d")
    # concat 7 -> dense 2 (16 params) -> dense 1 (3 params); inputs 0 params
    assert repr(net) == "<Network 'model': 4, 3 -> 2, 1, 5 layers, 19 params>"
    assert "\n" not in repr(net)


def test_summary_prints_the_report_table(capsys):
    net = cnndsl.parse(SEED, name="seed")
    assert net.summary() is None
    out = capsys.readouterr().out
    assert out.startswith("seed: 5 layers, input 6x6x1 -> output 10\n")
    assert "Total params:         110" in out
    assert "conv_1" in out and "dense_1" in out


class Cells(HTMLParser):
    """The text of each table cell, by row."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.tags: list[str] = []
        self.inside = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append([])
        if tag in ("td", "th"):
            self.rows[-1].append("")
            self.inside = True

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.inside = False

    def handle_data(self, data):
        if self.inside:
            self.rows[-1][-1] += data


def test_html_table_has_a_row_per_layer_with_the_numbers():
    html = cnndsl.parse(SEED, name="seed")._repr_html_()
    cells = Cells()
    cells.feed(html)
    header, *rows = cells.rows
    assert header == ["#", "name", "step", "output", "memory", "params", "MACs", "FLOPs",
                      "RF"]
    assert [r[1] for r in rows] == ["input", "conv_1", "maxpool_1", "flatten_1", "dense_1"]
    conv = rows[1]
    # 4x4x2 outputs (32 float32 values: 128 bytes), each 9 multiply-adds: 288 MACs
    assert conv[2:7] == ["conv 3x3/1 x2", "4x4x2", "128 B", "20", "288"]
    assert rows[4][5] == "90"
    assert "<caption>seed: 5 layers, 6x6x1 -> 10</caption>" in html.replace("&gt;", ">")
    assert "Total params: 110" in html
    assert "script" not in cells.tags


def test_html_escapes_the_text_of_the_spec():
    net = cnndsl.parse("input 4 -> dense 2 name=x", name="<script>alert(1)</script>")
    html = net._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_html_table_escapes_its_cells():
    """Issue 20: a layer's name and step are cells of the table, not markup. An imported
    layer's name (Keras's, anything) and a comment inside a step are shown as written."""
    from dataclasses import replace

    graph = cnndsl.parse("input 4 -> dense # <i>a & b</i>\n 2 -> relu").graph
    nodes = list(graph.nodes)
    nodes[2] = replace(nodes[2], name='<b>x</b>&"y')
    html = cnndsl.Network(replace(graph, nodes=tuple(nodes)))._repr_html_()
    cells = Cells()
    cells.feed(html)
    assert [r[1:3] for r in cells.rows[1:]] == [["input", "input 4"],
                                               ["dense_1", "dense # <i>a & b</i> 2"],
                                               ['<b>x</b>&"y', "relu"]]
    assert '<td class="txt">dense # &lt;i&gt;a &amp; b&lt;/i&gt; 2</td>' in html
    assert '<td class="txt">&lt;b&gt;x&lt;/b&gt;&amp;&quot;y</td>' in html
    assert "i" not in cells.tags and "b" not in cells.tags


BAD = "input 6x6x1 -> conv 7x7 x2"


def test_parse_error_shows_line_column_source_caret_and_hint():
    with pytest.raises(CnnError) as info:
        cnndsl.parse(BAD)
    assert str(info.value) == (
        "<string>:1:16: error: kernel 7x7 is larger than the 6x6 input with valid padding\n"
        "    input 6x6x1 -> conv 7x7 x2\n"
        "                   ^~~~~~~~~~~\n"
        "note: input is 6x6x1\n"
        "hint: use `same`, or a smaller kernel")
    e = info.value
    assert e.message.startswith("kernel 7x7") and e.span.column == 16
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_load_error_names_the_file(tmp_path):
    path = tmp_path / "net.cnn"
    path.write_text("input 6x6x1\n  -> conv 3x3 x2\n  -> maxpol 2\n")
    with pytest.raises(CnnError) as info:
        cnndsl.load(path)
    lines = str(info.value).split("\n")
    assert lines[0].startswith(f"{path}:3:6: error: ")
    assert lines[1] == "      -> maxpol 2"
    assert lines[2] == "         ^~~~~~"
    assert "maxpool" in lines[-1] and lines[-1].startswith("hint: ")


def test_load_error_in_text_that_is_not_utf8(tmp_path):
    path = tmp_path / "net.cnn"
    path.write_bytes(b"input 4 -> dense \xff2\n")
    with pytest.raises(CnnError) as info:
        cnndsl.load(path)
    assert str(info.value).startswith(f"{path}:1:18: error: the file is not UTF-8 text")


def test_the_located_error_pickles_with_its_source():
    with pytest.raises(SourceError) as info:
        cnndsl.parse(BAD)
    again = pickle.loads(pickle.dumps(info.value))
    assert str(again) == str(info.value) and again.span == info.value.span


def test_cli_rendering_is_unchanged_by_the_api(tmp_path, capsys):
    from cnndsl.cli import main

    path = tmp_path / "bad.cnn"
    path.write_text(BAD)
    with pytest.raises(CnnError) as info:
        cnndsl.load(path)
    assert main(["check", str(path)]) == 1
    assert capsys.readouterr().err.rstrip("\n") == str(info.value)


def test_a_60000_layer_network_gives_a_notebook_a_capped_table():
    """Issue 19 item 18: `_repr_html_` of a 60,000-layer network returned 41 MB of HTML.
    A notebook gets the first 750 and the last 250 rows, a row between saying what is
    left out, and the caption and totals of the whole network."""
    net = cnndsl.parse("input 8 -> ( relu -> tanh ) * 29999 -> relu", name="deep")
    html = net._repr_html_()
    assert len(html) < 500_000  # 1,000 rows of about 250 characters, and a small diagram
    cells = Cells()
    cells.feed(html)
    header, *rows = cells.rows
    assert len(rows) == 750 + 1 + 250
    assert [r[0] for r in rows[:2]] == ["0", "1"] and rows[749][0] == "749"
    # 1 + 2 * 29,999 + 1 = 60,000 layers: #750 to #59,749 are left out
    assert rows[750] == ["… 59,000 more layers, #750 to #59,749 (net.summary() or "
                         "`cnndsl shapes` lists every one)"]
    assert [r[0] for r in rows[751:]] == [str(i) for i in range(59_750, 60_000)]
    assert rows[-1][1:3] == ["relu_30000", "relu"]
    assert "<caption>deep: 60,000 layers, 8 -> 8</caption>" in html.replace("&gt;", ">")
    # the totals count every layer: 60,000 outputs of 8 float32 values, 1,920,000 bytes
    assert "Activation memory: 1.8 MiB (float32, batch 1)" in html


def test_a_diagram_past_300_boxes_draws_the_rest_as_one():
    """Issue 19 item 18: the diagram of 60,000 different layers was 22.5 MB of SVG. Past
    300 boxes, the 300th stands for the rest of the network."""
    steps = " -> ".join(f"dense {i % 7 + 1}" for i in range(1000))
    net = cnndsl.parse(f"input 8 -> {steps}", name="long")
    svg = net._repr_svg_()
    assert svg.count('<g class="item"') == 300
    # items 0 (the input) to 298 are the input and dense_1 to dense_298; the last box
    # holds dense_299 to dense_1000, 702 layers
    assert "… 702 more layers (net.draw() draws all)" in svg
    assert "long · 1,001 layers" in svg  # the title counts the whole network
    assert svg.count('<g class="item"') < net.draw().count('<g class="item"') == 1001


def test_the_rest_box_reads_what_the_rest_of_the_network_reads():
    from cnndsl.graph.analysis import analyse
    from cnndsl.views.drawing import describe
    from cnndsl.views.notebook import capped

    # items: 0 input, 1 relu_1 (as a), 2 tanh_1, 3 relu_2, 4 sigmoid_1, 5 concat_1 (reads
    # a and sigmoid_1), 6 dense_1; cut at 4 boxes: items 3 to 6 become one, which reads
    # tanh_1 (into relu_2) and relu_1 (into the concat), and is the output
    graph = cnndsl.parse("input 4 -> relu as a -> tanh -> relu -> sigmoid as b\n"
                         "concat { @a | @b } -> dense 2").graph
    diagram = describe(graph, analyse(graph))
    assert [i.name for i in diagram.items] == ["input", "relu_1", "tanh_1", "relu_2",
                                               "sigmoid_1", "concat_1", "dense_1"]
    cut = capped(diagram, boxes=4)
    assert [i.name for i in cut.items][:3] == ["input", "relu_1", "tanh_1"]
    rest = cut.items[3]
    assert (rest.index, rest.kind, rest.layers) == (3, "block", 4)
    assert sorted(rest.inputs) == [1, 2] and cut.outputs == (3,) and rest.output
    assert rest.tensor is None  # `b` (sigmoid_1) is inside it, not its result
    assert rest.params == 8 * 2 + 2 and rest.shape == (2,)  # dense_1: 8 inputs, 2 units
    assert capped(diagram, boxes=7) is diagram

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

"""The `cnndsl shapes` table as a tree (issue 12): merges above their branches, with tree
lines; references `@name` for an `id` branch and for named tensors; the memory column and
the legend; JSON with arrays of numbers on one line.

The expected trees are worked out by hand from the source: a merge is written before its
branches (`add { A | B }`), each branch one level deeper, in the order written.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from cnndsl import analyse, compile_text
from cnndsl.views.outline import ASCII, outline
from cnndsl.views.report import dumps, short_bytes, table, to_json

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def names(text: str) -> list[str]:
    """The name column of the table of `text`, tree lines included."""
    out = table(analyse(compile_text(text, "t")))
    lines = out.split("\n")
    rule = [i for i, line in enumerate(lines) if line.startswith("---")]
    header = lines[rule[0] + 1]
    start, end = header.index("name"), header.index("step")
    return [line[start:end].rstrip() for line in lines[rule[1] + 1:rule[2]]]


def test_a_residual_block_shows_its_shortcut():
    # residual { A } is add { id | A }: the id branch is the fork itself, conv_1
    assert names("input 8x8x4 -> conv 3 x4 same -> residual { conv 3 x4 same -> relu }"
                 " -> gap -> dense 2") == [
        "input", "conv_1", "add_1", "├─@conv_1", "└─conv_2", "  relu_1", "gap_1", "dense_1"]


def test_nested_merges_are_indented_twice():
    assert names("input 8x8x4 -> concat { conv 1 x2 -> add { id | relu } | maxpool 2/1 same"
                 " | id }") == [
        "input", "concat_1", "├─conv_1", "│ add_1", "│ ├─@conv_1", "│ └─relu_1",
        "├─maxpool_1", "└─@input"]


def test_two_inputs_and_two_outputs():
    # examples/image_and_meta.cnn: the concat reads both inputs' chains (no fork in the
    # graph); `joint` is read twice, so each output's chain starts with a reference to it
    # (left out right under its own row)
    text = (EXAMPLES / "image_and_meta.cnn").read_text()
    assert names(text) == [
        "concat_1", "├─image", "│ conv_1", "│ maxpool_1", "│ conv_2", "│ gap_1", "└─meta",
        "  dense_1", "dense_2", "dense_3", "@dense_2", "dense_4"]


def test_a_branch_that_reads_a_named_tensor_stops_at_a_reference():
    # `b` is read by the add's branch and by the concat: the chains stop at it, and at
    # `a`, which `b` and the tanh read; the concat starts its own chain
    text = ("input 4x4x2 -> conv 1 x2 as a -> relu as b\n"
            "add { @a -> tanh | @b -> sigmoid } as c\n"
            "concat { @b | @c }\n")
    assert names(text) == ["input", "conv_1", "relu_1", "concat_1", "├─@relu_1", "└─add_1",
                           "  ├─@conv_1", "  │ tanh_1", "  └─@relu_1", "    sigmoid_1"]


def test_a_series_parallel_graph_written_with_names_nests_as_written_without():
    text = ("input 4x4x2 -> conv 1 x2 as a -> relu as b\n"
            "add { @a -> tanh | @b -> sigmoid }\n")
    assert names(text) == ["input", "conv_1", "add_1", "├─tanh_1", "└─relu_1", "  sigmoid_1"]


def test_every_layer_appears_once_and_references_come_after_their_layer():
    for path in sorted(EXAMPLES.glob("*.cnn")):
        graph = compile_text(path.read_text(), path.stem)
        rows = outline(graph)
        layers = [r.node for r in rows if not r.ref]
        assert sorted(layers) == list(range(len(graph))), path.stem
        seen: set[int] = set()
        for r in rows:
            if r.ref:
                assert r.node in seen, (path.stem, graph.nodes[r.node].name)
            else:
                seen.add(r.node)


def test_ascii_tree_lines():
    out = table(analyse(compile_text("input 8x8x4 -> residual { relu } -> flatten", "t")),
                ASCII)
    assert out.isascii()
    assert "|-@input" in out and "`-relu_1" in out


def test_memory_column_and_legend():
    out = table(analyse(compile_text("input 6x6x1 -> conv 3x3/1 x2 -> maxpool 2 -> flatten"
                                     " -> dense 10", "seed")))
    rows = {line.split()[1]: line.split() for line in out.split("\n")
            if re.match(r"^\d ", line)}
    # float32 outputs: 6*6*1*4, 4*4*2*4, 2*2*2*4, 8*4, 10*4 bytes
    assert [rows[n][-5] for n in ("input", "conv_1", "maxpool_1", "flatten_1", "dense_1")] == \
        ["144B", "128B", "32B", "32B", "40B"]
    assert "RF: receptive field" in out and "memory: the layer's output" in out


def test_short_bytes():
    assert short_bytes(1023) == "1023B"
    assert short_bytes(224 * 224 * 64 * 4) == "12.2MiB"  # 12,845,056 / 2**20 = 12.25
    assert short_bytes(3 * 2**30) == "3.00GiB"
    assert short_bytes(1023 * 2**10 + 1000) == "1.00MiB"  # 1023.98 KiB rounds up a unit


def column(text: str, header: str) -> list[str]:
    """One number column of the table of `text`, by its header, top to bottom."""
    lines = table(analyse(compile_text(text, "t"))).split("\n")
    rule = [i for i, line in enumerate(lines) if line.startswith("---")]
    head = lines[rule[0] + 1]
    end = head.index(header) + len(header)  # numbers are right-aligned under the header
    return [line[:end].split()[-1] for line in lines[rule[1] + 1:rule[2]]]


def test_number_columns_have_one_precision():
    # issue 19 item 26: FLOPs 256,000 showed as `256.0K` over 96,000 as `96K`.
    # dense 128 on 1000 inputs: 128,000 MACs, 2 FLOPs each; dense 375 on 128: 48,000 MACs
    text = "input 1000 -> dense 128 bias=false -> dense 375 bias=false"
    assert column(text, "MACs") == ["0", "128K", "48.0K"]
    assert column(text, "FLOPs") == ["0", "256K", "96.0K"]
    # three significant figures in the memory column too: 4,000 and 1,500 bytes
    assert column(text, "memory") == ["3.91KiB", "512B", "1.46KiB"]


def test_totals_abbreviate_only_when_it_says_something_else():
    # issue 19 item 26: `MACs: 368 (368)`. The seed network: 288 + 80 MACs, 608 + 24 +
    # 170 FLOPs (docs/report.md)
    out = table(analyse(compile_text("input 6x6x1 -> conv 3x3/1 x2 -> maxpool 2 -> flatten"
                                     " -> dense 10", "seed"))).split("\n")
    assert "MACs:                 368" in out and "FLOPs:                802" in out
    # 9,996 inputs to 100 units: 999,600 MACs, 1.00M and not 1000K; 2 FLOPs each
    out = table(analyse(compile_text("input 9996 -> dense 100 bias=false", "c"))).split("\n")
    assert "MACs:                 999,600 (1.00M)" in out
    assert "FLOPs:                1,999,200 (2.00M)" in out


def test_json_puts_a_shape_on_one_line():
    out = to_json(analyse(compile_text("input 6x6x1 -> conv 3x3/1 x2 -> flatten", "s")))
    assert '  "input_shape": [6, 6, 1],' in out.split("\n")
    assert '      "output_shape": [4, 4, 2],' in out.split("\n")
    assert '      "output_bytes": 128,' in out.split("\n")
    doc = json.loads(out)
    assert doc["layers"][1]["receptive_field"] == {"size": [3, 3], "jump": [1, 1],
                                                   "global": False}
    assert doc["layers"][2]["inputs"] == [1]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=20)


@given(JSON)
def test_dumps_is_json(value):
    assert json.loads(dumps(value)) == value


@st.composite
def named_graphs(draw) -> str:
    """A random network of named tensors: chains and two-way merges over any earlier
    tensors, so most are not series-parallel; one or two inputs, one to three outputs."""
    inputs = draw(st.integers(1, 2))
    lines = [f"input 4x4x2 as t{i}" for i in range(inputs)]
    count = inputs
    for _ in range(draw(st.integers(1, 12))):
        a = draw(st.integers(0, count - 1))
        if draw(st.booleans()):
            b = draw(st.integers(0, count - 1))
            lines.append(f"add {{ @t{a} -> relu | @t{b} }} as t{count}")
        else:
            lines.append(f"@t{a} -> tanh as t{count}")
        count += 1
    outs = draw(st.lists(st.integers(inputs, count - 1), min_size=1, max_size=3, unique=True))
    return "\n".join(lines) + "\noutput " + ", ".join(f"@t{o}" for o in outs) + "\n"


@given(named_graphs())
def test_any_graph_shows_every_layer_once_and_references_after_it(text):
    graph = compile_text(text, "random")
    rows = outline(graph)
    assert sorted(r.node for r in rows if not r.ref) == list(range(len(graph)))
    seen: set[int] = set()
    for r in rows:
        if r.ref:
            assert r.node in seen, text
        else:
            seen.add(r.node)


# ---- version 3: rearranging -------------------------------------------------------------------

def test_a_split_heads_its_parts_and_their_branches():
    # each branch of `split 3,5` starts at its part of the channels, named after the split
    assert names("input 4x4x8 -> split 3,5 { relu | id } -> pixel_shuffle 2") == [
        "input", "split_1", "├─split_1_1", "│ relu_1", "└─split_1_2", "pixel_shuffle_1"]
    doc = json.loads(to_json(analyse(compile_text(
        "input 4x4x8 -> split 3,5 { relu | id } -> pixel_shuffle 2", "s"))))
    rows = [(r["name"], r["kind"], r["step"], r["output_shape"], r["inputs"])
            for r in doc["layers"]]
    assert rows == [
        ("input", "input", "input 4x4x8", [4, 4, 8], []),
        ("split_1_1", "part", "part 1: channels 0:3", [4, 4, 3], [0]),
        ("relu_1", "activation", "relu", [4, 4, 3], [1]),
        ("split_1_2", "part", "part 2: channels 3:8", [4, 4, 5], [0]),
        ("split_1", "split", "split 3,5 {...}", [4, 4, 8], [2, 3]),
        ("pixel_shuffle_1", "pixel_shuffle", "pixel_shuffle 2", [8, 8, 2], [4])]

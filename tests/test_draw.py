"""`cnndsl draw`: SVG that parses, names every layer, and never overlaps; dot and Mermaid.

Expected numbers are computed by hand from the networks (the seed's 20 + 90 parameters,
ResNet-50's first bottleneck block), not taken from the drawing code.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import drawn
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnndsl import parse
from cnndsl.cli import main
from cnndsl.language.frontend import compile_file, compile_text
from cnndsl.views.drawing import draw

EXAMPLES = sorted(Path(__file__).parent.parent.glob("examples/*.cnn"))
SEED = "input 6x6x1 -> conv 3x3/1 x2 -> maxpool 2 -> flatten -> dense 10"


def check_readable(svg: str) -> None:
    """No two boxes overlap; every label lies inside one box or outside all of them,
    and no two labels overlap."""
    root = drawn.parse(svg)
    boxes = drawn.boxes(root)
    assert not drawn.overlapping(boxes)
    labels = [r for _, r in drawn.labels(root)]
    assert not drawn.overlapping(labels)
    for label in labels:
        holders = [b for b in boxes if drawn.overlapping([label, b])]
        assert all(drawn.inside(label, b) for b in holders), (label, holders)
    width, height = float(root.get("width")), float(root.get("height"))
    for left, top, right, bottom in boxes + labels:
        assert 0 <= left and right <= width and 0 <= top and bottom <= height


def check_order(svg: str, graph) -> None:
    """Layout order: every edge drawn down the picture goes from a box above to one below."""
    root = drawn.parse(svg)
    ys = {}
    for group in root.iter(f"{drawn.NS}g"):
        if group.get("class") == "item":
            rect = group.find(f"{drawn.NS}rect")
            ys[int(group.get("id").split("-")[1])] = float(rect.get("y"))
    for node in graph.nodes:
        for i in node.inputs:
            assert ys[i] < ys[node.index]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_is_readable(path: Path) -> None:
    graph, _ = compile_file(path)
    svg = draw(graph)
    texts = " ".join(t for t, _ in drawn.labels(drawn.parse(svg)))
    missing = [n.name for n in graph.nodes if not re.search(rf"\b{n.name}\b", texts)]
    assert not missing
    check_readable(svg)
    if len(graph) < 400:
        check_order(svg, graph)
    check_readable(draw(graph, collapse=True))
    check_readable(draw(graph, style="volumes"))


def test_seed_boxes_say_what_the_lesson_says() -> None:
    svg = draw(compile_text(SEED, "seed"))
    texts = [t for t, _ in drawn.labels(drawn.parse(svg))]
    assert "conv 3x3/1 x2" in texts
    assert "conv_1 · 4x4x2 · 20 params" in texts  # 3*3*1*2 + 2
    assert "dense_1 · 10 · 90 params" in texts  # 8*10 + 10
    assert "seed · 5 layers · 110 params" in texts
    assert len(drawn.boxes(drawn.parse(svg))) == 5


def test_resnet50_collapses_to_a_page() -> None:
    graph, _ = compile_file(Path(__file__).parent.parent / "examples/resnet50.cnn")
    root = drawn.parse(draw(graph, collapse=True))
    texts = [t for t, _ in drawn.labels(root)]
    # input, zeropad, conv, bn, relu, zeropad, maxpool; 4 projections and 4 repeats; gap, dense
    assert len(drawn.boxes(root)) == 17
    assert "(identity(256)) * 5" in texts
    # 1x1 64->256 and 1x1 64->64, 3x3 64->64, 1x1 64->256 with biases; four bn of 4 per channel
    first = 16640 + 4160 + 36928 + 16640 + 4 * (256 + 64 + 64 + 256)
    assert f"12 layers · 56x56x256 · {first:,} params" in texts
    assert float(root.get("height")) < 1400


def test_branches_side_by_side_and_merged_below() -> None:
    graph = compile_text("input 8x8x3 -> conv 1 x4 -> add { conv 3 x4 same | id } -> relu")
    root = drawn.parse(draw(graph))
    rects = {}
    for group in root.iter(f"{drawn.NS}g"):
        if group.get("class") == "item":
            r = group.find(f"{drawn.NS}rect")
            rects[int(group.get("id").split("-")[1])] = (float(r.get("x")), float(r.get("y")),
                                                         float(r.get("width")))
    fork, branch, merge = rects[1], rects[2], rects[3]
    assert branch[1] > fork[1] and merge[1] > branch[1]
    # The `id` lane is beside the branch: the branch is off the fork's axis.
    assert branch[0] + branch[2] / 2 != pytest.approx(fork[0] + fork[2] / 2)
    polylines = list(root.iter(f"{drawn.NS}polyline"))
    assert len(polylines) == 5  # input->conv, conv->branch, branch->add, id lane, add->relu


def test_named_tensors_are_edges() -> None:
    graph, _ = compile_file(Path(__file__).parent.parent / "examples/image_and_meta.cnn")
    root = drawn.parse(draw(graph))
    edges = sum(len(n.inputs) for n in graph.nodes)
    assert len(list(root.iter(f"{drawn.NS}polyline"))) == edges


def test_inputs_outputs_and_tensor_names_are_marked_issue_19_item_23() -> None:
    """examples/image_and_meta.cnn: two inputs (`image`, `meta`) and two outputs (`label`,
    `box`) looked like every other box, and no `as NAME` was shown, in any format."""
    example = Path(__file__).parent.parent / "examples/image_and_meta.cnn"
    graph, _ = compile_file(example)
    root = drawn.parse(draw(graph))
    roles: dict[str, list[str]] = {}
    marks = {}
    for group in root.iter(f"{drawn.NS}g"):
        if group.get("class") == "item":
            rect = group.find(f"{drawn.NS}rect")
            lines = [t.text for t in group.iter(f"{drawn.NS}text")]
            name = lines[1].split(" · ")[0]
            roles.setdefault(rect.get("class", ""), []).append(name)
            if len(lines) == 3:
                marks[name] = lines[2]
    assert roles["input"] == ["image", "meta"] and roles["output"] == ["dense_3", "dense_4"]
    assert len(roles[""]) == 7
    assert marks == {"image": "as image", "gap_1": "as features", "meta": "as meta",
                     "dense_1": "as m", "dense_2": "as joint",
                     "dense_3": "as label · output", "dense_4": "as box · output"}
    check_readable(draw(graph))
    dot = draw(graph, "dot")
    assert len(re.findall(r"penwidth=2\.5", dot)) == 4
    assert 'as label · output", fillcolor="#ffd9b3", color="#b3261e"' in dot
    assert 'as image", fillcolor="#fff3c4", color="#9a6700"' in dot
    assert 'gap_1 · 16 · 0 params\\nas features", fillcolor="#d4f2d4"];' in dot
    mermaid = draw(graph, "mermaid")
    assert '  n9(["dense 10 softmax<br/>dense_3 · 10 · 330 params<br/>as label · output"])' \
        in mermaid
    assert "  class n0,n5 input\n" in mermaid and "  class n9,n10 output\n" in mermaid
    assert mermaid.count("([") == 4
    # A lone unnamed output is marked too, and the notebook's HTML carries the marks.
    seed = draw(compile_text(SEED))
    assert seed.count('class="output"') == 1 and seed.count('class="input"') == 1
    assert 'class="output"' in parse(SEED)._repr_html_()


def test_dot_and_mermaid_hold_every_layer_and_edge() -> None:
    graph, _ = compile_file(Path(__file__).parent.parent / "examples/inception_block.cnn")
    edges = sum(len(set(n.inputs)) for n in graph.nodes)
    dot = draw(graph, "dot")
    assert dot.startswith('digraph "inception_block" {') and dot.rstrip().endswith("}")
    assert dot.count(" -> ") == edges
    assert len(re.findall(r"^  n\d+ \[label=", dot, re.M)) == len(graph)
    mermaid = draw(graph, "mermaid")
    assert mermaid.startswith("flowchart TB\n")
    assert mermaid.count(" --> ") == edges
    for node in graph.nodes:
        assert node.name in dot and node.name in mermaid


def test_labels_are_escaped() -> None:
    graph = compile_text('input 4 -> dense 3 name=a_b', "q\"<&>")
    svg = draw(graph)
    assert drawn.parse(svg).find(f"{drawn.NS}title").text == 'q"<&>'
    assert '"q\\"<&>"' in draw(graph, "dot")


def test_volumes_follow_the_lesson() -> None:
    root = drawn.parse(draw(compile_text(SEED), style="volumes"))
    texts = [t for t, _ in drawn.labels(root)]
    for shape in ("6x6x1", "4x4x2", "2x2x2", "8", "10"):
        assert shape in texts
    volumes = drawn.boxes(root)
    assert len(volumes) == 5
    # taller for 6x6 than 4x4 than 2x2; left to right
    heights = [b[3] - b[1] for b in volumes]
    assert heights[0] > heights[1] > heights[2]
    assert [b[0] for b in volumes] == sorted(b[0] for b in volumes)


def test_volumes_draw_every_input_output_and_branch_issue_19_item_24() -> None:
    """examples/image_and_meta.cnn in volumes showed one chain, 32x32x3 to 10: the `meta`
    input (4, then 8) and the `box` output (4) were left out without a word. Each
    input's row and each output's are drawn, merged at the concat, every edge an arrow."""
    root = drawn.parse(draw(compile_file(Path(__file__).parent.parent
                                         / "examples/image_and_meta.cnn")[0],
                            style="volumes"))
    texts = [t for t, _ in drawn.labels(root)]
    # image 32x32x3 conv 32x32x8 maxpool 16x16x8 conv 16x16x16 gap 16 | meta 4 dense 8;
    # concat 24, dense 32; dense 10 | dense 4: every layer's shape differs from the last
    assert len(drawn.boxes(root)) == 11
    for shape in ("32x32x3", "32x32x8", "16x16x8", "16x16x16", "16", "8", "24", "32",
                  "10"):
        assert shape in texts
    assert texts.count("4") == 2  # the meta input and the box output
    for mark in ("as image", "as meta", "as m", "as features", "as joint",
                 "as label · output", "as box · output"):
        assert mark in texts
    fronts = [p.get("class") for p in root.iter(f"{drawn.NS}polygon") if p.get("class")]
    assert sorted(fronts) == ["input", "input", "output", "output"]
    arrows = [p for p in root.iter(f"{drawn.NS}polyline") if p.get("marker-end")]
    assert len(arrows) == 10 and not any(p.get("stroke-dasharray") for p in arrows)
    # Three axes (the middles of the front faces): the main one, meta's row, box's row.
    middles = set()
    for group in root.iter(f"{drawn.NS}g"):
        if group.get("class") == "volume":
            front = list(group.iter(f"{drawn.NS}polygon"))[-1]
            ys = [float(p.split(",")[1]) for p in front.get("points").split()]
            middles.add(round((min(ys) + max(ys)) / 2, 1))
    assert len(middles) == 3


def test_volumes_draw_an_inception_block_branch_by_branch() -> None:
    """examples/inception_block.cnn: 21 layers; gap and dropout keep 480 values and share
    a volume, so 20 volumes, four rows under each of the two concats."""
    graph, _ = compile_file(Path(__file__).parent.parent / "examples/inception_block.cnn")
    root = drawn.parse(draw(graph, style="volumes"))
    assert len(drawn.boxes(root)) == 20
    texts = [t for t, _ in drawn.labels(root)]
    for shape in ("28x28x64", "28x28x96", "28x28x16", "28x28x256", "28x28x480", "480"):
        assert shape in texts
    assert "gap, dropout" in texts
    check_readable(draw(graph, style="volumes"))


def test_network_api_draws() -> None:
    net = parse(SEED)
    assert drawn.parse(net._repr_svg_()).tag == f"{drawn.NS}svg"
    assert net.draw("mermaid").startswith("flowchart TB")


# -- random networks --------------------------------------------------------------------
STEPS = ["conv 3 x{c} same", "relu", "bn", "conv 1 x{c}", "dropout 0.1"]


@st.composite
def chains(draw_, depth: int = 0) -> str:
    """A chain that keeps 8x8x4: steps, merges with branches of their own (and `id`)."""
    parts = []
    for _ in range(draw_(st.integers(1, 4))):
        if depth < 3 and draw_(st.booleans()):
            branches = [draw_(chains(depth + 1)) for _ in range(draw_(st.integers(1, 3)))]
            if draw_(st.booleans()):
                branches.append("id")
            if len(branches) < 2:
                branches.append("id")
            parts.append("add { " + " | ".join(branches) + " }")
        else:
            parts.append(draw_(st.sampled_from(STEPS)).format(c=4))
    return " -> ".join(parts)


@st.composite
def named(draw_) -> str:
    """A DAG of named tensors: each statement reads one or two earlier ones."""
    lines = ["input 8x8x4 as t0"]
    for k in range(1, draw_(st.integers(2, 10))):
        a = draw_(st.integers(0, k - 1))
        if k > 1 and draw_(st.booleans()):
            b = draw_(st.integers(0, k - 1))
            lines.append(f"add {{ @t{a} | @t{b} -> conv 1 x4 }} as t{k}")
        else:
            lines.append(f"@t{a} -> {draw_(st.sampled_from(STEPS)).format(c=4)} as t{k}")
    lines.append(f"output @t{k}")
    return "\n".join(lines)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chains())
def test_random_series_parallel_networks_are_readable(body: str) -> None:
    graph = compile_text(f"input 8x8x4 -> {body}")
    for collapse in (False, True):
        svg = draw(graph, collapse=collapse)
        check_readable(svg)
    check_order(draw(graph), graph)
    check_readable(draw(graph, style="volumes"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(named())
def test_random_named_tensor_networks_are_readable(text: str) -> None:
    graph = compile_text(text)
    svg = draw(graph)
    check_readable(svg)
    root = drawn.parse(svg)
    assert len(list(root.iter(f"{drawn.NS}polyline"))) == sum(len(n.inputs)
                                                              for n in graph.nodes)


# -- the command --------------------------------------------------------------------------
def test_cli_writes_each_format(tmp_path: Path, capsys) -> None:
    spec = tmp_path / "net.cnn"
    spec.write_text(SEED)
    assert main(["draw", str(spec)]) == 0
    assert (tmp_path / "net.svg").read_text().startswith("<?xml")
    assert main(["draw", str(spec), "-o", str(tmp_path / "g.dot")]) == 0
    assert (tmp_path / "g.dot").read_text().startswith('digraph "net"')
    assert main(["draw", str(spec), "-o", str(tmp_path / "g.mmd")]) == 0
    assert (tmp_path / "g.mmd").read_text().startswith("flowchart TB")
    capsys.readouterr()
    assert main(["draw", str(spec), "--format", "mermaid", "-o", "-"]) == 0
    assert capsys.readouterr().out.startswith("flowchart TB")


@pytest.mark.parametrize("args, message", [
    (["-o", "x.bmp"], "cannot tell the format from the suffix `.bmp`"),
    (["--style", "volumes", "--format", "dot"], "the volumes style is a picture: SVG, PNG "
     "or PDF"),
])
def test_cli_errors(tmp_path: Path, capsys, args, message) -> None:
    spec = tmp_path / "net.cnn"
    spec.write_text(SEED)
    assert main(["draw", str(spec), *[str(tmp_path / a) if a.endswith(".bmp") else a
                                      for a in args]]) == 1
    err = capsys.readouterr().err
    assert f"error: {message}" in err and "hint: " in err and "Traceback" not in err
    assert not (tmp_path / "x.bmp").exists()


def test_cli_unwritable_output_and_stdin(tmp_path: Path, capsys, monkeypatch) -> None:
    spec = tmp_path / "net.cnn"
    spec.write_text(SEED)
    assert main(["draw", str(spec), "-o", str(tmp_path / "missing" / "x.svg")]) == 1
    err = capsys.readouterr().err
    # Found before the spec is drawn, as for every command's outputs (cnndsl/support/paths.py).
    assert "x.svg: error: the directory " in err and " does not exist\nhint: " in err
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(SEED.encode()),
                                                       encoding="utf-8"))
    assert main(["draw", "-", "--format", "dot"]) == 0  # standard input: standard output
    assert capsys.readouterr().out.startswith('digraph "model"')


def test_cli_spec_error_is_located(tmp_path: Path, capsys) -> None:
    spec = tmp_path / "bad.cnn"
    spec.write_text("input 6x6x1 -> conv 7x7 x2")
    assert main(["draw", str(spec)]) == 1
    assert f"{spec}:1:16: error:" in capsys.readouterr().err
    assert not (tmp_path / "bad.svg").exists()


# ---- version 3: rearranging -------------------------------------------------------------------

SHUFFLE_UNIT = ("input 8x8x16 -> split { id | conv 1 x8 relu -> dwconv 3 same } "
                "-> channel_shuffle 2 -> pixel_shuffle 2")


def test_a_split_is_drawn_as_branches_from_its_parts() -> None:
    """Each branch starts at its part (`part 1: channels 0:8`) under the fork, side by
    side, and meets the others at the `split`, coloured as the other merges."""
    graph = compile_text(SHUFFLE_UNIT)
    root = drawn.parse(draw(graph))
    boxes = {}
    for group in root.iter(f"{drawn.NS}g"):
        if group.get("class") == "item":
            r = group.find(f"{drawn.NS}rect")
            boxes[group.find(f"{drawn.NS}text").text] = (float(r.get("x")), float(r.get("y")),
                                                        r.get("fill"))
    first, second = boxes["part 1: channels 0:8"], boxes["part 2: channels 8:16"]
    assert first[1] == second[1] and first[0] < second[0]  # side by side
    assert boxes["split {...}"][1] > boxes["dwconv 3 same"][1] > second[1]
    assert boxes["split {...}"][2] == "#e8e8e8"  # as `add`, `concat` and `mul`
    assert len(list(root.iter(f"{drawn.NS}polyline"))) == \
        sum(len(n.inputs) for n in graph.nodes)
    for fmt, arrow in (("dot", " -> "), ("mermaid", " --> ")):
        assert draw(graph, fmt).count(arrow) == sum(len(n.inputs) for n in graph.nodes)


def test_pixel_shuffle_volumes_are_tall_and_thin() -> None:
    # 8x8x16 -> parts 8x8x8 -> ... -> 8x8x16 -> pixel_shuffle 2: 16x16x4
    root = drawn.parse(draw(compile_text(SHUFFLE_UNIT), style="volumes"))
    texts = [t for t, _ in drawn.labels(root)]
    assert "16x16x4" in texts and "pixel_shuffle" in texts
    *_, before, after = drawn.boxes(root)
    assert after[3] - after[1] > before[3] - before[1]  # twice the height and width

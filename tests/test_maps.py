"""`cnndsl maps` and `Network.maps`: the lesson's feature maps as a picture.

The numbers written in the picture are read back from the figure's text artists (the
picture keeps each map's artists by LAYER/CHANNEL), checked to stand in their cells, and
compared with the maps the lesson worked out by hand (tests/test_numpy_lesson.py); the
PNG written is decoded and looked at too.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from outcomes import cli  # noqa: E402
from test_numpy_lesson import (  # noqa: E402
    IMAGE,
    LESSON,
    MAP_1,
    MAP_2,
    POOLED_1,
    POOLED_2,
    image,
    lesson_kernel,
)

import cnndsl  # noqa: E402
from cnndsl.views.pictures.maps import number  # noqa: E402


def lesson() -> cnndsl.Network:
    net = cnndsl.parse(LESSON, name="lesson")
    net.set_weights({"conv_1/kernel": lesson_kernel()})
    return net


def written(map_) -> list[list[str]]:
    """The numbers written in a map's cells, checked to stand in their cells: inside the
    image, left to right along a row, top to bottom down a column."""
    left, right, bottom, top = map_.image.get_extent()
    rows = map_.numbers
    for i, row in enumerate(rows):
        for j, text in enumerate(row):
            x, y = text.get_position()
            assert left < x < right and bottom < y < top
            assert j == 0 or x > row[j - 1].get_position()[0]
            assert i == 0 or y < rows[i - 1][j].get_position()[1]
            assert text.axes is map_.image.axes and text.get_visible()
    return [[t.get_text() for t in row] for row in rows]


def as_text(grid) -> list[list[str]]:
    return [[str(v) for v in row] for row in grid]


def test_the_lesson_picture_shows_the_hand_computed_numbers():
    maps = lesson().maps(image())
    axes = maps.drawn
    assert maps.figure.axes == [axes["input/1"].image.axes]  # the figure that is saved
    assert set(axes) == {"input/1", "conv_1/1", "conv_1/2", "maxpool_1/1", "maxpool_1/2"}
    assert written(axes["conv_1/1"])[0][0] == "3"  # filter 1, top left
    assert written(axes["input/1"]) == as_text(IMAGE)
    assert written(axes["conv_1/1"]) == as_text(MAP_1)
    assert written(axes["conv_1/2"]) == as_text(MAP_2)
    assert written(axes["maxpool_1/1"]) == as_text(POOLED_1) == [["3", "0"], ["3", "1"]]
    assert written(axes["maxpool_1/2"]) == as_text(POOLED_2) == [["-1", "1"], ["0", "3"]]
    # each map scaled on its own, its range under it: filter 2's map runs -4 to 3
    assert axes["conv_1/2"].scale.get_text() == "-4 … 3"
    assert axes["maxpool_1/1"].scale.get_text() == "0 … 3"


def test_each_map_is_scaled_on_its_own_black_to_white():
    axes = lesson().maps(image()).drawn
    image_ = axes["conv_1/2"].image
    grey = image_.norm(np.asarray(MAP_2, float))
    assert grey.min() == 0 and grey.max() == 1  # -4 black, 3 white
    assert grey[3, 2] == 0 and grey[3, 3] == 1
    # a number on a dark cell is white, on a light cell black
    texts = axes["conv_1/2"].numbers
    assert texts[3][2].get_color() == "white" and texts[3][3].get_color() == "black"


def test_cli_writes_a_png_of_the_lesson(tmp_path):
    np.save(tmp_path / "x.npy", image())
    np.savez(tmp_path / "w.npz", **{"conv_1/kernel": lesson_kernel()})
    (tmp_path / "lesson.cnn").write_text(LESSON + "\n")
    out = tmp_path / "maps.png"
    status, said, _ = cli("maps", tmp_path / "lesson.cnn", "--input", tmp_path / "x.npy",
                          "--weights", tmp_path / "w.npz", "-o", out)
    assert status == 0
    assert "3 layers, 5 maps" in said
    from matplotlib.image import imread

    pixels = imread(out)
    assert pixels.ndim == 3 and pixels.shape[0] > 400 and pixels.shape[1] > 400
    # black and white both appear (the maps), and most of the page is white
    grey = pixels[..., :3].mean(axis=2)
    assert (grey < 0.05).mean() > 0.02 and (grey > 0.95).mean() > 0.5
    assert not list(tmp_path.glob(".*.tmp"))  # written in place, nothing left behind


def test_cli_example_of_a_batch_and_chosen_layers(tmp_path):
    batch = np.stack([image(), 1 - image()])
    np.save(tmp_path / "x.npy", batch)
    np.savez(tmp_path / "w.npz", **{"conv_1/kernel": lesson_kernel()})
    (tmp_path / "lesson.cnn").write_text(LESSON)
    out = tmp_path / "maps.svg"
    status, said, _ = cli("maps", tmp_path / "lesson.cnn", "-i", tmp_path / "x.npy",
                          "--weights", tmp_path / "w.npz", "-o", out, "--example", "1",
                          "--layers", "conv_1")
    assert status == 0 and "1 layer, 2 maps" in said
    text = out.read_text()
    assert text.lstrip().startswith("<?xml") and "</svg>" in text


@pytest.mark.parametrize("extra, message", [
    (["--layers", "conv1"], "--layers: error: the network has no layer named `conv1`\n"
                            "hint: did you mean `conv_1`?"),
    (["--example", "2"], "error: --example 2 is past the end: the file holds 2 examples"),
    (["--channels", "0"], "cnndsl maps: error: --channels must be at least 1, got 0"),
])
def test_cli_errors(tmp_path, extra, message):
    np.save(tmp_path / "x.npy", np.stack([image(), image()]))
    (tmp_path / "lesson.cnn").write_text(LESSON)
    out = tmp_path / "maps.png"
    status, _, err = cli("maps", tmp_path / "lesson.cnn", "-i", tmp_path / "x.npy", "-o", out,
                         *extra)
    assert status == 1 and message in err
    assert not out.exists()


def test_cli_refuses_other_formats_and_overwriting_the_input(tmp_path):
    np.save(tmp_path / "x.npy", image())
    (tmp_path / "lesson.cnn").write_text(LESSON)
    status, _, err = cli("maps", tmp_path / "lesson.cnn", "-i", tmp_path / "x.npy", "-o",
                         tmp_path / "maps.jpg")
    assert status == 1 and "-o must name a .png or .svg or .pdf file" in err
    (tmp_path / "x.png").write_bytes(b"")
    status, _, err = cli("maps", tmp_path / "lesson.cnn", "-i", tmp_path / "x.png", "-o",
                         tmp_path / "x.png")
    assert status == 1 and "would overwrite the input" in err


def test_without_matplotlib_the_error_names_the_extra(tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` fails
    np.save(tmp_path / "x.npy", image())
    (tmp_path / "lesson.cnn").write_text(LESSON)
    status, _, err = cli("maps", tmp_path / "lesson.cnn", "-i", tmp_path / "x.npy", "-o",
                         tmp_path / "maps.png")
    assert status == 1
    assert err == ("cnndsl maps: error: drawing feature maps needs matplotlib, which is not "
                   "installed\nhint: pip install 'cnndsl[plot]'\n")
    with pytest.raises(ImportError, match=r"needs matplotlib, .*: pip install 'cnndsl\[plot\]'"):
        lesson().maps(image())


def test_channels_are_capped_and_the_label_says_so():
    net = cnndsl.parse("input 12x12x3 -> conv 3x3 x20 -> flatten -> dense 4")
    maps = net.maps(np.ones((12, 12, 3)), channels=5)
    labels = set(maps.drawn)
    assert {f"conv_1/{c}" for c in range(1, 6)} <= labels and "conv_1/6" not in labels
    assert any("first 5 of 20 channels" in t.get_text() for t in maps.figure.axes[0].texts)
    assert not any(label.startswith(("flatten", "dense")) for label in labels)
    assert not maps.drawn["conv_1/1"].numbers  # 10x10: too big for numbers in the cells


def test_signals_volumes_and_vectors():
    net = cnndsl.parse("input 8x2 -> conv 3 x2 -> flatten -> dense 3")
    maps = net.maps(np.arange(16, dtype=float).reshape(8, 2), layers=["input", "dense_1"])
    axes = maps.drawn
    assert set(axes) == {"input/1", "input/2", "dense_1/1"}
    assert written(axes["input/1"]) == [["0", "2", "4", "6", "8", "10", "12", "14"]]
    volume = cnndsl.parse("input 4x4x4x1 -> conv 3 x1").maps(np.ones((4, 4, 4, 1)))
    assert any("depth slice 3 of 4" in t.get_text() for t in volume.figure.axes[0].texts)


def test_a_volume_shows_its_middle_depth_slice():
    """Issue 20: a volume (D, H, W, C) is drawn by its middle slice, index D // 2 counted
    from 0: of depth 4 the third (index 2), of depth 5 the third too. Each slice holds
    100 * its index plus the cell's place, so the numbers say which slice is shown."""
    for depth, shown_slice in ((4, 2), (5, 2)):
        x = (100 * np.arange(depth)[:, None, None] + np.arange(16).reshape(4, 4))[..., None]
        net = cnndsl.parse(f"input {depth}x4x4x1 -> conv 1 x1")
        maps = net.maps(x.astype(float), layers=["input"])
        assert written(maps.drawn["input/1"]) == [
            [str(100 * shown_slice + 4 * i + j) for j in range(4)] for i in range(4)]
        assert any(f"depth slice 3 of {depth}" in t.get_text()
                   for t in maps.figure.axes[0].texts)


def test_a_map_is_black_at_its_minimum_not_at_zero():
    """Issue 20: a channel of values 100 to 199 (no numbers written: 10x10) is black at
    100 and white at 199; a cell of 133 is a third of the way: grey 255 * 33/99 = 85 in
    the picture (matplotlib's `gray` has 256 levels: floor(256/3) = 85)."""
    values = (100 + np.arange(100, dtype=float)).reshape(10, 10, 1)
    maps = cnndsl.parse("input 10x10x1 -> conv 1 x1").maps(values, layers=["input"])
    drawn = maps.drawn["input/1"]
    assert drawn.scale.get_text() == "100 … 199" and not drawn.numbers
    canvas = maps.figure.canvas
    canvas.draw()
    pixels = np.asarray(canvas.buffer_rgba())
    left, right, bottom, top = drawn.image.get_extent()
    cell = (right - left) / 10
    height = maps.figure.get_figheight()
    dpi = maps.figure.dpi

    def grey(i, j):  # the pixel at the centre of cell (row i, column j)
        x, y = left + (j + 0.5) * cell, top - (i + 0.5) * cell
        r, g, b, _ = pixels[int((height - y) * dpi), int(x * dpi)]
        assert r == g == b
        return int(r)

    assert grey(0, 0) == 0 and grey(9, 9) == 255  # 100 black, 199 white
    assert abs(grey(3, 3) - 85) <= 1  # 133


def test_a_picture_too_big_to_encode_is_refused_before_running():
    net = cnndsl.parse("input 2x2x1 -> conv 1x1 x1000")
    # 1,000 maps of 1.5 inches at 100 dpi, plus 2.6 inches of labels and margin, across;
    # the title (0.9 inches) and two rows (input, conv) of 2.05 inches, down
    with pytest.raises(ValueError, match="would be 150,260x500 pixels") as info:
        net.maps(np.zeros((2, 2, 1)), channels=1000)
    assert "--channels" in info.value.hint
    assert net.maps(np.zeros((2, 2, 1)), channels=400).figure.get_size_inches()[0] == 602.6


def test_a_picture_of_4_g_pixels_is_refused_on_its_area_before_anything_runs(
        tmp_path, monkeypatch):
    """Issue 19 item 16: 319 layers of 435 channels, each side under Agg's 65,536 pixels,
    ran the network and made maps for more than 15 minutes and 6 GB before failing."""
    def never(*args, **kwargs):
        raise AssertionError("the network ran for a picture that is refused")

    monkeypatch.setattr(cnndsl.Network, "run_layers", never)
    spec = tmp_path / "huge.cnn"
    spec.write_text("input 2x2x435\n" + "  -> relu\n" * 318)
    layers = ",".join(["input"] + [f"relu_{i}" for i in range(1, 319)])
    # 2.4 + 1.5 * 435 + 0.2 = 655.1 inches across, 0.9 + 2.05 * 319 = 654.85 down, at
    # 100 dpi; the input is never read, so it need not exist
    status, _, err = cli("maps", spec, "-i", tmp_path / "missing.npy", "-o",
                         tmp_path / "huge.png", "--channels", "435", "--layers", layers)
    assert status == 1
    assert err == (
        "--layers: error: the picture would be 65,510x65,485 pixels, 4,289,922,350 in all "
        "(16.0 GiB to draw), over the limit of 268,435,456 (1 GiB)\n"
        "hint: draw fewer layers (--layers A,B) or fewer channels (--channels C)\n")
    assert not list(tmp_path.glob("*.png")) and not list(tmp_path.glob(".*"))
    net = cnndsl.load(spec)
    with pytest.raises(ValueError, match="4,289,922,350 in all"):
        net.maps(np.zeros((2, 2, 435)), layers=layers.split(","), channels=435)


def test_the_area_limit_is_2_to_the_28_pixels():
    from cnndsl.views.pictures.page import LayerChoice, plan

    # 100 maps a row: 2.4 + 150 + 0.2 = 152.6 inches, 15,260 pixels across. 85 rows are
    # 0.9 + 2.05 * 85 = 175.15 inches, 15,260 x 17,515 = 267,278,900 pixels, under 2^28 =
    # 268,435,456; 86 rows are 17,720 down, 270,407,200 pixels
    def rows(count: int) -> tuple[object, list[str]]:
        graph = cnndsl.parse("input 2x2x100" + " -> relu" * (count - 1)).graph
        return graph, [n.name for n in graph.nodes]

    nodes, left_out = plan(*rows(85), 100)
    assert len(nodes) == 85 and left_out == 0
    with pytest.raises(LayerChoice, match="15,260x17,720 pixels, 270,407,200 in all"):
        plan(*rows(86), 100)


def test_unknown_layer_from_the_api():
    with pytest.raises(ValueError, match="no layer named `pool`"):
        lesson().maps(image(), layers=["pool"])


def test_repr_png_is_a_png():
    assert lesson().maps(image())._repr_png_().startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize("value, text", [(3.0, "3"), (-0.0, "0"), (0.5, "0.5"),
                                         (-1.25, "-1.25"), (2 / 3, "0.667"),
                                         (float("nan"), "nan")])
def test_numbers_in_cells(value, text):
    assert number(value) == text

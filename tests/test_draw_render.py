"""`cnndsl draw -o NET.png / NET.pdf`: the SVG rendered by resvg and CairoSVG (the
`render` extra, part of `test`), at the size the SVG declares times --scale, written
only when complete; and the message that says which extra to install when it is missing.

Expected sizes come from the SVG's own `width`/`height` (what a browser draws, checked
in tests/test_draw_browser.py) and from CSS's 96 pixels to 72 points per inch; colours
from the fills the drawing asks for.
"""

from __future__ import annotations

import importlib.abc
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cnndsl.cli import main
from cnndsl.views.drawing.render import declared

pytest.importorskip("resvg_py", reason="the render extra: pip install 'cnndsl[render]'")
Image = pytest.importorskip("PIL.Image")

EXAMPLE = Path(__file__).parent.parent / "examples" / "image_and_meta.cnn"


def svg_of(tmp_path: Path, *options: str) -> str:
    assert main(["draw", str(EXAMPLE), "-o", str(tmp_path / "net.svg"), *options]) == 0
    return (tmp_path / "net.svg").read_text(encoding="utf-8")


def test_png_is_the_svg_at_twice_its_size_issue_19_item_25(tmp_path: Path, capsys) -> None:
    """`draw -o NET.png` was refused ("cannot tell the format from the suffix `.png`")."""
    svg = svg_of(tmp_path)
    width, height = declared(svg)
    out = tmp_path / "net.png"
    assert main(["draw", str(EXAMPLE), "-o", str(out)]) == 0
    assert f"ok: {out} (11 layers, png)" in capsys.readouterr().out
    with Image.open(out) as png:
        assert png.format == "PNG" and png.size == (round(2 * width), round(2 * height))
        pixels = np.asarray(png.convert("RGB"))
    assert (pixels[2, 2] == 255).all()  # the white background
    # Inside the first input's box, left of its text: the input fill #fff3c4.
    box = re.search(r'<g class="item" id="item-0">.*?<rect x="([\d.]+)" y="([\d.]+)" '
                    r'width="[\d.]+" height="([\d.]+)"', svg, re.S)
    assert box
    x, y, h = (float(v) for v in box.groups())
    assert tuple(pixels[round(2 * (y + h / 2)), round(2 * (x + 4))]) == (0xff, 0xf3, 0xc4)
    # The title is text: dark pixels on its line, none on the white margin above it.
    assert (pixels[40:60, 30:400] < 80).all(axis=2).sum() > 200
    assert (pixels[0:20] == 255).all()
    assert main(["draw", str(EXAMPLE), "-o", str(out), "--scale", "1",
                 "--style", "volumes"]) == 0
    with Image.open(out) as png:
        assert png.size == tuple(round(v) for v in declared(svg_of(tmp_path, "--style",
                                                                      "volumes")))


def test_pdf_is_one_page_of_the_svg_size(tmp_path: Path) -> None:
    try:
        import cairosvg  # noqa: F401
    except (ImportError, OSError):  # OSError: cairocffi found no libcairo
        pytest.skip("PDF needs CairoSVG and the system's libcairo2")
    width, height = declared(svg_of(tmp_path))
    out = tmp_path / "net.pdf"
    assert main(["draw", str(EXAMPLE), "-o", str(out)]) == 0
    data = out.read_bytes()
    assert data.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type\s*/Page\b", data)) == 1
    box = re.search(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", data)
    assert box and (float(box.group(1)), float(box.group(2))) == \
        (pytest.approx(width * 0.75), pytest.approx(height * 0.75))  # 96 px = 72 pt
    if shutil.which("pdftoppm"):  # poppler: what a reader shows is not blank
        subprocess.run(["pdftoppm", "-r", "96", "-png", "-singlefile", str(out),
                        str(tmp_path / "page")], check=True, timeout=120)
        with Image.open(tmp_path / "page.png") as page:
            low, high = page.convert("L").getextrema()
            assert page.size == (round(width), round(height)) and low < 80 and high == 255


def test_a_missing_renderer_names_the_extra(tmp_path: Path, capsys, monkeypatch) -> None:
    """Said before the spec is read (here there is none), exit 1, nothing written."""
    monkeypatch.setitem(sys.modules, "resvg_py", None)  # `import resvg_py` fails
    out = tmp_path / "net.png"
    assert main(["draw", str(tmp_path / "missing.cnn"), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{out}: error: PNG output needs resvg (the resvg-py package)" in err
    assert "hint: pip install 'cnndsl[render]'" in err and not out.exists()


class _NoCairo(importlib.abc.MetaPathFinder):
    """Imports `cairosvg` as cairocffi does without libcairo: an OSError."""

    def find_spec(self, name, path=None, target=None):
        if name == "cairosvg":
            raise OSError("no library called \"cairo-2\" was found")
        return None


def test_a_missing_cairo_library_says_how_to_install_it(tmp_path: Path, capsys,
                                                         monkeypatch) -> None:
    monkeypatch.delitem(sys.modules, "cairosvg", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_NoCairo(), *sys.meta_path])
    out = tmp_path / "net.pdf"
    assert main(["draw", str(EXAMPLE), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "error: PDF output needs the system's cairo library" in err
    assert "hint: install it (Debian, Ubuntu: apt-get install libcairo2" in err
    assert not out.exists()


@pytest.mark.parametrize("args, message", [
    (["-o", "net.svg", "--scale", "2"], "--scale applies to PNG and PDF output"),
    (["-o", "net.png", "--scale", "0"], "--scale must be above 0 and at most 16, got 0"),
    (["-o", "net.png", "--scale", "nan"], "--scale must be above 0"),
    (["-o", "net.png", "--style", "volumes", "--format", "dot"], "the volumes style is a "
     "picture"),
])
def test_scale_and_format_errors(tmp_path: Path, capsys, args, message) -> None:
    args = [str(tmp_path / a) if a.startswith("net.") else a for a in args]
    assert main(["draw", str(EXAMPLE), *args]) == 1
    err = capsys.readouterr().err
    assert f"error: {message}" in err and "hint: " in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_a_png_too_large_is_refused_and_the_old_file_kept(tmp_path: Path, capsys) -> None:
    """NASNet-Mobile uncollapsed at --scale 16: far over MAX_PIXELS; refused before any
    pixel is made, and an existing output is left as it was."""
    out = tmp_path / "net.png"
    out.write_bytes(b"old")
    spec = Path(__file__).parent.parent / "examples" / "nasnet_mobile.cnn"
    assert main(["draw", str(spec), "-o", str(out), "--scale", "16"]) == 1
    err = capsys.readouterr().err
    assert "pixels, over the limit of 64,000,000" in err and "hint: lower --scale" in err
    assert out.read_bytes() == b"old" and sorted(tmp_path.iterdir()) == [out]


def test_png_to_standard_output(capsysbinary) -> None:
    assert main(["draw", str(EXAMPLE), "--format", "png", "-o", "-", "--scale", "1"]) == 0
    assert capsysbinary.readouterr().out.startswith(b"\x89PNG\r\n")

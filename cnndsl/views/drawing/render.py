"""A drawing as PNG or PDF, for slides and papers: the SVG handed to a well-kept renderer.

    cnndsl draw examples/lenet5.cnn --style volumes -o lenet5.png     # twice the SVG's size
    cnndsl draw examples/resnet50.cnn --collapse -o resnet50.pdf

cnndsl draws only SVG; turning it into pixels or a PDF page is a renderer's job, and a
renderer is too large a thing to write again. PNG is resvg's (the `resvg-py` wheels
carry it, with no system library); PDF is CairoSVG's (it needs the system's cairo
library, libcairo2, which most desktops and Debian-based images have): resvg has no PDF
writer, and svglib, the pure-Python one, drops our arrowheads and our monospace font.
Both come with `pip install 'cnndsl[render]'`; the core stays lark and NumPy.
"""

from __future__ import annotations

import re

FORMATS = ("png", "pdf")
INSTALL = "pip install 'cnndsl[render]'"
DEFAULT_SCALE = {"png": 2.0, "pdf": 1.0}  # PNG pixels (or PDF size) per SVG pixel
MAX_SCALE = 16.0
MAX_PIXELS = 64_000_000  # a PNG's width x height: 256 MB as RGBA while it is made


class RenderError(Exception):
    """What cannot be rendered, and how to get it: `message` and `hint`."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


def require(fmt: str) -> None:
    """`RenderError` unless the renderer for `fmt` can be imported (before any work)."""
    _renderer(fmt)


def check_size(svg: str, fmt: str, scale: float) -> None:
    """`RenderError` for a PNG too large to make in memory, said before it is made."""
    if fmt != "png":
        return
    width, height = declared(svg)
    pixels = round(width * scale) * round(height * scale)
    if pixels > MAX_PIXELS:
        raise RenderError(f"the PNG would be {round(width * scale):,} x "
                          f"{round(height * scale):,} pixels, over the limit of "
                          f"{MAX_PIXELS:,}",
                          "lower --scale, draw with --collapse, or write .svg or .pdf, "
                          "which have no pixels")


def render(svg: str, fmt: str, scale: float | None = None) -> bytes:
    """The SVG text as PNG or PDF bytes, `scale` times its declared size."""
    scale = DEFAULT_SCALE[fmt] if scale is None else scale
    check_size(svg, fmt, scale)
    module = _renderer(fmt)
    if fmt == "png":
        # A list of ints from resvg-py before 0.5; bytes since.
        return bytes(module.svg_to_bytes(svg_string=svg, zoom=scale))
    return module.svg2pdf(bytestring=svg.encode("utf-8"), scale=scale, unsafe=False)


def declared(svg: str) -> tuple[float, float]:
    """The width and height an SVG of ours declares on its root element."""
    found = re.search(r'<svg [^>]*width="([\d.]+)" height="([\d.]+)"', svg)
    if found is None:
        raise ValueError("not an SVG drawn by cnndsl")
    return float(found.group(1)), float(found.group(2))


def _renderer(fmt: str):
    if fmt == "png":
        try:
            import resvg_py
        except ImportError:
            raise RenderError("PNG output needs resvg (the resvg-py package)",
                              INSTALL) from None
        return resvg_py
    try:
        import cairosvg
    except ImportError:
        raise RenderError("PDF output needs CairoSVG", INSTALL) from None
    except OSError:  # cairocffi found no libcairo
        raise RenderError("PDF output needs the system's cairo library, which CairoSVG "
                          "cannot find",
                          "install it (Debian, Ubuntu: apt-get install libcairo2; macOS: "
                          "brew install cairo), or write .png or .svg") from None
    return cairosvg

"""The diagrams in a real browser (headless Chromium): rendered at the size the SVG
declares, and not blank.

One page shows every example's SVG (collapsed and not, and the volumes style) as
images; its script writes each image's rendered size and whether its pixels vary into
the page, and one `--dump-dom` reads them all back. One screenshot of a page of the
collapsed diagrams checks the whole is not blank. Skipped, with the reason, only when
no Chromium is installed (.ci/run installs the Debian package when it can).
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from pathlib import Path

import browser
import pytest

from cnndsl.language.frontend import compile_file
from cnndsl.views.drawing import draw

pytestmark = pytest.mark.skipif(browser.find() is None,
                                reason="no Chromium installed (apt-get install chromium)")

EXAMPLES = sorted(Path(__file__).parent.parent.glob("examples/*.cnn"))
SCRIPT = """
<script>
window.addEventListener('load', () => {
  const out = [];
  for (const img of document.images) {
    const r = img.getBoundingClientRect();
    const c = document.createElement('canvas');
    c.width = Math.min(img.naturalWidth, 4000); c.height = Math.min(img.naturalHeight, 4000);
    const g = c.getContext('2d');
    g.drawImage(img, 0, 0);
    let varied = false;
    try {
      const d = g.getImageData(0, 0, c.width, c.height).data;
      for (let i = 4; i < d.length; i += 4) {
        if (d[i] !== d[0] || d[i + 1] !== d[1] || d[i + 2] !== d[2]) { varied = true; break; }
      }
    } catch (e) { varied = 'error: ' + e; }
    out.push({id: img.id, width: r.width, height: r.height, varied: varied});
  }
  const pre = document.createElement('pre');
  pre.id = 'result';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


def page(svgs: dict[str, str]) -> str:
    images = "\n".join(
        f'<div><img id="{key}" src="data:image/svg+xml;base64,'
        f'{base64.b64encode(svg.encode()).decode()}"></div>' for key, svg in svgs.items())
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<style>body{{margin:0}} img{{display:block}}</style></head>"
            f"<body>{images}{SCRIPT}</body></html>")


def declared(svg: str) -> tuple[float, float]:
    found = re.search(r'<svg [^>]*width="([\d.]+)" height="([\d.]+)"', svg)
    assert found
    return float(found.group(1)), float(found.group(2))


def test_every_example_renders_at_its_size(tmp_path: Path) -> None:
    svgs = {}
    for path in EXAMPLES:
        graph, _ = compile_file(path)
        svgs[f"{path.stem}-full"] = draw(graph)
        svgs[f"{path.stem}-collapsed"] = draw(graph, collapse=True)
        svgs[f"{path.stem}-volumes"] = draw(graph, style="volumes")
    html = tmp_path / "all.html"
    html.write_text(page(svgs), encoding="utf-8")
    dom = browser.dump_dom(html)
    found = re.search(r'<pre id="result">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    results = {r["id"]: r for r in json.loads(found.group(1).replace("&quot;", '"'))}
    assert set(results) == set(svgs)
    for key, svg in svgs.items():
        width, height = declared(svg)
        got = results[key]
        assert (got["width"], got["height"]) == (pytest.approx(width, abs=1),
                                                 pytest.approx(height, abs=1)), key
        assert got["varied"] is True, (key, got["varied"])


def test_screenshot_is_not_blank(tmp_path: Path) -> None:
    keys = ["seed", "resnet50", "nasnet_mobile", "image_and_meta"]
    svgs = {}
    for key in keys:
        graph, _ = compile_file(Path(__file__).parent.parent / f"examples/{key}.cnn")
        svgs[key] = draw(graph, collapse=True)
    svgs["seed-volumes"] = draw(compile_file(Path(__file__).parent.parent
                                             / "examples/seed.cnn")[0], style="volumes")
    html = tmp_path / "shots.html"
    html.write_text(page(svgs).replace(SCRIPT, ""), encoding="utf-8")
    png = browser.screenshot(html, tmp_path / "shots.png", 1000, 2000)
    assert not browser.blank(png)


def test_rendered_png_and_pdf_look_as_the_browser_draws_the_svg(tmp_path: Path) -> None:
    """`draw -o NET.png --scale 1` (resvg) and `-o NET.pdf` (CairoSVG, read back at 96
    dpi by poppler when present) against Chromium's screenshot of the same SVG: the same
    size, and pixel for pixel alike but for the anti-aliasing of text and lines (measured:
    a mean grey difference of 1 and 2 out of 255; 0.2% and 0.4% of pixels over 64)."""
    np = pytest.importorskip("numpy")
    pytest.importorskip("resvg_py")
    from PIL import Image

    from cnndsl.cli import main

    spec = Path(__file__).parent.parent / "examples/image_and_meta.cnn"
    svg = tmp_path / "net.svg"
    assert main(["draw", str(spec), "-o", str(svg)]) == 0
    width, height = declared(svg.read_text(encoding="utf-8"))
    shot = browser.screenshot(svg, tmp_path / "shot.png", round(width), round(height))
    assert main(["draw", str(spec), "-o", str(tmp_path / "net.png"), "--scale", "1"]) == 0
    pages = [tmp_path / "net.png"]
    if shutil.which("pdftoppm") and main(["draw", str(spec), "-o",
                                          str(tmp_path / "net.pdf")]) == 0:
        subprocess.run(["pdftoppm", "-r", "96", "-png", "-singlefile",
                        str(tmp_path / "net.pdf"), str(tmp_path / "page")], check=True,
                       timeout=browser.TIMEOUT)
        pages.append(tmp_path / "page.png")
    with Image.open(shot) as image:
        seen = np.asarray(image.convert("L"), dtype=float)
    for page in pages:
        with Image.open(page) as image:
            got = np.asarray(image.convert("L"), dtype=float)
        assert got.shape == seen.shape, page.name
        difference = np.abs(got - seen)
        assert difference.mean() < 5 and (difference > 64).mean() < 0.01, page.name

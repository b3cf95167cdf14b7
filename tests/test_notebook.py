"""examples/lesson.ipynb runs top to bottom in a Jupyter kernel and exports to HTML.

Each cell's output is checked against the lesson's hand-computed numbers
(tests/test_numpy_lesson.py), not against what the notebook printed last time: the table
in the rich output, the pooled maps, the picture, the error with its caret.
"""

from __future__ import annotations

import base64
import json
import re

import browser
import pytest

for module in ("nbclient", "nbformat", "ipykernel", "nbconvert", "matplotlib"):
    pytest.importorskip(module)

from notebook import lesson_html, run_lesson  # noqa: E402


@pytest.fixture(scope="module")
def executed():
    return run_lesson()


def outputs(notebook):
    return [cell.get("outputs", []) for cell in notebook.cells if cell.cell_type == "code"]


def text_of(cell_outputs) -> str:
    parts = []
    for out in cell_outputs:
        if out.output_type == "stream":
            parts.append(out.text)
        elif "data" in out:
            parts.append(out.data.get("text/plain", ""))
    return "".join(parts)


def test_every_cell_ran_without_an_error(executed):
    cells = outputs(executed)
    assert len(cells) == 7
    assert all(out.output_type != "error" for cell in cells for out in cell)
    assert all(cell for cell in cells)  # every code cell shows something


def test_the_network_shows_its_table(executed):
    net = outputs(executed)[0][0]
    assert net.data["text/plain"] == "<Network 'lesson': 6x6x1 -> 2x2x2, 3 layers, 18 params>"
    html = net.data["text/html"]
    assert "<table" in html and '<td class="txt">conv 3x3/1 x2 bias=false</td>' in html
    assert '<td class="txt">4x4x2</td>' in html and '<td class="txt">2x2x2</td>' in html
    diagram = re.search(r'<div class="cnndsl-diagram"[^>]*>(<svg .*</svg>)\s*</div>', html, re.S)
    assert diagram, "the diagram is shown beside the table"
    titles = re.findall(r"<title>(\w+) \(", diagram.group(1))
    assert titles == ["input", "conv_1", "maxpool_1"]
    assert "conv_1 · 4x4x2 · 18 params" in diagram.group(1)


def test_summary_and_the_numbers_of_the_lesson(executed):
    cells = outputs(executed)
    assert "Total params:         18" in text_of(cells[1])
    assert text_of(cells[3]).replace(" ", "").startswith(
        "array([[3.,-1.,-3.,-1.],\n[-3.,1.,0.,-3.],\n[-3.,-3.,0.,1.],\n[3.,-2.,-2.,-1.]]")
    pooled = text_of(cells[4]).replace(" ", "").replace("\n", "")
    assert pooled == ("(array([[3.,0.],[3.,1.]],dtype=float32),"
                      "array([[-1.,1.],[0.,3.]],dtype=float32))")


def test_the_maps_picture_is_inline(executed):
    picture = outputs(executed)[5][0]
    png = base64.b64decode(picture.data["image/png"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000


def test_the_error_is_shown_with_its_caret(executed):
    shown = text_of(outputs(executed)[6])
    assert shown.startswith("<string>:1:16: error: kernel 7x7 is larger than the 6x6 input")
    assert "\n                   ^~~~~~~~~~~\n" in shown and "hint: use `same`" in shown


def test_html_export(executed, tmp_path):
    path = lesson_html(tmp_path, executed)
    assert path == tmp_path / "lesson.html"
    page = path.read_text(encoding="utf-8")
    assert "<table" in page and "conv_1" in page
    assert "data:image/png;base64," in page
    assert "Traceback" not in page


MEASURE = """
<script>
window.addEventListener('load', () => {
  const svg = document.querySelector('.cnndsl-diagram svg');
  const table = document.querySelector('table.cnndsl-report');
  const r = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
  const pre = document.createElement('pre');
  pre.id = 'measured';
  pre.textContent = JSON.stringify({width: r.width, height: r.height,
    declared: svg ? [svg.getAttribute('width'), svg.getAttribute('height')] : null,
    rows: table ? table.rows.length : 0, images: document.images.length});
  document.body.appendChild(pre);
});
</script>
"""


@pytest.mark.skipif(browser.find() is None,
                    reason="no Chromium installed (apt-get install chromium)")
def test_html_export_in_a_browser(executed, tmp_path):
    """The exported page in headless Chromium: the table has its rows, the diagram is drawn
    at the size its SVG declares, the maps picture loads, and the page is not blank."""
    page = lesson_html(tmp_path, executed)
    measured = tmp_path / "measured.html"
    measured.write_text(page.read_text(encoding="utf-8").replace("</body>", MEASURE + "</body>"),
                        encoding="utf-8")
    dom = browser.dump_dom(measured)
    found = re.search(r'<pre id="measured">(.*?)</pre>', dom, re.S)
    assert found, "the page's script did not run"
    seen = json.loads(found.group(1).replace("&quot;", '"'))
    width, height = (float(v) for v in seen["declared"])
    assert (seen["width"], seen["height"]) == pytest.approx((width, height), abs=1)
    assert seen["rows"] == 1 + 3 and seen["images"] >= 1  # header + input, conv, pool
    png = browser.screenshot(page, tmp_path / "lesson.png", 1200, 1600)
    assert not browser.blank(png)

"""The VS Code extension's TextMate grammar colours a docs page as VS Code would.

editors/vscode/test/render.mjs renders docs/language.md to HTML, its ```cnn fences
coloured by shiki, which runs VS Code's own engine (vscode-textmate on Oniguruma), with
our grammar (editors/vscode/syntaxes/cnn.tmLanguage.json) and VS Code's Dark+ theme. The
checks:

* every ```cnn fence of the page is coloured, and with `--plain` none is;
* in the HTML, the words get Dark+'s colours for their scopes: `def` and `input`
  (keyword.control) #C586C0, numbers and sizes (constant.numeric) #B5CEA8, comments
  #6A9955, layer and activation words (support.function) #DCDCAA, and nothing is marked
  invalid (#F44747);
* in headless Chromium, one screenshot of the page (highlighted) beside the same page with
  its cnn fences plain, both opened at the first section with a `def` block: each of the
  four colours covers at least ENOUGH pixels of the highlighted page and (almost) none of
  the plain one, so the check can fail.

Without `node` (20 or newer, for shiki), the node modules or Chromium, the tests skip with
the reason. The node modules are installed by `npm ci` as in tests/test_textmate.py, with
its helpers (one install at a time, a failure remembered for ten minutes).
"""

from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path

import browser
import pytest
import test_textmate as textmate  # node, its modules installed by one `npm ci` under a lock

from cnndsl.layers import BY_WORD

ROOT = Path(__file__).resolve().parents[1]
VSCODE = ROOT / "editors" / "vscode"
RENDER = VSCODE / "test" / "render.mjs"
PAGE = ROOT / "docs" / "language.md"
TIMEOUT = 120  # seconds for one render; a slow shared machine

# VS Code's Dark+ (shiki's `dark-plus`): the colours of the scopes our grammar gives.
KEYWORD = "#C586C0"  # keyword.control: def, input, output, as
NUMBER = "#B5CEA8"  # constant.numeric: 3, 3x3/2, x64, 0.5
COMMENT = "#6A9955"  # comment
LAYER = "#DCDCAA"  # support.function.layer / .activation (entity.name.function too)
INVALID = "#F44747"  # invalid
WANTED = {"keyword": KEYWORD, "number": NUMBER, "comment": COMMENT, "layer word": LAYER}
# Words that the page uses only as steps, so that every one of them must be a layer word.
STEPS_ONLY = ("conv", "dwconv", "maxpool", "avgpool", "flatten", "dense", "relu", "softmax")

WIDTH, HEIGHT = 1000, 4000  # one page's window; the screenshot holds two side by side
NEAR = 12  # RGB distance within which a pixel counts as a colour (Dark+'s number green is
#            27 from a grey, the anti-aliasing of the page's black-on-white text)
ENOUGH = 100  # pixels of each colour in the highlighted page (about 400 to 1,400 seen)
STRAY = 5  # at most this many in the plain page (none seen)

SPAN = re.compile(r'<span style="color:(#[0-9A-Fa-f]{6})">([^<]*)</span>')
CNN_BLOCK = re.compile(r'<pre class="shiki language-cnn .*?</pre>', re.S)


@pytest.fixture(scope="module")
def node() -> str:
    """The `node` command, with shiki and markdown-it installed in editors/vscode."""
    found = textmate.node_with_modules("the grammar is rendered with shiki, which runs on it")
    version = subprocess.run([found, "--version"], capture_output=True, text=True,
                             check=False).stdout.strip()
    major = re.match(r"v(\d+)\.", version)
    if major is None or int(major[1]) < 20:
        pytest.skip(f"shiki needs Node.js 20 or newer, this is {version or 'unknown'}")
    return found


def render(node: str, out: Path, *options: str) -> dict:
    done = subprocess.run([node, str(RENDER), str(PAGE), str(out), *options],
                          capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def pages(node: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict]]:
    """docs/language.md rendered with Dark+: `highlighted`, and `plain` (cnn fences
    plain), each (HTML file, render.mjs's summary)."""
    folder = tmp_path_factory.mktemp("vscode-render")
    return {name: (folder / f"{name}.html",
                   render(node, folder / f"{name}.html", "--theme", "dark-plus", *options))
            for name, options in (("highlighted", ()), ("plain", ("--plain",)))}


def coloured_words(page: Path) -> list[tuple[str, str]]:
    """(colour, text) of every coloured piece of the page's cnn blocks."""
    text = page.read_text(encoding="utf-8")
    return [(colour.upper(), html.unescape(word).strip())
            for block in CNN_BLOCK.findall(text) for colour, word in SPAN.findall(block)]


def colours_of(pairs: list[tuple[str, str]], word: str) -> set[str]:
    return {colour for colour, text in pairs if text == word}


# -- the HTML -----------------------------------------------------------------------------

def test_every_cnn_fence_is_coloured_and_only_then(pages) -> None:
    fences = len(re.findall(r"^```cnn\s*$", PAGE.read_text(encoding="utf-8"), re.M))
    assert fences >= 10, "docs/language.md should show many ```cnn programs"
    highlighted, plain = pages["highlighted"], pages["plain"]
    assert highlighted[1]["cnn_blocks"] == plain[1]["cnn_blocks"] == fences
    text = highlighted[0].read_text(encoding="utf-8")
    blocks = CNN_BLOCK.findall(text)
    assert len(blocks) == fences
    assert all(SPAN.search(block) for block in blocks), "a cnn block without colours"
    assert "dark-plus" in text and "background-color:#1E1E1E" in text
    assert not SPAN.search("".join(CNN_BLOCK.findall(plain[0].read_text(encoding="utf-8"))))


def test_the_words_get_dark_plus_colours(pages) -> None:
    pairs = coloured_words(pages["highlighted"][0])
    assert colours_of(pairs, "def") == {KEYWORD}
    assert colours_of(pairs, "input") == {KEYWORD}
    comments = {colour for colour, text in pairs if text.startswith("#")}
    assert comments == {COMMENT}
    numbers = {colour for colour, text in pairs
               if re.fullmatch(r"x?\d+(\.\d+)?(x\d+)*(/\d+(x\d+)*)?", text)}
    assert numbers == {NUMBER}
    for word in STEPS_ONLY:
        assert colours_of(pairs, word) == {LAYER}, word
    # Every step or activation word of the catalogue that the page shows is a layer word
    # somewhere (elsewhere it may be a value, `gelu=tanh`, or an option, `pad=1`).
    shown = [word for word in BY_WORD if colours_of(pairs, word)]
    assert len(shown) >= 20, shown
    assert [word for word in shown if LAYER not in colours_of(pairs, word)] == []
    assert [text for colour, text in pairs if colour == INVALID] == []


# -- the screenshot -----------------------------------------------------------------------

def first_def_section(page: Path) -> str:
    """The id of the heading above the first cnn block with a `def`."""
    text = page.read_text(encoding="utf-8")
    at = text.find(f'<span style="color:{KEYWORD}">def</span>')
    assert at > 0, "no highlighted `def` on the page"
    ids = re.findall(r'<h[1-6] id="([^"]+)"', text[:at])
    assert ids, "no heading above the first `def`"
    return ids[-1]


def pixels_near(image, colours: dict[str, str]) -> dict[str, int]:
    return browser.pixels_near(image, colours, NEAR)


@pytest.mark.skipif(browser.find() is None,
                    reason="no Chromium installed (apt-get install chromium)")
def test_a_screenshot_shows_the_colours(pages, tmp_path: Path) -> None:
    Image = pytest.importorskip("PIL.Image", reason="reading the screenshot needs Pillow")
    section = first_def_section(pages["highlighted"][0])
    # Chromium's --screenshot draws nothing for a page scrolled to an anchor, but an
    # iframe scrolls to its own anchor: both pages side by side, one screenshot.
    frames = "".join(
        f'<iframe src="{pages[name][0].resolve().as_uri()}#{section}"></iframe>'
        for name in ("highlighted", "plain"))
    both = tmp_path / "both.html"
    both.write_text(
        "<!DOCTYPE html><html><head><style>html, body { margin: 0; overflow: hidden; } "
        f"iframe {{ float: left; border: 0; width: {WIDTH}px; height: {HEIGHT}px; }}"
        f"</style></head><body>{frames}</body></html>", encoding="utf-8")
    png = browser.screenshot(both, tmp_path / "both.png", 2 * WIDTH, HEIGHT)
    seen = {}
    with Image.open(png) as image:
        for name, left in (("highlighted", 0), ("plain", WIDTH)):
            half = image.crop((left, 0, left + WIDTH, HEIGHT))
            # The page was drawn: its code boxes have Dark+'s background.
            assert pixels_near(half, {"background": "#1E1E1E"})["background"] > 10_000, name
            seen[name] = pixels_near(half, WANTED)
    assert all(n >= ENOUGH for n in seen["highlighted"].values()), seen
    assert all(n <= STRAY for n in seen["plain"].values()), seen

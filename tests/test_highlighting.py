"""The Pygments lexer for `.cnn` (cnndsl/highlighting): found by Pygments, clean on every
program we publish, exact on two programs worked by hand, faithful to the layer catalogue,
and visible: a docs page shows its colours in a real browser.

- Pygments finds the lexer by name, file name and MIME type through the entry point
  (skipped, with the reason, when cnndsl is not installed and so has no entry point).
- Every example and every ```cnn block of the docs and the README lexes with no `Error`
  token and gives back its text; a block that `cnndsl` accepts as a program is marked
  ```cnn; what is not `.cnn` (a shell line, an error message) does give `Error` tokens.
- The lesson's network and a version-2 program lex to the (token, text) pairs written here.
- Every word of the catalogue is coloured as what it is; the word lists agree with the
  grammar's reserved words, and the options and flags `words` finds for each step are
  what the front end accepts.
- docs/language.md rendered with markdown-it-py, its fences coloured, in headless
  Chromium: the colours of a comment, a layer word, a number and a keyword are in the
  screenshot, and none of them when the page is rendered without the lexer.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import pytest

pytest.importorskip("pygments", reason="the lexer needs Pygments: pip install -e '.[editor]'")
pytest.importorskip("markdown_it", reason="docs pages need markdown-it-py: pip install -e "
                    "'.[editor]'")

import browser  # noqa: E402
import docs_page  # noqa: E402
from markdown_it import MarkdownIt  # noqa: E402
from pygments import lexers  # noqa: E402
from pygments.token import (  # noqa: E402
    Comment,
    Error,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Whitespace,
)

from cnndsl import CnnError, compile_text  # noqa: E402
from cnndsl.highlighting import words  # noqa: E402
from cnndsl.highlighting.lexer import CnnLexer  # noqa: E402
from cnndsl.layers import BY_WORD, KINDS, Input, Merge  # noqa: E402
from cnndsl.layers.activations import ACTIVATIONS  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(ROOT.glob("examples/*.cnn"))
PAGES = [*sorted(ROOT.glob("docs/*.md")), ROOT / "README.md"]


def tokens(text: str) -> list[tuple[object, str]]:
    """(token type, text) pairs, the text kept whole (no newline stripped or added)."""
    return list(CnnLexer(stripnl=False, ensurenl=False).get_tokens(text))


def fences(page: Path) -> list[tuple[str, str, str]]:
    """(where, info, content) of each fenced block of a Markdown page."""
    md = MarkdownIt("commonmark")
    return [(f"{page.name}:{tok.map[0] + 1}", tok.info.strip(), tok.content)
            for tok in md.parse(page.read_text(encoding="utf-8"))
            if tok.type == "fence" and tok.map]


BLOCKS = [(where, text) for page in PAGES for where, info, text in fences(page)
          if info == "cnn"]
UNMARKED = [(where, text) for page in PAGES for where, info, text in fences(page) if not info]


# -- Pygments finds it ------------------------------------------------------------------

def _entry_point() -> bool:
    return any(ep.value == "cnndsl.highlighting.lexer:CnnLexer"
               for ep in entry_points(group="pygments.lexers"))


@pytest.mark.skipif(not _entry_point(), reason="cnndsl is not installed (pip install -e .), "
                    "so the `pygments.lexers` entry point is not registered")
def test_pygments_finds_the_lexer_by_name_file_and_mime_type() -> None:
    assert type(lexers.get_lexer_by_name("cnn")) is CnnLexer
    assert type(lexers.get_lexer_by_name("cnndsl")) is CnnLexer
    assert type(lexers.get_lexer_for_filename("x.cnn")) is CnnLexer
    assert type(lexers.get_lexer_for_mimetype("text/x-cnn")) is CnnLexer


# -- clean on every program we publish ----------------------------------------------------

def _assert_clean(text: str) -> None:
    found = tokens(text)
    errors = [value for token, value in found if token in Error]
    assert not errors, f"Error tokens: {errors[:10]}"
    assert "".join(value for _, value in found) == text


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_lexes_without_error(path: Path) -> None:
    _assert_clean(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("where, text", BLOCKS, ids=[w for w, _ in BLOCKS])
def test_every_cnn_block_of_the_docs_lexes_without_error(where: str, text: str) -> None:
    _assert_clean(text)


def test_the_docs_mark_their_cnn_blocks() -> None:
    assert len(BLOCKS) >= 40, "the ```cnn fences of docs/*.md and README.md are gone"
    assert {w.split(":")[0] for w, _ in BLOCKS} >= {"language.md", "README.md", "import.md"}


@pytest.mark.parametrize("where, text", UNMARKED, ids=[w for w, _ in UNMARKED])
def test_an_unmarked_block_is_no_program(where: str, text: str) -> None:
    """A block cnndsl accepts as a program should say ```cnn, to be coloured."""
    try:
        compile_text(text)
    except CnnError:
        return
    pytest.fail(f"{where} is a .cnn program: fence it as ```cnn")


@pytest.mark.parametrize("text", [
    "$ cnndsl check digits.cnn\nok: 7 layers, 12,810 params\n",
    "t.cnn:1:16: error: kernel 7x7 is larger than the 6x6 input\n",
    "pip install -e '.[editor]'\n",
    "input 6x6x1 -> conv 3 x2 - relu\n",
])
def test_what_is_not_cnn_gives_error_tokens(text: str) -> None:
    assert any(token in Error for token, _ in tokens(text))


@pytest.mark.parametrize("text", [
    # every form of docs/language.md and the contract, LANGUAGE.md (versions 1 to 3)
    "input 16x64x64x1 -> conv 3x3x3 x8 -> maxpool 2x1x1/1 same",
    "input 8x8x2 -> zeropad 0:1x0:1 -> crop 1:2 -> zeropad 1x0:1 -> pad {p}:0x1 reflect",
    "def b(n, k=3, p=0.5) = conv {k}x{k}/{1} x{2*n} same -> dropout {p} -> conv 1 x{C//2}",
    "input 224x224x3 -> rescale {1/127.5} offset=-1 -> normalize mean=0.485,0.456,0.406 "
    "variance=0.052, 0.050, 0.051",
    "input 4x4x64 -> split 24,40 { id | relu } -> split {a},{C-a} { id | id } -> split 2 {id}",
    "input 8 -> leaky_relu=0.1 -> elu=0.5 -> gelu=tanh -> clip=-1,1 -> dense 10 bias=false",
    "input 8x8x3 -> block(64, s=2) -> stem() -> inner({n}) -> inner(n) -> cell(@c0, 32)",
    "input 8x8x3 -> (conv 3 x64 same relu -> bn) * {1+2} -> (relu) * 3 -> residual {bn}",
    "input 8x8x3 as x -> conv 1 x8 as a -> @x -> concat { @a | @x -> relu } name=c",
    "input 10 as meta\n@meta -> dense 8 as m\noutput @m, @meta",
    "input 8x8x3 -> batchnorm eps=1e-5 momentum=0.9 -> bn eps=1.001e-5 -> dropout .5",
    "input 100x1 -> conv 2 x16 causal dilation=2 -> maxpool 3/2 pad=1 ceil include_pad",
    "input 8x8x3 -> gap keepdims -> flatten chw -> upsample 2 bilinear -> prelu shared",
    "def widen(v, r) = conv 1 x{max(8, r + 8 * min(1, max(0, ceil((0.9*v - r) / 8))))}",
    "input {28*28} -> reshape 28x28x1   # a comment\n# another\n",
    "\ufeffinput 4 -> relu\n",
    "input 4\t->\r\n  relu\r\n",
])
def test_every_construct_lexes_without_error(text: str) -> None:
    found = list(CnnLexer().get_tokens(text))  # Pygments drops a BOM and reads \r\n as \n
    assert not [value for token, value in found if token in Error]


# -- exact on two programs ----------------------------------------------------------------

K, KR, KP = Keyword, Keyword.Reserved, Keyword.Pseudo
B, BP, F, A, V = Name.Builtin, Name.Builtin.Pseudo, Name.Function, Name.Attribute, Name.Variable
INT, OP, P, W, X = Number.Integer, Operator, Punctuation, Whitespace, String.Interpol


def test_the_lesson() -> None:
    text = "input 6x6x1 -> conv 3x3/1 x2 -> maxpool 2 -> flatten -> dense 10"
    assert tokens(text) == [
        (K, "input"), (W, " "), (INT, "6"), (OP, "x"), (INT, "6"), (OP, "x"), (INT, "1"),
        (W, " "), (OP, "->"), (W, " "),
        (B, "conv"), (W, " "), (INT, "3"), (OP, "x"), (INT, "3"), (OP, "/"), (INT, "1"),
        (W, " "), (OP, "x"), (INT, "2"), (W, " "), (OP, "->"), (W, " "),
        (B, "maxpool"), (W, " "), (INT, "2"), (W, " "), (OP, "->"), (W, " "),
        (B, "flatten"), (W, " "), (OP, "->"), (W, " "),
        (B, "dense"), (W, " "), (INT, "10"),
    ]


def test_a_version_2_program() -> None:
    text = ("def cell(@prev, f=8) = relu -> conv 1 x{f} as h -> @prev -> add { @h | id }\n"
            "input 8x8x3 as image -> cell(@image) as c -> cell  # twice\n"
            "output @c\n")
    assert tokens(text) == [
        (K, "def"), (W, " "), (F, "cell"), (P, "("), (V, "@prev"), (P, ","), (W, " "),
        (A, "f"), (OP, "="), (INT, "8"), (P, ")"), (W, " "), (OP, "="), (W, " "),
        (BP, "relu"), (W, " "), (OP, "->"), (W, " "),
        (B, "conv"), (W, " "), (INT, "1"), (W, " "), (OP, "x"), (X, "{f}"), (W, " "),
        (K, "as"), (W, " "), (V, "h"), (W, " "), (OP, "->"), (W, " "), (V, "@prev"), (W, " "),
        (OP, "->"), (W, " "), (KR, "add"), (W, " "), (P, "{"), (W, " "), (V, "@h"), (W, " "),
        (OP, "|"), (W, " "), (KP, "id"), (W, " "), (P, "}"), (W, "\n"),
        (K, "input"), (W, " "), (INT, "8"), (OP, "x"), (INT, "8"), (OP, "x"), (INT, "3"),
        (W, " "), (K, "as"), (W, " "), (V, "image"), (W, " "), (OP, "->"), (W, " "),
        (F, "cell"), (P, "("), (V, "@image"), (P, ")"), (W, " "), (K, "as"), (W, " "),
        (V, "c"), (W, " "), (OP, "->"), (W, " "), (F, "cell"), (W, "  "),
        (Comment.Single, "# twice"), (W, "\n"),
        (K, "output"), (W, " "), (V, "@c"), (W, "\n"),
    ]


def test_numbers_options_and_names() -> None:
    text = "dropout 1e-3 name=drop -> clip=-1,1 -> split 24,{C-24} {relu}"
    assert tokens(text) == [
        (B, "dropout"), (W, " "), (Number.Float, "1e-3"), (W, " "),
        (A, "name"), (OP, "="), (Name.Label, "drop"), (W, " "), (OP, "->"), (W, " "),
        (BP, "clip"), (OP, "="), (INT, "-1"), (P, ","), (INT, "1"), (W, " "), (OP, "->"),
        (W, " "), (KR, "split"), (W, " "), (INT, "24"), (P, ","), (X, "{C-24}"), (W, " "),
        (P, "{"), (BP, "relu"), (P, "}"),
    ]


# -- faithful to the catalogue ------------------------------------------------------------

def _last(text: str) -> tuple[object, str]:
    """The last token that is not whitespace."""
    return [t for t in tokens(text) if t[0] is not Whitespace][-1]


def test_every_kind_of_the_catalogue_has_its_colour() -> None:
    """A kind whose words the lexer left uncoloured (a plain `Name`) fails here."""
    for kind in KINDS:
        if kind is Input:
            assert _last("input") == (Keyword, "input")
        elif issubclass(kind, Merge):
            assert _last(f"input 8 -> {kind.kind}") == (KR, kind.kind)
        elif not any(k is kind for k in BY_WORD.values()):  # `part`: made, never written
            assert kind.kind not in words.step_words()
        else:
            for word in kind.words or (kind.kind,):
                expected = BP if word in ACTIVATIONS else B
                assert _last(f"input 8 -> {word}") == (expected, word), kind


@pytest.mark.parametrize("word", words.layer_words())
def test_a_layer_word_is_a_builtin(word: str) -> None:
    assert _last(f"input 8 -> {word}") == (B, word)


@pytest.mark.parametrize("word", words.activation_words())
def test_an_activation_is_a_pseudo_builtin_fused_or_alone(word: str) -> None:
    assert _last(f"input 8 -> {word}") == (BP, word)
    assert _last(f"input 8 -> dense 4 {word}") == (BP, word)


@pytest.mark.parametrize("word", words.valued_activation_words())
def test_an_activation_with_a_value_is_a_pseudo_builtin(word: str) -> None:
    assert tokens(f"{word}=0.1")[0] == (BP, word)


@pytest.mark.parametrize("word", words.merge_words())
def test_a_merge_is_reserved(word: str) -> None:
    assert tokens(f"{word} {{ id | relu }}")[:3] == [(KR, word), (W, " "), (P, "{")]


@pytest.mark.parametrize("word", [*words.constant_words(), *words.flag_words()])
def test_a_constant_or_flag_is_a_constant(word: str) -> None:
    assert _last(f"conv 3 x8 {word}") == (Name.Constant, word)


@pytest.mark.parametrize("word", words.option_names())
def test_an_option_is_an_attribute(word: str) -> None:
    assert tokens(f"{word}=1")[:2] == [(A, word), (OP, "=")]


@pytest.mark.parametrize("word", words.KEYWORDS)
def test_a_keyword_is_a_keyword(word: str) -> None:
    assert tokens(word) == [(K, word)]


def test_the_word_lists_are_disjoint() -> None:
    lists = {"layers": words.layer_words(), "activations": words.activation_words(),
             "merges": words.merge_words(), "constants": words.constant_words(),
             "flags": words.flag_words(), "keywords": words.KEYWORDS,
             "identity": (words.IDENTITY,)}
    for name, found in lists.items():
        for other, more in lists.items():
            if name < other:
                assert not set(found) & set(more), (name, other)


def test_the_reserved_words_are_the_grammars() -> None:
    grammar = (ROOT / "grammar" / "cnn.lark").read_text(encoding="utf-8")
    rules = dict(line.split(":", 1) for line in grammar.splitlines()
                 if line[:1].isupper() and ":" in line)
    keywords = {rules[f"{name}.3"].strip().strip("/").removesuffix("\\b")
                for name in ("DEF", "INPUT", "OUTPUT", "AS")}
    merges = rules["MERGE.3"].strip().strip("/").removesuffix("\\b").strip("()").split("|")
    assert set(words.KEYWORDS) == keywords
    assert set(words.merge_words()) == set(merges)


SHAPES = {1: "4", 2: "8x4", 3: "8x8x4", 4: "8x8x8x4"}
FORMS = {"size": "1", "width": "x4", "count": "1", "scalar": "0.5"}  # what each needs


def _accepted(word: str, extra: str) -> bool:
    """Whether the front end takes `word` with its required arguments and `extra` at
    some input rank it accepts."""
    kind = BY_WORD[word]
    syntax = words.step_syntax(word)
    for rank in kind.ranks:
        args = [SHAPES[rank] if (form, word) == ("size", "reshape") else FORMS[form]
                for form in syntax.forms if form in FORMS]
        try:
            compile_text(f"input {SHAPES[rank]} -> {word} {' '.join(args)} {extra}")
        except CnnError:
            continue
        return True
    return False


@pytest.mark.parametrize("word", words.layer_words())
def test_the_flags_found_are_those_the_front_end_takes(word: str) -> None:
    assert _accepted(word, ""), "the probe's required arguments do not make a step"
    for flag in words.flag_words():
        assert _accepted(word, flag) == (flag in words.flag_words(word)), flag


@pytest.mark.parametrize("word", [*words.layer_words(), *words.activation_words()])
def test_the_options_found_include_those_the_kind_declares(word: str) -> None:
    declared = set(BY_WORD[word].options) - set(ACTIVATIONS)
    assert declared <= set(words.option_names(word))
    assert "name" in words.option_names(word)


# -- visible in a browser -----------------------------------------------------------------

WANTED = {"comment": Comment.Single, "keyword": Keyword, "layer word": Name.Builtin,
          "number": Number.Integer}
NEAR = 30  # distance in RGB within which a pixel counts as that colour (antialiasing)


def _pixels_near(png: Path, colours: dict[str, str]) -> dict[str, int]:
    from PIL import Image

    with Image.open(png) as image:
        return browser.pixels_near(image, colours, NEAR)


@pytest.mark.skipif(browser.find() is None,
                    reason="no Chromium installed (apt-get install chromium)")
def test_a_docs_page_shows_the_colours(tmp_path: Path) -> None:
    pytest.importorskip("PIL", reason="reading the screenshot needs Pillow")
    colours = {what: docs_page.DocsStyle.style_for_token(token)["color"]
               for what, token in WANTED.items()}
    assert len(set(colours.values())) == len(colours), colours
    text = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    seen = {}
    for name, coloured in (("highlighted", True), ("plain", False)):
        html = tmp_path / f"{name}.html"
        html.write_text(docs_page.page(text, "language.md", coloured), encoding="utf-8")
        # Tall: the cheat sheet fills the first 1,300 pixels, the code starts below it.
        png = browser.screenshot(html, tmp_path / f"{name}.png", 1000, 4000)
        seen[name] = _pixels_near(png, colours)
    assert all(n >= 40 for n in seen["highlighted"].values()), seen
    assert all(n < 5 for n in seen["plain"].values()), seen

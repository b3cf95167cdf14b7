"""The escapers of `cnndsl.support.escaping`, one per format, on hostile names.

Each format is read back by its own reader where Python has one (the cnndsl parser, Python's
compiler and `ast.literal_eval`, an XML parser, an HTML parser) or by its grammar's rule
for the token where it has none (Graphviz's quoted string, Mermaid's quoted label): the
escaped name must be one token of that format, its value the name as `visible` shows it,
and the text free of the characters that end a line, reorder it or that the format
refuses. The names are the issue's (a newline followed by a `def`, a right-to-left
override) and every trick the module's docstring lists, then Hypothesis's text.
"""

from __future__ import annotations

import ast
import html
import keyword
import re
import unicodedata
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnndsl import compile_text
from cnndsl.support.escaping import (
    UNSAFE,
    cnn_comment,
    cnn_name,
    dot_string,
    html_text,
    markdown_cell,
    mermaid_label,
    python_identifier,
    python_string,
    visible,
    xml_attribute,
    xml_text,
)

HOSTILE = [
    "x\ndef evil(k) = conv 3 x{k}\n# ",  # issue 19, item 12
    "safe\u202egpj.cnn",  # right-to-left override: reads `safencc.jpg`
    "a\rb", "a\r\nb", "a\u2028b", "a\u2029b", "a\x85b", "a\x0bb\x0cc\x1cd",
    "\u2066isolate\u2069", "\u200fmark", "\u061c", "nul\x00byte", "\x1b[31mred",
    "quote\"and'apostrophe", "back\\slash\\", "\\", '"', "-->", "</script>", "]]>", "<!--",
    "&amp;", "#quot;", "`code`", "|pipe|", "a b", "", " ", "1x1", "x1", "add", "def",
    "__debug__", "class", "None", "match", "café", "ﬁle", "😀", "\udce9", "\ufffe\uffff",
    "a" * 100_000, "é" * 300,
]
names = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40))


def test_the_issue_s_names_stay_inside_a_comment():
    for name in HOSTILE[:2]:
        text = f"# {cnn_comment(name)}\ninput 4 -> dense 3\n"
        assert text.count("\n") == 2 and len(text.splitlines()) == 2
        assert "\u202e" not in text and "def evil" not in text.splitlines()[1]
        assert len(compile_text(text).nodes) == 2


@given(names)
def test_a_comment_is_one_comment(name):
    comment = cnn_comment(name)
    assert not UNSAFE.search(comment) and len(comment.splitlines()) <= 1
    assert len(comment) < 300  # cut, its length said
    assert len(compile_text(f"# {comment}\ninput 4 -> dense 3").nodes) == 2
    comment.encode("utf-8")


@given(names)
def test_a_cnn_name_reads_back_as_that_name(name):
    n = cnn_name(name)
    graph = compile_text(f"input 4 -> dense 3 name={n} as {n} -> relu -> add {{ id | @{n} }}")
    assert graph.nodes[1].name == n
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,199}", name) and not name.startswith("x") \
            and name not in ("add", "def", "input", "output", "as", "C", "id"):
        assert n == name  # a name that is one is kept


@given(names)
def test_a_python_identifier_can_be_assigned(name):
    n = python_identifier(name)
    compile(f"{n} = 0\n", "<generated>", "exec")  # our output, not the user's text
    assert n.isascii() or n.isidentifier()
    if name.isidentifier() and not keyword.iskeyword(name) and name != "__debug__":
        assert n == unicodedata.normalize("NFKC", name)


def test_python_identifier_refuses_what_python_refuses_as_a_target():
    assert python_identifier("__debug__") == "__debug___"
    assert python_identifier("True") == "True_"
    assert python_identifier("match") == "match" and python_identifier("_") == "_"
    assert python_identifier("ﬁle") == python_identifier("file")  # NFKC: one name to Python


@given(names)
def test_a_python_string_has_exactly_the_name_as_value(name):
    literal = python_string(name)
    assert literal.isascii() and "\n" not in literal and literal[0] == literal[-1] == '"'
    assert ast.literal_eval(literal) == name


_DOT_STRING = re.compile(r'"(?:\\.|[^"\\\n\r])*"')


@given(st.lists(names, min_size=1, max_size=3))
def test_a_dot_string_is_one_quoted_id(lines):
    quoted = dot_string(lines)
    assert _DOT_STRING.fullmatch(quoted), quoted
    assert not UNSAFE.search(quoted)
    # dot reads `\n` as a line break, `\"` and `\\` as the characters
    decoded = re.sub(r"\\(.)", lambda m: "\n" if m[1] == "n" else m[1], quoted[1:-1])
    assert decoded == "\n".join(visible(x) for x in lines)


def test_a_dot_string_keeps_a_line_per_line():
    assert dot_string(["conv 3x3", "a\nb"]) == '"conv 3x3\\na\\\\nb"'


_ENTITY = re.compile(r"#(\d+);")


@given(names)
def test_a_mermaid_label_cannot_end_its_quotes(name):
    label = mermaid_label(name)
    assert not set('"<>`&\n\r') & set(label) and not UNSAFE.search(label)
    assert "#" not in _ENTITY.sub("", label)  # every `#` starts an entity code
    assert _ENTITY.sub(lambda m: chr(int(m[1])), label) == visible(name)


@given(names)
def test_xml_text_and_attributes_parse_back(name):
    element = ET.fromstring(f"<svg a={xml_attribute(name)}><title>{xml_text(name)}</title>"
                            "</svg>")
    assert element.get("a") == visible(name)
    assert (element[0].text or "") == visible(name)


class _Texts(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.data: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.data.append(data)


@given(names)
def test_html_text_makes_no_element(name):
    parser = _Texts()
    parser.feed(f"<script>var a;</script><td title=\"{html_text(name)}\">{html_text(name)}</td>")
    assert parser.tags == ["script", "td"]
    assert "".join(parser.data[1:]) == visible(name)
    assert html.unescape(html_text(name)) == visible(name)


@given(names)
def test_a_markdown_cell_stays_in_its_cell(name):
    cell = markdown_cell(name)
    assert not re.search(r"(?<!\\)\|", cell) and "<" not in cell and "\n" not in cell


@pytest.mark.parametrize("name", HOSTILE)
def test_every_escaper_writes_utf8(name):
    for escape in (cnn_comment, cnn_name, python_identifier, python_string, dot_string,
                   mermaid_label, xml_text, xml_attribute, html_text, markdown_cell):
        escape(name).encode("utf-8")


# ---- every writer, on the names a spec and its file can give ------------------------------------

SPEC_NAME = "x\n</script>\u202e]]>-->\"'\\\x00😀"  # the file's stem: anything but `/`
STEP_COMMENT = "input 4 -> dense # \u202e</title><script>x</script> ]]> -->\n 3 name=d -> relu\n"


def test_every_writer_escapes_the_names_it_is_given():
    """Item 12: the writers of every format on a network whose name (its file's stem) and
    step text (a comment inside a step) hold a line break, a bidi override, NUL, quotes,
    a backslash, and each format's closing sequence."""
    from cnndsl import Network
    from cnndsl.backends.keras.source import python_source
    from cnndsl.views.drawing import draw
    from cnndsl.views.printing.printer import to_text
    from cnndsl.views.report import to_markdown

    graph = compile_text(STEP_COMMENT, SPEC_NAME)
    assert "\u202e" in graph.nodes[1].text  # the comment reaches the step's text
    for style in ("boxes", "volumes"):
        svg = draw(graph, "svg", style)
        assert ET.fromstring(svg.split("\n", 1)[1]).find(
            "{http://www.w3.org/2000/svg}title").text == visible(SPEC_NAME)
    outputs = {"svg": draw(graph), "dot": draw(graph, "dot"),
               "mermaid": draw(graph, "mermaid"), "html": Network(graph)._repr_html_(),
               "markdown": to_markdown(Network(graph).stats()),
               "python": python_source(graph, SPEC_NAME + ".cnn"),
               "cnn": to_text(graph, names=True)}
    for fmt, text in outputs.items():
        assert not any(UNSAFE.search(line) for line in text.split("\n")), fmt
        text.encode("utf-8")
    assert outputs["dot"].split("\n")[0] == f"digraph {dot_string(SPEC_NAME)} {{"
    assert all(line.startswith(("flowchart", "  n", "  class")) for line in
               outputs["mermaid"].splitlines())
    parser = _Texts()
    parser.feed(outputs["html"])
    assert "script" not in parser.tags and "title" in parser.tags
    compile(outputs["python"], "generated.py", "exec")  # our output
    assert f"name={python_string(SPEC_NAME)})" in outputs["python"]
    assert len(compile_text(outputs["cnn"]).nodes) == 3

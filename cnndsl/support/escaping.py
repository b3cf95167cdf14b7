"""One escaping function per kind of text cnndsl writes, for every name it did not choose.

    f"# {cnn_comment(model_name)}"             # a comment that stays one comment
    f"name={cnn_name(keras_name)}"             # a name the grammar reads as a name
    f"{python_identifier(n)} = layers.Dense({python_string(n)})"
    f"digraph {dot_string(name)} {{"           # a Graphviz quoted ID
    f'n0["{mermaid_label(step)}"]'             # inside a quoted Mermaid label
    f"<title>{xml_text(name)}</title>"         # SVG; xml_attribute for attributes
    f"<td>{html_text(name)}</td>"              # a notebook's HTML

Names come from files cnndsl did not write (a Keras model's and layers' names, a spec's
file name, the text of a step and its comments) and may hold anything: line breaks that
end a comment and start a statement, bidirectional overrides that make a line read other
than it is (Trojan Source), NUL and other characters a format refuses, quotes and
backslashes, a format's own closing sequence (`-->`, `]]>`, `</script>`), megabytes.
Each function makes one format's text from any string: what it writes reads back as one
token of that format (a string, a name, a comment, a label), shows every unsafe
character as a visible escape (`\\n`, `\\u202e`), and can be written as UTF-8 (a lone
surrogate from a file name that is not UTF-8 is escaped too). Writers call these and
escape nothing by hand.
"""

from __future__ import annotations

import keyword
import re
import unicodedata
from collections.abc import Iterable
from html import escape as _html_escape

# Characters that break a line, move a terminal's cursor, reorder what is shown or that a
# format refuses: C0 but the tab, DEL, C1 (\x85 ends a line, \x9b starts an escape
# sequence), the Arabic letter mark, the directional marks, the line and paragraph
# separators, the bidirectional embeddings, overrides and isolates, the interlinear
# annotation marks, surrogates (not UTF-8) and the noncharacters U+FFFE/U+FFFF (not XML).
UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e"
                    "\u2066-\u2069\ufff9-\ufffb\ufffe\uffff\ud800-\udfff]")

COMMENT_LIMIT = 200  # a longer name in a comment is cut, its length said
# A longer `.cnn` name is cut: far under the grammar's limit on a word
# (limits.MAX_NAME_CHARS), with room for the `_2` that makes a name unique.
NAME_LIMIT = 200


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # a byte of a file name that is not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return {"\n": "\\n", "\r": "\\r"}.get(match.group()) or (
        f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def visible(text: object, limit: int | None = None) -> str:
    r"""`text` on one line with every unsafe character as a visible escape, cut after
    `limit` characters (if given) with its length said.

    >>> visible("a\nb\u202ec")
    'a\\nb\\u202ec'
    >>> visible("a" * 1000, limit=5)
    'aaaaa…(1,000 characters)'
    """
    text = str(text)
    if limit is not None and len(text) > limit:
        text = text[:limit] + f"…({len(text):,} characters)"
    return UNSAFE.sub(_escape, text)


# -- .cnn -------------------------------------------------------------------------------------

def cnn_comment(text: object, limit: int | None = COMMENT_LIMIT) -> str:
    r"""Text for a `# ...` comment of a `.cnn` file: one line, whatever `text` holds.

    >>> cnn_comment("x\ndef evil(k) = relu")
    'x\\ndef evil(k) = relu'
    """
    return visible(text, limit)


# Words a `.cnn` name may not be: the grammar's keywords and merges, the automatic input
# name and `C` (the channels a block reads, `{C*2}`).
CNN_WORDS = frozenset({"def", "input", "output", "as", "add", "mul", "avg", "max", "concat",
                       "residual", "id", "C", "split"})


def cnn_name(text: object, fallback: str = "layer") -> str:
    """A name the grammar reads as one name wherever a name goes (`name=N`, `as N`,
    `@N`): ASCII letters, digits and `_`, not starting as a number or a width would (`1a`,
    `x1`), not a keyword, at most NAME_LIMIT characters. A name that already is one is
    returned as it is.

    >>> cnn_name("conv1"), cnn_name("block 1/conv"), cnn_name("x1"), cnn_name("add")
    ('conv1', 'block_1_conv', 'l_x1', 'add_')
    """
    name = re.sub(r"\W", "_", str(text)[:NAME_LIMIT], flags=re.ASCII) or fallback
    if not re.match(r"[A-Za-z_]", name) or re.fullmatch(r"x\d.*", name):
        name = "l_" + name
    return name + "_" if name in CNN_WORDS else name


# -- Python source ----------------------------------------------------------------------------

def python_identifier(text: object) -> str:
    """A name Python accepts as an assignment target: an identifier (as Python reads it,
    NFKC-normalised, so that two names that Python would read as one compare equal), not
    a keyword, not `__debug__`. Soft keywords (`match`, `type`, `_`) and builtins are fine
    there. A name that already is one is returned as it is.

    >>> python_identifier("conv1"), python_identifier("class"), python_identifier("__debug__")
    ('conv1', 'class_', '__debug___')
    >>> python_identifier("1x1 conv")
    '_1x1_conv'
    """
    name = unicodedata.normalize("NFKC", str(text))
    name = "".join(c if ("a" + c).isidentifier() else "_" for c in name) or "_"
    name = unicodedata.normalize("NFKC", name)
    if not name.isidentifier():
        name = "_" + name
    if keyword.iskeyword(name) or name == "__debug__":
        name += "_"
    return name


def python_string(text: object) -> str:
    r"""A double-quoted Python string literal whose value is exactly `text`, in ASCII:
    quotes, backslashes, line breaks, bidirectional controls and everything else outside
    printable ASCII as escapes (JSON's would turn an emoji into two surrogates).

    >>> python_string('a"b\\c\n\u202e😀')
    '"a\\"b\\\\c\\n\\u202e\\U0001f600"'
    """
    out = ['"']
    for c in str(text):
        if c in '"\\':
            out.append("\\" + c)
        elif " " <= c <= "~":
            out.append(c)
        else:
            out.append(ascii(c)[1:-1])
    out.append('"')
    return "".join(out)


# -- diagrams ---------------------------------------------------------------------------------

def dot_string(lines: str | Iterable[str]) -> str:
    r"""A Graphviz quoted ID (a graph name, a label) from one line or several, joined by
    dot's own line break `\n`; each line's unsafe characters shown as escapes, which dot
    prints as written.

    >>> print(dot_string(["conv 3x3", 'a"b\\c\u202e']))
    "conv 3x3\na\"b\\c\\u202e"
    """
    parts = [lines] if isinstance(lines, str) else list(lines)
    inner = (visible(p).replace("\\", "\\\\").replace('"', '\\"') for p in parts)
    return '"' + "\\n".join(inner) + '"'


# Mermaid reads `#...;` as an entity code, quotes as the end of the label, a backquote as
# the start of a Markdown string, `<` and `&` as HTML; each is written as its entity code.
_MERMAID = {c: f"#{ord(c)};" for c in '#"<>&`'}


def mermaid_label(text: object) -> str:
    r"""Text inside a quoted Mermaid label (`n0["..."]`): one line, its syntax characters
    as entity codes (`#34;` for `"`), which Mermaid shows as the characters.

    >>> mermaid_label('a --> "b"# <br/>\n')
    'a --#62; #34;b#34;#35; #60;br/#62;\\n'
    """
    return "".join(_MERMAID.get(c, c) for c in visible(text))


def xml_text(text: object) -> str:
    """Character data of an XML or SVG document: `&`, `<` and `>` as entities (so `]]>`
    cannot occur), characters XML 1.0 refuses (NUL, most C0) shown as escapes.

    >>> xml_text("a<b>&]]>\\x00")
    'a&lt;b&gt;&amp;]]&gt;\\\\x00'
    """
    return _html_escape(visible(text), quote=False)  # &, <, >: what XML text needs


def xml_attribute(text: object) -> str:
    """An XML attribute value, double quotes included. (`html.escape`, not
    `xml.sax.saxutils.quoteattr`: that module imports `urllib.request`, a tenth of a second
    of every command's start.)

    >>> xml_attribute('say "hi" & <go>')
    '"say &quot;hi&quot; &amp; &lt;go&gt;"'
    """
    return f'"{_html_escape(visible(text), quote=True)}"'


def html_text(text: object) -> str:
    """Text of an HTML page, for an element or a quoted attribute: `</script>` and quotes
    cannot close anything.

    >>> html_text("</script><b class='x'>")
    '&lt;/script&gt;&lt;b class=&#x27;x&#x27;&gt;'
    """
    return _html_escape(visible(text), quote=True)


def markdown_cell(text: object) -> str:
    r"""Text in a Markdown table cell: one line, `|` escaped, `<` and `&` as entities (no
    raw HTML).

    >>> markdown_cell("a|b<i>\n")
    'a\\|b&lt;i>\\n'
    """
    return visible(text).replace("&", "&amp;").replace("<", "&lt;").replace("|", "\\|")


__all__ = ["UNSAFE", "cnn_comment", "cnn_name", "dot_string", "html_text", "markdown_cell",
           "mermaid_label", "python_identifier", "python_string", "visible", "xml_attribute",
           "xml_text"]

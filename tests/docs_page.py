"""A docs page as a reader sees it: Markdown to HTML with markdown-it-py, its ```cnn
fences coloured by cnndsl's Pygments lexer (styles inlined, so the page stands alone).

`page(text)` colours the fences; `page(text, highlight=False)` leaves every fence plain,
the page a site without the lexer would show. `DocsStyle` gives the four tokens that
tests/test_highlighting.py looks for in a screenshot (a comment, a keyword, a layer word,
a number) hues far from each other and from the greys of plain text; links are drawn
in the text's colour so that no other hue is on the page.
"""

from __future__ import annotations

import html

from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.style import Style
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, String, Text


class DocsStyle(Style):
    """Light, with one distinct hue per kind of word."""

    name = "cnndsl-docs"
    background_color = "#f6f8fa"
    styles = {
        Text: "#1f2328",
        Comment: "italic #008a00",
        Keyword: "bold #d00000",
        Keyword.Reserved: "bold #a0309f",
        Keyword.Pseudo: "bold #a0309f",
        Name.Builtin: "bold #0050e0",
        Name.Builtin.Pseudo: "#6f42c1",
        Name.Function: "bold #7c4a00",
        Name.Attribute: "#3e6d8a",
        Name.Constant: "#8a6a00",
        Name.Label: "#3e6d8a",
        Name.Variable: "#00807a",
        Number: "#e07000",
        String.Interpol: "#b34a6a",
        Operator: "#57606a",
        Punctuation: "#57606a",
    }


CSS = f"""
body {{ font: 15px/1.45 sans-serif; color: #1f2328; background: #ffffff; margin: 24px auto;
       max-width: 920px; }}
a {{ color: inherit; }}
pre {{ background: {DocsStyle.background_color}; padding: 10px 14px;
      font: 14px/1.4 monospace; overflow: hidden; }}
code {{ font-family: monospace; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #d0d7de; padding: 2px 6px; }}
"""


def _colour(code: str, lang: str, attrs: str) -> str:
    """A fence's HTML: ```cnn coloured (markdown-it wraps it in <pre><code>), the others
    escaped."""
    if lang != "cnn":
        return ""  # markdown-it escapes it
    lexer = get_lexer_by_name("cnn", stripnl=False)
    return highlight(code, lexer, HtmlFormatter(nowrap=True, noclasses=True, style=DocsStyle))


def page(text: str, title: str = "docs", highlight: bool = True) -> str:
    """The Markdown `text` as a standalone HTML page."""
    md = MarkdownIt("commonmark", {"highlight": _colour if highlight else None})
    md.enable("table")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{CSS}</style></head><body>{md.render(text)}</body></html>")

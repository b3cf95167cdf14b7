"""`cnndsl fmt`: one canonical layout for `.cnn` files, as gofmt, Black or elm-format give
their languages, so that no one spends a review on spacing and every file reads alike.

    text = format_text(source)      # raises CnnError, located, if the spec has an error

The formatter changes only spaces and line breaks: the same tokens in the same order, the
same comments. It reads the text with the project's own grammar (`formatting.tree`), lays
the code out (`formatting.layout`) and puts the comments and blank lines back
(`formatting.comments`); then it reads its own result and compares the tokens and
comments with the original's, so that a bug in the formatter can never change what a
file means. Formatting twice gives what formatting once gave.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from lark.exceptions import UnexpectedInput

from ..language.frontend import compile_text
from ..support.limits import MAX_NESTING
from .comments import place
from .layout import WIDTH, code_lines
from .tree import read, words


class FormatterBug(AssertionError):
    """The formatted text would not read as the same tokens and comments."""


class Unreadable(ValueError):
    """`layout` was given a text that does not parse (`format_text` says where)."""


def format_text(text: str, name: str = "model") -> str:
    """`text` in the canonical layout. A spec with an error (of syntax, shape or anything
    `cnndsl check` reports) raises that `CnnError` and is not formatted."""
    compile_text(text, name)
    return layout(text)


def layout(text: str) -> str:
    """The canonical layout of a text that parses (`format_text` checks it does, and says
    where it does not); `Unreadable` if it does not."""
    with _nested_deeply():
        try:
            source = read(text)
        except UnexpectedInput as e:
            raise Unreadable(str(e)) from None
        code, line_of = code_lines(source.items, len(source.tokens))
        out = place(code, line_of, source.tokens, source.comments)
        if words(read(out)) != words(source):
            raise FormatterBug("formatting changed the tokens or comments of the text")
    return out


@contextlib.contextmanager
def _nested_deeply() -> Iterator[None]:
    """Room for the formatter's recursion: a few frames for each level of nesting, and
    merges, repeats and block uses nest up to `MAX_NESTING` deep."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20 * MAX_NESTING + 1_000))
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)


__all__ = ["WIDTH", "FormatterBug", "Unreadable", "format_text", "layout"]

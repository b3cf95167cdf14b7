"""Source spans and the one error type users see.

Every problem in a `.cnn` file is reported the way compilers and editors agree on::

    net.cnn:1:16: error: kernel 7x7 is larger than the 6x6 input with valid padding
        input 6x6x1 -> conv 7x7 x2
                       ^~~~~~~~~~~
    hint: use `same`, or a smaller kernel

so every stage raises `CnnError` with a `Span`, and only the CLI renders it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .support.escaping import UNSAFE, visible

MAX_SHOWN_LINE = 500  # longer source lines are shown as a window around the error
MAX_QUOTED = 200  # a longer name, key or path is cut, with its length said
_QUOTED = re.compile("`([^`]*)`")


def shown(text: object, limit: int = MAX_QUOTED) -> str:
    r"""A user-supplied string (a path, a name, a key, a line of someone else's message) as
    it may be printed: control characters escaped (`\x1b`, `\n`), and cut after `limit`
    characters with its length said, so that no file name can rewrite the terminal and no
    5 MB name makes a 5 MB line.

    >>> shown("red\x1b[31m.cnn")
    'red\\x1b[31m.cnn'
    >>> shown("a" * 1000, limit=5)
    'aaaaa…(1,000 characters)'
    """
    return visible(text, limit)


_SURROGATES = re.compile("[\ud800-\udfff]")


def as_text(name: str) -> str:
    r"""A name derived from a path (a file's stem, its name) as text that every writer can
    encode: the bytes of a file name that are not UTF-8, which Python keeps as lone
    surrogates (`\udce9`), written `\xe9` as `shown` prints them, the rest as it is.
    Such a name becomes a model's name, a diagram's title, a comment.

    >>> as_text("x\udce9")
    'x\\xe9'
    >>> as_text("caf\u00e9 net")
    'café net'
    """
    return _SURROGATES.sub(lambda m: visible(m.group()), name)


def safe_message(text: str, cut_quotes: bool = False) -> str:
    """A message made by cnndsl, safe to print whatever it quotes: control characters
    escaped but its own line breaks kept; with `cut_quotes`, each `quoted` part cut as
    `shown` cuts (spec diagnostics quote the spec's text in backquotes)."""
    if cut_quotes:
        text = _QUOTED.sub(lambda m: f"`{shown(m.group(1))}`", text)
    return "\n".join(shown(line, limit=len(line)) for line in text.split("\n"))


@dataclass(frozen=True)
class Span:
    """A region of the source: 1-based line and column, 0-based character offsets."""

    line: int
    column: int
    start: int
    end: int

    @staticmethod
    def of_token(token: object) -> Span:
        """The span of a Lark token."""
        t = token
        return Span(t.line, t.column, t.start_pos, t.end_pos)  # type: ignore[attr-defined]

    def join(self, other: Span) -> Span:
        """The smallest span covering both."""
        first, last = (self, other) if self.start <= other.start else (other, self)
        return Span(first.line, first.column, first.start, max(self.end, other.end))

    def shifted(self, offset: int, length: int) -> Span:
        """A sub-span starting `offset` characters into this one (same line assumed)."""
        return Span(self.line, self.column + offset, self.start + offset,
                    self.start + offset + max(length, 1))


NOWHERE = Span(1, 1, 0, 0)


@dataclass
class Diagnostic:
    """A located message: the shape shared by errors and warnings."""

    message: str
    span: Span
    hint: str | None = None
    notes: list[str] = field(default_factory=list)

    def render(self, source: str, filename: str, severity: str) -> str:
        """`FILE:LINE:COL: severity: message`, the source line, a caret, notes and hint."""
        # Lines are counted by "\n" alone, as the parser counts them; other control
        # characters are shown as spaces so the caret stays under the right column.
        line_no, text = _source_line(source, self.span)
        col = max(self.span.column, 1)
        shown_col = col
        if len(text) > MAX_SHOWN_LINE:  # a window around the column, not a megabyte line
            start = max(0, col - 1 - MAX_SHOWN_LINE // 2)
            end = start + MAX_SHOWN_LINE
            text = ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")
            shown_col = col - start + (1 if start else 0)
        text = UNSAFE.sub(" ", text)  # one space for one character: columns stay put
        # Tabs keep their width so the caret lands under the right character.
        pad = "".join("\t" if ch == "\t" else " " for ch in text[: shown_col - 1])
        width = max(1, min(self.span.end - self.span.start, len(text) - shown_col + 1))
        message = safe_message(self.message, cut_quotes=True)
        out = [f"{shown(filename)}:{line_no}:{col}: {severity}: {message}",
               f"    {text}", f"    {pad}^{'~' * (width - 1)}"]
        out += [f"note: {safe_message(n, cut_quotes=True)}" for n in self.notes]
        if self.hint:
            out.append(f"hint: {safe_message(self.hint, cut_quotes=True)}")
        return "\n".join(out)


def _source_line(source: str, span: Span) -> tuple[int, str]:
    """The number and text of the span's line (the last line if it is beyond the end),
    found from the span's offset when it agrees, so that an error in an 8 MiB spec of
    millions of lines does not split them all."""
    at = span.start
    if 0 <= at <= len(source) and source.count("\n", 0, at) + 1 == span.line:
        start = source.rfind("\n", 0, at) + 1
        end = source.find("\n", at)
        return span.line, source[start:] if end < 0 else source[start:end]
    lines = source.split("\n")
    line_no = min(max(span.line, 1), len(lines))
    return line_no, lines[line_no - 1]


class CnnError(Exception):
    """A user error in a `.cnn` file, with its location and advice."""

    def __init__(self, message: str, span: Span = NOWHERE, hint: str | None = None,
                 notes: list[str] | None = None) -> None:
        super().__init__(message)
        self.diagnostic = Diagnostic(message, span, hint, list(notes or []))

    @property
    def message(self) -> str:
        return self.diagnostic.message

    @property
    def span(self) -> Span:
        return self.diagnostic.span

    @property
    def hint(self) -> str | None:
        return self.diagnostic.hint

    def render(self, source: str, filename: str) -> str:
        return self.diagnostic.render(source, filename, "error")

    def located(self, source: str, filename: str) -> SourceError:
        """This error with its source attached: what the Python API raises."""
        return SourceError(self, source, filename)


class SourceError(CnnError):
    """A `CnnError` that carries the text it is about, so that `str(e)` is the whole
    diagnostic (`FILE:LINE:COL: error: ...`, the line, the caret, the hint), as a
    notebook or a traceback shows it. `cnndsl.parse` and `cnndsl.load` raise it; the
    stages below them raise plain `CnnError`, which the command line renders itself."""

    def __init__(self, error: CnnError, source: str, filename: str) -> None:
        d = error.diagnostic
        super().__init__(d.message, d.span, d.hint, d.notes)
        self.source, self.filename = source, filename

    def __str__(self) -> str:
        return self.render(self.source, self.filename)

    def __reduce__(self):  # pickled with its span and source, not just the message
        return SourceError, (CnnError(self.message, self.span, self.hint,
                                      self.diagnostic.notes), self.source, self.filename)


class MissingExtra(ImportError):
    """An optional package is not installed: `extra` names the cnndsl extra that brings
    it, `hint` is the pip command, and `str` says both (the Python API raises it as is;
    the command line prints the message and the hint).

    >>> str(MissingExtra("drawing feature maps needs matplotlib, which is not installed",
    ...                  "plot"))
    "drawing feature maps needs matplotlib, which is not installed: pip install 'cnndsl[plot]'"
    """

    def __init__(self, message: str, extra: str) -> None:
        super().__init__(message)
        self.extra, self.hint = extra, f"pip install 'cnndsl[{extra}]'"

    def __str__(self) -> str:
        return f"{self.args[0]}: {self.hint}"


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str | None:
    """The closest known word to a misspelling, for 'did you mean `conv`?' hints."""
    import difflib

    choices = [c for c in choices if c != word]
    lowered = {c.lower(): c for c in choices}
    if word.lower() in lowered:  # `ReLU` -> `relu`
        return lowered[word.lower()]
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[close[0]] if close else None

"""Limits checked while a spec is read, so that no spec costs more than its limits allow.

Lark's parser spends about the same time on every token and keeps what it has read until
a construct ends: 4 million arguments after one step, or 8 million unclosed `(`, took
minutes and gigabytes before any error. So reading is bounded in three places, none of
which costs a Python call per token:

- `check_words` counts the words and symbols of the whole text with one regular
  expression, and refuses a text of more than `MAX_TOKENS` before Lark runs;
- a count is compared as Lark reduces each repetition of the grammar (`arg*`, `("|"
  chain)*`, `definition*`, ...), which it does once per item as it reads: the list so
  far is at hand, so the first argument, branch, parameter or block past its limit is
  refused where it is written;
- a `Guard` sees each bracket as it is lexed (Lark's `lexer_callbacks`), since an
  unclosed `(` or `{` is read without any reduction until its end.

Each refusal is a located `CnnError`, like any other error in a spec.
"""

from __future__ import annotations

import re
import threading
from itertools import islice

from lark import Token

from ..errors import CnnError, Span
from ..support.limits import (
    MAX_ARGUMENTS,
    MAX_BRANCHES,
    MAX_DEFINITIONS,
    MAX_LIST_VALUES,
    MAX_NAME_CHARS,
    MAX_NESTING,
    MAX_NUMBER_CHARS,
    MAX_TOKENS,
)
from . import ast

# -- words and symbols -----------------------------------------------------------------

# A word or symbol, as counted for MAX_TOKENS: a comment, an arrow, a run of letters,
# digits, `_` and `.`, or any other single character that is not a space. Lark's tokens
# are fewer (`3x3/2` is one token, three here): the count errs on the side of more.
# `#[^\n]*|->|[A-Za-z0-9_.]+|\S` would match the same, but starting with `\S` lets the
# regular expression engine skip spaces five times faster.
_WORD_OR_SYMBOL = re.compile(
    r"\S(?:(?<=[A-Za-z0-9_.])[A-Za-z0-9_.]*|(?<=#)[^\n]*|(?<=-)>?|)")
_CHUNK = 2**18  # characters counted at a time, so that counting stops soon after the limit
_WORD_REST = re.compile(r"[A-Za-z0-9_.]*")


def check_words(text: str) -> None:
    """Refuse a text of more than `MAX_TOKENS` words and symbols, before parsing it.

    Counted by the regular expression engine a chunk at a time (`subn` makes no object
    per match): about 0.1 s for a million. A chunk ends between two words or symbols,
    never inside one or inside a comment, so the count is exact.
    """
    if len(text) <= MAX_TOKENS:  # each takes at least one character
        return
    count, start = 0, 0
    while start < len(text):
        end = _chunk_end(text, start + _CHUNK)
        found = _WORD_OR_SYMBOL.subn("", text[start:end])[1]
        if count + found > MAX_TOKENS:
            matches = _WORD_OR_SYMBOL.finditer(text, start, end)
            over = next(islice(matches, MAX_TOKENS - count, None))
            raise CnnError(f"the spec has more than {MAX_TOKENS:,} words and symbols",
                           _span_at(text, over.start(), over.end()),
                           "that is ten for each of 100,000 layers; is this the right file?")
        count, start = count + found, end


# A name longer than the limit, from its first character: the lookbehind keeps the search
# linear (it never starts again inside a long word), and placed after the first character
# it lets the regular expression engine skip to letters fast.
_LONG_NAME = re.compile(
    rf"[A-Za-z_](?<![A-Za-z0-9_][A-Za-z_])[A-Za-z0-9_]{{{MAX_NAME_CHARS}}}")
_NAME_REST = re.compile(r"[A-Za-z0-9_]*")


def check_names(text: str) -> None:
    """Refuse a name of more than `MAX_NAME_CHARS` characters outside comments, before
    parsing: guessing what a megabyte name meant ("did you mean ...?") takes seconds."""
    at = 0
    while len(text) - at > MAX_NAME_CHARS:
        found = _LONG_NAME.search(text, at)
        if found is None:
            return
        line = text.rfind("\n", 0, found.start()) + 1
        if text.find("#", line, found.start()) < 0:
            end = _NAME_REST.match(text, found.end()).end()  # type: ignore[union-attr]
            raise CnnError(f"a word of {end - found.start():,} characters is too long",
                           _span_at(text, found.start(), end), f"names are limited to "
                           f"{MAX_NAME_CHARS:,} characters, numbers to {MAX_NUMBER_CHARS}")
        newline = text.find("\n", found.end())  # in a comment: go on after it
        at = len(text) if newline < 0 else newline


def _chunk_end(text: str, end: int) -> int:
    """`end`, moved past the comment, word or arrow it would cut."""
    if end >= len(text):
        return len(text)
    line = text.rfind("\n", 0, end) + 1
    if text.find("#", line, end) >= 0:  # the count's comments run from any `#`
        newline = text.find("\n", end)
        return len(text) if newline < 0 else newline
    if text[end - 1] == "-" and text[end] == ">":
        return end + 1
    word = _WORD_REST.match(text, end - 1)  # the word at end - 1, if any, runs to its end
    return max(word.end(), end) if word else end


def _span_at(text: str, start: int, end: int) -> Span:
    line_start = text.rfind("\n", 0, start) + 1
    return Span(text.count("\n", 0, start) + 1, start - line_start + 1, start, end)


# -- repetitions, as Lark reduces them -------------------------------------------------

# What each repetition of grammar/cnn.lark holds, by the last symbol of its rule (`value`
# ends only the comma list `values`):
# (limit, items written outside the repetition, message).
_REPEATED = {
    "arg": (MAX_ARGUMENTS, 0, f"a step has more than {MAX_ARGUMENTS} arguments",
            "a layer takes a handful; is a `->` missing?"),
    "chain": (MAX_BRANCHES, 1, f"a merge has more than {MAX_BRANCHES:,} branches",
              "group them into merges of merges; is a `}` missing?"),
    "callarg": (MAX_ARGUMENTS, 1, f"a block use has more than {MAX_ARGUMENTS} arguments",
                "a block takes a handful; is a `)` missing?"),
    "param": (MAX_ARGUMENTS, 1, f"a block has more than {MAX_ARGUMENTS} parameters",
              "a block takes a handful; is a `)` missing?"),
    "value": (MAX_LIST_VALUES, 1, f"a list has more than {MAX_LIST_VALUES:,} values",
              "a list holds one value per channel"),
    "definition": (MAX_DEFINITIONS, 0, f"the spec defines more than {MAX_DEFINITIONS:,} "
                   "blocks", "a block with parameters covers many variants: "
                   "`def unit(f) = conv 3 x{f}`, used as `unit(64)`"),
}


def repetitions(rules) -> dict[str, tuple[int, int, str, str]]:
    """Lark's helper rules for `x*` and `x+` (named `__RULE_star_N`, `__RULE_plus_N`), each
    with what it holds.

    Lark names them after the first rule using them (`arg*` is `__statement_star_3` in a
    layer too), so they are found by what they repeat, not by name."""
    found = {}
    for rule in rules:
        name, last = rule.origin.name, rule.expansion[-1].name
        if name.startswith("__") and ("_star_" in name or "_plus_" in name) \
                and last in _REPEATED:
            found[name] = _REPEATED[last]
    return found


def refuse_count(items: list, limit: int, outside: int, message: str, hint: str) -> None:
    """The error for a repetition whose items, with those written outside it, exceed
    `limit` (the caller compares, as Lark reduces each item), at the first item too many."""
    first = items[limit - outside]
    span = first.name_span if isinstance(first, ast.Definition) else first.span
    raise CnnError(message, span, hint)


# -- brackets, as Lark lexes them ------------------------------------------------------

class Guard:
    """The brackets a spec has opened so far; refuses the first beyond `MAX_NESTING`.

    One guard per parse (`start`); Lark calls its methods as it lexes brackets, names and
    merge words, which are few beside the other tokens."""

    def __init__(self) -> None:
        self.depth = 0
        self.merge: Token | None = None  # the last merge word, `add` in `add {`

    def open(self, token: Token) -> Token:
        """`(` or `{`."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            span = Span.of_token(token)
            if token == "{" and self.merge is not None:  # point at `add {`, not at `{`
                span = Span.of_token(self.merge).join(span)
            raise CnnError(f"nesting is deeper than {MAX_NESTING} levels", span,
                           "flatten the structure with `def` blocks or `( ... ) * N`; "
                           "is a closing bracket missing?")
        return token

    def close(self, token: Token) -> Token:
        """`)` or `}`."""
        self.depth = max(self.depth - 1, 0)
        return token

    def merge_word(self, token: Token) -> Token:
        self.merge = token
        return token


_current = threading.local()  # the guard of the parse running in this thread


def lexer_callbacks() -> dict:
    """Lark's `lexer_callbacks`: brackets and merge words to this thread's guard."""
    def dispatch(method):
        def callback(token: Token) -> Token:
            return method(_current.guard, token)
        return callback
    roles = {"LPAR": Guard.open, "LBRACE": Guard.open, "RPAR": Guard.close,
             "RBRACE": Guard.close, "MERGE": Guard.merge_word}
    return {terminal: dispatch(method) for terminal, method in roles.items()}


def start() -> Guard:
    """A fresh guard for the parse about to run in this thread."""
    _current.guard = Guard()
    return _current.guard

"""Text to syntax tree: the Lark LALR parser and the transformer that builds `cnndsl.syntax.ast`.

The transformer runs inline, as the LALR parser reduces each rule, so building the tree
needs no recursion however deeply a network nests. It builds nodes and validates nothing;
the limits that bound reading (words, arguments, branches, blocks, nesting) are checked
by `cnndsl.syntax.guard` before and while Lark reads, so later passes stay within Python's stack
and no spec is read for longer than its limits allow.
"""

from __future__ import annotations

import hashlib
import os
import re
from functools import lru_cache
from pathlib import Path

from lark import Lark, Token, Transformer, Tree
from lark import __version__ as lark_version
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from ..errors import CnnError, Span
from ..support.util import no_gc
from . import ast, guard

_GRAMMAR_PLACES = (
    Path(__file__).parent.parent / "grammar" / "cnn.lark",  # inside an installed wheel
    Path(__file__).parent.parent.parent / "grammar" / "cnn.lark",  # a source checkout
)

# How Lark's terminal names read in a message.
_TERMINAL_WORDS = {
    "ARROW": "`->`", "MINUS": "`->`", "MORETHAN": "`->`", "LBRACE": "`{`", "RBRACE": "`}`",
    "LPAR": "`(`", "RPAR": "`)`", "VBAR": "`|`", "EQUAL": "`=`", "STAR": "`*`",
    "COMMA": "`,`", "NAME": "a name", "SIZE": "a size", "FLOAT": "a number",
    "WIDTH": "a width like `x64`", "MERGE": "a merge", "PARTS": "sizes like `24,40`",
    "DEF": "`def`", "INPUT": "`input`",
    "OUTPUT": "`output`", "AS": "`as`", "AT_NAME": "a tensor like `@x`",
    "$END": "the end of the file", "_ARROW": "`->`",
}


def grammar_text() -> str:
    """The grammar, from the wheel or from the checkout's top-level `grammar/`."""
    for place in _GRAMMAR_PLACES:
        if place.is_file():
            return place.read_text(encoding="utf-8")
    raise FileNotFoundError("grammar/cnn.lark is missing from this installation")


def _span(*items: object) -> Span:
    """From the first item to the last (None skipped): items come in source order, so the
    ends are enough, however many arguments a step has."""
    i, j = 0, len(items) - 1
    while items[i] is None:
        i += 1
    while items[j] is None:
        j -= 1
    return _until(_one(items[i]), items[j] if j > i else None)


def _until(first: Span, last: object) -> Span:
    """`first` extended to the end of `last` (an item after it, or None)."""
    if last is None:
        return first
    end = _one(last).end
    return first if end <= first.end else Span(first.line, first.column, first.start, end)


def _one(item) -> Span:
    return Span.of_token(item) if isinstance(item, Token) else item.span


def _parts(token: Token) -> ast.Values:
    """`24,40` (one PARTS token) as its sizes, each with its own span."""
    text, at, items = str(token), Span.of_token(token), []
    for match in _PART.finditer(text):  # an `{expr}` may hold spaces and commas
        items.append(ast.Size(match.group(), at.shifted(match.start(), len(match.group()))))
    return ast.Values(tuple(items), at)


_PART = re.compile(r"\{[^{}]*\}|-?[0-9]+")


class _Build(Transformer):
    """Builds `cnndsl.syntax.ast` nodes; method names are the grammar's rule names."""

    repetitions: dict[str, tuple[int, int, str, str]] = {}  # set by `_parser`

    def __default__(self, data, children, meta):
        # Lark's helper rules for `x*` come here once per item, as they are read.
        limit = self.repetitions.get(data)
        if limit is not None and len(children) + limit[1] > limit[0]:
            guard.refuse_count(children, *limit)
        return Tree(data, children, meta)

    def size(self, items):
        return ast.Size(str(items[0]), Span.of_token(items[0]))

    def number(self, items):
        return ast.Number(str(items[0]), Span.of_token(items[0]))

    def word(self, items):
        return ast.Word(str(items[0]), Span.of_token(items[0]))

    def width(self, items):
        return ast.Width(str(items[0])[1:], Span.of_token(items[0]))

    def option(self, items):
        key, value = items
        return ast.Option(str(key), value, _span(key, value), Span.of_token(key))

    keyword_arg = option

    def values(self, items):
        return ast.Values(tuple(items), _span(items[0], items[-1]))

    def layer(self, items):
        word, *args = items
        head = Span.of_token(word)
        return ast.Layer(str(word), tuple(args), _until(head, args[-1] if args else None), head)

    def valued_layer(self, items):
        # `leaky_relu=0.1 name=act`: the head is an option that names the step.
        word, value, *args = items
        head = ast.Option(str(word), value, _span(word, value), Span.of_token(word))
        return ast.Layer(str(word), (head, *args), _span(word, value, *args),
                         Span.of_token(word))

    def ref(self, items):
        return ast.Ref(str(items[0])[1:], Span.of_token(items[0]))

    def bound(self, items):
        step, _, name = items
        return ast.Bound(step, str(name), _span(step, name), Span.of_token(name))

    def call(self, items):
        name, *args = [i for i in items if i is not None]
        positional = tuple(a for a in args if not isinstance(a, ast.Option))
        keywords = tuple(a for a in args if isinstance(a, ast.Option))
        return ast.Call(str(name), positional, keywords, _span(name, *args),
                        Span.of_token(name))

    def merge(self, items):
        op, *rest = items
        parts = _parts(rest.pop(0)) if isinstance(rest[0], Token) else None
        branches = tuple(i for i in rest if isinstance(i, ast.Chain))
        args = tuple(i for i in rest if not isinstance(i, ast.Chain))
        return ast.Merge(str(op), branches, args, _span(op, *rest), Span.of_token(op), parts)

    def repeat(self, items):
        lpar, body, count = items
        return ast.Repeat(body, count, _span(lpar, body, count))

    def chain(self, items):
        return ast.Chain(tuple(items), _span(*items))

    def param(self, items):
        name, default = items[0], (items[1] if len(items) > 1 else None)
        return ast.Param(str(name), default, _span(name, default))

    def tensor_param(self, items):
        return ast.Param(str(items[0])[1:], None, Span.of_token(items[0]), tensor=True)

    def params(self, items):
        return tuple(i for i in items if i is not None)

    def definition(self, items):
        _, name, *rest = items
        params = rest[0] if len(rest) == 2 else ()
        body = rest[-1]
        return ast.Definition(str(name), params, body, _span(name, body), Span.of_token(name))

    def input_statement(self, items):
        keyword, *rest = items
        body = rest.pop() if rest and isinstance(rest[-1], ast.Chain) else None
        binding = None
        if len(rest) >= 2 and isinstance(rest[-2], Token) and rest[-2].type == "AS":
            name = rest.pop()
            rest.pop()
            binding = ast.Ref(str(name), Span.of_token(name))
        head = ast.Layer("input", tuple(rest), _span(keyword, *rest), Span.of_token(keyword))
        return ast.Statement(head, binding, body, _span(keyword, *rest, binding, body))

    def chain_statement(self, items):
        return ast.Statement(None, None, items[0], items[0].span)

    def outputs(self, items):
        keyword, *names = items
        refs = tuple(ast.Ref(str(n)[1:], Span.of_token(n)) for n in names)
        return ast.Module((), (), refs, _span(keyword, *refs))

    def start(self, items):
        outputs = items.pop() if isinstance(items[-1], ast.Module) else None
        definitions = tuple(i for i in items if isinstance(i, ast.Definition))
        statements = tuple(i for i in items if isinstance(i, ast.Statement))
        if outputs is None:
            return ast.Module(definitions, statements)
        return ast.Module(definitions, statements, outputs.outputs, outputs.outputs_span)


@lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = grammar_text()
    build = _Build()
    lark = Lark(grammar, parser="lalr", transformer=build,
                lexer_callbacks=guard.lexer_callbacks(), cache=_cache_file(grammar) or False)
    build.repetitions = guard.repetitions(lark.rules)
    return lark


def _cache_file(grammar: str) -> str | None:
    """A private place for Lark's parse tables, which saves ~50 ms of every start-up.

    Lark's cache is a pickle, so it lives in the user's own cache directory (mode 0700),
    never in a shared temporary directory where another user could plant one.
    """
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cnndsl"
    digest = hashlib.sha256(grammar.encode()).hexdigest()[:16]
    try:
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
        if base.stat().st_uid != os.getuid() or not os.access(base, os.W_OK):
            return None
    except OSError:
        return None
    return str(base / f"grammar-{digest}-lark{lark_version}.cache")


def parse(text: str) -> ast.Module:
    """Parse `.cnn` source into a syntax tree, or raise a located `CnnError`."""
    guard.check_words(text)
    guard.check_names(text)
    guard.start()
    try:
        with no_gc():
            tree = _parser().parse(text)
    except UnexpectedInput as e:
        raise _syntax_error(e, text) from None
    assert isinstance(tree, ast.Module)  # the transformer builds the whole tree
    return tree


def _syntax_error(e: UnexpectedInput, text: str) -> CnnError:
    line, column = max(getattr(e, "line", 1) or 1, 1), max(getattr(e, "column", 1) or 1, 1)
    pos = getattr(e, "pos_in_stream", None) or 0
    if isinstance(e, UnexpectedCharacters):
        char = text[pos] if pos < len(text) else ""
        return CnnError(f"unexpected character {char!r}", Span(line, column, pos, pos + 1),
                        _char_hint(char))
    if isinstance(e, UnexpectedEOF) or (isinstance(e, UnexpectedToken)
                                       and e.token.type == "$END"):
        end = _end_span(text)
        expected = _expected(getattr(e, "expected", ()) or ())
        return CnnError("unexpected end of file", end, f"expected {expected}")
    assert isinstance(e, UnexpectedToken)
    tok = e.token
    span = Span(tok.line or line, tok.column or column, tok.start_pos or pos,
                tok.end_pos or (pos + len(str(tok))))
    return CnnError(f"unexpected {_describe(tok)}", span,
                    f"expected {_expected(e.accepts or e.expected)}")


def _describe(tok: Token) -> str:
    if tok.type == "DEF":
        return "`def` (definitions come before the statements)"
    if tok.type == "OUTPUT":
        return "`output` (it comes once, after the statements)"
    return f"`{tok}`"


def _expected(names) -> str:
    words = sorted({_TERMINAL_WORDS.get(n, f"`{n.lower()}`") for n in names})
    if not words:
        return "something else"
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _end_span(text: str) -> Span:
    stripped = text.rstrip()
    line = stripped.count("\n") + 1
    column = len(stripped) - (stripped.rfind("\n") + 1) + 1
    return Span(line, column, len(stripped), len(stripped) + 1)


def _char_hint(char: str) -> str:
    if char == "-":
        return "steps are joined by `->`; sizes are positive whole numbers"
    if char in "{}":
        return ("an `{expr}` holds numbers, names, + - * / //, parentheses and min, max, "
                "floor, ceil, round, on one line")
    return "see docs/language.md for what a .cnn file may contain"

"""A Pygments lexer for `.cnn` files: `pygmentize -l cnn net.cnn`, ```` ```cnn ```` fences.

    def block(n, k=3) = conv {k}x{k} x{n} same relu -> maxpool 2
    input 224x224x3 as image -> block(64) -> add { id | @image -> conv 1 x64 } -> gap

The forms come from grammar/cnn.lark (sizes `3x3/2`, `0:1x0:1`, `{k}x{k}`; widths `x64`,
`x{2*n}`; numbers `0.5`, `1e-3`; `key=value` and comma lists; `@NAME`, `as NAME`; merges
with their parts, `split 24,40 { A | B }`), and what each name means from the layer
catalogue, through `words`: a layer kind added there is coloured without a change here.

Tokens: comments `Comment.Single`; `def`, `input`, `output`, `as` `Keyword`; merges
`Keyword.Reserved`, `id` `Keyword.Pseudo`; layer words `Name.Builtin`, activations
`Name.Builtin.Pseudo`; `same`, `valid`, `true`, `false` and flag words (`keepdims`)
`Name.Constant`; option keys `Name.Attribute`, the layer name after `name=` `Name.Label`;
block names `Name.Function` (at `def`, at a call `block(64)`, and at a later use without
parentheses); tensors (`@x`, `as x`) `Name.Variable`; other names (block parameters)
`Name`; whole numbers `Number.Integer`, others `Number.Float`; an `{expr}` whole
`String.Interpol`; `->`, `|`, `=`, `*` and the `x`, `/`, `:` inside sizes and widths
`Operator`; braces, parentheses and commas `Punctuation`. A valid file gives no `Error`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from pygments.lexer import RegexLexer, bygroups, default
from pygments.lexer import words as alternatives
from pygments.token import (
    Comment,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Whitespace,
    _TokenType,
)

from . import words

NAME = r"[A-Za-z_][A-Za-z0-9_]*"
EXPR = r"\{[^{}\n|>]*\}"  # as the grammar's _EXPR: braces never nest, one line
INT = r"-?[0-9]+"
ATOM = rf"(?:{INT}|{EXPR})"
DIMS = rf"{ATOM}(?::{ATOM})?(?:x{ATOM}(?::{ATOM})?)*"
SIZE = rf"{DIMS}(?:/{DIMS})?"
FLOAT = r"-?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|-?[0-9]+[eE][-+]?[0-9]+"
SIZE_PARTS = re.compile(rf"({EXPR})|({INT})|([x/:])")

ACTIVATIONS = frozenset(words.activation_words())
LAYERS = frozenset(words.layer_words())
CONSTANTS = frozenset(words.constant_words()) | frozenset(words.flag_words())


def _kind_of(word: str):
    """The token of a name by what the catalogue says it is; None for any other name."""
    if word in ACTIVATIONS:
        return Name.Builtin.Pseudo
    if word in LAYERS:
        return Name.Builtin
    if word in CONSTANTS:
        return Name.Constant
    if word == words.IDENTITY:
        return Keyword.Pseudo
    return None


def _word(lexer, match):
    """A bare name: a step word, an argument word, a block used without parentheses."""
    yield match.start(), _kind_of(match.group()) or Name, match.group()


def _call(lexer, match):
    """A name before `(`: a block call (`block(64)`), unless the word is the catalogue's."""
    yield match.start(), _kind_of(match.group()) or Name.Function, match.group()


def _key(lexer, match):
    """A name before `=`: an option (`bias=`), or an activation with its value
    (`leaky_relu=0.1`)."""
    word = match.group()
    yield match.start(), Name.Builtin.Pseudo if word in ACTIVATIONS else Name.Attribute, word


def _size(lexer, match):
    """`3x3/2`, `0:1x{p}`: whole numbers, `{expr}`s, and the `x`, `/`, `:` between."""
    for part in SIZE_PARTS.finditer(match.group()):
        token = (String.Interpol if part.group(1) else Number.Integer if part.group(2)
                 else Operator)
        yield match.start() + part.start(), token, part.group()


class CnnLexer(RegexLexer):
    """Colours `.cnn` source: the language of cnndsl (docs/language.md)."""

    name = "cnndsl"
    aliases = ["cnn", "cnndsl"]
    filenames = ["*.cnn"]
    mimetypes = ["text/x-cnn", "text/x-cnndsl"]

    tokens = {
        "root": [
            (r"\s+", Whitespace),
            (r"#[^\n\r]*", Comment.Single),
            (rf"(def)(\s+)({NAME})", bygroups(Keyword, Whitespace, Name.Function)),
            (rf"(as)(\s+)({NAME})", bygroups(Keyword, Whitespace, Name.Variable)),
            (alternatives(words.KEYWORDS, suffix=r"\b"), Keyword),
            (alternatives(words.merge_words(), suffix=r"\b"), Keyword.Reserved, "merge"),
            (rf"@{NAME}", Name.Variable),
            (r"->|[|*=]", Operator),
            (rf"({words.NAME_OPTION})(\s*)(=)(\s*)({NAME})",
             bygroups(Name.Attribute, Whitespace, Operator, Whitespace, Name.Label)),
            (rf"{NAME}(?=\s*=)", _key),
            (rf"{NAME}(?=\s*\()", _call),
            (FLOAT, Number.Float),
            (r"(x)([0-9]+)", bygroups(Operator, Number.Integer)),  # a width: `x64`
            (rf"(x)({EXPR})", bygroups(Operator, String.Interpol)),
            (SIZE, _size),
            (NAME, _word),
            (r"[{}(),]", Punctuation),
        ],
        # After a merge word: its parts (`split 24,40`, `split {a},{C-a}`), then the brace
        # that opens its branches. A single `{...}` is that brace (`add {relu}`), as in
        # the grammar, where parts in braces need a comma.
        "merge": [
            (r"\s+", Whitespace),
            (r"#[^\n\r]*", Comment.Single),
            (rf"{EXPR}(?=[ \t]*,)", String.Interpol),
            (rf"(,)([ \t]*)({EXPR})", bygroups(Punctuation, Whitespace, String.Interpol)),
            (rf"(,)([ \t]*)({INT})", bygroups(Punctuation, Whitespace, Number.Integer)),
            (INT, Number.Integer),
            (r"\{", Punctuation, "#pop"),
            default("#pop"),
        ],
    }

    def get_tokens_unprocessed(self, text: str, stack: Iterable[str] = ("root",)
                               ) -> Iterator[tuple[int, _TokenType, str]]:
        """The tokens, a block's name coloured as one wherever it is used: blocks are
        defined before the network, so a name is known by the time it is used bare."""
        blocks: set[str] = set()
        for index, token, value in super().get_tokens_unprocessed(text, stack):
            if token is Name.Function:
                blocks.add(value)
            elif token is Name and value in blocks:
                token = Name.Function
            yield index, token, value

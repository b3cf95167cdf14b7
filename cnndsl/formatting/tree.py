"""A `.cnn` file as the formatter sees it: every token (punctuation included) in the
nesting that decides where a line may break, and where the author broke lines.

Lark reads the text with the project's own grammar, keeping every token, so the formatter
never re-implements the grammar; this module turns that tree into four shapes of step:

    Atom    conv 3x3/2 x64 same      block(64, s=2)     @x as y    (never broken inside)
    Merge   add { A | B } relu       its branches are Chains
    Repeat  ( A -> B ) * 3           its body is a Chain
    Chain   A -> B -> C              `breaks` says where the author started a new line

Each token is numbered in source order (`Piece.token`), so that comments, which Lark
reads aside, can be put back beside the token they followed or preceded.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache

from lark import Lark, Token, Tree

from ..syntax.parser import grammar_text

# A size list after a merge word (`24, 40`) is written without spaces; an `{expr}` in it
# keeps its own.
_PART = re.compile(r"\{[^{}]*\}|-?[0-9]+")
_READING = threading.Lock()


@dataclass(frozen=True)
class Piece:
    """One token as written out: its text, its number, and whether a space goes before it."""

    text: str
    token: int
    space: bool = True


@dataclass
class Atom:
    """Tokens that always stay on one line."""

    pieces: list[Piece]


@dataclass
class Chain:
    """Steps joined by `->`; `arrows[k]` and `breaks[k]` are those before `steps[k + 1]`."""

    steps: list[Step]
    arrows: list[int] = field(default_factory=list)
    breaks: list[bool] = field(default_factory=list)


@dataclass
class Merge:
    """`WORD [parts] {` branches `}` and what follows the `}` (arguments, `as NAME`);
    `opened` when the author wrote it over several lines."""

    head: list[Piece]
    branches: list[Chain]
    bars: list[int]
    close: int
    tail: list[Piece]
    opened: bool


@dataclass
class Repeat:
    """`(` body `) * N`, `tail` from the `)` on."""

    open: int
    body: Chain
    tail: list[Piece]


Step = Atom | Merge | Repeat


@dataclass
class Item:
    """A top-level statement: `head` (`def f(a) =`, or none) and a chain, or `output ...`.
    `own_line`: a `def` whose body starts on the line after its `=`."""

    head: list[Piece]
    chain: Chain | None
    kind: str  # "def", "statement" or "output"
    own_line: bool = False


@dataclass
class Source:
    """The tokens of a text (with their positions) and its comments, each in order."""

    tokens: list[Token]
    comments: list[Token]
    items: list[Item]


@lru_cache(maxsize=1)
def _reader() -> tuple[Lark, list[Token]]:
    comments: list[Token] = []
    lark = Lark(grammar_text(), parser="lalr", keep_all_tokens=True,
                lexer_callbacks={"COMMENT": comments.append})
    return lark, comments


def read(text: str) -> Source:
    """The text's items; the text must already be known to parse (`compile_text`)."""
    lark, comments = _reader()
    with _READING:  # the comments are collected in one list per process
        comments.clear()
        tree = lark.parse(text)
        found = list(comments)
        comments.clear()
    return _Builder().source(tree, found)


def words(source: Source) -> tuple[list[tuple[str, str]], list[str]]:
    """The tokens as (type, text), a size list written without spaces, and the comments:
    what formatting must leave exactly as it was."""
    tokens = [(t.type, _parts(t) if t.type == "PARTS" else str(t)) for t in source.tokens]
    return tokens, [str(c).rstrip() for c in source.comments]


def _parts(token: Token) -> str:
    return ",".join(m.group() for m in _PART.finditer(str(token)))


class _Builder:
    """Turns Lark's tree into items, numbering the tokens as it meets them."""

    def __init__(self) -> None:
        self.tokens: list[Token] = []

    def source(self, tree: Tree, comments: list[Token]) -> Source:
        items = [self.item(child) for child in tree.children]
        return Source(self.tokens, comments, items)

    def piece(self, token: object, space: bool = True) -> Piece:
        assert isinstance(token, Token), token  # where the grammar puts a token
        self.tokens.append(token)
        text = _parts(token) if token.type == "PARTS" else str(token)
        return Piece(text, len(self.tokens) - 1, space)

    def item(self, tree: Tree) -> Item:
        if tree.data == "definition":
            *head, body = tree.children
            pieces = self.flat(head)
            chain = self.chain(body)
            equals = self.tokens[pieces[-1].token]
            first = self.tokens[_first_token(chain)]
            return Item(pieces, chain, "def", own_line=later_line(equals, first))
        if tree.data == "input_statement":
            children = list(tree.children)
            body = children.pop() if isinstance(children[-1], Tree) and \
                children[-1].data == "chain" else None
            arrow = children.pop() if body is not None else None
            written = Atom(self.flat(children))  # `input 8x8x3 as x`
            if body is None:
                return Item([], Chain([written]), "statement")
            arrow_piece = self.piece(arrow)
            chain = self.chain(body)
            chain.steps.insert(0, written)
            chain.arrows.insert(0, arrow_piece.token)
            chain.breaks.insert(0, self._broken(written, chain.steps[1]))
            return Item([], chain, "statement")
        if tree.data == "chain_statement":
            return Item([], self.chain(tree.children[0]), "statement")
        return Item(self.flat(tree.children), None, "output")  # outputs

    def chain(self, tree: Tree) -> Chain:
        chain = Chain([])
        for child in tree.children:
            if isinstance(child, Token) and child.type == "_ARROW":
                chain.arrows.append(self.piece(child).token)
            else:
                step = self.step(child)
                if chain.steps:
                    chain.breaks.append(self._broken(chain.steps[-1], step))
                chain.steps.append(step)
        return chain

    def _broken(self, before: Step, after: Step) -> bool:
        """Whether the author put a line break between two steps (around their arrow)."""
        return later_line(self.tokens[_last_token(before)], self.tokens[_first_token(after)])

    def step(self, node: Tree | Token) -> Step:
        if isinstance(node, Tree) and node.data == "bound":
            core, as_, name = node.children
            step = self.step(core)
            tail = [self.piece(as_), self.piece(name)]
            if isinstance(step, Atom):
                step.pieces += tail
            else:
                step.tail += tail
            return step
        if isinstance(node, Tree) and node.data == "merge":
            return self.merge(node)
        if isinstance(node, Tree) and node.data == "repeat":
            lpar, body, rpar, star, count = node.children
            open_ = self.piece(lpar).token
            chain = self.chain(body)
            tail = [self.piece(rpar, space=False), self.piece(star), *self.flat([count])]
            return Repeat(open_, chain, tail)
        return Atom(self.flat([node]))

    def merge(self, node: Tree) -> Merge:
        children = list(node.children)
        head: list[Piece] = []
        while not (isinstance(children[0], Token) and children[0] == "{"):
            head.append(self.piece(children.pop(0)))
        head.append(self.piece(children.pop(0)))
        branches, bars = [], []
        while not (isinstance(children[0], Token) and children[0] == "}"):
            child = children.pop(0)
            if isinstance(child, Token):  # `|`
                bars.append(self.piece(child).token)
            else:
                branches.append(self.chain(child))
        close = self.piece(children.pop(0)).token
        tail = self.flat(children)
        opened = later_line(self.tokens[head[-1].token], self.tokens[close])
        return Merge(head, branches, bars, close, tail, opened)

    def flat(self, nodes: list) -> list[Piece]:
        """Tokens written on one line, spaced as the house style: `f(64, s=2)`,
        `bias=false`, `mean=0.5,0.4`, `output @a, @b`."""
        out: list[Piece] = []
        for node in nodes:
            if node is None:  # an empty `()`: Lark's placeholder
                continue
            if isinstance(node, Token):
                after = str(self.tokens[-1]) if self.tokens else ""
                # a `(` here follows a block's name: `f(64, s=2)`, `def f(a, b=2)`
                glued = node in (",", ")", "(") or after == "("
                out.append(self.piece(node, space=not glued))
            elif node.data in ("option", "keyword_arg", "values", "param"):
                first = len(out)
                out += self.flat(node.children)
                for k in range(first + 1, len(out)):  # `key=value`, `0.5,0.4`: no spaces
                    out[k] = Piece(out[k].text, out[k].token, space=False)
            elif node.data == "valued_layer":  # `leaky_relu=0.1 name=act`
                first = len(out)
                out += self.flat(node.children[:3])
                for k in range(first + 1, len(out)):
                    out[k] = Piece(out[k].text, out[k].token, space=False)
                out += self.flat(node.children[3:])
            else:
                out += self.flat(node.children)
        return out


def later_line(before: Token, after: Token) -> bool:
    """Whether `after` starts on a line after the one `before` ends on (a token Lark read
    always has its position)."""
    assert after.line is not None and before.end_line is not None
    return after.line > before.end_line


def start(token: Token) -> int:
    """Where a token Lark read starts in the text."""
    assert token.start_pos is not None
    return token.start_pos


def rows(token: Token) -> tuple[int, int]:
    """The lines a token Lark read starts and ends on."""
    assert token.line is not None and token.end_line is not None
    return token.line, token.end_line


def _first_token(step: Step | Chain) -> int:
    if isinstance(step, Chain):
        return _first_token(step.steps[0])
    if isinstance(step, Atom):
        return step.pieces[0].token
    if isinstance(step, Merge):
        return step.head[0].token
    return step.open


def _last_token(step: Step) -> int:
    if isinstance(step, Atom):
        return step.pieces[-1].token
    return step.tail[-1].token if step.tail else step.close  # type: ignore[union-attr]

"""The canonical layout of a `.cnn` file's code (comments are put back by `comments`).

One rule for each thing, so that any two people's files read alike:

- tokens: one space between them; none inside `key=value`, a list `0.5,0.4` or sizes
  `24,40`; `f(64, s=2)`; `( A -> B ) * 3` written `(A -> B) * 3`; `add { A | B }`;
- a chain breaks only before an `->`: where its author broke it, and where a line would
  pass `WIDTH` columns (the step moves to the next line). A continuation line starts
  with `-> ` two columns in for a statement, four in a `def` (whose body may start on the
  `def` line or, four columns in, on the next);
- a merge stays on one line if it was written on one and fits; otherwise each branch
  gets its own lines, the `|`s and the `}` under the merge word (or two columns in from
  the line's indent when other steps come before it on the line), the first branch
  lined up with the text after `| `, a branch's own continuation lines `-> ` under it;
- a repeat's body continues one column after its `(`.

This is the layout `cnndsl import` has always written; `views.printing` runs its text
through this module, so imported files are formatted by construction.
"""

from __future__ import annotations

from .tree import Atom, Chain, Item, Merge, Piece, Repeat, Step

WIDTH = 96  # columns of code; comments may run past it
STATEMENT_INDENT = 2  # `  -> ` under a statement
DEF_INDENT = 4  # `    -> ` under a `def` whose body starts on the `def` line


class Writer:
    """Code lines under construction; `line_of[token]` is the line each token lands on."""

    def __init__(self, tokens: int) -> None:
        self.lines: list[str] = []
        self.current = ""
        self.line_of = [0] * tokens
        self.lead_only = True  # only `->`, `|`, `(` so far on the current line
        self.glue = False  # the next token follows a `(` with no space
        self._flat: dict[int, str | None] = {}

    # -- tokens and lines ---------------------------------------------------------------

    def put(self, piece: Piece, lead: bool = False) -> None:
        if piece.space and not self.glue and self.current.strip():
            self.current += " "
        self.glue = False
        self.line_of[piece.token] = len(self.lines)
        self.current += piece.text
        self.lead_only = self.lead_only and lead

    def token(self, text: str, token: int, lead: bool = False) -> None:
        self.put(Piece(text, token), lead)

    def newline(self, indent: int) -> None:
        self.lines.append(self.current.rstrip())
        self.current = " " * indent
        self.lead_only = True
        self.glue = False

    def fits(self, text: str) -> bool:
        """Whether `text` fits after what the current line holds (and the space before it)."""
        space = 1 if self.current.strip() and not self.glue else 0
        return len(self.current) + space + len(text) <= WIDTH

    # -- items --------------------------------------------------------------------------

    def item(self, item: Item) -> None:
        for piece in item.head:
            self.put(piece)
        if item.chain is not None:
            if item.own_line:  # a `def` whose body starts on the next line
                self.newline(DEF_INDENT)
            self.chain(item.chain, DEF_INDENT if item.kind == "def" else STATEMENT_INDENT)
        self.newline(0)

    # -- chains and steps ---------------------------------------------------------------

    def chain(self, chain: Chain, indent: int, reserve: str = "") -> None:
        """`reserve`: the text that will follow the last step on its line (a repeat's
        `) * N`), counted when deciding whether that step fits."""
        for k, step in enumerate(chain.steps):
            if k:
                flat = self.flat(step)
                after = reserve if k == len(chain.steps) - 1 else ""
                long = flat is not None and not self.fits("-> " + flat + after)
                if chain.breaks[k - 1] or long:
                    self.newline(indent)
                self.token("->", chain.arrows[k - 1], lead=True)
            self.step(step, indent)

    def step(self, step: Step, indent: int) -> None:
        if isinstance(step, Atom):
            for piece in step.pieces:
                self.put(piece)
        elif isinstance(step, Repeat):
            self.token("(", step.open, lead=True)
            self.glue = True
            self.chain(step.body, len(self.current), _pieces(step.tail))
            for piece in step.tail:
                self.put(piece)
        else:
            self.merge(step)

    def merge(self, merge: Merge) -> None:
        flat = self.flat(merge)
        if flat is not None and self.fits(flat):
            for piece in merge.head:
                self.put(piece)
            for k, branch in enumerate(merge.branches):
                if k:
                    self.token("|", merge.bars[k - 1])
                self.chain(branch, len(self.current))
            self.token("}", merge.close)
        else:
            indent = len(self.current) - len(self.current.lstrip())
            first_on_line = self.lead_only
            self.put(merge.head[0])
            word = len(self.current) - len(merge.head[0].text)
            for piece in merge.head[1:]:
                self.put(piece)
            base = word if first_on_line else indent + 2
            for k, branch in enumerate(merge.branches):
                if k:
                    self.newline(base)
                    self.token("|", merge.bars[k - 1], lead=True)
                else:
                    self.newline(base + 2)
                self.chain(branch, base + 2)
            self.newline(base)
            self.token("}", merge.close)
        for piece in merge.tail:
            self.put(piece)

    # -- a step on one line -------------------------------------------------------------

    def flat(self, step: Step | Chain) -> str | None:
        """The step on one line, or None if its author spread it over several."""
        key = id(step)
        if key not in self._flat:
            self._flat[key] = _flat(step, self.flat)
        return self._flat[key]


def _flat(step, flat) -> str | None:
    if isinstance(step, Chain):
        parts = [flat(s) for s in step.steps]
        if any(step.breaks) or None in parts:
            return None
        return " -> ".join(parts)  # type: ignore[arg-type]
    if isinstance(step, Atom):
        return _pieces(step.pieces)
    if isinstance(step, Repeat):
        body = flat(step.body)
        return None if body is None else f"({body}{_pieces(step.tail)}"
    branches = [flat(b) for b in step.branches]
    if step.opened or None in branches:
        return None
    tail = _pieces(step.tail)
    return (f"{_pieces(step.head)} {' | '.join(branches)} }}"  # type: ignore[arg-type]
            + (" " + tail if tail else ""))


def _pieces(pieces: list[Piece]) -> str:
    return "".join((" " if p.space and k else "") + p.text for k, p in enumerate(pieces))


def code_lines(items: list[Item], tokens: int) -> tuple[list[str], list[int]]:
    """The items' code lines and the line each token is on."""
    writer = Writer(tokens)
    for item in items:
        writer.item(item)
    return writer.lines, writer.line_of

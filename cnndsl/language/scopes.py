"""Named tensors: which `@NAME`s a step can see, and the errors for those it cannot.

A scope is the file, or one use of a block (its tensor parameters and what it binds).
Names are visible from their `as NAME` to the end of the scope, in textual order; a
name is bound once per scope, so `( conv 3 x8 as a ) * 2` binds `a` twice and is an
error, while a block that binds `a` may be used any number of times.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import CnnError, Span, did_you_mean
from ..syntax import ast


@dataclass
class Scope:
    """Tensor names bound so far in one scope: the node each names, and where."""

    tensors: dict[str, tuple[int, Span]] = field(default_factory=dict)
    block: str | None = None  # the block whose use this is; None for the file

    def bind(self, name: str, node: int, span: Span) -> None:
        if name in self.tensors:
            first = self.tensors[name][1]
            raise CnnError(f"`@{name}` is already bound in this "
                           f"{'block' if self.block else 'file'}", span,
                           "give each tensor its own name; inside `( ... ) * N` a name is "
                           "bound again by each pass, so bind it inside a block instead",
                           [f"first bound at line {first.line}, column {first.column}"])
        self.tensors[name] = (node, span)

    def lookup(self, ref: ast.Ref) -> int:
        found = self.tensors.get(ref.name)
        if found is None:
            raise CnnError(f"`@{ref.name}` is not bound here", ref.span, self._hint(ref.name))
        return found[0]

    def _hint(self, name: str) -> str:
        guess = did_you_mean(name, list(self.tensors))
        if guess:
            return f"did you mean `@{guess}`?"
        where = (f"inside block `{self.block}` only its tensor parameters and the names it "
                 "binds are visible" if self.block else
                 "a name is visible after the `as NAME` that binds it")
        return where + "; bind one with `STEP as NAME`"

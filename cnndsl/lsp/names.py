"""The names of a file, read from its syntax tree: blocks and `@NAME`s, bound and used.

    def cell(@prev, f) = conv 1 x{f} as h -> @prev -> add { id | @h }
    input 8x8x4 as x -> cell(@x, 8) as y -> cell(@y, 8)

Block names are the file's (`cell` is defined once, used twice). A tensor name belongs to
a scope, the file or one block's body: `@prev` and `h` above are `cell`'s, `x` and `y`
the file's, so `@h` outside `cell` is another name. Every occurrence is a token: the word
of a block use, `@x`, or the NAME after `as`; the index finds one by offset in O(log n).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from ..errors import Span
from ..language.blocks import use_span
from ..syntax import ast

BLOCK, TENSOR = "block", "tensor"
FILE = -1  # the scope of the file's statements; a block's body is its index


def region(span: Span) -> tuple[int, int]:
    return span.start, span.end


@dataclass(frozen=True)
class Binding:
    """Where a tensor name is bound: `STEP as NAME` (`step` is STEP), `input ... as NAME`
    (the input's head) or a block's tensor parameter (`param` its position)."""

    name: str
    scope: int
    region: tuple[int, int]
    how: str  # "as", "input" or "param"
    step: ast.Step | None = None
    param: int = -1


@dataclass(frozen=True)
class Occurrence:
    """A name written somewhere; `binding` when this is where it is bound."""

    name: str
    region: tuple[int, int]
    role: str  # BLOCK or TENSOR
    scope: int
    binding: Binding | None = None


@dataclass(frozen=True)
class Use:
    """A block used: `cell(@x, 8)`, or `stem` as a step; `span` is the use as its
    expansion's group records it, through the `)`."""

    name: str
    step: ast.Call | ast.Layer
    span: Span
    scope: int


class Names:
    """Every block and tensor name of a parsed file."""

    def __init__(self, module: ast.Module, text: str) -> None:
        self.text = text
        self.definitions = {d.name: d for d in module.definitions}
        self.blocks = list(module.definitions)
        self.bindings: dict[tuple[int, str], Binding] = {}
        self.uses: dict[str, list[Use]] = {}
        found: list[Occurrence] = []
        self._found = found
        for i, d in enumerate(module.definitions):
            found.append(Occurrence(d.name, region(d.name_span), BLOCK, FILE))
            for k, p in enumerate(d.params):
                if p.tensor:
                    self._bind(Binding(p.name, i, region(p.span), "param", None, k))
            self._chain(d.body, i)
        for statement in module.statements:
            if statement.binding is not None and statement.input is not None:
                b = statement.binding
                self._bind(Binding(b.name, FILE, region(b.span), "input", statement.input))
            if statement.body is not None:
                self._chain(statement.body, FILE)
        for ref in module.outputs:
            found.append(Occurrence(ref.name, region(ref.span), TENSOR, FILE))
        found.sort(key=lambda o: o.region)
        self.occurrences = found
        self.starts = [o.region[0] for o in found]
        self.by_name: dict[tuple[str, str], list[Occurrence]] = {}
        for o in found:
            self.by_name.setdefault((o.role, o.name), []).append(o)

    def _bind(self, binding: Binding) -> None:
        self.bindings.setdefault((binding.scope, binding.name), binding)
        self._found.append(Occurrence(binding.name, binding.region, TENSOR, binding.scope,
                                      binding))

    def _chain(self, chain: ast.Chain, scope: int) -> None:
        todo: list[ast.Step] = list(reversed(chain.steps))
        while todo:  # iterative: merges nest up to 200 deep
            step = todo.pop()
            if isinstance(step, ast.Bound):
                self._bind(Binding(step.name, scope, region(step.name_span), "as", step.step))
                todo.append(step.step)
            elif isinstance(step, ast.Ref):
                self._found.append(Occurrence(step.name, region(step.span), TENSOR, scope))
            elif isinstance(step, ast.Call):
                self._use(step, step.name_span, use_span(self.text, step.span), scope)
                for arg in step.args:
                    if isinstance(arg, ast.Ref):
                        self._found.append(Occurrence(arg.name, region(arg.span), TENSOR,
                                                      scope))
            elif isinstance(step, ast.Layer) and step.word in self.definitions:
                self._use(step, step.word_span, step.span, scope)
            elif isinstance(step, ast.Merge):
                for branch in reversed(step.branches):
                    todo.extend(reversed(branch.steps))
            elif isinstance(step, ast.Repeat):
                todo.extend(reversed(step.body.steps))

    def _use(self, step: ast.Call | ast.Layer, name_span: Span, span: Span, scope: int) -> None:
        name = step.name if isinstance(step, ast.Call) else step.word
        self.uses.setdefault(name, []).append(Use(name, step, span, scope))
        self._found.append(Occurrence(name, region(name_span), BLOCK, FILE))

    def at(self, offset: int) -> Occurrence | None:
        """The name written at `offset`, or just before it (a cursor after a word)."""
        i = bisect_right(self.starts, offset) - 1
        if i >= 0 and offset <= self.occurrences[i].region[1]:
            return self.occurrences[i]
        return None

    def binding(self, occurrence: Occurrence) -> Binding | None:
        """Where a tensor name is bound, in the scope it is written in."""
        return occurrence.binding or self.bindings.get((occurrence.scope, occurrence.name))

    def definition(self, occurrence: Occurrence) -> tuple[int, int] | None:
        """The region of the name's definition: a block's name after `def`, a tensor's
        binding."""
        if occurrence.role == BLOCK:
            found = self.definitions.get(occurrence.name)
            return region(found.name_span) if found else None
        binding = self.binding(occurrence)
        return binding.region if binding else None

    def references(self, occurrence: Occurrence, declaration: bool = True
                   ) -> list[tuple[int, int]]:
        """Every occurrence of the same name (for a tensor, in the same scope), in order."""
        out = []
        for o in self.by_name.get((occurrence.role, occurrence.name), ()):
            if o.role == TENSOR and o.scope != occurrence.scope:
                continue
            if declaration or not self._declares(o):
                out.append(o.region)
        return out

    def _declares(self, o: Occurrence) -> bool:
        if o.role == TENSOR:
            return o.binding is not None
        found = self.definitions.get(o.name)
        return found is not None and region(found.name_span) == o.region

"""How many layers a chain will make, known before making any of them.

Blocks that repeat each other (`def b2(n=2) = ( b1 ) * {n}`, forty deep) describe 2^40
layers in forty lines. Expanding them until the layer limit is reached took seconds and
a hundred megabytes; counting them takes microseconds, because a block's size under
given parameter values is counted once and kept.

Counts are lower bounds, so that no network within the limits is refused: a repeat
count or block argument that cannot be known yet (it uses `C`, the channels entering a
step, or it is wrong and the expansion will say so where it is used) counts as 1, and
its parameter as unknown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from fractions import Fraction

from ..errors import CnnError
from ..support.limits import MAX_LAYERS, MAX_NESTING
from ..syntax import ast

Env = Mapping[str, "int | Fraction"]
TOO_MANY = MAX_LAYERS + 1  # every count is capped here: past it, the size no longer matters


class Sizer:
    """Counts layers of chains under known block parameters; one per expansion.

    `definitions` maps each block's name to its place in the file and its definition: a
    chain in scope `s` may use only blocks placed before `s` (a recursive use counts as 1,
    and the expansion refuses it). `value` turns an argument into a number in an
    environment, raising `CnnError` when it cannot: the expansion's own, so that both
    read arguments alike."""

    def __init__(self, definitions: Mapping[str, tuple[int, ast.Definition]],
                 value: Callable[[ast.Value, Env], int | Fraction]) -> None:
        self.definitions = definitions
        self.value = value
        self.kept: dict[tuple[int, tuple], int] = {}
        self.depth = 0  # chains being counted inside each other
        self.identities = False  # whether an `id` branch was counted (hints mention it)

    def chain(self, chain: ast.Chain, env: Env, scope: int) -> int:
        """At least how many layers `chain` makes, at most `TOO_MANY`."""
        key = (id(chain), tuple(sorted(env.items())))
        size = self.kept.get(key)
        if size is not None:
            return size
        if self.depth > MAX_NESTING:
            return 1  # the expansion refuses this nesting where it is written
        self.depth += 1
        try:
            size = 0
            for step in chain.steps:
                size += self.step(step, env, scope)
                if size >= TOO_MANY:
                    size = TOO_MANY
                    break
        finally:
            self.depth -= 1
        self.kept[key] = size
        return size

    def step(self, step: ast.Step, env: Env, scope: int) -> int:
        if isinstance(step, ast.Bound):
            return self.step(step.step, env, scope)
        if isinstance(step, ast.Ref):
            return 0  # the chain goes on from a tensor already made
        if isinstance(step, ast.Layer):
            # A bare word naming a block is a use of it; `id` is a layer as far as cost goes.
            return self.call(step.word, (), (), env, scope)
        if isinstance(step, ast.Call):
            return self.call(step.name, step.args, step.kwargs, env, scope)
        if isinstance(step, ast.Merge):
            self.identities = self.identities or any(
                len(b.steps) == 1 and getattr(b.steps[0], "word", "") == "id"
                for b in step.branches)
            return min(1 + sum(self.chain(b, env, scope) for b in step.branches), TOO_MANY)
        return min(self.count(step.count, env) * self.chain(step.body, env, scope), TOO_MANY)

    def call(self, name: str, args, kwargs, env: Env, scope: int) -> int:
        index, definition = self.definitions.get(name, (scope, None))
        if definition is None or index >= scope:
            return 1  # a layer, or a block the expansion refuses (unknown or recursive)
        params = definition.params
        bound: dict[str, int | Fraction] = {}
        given = [(p.name, a, env) for p, a in zip(params, args)]
        given += [(kw.key, kw.value, env) for kw in kwargs]
        # Defaults see no parameters, and `C` is not known here.
        given += [(p.name, p.default, {}) for p in params if p.default is not None]
        for param, value, where in given:  # by position, then by name, then defaults
            if param not in bound:
                known = self.known(value, where)
                if known is not None:
                    bound[param] = known
        return self.chain(definition.body, bound, index)

    def count(self, value: ast.Value, env: Env) -> int:
        known = self.known(value, env)
        if known is None or known != int(known) or known < 1:
            return 1
        return min(int(known), TOO_MANY)

    def known(self, value: ast.Value, env: Env) -> int | Fraction | None:
        try:
            return self.value(value, env)
        except CnnError:
            return None

"""The channels each branch of a `split` reads: `split { A | B }` cuts them into equal
parts, `split 24,40 { A | B }` into the sizes written, in order (language version 3).

Checked where the split is written, before any branch is made: the sizes are whole and
positive, one per branch, and add up to the input's channels.
"""

from __future__ import annotations

from dataclasses import replace

from ..errors import CnnError
from ..graph.ir import Node
from ..layers.merge import Split
from ..layers.rearrange import Part
from ..layers.shapes import Shape, format_shape
from ..layers.values import Env, atom_value, whole
from ..syntax import ast

Made = tuple[Part, Shape, tuple]  # a layer, its shape, its warnings: as expand makes them


def parts(step: ast.Merge, shape: Shape | None, env: Env) -> list[Made]:
    """Each branch's part of the channels of a `split` whose input has `shape` (None:
    the split starts a statement, and has no input); none for the other merges."""
    sizes = part_sizes(step, shape, env)
    if sizes is None or shape is None:
        return []
    return [(Part(sum(sizes[:i]), size, i + 1), (*shape[:-1], size), ())
            for i, size in enumerate(sizes)]


def sized(nodes: list[Node], made: list[Made], index: int) -> int:
    """Node `index`, a merge just made: a `split` is given its parts' sizes."""
    if made:
        nodes[index] = replace(nodes[index], layer=Split(tuple(m[0].size for m in made)))
    return index


def written(step: ast.Merge, made: list[Made]) -> str:
    """The merge as the report shows it: `add {...}`, `split 24,40 {...}` (sizes as
    they evaluated, if written)."""
    if not made or step.parts is None:
        return f"{step.op} {{...}}"
    return f"{step.op} {','.join(str(m[0].size) for m in made)} {{...}}"


def part_sizes(step: ast.Merge, shape: Shape | None, env: Env) -> list[int] | None:
    """The size of each branch's part for a `split` whose input has `shape`; None for
    the other merges."""
    if step.op != "split":
        if step.parts is not None:
            raise CnnError(f"`{step.op}` takes no sizes: only `split` cuts its input into "
                           "parts", step.parts.span, f"remove them, or write `split "
                           f"{_written(step.parts)} {{ ... }}` to give each branch a part")
        return None
    if shape is None:
        raise CnnError("`split` cuts its input's channels between its branches, so it "
                       "cannot start a statement", step.op_span,
                       "join named tensors with `concat { @a | @b }`")
    for branch in step.branches:
        first = branch.steps[0]
        while isinstance(first, ast.Bound):
            first = first.step
        if isinstance(first, ast.Ref):
            raise CnnError(f"a branch of `split` reads its part of the channels, not "
                           f"`@{first.name}`", first.span, "start the branch with a step; "
                           "a branch that reads another tensor belongs in a `concat`")
    channels, count = shape[-1], len(step.branches)
    if step.parts is None:
        if channels % count == 0:
            return [channels // count] * count
        raise CnnError(f"`split` cuts its input's {channels} channels into {count} equal "
                       f"parts, but {channels} is not divisible by {count}", step.op_span,
                       _sizes_hint(channels, count))
    local = {**env, "C": channels}
    sizes = [whole(atom_value(_text(s), s.span, local), "a part's size", s.span)
             for s in step.parts.items]
    written = f"`split {_written(step.parts)}`"
    if len(sizes) != count:
        raise CnnError(f"{written} gives {len(sizes)} size{'s' * (len(sizes) != 1)} for {count} "
                       "branches",
                       step.parts.span, "write one size per branch, in order, or none for "
                       "equal parts")
    if sum(sizes) != channels:
        raise CnnError(f"{written} cuts {sum(sizes)} channels, but its input "
                       f"{format_shape(shape)} has {channels}", step.parts.span,
                       _sizes_hint(channels, count))
    return sizes


def _sizes_hint(channels: int, count: int) -> str:
    if count > channels:
        return (f"{count} branches need at least {count} channels, one each: write fewer "
                "branches")
    low, extra = divmod(channels, count)
    sizes = [low] * (count - extra) + [low + 1] * extra
    return (f"the sizes must add up to {channels}, one per branch: e.g. "
            f"`split {','.join(map(str, sizes))} {{ ... }}`")


def _written(parts: ast.Values) -> str:
    return ",".join(_text(item) for item in parts.items)


def _text(item: ast.Value) -> str:
    return item.name if isinstance(item, ast.Word) else item.text

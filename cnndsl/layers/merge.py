"""Merges: `add`, `mul`, `avg`, `max` (element-wise, broadcasting size-1 axes) and
`concat` (channel axis). `residual { A }` is `add { id | A }`, expanded before this.
A merge of one branch is that branch (ONNX's Sum, Max and Mean of one input)."""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from .base import Layer, LayerError
from .shapes import format_shape


def _shapes(inputs) -> str:
    return ", ".join(format_shape(s) for s in inputs)


@dataclass(frozen=True)
class Merge(Layer):
    arity = "many"

    def notes(self, inputs) -> list[str]:
        return [f"branch {i + 1} gives {format_shape(s)}" for i, s in enumerate(inputs)]


@dataclass(frozen=True)
class Elementwise(Merge):
    """Equal shapes, or shapes that broadcast where one side has size 1."""

    def output_shape(self, inputs):
        ranks = {len(s) for s in inputs}
        if len(ranks) > 1:
            raise LayerError(f"`{self.kind}` needs branches of the same rank, got "
                             f"{_shapes(inputs)}", "`reshape` a branch, e.g. `reshape 1x1xC`")
        out = []
        for dims in zip(*inputs):
            sizes = {d for d in dims if d != 1}
            if len(sizes) > 1:
                raise LayerError(f"`{self.kind}` branches disagree: {_shapes(inputs)}",
                                 "shapes must be equal, or 1 where they differ")
            out.append(sizes.pop() if sizes else 1)
        return tuple(out)

    def flops(self, inputs, out):
        return (len(inputs) - 1) * prod(out)


@dataclass(frozen=True)
class Add(Elementwise):
    kind = "add"
    other_names = ("Add", "Sum")


@dataclass(frozen=True)
class Mul(Elementwise):
    kind = "mul"
    other_names = ("Multiply", "Mul")


@dataclass(frozen=True)
class Max(Elementwise):
    kind = "max"
    other_names = ("Maximum",)


@dataclass(frozen=True)
class Avg(Elementwise):
    kind = "avg"
    other_names = ("Average", "Mean")

    def flops(self, inputs, out):
        # n-1 adds and one multiply; the average of one branch is that branch
        return len(inputs) * prod(out) if len(inputs) > 1 else 0


@dataclass(frozen=True)
class Concat(Merge):
    """Along the channel (last) axis; every other dimension must be equal."""

    kind = "concat"
    other_names = ("Concatenate", "cat")

    def output_shape(self, inputs):
        if len({s[:-1] for s in inputs}) > 1 or len({len(s) for s in inputs}) > 1:
            raise LayerError(f"`{self.kind}` branches disagree: {_shapes(inputs)}",
                             "all dimensions but the channels must be equal")
        return (*inputs[0][:-1], sum(s[-1] for s in inputs))

    def flops(self, inputs, out):
        return 0


# version 3: rearranging
@dataclass(frozen=True)
class Split(Concat):
    """`split { A | B }`, `split 24,40 { A | B }`: each branch reads its part of the
    input's channels (a `part` node the expansion puts at its start, which knows the
    sizes) and the results are concatenated, as `concat` does."""

    sizes: tuple[int, ...] = ()  # of the parts, in branch order

    kind = "split"
    other_names = ("Split", "chunk")

    def describe(self):
        sizes = self.sizes
        return "split" + (" " + ",".join(map(str, sizes)) if len(set(sizes)) > 1 else "")

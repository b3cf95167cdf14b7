"""Steps that move values without computing any (language version 3): `pixel_shuffle`,
`pixel_unshuffle`, `channel_shuffle`, and the part of the channels each branch of a
`split` reads.

Orders are PyTorch's, written for cnndsl's channels-last tensors: `pixel_shuffle R`
takes input channel c·R² + i·R + j to output channel c at offset (i, j) of its R×R
block (PixelShuffle, ONNX DepthToSpace in mode CRD), `pixel_unshuffle R` is its exact
inverse, and `channel_shuffle G` reads the channels as a G × C/G matrix and writes its
transpose (ShuffleNet). None has weights, MACs or FLOPs.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from .base import Layer, LayerError, Window
from .shapes import format_shape


def divisors_hint(count: int, what: str, step: str) -> str:
    """The values `step N` may take for `count` channels: its divisors, a few of them."""
    found = [d for d in range(2, min(count, 64) + 1) if count % d == 0]
    if not found:
        return f"{count} has no divisor above 1 but itself: {what}"
    listed = ", ".join(f"`{step} {d}`" for d in found[:5])
    return f"{what}: {listed}" + (", …" if len(found) > 5 else "")


@dataclass(frozen=True)
class PixelShuffle(Layer):
    """`pixel_shuffle 2`: HxWx(C·R²) to (H·R)x(W·R)xC, PyTorch's PixelShuffle."""

    factor: int

    kind = "pixel_shuffle"
    other_names = ("PixelShuffle", "DepthToSpace", "depth_to_space")
    ranks = (3,)

    @classmethod
    def read(cls, a, inputs):
        factor = a.count("factor", example=f"{cls.kind} 2")
        return cls(factor)

    def output_shape(self, inputs):
        *sizes, channels = inputs[0]
        block = self.factor ** 2
        if channels % block:
            lower = channels // block * block
            near = " or ".join(f"x{n}" for n in (lower, lower + block) if n)
            raise LayerError(f"`pixel_shuffle {self.factor}` needs channels divisible by "
                             f"{self.factor}² = {block}, but its input "
                             f"{format_shape(inputs[0])} has {channels}",
                             f"each output channel takes {block} input channels: give the "
                             f"layer before it a multiple of {block} ({near})")
        return (*(n * self.factor for n in sizes), channels // block)

    def window(self, inputs):
        return Window((1, 1), (Fraction(1, self.factor),) * 2)

    def describe(self):
        return f"{self.kind} {self.factor}"


@dataclass(frozen=True)
class PixelUnshuffle(PixelShuffle):
    """`pixel_unshuffle 2`: (H·R)x(W·R)xC to HxWx(C·R²), PyTorch's PixelUnshuffle."""

    kind = "pixel_unshuffle"
    other_names = ("PixelUnshuffle", "SpaceToDepth", "space_to_depth")

    def output_shape(self, inputs):
        *sizes, channels = inputs[0]
        r = self.factor
        if any(n % r for n in sizes):
            fits = "x".join(str(n // r * r or r) for n in sizes)
            raise LayerError(f"`pixel_unshuffle {r}` needs the height and width divisible "
                             f"by {r}, but its input is {format_shape(inputs[0])}",
                             f"crop or pad the input to a multiple of {r} first (e.g. "
                             f"{fits}, with `crop` or `zeropad`)")
        return (*(n // r for n in sizes), channels * r * r)

    def window(self, inputs):
        return Window((self.factor,) * 2, (self.factor,) * 2)


@dataclass(frozen=True)
class ChannelShuffle(Layer):
    """`channel_shuffle 2`: channel g·(C/G) + k goes to k·G + g (ShuffleNet)."""

    groups: int

    kind = "channel_shuffle"
    other_names = ("ChannelShuffle",)

    @classmethod
    def read(cls, a, inputs):
        return cls(a.count("number of groups", example="channel_shuffle 2"))

    def output_shape(self, inputs):
        channels = inputs[0][-1]
        if channels % self.groups:
            raise LayerError(f"`channel_shuffle {self.groups}` needs channels divisible by "
                             f"{self.groups}, but its input {format_shape(inputs[0])} has "
                             f"{channels}", divisors_hint(channels, "the groups must divide "
                                                          "the channels", "channel_shuffle"))
        return inputs[0]

    def describe(self):
        return f"{self.kind} {self.groups}"


@dataclass(frozen=True)
class Part(Layer):
    """The channels `start` to `start + size` of the input: what branch `index` (from 1)
    of a `split` reads. Made by the expansion of `split`, never written as a step."""

    start: int
    size: int
    index: int

    kind = "part"

    def output_shape(self, inputs):
        return (*inputs[0][:-1], self.size)

    def describe(self):
        return f"part {self.index}: channels {self.start}:{self.start + self.size}"

"""Layers that are not windows: input, dense, flatten, dropout, reshape, zero padding,
cropping, upsampling and activation steps."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import prod
from typing import ClassVar

from ..support.limits import MAX_RANK
from .activations import ACTIVATIONS, Activation
from .base import (
    GLOBAL,
    Layer,
    LayerError,
    Window,
    epilogue_flops,
    kernel_and_bias,
    rank_word,
)
from .shapes import Shape, format_shape
from .valued import bare_activation

SPATIAL = (2, 3, 4)


def _tensor_shape(dims: Shape, step: str) -> Shape:
    """`dims` if a tensor may have that many dimensions (batch axis not counted)."""
    if len(dims) > MAX_RANK:
        raise LayerError(f"`{step}` has {len(dims)} dimensions, at most {MAX_RANK} are "
                         "supported", "a vector `784`, a sequence `100x3`, an image "
                         "`28x28x1` or a volume `16x64x64x1`")
    return dims


@dataclass(frozen=True)
class Input(Layer):
    """`input 28x28x1`: the shape of one example, batch axis not written."""

    shape: Shape

    kind = "input"

    @classmethod
    def read(cls, a, inputs):
        dims, _ = a.size("shape", 0, example="input 28x28x1")
        return cls(shape=_tensor_shape(dims, "input"))

    def output_shape(self, inputs):
        return self.shape

    def describe(self):
        return f"input {format_shape(self.shape)}"


@dataclass(frozen=True)
class Dense(Layer):
    """`dense 10 softmax`: Dense, acting on the last axis of its input."""

    units: int
    activation: Activation | None
    bias: bool

    kind = "dense"
    other_names = ("Dense", "Linear", "Gemm", "InnerProduct", "FullyConnected", "fc")
    options = ("bias", "leaky_relu")

    @classmethod
    def read(cls, a, inputs):
        units = a.count("number of units", example="dense 10")
        return cls(units, a.activation(), a.option_bool("bias", True))

    def output_shape(self, inputs):
        return (*inputs[0][:-1], self.units)

    def kernel_shape(self, channels: int) -> Shape:
        return (channels, self.units)

    def variables(self, inputs):
        return kernel_and_bias(self.kernel_shape(inputs[0][-1]), self.bias)

    def macs(self, inputs, out):
        return prod(inputs[0]) * self.units

    def flops(self, inputs, out):
        return 2 * self.macs(inputs, out) + epilogue_flops(out, self.bias, self.activation)

    def window(self, inputs):
        return GLOBAL if len(inputs[0]) == 1 else None

    def warnings(self, inputs) -> list[tuple[str, str]]:
        if len(inputs[0]) == 1:
            return []
        return [(f"`dense` on a {format_shape(inputs[0])} tensor acts on the last axis only",
                 "write `flatten ->` before it if a fully connected layer was meant")]

    def describe(self):
        return (f"dense {self.units}" + (f" {self.activation}" if self.activation else "")
                + ("" if self.bias else " bias=false"))


@dataclass(frozen=True)
class Flatten(Layer):
    """`flatten`: Keras's order, channels last; `flatten chw`: channels first, as
    `torch.flatten` of an NCHW tensor (value (h, w, c) at c·H·W + h·W + w)."""

    chw: bool = False

    kind = "flatten"

    @classmethod
    def read(cls, a, inputs):
        return cls(a.flag("chw"))

    def output_shape(self, inputs):
        return (prod(inputs[0]),)

    def describe(self):
        return "flatten chw" if self.chw else "flatten"

    def warnings(self, inputs):
        if len(inputs[0]) != 1:
            return []
        return [(f"`flatten` of a vector ({format_shape(inputs[0])} values) does nothing",
                 "remove it: its input is flat already (a second `flatten`?)")]


@dataclass(frozen=True)
class Dropout(Layer):
    """`dropout 0.5`, `dropout 0.2 noise=1x1x1`: identity at inference. `noise` is Keras's
    `noise_shape` without the batch axis: 1 where one draw is shared along an axis (whole
    samples dropped together: stochastic depth), the axis' size elsewhere."""

    rate: float
    noise: Shape | None = None

    kind = "dropout"
    options = ("noise",)

    @classmethod
    def read(cls, a, inputs):
        rate = a.scalar("rate", example="dropout 0.5")
        if not 0 <= rate < 1:  # checked as a float: 0.99999999999999999999 rounds to 1
            raise LayerError(f"dropout rate must be in [0, 1), got {rate:g}",
                             "the rate is the fraction of units dropped, e.g. `dropout 0.5`")
        noise = a.option_shape("noise")
        if noise is not None:
            _check_noise(*noise, inputs[0])
        return cls(rate, noise[0] if noise else None)

    def flops(self, inputs, out):
        return 0

    def warnings(self, inputs):
        if self.rate > 0.9:
            return [(f"dropout rate {self.rate:g} drops almost every unit",
                     "rates are usually between 0.1 and 0.5")]
        return []

    def describe(self):
        noise = f" noise={format_shape(self.noise)}" if self.noise else ""
        return f"dropout {self.rate:g}{noise}"


def _check_noise(noise: Shape, span, shape: Shape) -> None:
    """Each axis of the noise shape is 1 or the input's size, one per input axis."""
    example = "x".join(["1"] * (len(shape) - 1) + [str(shape[-1])])
    if len(noise) != len(shape):
        raise LayerError(f"`noise={format_shape(noise)}` has {len(noise)} axes, but the "
                         f"input {format_shape(shape)} has {len(shape)}", "one number per "
                         f"axis, the channels included, batch left out: `noise={example}`",
                         span)
    for size, n in zip(noise, shape):
        if size not in (1, n):
            raise LayerError(f"`noise={format_shape(noise)}` does not fit the input "
                             f"{format_shape(shape)}: each axis is 1 or the input's size",
                             f"1 shares one draw along an axis: `noise={example}` drops "
                             "whole channels", span)


@dataclass(frozen=True)
class ZeroPad(Layer):
    """`zeropad 1`, `zeropad 0x1`, `zeropad 0:1x0:1` (before:after): ZeroPaddingND."""

    pads: tuple[tuple[int, int], ...]

    kind = "zeropad"
    other_names: ClassVar[tuple[str, ...]] = ("ZeroPadding2D", "ZeroPad2d", "Pad")
    ranks = SPATIAL

    @classmethod
    def read(cls, a, inputs):
        pads, _ = a.size("padding", len(inputs[0]) - 1, example=f"{cls.kind} 1", pairs=True,
                         minimum=0)
        return cls(pads)

    def output_shape(self, inputs):
        sizes = tuple(n + b + e for n, (b, e) in zip(inputs[0][:-1], self.pads))
        return (*sizes, inputs[0][-1])

    def describe(self):
        return f"{self.kind} " + "x".join(f"{b}:{e}" for b, e in self.pads)


@dataclass(frozen=True)
class Crop(ZeroPad):
    """`crop 1`, `crop 0:1x0:1` (before:after): CroppingND, written as `zeropad` is."""

    kind = "crop"
    other_names = ("Cropping2D",)

    def output_shape(self, inputs):
        sizes = inputs[0][:-1]
        for axis, (n, (b, e)) in enumerate(zip(sizes, self.pads), 1):
            if b + e >= n:
                raise LayerError(f"`{self.describe()}` crops {b + e} of the {n} positions "
                                 f"along dimension {axis} of the {format_shape(sizes)} input",
                                 "at least one position must remain: crop less, before and "
                                 "after together")
        return (*(n - b - e for n, (b, e) in zip(sizes, self.pads)), inputs[0][-1])


@dataclass(frozen=True)
class Upsample(Layer):
    """`upsample 2`: UpSamplingND, nearest neighbour; `upsample 2 bilinear` (2-D):
    bilinear with half-pixel centres, each output value a weighted sum of the 2x2 input
    values around its centre, the edge value repeated beyond the border (PyTorch's
    `align_corners=False`, Keras's `interpolation="bilinear"`)."""

    factors: tuple[int, ...]
    bilinear: bool = False

    kind = "upsample"
    other_names = ("UpSampling2D", "Upsample", "Resize")
    ranks = SPATIAL

    @classmethod
    def read(cls, a, inputs):
        factors, _ = a.size("factor", len(inputs[0]) - 1, example="upsample 2")
        bilinear = a.flag("bilinear")
        if bilinear and len(inputs[0]) != 3:
            raise LayerError(f"`upsample ... bilinear` is for images (2-D), but its input "
                             f"{format_shape(inputs[0])} is {rank_word(inputs[0])}",
                             "leave `bilinear` out for nearest-neighbour upsampling")
        return cls(factors, bilinear)

    def output_shape(self, inputs):
        return (*(n * f for n, f in zip(inputs[0][:-1], self.factors)), inputs[0][-1])

    def flops(self, inputs, out):
        return 7 * prod(out) if self.bilinear else 0  # 4 weights times 4 values, 3 adds

    def window(self, inputs):
        # Bilinear reads the two input positions around each output's centre.
        return Window((2 if self.bilinear else 1,) * len(self.factors),
                      tuple(Fraction(1, f) for f in self.factors))

    def describe(self):
        return f"upsample {format_shape(self.factors)}" + (" bilinear" if self.bilinear
                                                           else "")


@dataclass(frozen=True)
class Reshape(Layer):
    """`reshape 1x1x64`: the element count must not change."""

    shape: Shape

    kind = "reshape"

    @classmethod
    def read(cls, a, inputs):
        dims = _tensor_shape(a.size("new shape", 0, example="reshape 7x7x64")[0], "reshape")
        if prod(dims) != prod(inputs[0]):
            raise LayerError(f"cannot reshape {format_shape(inputs[0])} ({prod(inputs[0])} "
                             f"values) to {format_shape(dims)} ({prod(dims)} values)",
                             "the element counts must be equal")
        return cls(dims)

    def output_shape(self, inputs):
        return self.shape

    def window(self, inputs):
        # Values keep their place only if nothing moves; otherwise positions lose meaning.
        return None if inputs[0] == self.shape else GLOBAL

    def describe(self):
        return f"reshape {format_shape(self.shape)}"


@dataclass(frozen=True)
class ActivationStep(Layer):
    """`relu`, `softmax`, `leaky_relu=0.1` alone: an Activation layer named after it."""

    function: Activation

    kind = "activation"
    words = ACTIVATIONS
    other_names = ("Activation",)  # Keras's `Activation("relu")`: the hint says how

    @classmethod
    def read(cls, a, inputs):
        fused = a.activation()  # `leaky_relu=0.1` carries its value as an option
        return cls(fused if fused else bare_activation(a.step, a.span))

    @property
    def stem(self):
        return self.function.name

    def flops(self, inputs, out):
        return self.function.flops_per_element * prod(out)

    def describe(self):
        return str(self.function)


__all__ = ["GLOBAL"]

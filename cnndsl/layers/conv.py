"""Convolutions: `conv`, `dwconv`, `sepconv` and `deconv`, in 1-D, 2-D and 3-D.

They share one sliding-window core (kernel, stride, padding, dilation, bias, fused
activation) and differ only in how channels mix, which is what their `kernel_shape`
and parameter counts say; the backends read the same `kernel_shape`, so the report and
the weights cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import ceil, gcd, prod
from typing import ClassVar

from .activations import Activation
from .arguments import ArgReader
from .base import (
    Inputs,
    Layer,
    LayerError,
    Variable,
    Window,
    epilogue_flops,
    kernel_and_bias,
    rank_word,
)
from .shapes import Shape, conv_length, deconv_length, effective_kernel, format_shape

SPATIAL = (2, 3, 4)


@dataclass(frozen=True)
class Sliding(Layer):
    """The shared core of every windowed layer with weights."""

    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: str
    activation: Activation | None
    bias: bool
    dilation: tuple[int, ...]

    ranks = SPATIAL
    conv_type = True
    options: ClassVar[tuple[str, ...]] = ("dilation", "bias", "leaky_relu")

    @classmethod
    def read_common(cls, a: ArgReader, inputs: Inputs, example: str) -> dict:
        rank = len(inputs[0]) - 1
        kernel, stride = a.size("kernel size", rank, example=example, stride=True)
        fields = dict(kernel=kernel, stride=stride or (1,) * rank, padding=a.padding(),
                      activation=a.activation(), bias=a.option_bool("bias", True),
                      dilation=a.option_size("dilation", rank, 1))
        if max(fields["dilation"]) > 1 and max(fields["stride"]) > 1:
            raise LayerError("a stride above 1 cannot be combined with dilation above 1",
                             "Keras refuses it too: use one or the other")
        return fields

    def spatial_out(self, shape: Shape) -> Shape:
        sizes = shape[:-1]
        out = tuple(conv_length(n, k, s, self.padding, d) for n, k, s, d in
                    zip(sizes, self.kernel, self.stride, self.dilation))
        if min(out) < 1:
            extent = tuple(effective_kernel(k, d) for k, d in zip(self.kernel, self.dilation))
            what = f"kernel {format_shape(self.kernel)}"
            if extent != self.kernel:
                what = f"dilated kernel {format_shape(extent)} ({format_shape(self.kernel)})"
            raise LayerError(f"{what} is larger than the {format_shape(sizes)} input with "
                             "valid padding", "use `same`, or a smaller kernel")
        return out

    def window(self, inputs: Inputs) -> Window:
        extent = tuple(effective_kernel(k, d) for k, d in zip(self.kernel, self.dilation))
        return Window(extent, self.stride)

    def flops(self, inputs: Inputs, out: Shape) -> int:
        return 2 * self.macs(inputs, out) + epilogue_flops(out, self.bias, self.activation)

    def describe_window(self) -> str:
        text = f"{self.kind} {format_shape(self.kernel)}"
        if max(self.stride) > 1:
            text += f"/{format_shape(self.stride)}"
        return text

    def describe_tail(self) -> str:
        text = f" {self.padding}" if self.padding == "same" else ""
        text += f" {self.activation}" if self.activation else ""
        if max(self.dilation) > 1:
            text += f" dilation={format_shape(self.dilation)}"
        return text + ("" if self.bias else " bias=false")


@dataclass(frozen=True)
class Conv(Sliding):
    """`conv 3x3/2 x64 same relu groups=2`: ConvND."""

    filters: int = 1
    groups: int = 1

    kind = "conv"
    other_names = ("Conv2D", "Convolution2D", "Conv2d")
    options = Sliding.options + ("groups",)

    @classmethod
    def read(cls, a, inputs):
        fields = cls.read_common(a, inputs, "conv 3x3 x16")
        filters = a.width("number of filters", example="conv 3x3 x16")
        groups = a.option_int("groups", 1)
        channels = inputs[0][-1]
        if channels % groups or filters % groups:
            raise LayerError(f"groups={groups} must divide both the {channels} input channels "
                             f"and the {filters} filters", _groups_hint(channels, filters))
        return cls(**fields, filters=filters, groups=groups)

    def kernel_shape(self, channels: int) -> Shape:
        return (*self.kernel, channels // self.groups, self.filters)


    def output_shape(self, inputs):
        return (*self.spatial_out(inputs[0]), self.filters)

    def variables(self, inputs):
        return kernel_and_bias(self.kernel_shape(inputs[0][-1]), self.bias)

    def macs(self, inputs, out):
        return prod(out) * prod(self.kernel) * (inputs[0][-1] // self.groups)

    def describe(self):
        text = f"{self.describe_window()} x{self.filters}{self.describe_tail()}"
        return text + (f" groups={self.groups}" if self.groups > 1 else "")


@dataclass(frozen=True)
class DWConv(Sliding):
    """`dwconv 3x3/2 x2 same`: DepthwiseConvND, `xM` the depth multiplier."""

    multiplier: int = 1

    kind = "dwconv"
    other_names = ("DepthwiseConv2D", "DepthwiseConvolution2D")

    @classmethod
    def read(cls, a, inputs):
        fields = cls.read_common(a, inputs, "dwconv 3x3")
        multiplier = a.width("depth multiplier", example="dwconv 3x3 x2", required=False)
        return cls(**fields, multiplier=multiplier)

    def kernel_shape(self, channels: int) -> Shape:
        return (*self.kernel, channels, self.multiplier)

    def output_shape(self, inputs):
        return (*self.spatial_out(inputs[0]), inputs[0][-1] * self.multiplier)

    def variables(self, inputs):
        shape = self.kernel_shape(inputs[0][-1])
        out = {"depthwise_kernel": Variable(shape, "glorot_uniform")}
        if self.bias:
            out["bias"] = Variable((shape[-2] * shape[-1],), "zeros")
        return out

    def macs(self, inputs, out):
        return prod(out) * prod(self.kernel)

    def describe(self):
        mult = f" x{self.multiplier}" if self.multiplier > 1 else ""
        return f"{self.describe_window()}{mult}{self.describe_tail()}"


@dataclass(frozen=True)
class SepConv(Sliding):
    """`sepconv 3x3 x128 same relu`: SeparableConvND (depthwise, then pointwise);
    `mult=2`: the depthwise step's depth multiplier (Keras's `depth_multiplier`)."""

    filters: int = 1
    multiplier: int = 1

    kind = "sepconv"
    other_names = ("SeparableConv2D", "SeparableConvolution2D")
    options = Sliding.options + ("mult",)

    @classmethod
    def read(cls, a, inputs):
        fields = cls.read_common(a, inputs, "sepconv 3x3 x64")
        return cls(**fields, filters=a.width("number of filters", example="sepconv 3x3 x64"),
                   multiplier=a.option_int("mult", 1))

    def kernel_shape(self, channels: int) -> Shape:
        """The depthwise kernel; the pointwise one is `pointwise_shape`."""
        return (*self.kernel, channels, self.multiplier)

    def pointwise_shape(self, channels: int) -> Shape:
        return (*(1,) * len(self.kernel), channels * self.multiplier, self.filters)

    def output_shape(self, inputs):
        return (*self.spatial_out(inputs[0]), self.filters)

    def variables(self, inputs):
        c = inputs[0][-1]
        out = {"depthwise_kernel": Variable(self.kernel_shape(c), "glorot_uniform"),
               "pointwise_kernel": Variable(self.pointwise_shape(c), "glorot_uniform")}
        if self.bias:
            out["bias"] = Variable((self.filters,), "zeros")
        return out

    def macs(self, inputs, out):
        c = inputs[0][-1] * self.multiplier  # the channels the depthwise step makes
        positions = prod(out[:-1])
        return positions * c * prod(self.kernel) + positions * c * self.filters

    def describe(self):
        mult = f" mult={self.multiplier}" if self.multiplier > 1 else ""
        return f"{self.describe_window()} x{self.filters}{self.describe_tail()}{mult}"


@dataclass(frozen=True)
class Deconv(Sliding):
    """`deconv 2x2/2 x64`: ConvNDTranspose."""

    filters: int = 1

    kind = "deconv"
    other_names = ("Conv2DTranspose", "Convolution2DTranspose", "ConvTranspose2d",
                   "ConvTranspose")
    options = ("bias", "leaky_relu")

    @classmethod
    def read(cls, a, inputs):
        rank = len(inputs[0]) - 1
        kernel, stride = a.size("kernel size", rank, example="deconv 2x2/2 x64", stride=True)
        return cls(kernel=kernel, stride=stride or (1,) * rank, padding=a.padding(),
                   activation=a.activation(), bias=a.option_bool("bias", True),
                   dilation=(1,) * rank,
                   filters=a.width("number of filters", example="deconv 2x2/2 x64"))

    def kernel_shape(self, channels: int) -> Shape:
        """Keras stores transposed kernels as (*kernel, filters, in_channels)."""
        return (*self.kernel, self.filters, channels)

    def output_shape(self, inputs):
        sizes = inputs[0][:-1]
        out = tuple(deconv_length(n, k, s, self.padding)
                    for n, k, s in zip(sizes, self.kernel, self.stride))
        return (*out, self.filters)

    def variables(self, inputs):
        out = {"kernel": Variable(self.kernel_shape(inputs[0][-1]), "glorot_uniform")}
        if self.bias:
            out["bias"] = Variable((self.filters,), "zeros")
        return out

    def macs(self, inputs, out):
        # Every input position scatters a kernel's worth of products into every filter.
        return prod(inputs[0][:-1]) * prod(self.kernel) * inputs[0][-1] * self.filters

    def window(self, inputs):
        return Window(tuple(ceil(k / s) for k, s in zip(self.kernel, self.stride)),
                      tuple(Fraction(1, s) for s in self.stride))

    def describe(self):
        return f"{self.describe_window()} x{self.filters}{self.describe_tail()}"


__all__ = ["Conv", "DWConv", "SepConv", "Deconv", "rank_word"]


def _groups_hint(channels: int, filters: int) -> str:
    """The values `groups=` may take here: the common divisors of both counts."""
    common = gcd(channels, filters)
    if common == 1:
        return "no number above 1 divides both counts here: leave `groups=` out"
    found = [g for g in range(1, min(common, 64) + 1) if common % g == 0]
    every = common <= 64 and len(found) <= 6
    first = found if every else found[:5]
    listed = ", ".join(f"`groups={g}`" for g in first[:-1])
    return f"groups must divide both counts: {listed}{'' if every else ', …'} or `groups={common}`"

"""Pooling: `maxpool`, `avgpool` (windowed) and `gap`, `gmp` (global)."""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from .base import GLOBAL, Layer, LayerError, Window
from .shapes import conv_length, format_shape

SPATIAL = (2, 3, 4)


@dataclass(frozen=True)
class Pool(Layer):
    """`maxpool 3/2 same`: the stride defaults to the window, as in Keras."""

    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: str

    ranks = SPATIAL

    @classmethod
    def read(cls, a, inputs):
        rank = len(inputs[0]) - 1
        kernel, stride = a.size("window size", rank, example=f"{cls.kind} 2", stride=True)
        return cls(kernel=kernel, stride=stride or kernel, padding=a.padding())

    def output_shape(self, inputs):
        sizes = inputs[0][:-1]
        out = tuple(conv_length(n, k, s, self.padding)
                    for n, k, s in zip(sizes, self.kernel, self.stride))
        if min(out) < 1:
            raise LayerError(f"window {format_shape(self.kernel)} is larger than the "
                             f"{format_shape(sizes)} input with valid padding",
                             "use `same`, or a smaller window")
        return (*out, inputs[0][-1])

    def window(self, inputs):
        return Window(self.kernel, self.stride)

    def describe(self):
        text = f"{self.kind} {format_shape(self.kernel)}"
        if self.stride != self.kernel:
            text += f"/{format_shape(self.stride)}"
        return text + (" same" if self.padding == "same" else "")


@dataclass(frozen=True)
class MaxPool(Pool):
    kind = "maxpool"
    other_names = ("MaxPooling2D", "MaxPool2D", "MaxPool2d", "MaxPool")

    def flops(self, inputs, out):
        return (prod(self.kernel) - 1) * prod(out)  # comparisons


@dataclass(frozen=True)
class AvgPool(Pool):
    kind = "avgpool"
    other_names = ("AveragePooling2D", "AvgPool2D", "AvgPool2d", "AveragePool")

    def flops(self, inputs, out):
        return prod(self.kernel) * prod(out)  # K-1 adds and one divide per output


@dataclass(frozen=True)
class GlobalPool(Layer):
    """`gap`, `gmp keepdims`: to a C-vector, or with `keepdims` to 1x..x1xC."""

    keepdims: bool = False

    ranks = SPATIAL

    @classmethod
    def read(cls, a, inputs):
        return cls(a.flag("keepdims"))

    def output_shape(self, inputs):
        ones = (1,) * (len(inputs[0]) - 1) if self.keepdims else ()
        return (*ones, inputs[0][-1])

    def window(self, inputs):
        return GLOBAL

    def describe(self):
        return self.kind + (" keepdims" if self.keepdims else "")


@dataclass(frozen=True)
class GAP(GlobalPool):
    """`gap`: GlobalAveragePoolingND."""

    kind = "gap"
    other_names = ("GlobalAveragePooling2D", "GlobalAvgPool2D", "AdaptiveAvgPool2d",
                   "GlobalAveragePool")

    def flops(self, inputs, out):
        return prod(inputs[0])  # adds, and one divide per channel, as in avgpool


@dataclass(frozen=True)
class GMP(GlobalPool):
    """`gmp`: GlobalMaxPoolingND."""

    kind = "gmp"
    other_names = ("GlobalMaxPooling2D", "GlobalMaxPool2D", "AdaptiveMaxPool2d",
                   "GlobalMaxPool")

    def flops(self, inputs, out):
        return prod(inputs[0]) - inputs[0][-1]  # comparisons

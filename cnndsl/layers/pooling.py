"""Pooling: `maxpool`, `avgpool` (windowed) and `gap`, `gmp` (global)."""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from .base import GLOBAL, Layer, LayerError, Window
from .padding import (
    Pads,
    describe_padding,
    explicit_pads,
    pads_text,
    read_padding,
    too_small,
    written_at,
)
from .shapes import conv_length, format_shape, padded_length

SPATIAL = (2, 3, 4)


@dataclass(frozen=True)
class Pool(Layer):
    """`maxpool 3/2 same`: the stride defaults to the window, as in Keras."""

    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: str
    # version 3: (before, after) per dimension for `pad=`; PyTorch's `ceil_mode`; and for
    # `avgpool`, PyTorch's `count_include_pad`
    pads: Pads = ()
    ceil: bool = False
    include_pad: bool = False

    ranks = SPATIAL
    options = ("pad",)

    @classmethod
    def read(cls, a, inputs):
        rank = len(inputs[0]) - 1
        kernel, stride = a.size("window size", rank, example=f"{cls.kind} 2", stride=True)
        padding, pads = read_padding(a, rank)
        ceil, include = a.flag("ceil"), a.flag("include_pad")
        _check_pooling(a, kernel, padding, pads, ceil, include)
        return cls(kernel=kernel, stride=stride or kernel, padding=padding, pads=pads,
                   ceil=ceil, include_pad=include)

    def output_shape(self, inputs):
        sizes = inputs[0][:-1]
        if self.pads or self.ceil:
            return (*self._padded_out(sizes), inputs[0][-1])
        out = tuple(conv_length(n, k, s, self.padding)
                    for n, k, s in zip(sizes, self.kernel, self.stride))
        if min(out) < 1:
            raise LayerError(f"window {format_shape(self.kernel)} is larger than the "
                             f"{format_shape(sizes)} input with valid padding",
                             "use `same`, or a smaller window")
        return (*out, inputs[0][-1])

    def _padded_out(self, sizes):
        pads = explicit_pads(self, sizes)
        out = tuple(padded_length(n, k, s, b, e, ceil=self.ceil) for n, k, s, (b, e) in
                    zip(sizes, self.kernel, self.stride, pads))
        if min(out) < 1:
            raise too_small(f"window {format_shape(self.kernel)}", sizes, pads)
        return out

    def window(self, inputs):
        return Window(self.kernel, self.stride)

    def describe(self):
        text = f"{self.kind} {format_shape(self.kernel)}"
        if self.stride != self.kernel:
            text += f"/{format_shape(self.stride)}"
        text += describe_padding(self.padding, self.pads)
        return text + (" ceil" if self.ceil else "") + (" include_pad" if self.include_pad
                                                        else "")


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

    def warnings(self, inputs):
        if not self.include_pad or any(b or e for b, e in explicit_pads(self, inputs[0][:-1])):
            return []
        return [("`include_pad` changes nothing here: no window reaches any padding",
                 "remove it; it counts the zeros `pad=` or `same` adds in the average")]


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


# version 3: padding
def _check_pooling(a, kernel, padding: str, pads: Pads, ceil: bool, include: bool) -> None:
    """What PyTorch and ONNX refuse of a pooling's padding, and words that do nothing."""
    if include and a.step == "maxpool":
        raise LayerError("`include_pad` is for `avgpool`: it counts the padding's zeros in "
                         "the average", "remove it: `maxpool` pads with minus infinity, "
                         "which is never the maximum", written_at(a, "include_pad"))
    if ceil and padding == "same":
        raise LayerError("`ceil` and `same` both round the output size up",
                         "keep `same` (Keras's padding) or `ceil` with `pad=` (PyTorch's "
                         "`ceil_mode`)", written_at(a, "ceil"))
    for k, (b, e) in zip(kernel, pads):
        if max(b, e) >= k:
            raise LayerError(f"`pad={pads_text(pads)}` must be smaller than the window "
                             f"{format_shape(kernel)}", "ONNX's rule: a window would "
                             f"otherwise see only padding; at most {k - 1} here",
                             written_at(a, "pad"))


"""Each layer kind as the words that write it: the printer's one method per kind.

The inverse of each layer's `read`: `Conv(kernel=(3, 3), stride=(2, 2), ...)` is written
`conv 3/2 x64 same`, with Keras's defaults left out and every number that a block could
take as a parameter (widths, kernels, strides, dilations, groups) a `Hole`.
"""

from __future__ import annotations

import re

from ...graph.ir import Node
from ...layers.activations import Activation
from ...layers.conv import Sliding
from .terms import Hole, Word, const

WIDTH, KERNEL, STRIDE = "f", "k", "s"


def number(x: float) -> str:
    """The shortest text that reads back as exactly `x` (`1.001e-5`, `0.5`, `2.0`)."""
    text = repr(float(x))
    return re.sub(r"e([-+])0*(\d)", lambda m: "e" + ("-" if m[1] == "-" else "") + m[2], text)


def compact(sizes: tuple[int, ...]) -> str:
    """`3` for 3x3, else `1x7`."""
    return str(sizes[0]) if len(set(sizes)) == 1 else "x".join(map(str, sizes))


def size_hole(sizes: tuple[int, ...], role: str, prefix: str = "",
              omit: int | None = None) -> str | Hole:
    """A size whose dimensions are equal is one hole; `1x7` stays text."""
    if len(set(sizes)) == 1:
        return Hole(const(sizes[0]), role, None, omit, prefix)
    text = "x".join(map(str, sizes))
    return "" if omit is not None and set(sizes) == {omit} else prefix + text


def activation_text(fn: Activation) -> str:
    if fn.name == "leaky_relu":
        return "leaky_relu" if fn.alpha == 0.2 else f"leaky_relu={number(fn.alpha or 0.0)}"
    return fn.written()  # version 3's values: `elu=0.5`, `clip=-1,1`, `gelu=tanh`


def _affine(layer) -> list[Word]:
    """A norm's `scale=false` / `center=false` (Keras's defaults, True, left out)."""
    out: list[Word] = [] if layer.scale else [("scale=false",)]
    return out + ([] if layer.center else [("center=false",)])


def _pads(pads: tuple[tuple[int, int], ...]) -> str:
    """`1`, `1x2`, `0:1x0:1`: per axis, before and after (one number when equal)."""
    texts = [f"{b}" if b == a else f"{b}:{a}" for b, a in pads]
    return texts[0] if len(set(texts)) == 1 else "x".join(texts)


class StepWords:
    """`words(node)` dispatches on the node's kind, as the backends do."""

    def words(self, node: Node) -> list[Word]:
        method = getattr(self, node.kind, None)
        if method is None:
            raise NotImplementedError(f"the printer cannot write `{node.kind}`")
        return [w for w in method(node, node.layer) if w]

    # -- windows ------------------------------------------------------------------------
    def _window(self, word: str, node: Node, layer: Sliding) -> list[Word]:
        return [(word,), (size_hole(layer.kernel, KERNEL),
                          size_hole(layer.stride, STRIDE, "/", omit=1))]

    def _tail(self, layer: Sliding) -> list[Word]:
        out: list[Word] = []
        if layer.padding in ("same", "causal"):
            out.append((layer.padding,))
        elif layer.padding == "explicit":  # version 3
            out.append(("pad=" + _pads(layer.pads),))
        if layer.activation is not None:
            out.append((activation_text(layer.activation),))
        if max(layer.dilation) > 1:
            out.append((size_hole(layer.dilation, "d", "dilation=", omit=1),))
        if not layer.bias:
            out.append(("bias=false",))
        return out

    def _width(self, value: int, node: Node, role: str = WIDTH) -> Word:
        return (Hole(const(value), role, node.in_shapes[0][-1], None, "x"),)

    def conv(self, node, layer):
        out = self._window("conv", node, layer) + [self._width(layer.filters, node)]
        out += self._tail(layer)
        if layer.groups > 1:
            out.append((Hole(const(layer.groups), "g", None, 1, "groups="),))
        return out

    def dwconv(self, node, layer):
        multiplier = (Hole(const(layer.multiplier), "m", None, 1, "x"),)
        return self._window("dwconv", node, layer) + [multiplier] + self._tail(layer)

    def sepconv(self, node, layer):
        multiplier = (Hole(const(layer.multiplier), "m", None, 1, "mult="),)
        return (self._window("sepconv", node, layer) + [self._width(layer.filters, node)]
                + self._tail(layer) + [multiplier])

    def deconv(self, node, layer):
        outpad = [("outpad=" + compact(layer.outpad),)] if any(layer.outpad) else []
        return (self._window("deconv", node, layer) + [self._width(layer.filters, node)]
                + self._tail(layer) + outpad)

    def _pool(self, word, layer):
        stride = "" if layer.stride == layer.kernel else "/" + compact(layer.stride)
        out: list[Word] = [(word,), (compact(layer.kernel) + stride,)]
        out += [("same",)] if layer.padding == "same" else []
        out += [("pad=" + _pads(layer.pads),)] if layer.padding == "explicit" else []
        return out + [(flag,) for flag in ("ceil", "include_pad") if getattr(layer, flag)]

    def maxpool(self, node, layer):
        return self._pool("maxpool", layer)

    def avgpool(self, node, layer):
        return self._pool("avgpool", layer)

    # -- the rest -----------------------------------------------------------------------
    def input(self, node, layer):
        return [("input",), ("x".join(map(str, layer.shape)),)]

    def dense(self, node, layer):
        out: list[Word] = [("dense",), (Hole(const(layer.units), WIDTH,
                                             node.in_shapes[0][-1]),)]
        if layer.activation is not None:
            out.append((activation_text(layer.activation),))
        return out + ([("bias=false",)] if not layer.bias else [])

    def batchnorm(self, node, layer):
        out: list[Word] = [("bn",)]
        if layer.eps != 0.001:
            out.append((f"eps={number(layer.eps)}",))
        if layer.momentum != 0.99:
            out.append((f"momentum={number(layer.momentum)}",))
        return out + _affine(layer)

    def layernorm(self, node, layer):
        out: list[Word] = [("layernorm",)]
        if layer.eps != 0.001:
            out.append((f"eps={number(layer.eps)}",))
        return out + _affine(layer)

    def rescale(self, node, layer):
        out: list[Word] = [("rescale",), (number(layer.scale),)]
        return out + ([(f"offset={number(layer.offset)}",)] if layer.offset else [])

    def normalize(self, node, layer):
        """Adapted (statistics as weights) is the bare word; constants are options, one
        number for all channels or a comma list, one per channel."""
        if layer.mean is None or layer.variance is None:
            return [("normalize",)]
        return [("normalize",), ("mean=" + ",".join(map(number, layer.mean)),),
                ("variance=" + ",".join(map(number, layer.variance)),)]

    def dropout(self, node, layer):
        out: list[Word] = [("dropout",), (number(layer.rate),)]
        if layer.noise is not None:
            out.append(("noise=" + "x".join(map(str, layer.noise)),))
        return out

    def zeropad(self, node, layer):
        return [("zeropad",), (_pads(layer.pads),)]

    def crop(self, node, layer):
        return [("crop",), (_pads(layer.pads),)]

    def upsample(self, node, layer):
        out: list[Word] = [("upsample",), (compact(layer.factors),)]
        return out + ([("bilinear",)] if layer.bilinear else [])

    def reshape(self, node, layer):
        *lead, channels = layer.shape
        head = "".join(f"{d}x" for d in lead)
        return [("reshape",), (head, Hole(const(channels), WIDTH, node.in_shapes[0][-1]))]

    def flatten(self, node, layer):
        return [("flatten",), ("chw",)] if layer.chw else [("flatten",)]

    def gap(self, node, layer):
        return [("gap",)] + ([("keepdims",)] if layer.keepdims else [])

    def gmp(self, node, layer):
        return [("gmp",)] + ([("keepdims",)] if layer.keepdims else [])

    def activation(self, node, layer):
        return [(activation_text(layer.function),)]

    # Merges are written by their structure (`add { ... }`); these give the word.
    def add(self, node, layer):
        return [("add",)]

    def mul(self, node, layer):
        return [("mul",)]

    def avg(self, node, layer):
        return [("avg",)]

    def max(self, node, layer):
        return [("max",)]

    def concat(self, node, layer):
        return [("concat",)]

    # version 3: rearranging
    def pixel_shuffle(self, node, layer):
        return [("pixel_shuffle",), (str(layer.factor),)]

    def pixel_unshuffle(self, node, layer):
        return [("pixel_unshuffle",), (str(layer.factor),)]

    def channel_shuffle(self, node, layer):
        return [("channel_shuffle",), (str(layer.groups),)]

    def split(self, node, layer):
        """`split`, and its sizes when the parts are not equal."""
        sizes = layer.sizes
        return [("split",)] + ([(",".join(map(str, sizes)),)] if len(set(sizes)) > 1 else [])

    def part(self, node, layer):
        return []  # written by its `split`: the branch starts from its part

    # version 3: padding
    def pad(self, node, layer):
        mode = [] if layer.mode == "zeros" else [(layer.mode,)]
        return [("pad",), (_pads(layer.pads),), *mode]

    # version 3: normalisation and activations
    def groupnorm(self, node, layer):
        return [("groupnorm",), (str(layer.groups),), *_group_options(layer)]

    def instancenorm(self, node, layer):
        return [("instancenorm",), *_group_options(layer)]

    def lrn(self, node, layer):
        options = [(f"{key}={number(value)}",) for key, value, default in (
            ("alpha", layer.alpha, 1e-4), ("beta", layer.beta, 0.75), ("k", layer.k, 1.0))
            if value != default]
        return [("lrn",), (str(layer.size),), *options]

    def prelu(self, node, layer):
        return [("prelu",)] + ([("shared",)] if layer.shared else [])


def _group_options(layer) -> list[Word]:
    """groupnorm's and instancenorm's eps (Keras's 0.001 left out) and `affine=false`."""
    out: list[Word] = [(f"eps={number(layer.eps)}",)] if layer.eps != 0.001 else []
    return out + ([] if layer.affine else [("affine=false",)])

"""ONNX's windowed operators as cnndsl steps: Conv, ConvTranspose, MaxPool, AveragePool,
the global poolings, and Pad (folded into the next window where that is exactly the same).

Padding is written as a person would: nothing for none, `same` only where ONNX's pads are
exactly Keras's `same` for these sizes, and `pad=` (PyTorch's `padding=`) otherwise.
Kernels move from ONNX's (F, C/G, *k) to Keras's (*k, C/G, F).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...backends.onnx.geometry import deconv_pads, keras_depthwise_kernel, keras_kernel
from ...layers.conv import Conv, Deconv, DWConv, SepConv
from ...layers.core import ZeroPad
from ...layers.padding import EXPLICIT, Pad
from ...layers.pooling import GAP, GMP, AvgPool, MaxPool
from ...layers.shapes import deconv_length, same_padding
from .pointwise import fused_activation
from .scales import fixed
from .walk import FIRST, LAST, Value, Walk, attributes, reads

Pairs = tuple[tuple[int, int], ...]


def _pairs(walk: Walk, onnx_node: Any, attrs: dict, sizes, kernel, stride,
           dilation) -> Pairs:
    """The (before, after) pads of each spatial dimension, from `pads` or `auto_pad`."""
    auto = attrs.get("auto_pad", "NOTSET")
    rank = len(sizes)
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pairs = [same_padding(n, k, s, d) for n, k, s, d in zip(sizes, kernel, stride, dilation)]
        return tuple((b, a) if auto == "SAME_UPPER" else (a, b) for b, a in pairs)
    if auto not in ("NOTSET", "VALID"):
        raise walk.refuse(onnx_node, f"auto_pad={auto} is not one of ONNX's")
    pads = [0] * (2 * rank) if auto == "VALID" else list(attrs.get("pads", [0] * (2 * rank)))
    if len(pads) != 2 * rank or min(pads) < 0:
        raise walk.refuse(onnx_node, f"pads={pads} for {rank} spatial dimensions")
    return tuple((int(pads[i]), int(pads[i + rank])) for i in range(rank))


def _word(attrs: dict, pairs: Pairs, padded: Pairs | None) -> tuple[str, Pairs]:
    """(`same`, ()) where ONNX says SAME_UPPER (Keras's arithmetic, exactly) and no Pad
    was folded in; (`valid`, ()) for no padding; else `pad=` with the pairs."""
    if attrs.get("auto_pad") == "SAME_UPPER" and padded is None:
        return "same", ()
    if not any(b or a for b, a in pairs):
        return "valid", ()
    return EXPLICIT, pairs


def _window(walk: Walk, onnx_node: Any, attrs: dict, x: Value, kernel) -> tuple:
    """(spatial sizes, stride, dilation) of a windowed node on a channels-first input."""
    if x.layout != FIRST:
        raise walk.refuse(onnx_node, "its input is channels-last (ONNX's windowed "
                          "operators read axis 1 as the channels)")
    sizes = walk.nodes[x.node].shape[:-1]
    rank = len(sizes)
    if len(kernel) != rank:
        raise walk.refuse(onnx_node, f"a {len(kernel)}-D window on a {rank}-D input")
    stride = tuple(int(s) for s in attrs.get("strides", [1] * rank))
    dilation = tuple(int(d) for d in attrs.get("dilations", [1] * rank))
    if max(stride) > 1 and max(dilation) > 1:
        # A 1-wide kernel reads one position however far apart its taps are: no dilation
        dilation = tuple(1 if k == 1 else d for k, d in zip(kernel, dilation))
    if max(stride) > 1 and max(dilation) > 1:
        raise walk.refuse(onnx_node, f"strides={list(stride)} with dilations="
                          f"{list(dilation)}: cnndsl's windows (Keras's) are strided or "
                          "dilated, not both", "dilate with stride 1, then subsample")
    return sizes, stride, dilation


def _input(walk: Walk, onnx_node: Any) -> tuple[Value, Pairs | None]:
    """A windowed node's input, and the zero padding of a Pad folded into it (if any)."""
    name = onnx_node.input[0]
    if name in walk.padded:
        value, pairs = walk.padded[name]
        return value, pairs
    return walk.value(onnx_node), None


def _plus(pairs: Pairs, extra: Pairs | None) -> Pairs:
    return pairs if extra is None else tuple((b + eb, a + ea) for (b, a), (eb, ea) in
                                             zip(pairs, extra))


@reads("Conv")
def conv(walk: Walk, onnx_node: Any) -> None:
    attrs = attributes(onnx_node)
    x, padded = _input(walk, onnx_node)
    w = walk.constant(onnx_node, 1, "kernel")
    bias = _bias(walk, onnx_node)
    kernel = tuple(int(k) for k in attrs.get("kernel_shape", w.shape[2:]))
    sizes, stride, dilation = _window(walk, onnx_node, attrs, x, kernel)
    if padded is not None:  # the node's own padding is of the padded input's sizes
        sizes = tuple(n + b + a for n, (b, a) in zip(sizes, padded))
    pairs = _plus(_pairs(walk, onnx_node, attrs, sizes, kernel, stride, dilation), padded)
    channels = walk.nodes[x.node].shape[-1]
    groups = int(attrs.get("group", 1))
    filters = int(w.shape[0])
    word, pads = _word(attrs, pairs, padded)
    if walk.exporter == "cnndsl" and max(dilation) > 1 and padded is None and any(
            map(any, pairs)) and pairs == tuple(
            same_padding(n, k, s, d) for n, k, s, d in zip(sizes, kernel, stride, dilation)):
        word, pads = "same", ()  # cnndsl's export writes a dilated `same` out as pads
        # (where `same` pads nothing, a 1x1 kernel's, nothing is written: `valid`)
    activation, last = fused_activation(walk, onnx_node)
    common = dict(kernel=kernel, stride=stride, padding=word, activation=activation,
                  bias=bias is not None, dilation=dilation, pads=pads)
    weights = {}
    if _separable(walk, onnx_node, x, common, groups, channels, filters, w, bias):
        return
    # cnndsl's own export names a grouped conv's kernel `LAYER/kernel`, a dwconv's
    # `LAYER/depthwise_kernel`: a conv with as many groups as channels stays a conv
    grouped = walk.exporter == "cnndsl" and onnx_node.input[1].endswith("/kernel")
    depthwise = walk.exporter == "cnndsl" and onnx_node.input[1].endswith("/depthwise_kernel")
    if groups == channels and filters % channels == 0 and (groups > 1 or depthwise) \
            and not grouped:
        multiplier = filters // channels
        layer: Any = DWConv(**common, multiplier=multiplier)
        weights["depthwise_kernel"] = keras_depthwise_kernel(w, multiplier)
    else:
        layer = Conv(**common, filters=filters, groups=groups)
        weights["kernel"] = keras_kernel(w)
    if bias is not None:
        weights["bias"] = bias
    walk.add(layer, [x], onnx_node, FIRST, weights, output=last)


def _bias(walk: Walk, onnx_node: Any) -> np.ndarray | None:
    """A Conv's bias; None for none, or for zeros the graph builds rather than stores
    (the dynamo exporter's `bias=False`, unoptimised)."""
    bias = walk.optional(onnx_node, 2)
    if len(onnx_node.input) > 2 and onnx_node.input[2] and bias is None:
        walk.constant(onnx_node, 2, "bias")  # refused: a computed bias
    return None if bias is not None and fixed(walk, onnx_node.input[2], 0.0) else bias


def _separable(walk: Walk, onnx_node: Any, x: Value, common: dict, groups: int,
               channels: int, filters: int, w: np.ndarray, bias) -> bool:
    """A depthwise Conv named `NAME/depthwise` read only by a 1x1 Conv named `NAME`: one
    `sepconv` (cnndsl's own export writes a separable convolution so); in PyTorch, modules
    `NAME_depthwise` and `NAME_pointwise` (as cnndsl's `--emit torch` writes one). Other
    PyTorch separable convolutions are two modules, and stay two steps."""
    user = walk.sole_user(onnx_node.output[0])
    if user is None or user.op_type != "Conv" or bias is not None or groups != channels \
            or filters % channels or common["activation"] is not None:
        return False
    module = walk.layer_names.get(id(onnx_node), "")
    base = module.removesuffix("_depthwise")
    if onnx_node.name != f"{user.name}/depthwise" and not (
            walk.exporter != "cnndsl" and module.endswith("_depthwise") and
            walk.layer_names.get(id(user)) == f"{base}_pointwise"):
        return False
    attrs = attributes(user)
    pointwise = walk.optional(user, 1)
    if pointwise is None or pointwise.shape[2:] != (1,) * len(w.shape[2:]) or \
            int(attrs.get("group", 1)) != 1 or any(int(s) != 1 for s in attrs.get(
                "strides", [])) or any(int(p) for p in attrs.get("pads", [])):
        return False
    walk.absorb(user)
    multiplier = filters // channels
    activation, last = fused_activation(walk, user)
    out_bias = _bias(walk, user)
    layer = SepConv(**{**common, "activation": activation, "bias": out_bias is not None},
                    filters=int(pointwise.shape[0]), multiplier=multiplier)
    weights = {"depthwise_kernel": keras_depthwise_kernel(w, multiplier),
               "pointwise_kernel": keras_kernel(pointwise)}
    if out_bias is not None:
        weights["bias"] = out_bias
    if walk.exporter != "cnndsl":
        walk.layer_names[id(user)] = base  # the two modules' step
    walk.add(layer, [x], user, FIRST, weights, output=last)
    return True


@reads("ConvTranspose")
def conv_transpose(walk: Walk, onnx_node: Any) -> None:
    attrs = attributes(onnx_node)
    x = walk.value(onnx_node)
    w = walk.constant(onnx_node, 1, "kernel")
    bias = walk.optional(onnx_node, 2)
    kernel = tuple(int(k) for k in attrs.get("kernel_shape", w.shape[2:]))
    sizes, stride, dilation = _window(walk, onnx_node, attrs, x, kernel)
    if int(attrs.get("group", 1)) != 1:
        raise walk.refuse(onnx_node, f"group={attrs['group']}: cnndsl's `deconv` is not "
                          "grouped")
    if max(dilation) > 1:
        raise walk.refuse(onnx_node, "a dilated transposed convolution has no cnndsl step")
    if "output_shape" in attrs:
        raise walk.refuse(onnx_node, "output_shape is given instead of pads",
                          "export it with explicit padding (PyTorch's ConvTranspose does)")
    if attrs.get("auto_pad", "NOTSET") != "NOTSET":
        raise walk.refuse(onnx_node, f"auto_pad={attrs['auto_pad']} on a transposed "
                          "convolution", "export it with explicit pads")
    rank = len(kernel)
    pads = list(attrs.get("pads", [0] * (2 * rank)))
    extra = [int(e) for e in attrs.get("output_padding", [0] * rank)]
    pairs = tuple((int(pads[i]), int(pads[i + rank])) for i in range(rank))
    filters = int(w.shape[1])
    activation, last = fused_activation(walk, onnx_node)
    out = [(n - 1) * s + k - b - a + e for n, k, s, (b, a), e in
           zip(sizes, kernel, stride, pairs, extra)]
    word, written, outpad = EXPLICIT, pairs, tuple(extra)
    for candidate in ("same", "valid"):  # Keras's words where they say exactly this
        flat, more = deconv_pads(sizes, kernel, stride, tuple(out), candidate)
        if flat == pads and more == extra and _keras_deconv_out(sizes, kernel, stride,
                                                                candidate) == out:
            word, written, outpad = candidate, (), (0,) * rank
            break
    layer = Deconv(kernel=kernel, stride=stride, padding=word, activation=activation,
                   bias=bias is not None, dilation=dilation, pads=written, filters=filters,
                   outpad=outpad)
    weights = {"kernel": keras_kernel(w)}
    if bias is not None:
        weights["bias"] = bias
    walk.add(layer, [x], onnx_node, FIRST, weights, output=last)


def _keras_deconv_out(sizes, kernel, stride, padding: str) -> list[int]:
    return [deconv_length(n, k, s, padding) for n, k, s in zip(sizes, kernel, stride)]


def _pool(walk: Walk, onnx_node: Any, kind: type) -> None:
    attrs = attributes(onnx_node)
    if len(onnx_node.output) > 1 and onnx_node.output[1]:
        raise walk.refuse(onnx_node, "its second output (the indices of the maxima) has "
                          "no cnndsl step")
    x, padded = _input(walk, onnx_node)
    kernel = tuple(int(k) for k in attrs["kernel_shape"])
    sizes, stride, dilation = _window(walk, onnx_node, attrs, x, kernel)
    if max(dilation) > 1:
        raise walk.refuse(onnx_node, f"dilations={list(dilation)}: cnndsl's pooling is "
                          "not dilated")
    if padded is not None:  # the node's own padding is of the padded input's sizes
        sizes = tuple(n + b + a for n, (b, a) in zip(sizes, padded))
    own = _pairs(walk, onnx_node, attrs, sizes, kernel, stride, dilation)
    pairs = _plus(own, padded)
    ceil = bool(attrs.get("ceil_mode", 0))
    include = kind is AvgPool and any(b or a for b, a in pairs) and (
        padded is not None or bool(attrs.get("count_include_pad", 0)))
    if kind is AvgPool and padded is not None and any(b or a for b, a in own) and \
            not attrs.get("count_include_pad", 0):
        raise walk.refuse(onnx_node, "zeros padded before it count, its own padding does "
                          "not", "cnndsl's average counts all of its padding or none")
    if include and attrs.get("auto_pad") == "SAME_UPPER":
        attrs = {**attrs, "auto_pad": "NOTSET"}  # Keras's `same` average counts no padding
    word, pads = _word(attrs, pairs, padded)
    layer = kind(kernel=kernel, stride=stride, padding=word, pads=pads, ceil=ceil,
                 include_pad=include)
    if ceil and any((-(-(n + b + a - k) // s)) * s >= n + b for n, (b, a), k, s in
                    zip(sizes, own, kernel, stride)):
        # A last window that would start in the padding after the input: PyTorch and
        # onnxruntime drop it (and cnndsl with them), ONNX's shape inference keeps it, so
        # from here on its shapes are one window too large and no check.
        walk.inferred.clear()
    walk.add(layer, [x], onnx_node, FIRST)


@reads("MaxPool")
def max_pool(walk: Walk, onnx_node: Any) -> None:
    _pool(walk, onnx_node, MaxPool)


@reads("AveragePool")
def average_pool(walk: Walk, onnx_node: Any) -> None:
    _pool(walk, onnx_node, AvgPool)


@reads("GlobalAveragePool", "GlobalMaxPool")
def global_pool(walk: Walk, onnx_node: Any) -> None:
    x = walk.value(onnx_node)
    if x.layout != FIRST:
        raise walk.refuse(onnx_node, "its input is channels-last (ONNX's global pooling "
                          "reads axis 1 as the channels)")
    kind = GAP if onnx_node.op_type == "GlobalAveragePool" else GMP
    user = walk.sole_user(onnx_node.output[0])
    dims = (walk.batch or 1, walk.nodes[x.node].shape[-1], *[1] * (len(walk.shape_of(x)) - 2))
    if user is not None and walk.squeezes_spatial(user, onnx_node.output[0], dims):
        walk.absorb(user)  # `gap` to a vector at once, as a person writes it
        walk.add(kind(keepdims=False), [x], onnx_node, LAST, output=user.output[0])
        return
    walk.add(kind(keepdims=True), [x], onnx_node, FIRST)


@reads("Pad")
def pad(walk: Walk, onnx_node: Any) -> None:
    attrs = attributes(onnx_node)
    x = walk.value(onnx_node)
    dims = walk.shape_of(x)
    rank = len(dims)
    if "pads" in attrs:  # opset < 11
        flat = [int(p) for p in attrs["pads"]]
        fill = float(attrs.get("value", 0.0))
    else:
        flat = [int(p) for p in walk.constant(onnx_node, 1, "pads").reshape(-1)]
        value = walk.optional(onnx_node, 2)
        fill = 0.0 if value is None or value.size == 0 else float(value.reshape(-1)[0])
    axes = walk.optional(onnx_node, 3)
    axes_list = list(range(rank)) if axes is None else [int(a) % rank for a in axes.reshape(-1)]
    if len(flat) != 2 * len(axes_list):
        raise walk.refuse(onnx_node, f"pads={flat} for {len(axes_list)} axes")
    per_axis = {a: (flat[i], flat[i + len(axes_list)]) for i, a in enumerate(axes_list)}
    mode = attrs.get("mode", "constant")
    spatial = walk.spatial_axes(x)
    if any(per_axis.get(a, (0, 0)) != (0, 0) for a in range(rank) if a not in spatial):
        raise walk.refuse(onnx_node, "it pads the batch or channel axis", "cnndsl pads "
                          "spatial dimensions only")
    pairs = tuple(per_axis.get(a, (0, 0)) for a in spatial)
    if min(min(p) for p in pairs) < 0:
        raise walk.refuse(onnx_node, f"negative pads {flat} crop", "write a `crop` step "
                          "instead")
    words = {"constant": "zeros", "reflect": "reflect", "edge": "replicate"}
    if mode not in words:
        raise walk.refuse(onnx_node, f"mode={mode!r} has no cnndsl step")
    user = walk.sole_user(onnx_node.output[0])
    # Zeros before a convolution or an average, minus infinity before a maximum (as
    # PyTorch code writes Keras's uneven `same`): the window's own padding, `pad=`
    window = ("Conv", "AveragePool") if fill == 0.0 else ("MaxPool",) if fill == -np.inf \
        else ()
    if mode == "constant" and x.layout == FIRST and user is not None and \
            walk.exporter != "cnndsl" and \
            user.op_type in window and user.input[0] == onnx_node.output[0]:
        walk.padded[onnx_node.output[0]] = (x, pairs)
        return
    if mode == "constant" and fill != 0.0:
        raise walk.refuse(onnx_node, f"it pads with {fill}, not zeros", "cnndsl pads "
                          "with zeros, by reflection or by repeating the edge")
    layer = ZeroPad(pairs) if mode == "constant" else Pad(pads=pairs, mode=words[mode])
    walk.add(layer, [x], onnx_node, x.layout)

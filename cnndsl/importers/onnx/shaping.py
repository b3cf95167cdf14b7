"""ONNX's operators that move values between axes, or reduce or normalise along them:
Transpose (a change of layout, no step), Flatten and Reshape, Gemm and MatMul (`dense`),
the spatial reductions (`gap`, `gmp`), the normalisations over channels or positions,
DepthToSpace / SpaceToDepth, and Resize by whole factors.

A channels-first tensor flattened into a dense layer is written as a plain `flatten`
(channels-last order) with the dense kernel's rows permuted to match, so the text reads
as a person writes it; `flatten chw` only where no dense layer follows alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...backends.onnx.emitter import in_layout, permutation
from ...layers.core import Crop, Dense, Flatten, Reshape, Upsample
from ...layers.norm import LayerNorm
from ...layers.norm_groups import LRN, GroupNorm, InstanceNorm
from ...layers.pooling import GAP, GMP
from ...layers.rearrange import ChannelShuffle, PixelShuffle
from .parts import channel_cut, channel_slices
from .pointwise import fused_activation
from .scales import fixed, shortest
from .walk import (
    FIRST,
    LAST,
    Value,
    Walk,
    attributes,
    cnndsl_axes,
    layout_by_readers,
    reads,
)


@reads("Transpose")
def transpose(walk: Walk, onnx_node: Any) -> None:
    x = walk.value(onnx_node)
    rank = len(walk.shape_of(x))
    # `movedim(-1, 1)` is written with perm [0, -1, 1, 2] by the TorchScript exporter
    perm = [int(p) % rank for p in attributes(onnx_node).get("perm", reversed(range(rank)))]
    for layout in (FIRST, LAST):
        if layout != x.layout and perm == permutation(rank, layout):
            walk.bind(onnx_node.output[0], Value(x.node, layout))
            return
    if perm == list(range(rank)):
        walk.bind(onnx_node.output[0], x)
        return
    raise walk.refuse(onnx_node, f"perm={perm} is not a change between channels-first and "
                      "channels-last", "cnndsl's steps rearrange only as pixel_shuffle, "
                      "channel_shuffle and flatten chw do")


def _flatten_to(walk: Walk, onnx_node: Any, x: Value, output: str) -> None:
    """A computed tensor flattened to (N, everything else)."""
    shape = walk.nodes[x.node].shape
    if x.layout == LAST or len(shape) == 1 or all(n == 1 for n in shape[:-1]):
        walk.add(Flatten(), [x], onnx_node, LAST, output=output)
        return
    user = walk.sole_user(output)
    if user is not None and user.op_type in ("Gemm", "MatMul") and user.input[0] == output \
            and walk.is_constant(user.input[1]):
        # channels-last flatten, the dense rows put in that order: position i of the
        # flattened channels-last tensor holds channels-first position order[i]
        order = np.arange(int(np.prod(shape))).reshape(shape[-1], *shape[:-1])
        walk.orders[output] = np.moveaxis(order, 0, -1).reshape(-1)
        walk.add(Flatten(), [x], onnx_node, LAST, output=output)
        return
    walk.add(Flatten(chw=True), [x], onnx_node, LAST, output=output)


@reads("Flatten")
def flatten(walk: Walk, onnx_node: Any) -> None:
    x = walk.value(onnx_node)
    if int(attributes(onnx_node).get("axis", 1)) % len(walk.shape_of(x)) != 1:
        raise walk.refuse(onnx_node, "it flattens the batch axis too", "cnndsl keeps the "
                          "batch axis")
    _flatten_to(walk, onnx_node, x, onnx_node.output[0])


@reads("Reshape")
def reshape(walk: Walk, onnx_node: Any) -> None:
    x = walk.value(onnx_node)
    target = [int(t) for t in walk.constant(onnx_node, 1, "shape").reshape(-1)]
    dims = walk.shape_of(x)
    if not attributes(onnx_node).get("allowzero", 0):
        target = [dims[i] if t == 0 and i < len(dims) else t for i, t in enumerate(target)]
    rest = int(np.prod(dims[1:]))
    if target[0] == -1 and -1 not in target[1:]:
        target[0] = dims[0] if int(np.prod(target[1:])) == rest else -1
    if target[0] not in (dims[0], -1) or target.count(-1) > 1:
        raise walk.refuse(onnx_node, f"a reshape to {target} moves the batch axis")
    if target[0] == -1:
        target[0] = dims[0]
    if -1 in target[1:]:
        known = int(np.prod([t for t in target[1:] if t != -1]))
        target[target.index(-1, 1)] = rest // known if known else 0
    if len(target) == 2 and not (walk.exporter == "cnndsl" and (
            x.layout == LAST or len(dims) == 2)):
        _flatten_to(walk, onnx_node, x, onnx_node.output[0])
        return  # (cnndsl's export writes `flatten` as a Flatten: a Reshape is `reshape N`)
    shape = walk.nodes[x.node].shape
    other = LAST if x.layout == FIRST else FIRST
    # (N, 1, 1, C) <-> (N, C, 1, 1): a change of layout, no step; in cnndsl's own export
    # only where it says so (`LAYER/to_channels_first`): `reshape 1x1` of a 1x1 is a step
    if len(shape) > 1 and all(n == 1 for n in shape[:-1]) and (
            walk.exporter != "cnndsl" or "/to_channels_" in onnx_node.name) \
            and tuple(target[1:]) == in_layout(shape, other):
        walk.bind(onnx_node.output[0], Value(x.node, other))
        return
    if _channel_shuffle(walk, onnx_node, x, target) or _repeat(walk, onnx_node, x, target):
        return
    if x.layout == FIRST and len(dims) > 2 and not all(d == 1 for d in dims[2:]):
        raise walk.refuse(onnx_node, f"a reshape of a channels-first {list(dims)} tensor to "
                          f"{target}", "cnndsl reshapes in channels-last order; this is a "
                          "rearrangement only channel_shuffle or flatten chw can say")
    # The target's layout: as its readers take it; else as the input's (a vector's
    # reshape to (N, C, 1, 1) or (N, 1, 1, C) is told by where C stands)
    layout = layout_by_readers(walk.consumers, onnx_node.output[0], len(target) - 1) or (
        x.layout if len(dims) > 2 else LAST if walk.exporter == "cnndsl"  # its reshapes are
        else FIRST if target[-1] == 1 and target[1] > 1 else LAST)        # channels-last
    shape = cnndsl_axes(tuple(target[1:]), layout)
    walk.add(Reshape(shape), [x], onnx_node, layout)


def _channel_shuffle(walk: Walk, onnx_node: Any, x: Value, target: list[int]) -> bool:
    """(N, C, *S) -> (N, G, C/G, *S) -> swap axes 1 and 2 -> (N, C, *S): ShuffleNet's
    shuffle, as PyTorch and cnndsl's own export write it."""
    dims = walk.shape_of(x)
    if x.layout != FIRST or len(target) != len(dims) + 1 or target[0] != dims[0] or \
            target[1] * target[2] != dims[1] or tuple(target[3:]) != tuple(dims[2:]):
        return False
    swap = walk.sole_user(onnx_node.output[0])
    perm = [0, 2, 1, *range(3, len(target))]
    if swap is None or swap.op_type != "Transpose" or \
            list(attributes(swap).get("perm", ())) != perm:
        return False
    # PyTorch's `flatten(1, 2)` reads the shape of what it flattens: known here
    swapped = np.array([target[0], target[2], target[1], *target[3:]], np.int64)
    shapes = [u for u in walk.users(swap.output[0]) if u.op_type == "Shape"]
    for shape in shapes:
        attrs = attributes(shape)
        walk.constants[shape.output[0]] = swapped[attrs.get("start", 0):attrs.get("end")]
    rest = [u for u in walk.users(swap.output[0]) if u not in shapes]
    back = rest[0] if len(rest) == 1 and swap.output[0] not in walk.outputs else None
    copies = []  # the dynamo exporter's `clone` before the flatten
    while back is not None and back.op_type == "Identity":
        copies.append(back)
        back = walk.sole_user(back.output[0])
    if back is None or back.op_type != "Reshape" or not walk.evaluate(back.input[1]):
        return False
    again = [dims[i] if t == 0 and i < len(dims) else int(t) for i, t in
             enumerate(walk.constants[back.input[1]].reshape(-1))]
    if again.count(-1) == 1 and len(again) == len(dims):  # torchvision's view(N, -1, H, W)
        again[again.index(-1)] = int(np.prod(dims)) // max(1, -int(np.prod(again)))
    if again != list(dims) and again[1:] != list(dims[1:]):
        return False
    walk.absorb(swap, back, *shapes, *copies)
    walk.add(ChannelShuffle(target[1]), [x], back, FIRST, named=onnx_node)
    return True


def _repeat(walk: Walk, onnx_node: Any, x: Value, target: list[int]) -> bool:
    """(N, C, H, W) -> (N, C, H, 1, W, 1) -> Expand to (N, C, H, f, W, g) -> (N, C, Hf, Wg),
    or the same with the channels last: nearest-neighbour upsampling by whole factors, as
    cnndsl's own export writes it."""
    def first(seq):  # the channels second, as in a channels-first tensor
        seq = list(seq)
        return seq if x.layout == FIRST else [seq[0], seq[-1], *seq[1:-1]]

    dims = first(walk.shape_of(x))
    rank = len(dims) - 2
    target = first(target)
    if rank < 1 or len(target) != 2 + 2 * rank or target[1] != dims[1] or \
            target[2::2] != dims[2:] or any(t != 1 for t in target[3::2]):
        return False
    expand = walk.sole_user(onnx_node.output[0])
    if expand is None or expand.op_type != "Expand" or not walk.evaluate(expand.input[1]):
        return False
    wide = first(int(t) for t in walk.constants[expand.input[1]].reshape(-1))
    if len(wide) != len(target) or wide[2::2] != dims[2:] or wide[1] != dims[1]:
        return False
    factors = tuple(wide[3::2])
    back = walk.sole_user(expand.output[0])
    if back is None or back.op_type != "Reshape" or not walk.evaluate(back.input[1]):
        return False
    merged = first(int(t) for t in walk.constants[back.input[1]].reshape(-1))
    if merged[1:] != [dims[1], *(n * f for n, f in zip(dims[2:], factors))]:
        return False
    walk.absorb(expand, back)
    walk.add(Upsample(factors), [x], back, x.layout, named=onnx_node)
    return True


@reads("Slice")
def slice_(walk: Walk, onnx_node: Any) -> None:
    """A Slice of the spatial axes with steps of 1: a `crop`."""
    x = walk.value(onnx_node)
    dims = walk.shape_of(x)
    if len(onnx_node.input) < 3:  # opset < 10 wrote them as attributes
        raise walk.refuse(onnx_node, "starts and ends as attributes (opset < 10)")
    starts = walk.constant(onnx_node, 1, "starts").reshape(-1)
    ends = walk.constant(onnx_node, 2, "ends").reshape(-1)
    given = walk.optional(onnx_node, 3)
    axes = range(len(starts)) if given is None else given.reshape(-1)
    steps = walk.optional(onnx_node, 4)
    if steps is not None and any(int(s) != 1 for s in steps.reshape(-1)):
        raise walk.refuse(onnx_node, "a slice with a step other than 1")
    channels = channel_cut(walk, onnx_node, x)
    if channels is not None:  # a part of a split
        channel_slices(walk, onnx_node, x, channels)
        return
    spatial = list(range(2, len(dims))) if x.layout == FIRST else list(range(1, len(dims) - 1))
    cuts = {a: (0, 0) for a in spatial}
    for start, end, axis in zip(starts, ends, axes):
        axis, n = int(axis) % len(dims), dims[int(axis) % len(dims)]
        first, stop = (max(0, min(n, int(v) + n if int(v) < 0 else int(v))) for v in (start, end))
        if (first, stop) == (0, n):
            continue
        if axis not in spatial:
            raise walk.refuse(onnx_node, f"a slice of axis {axis}, not a spatial one",
                              "cnndsl cuts channels only as a split's parts")
        cuts[axis] = (first, n - stop)
    walk.add(Crop(tuple(cuts[a] for a in spatial)), [x], onnx_node, x.layout)


@reads("Squeeze", "Unsqueeze")
def squeeze(walk: Walk, onnx_node: Any) -> None:
    x = walk.value(onnx_node)
    dims = walk.shape_of(x)
    if onnx_node.op_type == "Squeeze" and walk.squeezes_spatial(onnx_node, onnx_node.input[0],
                                                                 dims):
        walk.add(Flatten(), [x], onnx_node, LAST)
        return
    raise walk.refuse(onnx_node, "it adds or removes axes other than size-1 spatial ones "
                      "before a dense layer")


@reads("Gemm")
def gemm(walk: Walk, onnx_node: Any) -> None:
    attrs = attributes(onnx_node)
    x = walk.value(onnx_node)
    if attrs.get("transA", 0):
        raise walk.refuse(onnx_node, "transA=1 multiplies the batch axis")
    w = walk.constant(onnx_node, 1, "kernel")
    kernel = w.T if attrs.get("transB", 0) else w
    if float(attrs.get("alpha", 1.0)) != 1.0:
        kernel = kernel * np.float32(attrs["alpha"])
    bias = walk.optional(onnx_node, 2)
    if bias is not None:
        bias = np.broadcast_to(bias.reshape(-1) * float(attrs.get("beta", 1.0)),
                               (kernel.shape[1],))
    _dense(walk, onnx_node, x, kernel, bias, onnx_node)


@reads("MatMul")
def matmul(walk: Walk, onnx_node: Any) -> None:
    x = walk.value(onnx_node)
    kernel = walk.constant(onnx_node, 1, "kernel")
    if kernel.ndim != 2:
        raise walk.refuse(onnx_node, f"a {kernel.ndim}-D weight", "cnndsl's dense layer has "
                          "a matrix")
    bias, end = None, onnx_node
    user = walk.sole_user(onnx_node.output[0])
    if user is not None and user.op_type == "Add":
        other = [n for n in user.input if n != onnx_node.output[0]]
        if len(other) == 1 and walk.is_constant(other[0]) and \
                walk.constants[other[0]].size == kernel.shape[1]:
            bias, end = walk.constants[other[0]].reshape(-1), user
            walk.absorb(user)
    _dense(walk, end, x, kernel, bias, onnx_node)


def _dense(walk: Walk, end: Any, x: Value, kernel: np.ndarray, bias, named: Any) -> None:
    if x.layout == FIRST and len(walk.shape_of(x)) > 2:
        raise walk.refuse(named, "a matrix product over the last axis of a channels-first "
                          "tensor", "cnndsl's dense layer acts on the channels")
    order = walk.orders.get(named.input[0])
    if order is not None:
        kernel = kernel[order]
    activation, last = fused_activation(walk, end, named)
    weights = {"kernel": kernel}
    if bias is not None:
        weights["bias"] = np.asarray(bias, np.float32)
    walk.add(Dense(int(kernel.shape[1]), activation, bias is not None), [x], end, LAST,
             weights, output=last, named=named)


@reads("ReduceMean", "ReduceMax")
def reduce(walk: Walk, onnx_node: Any) -> None:
    attrs = attributes(onnx_node)
    x = walk.value(onnx_node)
    rank = len(walk.shape_of(x))
    given = walk.optional(onnx_node, 1)
    axes = list(attrs.get("axes", [])) if given is None else [int(a) for a in given.reshape(-1)]
    if sorted(a % rank for a in axes) != walk.spatial_axes(x) or rank < 3:
        raise walk.refuse(onnx_node, f"a reduction over axes {axes}", "cnndsl reduces over "
                          "all spatial axes (gap, gmp)")
    kind = GAP if onnx_node.op_type == "ReduceMean" else GMP
    keep = bool(attrs.get("keepdims", 1))
    walk.add(kind(keepdims=keep), [x], onnx_node, x.layout if keep else LAST)


@reads("LayerNormalization")
def layer_norm(walk: Walk, onnx_node: Any) -> None:
    attrs = attributes(onnx_node)
    x = walk.value(onnx_node)
    rank = len(walk.shape_of(x))
    if int(attrs.get("axis", -1)) % rank != rank - 1 or walk.channel_axis(x) != rank - 1:
        raise walk.refuse(onnx_node, "a layer normalisation over more than the channels",
                          "cnndsl's layernorm normalises each position's channels")
    gamma = walk.constant(onnx_node, 1, "scale")
    beta = walk.optional(onnx_node, 2)
    scale = not fixed(walk, onnx_node.input[1], 1.0)  # ones held by the graph: no gamma
    weights = {"gamma": gamma.reshape(-1)} if scale else {}
    if beta is not None:
        weights["beta"] = beta.reshape(-1)
    eps = shortest(attrs.get("epsilon", 1e-5))
    walk.add(LayerNorm(eps, scale, beta is not None), [x], onnx_node, x.layout, weights)


@reads("InstanceNormalization")
def instance_norm(walk: Walk, onnx_node: Any) -> None:
    x = walk.value(onnx_node)
    _channels_first(walk, onnx_node, x)
    weights = {"gamma": walk.constant(onnx_node, 1, "scale").reshape(-1),
               "beta": walk.constant(onnx_node, 2, "bias").reshape(-1)}
    eps = shortest(attributes(onnx_node).get("epsilon", 1e-5))
    walk.add(InstanceNorm(eps), [x], onnx_node, FIRST, weights)


@reads("GroupNormalization")
def group_norm(walk: Walk, onnx_node: Any) -> None:
    attrs = attributes(onnx_node)
    x = walk.value(onnx_node)
    _channels_first(walk, onnx_node, x)
    gamma = walk.constant(onnx_node, 1, "scale").reshape(-1)
    channels = walk.nodes[x.node].shape[-1]
    if gamma.size != channels:  # opset 18's per-group scale, deprecated in 21
        raise walk.refuse(onnx_node, "a scale per group, not per channel (opset 18)",
                          "export at opset 21, whose GroupNormalization scales per channel")
    weights = {"gamma": gamma, "beta": walk.constant(onnx_node, 2, "bias").reshape(-1)}
    eps = shortest(attrs.get("epsilon", 1e-5))
    walk.add(GroupNorm(int(attrs["num_groups"]), eps), [x], onnx_node, FIRST, weights)


@reads("LRN")
def lrn(walk: Walk, onnx_node: Any) -> None:
    attrs = attributes(onnx_node)
    x = walk.value(onnx_node)
    _channels_first(walk, onnx_node, x)
    alpha, beta, k = (shortest(attrs.get(key, default)) for key, default in
                      (("alpha", 1e-4), ("beta", 0.75), ("bias", 1.0)))
    layer = LRN(int(attrs["size"]), alpha, beta, k)
    walk.add(layer, [x], onnx_node, FIRST)


def _channels_first(walk: Walk, onnx_node: Any, x: Value) -> None:
    if x.layout != FIRST or len(walk.shape_of(x)) < 3:
        raise walk.refuse(onnx_node, "its input is not a channels-first image or volume")


@reads("DepthToSpace", "SpaceToDepth")
def depth_to_space(walk: Walk, onnx_node: Any) -> None:
    attrs = attributes(onnx_node)
    x = walk.value(onnx_node)
    _channels_first(walk, onnx_node, x)
    factor = int(attrs["blocksize"])
    if onnx_node.op_type == "DepthToSpace":
        if attrs.get("mode", "DCR") != "CRD":
            raise walk.refuse(onnx_node, "mode DCR (TensorFlow's depth_to_space order)",
                              "cnndsl's pixel_shuffle is PyTorch's order, mode CRD")
        walk.add(PixelShuffle(factor), [x], onnx_node, FIRST)
        return
    raise walk.refuse(onnx_node, "SpaceToDepth's channel order (TensorFlow's) is not "
                      "pixel_unshuffle's", "export PyTorch's pixel_unshuffle, which ONNX "
                      "writes as Reshape and Transpose")


# Nearest-neighbour resizes by whole factors that repeat each value (half-pixel centres
# rounded never tie: the offsets (j + 1/2)/f - 1/2 lie strictly inside (-1/2, 1/2)).
NEAREST_REPEATS = {("asymmetric", "floor"), ("half_pixel", "round_prefer_floor"),
                   ("half_pixel", "round_prefer_ceil"), ("pytorch_half_pixel",
                                                          "round_prefer_floor"),
                   ("pytorch_half_pixel", "round_prefer_ceil")}


@reads("Resize", "Upsample")
def resize(walk: Walk, onnx_node: Any) -> None:
    attrs = attributes(onnx_node)
    x = walk.value(onnx_node)
    _channels_first(walk, onnx_node, x)
    dims = walk.shape_of(x)
    out = walk.inferred.get(onnx_node.output[0])
    scales = walk.optional(onnx_node, 2 if onnx_node.op_type == "Resize" else 1)
    sizes = walk.optional(onnx_node, 3) if onnx_node.op_type == "Resize" else None
    if sizes is not None and sizes.size:
        factors = [s / d for s, d in zip(sizes.reshape(-1)[2:], dims[2:])]
    elif scales is not None and scales.size:
        factors = [float(s) for s in scales.reshape(-1)[2:]]
    elif out is not None and all(o is not None for o in out[2:]):
        factors = [o / d for o, d in zip(out[2:], dims[2:])]
    else:
        raise walk.refuse(onnx_node, "neither scales nor sizes are constants")
    if any(f != int(f) or f < 1 for f in factors):
        raise walk.refuse(onnx_node, f"scale factors {factors} are not whole numbers",
                          "cnndsl's upsample enlarges by whole factors")
    mode = attrs.get("mode", "nearest")
    where = attrs.get("coordinate_transformation_mode", "half_pixel")
    rounding = attrs.get("nearest_mode", "round_prefer_floor")
    if mode == "nearest" and (where, rounding) in NEAREST_REPEATS:
        layer = Upsample(tuple(int(f) for f in factors))
    elif mode == "linear" and where in ("half_pixel", "pytorch_half_pixel") and \
            len(factors) == 2:
        layer = Upsample(tuple(int(f) for f in factors), bilinear=True)
    else:
        raise walk.refuse(onnx_node, f"mode {mode!r} with coordinate_transformation_mode "
                          f"{where!r}" + (f", nearest_mode {rounding!r}" if mode == "nearest"
                                          else ""),
                          "cnndsl resizes by nearest neighbour, or bilinear with "
                          "half-pixel centres")
    walk.add(layer, [x], onnx_node, FIRST)

"""Constant scales and shifts, per channel or for all, and the layers that are one: what
`x·s + t` with constants becomes (`rescale`; on an image `dwconv 1`, weight for weight;
on a vector a `batchnorm`), `(x - mean) / deviation` (`normalize mean=M variance=V`),
BatchNormalization with the model's statistics, and PRelu's slopes.

Numbers ONNX holds as float32 are written as the shortest decimal of that float32
(`shortest`: 0.1, not 0.10000000149011612).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np

from ...layers.conv import DWConv
from ...layers.norm import BatchNorm, Normalize, Rescale
from ...layers.prelu import PReLU
from .walk import Value, Walk, attributes, reads

KERAS_BN_EPS = 0.001  # a per-channel scale and shift is written as a plain `batchnorm`


def _per_channel(walk: Walk, onnx_node: Any, x: Value, c: np.ndarray) -> np.ndarray | None:
    """A constant operand as one number per channel of `x` (broadcast from a scalar), or
    None where it varies along another axis."""
    dims = walk.shape_of(x)
    channels = walk.nodes[x.node].shape[-1]
    axis = walk.channel_axis(x)
    if c.ndim > len(dims):
        return None
    full = (1,) * (len(dims) - c.ndim) + tuple(c.shape)
    if any(s != 1 for i, s in enumerate(full) if i != axis):
        return None
    return np.broadcast_to(c.reshape(-1), (channels,)).astype(np.float32)


def affine(walk: Walk, onnx_node: Any, x: Value) -> None:
    """x·s + t with constant s and t, per channel or for all: `rescale` (one number each);
    on an image, `dwconv 1` (`bias=false` without a shift), whose weights are exactly s
    and t (ConvNeXt's layer scale); on a vector, a `batchnorm` whose statistics are 0 and
    1 - eps, so that it computes exactly gamma·x + beta. A scale then a shift is one step."""
    op = onnx_node.op_type
    const_name = [n for n in onnx_node.input if walk.is_constant(n)][0]
    c = walk.constants[const_name].astype(np.float64)
    if op == "Sub" and onnx_node.input[0] == const_name or op == "Div" and \
            onnx_node.input[1] != const_name:
        raise walk.refuse(onnx_node, "a constant minus or divided by a tensor has no step")
    values = _per_channel(walk, onnx_node, x, c)
    if values is None:
        raise walk.refuse(onnx_node, f"a constant of shape {list(c.shape)} that varies "
                          "along a spatial axis", "cnndsl scales and shifts per channel")
    if op == "Sub" and _normalized(walk, onnx_node, x, values):
        return
    scale = values if op == "Mul" else 1 / values if op == "Div" else np.ones_like(values)
    shift = values if op == "Add" else -values if op == "Sub" else np.zeros_like(values)
    end = onnx_node
    if op in ("Mul", "Div"):
        user = walk.sole_user(onnx_node.output[0])
        if user is not None and user.op_type in ("Add", "Sub") and \
                sum(walk.is_constant(n) for n in user.input) == 1 and \
                user.input[1 if user.input[0] == onnx_node.output[0] else 0] in walk.constants:
            t = _per_channel(walk, user, x, walk.constants[
                [n for n in user.input if walk.is_constant(n)][0]].astype(np.float64))
            if t is not None and not (user.op_type == "Sub" and user.input[0] !=
                                      onnx_node.output[0]) and not _divided(walk, user):
                shift = t if user.op_type == "Add" else -t
                walk.absorb(user)
                end = user
    if np.all(scale == scale[0]) and np.all(shift == shift[0]):
        layer: Any = Rescale(shortest(float(scale[0])), shortest(float(shift[0])))
        walk.add(layer, [x], end, x.layout, named=onnx_node)
        return
    shape = walk.nodes[x.node].shape
    if len(shape) > 1:  # an image or volume: a 1x1 depthwise convolution, weight for weight
        rank = len(shape) - 1
        shifted = end is not onnx_node or op in ("Add", "Sub")
        conv = DWConv(kernel=(1,) * rank, stride=(1,) * rank, padding="valid",
                      activation=None, bias=shifted, dilation=(1,) * rank)
        weights = {"depthwise_kernel": scale.astype(np.float32).reshape(
            *(1,) * rank, -1, 1)}
        if shifted:
            weights["bias"] = shift.astype(np.float32)
        walk.add(conv, [x], end, x.layout, weights, named=onnx_node)
        return
    bn = BatchNorm(KERAS_BN_EPS, 0.99)
    weights = {"gamma": scale.astype(np.float32), "beta": shift.astype(np.float32),
               "moving_mean": np.zeros_like(scale, np.float32),
               "moving_variance": np.full_like(scale, 1 - KERAS_BN_EPS, np.float32)}
    walk.add(bn, [x], end, x.layout, weights, named=onnx_node)


def _divided(walk: Walk, sub: Any) -> bool:
    """Whether a Sub is divided next by a constant: (x - mean) / deviation, a `normalize`
    (after `rescale {1/255}`: PyTorch's `x * (1/255) - mean` is not one scale and shift)."""
    user = walk.sole_user(sub.output[0])
    return sub.op_type == "Sub" and user is not None and user.op_type == "Div" and \
        user.input[0] == sub.output[0] and walk.evaluate(user.input[1])


def _normalized(walk: Walk, onnx_node: Any, x: Value, mean: np.ndarray) -> bool:
    """(x - mean) / deviation with constants per channel: `normalize mean=M variance=V`
    (Keras's Normalization, and what cnndsl's export writes for it), no weights; or in
    cnndsl's export, an adapted `normalize`, whose statistics are weights."""
    user = walk.sole_user(onnx_node.output[0])
    if user is None or user.op_type != "Div" or user.input[0] != onnx_node.output[0]:
        return False
    variance = _adapted_variance(walk, user)
    if variance is not None:
        walk.absorb(user)
        weights = {"mean": mean, "variance": _per_channel(walk, user, x, variance),
                   "count": np.int64(0)}  # not exported: inference does not use it
        walk.add(Normalize(), [x], user, x.layout, weights, named=onnx_node)
        return True
    if not walk.evaluate(user.input[1]):  # (a constant computed after the Sub: a view)
        return False
    deviation = _per_channel(walk, user, x, walk.constants[user.input[1]].astype(np.float64))
    if deviation is None or np.any(deviation < 1e-7):  # Keras floors it at 1e-7
        return False
    walk.absorb(user)
    # One number for all channels where both constants are one (cnndsl's export writes
    # `mean=0` as a scalar and `mean=0,0` as one per channel, equal or not)
    written = [walk.constants[n] for n in (*onnx_node.input, user.input[1])
               if walk.is_constant(n)]
    single = all(np.asarray(c).size == 1 for c in written)
    means, deviations = (mean[:1], deviation[:1]) if single else (mean, deviation)
    layer = Normalize(tuple(shortest(float(m)) for m in means),
                      tuple(_variance(float(d)) for d in deviations))
    walk.add(layer, [x], user, x.layout, named=onnx_node)
    return True


def _adapted_variance(walk: Walk, div: Any) -> np.ndarray | None:
    """The variance weights of an adapted `normalize`, whose statistics are weights: the
    Div's divisor is Keras's floor of the deviation, max(sqrt(variance), 1e-7), of a
    stored tensor. cnndsl's export writes Max(Sqrt(`LAYER/variance`), floor); PyTorch
    code (`--emit torch`) `variance.sqrt().clamp(min=1e-07)` of a buffer, a Clip of the
    Sqrt, or of the square root itself where the exporter computed it; else None."""
    floor = walk.producers.get(div.input[1])
    if floor is None or floor.op_type != ("Max" if walk.exporter == "cnndsl" else "Clip"):
        return None
    root = walk.producers.get(floor.input[0])
    if walk.exporter == "cnndsl":
        if root is None or root.op_type != "Sqrt" or root.input[0] not in walk.stored or \
                not root.input[0].endswith("/variance"):
            return None
        walk.absorb(floor, root)
        return walk.constants[root.input[0]].astype(np.float32)
    low = walk.optional(floor, 1)
    if low is None or low.size != 1 or not np.isclose(float(low.reshape(-1)[0]), 1e-7) or \
            (len(floor.input) > 2 and floor.input[2]):
        return None
    if root is not None and root.op_type == "Sqrt" and _stored(walk, root.input[0]):
        walk.absorb(floor, root)
        return walk.constants[root.input[0]].astype(np.float32)
    if floor.input[0] in walk.stored:  # the exporter folded the square root
        walk.absorb(floor)
        return np.square(walk.constants[floor.input[0]].astype(np.float64)).astype(np.float32)
    return None


def _stored(walk: Walk, name: str) -> bool:
    """Whether tensor `name` is a stored one, or a view of one (`.view(-1, 1, 1)`)."""
    producer = walk.producers.get(name)
    if name in walk.stored or producer is None or producer.op_type not in ("Reshape",
                                                                           "Identity"):
        return name in walk.stored
    return _stored(walk, producer.input[0]) and walk.evaluate(name)


def shortest(value: float) -> float | int:
    """The shortest decimal that is the same float32 (0.485, not 0.48500001430511475);
    a whole number as an int, as the parser reads `dropout 0` and `rescale 2`; and where
    that decimal runs to float32's last digits, the simplest fraction of denominator up
    to 1000 that is the same float32, as the number it most likely was (`rescale {1/255}`
    was exported as 0.003921569: 1/255 again, 0.00392156862745098).

    >>> shortest(np.float32(0.1)), shortest(np.float32(1 / 255)), shortest(np.float32(2.0))
    (0.1, 0.00392156862745098, 2)
    >>> shortest(np.float32(2 / 21)), shortest(np.float32(0.123457))
    (0.09523809523809523, 0.123457)
    """
    single = np.float32(value)
    found = float(np.format_float_positional(single, unique=True, trim="-"))
    if found.is_integer():
        return int(found)
    digits = _digits(found)
    if digits >= 6:  # at float32's precision; at 6 digits only a small denominator
        for q in range(2, (MAX_DENOMINATOR if digits > 6 else 100) + 1):
            p = round(float(single) * q)
            if p and np.float32(p / q) == single:
                return p / q
    return found


MAX_DENOMINATOR = 1000


def _digits(value: float) -> int:
    """Significant digits of a float's shortest repr (0.003921569: 7)."""
    mantissa = f"{Decimal(repr(value)).normalize():e}".split("e")[0]
    return len(mantissa.replace("-", "").replace(".", ""))


def _variance(deviation: float) -> float:
    """The variance as it was most likely written, whose square root is `deviation` as
    the export computed it (in float32, as cnndsl's export does; or in float64, then
    rounded, as the literal in the PyTorch code `--emit torch` writes: 0.224 for
    0.050176): the square of a short deviation (ImageNet's 58.395 squared, 3409.976025), or else the
    shortest decimal variance (so `variance=0.052` comes back as written), or where that
    is long a simple fraction (`{1/9}`, 0.1111111111111111).

    >>> def exported(v): return np.float32(np.sqrt(np.float32(v)))
    >>> _variance(exported(3409.976025)), _variance(exported(0.052)), _variance(0.224)
    (3409.976025, 0.052, 0.050176)
    """
    target = np.float32(deviation)

    def rooted(variance: float) -> bool:
        return bool(np.float32(np.sqrt(np.float32(variance))) == target or
                    np.float32(np.sqrt(variance)) == target)

    short = float(deviation) * float(deviation)
    for digits in range(1, 18):
        candidate = float(f"{float(deviation) ** 2:.{digits}g}")
        if rooted(candidate):
            short = candidate
            break
    root = Decimal(np.format_float_positional(target, unique=True, trim="-"))
    squared = float(root * root)
    if _digits(float(root)) < _digits(short) and rooted(squared):
        return squared
    if _digits(short) > 6:  # a fraction then, as `shortest` reads one (`{1/9}`)
        for q in range(2, MAX_DENOMINATOR + 1):
            p = round(float(deviation) ** 2 * q)
            if p and rooted(p / q):
                return p / q
    return short


@reads("BatchNormalization")
def batch_norm(walk: Walk, onnx_node: Any) -> None:
    attrs = attributes(onnx_node)
    if attrs.get("training_mode", 0) or len([o for o in onnx_node.output if o]) > 1:
        raise walk.refuse(onnx_node, "batch statistics computed in training mode",
                          "export the model in eval mode")
    x = walk.value(onnx_node)
    names = ("gamma", "beta", "moving_mean", "moving_variance")
    weights = {n: walk.constant(onnx_node, k, n) for k, n in enumerate(names, 1)}
    # ones for gamma, zeros for beta, held by the graph's operators rather than stored
    # with the weights: no gamma or beta (`scale=false`, `center=false`)
    scale = not fixed(walk, onnx_node.input[1], 1.0)
    center = not fixed(walk, onnx_node.input[2], 0.0)
    for flag, name in ((scale, "gamma"), (center, "beta")):
        if not flag:
            del weights[name]
    eps = shortest(attrs.get("epsilon", 1e-5))
    momentum = shortest(attrs.get("momentum", 0.9))
    walk.add(BatchNorm(eps, momentum, scale, center), [x], onnx_node, x.layout, weights)


def fixed(walk: Walk, name: str, value: float) -> bool:
    """Whether tensor `name` is a constant of the graph (not a stored weight) that holds
    `value` everywhere."""
    return name not in walk.stored and bool(np.all(walk.constants[name] == value))


@reads("PRelu")
def prelu(walk: Walk, onnx_node: Any) -> None:
    x = walk.value(onnx_node)
    slope = walk.constant(onnx_node, 1, "slope")
    rank = len(walk.nodes[x.node].shape)
    if slope.size == 1:
        walk.add(PReLU(shared=True), [x], onnx_node, x.layout,
                 {"alpha": slope.reshape((1,) * rank)})
        return
    values = _per_channel(walk, onnx_node, x, slope)
    if values is None:
        raise walk.refuse(onnx_node, f"a slope of shape {list(slope.shape)}", "cnndsl's "
                          "prelu has one slope per channel, or one for all")
    walk.add(PReLU(), [x], onnx_node, x.layout,
             {"alpha": values.reshape(*(1,) * (rank - 1), -1)})

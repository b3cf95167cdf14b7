"""ONNX's element-wise operators as cnndsl steps: activations (alone, or fused into the
convolution or dense layer whose node names them, as cnndsl's own export writes
`conv_1` then `conv_1/relu`), merges of computed tensors, per-channel scales and shifts
(`batchnorm`, `rescale`), BatchNormalization, PRelu, and the subgraphs exporters write
for one activation: x·sigmoid(x) (silu), x·hard_sigmoid(x) (hard_swish), and
x/2·(1 + erf(x/√2)) (gelu).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...layers.activations import Activation
from ...layers.conv import DWConv
from ...layers.core import ActivationStep, Dropout
from ...layers.merge import Add, Avg, Concat, Max, Mul
from ...layers.norm import BatchNorm, Normalize, Rescale
from ...layers.prelu import PReLU
from .walk import FIRST, LAST, Value, Walk, attributes, reads

KERAS_BN_EPS = 0.001  # a per-channel scale and shift is written as a plain `batchnorm`
SELU = (1.67326319217681884765625, 1.05070102214813232421875)  # ONNX's, float32's Keras's
TOLERANCE = 1e-6  # a constant read as one of cnndsl's (1/6, sqrt(2)) within float32 rounding


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= TOLERANCE * max(1.0, abs(b))


def activation_of(walk: Walk, onnx_node: Any) -> Activation | None:
    """The activation one ONNX node computes, or None for a node that is not one."""
    op, attrs = onnx_node.op_type, attributes(onnx_node)
    simple = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Softplus": "softplus",
              "Softsign": "softsign", "Mish": "mish", "HardSwish": "hard_swish"}
    if op in simple:
        return Activation(simple[op])
    if op == "LeakyRelu":
        return Activation("leaky_relu", shortest(attrs.get("alpha", 0.01)))
    if op in ("Elu", "Celu"):
        alpha = shortest(attrs.get("alpha", 1.0))
        return Activation(op.lower(), None if alpha == 1.0 else alpha)
    if op == "Selu":
        if not (_close(attrs.get("alpha", SELU[0]), SELU[0])
                and _close(attrs.get("gamma", SELU[1]), SELU[1])):
            raise walk.refuse(onnx_node, "selu with other constants than Keras's",
                              "cnndsl's selu is Keras's (alpha 1.6733, scale 1.0507)")
        return Activation("selu")
    if op == "HardSigmoid":
        if not (_close(attrs.get("alpha", 0.2), 1 / 6) and _close(attrs.get("beta", 0.5), 0.5)):
            raise walk.refuse(onnx_node, f"hard sigmoid with alpha={attrs.get('alpha', 0.2):g}"
                              f", beta={attrs.get('beta', 0.5):g}", "cnndsl's hard_sigmoid "
                              "is Keras 3's and PyTorch's: relu6(x + 3) / 6")
        return Activation("hard_sigmoid")
    if op == "Gelu":
        return Activation("gelu", approximate=attrs.get("approximate", "none") == "tanh")
    if op == "Clip":
        return _clip(walk, onnx_node, attrs)
    if op in ("Softmax", "LogSoftmax"):
        return Activation("softmax" if op == "Softmax" else "log_softmax")
    return None


def _clip(walk: Walk, onnx_node: Any, attrs: dict) -> Activation:
    if "min" in attrs or "max" in attrs:  # opset < 11
        low, high = attrs.get("min"), attrs.get("max")
    else:
        given = [walk.optional(onnx_node, k) for k in (1, 2)]
        for k, value in enumerate(given, 1):
            if value is None and len(onnx_node.input) > k and onnx_node.input[k]:
                walk.constant(onnx_node, k, "bound")  # refused: a computed bound
        low, high = (None if v is None else float(v.reshape(-1)[0]) for v in given)
    if low == 0 and high == 6:
        return Activation("relu6")
    if low == 0 and high is None:
        return Activation("relu")
    if low is None or high is None:
        raise walk.refuse(onnx_node, "a clip with one bound only", "cnndsl's clip=LO,HI has "
                          "both (relu is clip at 0 from below)")
    return Activation("clip", bounds=(low, high))


def _check_axis(walk: Walk, onnx_node: Any, x: Value) -> None:
    """Softmax and LogSoftmax must act on cnndsl's channel axis."""
    rank = len(walk.shape_of(x))
    axis = int(attributes(onnx_node).get("axis", -1 if walk.opset >= 13 else 1)) % rank
    channel = 1 if x.layout == FIRST and rank > 2 else rank - 1
    if axis != channel or (walk.opset < 13 and rank > 2):
        raise walk.refuse(onnx_node, f"over axis {axis} of a rank-{rank} tensor",
                          "cnndsl's softmax is over the channels")


def fused_activation(walk: Walk, onnx_node: Any,
                     layer: str | None = None) -> tuple[Activation | None, str]:
    """The activation fused into a convolution or dense node (cnndsl's own export writes
    it after the node, every node of it named `LAYER/...`, LAYER the node's own name
    unless given), and the tensor that ends the step: one operator (Relu) or several
    (silu's Sigmoid and Mul, gelu's Erf and others)."""
    out = onnx_node.output[0]
    users = walk.users(out)
    name = onnx_node.name if layer is None else layer
    prefix = name + "/"
    if not users or out in walk.outputs or not name or \
            not all(u.name.startswith(prefix) for u in users):
        return None, out
    composite = composite_activation(walk, users[0], out)
    if composite is not None:
        found, nodes, end = composite
        if all(n.name.startswith(prefix) for n in nodes) and \
                all(u in nodes for u in users):
            walk.absorb(*nodes)
            return found, end.output[0]
        return None, out
    user = users[0]
    found = activation_of(walk, user) if len(users) == 1 else None
    if len(users) == 1 and user.op_type == "Identity" and user.name == prefix + "linear":
        found = Activation("linear")  # `dense 2 linear`, written out as the spec has it
    if found is None:
        return None, out
    if found.name in ("softmax", "log_softmax"):  # over the channels only
        rank = len(walk.inferred.get(out, ())) or 2
        axis = int(attributes(user).get("axis", -1)) % rank
        layout_axis = 1 if onnx_node.op_type in ("Conv", "ConvTranspose") else rank - 1
        if rank > 2 and axis != layout_axis:
            return None, out
    walk.absorb(user)
    return found, user.output[0]


@reads("Relu", "Sigmoid", "Tanh", "Softplus", "Softsign", "Mish", "HardSwish", "LeakyRelu",
       "Elu", "Celu", "Selu", "HardSigmoid", "Gelu", "Clip", "Softmax", "LogSoftmax")
def activation(walk: Walk, onnx_node: Any) -> None:
    x = walk.value(onnx_node)
    if onnx_node.op_type in ("Softmax", "LogSoftmax"):
        _check_axis(walk, onnx_node, x)
    found = activation_of(walk, onnx_node)
    assert found is not None
    if onnx_node.op_type in ("Sigmoid", "HardSigmoid") and _gated(walk, onnx_node, x, found):
        return
    walk.add(ActivationStep(found), [x], onnx_node, x.layout)


def _gated(walk: Walk, onnx_node: Any, x: Value, gate: Activation) -> bool:
    """x·sigmoid(x) as `silu`, x·hard_sigmoid(x) as `hard_swish`: one step."""
    composite = composite_activation(walk, onnx_node, onnx_node.input[0])
    if composite is None:
        return False
    found, nodes, end = composite
    walk.absorb(*nodes)
    walk.add(ActivationStep(found), [x], end, x.layout, named=end)
    return True


def composite_activation(walk: Walk, first: Any, xname: str) -> tuple | None:
    """(the activation, its nodes, the last node) of an activation exporters write as
    several operators, from its first node `first`, which reads tensor `xname`:
    x·sigmoid(x) (silu), x·hard_sigmoid(x) (hard_swish), x/2·(1 + erf(x/√2)) (gelu)."""
    if first.op_type in ("Sigmoid", "HardSigmoid") and list(first.input) == [xname]:
        user = walk.sole_user(first.output[0])
        if user is None or user.op_type != "Mul" or \
                sorted(user.input) != sorted([xname, first.output[0]]):
            return None
        gate = activation_of(walk, first)
        name = "silu" if gate is not None and gate.name == "sigmoid" else "hard_swish"
        return Activation(name), [first, user], user
    nodes = _gelu_nodes(walk, first, xname)
    return None if nodes is None else (Activation("gelu"), nodes[0], nodes[1])


@reads("Erf")
def erf(walk: Walk, onnx_node: Any) -> None:
    raise walk.refuse(onnx_node, "an error function outside x/2·(1 + erf(x/√2)) (gelu)")


def gelu_pattern(walk: Walk, onnx_node: Any) -> bool:
    """x/2·(1 + erf(x/√2)) read from its first node (x/√2 or x·(1/√2)) as one `gelu`."""
    if onnx_node.op_type not in ("Div", "Mul") or len(onnx_node.input) != 2 or \
            onnx_node.input[0] not in walk.values:
        return False
    found = _gelu_nodes(walk, onnx_node, onnx_node.input[0])
    if found is None:
        return False
    nodes, end = found
    walk.absorb(*nodes)
    x = walk.values[onnx_node.input[0]]
    walk.add(ActivationStep(Activation("gelu")), [x], end, x.layout, named=onnx_node)
    return True


def _gelu_nodes(walk: Walk, first: Any, xname: str) -> tuple[list, Any] | None:
    """The nodes of x/2·(1 + erf(x/√2)) from `first` (x/√2 or x·(1/√2)), in any of the
    orders exporters multiply it out in, and the last of them; None if it is not that."""
    if first.op_type not in ("Div", "Mul") or len(first.input) != 2 or \
            first.input[0] != xname:
        return None
    c = first.input[1]
    if not walk.is_constant(c) or walk.constants[c].size != 1:
        return None
    scale = float(walk.constants[c].reshape(-1)[0])
    if scale == 0 or not _close(scale if first.op_type == "Div" else 1 / scale,
                                math.sqrt(2)):
        return None
    erf_node = walk.sole_user(first.output[0])
    if erf_node is None or erf_node.op_type != "Erf":
        return None
    plus = walk.sole_user(erf_node.output[0])
    if plus is None or plus.op_type != "Add" or not _adds_constant(walk, plus, 1.0):
        return None
    # (1 + erf) times x, then times 1/2; or times x/2 (x·0.5 computed beside it)
    mul = walk.sole_user(plus.output[0])
    if mul is None or mul.op_type != "Mul":
        return None
    other = [n for n in mul.input if n != plus.output[0]][0]
    nodes = [first, erf_node, plus, mul]
    if other == xname:
        half = walk.sole_user(mul.output[0])
        if half is None or half.op_type != "Mul" or not _times_constant(walk, half, 0.5):
            return None
        return [*nodes, half], half
    producer = walk.producer(other)
    if producer is None or producer.op_type != "Mul" or xname not in producer.input \
            or not _times_constant(walk, producer, 0.5) or walk.sole_user(other) is not mul:
        return None
    return [*nodes, producer], mul


def _adds_constant(walk: Walk, onnx_node: Any, value: float) -> bool:
    return any(walk.is_constant(n) and walk.constants[n].size == 1 and
               _close(float(walk.constants[n].reshape(-1)[0]), value) for n in onnx_node.input)


def _times_constant(walk: Walk, onnx_node: Any, value: float) -> bool:
    return _adds_constant(walk, onnx_node, value)


@reads("Identity")
def identity(walk: Walk, onnx_node: Any) -> None:
    """No step; but cnndsl's own export writes a `linear` activation step as an Identity
    named `LAYER/linear`, which comes back as that step."""
    x = walk.value(onnx_node)
    if walk.exporter == "cnndsl" and onnx_node.name.endswith("/linear"):
        walk.add(ActivationStep(Activation("linear")), [x], onnx_node, x.layout)
        return
    walk.bind(onnx_node.output[0], x)


@reads("Dropout")
def dropout(walk: Walk, onnx_node: Any) -> None:
    if len(onnx_node.output) > 1 and onnx_node.output[1] and walk.users(onnx_node.output[1]):
        raise walk.refuse(onnx_node, "its mask output is read", "cnndsl's dropout has one "
                          "output")
    training = walk.optional(onnx_node, 2)
    if training is not None and bool(training.reshape(-1)[0]):
        raise walk.refuse(onnx_node, "it drops values at inference (training_mode=1)",
                          "export the model in eval mode")
    ratio = walk.optional(onnx_node, 1)
    rate = shortest(float(ratio.reshape(-1)[0]) if ratio is not None else
                    float(attributes(onnx_node).get("ratio", 0.5)))
    x = walk.value(onnx_node)
    walk.add(Dropout(rate), [x], onnx_node, x.layout)


MERGES = {"Add": Add, "Sum": Add, "Mul": Mul, "Max": Max, "Mean": Avg}


@reads("Add", "Sum", "Mul", "Max", "Mean", "Sub", "Div")
def elementwise(walk: Walk, onnx_node: Any) -> None:
    computed = [n for n in onnx_node.input if n in walk.values]
    constants = [n for n in onnx_node.input if walk.is_constant(n)]
    if constants and len(computed) == 1 and onnx_node.op_type in ("Add", "Mul", "Sub", "Div"):
        return _affine(walk, onnx_node, walk.values[computed[0]])
    if constants or onnx_node.op_type in ("Sub", "Div"):
        raise walk.refuse(onnx_node, "an element-wise operation cnndsl has no step for")
    xs = [walk.values[n] for n in onnx_node.input]
    layouts = {x.layout for x in xs if len(walk.shape_of(x)) > 2}
    if len(layouts) > 1:
        raise walk.refuse(onnx_node, "it merges channels-first and channels-last tensors")
    layout = layouts.pop() if layouts else LAST
    walk.add(MERGES[onnx_node.op_type](), xs, onnx_node, layout)


def _per_channel(walk: Walk, onnx_node: Any, x: Value, c: np.ndarray) -> np.ndarray | None:
    """A constant operand as one number per channel of `x` (broadcast from a scalar), or
    None where it varies along another axis."""
    dims = walk.shape_of(x)
    channels = walk.nodes[x.node].shape[-1]
    axis = 1 if x.layout == FIRST and len(dims) > 2 else len(dims) - 1
    if c.ndim > len(dims):
        return None
    full = (1,) * (len(dims) - c.ndim) + tuple(c.shape)
    if any(s != 1 for i, s in enumerate(full) if i != axis):
        return None
    return np.broadcast_to(c.reshape(-1), (channels,)).astype(np.float32)


def _affine(walk: Walk, onnx_node: Any, x: Value) -> None:
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
                                      onnx_node.output[0]):
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


def _normalized(walk: Walk, onnx_node: Any, x: Value, mean: np.ndarray) -> bool:
    """(x - mean) / deviation with constants per channel: `normalize mean=M variance=V`
    (Keras's Normalization, and what cnndsl's export writes for it), no weights."""
    user = walk.sole_user(onnx_node.output[0])
    if user is None or user.op_type != "Div" or user.input[0] != onnx_node.output[0] or \
            not walk.is_constant(user.input[1]):
        return False
    deviation = _per_channel(walk, user, x, walk.constants[user.input[1]].astype(np.float64))
    if deviation is None or np.any(deviation < 1e-7):  # Keras floors it at 1e-7
        return False
    walk.absorb(user)
    layer = Normalize(tuple(shortest(float(m)) for m in _one_or_all(mean)),
                      tuple(_variance(float(d)) for d in _one_or_all(deviation)))
    walk.add(layer, [x], user, x.layout, named=onnx_node)
    return True


def _one_or_all(values: np.ndarray) -> np.ndarray:
    return values[:1] if np.all(values == values[0]) else values


def shortest(value: float) -> float:
    """The shortest decimal that is the same float32 (0.485, not 0.48500001430511475)."""
    return float(np.format_float_positional(np.float32(value), unique=True, trim="-"))


def _variance(deviation: float) -> float:
    """The shortest decimal variance whose float32 square root is `deviation`, as the
    export computed it from the written one (so `variance=0.052` comes back as written)."""
    target = np.float32(deviation)
    for digits in range(1, 18):
        candidate = float(f"{deviation * deviation:.{digits}g}")
        if np.float32(np.sqrt(np.float32(candidate))) == target:
            return candidate
    return deviation * deviation


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


@reads("Concat")
def concat(walk: Walk, onnx_node: Any) -> None:
    xs = [walk.value(onnx_node, k) for k in range(len(onnx_node.input))]
    layouts = {x.layout for x in xs}
    rank = len(walk.shape_of(xs[0]))
    axis = int(attributes(onnx_node)["axis"]) % rank
    layout = layouts.pop() if len(layouts) == 1 else None
    channel = 1 if layout == FIRST and rank > 2 else rank - 1
    if layout is None or axis != channel:
        raise walk.refuse(onnx_node, f"a concatenation along axis {axis}", "cnndsl "
                          "concatenates along the channels")
    from .parts import as_split

    walk.add(as_split(walk, xs) or Concat(), xs, onnx_node, layout)

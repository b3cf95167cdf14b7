"""ONNX's activations as cnndsl's: one operator (`activation_of`: Relu, Clip at 0 and 6,
HardSigmoid with PyTorch's constants, ...), or the subgraphs exporters write for one:
x·sigmoid(x) (silu), x·hard_sigmoid(x) (hard_swish), x/2·(1 + erf(x/√2)) (gelu), and
relu6(x + 3) / 6 (hard_sigmoid; times x, hard_swish), as PyTorch code with Keras's
constants writes them.
"""

from __future__ import annotations

import math
from typing import Any

from ...layers.activations import Activation
from ...layers.core import ActivationStep
from .scales import shortest
from .walk import Walk, attributes, reads

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
        return _one_layer(walk, (Activation(name), [first, user], user))
    hard = _hard_nodes(walk, first, xname)
    if hard is not None:
        return _one_layer(walk, hard)
    nodes = _gelu_nodes(walk, first, xname)
    return None if nodes is None else _one_layer(walk, (Activation("gelu"), *nodes))


def hard_pattern(walk: Walk, onnx_node: Any) -> bool:
    """relu6(x + 3) / 6 read from its first node (x + 3) as one `hard_sigmoid`, and
    x·relu6(x + 3) / 6 as one `hard_swish`: PyTorch code written with Keras's constants."""
    if onnx_node.op_type != "Add" or len(onnx_node.input) != 2:
        return False
    xname = next((n for n in onnx_node.input if n in walk.values), "")
    found = _hard_nodes(walk, onnx_node, xname) if xname else None
    if found is None:
        return False
    activation, nodes, end = found
    walk.absorb(*nodes)
    x = walk.values[xname]
    walk.add(ActivationStep(activation), [x], end, x.layout, named=onnx_node)
    return True


def _hard_nodes(walk: Walk, first: Any, xname: str) -> tuple | None:
    """(hard_sigmoid or hard_swish, its nodes, the last) from `first`, x + 3: clipped to
    [0, 6], divided by 6 (or times 1/6), then, for hard_swish, times x."""
    if first.op_type != "Add" or xname not in first.input or \
            not _reads_scalar(walk, first, 3.0):
        return None
    clip = walk.sole_user(first.output[0])
    if clip is None or clip.op_type != "Clip" or clip.input[0] != first.output[0]:
        return None
    bounds = [walk.optional(clip, k) for k in (1, 2)]
    if [None if b is None or b.size != 1 else float(b.reshape(-1)[0]) for b in bounds] \
            != [0.0, 6.0]:
        return None
    divide = walk.sole_user(clip.output[0])
    if divide is None or divide.input[0] != clip.output[0] or not (
            divide.op_type == "Div" and _reads_scalar(walk, divide, 6.0) or
            divide.op_type == "Mul" and _reads_scalar(walk, divide, 1 / 6)):
        return None
    times = walk.sole_user(divide.output[0])
    if times is not None and times.op_type == "Mul" and \
            sorted(times.input) == sorted([xname, divide.output[0]]):
        return Activation("hard_swish"), [first, clip, divide, times], times
    return Activation("hard_sigmoid"), [first, clip, divide], divide


def _one_layer(walk: Walk, composite: tuple) -> tuple | None:
    """The composite, unless cnndsl's own export says its nodes are several layers
    (`mul { id | sigmoid }`: a `sigmoid_1` and a `mul_1`, not one `silu`)."""
    if walk.exporter == "cnndsl" and len({walk.layer_names.get(id(n), n.name)
                                          for n in composite[1]}) > 1:
        return None
    return composite


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
    if plus is None or plus.op_type != "Add" or not _reads_scalar(walk, plus, 1.0):
        return None
    # (1 + erf) times x, then times 1/2; or times x/2 (x·0.5 computed beside it)
    mul = walk.sole_user(plus.output[0])
    if mul is None or mul.op_type != "Mul":
        return None
    other = [n for n in mul.input if n != plus.output[0]][0]
    nodes = [first, erf_node, plus, mul]
    if other == xname:
        half = walk.sole_user(mul.output[0])
        if half is None or half.op_type != "Mul" or not _reads_scalar(walk, half, 0.5):
            return None
        return [*nodes, half], half
    producer = walk.producer(other)
    if producer is None or producer.op_type != "Mul" or xname not in producer.input \
            or not _reads_scalar(walk, producer, 0.5) or walk.sole_user(other) is not mul:
        return None
    return [*nodes, producer], mul


def _reads_scalar(walk: Walk, onnx_node: Any, value: float) -> bool:
    """Whether one of a node's inputs is the constant `value` (an Add of 1, a Mul by 1/2)."""
    return any(walk.evaluate(n) and walk.constants[n].size == 1 and
               _close(float(walk.constants[n].reshape(-1)[0]), value) for n in onnx_node.input)

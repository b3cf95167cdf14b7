"""ONNX's element-wise operators as cnndsl steps: activations (alone, or fused into the
convolution or dense layer whose node names them, as cnndsl's own export writes
`conv_1` then `conv_1/relu`), merges of computed tensors (an element-wise operation
with a constant is `scales`'), Identity, Dropout, Concat, and the subgraphs exporters
write for one activation: x·sigmoid(x) (silu), x·hard_sigmoid(x) (hard_swish), and
x/2·(1 + erf(x/√2)) (gelu).
"""

from __future__ import annotations

import math
from typing import Any

from ...backends.onnx.layers import NOISE
from ...layers.activations import Activation
from ...layers.core import ActivationStep, Dropout
from ...layers.merge import Add, Avg, Concat, Max, Mul
from .scales import affine, shortest
from .walk import LAST, Value, Walk, attributes, reads

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
    if axis != walk.channel_axis(x) or (walk.opset < 13 and rank > 2):
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
        rank = len(walk.inferred.get(out, ())) or len(walk.shape_of(walk.value(onnx_node)))
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
        return _one_layer(walk, (Activation(name), [first, user], user))
    nodes = _gelu_nodes(walk, first, xname)
    return None if nodes is None else _one_layer(walk, (Activation("gelu"), *nodes))


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
    return any(walk.is_constant(n) and walk.constants[n].size == 1 and
               _close(float(walk.constants[n].reshape(-1)[0]), value) for n in onnx_node.input)


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
    noise = None  # cnndsl's export says a noise shape in the node's documentation
    if walk.exporter == "cnndsl" and onnx_node.doc_string.startswith(NOISE):
        dims = onnx_node.doc_string[len(NOISE):].split("x")
        rank = len(walk.nodes[x.node].shape)
        if len(dims) != rank or not all(d.isdigit() and d.isascii() for d in dims):
            raise walk.refuse(onnx_node, f"its noise shape `{onnx_node.doc_string[:40]}` "
                              f"is not {rank} sizes", "export it again with cnndsl")
        noise = tuple(int(d) for d in dims)
    walk.add(Dropout(rate, noise), [x], onnx_node, x.layout)


MERGES = {"Add": Add, "Sum": Add, "Mul": Mul, "Max": Max, "Mean": Avg}


@reads("Add", "Sum", "Mul", "Max", "Mean", "Sub", "Div")
def elementwise(walk: Walk, onnx_node: Any) -> None:
    computed = [n for n in onnx_node.input if n in walk.values]
    constants = [n for n in onnx_node.input if walk.is_constant(n)]
    if constants and len(computed) == 1 and onnx_node.op_type in ("Add", "Mul", "Sub", "Div"):
        return affine(walk, onnx_node, walk.values[computed[0]])
    if constants or onnx_node.op_type in ("Sub", "Div"):
        raise walk.refuse(onnx_node, "an element-wise operation cnndsl has no step for")
    names, end = _product_chain(walk, onnx_node)
    xs = [walk.value(end, 0) if n not in walk.values else walk.values[n] for n in names]
    layouts = {x.layout for x in xs if len(walk.shape_of(x)) > 2}
    if len(layouts) > 1:
        raise walk.refuse(onnx_node, "it merges channels-first and channels-last tensors")
    layout = layouts.pop() if layouts else LAST
    walk.add(MERGES[onnx_node.op_type](), xs, end, layout)


def _product_chain(walk: Walk, onnx_node: Any) -> tuple[list[str], Any]:
    """The branches of a merge, and its last node: ONNX's Mul takes two inputs, so
    cnndsl's own export writes `mul { A | B | C }` as Mul nodes `mul_1/1` then `mul_1`,
    one `mul` again here."""
    names = list(onnx_node.input)
    base, _, k = onnx_node.name.rpartition("/")
    if onnx_node.op_type != "Mul" or walk.exporter != "cnndsl" or not k.isdigit():
        return names, onnx_node
    end = onnx_node
    while end.name != base:
        user = walk.sole_user(end.output[0])
        if user is None or user.op_type != "Mul" or user.name not in (
                base, f"{base}/{int(end.name.rpartition('/')[2]) + 1}"):
            return list(onnx_node.input), onnx_node
        others = [n for n in user.input if n != end.output[0]]
        if len(others) != 1 or others[0] not in walk.values:
            return list(onnx_node.input), onnx_node
        names.append(others[0])
        walk.absorb(user)
        end = user
    return names, end


@reads("Concat")
def concat(walk: Walk, onnx_node: Any) -> None:
    xs = [walk.value(onnx_node, k) for k in range(len(onnx_node.input))]
    layouts = {x.layout for x in xs}
    rank = len(walk.shape_of(xs[0]))
    axis = int(attributes(onnx_node)["axis"]) % rank
    layout = layouts.pop() if len(layouts) == 1 else None
    if layout is None or axis != walk.channel_axis(xs[0]):
        raise walk.refuse(onnx_node, f"a concatenation along axis {axis}", "cnndsl "
                          "concatenates along the channels")
    from .parts import as_split

    walk.add(as_split(walk, xs) or Concat(), xs, onnx_node, layout)

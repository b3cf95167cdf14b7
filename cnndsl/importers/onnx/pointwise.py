"""ONNX's element-wise operators as cnndsl steps: activations (alone, or fused into the
convolution or dense layer before them: as cnndsl's own export writes `conv_1` then
`conv_1/relu`, or as PyTorch code calls `F.relu(self.conv1(x))`), merges of computed
tensors (an element-wise operation with a constant is `scales`'), Identity, Dropout and
Concat. Which activation a node or subgraph computes is `activations`'.
"""

from __future__ import annotations

from typing import Any

from ...backends.onnx.layers import NOISE
from ...layers.activations import Activation
from ...layers.core import ActivationStep, Dropout
from ...layers.merge import Add, Avg, Concat, Max, Mul
from .activations import activation_of, composite_activation
from .naming import called_after
from .scales import affine, shortest
from .walk import LAST, Value, Walk, attributes, reads


def _check_axis(walk: Walk, onnx_node: Any, x: Value) -> None:
    """Softmax and LogSoftmax must act on cnndsl's channel axis."""
    rank = len(walk.shape_of(x))
    axis = int(attributes(onnx_node).get("axis", -1 if walk.opset >= 13 else 1)) % rank
    if axis != walk.channel_axis(x) or (walk.opset < 13 and rank > 2):
        raise walk.refuse(onnx_node, f"over axis {axis} of a rank-{rank} tensor",
                          "cnndsl's softmax is over the channels")


def fused_activation(walk: Walk, onnx_node: Any,
                     named: Any = None) -> tuple[Activation | None, str]:
    """The activation fused into a convolution or dense node, and the tensor that ends the
    step: one operator (Relu) or several (silu's Sigmoid and Mul, gelu's Erf and others).
    cnndsl's own export writes it after the node, every node of it named `LAYER/...`
    (LAYER the name of `named`, by default the node itself); PyTorch code calls it on the
    module's output (`F.relu(self.conv1(x))`: `naming.called_after`)."""
    out = onnx_node.output[0]
    users = walk.users(out)
    named = onnx_node if named is None else named
    prefix = named.name + "/"
    if not users or out in walk.outputs or not named.name:
        return None, out

    def belongs(n: Any) -> bool:
        return n.name.startswith(prefix) or walk.exporter != "cnndsl" and \
            called_after(named, n)

    if not all(belongs(u) for u in users):
        return None, out
    composite = composite_activation(walk, users[0], out)
    if composite is not None:
        found, nodes, end = composite
        if all(belongs(n) for n in nodes) and all(u in nodes for u in users):
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

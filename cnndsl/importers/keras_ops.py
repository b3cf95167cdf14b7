"""Keras operations on tensors (`x + y`, `relu6(x + 3) * (1/6)`) read as steps.

A functional model may apply Keras operations to its tensors instead of calling layers:
ConvNeXt sums its residual with `inputs + x`, MobileNetV3 writes the hard sigmoid as
`ReLU(6.0)(x + 3.0) * (1.0 / 6.0)`. In Keras's graph each is a node whose operation is no
layer (`keras.src.ops.numpy.Add`) and whose constants sit in the node's call arguments.
Three forms are read, each only when it is exactly that:

* an operation on two tensors that a merge computes: `x + y` is `add`, `x * y` is `mul`,
  `maximum(x, y)` is `max`, broadcasting as the merges do;
* an activation operation with no option (`keras.ops.relu6(x)`): its activation step;
* a chain of nodes that is an activation: `relu6(x + 3) * (1/6)` or `relu6(x + 3) / 6`
  is `hard_sigmoid`, and `x` times that (an operation or a `Multiply` layer) is
  `hard_swish`; every tensor inside the chain is read by the next node only.

Any other operation, or a constant that is not exactly one of those, is `Refused` with
the operation written out, so that a near miss (`relu6(x + 2) / 6`) is never read as
something it is not.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from ..layers import Layer
from ..layers.activations import canonical_activation
from ..layers.core import ActivationStep
from ..layers.merge import Add, Max, Mul
from .keras_layers import Refused

OPERATIONS = "keras.src.ops."

# Operations on two tensors, as the merge computing them.
MERGES: dict[str, type[Layer]] = {"Add": Add, "Multiply": Mul, "Maximum": Max}

# Activation operations without options, as the activation of the same definition.
ACTIVATIONS = {"Relu": "relu", "Relu6": "relu6", "Sigmoid": "sigmoid", "Silu": "silu",
               "Softplus": "softplus", "Tanh": "tanh", "HardSigmoid": "hard_sigmoid",
               "HardSilu": "hard_swish"}

SYMBOLS = {"Add": "+", "Multiply": "*", "Subtract": "-", "TrueDivide": "/", "Divide": "/"}
ARITHMETIC = frozenset({*SYMBOLS, "Maximum", "Minimum", "Power"})
HARD_SIGMOID = "relu6(x + 3) * (1/6) or relu6(x + 3) / 6 (hard_sigmoid)"
CONSTANT_HINT = (f"cnndsl reads constants only in {HARD_SIGMOID} and x times that "
                 "(hard_swish); write other arithmetic with Keras layers (Rescaling for "
                 "x * scale + offset)")
OPERATION_HINT = ("cnndsl reads `x + y`, `x * y` and `maximum(x, y)` on two tensors as "
                  "merges, and activations without options; use Keras layers for the rest "
                  "(docs/import.md)")


def is_operation(op: Any) -> bool:
    """A Keras operation that is no layer (`x + y` in a functional model)."""
    return type(op).__module__.startswith(OPERATIONS)


@dataclass(frozen=True)
class Fused:
    """Keras nodes read as one step: it reads `source` and makes `output`."""

    layer: Layer
    source: Any
    output: Any
    nodes: tuple[Any, ...]  # the Keras nodes it stands for, first to last


class Readers:
    """Which nodes of one (possibly nested) model's graph read each tensor."""

    def __init__(self, nodes: list[Any], outputs: list[Any]) -> None:
        self.readers: dict[int, list[Any]] = defaultdict(list)
        for knode in nodes:
            for tensor in knode.input_tensors:
                self.readers[id(tensor)].append(knode)
        self.outputs = {id(t) for t in outputs}

    def only(self, tensor: Any) -> Any | None:
        """The node that alone reads `tensor`, once, if the model does not return it."""
        found = self.readers.get(id(tensor), [])
        if id(tensor) in self.outputs or len(found) != 1:
            return None
        return found[0] if sum(t is tensor for t in found[0].input_tensors) == 1 else None


def fuse(knode: Any, readers: Readers) -> Fused | None:
    """The activation a chain of nodes starting at `knode` computes exactly, if any."""
    start = _one_constant(knode, "Add")
    if start is None or start[1] != 3.0:
        return None
    x = start[0]
    relu = readers.only(knode.outputs[0])
    if relu is None or not _is_relu6(relu):
        return None
    scale = readers.only(relu.outputs[0])
    if scale is None or not _is_one_sixth(scale):
        return None
    chain = (knode, relu, scale)
    gate = scale.outputs[0]
    times = readers.only(gate)
    if times is not None and _is_product_of(times, x, gate):
        return Fused(_step("hard_swish"), x, times.outputs[0], (*chain, times))
    return Fused(_step("hard_sigmoid"), x, gate, chain)


def read_operation(knode: Any) -> Layer:
    """The merge or activation step for one operation node, or `Refused` saying it."""
    cls = type(knode.operation).__name__
    args, kwargs = knode.arguments.args, knode.arguments.kwargs
    tensors = [a for a in args if _is_tensor(a, knode)]
    if not kwargs and len(args) == len(tensors):
        if cls in MERGES and len(args) == 2:
            return MERGES[cls]()
        if cls in ACTIVATIONS and len(args) == 1:
            return _step(ACTIVATIONS[cls])
    if len(tensors) < len(args) and cls in ARITHMETIC:
        raise Refused(f"`{written(knode)}`: cnndsl has no step for this Keras operation "
                      "with a constant", CONSTANT_HINT)
    raise Refused(f"`{written(knode)}`: cnndsl has no step for this Keras operation",
                  OPERATION_HINT)


def written(knode: Any) -> str:
    """The operation as a formula over the names of the layers making its tensors:
    `conv_1 + 3.0`, `subtract(a, b)`."""
    cls = type(knode.operation).__name__
    args = [_term(a, knode) for a in knode.arguments.args]
    args += [f"{k}={_term(v, knode)}" for k, v in knode.arguments.kwargs.items()]
    if cls in SYMBOLS and len(args) == 2:
        return f"{args[0]} {SYMBOLS[cls]} {args[1]}"
    name = "".join("_" + c.lower() if c.isupper() else c for c in cls).lstrip("_")
    return f"{name}({', '.join(args)})"


def _term(value: Any, knode: Any) -> str:
    if _is_tensor(value, knode):
        history = getattr(value, "_keras_history", None)
        return str(getattr(history[0], "name", "x")) if history else "x"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_tensor(value: Any, knode: Any) -> bool:
    return any(value is t for t in knode.input_tensors)


def _step(word: str) -> Layer:
    return ActivationStep(canonical_activation(word))


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _one_constant(knode: Any, cls: str, tensor_first: bool = False) -> tuple[Any, float] \
        | None:
    """(tensor, number) for an operation `cls` of one tensor and one Python number, the
    tensor first if `tensor_first` (a division)."""
    if not is_operation(knode.operation) or type(knode.operation).__name__ != cls:
        return None
    args = knode.arguments.args
    if knode.arguments.kwargs or len(args) != 2 or len(knode.input_tensors) != 1:
        return None
    order = (args,) if tensor_first else (args, args[::-1])
    for tensor, value in order:
        if _is_tensor(tensor, knode) and _number(value) is not None:
            return tensor, float(value)
    return None


def _is_relu6(knode: Any) -> bool:
    """ReLU(max_value=6), Activation("relu6") or `keras.ops.relu6`, on one tensor."""
    op, cls = knode.operation, type(knode.operation).__name__
    if len(knode.input_tensors) != 1:
        return False
    if is_operation(op):
        return cls == "Relu6" and len(knode.arguments.args) == 1 \
            and not knode.arguments.kwargs
    if not type(op).__module__.startswith("keras.src.layers."):
        return False
    config = op.get_config()
    if cls == "ReLU":
        return _number(config.get("max_value")) == 6.0 \
            and not config.get("negative_slope") and not config.get("threshold")
    return cls == "Activation" and config.get("activation") == "relu6"


def _is_one_sixth(knode: Any) -> bool:
    """`t * (1/6)`, the constant exactly the double nearest a sixth, or `t / 6`."""
    times = _one_constant(knode, "Multiply")
    if times is not None:
        return times[1] == 1.0 / 6.0
    divided = _one_constant(knode, "TrueDivide", True) or _one_constant(knode, "Divide", True)
    return divided is not None and divided[1] == 6.0


def _is_product_of(knode: Any, x: Any, gate: Any) -> bool:
    """`x * gate` (either order) as an operation or a `Multiply` layer of two tensors."""
    op, cls = knode.operation, type(knode.operation).__name__
    if cls != "Multiply" or len(knode.input_tensors) != 2:
        return False
    if is_operation(op) and (knode.arguments.kwargs or len(knode.arguments.args) != 2):
        return False
    if not is_operation(op) and not type(op).__module__.startswith("keras.src.layers."):
        return False
    a, b = knode.input_tensors
    return (a is x and b is gate) or (a is gate and b is x)

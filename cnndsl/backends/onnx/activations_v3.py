"""Version 3's activations as ONNX operators: `elu=A` (Elu's alpha), `celu=A` (Celu),
`gelu=tanh` (Gelu's tanh form from opset 20, composed before it), `mish` (Mish from
opset 18, x * tanh(softplus(x)) before it), `softsign`, `log_softmax` over the channel
axis and `clip=LO,HI` (Clip with its bounds as inputs)."""

from __future__ import annotations

import math

from ...layers.activations import Activation
from .emitter import Emitter

NAMES = ("elu", "celu", "mish", "softsign", "log_softmax", "clip")
_GELU_C = math.sqrt(2.0 / math.pi)


def handles(function: Activation) -> bool:
    return function.approximate or function.name in NAMES


def activate(e: Emitter, function: Activation, x: str, out: str, name: str,
             axis: int) -> str:
    """`function` of `x` into `out`; `axis` is the channel axis (for log_softmax)."""
    kind = function.name
    if function.approximate:
        return _gelu_tanh(e, x, out, name)
    if kind in ("elu", "celu"):
        return e.op(kind.capitalize(), [x], out, name, alpha=function.alpha_or_one)
    if kind == "mish":
        if e.opset >= 18:
            return e.op("Mish", [x], out, name)
        soft = e.op("Softplus", [x], f"{name}/softplus", f"{name}/softplus")
        gate = e.op("Tanh", [soft], f"{name}/gate", f"{name}/gate")
        return e.op("Mul", [x, gate], out, name)
    if kind == "softsign":
        return e.op("Softsign", [x], out, name)
    if kind == "log_softmax":
        return e.op("LogSoftmax", [x], out, name, axis=axis)
    assert kind == "clip" and function.bounds is not None
    low, high = function.bounds
    return e.op("Clip", [x, e.const(f"{name}/low", low), e.const(f"{name}/high", high)],
                out, name)


def _gelu_tanh(e: Emitter, x: str, out: str, name: str) -> str:
    """x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))), ONNX's Gelu(approximate=tanh)."""
    if e.opset >= 20:
        return e.op("Gelu", [x], out, name, approximate="tanh")

    def step(op: str, inputs: list[str], label: str) -> str:
        return e.op(op, inputs, f"{name}/{label}", f"{name}/{label}")

    square = step("Mul", [x, x], "square")
    cube = step("Mul", [square, x], "cube")
    inner = step("Mul", [cube, e.const(f"{name}/c3", 0.044715)], "cubic")
    inner = step("Add", [x, inner], "inner")
    inner = step("Mul", [inner, e.const(f"{name}/c", _GELU_C)], "scaled")
    gate = step("Tanh", [inner], "tanh")
    gate = step("Add", [gate, e.const("const/one", 1.0)], "one_plus")
    half = step("Mul", [x, e.const("const/half", 0.5)], "half")
    return e.op("Mul", [half, gate], out, name)

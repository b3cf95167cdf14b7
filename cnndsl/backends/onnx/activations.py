"""Activation functions as ONNX operators, each as Keras 3 defines it.

One function per activation, looked up by its canonical name; each writes its result to
the name it is given. Where ONNX has the operator with Keras's constants it is used
(`HardSigmoid` with alpha 1/6 and beta 1/2 is Keras 3's relu6(x + 3) / 6; `Selu`'s
defaults are Keras's alpha and scale); otherwise the function is composed of standard
operators, exactly as written in Keras (silu = x * sigmoid(x); gelu before opset 20 =
x/2 * (1 + erf(x / sqrt 2)), Keras's exact gelu).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ...layers.activations import LEAKY_RELU_DEFAULT_SLOPE, Activation
from . import activations_v3
from .emitter import Emitter

Write = Callable[[Emitter, str, str, str, int], str]


def activate(e: Emitter, function: Activation, x: str, out: str, name: str,
             axis: int) -> str:
    """Apply `function` to `x` into `out`; `axis` is the channel axis (for softmax)."""
    if activations_v3.handles(function):  # version 3: with values, or new
        return activations_v3.activate(e, function, x, out, f"{name}/{function.name}",
                                       axis)
    if function.name == "leaky_relu":
        alpha = LEAKY_RELU_DEFAULT_SLOPE if function.alpha is None else function.alpha
        return e.op("LeakyRelu", [x], out, f"{name}/leaky_relu", alpha=float(alpha))
    return FUNCTIONS[function.name](e, x, out, f"{name}/{function.name}", axis)


def _plain(op_type: str, **attrs) -> Write:
    def write(e: Emitter, x: str, out: str, name: str, axis: int) -> str:
        return e.op(op_type, [x], out, name, **attrs)
    return write


def _relu6(e: Emitter, x: str, out: str, name: str, axis: int) -> str:
    return e.op("Clip", [x, e.const("const/zero", 0.0), e.const("const/six", 6.0)], out, name)


def _times_itself(gate: Write) -> Write:
    """x * gate(x): silu with sigmoid, hard_swish with hard_sigmoid."""
    def write(e: Emitter, x: str, out: str, name: str, axis: int) -> str:
        return e.op("Mul", [x, gate(e, x, f"{name}/gate", f"{name}/gate", axis)], out, name)
    return write


def _hard_swish(e: Emitter, x: str, out: str, name: str, axis: int) -> str:
    if e.opset >= 14:
        return e.op("HardSwish", [x], out, name)
    return _times_itself(_hard_sigmoid)(e, x, out, name, axis)


def _gelu(e: Emitter, x: str, out: str, name: str, axis: int) -> str:
    if e.opset >= 20:
        return e.op("Gelu", [x], out, name)
    scaled = e.op("Div", [x, e.const("const/sqrt2", math.sqrt(2.0))], f"{name}/scaled",
                  f"{name}/scaled")
    erf = e.op("Erf", [scaled], f"{name}/erf", f"{name}/erf")
    one_plus = e.op("Add", [erf, e.const("const/one", 1.0)], f"{name}/one_plus",
                    f"{name}/one_plus")
    half = e.op("Mul", [x, e.const("const/half", 0.5)], f"{name}/half", f"{name}/half")
    return e.op("Mul", [half, one_plus], out, name)


def _softmax(e: Emitter, x: str, out: str, name: str, axis: int) -> str:
    return e.op("Softmax", [x], out, name, axis=axis)


_hard_sigmoid = _plain("HardSigmoid", alpha=1.0 / 6.0, beta=0.5)

FUNCTIONS: dict[str, Write] = {
    "relu": _plain("Relu"), "relu6": _relu6, "sigmoid": _plain("Sigmoid"),
    "hard_sigmoid": _hard_sigmoid, "tanh": _plain("Tanh"), "softmax": _softmax,
    "elu": _plain("Elu", alpha=1.0), "selu": _plain("Selu"), "gelu": _gelu,
    "silu": _times_itself(_plain("Sigmoid")), "softplus": _plain("Softplus"),
    "linear": _plain("Identity"), "hard_swish": _hard_swish,
}

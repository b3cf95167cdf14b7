"""The activation functions of the language, with their FLOP cost per element.

One table serves three uses: the words the reader accepts (`relu`, `swish`), the
canonical name used in layer names and backends (`swish` -> `silu`), and the cost
convention of the report. The costs count the arithmetic of Keras 3's definitions,
one FLOP per add, multiply, divide, comparison, exp, log, tanh or erf:

* relu: max(x, 0) = 1; relu6: min(max(x, 0), 6) = 2; linear = 0
* leaky_relu: x if x > 0 else a*x = 2 (compare, multiply)
* sigmoid: 1 / (1 + exp(-x)) = 3; hard_sigmoid: clip(x/6 + 1/2, 0, 1) = 4
* hard_swish (Keras 3's hard_silu): x * hard_sigmoid(x) = 5
* tanh = 1; softplus: log(1 + exp(x)) = 3; silu: x * sigmoid(x) = 4
* elu: x if x > 0 else exp(x) - 1 = 3; selu: scale * elu with alpha = 5
* gelu: x/2 * (1 + erf(x/sqrt 2)) = 5
* softmax over the last axis: exp, sum, divide, and the max subtracted first = 4

Version 3 (the activations of PyTorch and ONNX):

* `elu=A`: x if x > 0 else A*(exp(x) - 1) = 4 (elu's 3 and the multiply by A; 3 for A = 1)
* celu: x if x > 0 else A*(exp(x/A) - 1) = 5 (compare, divide, exp, subtract, multiply)
* `gelu=tanh`: x/2 * (1 + tanh(c*(x + 0.044715*x^3))) = 9 (the cube's two multiplies,
  the multiply by 0.044715, the add, the multiply by c = sqrt(2/pi), tanh, the add of 1,
  x/2, the last multiply)
* mish: x * tanh(softplus(x)) = 5 (softplus's 3, tanh, the multiply)
* softsign: x / (1 + |x|) = 3 (abs, add, divide)
* log_softmax over the last axis: the max subtracted, exp, sum, and the log of the sum
  subtracted = 4 (softmax's count, a subtract for its divide; the log is one per row)
* `clip=LO,HI`: min(max(x, LO), HI) = 2, as relu6
"""

from __future__ import annotations

from dataclasses import dataclass

from .values import exact


@dataclass(frozen=True)
class Activation:
    """An activation function. `alpha` is leaky_relu's negative slope, or elu's or celu's
    alpha (None: 1, the default); `approximate` is gelu's tanh form (`gelu=tanh`);
    `bounds` are clip's (LO, HI)."""

    name: str
    alpha: float | None = None
    approximate: bool = False
    bounds: tuple[float, float] | None = None

    @property
    def flops_per_element(self) -> int:
        if self.approximate:
            return GELU_TANH_FLOPS
        extra = 1 if self.name == "elu" and self.alpha not in (None, 1.0) else 0
        return FLOPS_PER_ELEMENT[self.name] + extra

    @property
    def alpha_or_one(self) -> float:
        """elu's and celu's alpha, 1 when not written."""
        return 1.0 if self.alpha is None else self.alpha

    def written(self, number=exact) -> str:
        """The activation as written, its values by `number` (`elu=0.5`, `clip=-1,1`)."""
        if self.approximate:
            return f"{self.name}=tanh"
        if self.bounds is not None:
            return f"{self.name}={number(self.bounds[0])},{number(self.bounds[1])}"
        if self.name in ("elu", "celu") and self.alpha not in (None, 1.0):
            return f"{self.name}={number(self.alpha)}"
        return self.name

    def __str__(self) -> str:
        if self.name == "leaky_relu":
            return f"leaky_relu={self.alpha:g}"
        return self.written()


FLOPS_PER_ELEMENT = {
    "relu": 1, "relu6": 2, "sigmoid": 3, "hard_sigmoid": 4, "tanh": 1, "softmax": 4,
    "elu": 3, "selu": 5, "gelu": 5, "silu": 4, "softplus": 3, "leaky_relu": 2, "linear": 0,
    "hard_swish": 5,
    # version 3: normalisation and activations
    "celu": 5, "mish": 5, "softsign": 3, "log_softmax": 4, "clip": 2,
}
GELU_TANH_FLOPS = 9
ALIASES = {"swish": "silu", "hard_silu": "hard_swish"}
ACTIVATIONS = tuple(FLOPS_PER_ELEMENT) + tuple(ALIASES)
LEAKY_RELU_DEFAULT_SLOPE = 0.2
# Activations that may be written with a value (`elu=0.5`), and those that must be.
VALUED = ("leaky_relu", "elu", "celu", "gelu", "clip")
VALUE_NEEDED = ("clip",)


def canonical_activation(word: str) -> Activation:
    """`swish` -> silu, `hard_silu` -> hard_swish; `leaky_relu` gets Keras's default
    slope 0.2."""
    name = ALIASES.get(word, word)
    return Activation(name, LEAKY_RELU_DEFAULT_SLOPE if name == "leaky_relu" else None)

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
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Activation:
    """An activation function; `alpha` is leaky_relu's negative slope."""

    name: str
    alpha: float | None = None

    @property
    def flops_per_element(self) -> int:
        return FLOPS_PER_ELEMENT[self.name]

    def __str__(self) -> str:
        return f"leaky_relu={self.alpha:g}" if self.name == "leaky_relu" else self.name


FLOPS_PER_ELEMENT = {
    "relu": 1, "relu6": 2, "sigmoid": 3, "hard_sigmoid": 4, "tanh": 1, "softmax": 4,
    "elu": 3, "selu": 5, "gelu": 5, "silu": 4, "softplus": 3, "leaky_relu": 2, "linear": 0,
    "hard_swish": 5,
}
ALIASES = {"swish": "silu", "hard_silu": "hard_swish"}
ACTIVATIONS = tuple(FLOPS_PER_ELEMENT) + tuple(ALIASES)
LEAKY_RELU_DEFAULT_SLOPE = 0.2


def canonical_activation(word: str) -> Activation:
    """`swish` -> silu, `hard_silu` -> hard_swish; `leaky_relu` gets Keras's default
    slope 0.2."""
    name = ALIASES.get(word, word)
    return Activation(name, LEAKY_RELU_DEFAULT_SLOPE if name == "leaky_relu" else None)

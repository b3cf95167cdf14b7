"""`prelu`: a leaky relu whose negative slope is learned, per channel or shared.

It has weights, so it is a step of its own and never fused into a layer as the weightless
activations are (`conv 3 x16 -> prelu`, not `conv 3 x16 prelu`).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import ClassVar

from .base import Layer, Variable


@dataclass(frozen=True)
class PReLU(Layer):
    """`prelu`: x if x >= 0 else alpha*x, one alpha per channel (Keras's PReLU sharing
    every spatial axis); `prelu shared`: one alpha for the whole tensor (PyTorch's
    `PReLU()` default). Alpha starts at 0, Keras's initialiser (PyTorch's is 0.25)."""

    shared: bool = False

    kind = "prelu"
    other_names = ("PReLU", "PRelu")
    # Written where an activation would be fused (`conv 3 x16 prelu`), it is told so.
    looks_fusable: ClassVar[bool] = True

    @classmethod
    def read(cls, a, inputs):
        return cls(a.flag("shared"))

    def variables(self, inputs):
        # Keras's layout: the input's shape with every shared axis 1, (1, 1, C) in 2-D.
        rank = len(inputs[0])
        shape = (1,) * rank if self.shared else (*(1,) * (rank - 1), inputs[0][-1])
        return {"alpha": Variable(shape, "zeros")}

    def flops(self, inputs, out):
        return 2 * prod(out)  # a compare and a multiply, as leaky_relu

    def describe(self):
        return "prelu shared" if self.shared else "prelu"

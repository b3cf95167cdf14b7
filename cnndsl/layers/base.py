"""What every layer kind provides: its syntax, shape rule, parameters and costs.

A kind is a frozen dataclass of normalised attributes (`kernel=(3, 3)`, never `3`),
built once from the written arguments by `read`. Every other method takes the input
shapes, so one object answers the report, the interpreter and the Keras emitter alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import prod
from typing import ClassVar

from ..errors import Span
from .activations import Activation
from .arguments import ArgReader
from .shapes import Shape, elements

Inputs = tuple[Shape, ...]


class LayerError(Exception):
    """A shape or argument problem found by a layer; the caller adds the location: the
    step's, unless the problem lies in one argument and `span` says where."""

    def __init__(self, message: str, hint: str, span: Span | None = None) -> None:
        super().__init__(message)
        self.message, self.hint, self.span = message, hint, span


@dataclass(frozen=True)
class Window:
    """How a layer maps input positions to output positions, per spatial dimension.

    `kernel` is the extent one output sees (dilation included) and `stride` the step
    between outputs in input positions: below 1 for layers that upsample.
    """

    kernel: tuple[int, ...]
    stride: tuple[int | Fraction, ...]  # whole numbers stay ints: Fractions are slow


GLOBAL = Window((), ())  # every output sees the whole input


@dataclass(frozen=True)
class Variable:
    """A weight tensor as Keras declares it: shape, initialiser, trainable or not, dtype.

    Parameter counts, weight initialisation and the `.npz` format are all derived
    from these declarations, so they cannot disagree.
    """

    shape: Shape
    init: str  # "glorot_uniform", "zeros" or "ones"
    trainable: bool = True
    dtype: str = "float"  # or "int": Normalization's `count`


RANK_WORDS = {1: "vector", 2: "1-D", 3: "2-D", 4: "3-D"}


def rank_word(shape: Shape) -> str:
    """`2-D` for an image, `vector` for rank 1."""
    return RANK_WORDS.get(len(shape), f"rank-{len(shape)}")


@dataclass(frozen=True)
class Layer:
    """Base of the catalogue. Subclasses set `kind` and override what applies."""

    kind: ClassVar[str]
    words: ClassVar[tuple[str, ...]] = ()  # DSL words for this kind; default (kind,)
    # What Keras, PyTorch and ONNX call this kind (`GlobalAveragePooling2D`), for the
    # hint to an unknown step (layers/spellings.py); never accepted as a step. Each
    # class says its own: a subclass does not inherit its parent's (`crop` is no pad).
    other_names: ClassVar[tuple[str, ...]] = ()
    options: ClassVar[tuple[str, ...]] = ()  # option names, for did-you-mean hints
    ranks: ClassVar[tuple[int, ...]] = (1, 2, 3, 4)  # input ranks accepted
    conv_type: ClassVar[bool] = False  # weight-sharing layers, for the report's lesson
    arity: ClassVar[str] = "one"  # "one" input, or "many" for merges

    @classmethod
    def read(cls, a: ArgReader, inputs: Inputs) -> Layer:
        """Build the layer from its written arguments (`a`) and input shapes."""
        return cls()

    @property
    def stem(self) -> str:
        """The word automatic names are built from: `conv` -> `conv_1`."""
        return self.kind

    def output_shape(self, inputs: Inputs) -> Shape:
        return inputs[0]

    def variables(self, inputs: Inputs) -> dict[str, Variable]:
        """The layer's weights by Keras variable name (`kernel`, `bias`, `gamma`, ...)."""
        return {}

    def params(self, inputs: Inputs) -> tuple[int, int]:
        """(trainable, non-trainable) parameter counts, as Keras counts them."""
        trainable = frozen = 0
        for var in self.variables(inputs).values():
            if var.trainable:
                trainable += prod(var.shape)
            else:
                frozen += prod(var.shape)
        return trainable, frozen

    def macs(self, inputs: Inputs, out: Shape) -> int:
        return 0

    def flops(self, inputs: Inputs, out: Shape) -> int:
        """Floating-point operations at inference (see docs/report.md for the convention)."""
        return 2 * self.macs(inputs, out)

    def window(self, inputs: Inputs) -> Window | None:
        """Receptive-field mapping; None when each output sees only its own position."""
        return None

    def describe(self) -> str:
        """The layer as it would be written, normalised (`conv 3x3/2 x64 same relu`)."""
        return self.kind


def kernel_and_bias(kernel: Shape, bias: bool, name: str = "kernel") -> dict[str, Variable]:
    """The usual pair: a Glorot-uniform kernel and, unless `bias=false`, a zero bias."""
    out = {name: Variable(kernel, "glorot_uniform")}
    if bias:
        out["bias"] = Variable((kernel[-1],), "zeros")
    return out


def epilogue_flops(out: Shape, bias: bool, activation: Activation | None) -> int:
    """Bias adds and activation work on every output element."""
    per = (1 if bias else 0) + (activation.flops_per_element if activation else 0)
    return per * elements(out)

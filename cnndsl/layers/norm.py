"""Layers that rescale values per channel or per position: `batchnorm`, `layernorm`,
`normalize` and `rescale`. None changes the shape; they differ in where the scale and
shift come from (weights that train, moving statistics, constants written in the spec).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from .arguments import ArgReader
from .base import Layer, LayerError, Variable
from .shapes import Shape
from .values import exact


def read_eps(a: ArgReader) -> float:
    """`eps=E`, Keras's default 0.001; it must be positive (it is added under a root)."""
    eps = a.option_float("eps", 0.001)
    if eps <= 0:
        raise LayerError(f"eps must be positive, got {eps:g}", "eps is added to the "
                         "variance before dividing by its root: a small positive number, "
                         "e.g. `eps=0.001` (the default)")
    return eps


def affine(shape: Shape, scale: bool, center: bool) -> dict[str, Variable]:
    """gamma (unless `scale=false`) and beta (unless `center=false`), both trainable."""
    out = {}
    if scale:
        out["gamma"] = Variable(shape, "ones")
    if center:
        out["beta"] = Variable(shape, "zeros")
    return out


def affine_text(scale: bool, center: bool) -> str:
    return ("" if scale else " scale=false") + ("" if center else " center=false")


@dataclass(frozen=True)
class BatchNorm(Layer):
    """`batchnorm eps=1e-5` (alias `bn`): gamma and beta train; the moving statistics don't.
    `scale=false` drops gamma, `center=false` beta, as Keras's `scale`/`center`."""

    eps: float
    momentum: float
    scale: bool = True
    center: bool = True

    kind = "batchnorm"
    words = ("batchnorm", "bn")
    other_names = ("BatchNormalization", "BatchNorm2d")
    options = ("eps", "momentum", "scale", "center")

    @classmethod
    def read(cls, a, inputs):
        eps = read_eps(a)
        momentum = a.option_float("momentum", 0.99)
        if not 0 <= momentum <= 1:
            raise LayerError(f"momentum must be in [0, 1], got {momentum:g}", "the weight "
                             "of the old moving averages at each training step, e.g. "
                             "`momentum=0.99` (the default)")
        return cls(eps, momentum, a.option_bool("scale", True), a.option_bool("center", True))

    def variables(self, inputs):
        c = (inputs[0][-1],)
        return {**affine(c, self.scale, self.center),
                "moving_mean": Variable(c, "zeros", trainable=False),
                "moving_variance": Variable(c, "ones", trainable=False)}

    def flops(self, inputs, out):
        return 2 * prod(out)  # folded into one multiply-add at inference

    def describe(self):
        return (f"batchnorm eps={self.eps:g} momentum={self.momentum:g}"
                + affine_text(self.scale, self.center))


@dataclass(frozen=True)
class LayerNorm(Layer):
    """`layernorm eps=1e-6`: LayerNormalization over the channel axis, at each position."""

    eps: float
    scale: bool = True
    center: bool = True

    kind = "layernorm"
    other_names = ("LayerNormalization", "LayerNorm")
    options = ("eps", "scale", "center")

    @classmethod
    def read(cls, a, inputs):
        return cls(read_eps(a), a.option_bool("scale", True), a.option_bool("center", True))

    def variables(self, inputs):
        return affine((inputs[0][-1],), self.scale, self.center)

    def flops(self, inputs, out):
        # Per value: the mean's add, subtract, square, the variance's add, one multiply;
        # per position: two divides, the eps add, a root and a reciprocal; then gamma's
        # multiply and beta's add per value.
        values, positions = prod(out), prod(out[:-1])
        return 5 * values + 5 * positions + values * (self.scale + self.center)

    def describe(self):
        return f"layernorm eps={self.eps:g}" + affine_text(self.scale, self.center)


@dataclass(frozen=True)
class Rescale(Layer):
    """`rescale {1/255}`, `rescale 2 offset=-1`: Rescaling, x * scale + offset."""

    scale: float
    offset: float = 0.0

    kind = "rescale"
    other_names = ("Rescaling",)
    options = ("offset",)

    @classmethod
    def read(cls, a, inputs):
        scale = a.scalar("scale", example="rescale {1/255}")
        return cls(scale, a.option_float("offset", 0.0))

    def flops(self, inputs, out):
        return 2 * prod(out)  # a multiply and an add per value (Keras adds even 0)

    def describe(self):
        return f"rescale {exact(self.scale)}" + (f" offset={exact(self.offset)}"
                                                 if self.offset else "")


@dataclass(frozen=True)
class Normalize(Layer):
    """`normalize`: Normalization whose per-channel mean, variance and count are weights
    (an adapted layer); `normalize mean=M variance=V`: the same with constants, one for
    every channel or one per channel, and no weights."""

    mean: tuple[float, ...] | None = None
    variance: tuple[float, ...] | None = None

    kind = "normalize"
    other_names = ("Normalization",)
    options = ("mean", "variance")

    @classmethod
    def read(cls, a, inputs):
        mean, variance = a.option_numbers("mean"), a.option_numbers("variance")
        if mean is None and variance is None:
            return cls()
        if mean is None or variance is None:
            given, other = ("mean", "variance") if variance is None else ("variance", "mean")
            raise LayerError(f"`normalize` has `{given}=` but no `{other}=`", "give both "
                             "(`normalize mean=0.5 variance=0.25`), or neither for "
                             "statistics kept as weights",
                             (mean or variance)[0][1])  # type: ignore[index]
        _check_lengths(mean, variance, inputs[0][-1])
        for value, span in variance:
            if value < 0:
                raise LayerError(f"a variance must be at least 0, got {value:g}",
                                 "a variance is a mean of squares; the standard deviation "
                                 "0.25 is `variance=0.0625`", span)
        return cls(tuple(v for v, _ in mean), tuple(v for v, _ in variance))

    def variables(self, inputs):
        if self.mean is not None:
            return {}
        c = (inputs[0][-1],)
        return {"mean": Variable(c, "zeros", trainable=False),
                "variance": Variable(c, "ones", trainable=False),
                "count": Variable((), "zeros", trainable=False, dtype="int")}

    def flops(self, inputs, out):
        return 2 * prod(out)  # a subtract and a divide per value

    def describe(self):
        if self.mean is None or self.variance is None:
            return "normalize"
        return (f"normalize mean={','.join(map(exact, self.mean))} "
                f"variance={','.join(map(exact, self.variance))}")


def _check_lengths(mean: list, variance: list, channels: int) -> None:
    """One value for all channels, or one per channel, the same for both."""
    for name, values in (("mean", mean), ("variance", variance)):
        if len(values) not in (1, channels):
            raise LayerError(f"`{name}=` has {len(values)} values, but the input has "
                             f"{channels} channel{'s' if channels != 1 else ''}",
                             f"write one value for every channel, or exactly {channels} "
                             "joined by `,`", values[-1][1].join(values[0][1]))
    if len(mean) != len(variance):
        raise LayerError(f"`mean=` has {len(mean)} value{'s' if len(mean) > 1 else ''} and "
                         f"`variance=` {len(variance)}", "give both one value, or both one "
                         "per channel", variance[0][1].join(variance[-1][1]))

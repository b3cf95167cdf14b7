"""Normalisations over groups of channels, as PyTorch and ONNX have them: `groupnorm`,
`instancenorm` (one channel per group) and `lrn` (local response normalisation).

Unlike `batchnorm` and `layernorm`, group and instance norm take their statistics over
every position of the example, so each output sees the whole input: their receptive
field is global. `lrn` mixes neighbouring channels at each position only.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from .base import GLOBAL, Layer, LayerError
from .norm import affine, read_eps
from .shapes import Shape
from .values import exact

SPATIAL = (2, 3, 4)


def _statistics_flops(out: Shape, groups: int, scaled: bool) -> int:
    """As layernorm's count (docs/report.md), the statistics taken once per group of an
    example instead of once per position: per value the mean's add, a subtract, a
    square, the variance's add and the multiply by 1/sigma; per group the two divides,
    the eps add, a root and a reciprocal; then gamma's multiply and beta's add."""
    values = prod(out)
    return 5 * values + 5 * groups + (2 * values if scaled else 0)


def _divisors_near(channels: int, groups: int) -> str:
    """The group counts closest to `groups` that divide `channels` evenly."""
    below = next(g for g in range(min(groups, channels), 0, -1) if channels % g == 0)
    above = next((g for g in range(groups + 1, channels + 1) if channels % g == 0), None)
    near = [g for g in (below, above) if g is not None]
    return " or ".join(f"`groupnorm {g}`" for g in near)


@dataclass(frozen=True)
class GroupNorm(Layer):
    """`groupnorm 32`, `groupnorm 8 eps=1e-5 affine=false`: GroupNorm over G groups of
    C/G channels each (Keras's GroupNormalization, PyTorch's GroupNorm); gamma and beta
    per channel unless `affine=false`."""

    groups: int
    eps: float
    affine: bool = True

    kind = "groupnorm"
    other_names = ("GroupNormalization", "GroupNorm")
    options = ("eps", "affine")

    @classmethod
    def read(cls, a, inputs):
        groups = a.count("number of groups", example="groupnorm 32")
        channels = inputs[0][-1]
        if channels % groups:
            raise LayerError(f"`groupnorm {groups}` needs a channel count divisible by "
                             f"{groups}, but the input has {channels} channels",
                             f"the groups share the channels evenly: "
                             f"{_divisors_near(channels, groups)} on {channels} channels")
        return cls(groups, read_eps(a), a.option_bool("affine", True))

    def variables(self, inputs):
        return affine((inputs[0][-1],), self.affine, self.affine)

    def flops(self, inputs, out):
        return _statistics_flops(out, self.groups, self.affine)

    def window(self, inputs):
        return GLOBAL

    def describe(self):
        return (f"groupnorm {self.groups} eps={self.eps:g}"
                + ("" if self.affine else " affine=false"))


@dataclass(frozen=True)
class InstanceNorm(Layer):
    """`instancenorm`, `instancenorm eps=1e-5 affine=false`: each channel of each example
    normalised over its positions (GroupNorm with one channel per group)."""

    eps: float
    affine: bool = True

    kind = "instancenorm"
    other_names = ("InstanceNormalization", "InstanceNorm2d")
    options = ("eps", "affine")
    ranks = SPATIAL  # a vector's channels are one value each: nothing to normalise

    @classmethod
    def read(cls, a, inputs):
        return cls(read_eps(a), a.option_bool("affine", True))

    def variables(self, inputs):
        return affine((inputs[0][-1],), self.affine, self.affine)

    def flops(self, inputs, out):
        return _statistics_flops(out, out[-1], self.affine)

    def window(self, inputs):
        return GLOBAL

    def describe(self):
        return f"instancenorm eps={self.eps:g}" + ("" if self.affine else " affine=false")


@dataclass(frozen=True)
class LRN(Layer):
    """`lrn 5`, `lrn 5 alpha=1e-4 beta=0.75 k=2`: local response normalisation across
    channels, as PyTorch's LocalResponseNorm: x / (k + alpha/N * sum of x^2 over N
    neighbouring channels)^beta, the window N//2 channels before and (N-1)//2 after."""

    size: int
    alpha: float = 1e-4
    beta: float = 0.75
    k: float = 1.0

    kind = "lrn"
    other_names = ("LocalResponseNorm", "LRN", "LocalResponseNormalization")
    options = ("alpha", "beta", "k")
    ranks = SPATIAL

    @classmethod
    def read(cls, a, inputs):
        size = a.count("number of channels in the window", example="lrn 5")
        alpha, beta, k = (a.option_float("alpha", 1e-4), a.option_float("beta", 0.75),
                          a.option_float("k", 1.0))
        if alpha < 0:
            raise LayerError(f"lrn's alpha must be at least 0, got {alpha:g}", "alpha "
                             "scales the sum of squares, e.g. `alpha=0.0001` (the default)")
        if k <= 0:
            raise LayerError(f"lrn's k must be positive, got {k:g}", "k keeps the "
                             "denominator above 0, e.g. `k=1` (the default) or `k=2`")
        return cls(size, alpha, beta, k)

    def flops(self, inputs, out):
        # Per value: the square, N - 1 adds of the window, the multiply by alpha/N, the
        # add of k, the power (a log, a multiply and an exp) and the divide.
        return (self.size + 6) * prod(out)

    def describe(self):
        return (f"lrn {self.size} alpha={exact(self.alpha)} beta={exact(self.beta)} "
                f"k={exact(self.k)}")

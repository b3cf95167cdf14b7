"""Functions of tensors the layers' steps share, each as an `Fn`: its text in the readable
source and its call in the built module side by side. Padding (`F.pad` of (before, after)
pairs), the mean of a window over what it counts, merges of any number of inputs, and
every activation as PyTorch computes it with Keras's constants.

Imports: `layers`; torch when a function runs.
"""

from __future__ import annotations

import math

from ...layers.activations import LEAKY_RELU_DEFAULT_SLOPE, Activation
from .ops import Fn, torch_functions


def joined(n: int, operator: str, f) -> Fn:
    """`x1 + x2 + x3`: the inputs joined by an operator (broadcasting as the spec's)."""
    return Fn(operator.join(f"{{x{k + 1}}}" for k in range(n)), lambda *xs: _fold(xs, f))


def nested(n: int, function: str, f) -> Fn:
    """`torch.maximum(torch.maximum(x1, x2), x3)`."""
    text = "{x1}"
    for k in range(2, n + 1):
        text = f"{function}({text}, {{x{k}}})"
    return Fn(text, lambda *xs: _fold(xs, f))


def _fold(xs, f):
    out = xs[0]
    for x in xs[1:]:
        out = f(out, x)
    return out


def torch_max(a, b):
    return torch_functions()[0].maximum(a, b)


def torch_min(a, b):
    return torch_functions()[0].minimum(a, b)


def pad_op(pads, value: float = 0.0, mode: str = "constant") -> Fn:
    """`F.pad` of (before, after) pairs per spatial dimension, first dimension first
    (PyTorch's pad tuple starts at the last dimension): with `value`, or in PyTorch's
    `mode` (reflect, replicate)."""
    flat = flat_pads(pads)
    shown = f", mode={mode!r}" if mode != "constant" else \
        ", value=-math.inf" if value == -math.inf else f", value={value!r}" if value else ""
    return Fn(f"F.pad({{x}}, {flat}{shown})",
              lambda x: torch_functions()[1].pad(x, flat, mode=mode,
                                                 value=value if mode == "constant" else None))


def slices_op(cuts: tuple[slice, ...]) -> Fn:
    """`x[:, :, 1:5, 0:3]`: the spatial ranges `cuts` of every example and channel."""
    text = "{x}[:, :, " + ", ".join(f"{c.start}:{c.stop}" for c in cuts) + "]"
    return Fn(text, lambda x: x[(slice(None), slice(None), *cuts)])


# `window_mean` in the readable source, computing what `window_mean`'s call below does.
WINDOW_MEAN = '''
def window_mean(x, pads, inner, outer, kernel, stride):
    """The mean over each window of `x` padded by `pads` (F.pad's order), of the positions
    inside what the average counts: the input padded by `inner` (its own padding, where
    the spec counts it), never the rest."""
    pool = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[len(kernel) - 1]
    inside = torch.ones((1, 1, *x.shape[2:]), dtype=x.dtype, device=x.device)
    inside = F.pad(F.pad(inside, inner, value=1.0), outer)
    return pool(F.pad(x, pads), kernel, stride) / pool(inside, kernel, stride)
'''


def window_mean(pads, counted, kernel, stride) -> Fn:
    """The average over each window of the input padded by `pads`, divided by the number
    of its positions inside the input padded by `counted` (each within `pads`): the text
    calls WINDOW_MEAN's function, the call does the same here."""
    flat = flat_pads(pads)
    inner = flat_pads(counted)
    outer = flat_pads(tuple((b - cb, a - ca) for (b, a), (cb, ca) in zip(pads, counted)))

    def call(x):
        torch, F = torch_functions()
        pool = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[len(kernel) - 1]
        inside = torch.ones((1, 1, *x.shape[2:]), dtype=x.dtype, device=x.device)
        inside = F.pad(F.pad(inside, inner, value=1.0), outer)
        return pool(F.pad(x, flat), kernel, stride) / pool(inside, kernel, stride)

    text = f"window_mean({{x}}, {flat}, {inner}, {outer}, {kernel}, {stride})"
    return Fn(text, call)


def flat_pads(pads) -> tuple:
    """(before, after) per spatial dimension, first first, as `F.pad` takes them: the
    last dimension's first."""
    return tuple(v for b, a in reversed(tuple(pads)) for v in (b, a))


def activation_op(f: Activation) -> Fn:
    """An activation as PyTorch computes it, channels on axis 1, Keras's constants."""
    name = f.name
    if name == "leaky_relu":
        slope = LEAKY_RELU_DEFAULT_SLOPE if f.alpha is None else float(f.alpha)
        return Fn(f"F.leaky_relu({{x}}, {slope!r})",
                  lambda x: torch_functions()[1].leaky_relu(x, slope))
    if name in ("elu", "celu"):
        alpha = f.alpha_or_one
        return Fn(f"F.{name}({{x}}, {alpha!r})",
                  lambda x: getattr(torch_functions()[1], name)(x, alpha))
    if name == "gelu":
        how = "tanh" if f.approximate else "none"
        return Fn("F.gelu({x}" + (", approximate='tanh')" if f.approximate else ")"),
                  lambda x: torch_functions()[1].gelu(x, approximate=how))
    if name == "clip":
        lo, hi = (float(b) for b in f.bounds)
        return Fn(f"{{x}}.clamp({lo!r}, {hi!r})", lambda x: x.clamp(lo, hi))
    if name in SIMPLE:
        text, call = SIMPLE[name]
        return Fn(text, call)
    raise ValueError(f"no PyTorch activation for {name}")


def _hard_sigmoid(x):
    return torch_functions()[1].relu6(x + 3) / 6


SIMPLE = {
    "relu": ("F.relu({x})", lambda x: torch_functions()[1].relu(x)),
    "relu6": ("F.relu6({x})", lambda x: torch_functions()[1].relu6(x)),
    "sigmoid": ("torch.sigmoid({x})", lambda x: torch_functions()[0].sigmoid(x)),
    "tanh": ("torch.tanh({x})", lambda x: torch_functions()[0].tanh(x)),
    "hard_sigmoid": ("F.relu6({x} + 3) / 6", _hard_sigmoid),
    "hard_swish": ("{x} * (F.relu6({x} + 3) / 6)", lambda x: x * _hard_sigmoid(x)),
    "silu": ("F.silu({x})", lambda x: torch_functions()[1].silu(x)),
    "selu": ("F.selu({x})", lambda x: torch_functions()[1].selu(x)),
    "softplus": ("F.softplus({x})", lambda x: torch_functions()[1].softplus(x)),
    "softsign": ("F.softsign({x})", lambda x: torch_functions()[1].softsign(x)),
    "mish": ("F.mish({x})", lambda x: torch_functions()[1].mish(x)),
    "softmax": ("torch.softmax({x}, dim=1)", lambda x: torch_functions()[0].softmax(x, dim=1)),
    "log_softmax": ("torch.log_softmax({x}, dim=1)",
                    lambda x: torch_functions()[0].log_softmax(x, dim=1)),
    "linear": ("{x}", lambda x: x),
}

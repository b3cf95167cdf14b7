"""Pooling as a few passes of NumPy ufuncs over strided slices, never loops over pixels.

Max and sum over a box are separable: the max over a k x k window is the max over k
lines of the max over k columns. So each spatial axis is reduced in turn, k - 1 ufunc
calls per axis (4 for a 3x3 window, where one pass per window offset takes 8), and the
first axis goes first because its slices are whole contiguous lines. Only plain
slicing is used, which keeps the Python work small enough to run on every tile of a
convolution (see `targets.Pooled`) without holding the other worker up.
"""

from __future__ import annotations

from collections.abc import Callable
from math import prod

import numpy as np

from ...layers.padding import explicit_pads, pool_pads
from .geometry import Pads, output_sizes, pad_input

Scratch = Callable[[int], np.ndarray]  # n -> n uninitialised elements


def reduce_windows(x: np.ndarray, kernel, stride, ufunc, out: np.ndarray | None = None,
                   scratch: Scratch | None = None) -> np.ndarray:
    """`ufunc` (np.maximum or np.add) over every valid window of `x` (N, *sizes, C),
    into `out`; intermediate results of the axes before the last go into `scratch`."""
    axes = [(axis, k, s) for axis, (k, s) in enumerate(zip(kernel, stride), start=1)
            if k > 1 or s > 1]
    sizes = output_sizes(x.shape[1:-1], kernel, stride, (1,) * len(kernel), "valid")
    if out is None:
        out = np.empty((x.shape[0], *sizes, x.shape[-1]), x.dtype)
    if not axes:
        np.copyto(out, x)
        return out
    acc = x
    for number, (axis, k, s) in enumerate(axes):
        n = sizes[axis - 1]
        shape = (*acc.shape[:axis], n, *acc.shape[axis + 1:])
        if number == len(axes) - 1:
            dest = out
        else:
            size = prod(shape)
            dest = (scratch(size) if scratch else np.empty(size, x.dtype)).reshape(shape)

        def part(i: int, axis=axis, s=s, n=n) -> tuple:
            index = [slice(None)] * x.ndim
            index[axis] = slice(i, i + (n - 1) * s + 1, s)
            return tuple(index)

        if k == 1:
            np.copyto(dest, acc[part(0)])
        else:
            ufunc(acc[part(0)], acc[part(1)], out=dest)
            for i in range(2, k):
                ufunc(dest, acc[part(i)], out=dest)
        acc = dest
    return out


def max_pool(x: np.ndarray, kernel, stride, padding: str | Pads, out=None,
             scratch: Scratch | None = None) -> np.ndarray:
    """Max over each window; `same` and (before, after) pairs pad with -inf so padding
    never wins (as TF, PyTorch and ONNX)."""
    ones = (1,) * len(kernel)
    xp = pad_input(x, kernel, stride, ones, padding, -np.inf)
    return reduce_windows(xp, kernel, stride, np.maximum, out, scratch)


def avg_pool(x: np.ndarray, kernel, stride, padding: str | Pads, out=None,
             scratch: Scratch | None = None, counted: Pads | None = None) -> np.ndarray:
    """Mean over each window; with `same` or (before, after) pairs, over the real inputs
    only (as Keras, and PyTorch's `count_include_pad=False`), or over the positions
    inside the input padded by `counted` (version 3's `include_pad`: PyTorch's default,
    where a `ceil` window overhanging the padding counts only what it covers)."""
    ones = (1,) * len(kernel)
    xp = pad_input(x, kernel, stride, ones, padding, 0.0)
    y = reduce_windows(xp, kernel, stride, np.add, out, scratch)
    if xp is x:  # no padding: every window holds prod(kernel) real inputs
        y /= y.dtype.type(np.prod(kernel))
        return y
    if isinstance(padding, tuple):  # version 3: count what `counted` says is inside
        inner = counted or ((0, 0),) * len(kernel)
        ones_ = np.ones((1, *(n + b + a for n, (b, a) in zip(x.shape[1:-1], inner)), 1),
                        dtype=x.dtype)
        rest = tuple((b - cb, a - ca) for (b, a), (cb, ca) in zip(padding, inner))
        y /= reduce_windows(pad_input(ones_, kernel, stride, ones, rest, 0.0), kernel,
                            stride, np.add)
        return y
    ones_ = np.ones((1, *x.shape[1:-1], 1), dtype=x.dtype)
    y /= avg_pool_counts(ones_, kernel, stride)
    return y


def avg_pool_counts(ones: np.ndarray, kernel, stride) -> np.ndarray:
    """How many real inputs each `same` window covers (1, *out, 1)."""
    unit = (1,) * len(kernel)
    padded = pad_input(ones, kernel, stride, unit, "same", 0.0)
    return reduce_windows(padded, kernel, stride, np.add)



# version 3: padding
def pool_padding(layer, sizes) -> tuple[str | Pads, Pads | None]:
    """The `padding` and `counted` that `max_pool` and `avg_pool` take for a pooling
    `layer` over spatial `sizes`: its word as ever, or for `pad=`, `ceil` and
    `include_pad` the pairs every window fits in, and those an average counts."""
    if layer.padding in ("valid", "same") and not (layer.ceil or layer.include_pad):
        return layer.padding, None
    pads, include = pool_pads(layer, sizes)
    return pads, explicit_pads(layer, sizes) if include else None

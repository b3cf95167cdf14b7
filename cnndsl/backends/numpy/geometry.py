"""Window geometry shared by convolutions and poolings: output sizes, padding as
TensorFlow pads `same`, and strided views of every output position's input window.

All functions take channels-last arrays with the batch first.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ...layers.shapes import conv_length, same_padding
from .memory import BufferPool
from .threads import parallel_slices

Pads = tuple[tuple[int, int], ...]


def pad_input(x: np.ndarray, kernel, stride, dilation, padding: str | Pads,
              value: float = 0.0, pool: BufferPool | None = None,
              parallel: bool = False) -> np.ndarray:
    """`x` padded as TensorFlow pads `same` (the odd extra after); `valid` pads nothing;
    (before, after) pairs, version 3's `pad=` and `causal`, pad exactly that.

    `parallel` splits the copy between the workers: only for callers that are not
    running in a worker themselves."""
    if isinstance(padding, tuple):  # a 1-D input run as 2-D has a height of 1, unpadded
        pads = [(0, 0)] * (x.ndim - 2 - len(padding)) + list(padding)
    elif padding != "same":
        return x
    else:
        pads = [same_padding(n, k, s, d)
                for n, k, s, d in zip(x.shape[1:-1], kernel, stride, dilation)]
    if not any(b or a for b, a in pads):
        return x
    shape = (x.shape[0], *(n + b + a for n, (b, a) in zip(x.shape[1:-1], pads)), x.shape[-1])
    xp = pool.empty(shape, x.dtype) if pool else np.empty(shape, x.dtype)
    inner = tuple(slice(b, b + n) for n, (b, _) in zip(x.shape[1:-1], pads))

    def part(s: slice) -> None:
        # Only the border slabs are filled (corners twice): filling the whole array
        # first made padding a third slower, and it is a pass over every convolution's
        # input. The interior is then copied in.
        for axis, (n, (before, after)) in enumerate(zip(x.shape[1:-1], pads)):
            for border in (slice(0, before), slice(before + n, before + n + after)):
                if border.stop > border.start:
                    xp[(s, *(slice(None),) * axis, border)] = value
        xp[(s, *inner)] = x[s]

    if parallel:
        parallel_slices(part, len(x))
    else:
        part(slice(None))
    return xp


def windows(xp: np.ndarray, out_sizes, kernel, stride, dilation) -> np.ndarray:
    """A read-only view (N, *out, *kernel, C) of every output position's input window."""
    sn, *ss, sc = xp.strides
    shape = (xp.shape[0], *out_sizes, *kernel, xp.shape[-1])
    strides = (sn, *(s * st for s, st in zip(ss, stride)),
               *(s * d for s, d in zip(ss, dilation)), sc)
    return as_strided(xp, shape, strides, writeable=False)


def output_sizes(in_sizes, kernel, stride, dilation, padding) -> tuple[int, ...]:
    return tuple(conv_length(n, k, s, padding, d)
                 for n, k, s, d in zip(in_sizes, kernel, stride, dilation))

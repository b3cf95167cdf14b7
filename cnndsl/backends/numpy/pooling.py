"""Pooling as a few passes of NumPy ufuncs over strided views, never loops over pixels."""

from __future__ import annotations

import numpy as np

from .convolution import output_sizes, pad_input, windows


def _offsets(x, kernel, stride, padding, fill):
    """The padded input's window view and the index of each kernel offset in it."""
    ones = (1,) * len(kernel)
    xp = pad_input(x, kernel, stride, ones, padding, fill)
    out = output_sizes(xp.shape[1:-1], kernel, stride, ones, "valid")
    view = windows(xp, out, kernel, stride, ones)
    lead = (slice(None),) * (1 + len(out))
    return view, [(*lead, *k) for k in np.ndindex(*kernel)]


def _first(view, offset, out):
    if out is None:
        return view[offset].copy()
    np.copyto(out, view[offset])
    return out


def max_pool(x: np.ndarray, kernel, stride, padding: str, out=None) -> np.ndarray:
    """Max over each window; `same` pads with -inf so padding never wins (as TF)."""
    view, offsets = _offsets(x, kernel, stride, padding, -np.inf)
    y = _first(view, offsets[0], out)
    for k in offsets[1:]:
        np.maximum(y, view[k], out=y)
    return y


def avg_pool(x: np.ndarray, kernel, stride, padding: str, out=None) -> np.ndarray:
    """Mean over each window; with `same`, over the real inputs only (as Keras)."""
    view, offsets = _offsets(x, kernel, stride, padding, 0.0)
    y = _first(view, offsets[0], out)
    for k in offsets[1:]:
        y += view[k]
    if padding != "same":
        y /= np.prod(kernel)
        return y
    ones = np.ones((1, *x.shape[1:-1], 1), dtype=x.dtype)
    counts = avg_pool_counts(ones, kernel, stride)
    y /= counts
    return y


def avg_pool_counts(ones: np.ndarray, kernel, stride) -> np.ndarray:
    """How many real inputs each `same` window covers (1, *out, 1)."""
    view, offsets = _offsets(ones, kernel, stride, "same", 0.0)
    count = view[offsets[0]].copy()
    for k in offsets[1:]:
        count += view[k]
    return count

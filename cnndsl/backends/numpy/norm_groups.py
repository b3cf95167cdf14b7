"""Version 3's normalisations and PReLU for the NumPy interpreter: `groupnorm`,
`instancenorm`, `lrn` and `prelu`, on channels-last batches (N, *spatial, C).

Group norm follows Keras's GroupNormalization to the order of its operations: the mean
and variance of each group of each example (the variance as the mean of squared
deviations, two passes, never E[x^2] - E[x]^2), inv = gamma / sqrt(variance + eps), then
x * inv + (beta - mean * inv). Local response normalisation follows PyTorch's
LocalResponseNorm: the squares summed over a window of N channels, N//2 before and
(N-1)//2 after (zeros beyond the edges), divided by N, times alpha, plus k, to the power
beta; the sum is N shifted slices added, never a running sum whose differences cancel.
"""

from __future__ import annotations

import numpy as np


def group_norm(x: np.ndarray, groups: int, eps: float, gamma: np.ndarray | None,
               beta: np.ndarray | None, out: np.ndarray) -> np.ndarray:
    """GroupNorm of `x` into `out` (which may be `x`), statistics per example and group."""
    batch, channels = x.shape[0], x.shape[-1]
    grouped = x.reshape(batch, -1, groups, channels // groups)
    mean = grouped.mean(axis=(1, 3), keepdims=True, dtype=x.dtype)
    deviation = grouped - mean
    np.square(deviation, out=deviation)
    inv = deviation.mean(axis=(1, 3), keepdims=True, dtype=x.dtype)
    del deviation
    inv += x.dtype.type(eps)
    np.sqrt(inv, out=inv)
    np.reciprocal(inv, out=inv)   # (N, 1, G, 1)
    per_channel = np.broadcast_to(inv, (batch, 1, groups, channels // groups))
    if gamma is not None:
        per_channel = per_channel * gamma.reshape(groups, -1)
    shift = -np.broadcast_to(mean, per_channel.shape) * per_channel
    if beta is not None:
        shift = shift + beta.reshape(groups, -1)
    shape = (batch, *(1,) * (x.ndim - 2), channels)
    np.multiply(x, per_channel.reshape(shape), out=out)
    out += shift.reshape(shape)
    return out


def local_response_norm(x: np.ndarray, size: int, alpha: float, beta: float, k: float,
                        out: np.ndarray) -> np.ndarray:
    """PyTorch's LocalResponseNorm across the last axis of `x`, into `out`."""
    channels = x.shape[-1]
    before, after = size // 2, (size - 1) // 2
    squares = np.zeros((*x.shape[:-1], channels + before + after), x.dtype)
    np.square(x, out=squares[..., before:before + channels])
    total = squares[..., :channels].copy()
    for offset in range(1, size):  # a loop over the window, not over positions
        total += squares[..., offset:offset + channels]
    del squares
    dtype = x.dtype.type
    total /= dtype(size)
    total *= dtype(alpha)
    total += dtype(k)
    np.power(total, dtype(beta), out=total)
    return np.divide(x, total, out=out)


def prelu(x: np.ndarray, alpha: np.ndarray, out: np.ndarray) -> np.ndarray:
    """max(x, 0) + alpha * min(x, 0), alpha broadcast in Keras's layout."""
    negative = np.minimum(x, 0)
    negative *= alpha
    np.maximum(x, 0, out=out)
    out += negative
    return out

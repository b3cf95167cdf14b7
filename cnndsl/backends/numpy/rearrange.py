"""The NumPy interpreter's steps of language version 3 that rearrange values
(`pixel_shuffle`, `pixel_unshuffle`, `channel_shuffle`, a `split`'s parts and the
`split` itself, `flatten chw`) or resize them (`upsample ... bilinear`).

A mixin of `Interpreter`, kept apart so that the interpreter's module stays small: each
method is one reshape-transpose-copy into a buffer of the pool, with no loop over
positions, so these kinds run at the speed of a copy.
"""

from __future__ import annotations

import numpy as np


class RearrangeSteps:
    """One method per kind, as `Interpreter`'s; `_out` is the interpreter's."""

    def _out(self, node, batch: int) -> np.ndarray:  # pragma: no cover - Interpreter's
        raise NotImplementedError

    def pixel_shuffle(self, node, xs, owned, w):
        # Input channel c·R² + i·R + j goes to channel c at offset (i, j) of its block.
        x, r = xs[0], node.layer.factor
        n, h, wd, c = x.shape
        y = self._out(node, n)
        y.reshape(n, h, r, wd, r, c // (r * r))[...] = \
            x.reshape(n, h, wd, c // (r * r), r, r).transpose(0, 1, 4, 2, 5, 3)
        return y

    def pixel_unshuffle(self, node, xs, owned, w):
        x, r = xs[0], node.layer.factor
        n, hr, wr, c = x.shape
        y = self._out(node, n)
        y.reshape(n, hr // r, wr // r, c, r, r)[...] = \
            x.reshape(n, hr // r, r, wr // r, r, c).transpose(0, 1, 3, 5, 2, 4)
        return y

    def channel_shuffle(self, node, xs, owned, w):
        # Channel g·(C/G) + k goes to k·G + g: a (G, C/G) matrix written transposed.
        x, groups = xs[0], node.layer.groups
        y = self._out(node, len(x))
        lead = x.shape[:-1]
        y.reshape(*lead, x.shape[-1] // groups, groups)[...] = \
            x.reshape(*lead, groups, x.shape[-1] // groups).swapaxes(-1, -2)
        return y

    def part(self, node, xs, owned, w):
        layer = node.layer
        y = self._out(node, len(xs[0]))
        y[...] = xs[0][..., layer.start:layer.start + layer.size]
        return y

    def split(self, node, xs, owned, w):
        return np.concatenate(xs, axis=-1, out=self._out(node, len(xs[0])))

    def flatten_chw(self, node, xs, owned, w):
        """`flatten chw`: the channels axis moved first, then flattened."""
        x = xs[0]
        y = self._out(node, len(x))
        y.reshape(len(x), x.shape[-1], *x.shape[1:-1])[...] = np.moveaxis(x, -1, 1)
        return y

    def upsample_bilinear(self, node, xs, owned, w):
        """Half-pixel bilinear resizing, one axis at a time: each output position reads
        the two input positions around its centre, the edge repeated beyond it."""
        y = xs[0]
        for axis, factor in enumerate(node.layer.factors, start=1):
            lower, upper, frac = bilinear_taps(y.shape[axis], factor, y.dtype)
            shape = [1] * y.ndim
            shape[axis] = len(frac)
            frac = frac.reshape(shape)
            low = np.take(y, lower, axis=axis)
            high = np.take(y, upper, axis=axis)
            high -= low
            high *= frac
            low += high
            y = low
        return y if y is not xs[0] else y.copy()


def bilinear_taps(size: int, factor: int, dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each of the `size·factor` outputs along an axis: the input positions below and
    above its centre, and the weight of the one above. With half-pixel centres output o
    sits at (o + 0.5) / factor - 0.5 in the input, clamped to [0, size - 1] (PyTorch's
    `align_corners=False`, TensorFlow's `half_pixel_centers`, ONNX's `half_pixel`)."""
    where = (np.arange(size * factor) + 0.5) / factor - 0.5
    where = np.clip(where, 0, size - 1)
    lower = np.floor(where).astype(np.intp)
    upper = np.minimum(lower + 1, size - 1)
    return lower, upper, (where - lower).astype(dtype)

"""Where a convolution's output tiles go: into its output, or through a pooling first.

The convolutions compute their output a tile of whole output lines at a time (see
`convolution`). Normally the tile is a slice of the output array and only needs its
epilogue (bias, activation). When the convolution is followed by a pooling whose
windows cannot straddle two tiles (window no larger than its stride, no padding), the
tile is computed in a scratch buffer still in cache and pooled straight into the
pooling's output: the full-size convolution output is never written to memory or read
back, and `conv -> maxpool 2` costs about what the convolution alone did.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from .pooling import reduce_windows

Epilogue = Callable[[np.ndarray], None]  # bias, activation... in place on an output tile
# A tile's place: images n0:n1 and output lines h0:h1 of each (2-D outputs only).
Span = tuple[int, int, int, int]


@dataclass(frozen=True)
class PoolAfter:
    """A pooling run on each tile of a convolution's output lines as it is made.

    A max pooling, or an average one (`average`: a sum, then divided by the window's
    size); `kernel` and `stride` are 2-D (a 1-D pooling of k is (1, k)), the kernel no
    larger than the stride on each axis, padded by nothing; `epilogue` is an activation
    after the pooling, if any. `first`: pool before the convolution's own epilogue,
    which gives the same values (a max pooling and a non-decreasing, exactly computed
    activation) on fewer of them.
    """

    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    epilogue: Epilogue | None = None
    first: bool = False
    average: bool = False

    @property
    def ufunc(self) -> np.ufunc:
        return np.add if self.average else np.maximum

    def as_2d(self) -> PoolAfter:
        """The same pooling for a 1-D convolution run as 2-D with a height of 1."""
        if len(self.kernel) == 2:
            return self
        return replace(self, kernel=(1, *self.kernel), stride=(1, *self.stride))

    def out_size(self, size: int, axis: int) -> int:
        return (size - self.kernel[axis]) // self.stride[axis] + 1


class Direct:
    """Tiles are slices of the output (rows = flattened output positions)."""

    def __init__(self, y: np.ndarray, epilogue: Epilogue | None) -> None:
        self.y2 = y.reshape(-1, y.shape[-1])
        self.epilogue = epilogue

    def height(self, lines: int) -> int:
        """How many of the output's `lines` need computing."""
        return lines

    def lines(self, lines: int) -> int:
        """Lines per tile, from the size the cache suggests."""
        return lines

    def columns(self, width: int) -> tuple[int, int, int] | None:
        """The order of a line's output columns: None for natural order."""
        return None

    def buffer(self, row0: int, rows: int, span: Span | None) -> np.ndarray:
        return self.y2[row0:row0 + rows]

    def finish(self, out: np.ndarray, span: Span | None, phased: bool = False) -> None:
        if self.epilogue:
            self.epilogue(out)


class Pooled:
    """Tiles are computed in a per-thread scratch buffer, then pooled into `y`.

    `y` is the pooling's output (N, pooled lines, pooled columns, F); `width` is the
    convolution's output width; `buffer(name, size)` returns this thread's buffer of
    that name (one for the tile, one for the pooling's intermediate lines)."""

    def __init__(self, y: np.ndarray, then: PoolAfter, epilogue: Epilogue | None,
                 width: int, buffer: Callable[[str, int], np.ndarray]) -> None:
        self.y, self.then, self.epilogue = y, then, epilogue
        self.width = width
        self.tiles = lambda size: buffer("pooled tile", size)
        self.scratch = lambda size: buffer("pooled lines", size)

    def height(self, lines: int) -> int:
        # Lines past the last whole window are never read by the pooling.
        return (self.y.shape[1] - 1) * self.then.stride[0] + self.then.kernel[0]

    def lines(self, lines: int) -> int:
        step = self.then.stride[0]
        return max(step, lines // step * step)  # tiles start where windows start

    def columns(self, width: int) -> tuple[int, int, int] | None:
        """(k, s, n): compute only the columns the pooling reads, grouped by their place
        in the window: column s*j + i (j < n) is the i-th of group j, at i*n + j."""
        return self.then.kernel[1], self.then.stride[1], self.y.shape[2]

    def buffer(self, row0: int, rows: int, span: Span | None) -> np.ndarray:
        filters = self.y.shape[-1]
        return self.tiles(rows * filters).reshape(rows, filters)

    def finish(self, out: np.ndarray, span: Span | None, phased: bool = False) -> None:
        assert span is not None, "pooling fusion needs 2-D tiles"
        n0, n1, h0, h1 = span
        if self.epilogue and not self.then.first:
            self.epilogue(out)
        (kh, kw), sh = self.then.kernel, self.then.stride[0]
        first = h0 // sh
        dest = self.y[n0:n1, first:first + self.then.out_size(h1 - h0, 0)]
        if phased:  # rows are (line, place in window, window): reduce lines, then places
            tile = out.reshape(n1 - n0, h1 - h0, kw, dest.shape[2], out.shape[-1])
            self._reduce_phased(tile, dest, kh, kw, sh)
        else:
            tile = out.reshape(n1 - n0, h1 - h0, self.width, out.shape[-1])
            reduce_windows(tile, self.then.kernel, self.then.stride, self.then.ufunc, dest,
                           self.scratch)
        pooled = dest.reshape(-1, dest.shape[-1])
        if self.then.average:
            pooled /= pooled.dtype.type(kh * kw)
        if self.epilogue and self.then.first:
            self.epilogue(pooled)
        if self.then.epilogue:
            self.then.epilogue(pooled)

    def _reduce_phased(self, tile: np.ndarray, dest: np.ndarray, kh: int, kw: int,
                       sh: int) -> None:
        """The pooling's sum or max of a phased tile (n, lines, kw, windows, F) into
        `dest` (n, windows down, windows across, F), with as few NumPy calls as can be:
        this runs on every tile, in the workers, where Python time holds the other up."""
        ufunc = self.then.ufunc
        count = dest.shape[1]
        if kh == sh and tile.shape[1] == count * sh:  # windows tile the lines exactly
            # One reduction over the window's lines and places together.
            ufunc.reduce(tile.reshape(tile.shape[0], count, sh, *tile.shape[2:]),
                         axis=(2, 3), out=dest)
            return
        span = (count - 1) * sh + 1
        if kh == 1:
            lines = tile[:, 0:span:sh]
        else:
            lines = self.scratch(dest.shape[0] * count * kw * dest.shape[2] * dest.shape[3])
            lines = lines.reshape(dest.shape[0], count, kw, *dest.shape[2:])
            ufunc(tile[:, 0:span:sh], tile[:, 1:1 + span:sh], out=lines)
            for r in range(2, kh):
                ufunc(lines, tile[:, r:r + span:sh], out=lines)
        if kw == 1:
            np.copyto(dest, lines[:, :, 0])
        else:
            ufunc.reduce(lines, axis=2, out=dest)

"""Work on a large array in blocks of `BLOCK` elements, so that the temporaries of a
function of several passes stay small and in cache; and shared zeros to compare with.

Used by the activations and the error function alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

BLOCK = 1 << 16       # elements per block of the functions of several passes

Kernel = Callable[[np.ndarray, Sequence[np.ndarray]], None]


def blockwise(y: np.ndarray, kernel: Kernel, scratch: int,
               scratch_dtype: np.dtype | type | None = None) -> np.ndarray:
    """Run `kernel(block, buffers)` in place over consecutive blocks of `y`'s elements,
    with `scratch` buffers of a block's length (of `scratch_dtype`, default y's)."""
    fortran = y.flags.f_contiguous and not y.flags.c_contiguous
    work = y if y.flags.c_contiguous or fortran else np.ascontiguousarray(y)
    flat = work.reshape(-1, order="F") if fortran else work.reshape(-1)   # views
    size = min(flat.size, BLOCK)
    buffers = [np.empty(size, scratch_dtype or y.dtype) for _ in range(scratch)]
    for start in range(0, flat.size, BLOCK):
        block = flat[start:start + BLOCK]
        n = block.size
        kernel(block, buffers if n == size else [b[:n] for b in buffers])
    if work is not y:
        y[...] = work
    return y


def zeros(n: int, dtype) -> np.ndarray:
    """`n` <= BLOCK read-only zeros of `dtype`, shared by every caller and thread.

    `np.maximum(x, zeros)` between two contiguous arrays runs NumPy's vectorised loop,
    about four times as fast here as `np.maximum(x, 0)` against a scalar."""
    block = _ZEROS.get(np.dtype(dtype))
    if block is None:
        block = np.zeros(BLOCK, dtype)
        block.flags.writeable = False
        _ZEROS[np.dtype(dtype)] = block
    return block[:n]


_ZEROS: dict[np.dtype, np.ndarray] = {}

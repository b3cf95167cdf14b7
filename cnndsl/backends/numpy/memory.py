"""Recycling memory: activation buffers between layers and runs, tile buffers per thread.

A fresh 25 MB array is handed out by the OS as untouched pages, and the first write
to each page costs a fault: on ResNet-50 at batch 8 that was a fifth of the run. The
interpreter gives an output buffer back here once nothing reads it any more, and the
next layer or run with the same shape takes it instead of allocating.
"""

from __future__ import annotations

import threading

import numpy as np

_local = threading.local()


def thread_buffer(size: int, dtype, name: str) -> np.ndarray:
    """`size` elements of this thread's buffer called `name`, grown as needed and kept
    for the next call: tiles reuse the same cache-sized memory instead of allocating."""
    buffer = getattr(_local, name, None)
    if buffer is None or buffer.size < size or buffer.dtype != dtype:
        buffer = np.empty(size, dtype=dtype)
        setattr(_local, name, buffer)
    return buffer[:size]


def thread_rows(row: np.ndarray, rows: int) -> np.ndarray:
    """`rows` copies of `row` stacked, in this thread's buffer: refilled only when another
    row used the buffer last or it has fewer copies. One buffer per thread, not one per
    layer, so memory does not grow with the depth of the network."""
    held = getattr(_local, "rows_of", None)
    if held is None or held[0] is not row or len(held[1]) < rows:
        block = thread_buffer(rows * row.size, row.dtype, "rows").reshape(rows, row.size)
        block[...] = row
        _local.rows_of = held = (row, block)
    return held[1][:rows]


class BufferPool:
    """Free arrays by (shape, dtype), at most `per_shape` of each kept."""

    def __init__(self, per_shape: int = 2) -> None:
        self.per_shape = per_shape
        self._free: dict[tuple, list[np.ndarray]] = {}

    def empty(self, shape, dtype) -> np.ndarray:
        """An uninitialised C-contiguous array, recycled when one of that shape is free."""
        free = self._free.get((tuple(shape), np.dtype(dtype).str))
        return free.pop() if free else np.empty(shape, dtype)

    def release(self, array: np.ndarray) -> None:
        """Take back an array nothing reads any more (only whole, owned arrays)."""
        if array.base is not None or not array.flags.c_contiguous or not array.flags.writeable:
            return
        free = self._free.setdefault((array.shape, array.dtype.str), [])
        if len(free) < self.per_shape:
            free.append(array)

    def clear(self) -> None:
        self._free.clear()

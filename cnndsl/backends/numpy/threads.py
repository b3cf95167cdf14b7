"""Running convolution tiles on every core.

NumPy's OpenBLAS already spreads one large GEMM over the cores, but the im2col copies
and the epilogues around it run on one core. Splitting the tiles themselves between
worker threads (each with a single-threaded BLAS, via OpenBLAS's
`openblas_set_num_threads_local`) keeps every core busy with copy, GEMM and epilogue
alike; NumPy releases the GIL in all three. When that OpenBLAS function cannot be
found, tiles run in the calling thread and BLAS parallelises each GEMM as usual.
"""

from __future__ import annotations

import ctypes
import glob
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import numpy as np


def _openblas_libraries() -> list[str]:
    """Paths of the OpenBLAS builds NumPy may have loaded (its wheel bundles one)."""
    root = Path(np.__file__).parent
    found = glob.glob(str(root.parent / "numpy.libs" / "*openblas*.so*"))
    found += glob.glob(str(root / ".dylibs" / "*openblas*"))
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            found += [line.split()[-1] for line in maps if "openblas" in line.lower()]
    except OSError:
        pass
    return list(dict.fromkeys(p for p in found if os.path.exists(p)))


@lru_cache(maxsize=1)
def _set_local_threads() -> Callable[[int], int] | None:
    for path in _openblas_libraries():
        try:
            lib = ctypes.CDLL(path)
            fn = lib.openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
        fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
        return fn
    return None


def workers() -> int:
    """How many threads tiles are split between (1 means: no pool)."""
    wanted = int(os.environ.get("CNNDSL_THREADS", "0")) or (os.cpu_count() or 1)
    return wanted if wanted > 1 and _set_local_threads() is not None else 1


def _single_threaded_blas() -> None:
    setter = _set_local_threads()
    if setter is not None:
        setter(1)


@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(workers(), thread_name_prefix="cnndsl",
                              initializer=_single_threaded_blas)


def run_split(task: Callable[[list], None], items: Iterable, parts: int | None = None) -> None:
    """Run `task(chunk)` on `parts` interleaved chunks of `items`, one per worker."""
    items = list(items)
    n = min(parts or workers(), len(items))
    if n <= 1:
        task(items)
        return
    futures = [_pool().submit(task, items[i::n]) for i in range(n)]
    for future in futures:
        future.result()


def parallel_slices(task: Callable[[slice], None], length: int, min_size: int = 1) -> None:
    """Run `task(s)` on contiguous slices `s` covering range(length), one per worker, for
    element-wise work on large arrays (each slice at least `min_size` long)."""
    n = min(workers(), length // max(min_size, 1))
    if n <= 1:
        task(slice(0, length))
        return
    bounds = [length * i // n for i in range(n + 1)]
    futures = [_pool().submit(task, slice(a, b)) for a, b in zip(bounds, bounds[1:])]
    for future in futures:
        future.result()

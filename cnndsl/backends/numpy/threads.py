"""Running the work on every core: shares of the batch, or tiles of one layer.

NumPy's OpenBLAS already spreads one large GEMM over the cores, but the im2col copies
and the epilogues around it run on one core. So the work is split between worker
threads, each with a single-threaded BLAS (via OpenBLAS's
`openblas_set_num_threads_local`), and NumPy releases the GIL in copy, GEMM and
epilogue alike. The coarsest split wins: a batch of 64 split into two shares that each
run the whole network ran 14% faster than splitting every layer's tiles, which pays
for a meeting of the threads at every layer and many more hand-overs of the GIL. A
batch too small to share evenly is split tile by tile instead. Work started inside a
worker runs in that worker. When the OpenBLAS function cannot be found, everything runs
in the calling thread and BLAS parallelises each GEMM as usual.
"""

from __future__ import annotations

import ctypes
import glob
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from . import helping


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


_worker = threading.local()  # `.active` is set in the pool's own threads


def workers() -> int:
    """How many threads tiles are split between (1 means: no pool). Work started from a
    worker thread runs in that thread: it is already one share of a split."""
    if getattr(_worker, "active", False):
        return 1
    wanted = int(os.environ.get("CNNDSL_THREADS", "0")) or (os.cpu_count() or 1)
    return wanted if wanted > 1 and _set_local_threads() is not None else 1


def _start_worker() -> None:
    _worker.active = True
    setter = _set_local_threads()
    if setter is not None:
        setter(1)


@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(workers(), thread_name_prefix="cnndsl",
                              initializer=_start_worker)


def quietly(task: Callable[..., Any], *args: Any) -> Any:
    """`task(*args)` without NumPy's floating-point warnings: NaN and infinity propagate
    silently, as in Keras. `np.errstate` holds for one thread only, and a pool's threads
    do not inherit the caller's, so every task sets it again."""
    with np.errstate(all="ignore"):
        return task(*args)


# Splitting a batch between the workers is worth it when no share is more than this
# much over an even split: 3 images on 2 workers (2 + 1) is better split tile by tile.
SHARE_IMBALANCE = 1.15


def batch_shares(length: int) -> list[slice]:
    """Contiguous shares of a batch of `length` examples, one per worker, or a single
    share when they would be too uneven (or there is one worker)."""
    n = min(workers(), length)
    if n <= 1 or -(-length // n) * n > SHARE_IMBALANCE * length:
        return [slice(0, length)]
    bounds = [length * i // n for i in range(n + 1)]
    return [slice(a, b) for a, b in zip(bounds, bounds[1:])]


def map_shares(task: Callable[[Any], Any], shares: list) -> list[Any]:
    """`task(share)` for each share, one per worker, in order of `shares`; a worker
    done with its share helps with the others' tiles (see `helping`)."""
    if len(shares) == 1:
        return [task(shares[0])]
    round_ = helping.Round(len(shares))
    futures = [_pool().submit(quietly, round_.share, task, share) for share in shares]
    return [future.result() for future in futures]


def run_split(task: Callable[[list], None], items: Iterable, parts: int | None = None) -> None:
    """Run `task(chunk)` on `parts` interleaved chunks of `items`, one per worker; in a
    share of a batch, tile by tile, open to a worker done with its own share."""
    items = list(items)
    round_ = helping.current()
    if round_ is not None and len(items) > 1:
        round_.run(task, items)
        return
    n = min(parts or workers(), len(items))
    if n <= 1:
        task(items)
        return
    futures = [_pool().submit(quietly, task, items[i::n]) for i in range(n)]
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
    futures = [_pool().submit(quietly, task, slice(a, b)) for a, b in zip(bounds, bounds[1:])]
    for future in futures:
        future.result()

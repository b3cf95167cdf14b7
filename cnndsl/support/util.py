"""Small helpers shared by the passes."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cycle collector during a pass that allocates many small objects.

    The tree, graph and statistics make no cycles worth collecting, and the collector's
    full passes over 100,000 nodes made the passes grow faster than the network.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()

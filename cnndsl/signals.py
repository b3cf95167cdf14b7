"""SIGTERM treated like Ctrl-C, so that every command cleans up its staged files.

Kept free of NumPy so the CLI can install it for every command at no start-up cost.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


class Interrupted(KeyboardInterrupt):
    """SIGTERM (or SIGINT) during a run; unwinds like Ctrl-C so temporary files go too."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C while the run is on, so the temporary file is removed
    (a killed process would leave it). Only the main thread may set signal handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise Interrupted(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)

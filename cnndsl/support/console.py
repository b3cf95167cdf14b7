"""A command's words to the user: its result on standard output, everything else on
standard error, neither ever ending in a traceback."""

from __future__ import annotations

import os
import sys

from .files import StdoutError


def say(text: str) -> None:
    """Print a command's result to standard output, flushed at once, so that a failure
    to write is reported here (exit 1) and not at exit, where Python would print
    `Exception ignored` and exit 120."""
    if sys.stdout is None:  # started with standard output closed
        raise StdoutError("standard output is closed")
    try:
        print(text, flush=True)
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as e:  # ValueError: the stream was closed
        silence_stdout()
        raise StdoutError(getattr(e, "strerror", None) or str(e)) from None


def tell(text: str) -> None:
    """Print to standard error; if it cannot be written, the exit status still tells."""
    if sys.stderr is None:
        return
    try:
        print(text, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def silence_stdout() -> None:
    """Point standard output at the null device, so that the flush at exit of what could
    not be written succeeds instead of failing again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real file behind it (tests)
        pass

"""Signals end a command cleanly: its exit status 128+signum, outputs as they were.

SIGINT (Ctrl-C), SIGTERM and SIGHUP, while `handled()` is on, are recorded, and the
first one is raised once as `Interrupted` (a `KeyboardInterrupt`), so the work unwinds
and staged temporary files are removed. Raising from a handler is not enough by itself:
the exception can land in code that swallows it (a `__del__` or finalizer, where Python
prints `Exception ignored`; a library's broad `except`, as during TensorFlow's import),
and a second signal during the cleanup would interrupt the cleanup itself. So:

- a signal is always recorded, and raised at most once; later ones are only recorded;
- an `Interrupted` swallowed as "unraisable" is not printed (it is recorded already);
- the command calls `check()` at safe points (after TensorFlow's import, after building
  a model), which raises if a signal was recorded, whatever happened to the first raise;
- `publishing(path)` wraps the rename that makes an output visible: it is refused if a
  signal was recorded, and from there on signals are only recorded, so the rename and
  the rest of the command (a line of output) are never cut short;
- whoever ends the command (`cli.main`) takes the signal with `consume()` and exits with
  128+signum; a signal after that (while Python shuts down) is ignored, or with
  `handled(ending_process=True)` ends the process at once with the status decided.

Kept free of NumPy so the CLI can install it for every command at no start-up cost.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

CAUGHT = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
               if hasattr(signal, name))


class Interrupted(KeyboardInterrupt):
    """A signal during a command; unwinds like Ctrl-C, so temporary files go too."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signum)
        self.signum = signum


@dataclass
class _State:
    received: int | None = None  # the first signal; it sets the exit status
    raising: bool = True  # whether the handler may still raise
    raised: bool = False  # whether it was raised as `Interrupted` (it may have been caught)
    answered: bool = False  # the command's ending has taken the signal into account
    status: int | None = None  # the exit status the command decided (`finish`)
    published: list[Path] = field(default_factory=list)  # outputs renamed into place


_active: _State | None = None


def _handler(signum: int, frame: object) -> None:
    state = _active
    if state is None or state.answered:
        return
    if state.received is None:
        state.received = signum
    if state.raising:
        state.raising, state.raised = False, True
        raise Interrupted(signum)


def _quiet_unraisable(previous):
    """`sys.unraisablehook` that says nothing of an `Interrupted` lost in a `__del__` or
    finalizer: the signal is recorded, and the next safe point honours it."""
    def hook(unraisable) -> None:
        if not isinstance(unraisable.exc_value, Interrupted):
            previous(unraisable)
    return hook


def _exit_with(status: int | None):
    """A handler for after the command: the process exits at once, with `status` if
    the command decided one (else 128+signum); all output was flushed as printed."""
    def handler(signum: int, frame: object) -> None:
        os._exit(128 + signum if status is None else status)
    return handler


@contextlib.contextmanager
def handled(ending_process: bool = False) -> Iterator[None]:
    """Signals recorded and raised once (see the module's docstring) inside the block.

    Nested blocks share the outer one's record. A signal that was never raised (it came
    while an output was published) and that no `consume()` took is delivered again to
    the previous handler once the block ends. Only the main thread may set handlers:
    elsewhere the block changes nothing.

    With `ending_process` (the `cnndsl` program), a signal after the block, while Python
    shuts down, ends the process at once with the status given to `finish`, instead of
    reaching Python's handlers (a traceback) or waiting for threads."""
    global _active
    if _active is not None or threading.current_thread() is not threading.main_thread():
        yield
        return
    state = _active = _State()
    previous = {}
    for signum in CAUGHT:
        current = signal.getsignal(signum)
        if current is not signal.SIG_IGN:  # `nohup` or a background job: stay ignored
            previous[signum] = signal.signal(signum, _handler)
    unraisable = sys.unraisablehook
    sys.unraisablehook = _quiet_unraisable(unraisable)
    try:
        yield
    except KeyboardInterrupt:
        state.answered = True  # the interrupt itself goes to the caller
        raise
    finally:
        for signum, handler in previous.items():
            if ending_process:
                handler = _exit_with(state.status)
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        sys.unraisablehook = unraisable
        _active = None
        if state.received is not None and not (state.raised or state.answered):
            signal.raise_signal(state.received)


def received() -> int | None:
    """The first signal recorded in the current `handled()` block, if any."""
    return _active.received if _active is not None else None


def consume() -> int | None:
    """`received()`, which the caller now answers for (with its exit status): the block will
    not deliver it again, and signals from now on are ignored."""
    state = _active
    if state is None:
        return None
    state.answered, state.raising = True, False
    return state.received


def finish(status: int) -> int:
    """The exit status the command has decided; returned, for `return finish(status)`."""
    if _active is not None:
        _active.status = status
    return status


def published() -> list[Path]:
    """The outputs renamed into place so far in the current block."""
    return list(_active.published) if _active is not None else []


def check() -> None:
    """A safe point: raise `Interrupted` if a signal has been recorded."""
    state = _active
    if state is not None and state.received is not None:
        state.raising, state.raised = False, True
        raise Interrupted(state.received)


@contextlib.contextmanager
def publishing(path: Path) -> Iterator[None]:
    """Around the rename that makes `path` visible: refused (`Interrupted`) if a signal has
    been recorded; from here to the end of the command, signals are only recorded."""
    check()
    state = _active
    if state is not None:
        state.raising = False
    yield
    if state is not None:
        state.published.append(Path(path))


# The name `cnndsl run` has used since SIGTERM was first handled.
sigterm_interrupts = handled


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Inside the block, signals are only recorded, never raised where they land: code
    that must not be cut short half-way (Keras writing a checkpoint) runs whole, and the
    caller's `check()` at its own safe points (between training steps) raises them."""
    state = _active
    if state is None:
        yield
        return
    before, state.raising = state.raising, False
    try:
        yield
    finally:
        state.raising = before and not state.raised

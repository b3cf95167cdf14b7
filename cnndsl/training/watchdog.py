"""A call into TensorFlow that may block for good, bounded, and ended by a signal.

While TensorFlow forms a multi-worker cluster (`MultiWorkerMirroredStrategy()`, every
task registering with the coordination service), the main thread waits in C++ *holding
the GIL* until every task has come: forever if one never does. No Python code runs in
the process meanwhile, in any thread, so neither `cnndsl.support.signals` (a handler runs
between two bytecodes of the main thread) nor a Python watchdog thread can act; and
TensorFlow's preemption notifier installs its own SIGTERM handler then, which only
records the signal. `meeting.meet` makes that wait a moment; what works without the GIL
bounds the rest. Inside `bounded()`:

- SIGINT and SIGHUP (and SIGTERM until TensorFlow takes it) have their default action:
  the process ends at once, by the signal (a shell shows 130, 129, 143; Python's
  `subprocess` -2, -1, -15). Nothing is being written during the block;
- `faulthandler`'s timer (a C thread) ends the process with status 1 at the deadline;
- a small helper process, started before the block, waits on a pipe whose other end
  only this process holds. If the block ends, it is told so and leaves. If the process
  dies inside the block (by a signal, at the deadline, or any other way), the kernel
  closes the pipe: the helper removes what the command had made (`Ending.remove`) and
  prints what happened, then leaves. It ignores SIGINT, SIGTERM and SIGHUP itself, so a
  Ctrl-C sent to the whole terminal's process group still gets its message out.

When the block ends, the handlers from before it are put back, over TensorFlow's.

Run as a script (`python -I watchdog.py FD TIMEOUT JSON`), this module is the helper:
standard library only, nothing of cnndsl imported.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

_LEFT = b"left"
_CAUGHT = ("SIGINT", "SIGTERM", "SIGHUP")


@dataclass(frozen=True)
class Ending:
    """What the helper says and removes if the process dies inside the block."""

    stopped: str  # the line for a process ended before the deadline (a signal)
    late: str  # the error for a process ended at the deadline
    remove: list[str] = field(default_factory=list)  # directories and files to remove


@contextlib.contextmanager
def bounded(timeout: float, ending: Ending) -> Iterator[None]:
    """The block ends within `timeout` seconds or the process does (status 1), and a
    signal ends it at once; either way the helper says so (see the module's docstring).
    For the main thread of a process that ends after the command (`cnndsl`)."""
    import faulthandler

    from ..support import signals

    read, write = os.pipe()
    try:
        helper: subprocess.Popen | None = subprocess.Popen(
            [sys.executable, "-I", "-S", os.path.abspath(__file__), str(read), repr(timeout),
             json.dumps({"stopped": ending.stopped, "late": ending.late,
                         "remove": ending.remove})],
            pass_fds=(read,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    except OSError:  # no interpreter to start (an embedded Python): bounded, unexplained
        helper = None
    os.close(read)
    quiet = open(os.devnull, "w")  # noqa: SIM115 - faulthandler keeps it until cancelled
    defaults = {}
    try:
        signals.check()  # a signal recorded before the block ends the command as usual
        for name in _CAUGHT:
            signum = getattr(signal, name, None)
            if signum is not None and signal.getsignal(signum) is not signal.SIG_IGN:
                defaults[signum] = signal.signal(signum, signal.SIG_DFL)
        faulthandler.dump_traceback_later(timeout, exit=True, file=quiet)
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
        for signum, handler in defaults.items():  # over TensorFlow's, if it set one
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        quiet.close()
        with contextlib.suppress(OSError):
            os.write(write, _LEFT)
        os.close(write)
        if helper is not None:
            helper.wait()


def _helper(fd: int, timeout: float, ending: dict) -> int:
    """Wait for the block's end or the process's; after the process's, clean up and say."""
    for name in _CAUGHT:
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    start = time.monotonic()
    told = b""
    while chunk := os.read(fd, 64):
        told += chunk
    if told == _LEFT:
        return 0
    for path in ending["remove"]:
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(path)
    late = time.monotonic() - start >= timeout - 0.5
    with contextlib.suppress(OSError):
        sys.stderr.write((ending["late"] if late else ending["stopped"]) + "\n")
        sys.stderr.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_helper(int(sys.argv[1]), float(sys.argv[2]), json.loads(sys.argv[3])))

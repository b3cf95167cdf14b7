"""What `train` and `evaluate` print while they work, on standard error.

On a terminal, Keras's progress bar, redrawn in place. Anywhere else (a log file, a
pipe, CI) one plain line per epoch:

    epoch 3/10: accuracy 0.9561, loss 0.1532, val_accuracy 0.9611, val_loss 0.1410 (2.1 s)

since Keras draws its bar as for a terminal wherever it writes (Keras 3.15's `Progbar`
takes any POSIX process for one: `"posix" in sys.modules`), so a log file got the escape
sequences and a redraw of the line every 50 ms: 10 KB for 5 epochs of the digits, 176 KB
on a slower machine. With `--quiet`, nothing: the result line on standard output, and
errors and warnings, are all that is printed.
"""

from __future__ import annotations

import contextlib
import sys
import time

from ..errors import shown


def on_terminal() -> bool:
    """Whether standard error is a terminal, where a bar redrawn in place belongs."""
    try:
        return bool(sys.stderr is not None and sys.stderr.isatty())
    except (AttributeError, ValueError, OSError):  # no file behind it, or closed
        return False


def verbosity(quiet: bool) -> int:
    """Keras's `verbose` for `fit` and `evaluate`: its bar on a terminal, else nothing."""
    return 1 if not quiet and on_terminal() else 0


def epoch_lines(quiet: bool, epochs: int) -> list:
    """The callback that prints a plain line per epoch, where Keras's bar is not shown
    and the run is not quiet."""
    if quiet or on_terminal():
        return []
    import keras

    class EpochLines(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.monotonic()

        def on_epoch_end(self, epoch, logs=None):
            values = ", ".join(f"{shown(k)} {float(v):.4f}" for k, v in (logs or {}).items()
                               if _is_number(v))
            took = time.monotonic() - getattr(self, "start", time.monotonic())
            with contextlib.suppress(OSError, ValueError, AttributeError):  # stderr gone
                print(f"epoch {epoch + 1}/{epochs}: {values} ({took:.1f} s)",
                      file=sys.stderr, flush=True)

    return [EpochLines()]


def _is_number(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True

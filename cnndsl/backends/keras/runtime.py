"""TensorFlow, imported when a Keras path needs it, and what it costs.

Every Keras path (compile, weights, import, train, evaluate, `--weights MODEL.keras`) goes
through `keras_backend`: a missing TensorFlow is the pip command to run, running out of
memory is said in terms of the user's file, TensorFlow's start-up lines are left out and
Keras's warnings are one line of ours. The memory TensorFlow itself takes is measured
here, for the checks made before it is imported.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from ...errors import CnnError
from ...support import signals
from ...support.files import FileError

INSTALL = "pip install 'cnndsl[keras]'"

# Memory a compile takes, measured (peak RSS, /usr/bin/time -v) with TensorFlow 2.21 and
TENSORFLOW_BYTES = 600 * 2**20
COPIES = 4
COPIES_FROM_KERAS = 5


def gib(size: int) -> str:
    return f"{size / 2**30:,.1f} GiB"


@contextlib.contextmanager
def keras_backend(where: str | Path = "cnndsl", doing: str = "",
                  warnings_from: str | Path | None = None) -> Iterator:
    """The Keras backend module, TensorFlow imported; a missing TensorFlow becomes a
    `FileError` with the pip command, running out of memory while `doing` a `FileError`
    about `where`. Located errors (a layer Keras cannot build) pass through as `CnnError`.
    TensorFlow's start-up lines are left out, and Keras's warnings inside are lines
    `WHERE: warning: Keras says: ...` (`keras_output`), WHERE `warnings_from` if given."""
    # TensorFlow's C++ start-up notices are not for users of a command-line tool.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from . import builder as backend
    from .output import quiet_import, warnings_said

    try:
        with warnings_said(warnings_from or where):
            quiet_import(backend.keras_module)  # seconds; it may swallow a signal
            signals.check()
            yield backend
    except CnnError as e:
        if isinstance(e.__cause__, ImportError):
            raise FileError("cnndsl", "the Keras backend needs TensorFlow, which is not "
                           f"installed or cannot be imported ({e.__cause__})", INSTALL) from None
        raise
    except Exception as e:
        if backend.out_of_memory(e):
            raise FileError(where, f"out of memory while {doing or 'running Keras'}: "
                           f"{backend.out_of_memory(e)}", "close other programs, or make "
                           "the network smaller (`cnndsl shapes` lists each layer's "
                           "weights)") from None
        raise

"""What TensorFlow and Keras print by themselves, said the way cnndsl says things.

**TensorFlow's C++ start-up lines.** Importing TensorFlow can print

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 00:00:1796599868.507145   13262 port.cc:153] oneDNN custom operations are on. ...

(and the line again: two of TensorFlow's libraries log it). They are written by C++ to
file descriptor 2 while the libraries load, before absl's logging is set up, and the
oneDNN notice ignores `TF_CPP_MIN_LOG_LEVEL` (even at 3). No variable turns the notice
off without turning oneDNN off too (`TF_ENABLE_ONEDNN_OPTS=0` changes the numbers), so
`quiet_import` points descriptor 2 at a temporary file while TensorFlow loads, then
writes back whatever is not that noise: the absl preamble, and log records below the
level `TF_CPP_MIN_LOG_LEVEL` asks for (2 unless set: warnings and information). Errors
and anything that is not a log record pass, in order. A user who sets the level to 0
gets everything.

**Python warnings.** Keras warns with `warnings.warn`, which Python prints with Keras's
source path and line, and the text raw (a model's config can put escape sequences and
megabytes in it). Inside `warnings_said`, each distinct warning is one line of ours, as
it comes: `MODEL.keras: warning: Keras says: ...`, escaped and cut at 300 characters;
after three, only how many more there were.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from ...errors import shown

T = TypeVar("T")

_PREAMBLE = b"WARNING: All log messages before absl::InitializeLog() is called"
# absl's `I0000 00:00:1796599868.507145   13262 port.cc:153] ` and TensorFlow's older
# `2025-01-01 12:00:00.000000: W tensorflow/...cc:42] `.
_RECORD = re.compile(rb"([IWEF])\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^\]\n]*\] "
                     rb"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: ([IWEF]) [^\]\n]*\] ")
# Start-up errors of TensorFlow's GPU builds on a machine without one, logged at ERROR.
_KNOWN_ERRORS = re.compile(rb"Unable to register cu(DNN|FFT|BLAS) factory|failed call to "
                           rb"cuInit|computation placer already registered")
# The second line of the CPU-features notice (a log record of two lines).
_CONTINUED = (b"To enable the following instructions:",)
SEVERITIES = b"IWEF"


def log_level() -> int:
    """The lowest severity TensorFlow's C++ logging prints: 0 information, 1 warnings, 2
    errors, 3 fatal errors (`TF_CPP_MIN_LOG_LEVEL`; cnndsl's commands set 2 unless it is
    set)."""
    try:
        return min(3, max(0, int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))))
    except ValueError:
        return 2


def filtered(text: bytes, level: int) -> bytes:
    """`text` written to standard error while TensorFlow loaded, without its noise."""
    kept, dropping = [], False
    for line in text.splitlines(keepends=True):
        record = _RECORD.match(line)
        if line.startswith(_PREAMBLE):
            dropping = False
            if level == 0:
                kept.append(line)
        elif record:
            severity = SEVERITIES.index(record.group(1) or record.group(2))
            dropping = severity < level or (level >= 2 and severity == 2
                                            and bool(_KNOWN_ERRORS.search(line)))
            if not dropping:
                kept.append(line)
        elif not (dropping and line.startswith(_CONTINUED)):
            dropping = False
            kept.append(line)
    return b"".join(kept)


def quiet_import(load: Callable[[], T]) -> T:
    """`load()` (TensorFlow's import), with what it writes to file descriptor 2 caught and
    written back without the noise once it returns or fails."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no standard error at all
        return load()
    try:
        capture = tempfile.TemporaryFile()
    except OSError:  # no writable temporary directory: the noise is not worth failing
        os.close(saved)
        return load()
    with capture:
        os.dup2(capture.fileno(), 2)
        try:
            return load()
        finally:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            _write_back(filtered(capture.read(), log_level()))


def _write_back(data: bytes) -> None:
    with contextlib.suppress(OSError):
        while data:
            data = data[os.write(2, data):]


# Python's default filters hide these from users; Keras's own imports raise some.
HIDDEN_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, ImportWarning,
                   ResourceWarning)
SHOWN = 3


@contextlib.contextmanager
def warnings_said(where: str | Path) -> Iterator[None]:
    """Python warnings raised inside, each distinct one a line `WHERE: warning: Keras
    says: ...` on standard error (the first three; then how many more)."""
    said: set[str] = set()

    def show(message, category, filename, lineno, file=None, line=None):
        text = str(message)
        if issubclass(category, HIDDEN_WARNINGS) or text in said:
            return
        said.add(text)
        if len(said) <= SHOWN:
            who = "TensorFlow" if "tensorflow" in str(filename) else "Keras"
            _tell(f"{shown(where)}: warning: {who} says: {shown(text, limit=300)}")

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = show
        try:
            yield
        finally:
            if len(said) > SHOWN:
                _tell(f"{shown(where)}: warning: and {len(said) - SHOWN} more from Keras")


def _tell(line: str) -> None:
    with contextlib.suppress(OSError, ValueError, AttributeError):  # stderr closed or full
        print(line, file=sys.stderr, flush=True)

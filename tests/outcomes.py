"""Helpers of the command-line, fuzz and regression tests: running a command and
capturing what it says, saying what a module ran past pytest's capture, and holding a
command to finishing before TensorFlow is imported."""

from __future__ import annotations

import contextlib
import io
import socket
import sys
from collections.abc import Iterator
from unittest import mock

from cnndsl.cli import main


def cli(*argv: object) -> tuple[int, str, str]:
    """`cnndsl ARGV` in this process (arguments may be paths): its exit status, standard
    output and standard error, never a traceback. The streams are redirected rather than
    read from `capsys`, so that module-scoped fixtures can run commands too; like
    `capsys`'s, they are UTF-8 text over bytes (a command's binary output goes through)."""
    out, err = _stream(), _stream()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in argv])
    said = [stream.buffer.getvalue().decode("utf-8") for stream in (out, err)]
    assert "Traceback" not in said[0] + said[1], said[1]
    return rc, said[0], said[1]


def _stream() -> io.TextIOWrapper:
    """A stream as the terminal's: its encoding is what a command reads to choose its
    table's lines, and its buffer is where binary output goes."""
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", newline="", write_through=True)


def print_past_capture(request, text: str) -> None:
    """`text` on the terminal even under pytest's capture (a module's closing count)."""
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print(f"\n{text}", file=sys.stderr)


class TensorFlowWanted(BaseException):
    """Raised where a command would import TensorFlow: not an `Exception`, so that it
    escapes `cnndsl.cli.main` (which turns any `Exception` into an internal error)."""


def _wanted(*args, **kwargs):
    raise TensorFlowWanted("the command went on to import TensorFlow")


@contextlib.contextmanager
def no_tensorflow() -> Iterator[None]:
    """Inside the block, the Keras backend's one entry point (`keras_backend` of
    `backends.keras.runtime`, which every command that needs TensorFlow goes through)
    raises `TensorFlowWanted`."""
    with mock.patch("cnndsl.backends.keras.runtime.keras_backend", _wanted):
        yield


def free_ports(count: int) -> list[int]:
    """`count` ports of 127.0.0.1 that nothing listens on now (for TF_CONFIG clusters)."""
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports

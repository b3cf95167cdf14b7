"""Helpers of the fuzz and regression tests: saying what a module ran past pytest's
capture, and holding a command to finishing before TensorFlow is imported."""

from __future__ import annotations

import contextlib
import socket
import sys
from collections.abc import Iterator
from unittest import mock


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

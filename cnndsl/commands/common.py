"""What every command shares: exit statuses, the user's error, file arguments, and the
spec loaded and type-checked with its errors rendered.

A command module declares its arguments (`add_parser(sub)`) and does its work
(`run(args) -> int`); it raises `UserError` with a rendered message, which `cli` prints
with exit status 1. Nothing here imports NumPy or TensorFlow.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import CnnError, as_text, shown
from ..support.console import tell
from ..support.limits import MAX_SOURCE_BYTES

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class UserError(Exception):
    """An error already rendered for the terminal."""


def path(text: str) -> str:
    """A file argument: `-o ""` is a usage error, not a file named nothing."""
    if not text:
        raise argparse.ArgumentTypeError("expected a file name, got an empty string")
    return text


def load(path: str, name: str | None = None):
    """(display path, graph, text) of a spec, or `UserError` with the rendered message."""
    from ..language.frontend import compile_text, decode
    from ..support.files import open_regular, unreadable

    display = "<stdin>" if path == "-" else path
    if name is not None and (not name or "/" in name or not name.isprintable()):
        raise UserError(f"cnndsl: error: --name `{shown(name)}` is not a usable model name\n"
                        "hint: use letters, digits, `_`, `-` or `.`; Keras refuses `/`")
    try:
        # Never more than the limit plus one byte: a 50 MB file is refused unread.
        if path == "-" and sys.stdin is None:  # started with standard input closed
            raise UserError("<stdin>: error: standard input is closed\n"
                            "hint: give the spec as a file, or pipe it in: cnndsl check - < FILE")
        if path == "-":
            data = sys.stdin.buffer.read(MAX_SOURCE_BYTES + 1)
        else:  # a regular file only: a FIFO would wait for a writer forever
            with open_regular(path) as f:
                data = f.read(MAX_SOURCE_BYTES + 1)
    except OSError as e:
        raise UserError(unreadable(path, e, "a .cnn file, or `-` and the spec on standard "
                                   "input").render()) from None
    if len(data) > MAX_SOURCE_BYTES:
        raise UserError(f"{shown(display)}:1:1: error: the file is over the limit of "
                        f"{MAX_SOURCE_BYTES // 2**20} MiB for a spec\n"
                        "hint: is this the right file? a 100,000-layer network is about 3 MB")
    text = data.decode("utf-8", errors="replace")
    try:
        text = decode(data)
        stem = "model" if path == "-" else as_text(Path(path).stem)
        graph = compile_text(text, name or stem)
    except CnnError as e:
        raise UserError(e.render(text, display)) from None
    for w in graph.warnings:
        tell(w.render(text, display, "warning"))
    return display, graph, text

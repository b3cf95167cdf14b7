"""What every command shares: exit statuses, the user's error, file arguments, the spec
loaded and type-checked with its errors rendered, the errors of a command's work said
as the user's, and text written to a file or standard output.

A command module declares its arguments (`add_parser(sub)`) and does its work
(`run(args) -> int`); it raises `UserError` with a rendered message, which `cli` prints
with exit status 1. Nothing here imports NumPy or TensorFlow.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from ..errors import CnnError, as_text, shown
from ..support import files
from ..support.console import tell
from ..support.files import FileError
from ..support.limits import MAX_SOURCE_BYTES

if TYPE_CHECKING:
    from ..graph.ir import Graph

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class UserError(Exception):
    """An error already rendered for the terminal."""


def path(text: str) -> str:
    """A file argument: `-o ""` is a usage error, not a file named nothing."""
    if not text:
        raise argparse.ArgumentTypeError("expected a file name, got an empty string")
    return text


class Spec(NamedTuple):
    """A spec loaded: the name its errors are located by (`<stdin>` for `-`), its typed
    graph and its text."""

    display: str
    graph: Graph
    text: str


def add_weights_arguments(parser, seed_options: dict, loaded: str = "") -> None:
    """--weights W.npz or --seed: where the network's weights come from, one or the other;
    `seed_options` are --seed's own (its default, metavar), `loaded` a note on reading a .keras."""
    weights = parser.add_mutually_exclusive_group()
    weights.add_argument("--weights", type=path, metavar="W.npz",
                         help=f"weights keyed LAYER/VARIABLE, or a .keras model's {loaded}"
                         "(default: initialised from --seed)")
    weights.add_argument("--seed", type=int, **seed_options,
                         help="seed of the Keras-like initial weights (default: 0)")


def load(path: str, name: str | None = None) -> Spec:
    """The spec at `path` (`-`: standard input), or `UserError` with the rendered message."""
    from ..language.frontend import compile_text

    if name is not None and (not name or "/" in name or not name.isprintable()):
        raise UserError(f"cnndsl: error: --name `{shown(name)}` is not a usable model name\n"
                        "hint: use letters, digits, `_`, `-` or `.`; Keras refuses `/`")
    display, text = read_source(path)
    try:
        stem = "model" if path == "-" else as_text(Path(path).stem)
        graph = compile_text(text, name or stem)
    except CnnError as e:
        raise UserError(e.render(text, display)) from None
    for w in graph.warnings:
        tell(w.render(text, display, "warning"))
    return Spec(display, graph, text)


def read_source(path: str) -> tuple[str, str]:
    """The name errors are located by and the text of the spec at `path` (`-`: standard
    input), decoded; or `UserError` with the rendered message."""
    from ..language.frontend import decode
    from ..support.files import open_regular, unreadable

    display = "<stdin>" if path == "-" else path
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
        return display, decode(data)
    except CnnError as e:
        raise UserError(e.render(text, display)) from None


@contextlib.contextmanager
def user_errors(spec: Spec | None = None) -> Iterator[None]:
    """A command's work, its `FileError`s said as the user's error (`PATH: error: ...` and
    a hint), and with `spec` its `CnnError`s too, located in the spec's text (a layer kind
    a backend cannot build or run). Any other `CnnError` is a bug, left to be one."""
    try:
        yield
    except FileError as e:
        raise UserError(e.render()) from None
    except CnnError as e:
        if spec is None:
            raise
        raise UserError(e.render(spec.text, spec.display)) from None


def write_text(text: str, output: Path | None) -> None:
    """`text` as UTF-8 to `output`, written whole or not at all (`files.staged`), or to
    standard output if None: the same bytes either way. OS errors are `FileError`s."""
    if output is None:
        files.to_stdout(text.encode("utf-8"))
        return
    with files.writing(output), files.staged(output) as tmp:
        tmp.write_text(text, encoding="utf-8")

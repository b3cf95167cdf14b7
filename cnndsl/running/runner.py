"""`cnndsl run`: a network over the examples in a `.npy` file, in bounded memory.

    cnndsl run net.cnn --input x.npy -o y.npy --batch-size 64

The input is read B examples at a time (see `inputs`); each batch's output goes straight
into a temporary file beside the output (a `.npy`, or an `.npz` written as a stream),
renamed over the output only once complete. Neither file is memory-mapped, so a file
changed under the run is an error, never a bus error. A failure, Ctrl-C or SIGTERM
removes the temporary file and leaves any old output as it was. SIGKILL cannot be caught:
it may leave a hidden `.NAME.XXXXXXXX.tmp` beside the output, never a truncated output.
An output that is the same file as an input (the spec, `--input`, `--weights`) is refused.

An `.npz` input is one array read whole (zip members cannot be read in parts): use `.npy`
for inputs larger than memory. `--layers` keeps every layer's output for the whole input.
"""

from __future__ import annotations

import contextlib
import os
import time
import zipfile
from collections.abc import Callable, Iterator
from math import prod
from pathlib import Path
from typing import TextIO

import numpy as np

from ..backends.weights import WeightsError
from ..errors import shown
from ..network import Network
from ..support import files, paths
from ..support.files import FileError
from ..support.signals import sigterm_interrupts
from .backends import forward
from .inputs import Examples, read_input, sniff

NPZ_KEY = "output"  # the one array of an .npz output


def run(network: Network, source: Path, output: Path, *, weights: Path | None = None,
        seed: int = 0, batch_size: int = 32, dtype: str = "float32",
        layers: Path | None = None, progress: TextIO | None = None,
        spec: Path | None = None, backend: str = "numpy") -> tuple[int, ...]:
    """Run `network` over the examples in `source` and write the outputs to `output`.

    `input 4 -> dense 2` on a (10, 4) array writes (10, 2); on a (4,) array, one example
    without the batch axis, it writes (2,). Returns the shape written. Raises `FileError`
    for any problem with the files or options, before anything is written; `spec` is the
    network's file, which no output may overwrite either. `backend` computes it
    (`backends.BACKENDS`: NumPy's interpreter by default).
    """
    check_options(batch_size, seed)
    check_outputs(output, layers, {"the input": source, "the weights file": weights,
                                   "the spec": spec})
    with contextlib.closing(read_input(source)) as x:
        single = fit_input(x, network, source)
        use_weights(network, weights, seed)
        rows = 1 if single else x.shape[0]
        shape = network.output_shape if single else (rows, *network.output_shape)
        kind = np.dtype(dtype)
        interpreter = forward(network, backend, kind, keep=layers is not None)
        bar = Progress(0 if single else rows, progress)
        with sigterm_interrupts(), staged(output) as tmp:
            rows_to = npz_rows if output.suffix.lower() == ".npz" else npy_rows
            with rows_to(tmp, shape, rows, kind) as write:
                kept = stream(interpreter, x, single, write, batch_size, bar)
            if layers is not None:
                write_layers(layers, network, kept, single, kind)
    return tuple(shape)


def check_outputs(output: Path, layers: Path | None, inputs: dict[str, Path | None]) -> None:
    """`-o` and `--layers`: writable, of the right kind, overwriting no input nor each
    other (`paths.check`)."""
    paths.check(inputs, {"-o": output, "--layers": layers},
                suffixes={"-o": (".npy", ".npz"), "--layers": (".npz",)})


def check_options(batch_size: int, seed: int) -> None:
    """Options argparse cannot range-check by itself."""
    if batch_size < 1:
        raise FileError("cnndsl run", f"--batch-size must be at least 1, got {batch_size}",
                       "the number of examples run at once, e.g. --batch-size 32")
    if seed < 0:
        raise FileError("cnndsl run", f"--seed must be 0 or more, got {seed}",
                       "any non-negative integer, e.g. --seed 0")


# -- input ------------------------------------------------------------------------------------
def fit_input(x: Examples, network: Network, path: Path) -> bool:
    """Whether `x` is one example without the batch axis; `FileError` if it fits neither way."""
    expected = tuple(network.input_shape)
    if tuple(x.shape) == expected:
        return True
    if len(x.shape) == len(expected) + 1 and tuple(x.shape[1:]) == expected:
        return False
    node = network.graph.input
    span = f"{node.span.line}:{node.span.column}"
    raise FileError(path, f"the input has shape {tuple(x.shape)}; the network takes "
                    f"(N, {', '.join(map(str, expected))}) for N examples, or {expected} for "
                    f"one", channel_hint(tuple(x.shape), expected) or
                    f"the network's first step, `{shown(node.text)}` at line {span}, "
                    "sets the shape of one example")


def channel_hint(got: tuple[int, ...], expected: tuple[int, ...], name: str = "x") -> str | None:
    """The fix when only the trailing channel axis of size 1 is missing (grey images saved
    as (N, 28, 28) for `input 28x28x1`), or is one too many.

    >>> channel_hint((60000, 28, 28), (28, 28, 1))
    'add the channel axis: `x[..., None]` in NumPy, then save it again'
    >>> channel_hint((28, 28, 1, 1), (28, 28, 1))
    'drop the extra axis of size 1: `x[..., 0]` in NumPy, then save it again'
    >>> channel_hint((60000, 28, 28), (32, 32, 1)) is None
    True
    """
    if expected[-1:] == (1,) and got[-len(expected) + 1:] == expected[:-1] \
            and len(got) in (len(expected) - 1, len(expected)) and len(expected) > 1:
        return f"add the channel axis: `{name}[..., None]` in NumPy, then save it again"
    if got[-1:] == (1,) and got[-len(expected) - 1:-1] == expected \
            and len(got) in (len(expected) + 1, len(expected) + 2):
        return f"drop the extra axis of size 1: `{name}[..., 0]` in NumPy, then save it again"
    return None


# -- weights ----------------------------------------------------------------------------------
def use_weights(network: Network, path: Path | None, seed: int) -> None:
    """The network's weights: from an `.npz` file, a `.keras` model or a PyTorch `.pt2`
    or `.pt` if given, else Keras-like from `seed`.

    Seeded weights are float32 whatever `--dtype`, so float64 runs the same network.
    Only a `.keras` model imports Keras (and TensorFlow)."""
    if path is None:
        network.init_weights(seed)
        return
    from ..backends.given import TORCH_SUFFIXES, given_weights

    if path.suffix.lower() in TORCH_SUFFIXES:  # PyTorch's, keyed as the module's
        network.set_weights(given_weights(network.graph, path))
        return
    if path.suffix.lower() in (".keras", ".h5", ".hdf5"):
        from ..backends.given import fit
        from ..backends.keras.loading import keras_weights

        weights = keras_weights(path)
        fit(network.graph, weights, path)
        network.set_weights(weights)
        return
    if sniff(path) != "npz":
        raise FileError(path, "weights must be an .npz archive, not a single .npy array",
                       "save them with numpy.savez(path, **{'conv_1/kernel': ..., ...})")
    try:
        network.set_weights(path)
    except WeightsError as e:
        message = str(e).removeprefix(f"{path}: ")
        raise FileError(path, message, "keys are LAYER/VARIABLE with Keras's shapes, e.g. "
                       "dense_1/kernel (in, units); `cnndsl shapes` lists the layers") from None


# -- output -----------------------------------------------------------------------------------
@contextlib.contextmanager
def staged(path: Path) -> Iterator[Path]:
    """`files.staged`, with its OS errors said in the terms of this command."""
    try:
        with files.staged(path) as tmp:
            yield tmp
    except OSError as e:
        raise FileError(path, f"cannot write the output: {shown(e.strerror or e)}",
                        "check the free space and permissions of its directory") from None


@contextlib.contextmanager
def npy_rows(path: Path, shape: tuple[int, ...], rows: int,
             dtype: np.dtype) -> Iterator[Callable[[int, np.ndarray], None]]:
    """`write(start, batch)` into a new `.npy` of `shape`, with plain writes at each
    batch's offset, so only the current batch is ever held in memory. The whole file's
    space is reserved first: a full disk is an error before the run, not after it."""
    with open(path, "r+b") as f:
        np.lib.format.write_array_header_1_0(f, {
            "descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
            "shape": shape})
        offset = f.tell()
        row_bytes = prod(shape) // rows * dtype.itemsize if rows else 0
        if hasattr(os, "posix_fallocate") and rows:
            os.posix_fallocate(f.fileno(), 0, offset + rows * row_bytes)

        def write(start: int, batch: np.ndarray) -> None:
            f.seek(offset + start * row_bytes)
            f.write(np.ascontiguousarray(batch, dtype).data)

        yield write


@contextlib.contextmanager
def npz_rows(path: Path, shape: tuple[int, ...], rows: int,
             dtype: np.dtype) -> Iterator[Callable[[int, np.ndarray], None]]:
    """`write(start, batch)` into a new `.npz` laid out as `numpy.savez` does (a zip with
    one uncompressed `.npy` member), as a stream, so the archive is never in memory."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as archive, \
            archive.open(f"{NPZ_KEY}.npy", "w", force_zip64=True) as member:
        np.lib.format.write_array_header_1_0(member, {
            "descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
            "shape": shape})

        def write(start: int, batch: np.ndarray) -> None:
            member.write(np.ascontiguousarray(batch, dtype).data)

        yield write


def stream(interpreter, x: Examples, single: bool, write: Callable[[int, np.ndarray], None],
           batch_size: int, bar: Progress) -> dict[str, list[np.ndarray]]:
    """Run batch after batch, each written before the next is read; with a `keep`
    interpreter, also collect every layer's output (`--layers`). NaN and Inf in the
    input propagate without warnings (the interpreter silences them, as the API does)."""
    kept: dict[str, list[np.ndarray]] = {}
    rows = 1 if single else x.shape[0]
    last = interpreter.graph.output.name
    try:
        for start in range(0, rows, batch_size):
            # Each batch's output is written before the next is read, so unless every
            # layer's output is kept, the next batch may be read into the same memory.
            batch = x.read(0, x.shape[0])[None] if single else \
                x.read(start, start + batch_size, reuse=not interpreter.keep)
            if interpreter.keep:
                values = interpreter.run_all(batch)
                for name, value in values.items():
                    kept.setdefault(name, []).append(value)
                out = values[last]
            else:
                out = interpreter.run(batch)
            write(start, out)
            bar.update(start + len(batch))
    finally:
        bar.close()
    return kept


def write_layers(path: Path, network: Network, kept: dict[str, list[np.ndarray]],
                 single: bool, dtype: np.dtype) -> None:
    """Every layer's output over the whole input, keyed by layer name, written atomically."""
    arrays = {}
    for node in network.graph.nodes:
        chunks = kept.pop(node.name, [])
        whole = np.concatenate(chunks) if chunks else np.zeros((0, *node.shape), dtype)
        arrays[node.name] = whole[0] if single else whole
    try:
        files.write_npz(path, arrays)
    except OSError as e:
        raise FileError(path, f"cannot write the layers file: {shown(e.strerror or e)}",
                        "check the free space and permissions of its directory") from None


# -- progress and signals ---------------------------------------------------------------------
class Progress:
    """`[#####.....] 512/1024 examples 3.2 s` redrawn in place on a terminal, and only once
    the run has taken a second, so quick runs and logs stay clean."""

    WIDTH, DELAY, PERIOD = 30, 1.0, 0.1

    def __init__(self, total: int, stream: TextIO | None, clock=time.monotonic) -> None:
        self.total, self.stream, self.clock = total, stream, clock
        self.enabled = total > 0 and stream is not None and _isatty(stream)
        self.start = self.last = clock()
        self.drawn = False

    def update(self, done: int) -> None:
        """Redraw, at most ten times a second (and always at the end)."""
        if not self.enabled:
            return
        now = self.clock()
        if now - self.start < self.DELAY or (now - self.last < self.PERIOD and done < self.total):
            return
        self.last, self.drawn = now, True
        filled = self.WIDTH * done // self.total
        assert self.stream is not None
        self.stream.write(f"\r[{'#' * filled}{'.' * (self.WIDTH - filled)}] "
                          f"{done}/{self.total} examples {now - self.start:.1f} s")
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line, so whatever is printed next starts on its own."""
        if self.drawn and self.stream is not None:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False



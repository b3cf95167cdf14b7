"""`cnndsl compile` and `cnndsl weights`: networks to Keras and trained Keras weights back.

    cnndsl compile lenet5.cnn                  # lenet5.keras, Keras-like weights from seed 0
    cnndsl compile lenet5.cnn --emit python    # lenet5.py, a function that builds the model
    cnndsl compile lenet5.cnn -o - | ...       # the .keras model on standard output
    cnndsl compile lenet5.cnn -o lenet5.onnx   # ONNX, written without TensorFlow
    cnndsl weights trained.keras -o w.npz      # LAYER/VARIABLE arrays for `cnndsl run`

Everything that can be checked without TensorFlow (the destination, the weights file and
its fit to the network, a `.keras` file's container) is checked before Keras is imported,
so most mistakes are reported at once, and without TensorFlow installed; `--emit python`
never imports it. Problems with files are `FileError`s (`PATH: error: ...` and a hint),
as for `cnndsl run`; outputs are written atomically, so a failure leaves an existing file
as it was, and one for standard output is made whole before a byte of it is written.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from . import files, paths, signals
from .errors import CnnError, MissingExtra, as_text
from .files import ArchiveError, FileError, unreadable
from .ir import Graph
from .weights import Weights, WeightsError, check_weights, load_npz

SUFFIXES = {"keras": ".keras", "python": ".py", "onnx": ".onnx"}
INSTALL = "pip install 'cnndsl[keras]'"


STDOUT = "-"  # `-o -`: standard output


def command(graph: Graph, spec: str, output: str | None, emit: str | None = None,
            weights: str | None = None, seed: int | None = None,
            opset: int | None = None) -> tuple[Path | None, str]:
    """`cnndsl compile`: (the file written, None for standard output; a summary such as
    `61,706 params`). Without `emit`, the ending of `output` chooses: `.onnx` writes
    ONNX, anything else a `.keras` model."""
    emit = emit or ("onnx" if output is not None and output.lower().endswith(".onnx")
                    else "keras")
    if opset is not None and emit != "onnx":
        raise FileError("cnndsl compile", f"--opset applies to ONNX, not to --emit {emit}",
                        "write to a .onnx file (-o NET.onnx), or leave --opset out")
    if output == STDOUT:
        path = None
        check_stdout(emit)
    else:
        path = Path(output) if output is not None else default_output(spec, emit)
        check_output(path, spec, emit, weights)
    if emit == "python":
        if weights is not None or seed is not None:
            raise FileError("cnndsl compile", "--emit python writes code without weights: "
                           "--weights and --seed do not apply", "compile to .keras to carry "
                           "weights, or leave the option out")
        compile_python(graph, path, "" if spec == "-" else as_text(Path(spec).name))
        params = sum(sum(n.layer.params(n.in_shapes)) for n in graph.nodes)
        return path, f"Keras source, {params:,} params"
    if seed is not None and seed < 0:
        raise FileError("cnndsl compile", f"--seed must be 0 or more, got {seed}",
                       "any non-negative integer, e.g. --seed 0")
    if emit == "onnx":
        from .commands.compile_onnx import compile_onnx

        params, used = compile_onnx(graph, path, Path(weights) if weights is not None
                                    else None, seed or 0, opset)
        return path, f"ONNX opset {used}, {params:,} params"
    params = compile_keras(graph, path, Path(weights) if weights is not None else None,
                           seed or 0)
    return path, f"{params:,} params"


def default_output(spec: str, emit: str) -> Path:
    """`nets/lenet5.cnn` -> `nets/lenet5.keras` (or `.py`): beside the spec, same stem."""
    if spec == "-":
        raise FileError("cnndsl compile", "-o is needed when the spec is read from standard "
                       "input", f"e.g. -o model{SUFFIXES[emit]}, or -o - for standard output")
    return Path(spec).with_suffix(SUFFIXES[emit])


def check_output(output: Path, spec: str, emit: str, weights: str | None = None) -> None:
    """A writable `.keras`, `.py` or `.onnx` destination that is not the spec or the
    weights."""
    paths.check({"the spec": spec, "the weights file": weights}, {"-o": output},
                suffixes={"-o": (SUFFIXES[emit],)})


def check_stdout(emit: str) -> None:
    """`-o -` writes text anywhere, and a `.keras` or `.onnx` model (binary) only where it
    is not a terminal: a file or a pipe."""
    if emit != "python" and _is_terminal(sys.stdout):
        raise FileError("cnndsl compile", f"-o - would write the {SUFFIXES[emit]} model, "
                       "binary data, "
                       "to the terminal", "redirect standard output to a file or a pipe "
                       "(cnndsl compile NET.cnn -o - > model.keras), or write text with "
                       "--emit python")


def _is_terminal(stream) -> bool:
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError, OSError):  # no file behind it, or closed
        return False


def compile_keras(graph: Graph, output: Path | None, weights: Path | None = None,
                  seed: int = 0) -> int:
    """Write the network as a `.keras` model carrying `weights` (or seeded Keras-like
    initial weights) to `output`, or to standard output if None; returns its parameter
    count. A network whose weights cannot fit in memory while Keras builds and saves it
    is refused first (`check_memory`)."""
    check_memory(graph, weights)
    where = output if output is not None else "cnndsl compile"
    # a bad file is said before TensorFlow's import (seconds)
    values = None if weights is None else given_weights(graph, weights)
    with keras_backend(where, "building and saving the model") as backend:
        model = _build_keras(backend, graph, values, seed)
        signals.check()  # a signal Keras swallowed while building: no save
        with writing(output):
            backend.save_model(model, output)
    return int(model.count_params())


GivenWeights = Path | Mapping[str, np.ndarray] | None  # a file, or arrays from Python


def keras_model(graph: Graph, weights: GivenWeights = None, seed: int = 0):
    """The `keras.Model` `compile_keras` saves, built the same way (`Network.to_keras`):
    `weights` as a file (`--weights`), a mapping, or None for seeded initial weights."""
    check_memory(graph, weights)
    values = None if weights is None else given_weights(graph, weights)
    try:
        with keras_backend("cnndsl", "building the model") as backend:
            return _build_keras(backend, graph, values, seed)
    except FileError as e:
        if e.hint == INSTALL:  # no TensorFlow: from Python, an ImportError naming the extra
            raise MissingExtra(e.message, "keras") from None
        raise


def _build_keras(backend, graph: Graph, values: Weights | None, seed: int):
    """The one build of both: `values`, or seeded weights drawn while Keras builds."""
    if values is None:
        return backend.build_seeded(graph, seed)
    return backend.build_model(graph, values)


def given_weights(graph: Graph, weights: Path | Mapping[str, np.ndarray]) -> Weights:
    """Weights from a file (`--weights`: `.npz` or `.keras`) or a mapping, checked to fit
    the network: a `FileError` lists every missing, extra or mis-shaped variable."""
    if isinstance(weights, Mapping):
        values = {key: np.asarray(value) for key, value in weights.items()}
        fit(graph, values, "weights")
        return values
    values = read_weights(weights)
    fit(graph, values, weights)
    return values


# Memory a compile takes, measured (peak RSS, /usr/bin/time -v) with TensorFlow 2.21 and
# Keras 3.15: 0.53 GB once TensorFlow is imported, then per byte of weights (4 per
# weight) ResNet-50 2.5 bytes, VGG16 3.4, one 400M-weight dense layer 3.9 (its initial
# draw, the variable, the assignment and the copy h5py saves are held at once), VGG16
# with --weights from a .keras model 4.6 (that model's weights too).
TENSORFLOW_BYTES = 600 * 2**20
COPIES = 4
COPIES_FROM_KERAS = 5


def compile_memory(graph: Graph, weights: GivenWeights = None) -> int:
    """Bytes of memory `compile_keras` is expected to take at its peak."""
    params = sum(sum(n.layer.params(n.in_shapes)) for n in graph.nodes)
    return TENSORFLOW_BYTES + 4 * params * _copies(weights)


def _copies(weights: GivenWeights) -> int:
    """How many times the weights are held at once, by where they come from."""
    from_keras = isinstance(weights, Path) and weights.suffix.lower() == ".keras"
    return COPIES_FROM_KERAS if from_keras else COPIES


def check_memory(graph: Graph, weights: GivenWeights = None) -> None:
    """A located `CnnError` (at the layer with the most weights) if the compile would need
    more memory than the system has available now: TensorFlow would fail part way with
    an out-of-memory error, or the system would kill the process."""
    need, available = compile_memory(graph, weights), files.available_memory()
    if available is None or need <= available:
        return
    params = [sum(n.layer.params(n.in_shapes)) for n in graph.nodes]
    biggest = max(range(len(params)), key=params.__getitem__)
    fits = max(0, (available - TENSORFLOW_BYTES) // (4 * _copies(weights)))
    raise CnnError(f"compiling this network needs about {_gib(need)} of memory, more than "
                   f"the {_gib(available)} available ({sum(params):,} weights of 4 bytes, "
                   f"held about {_copies(weights)} times while Keras builds and saves the "
                   f"model); this layer has {params[biggest]:,} of them",
                   graph.nodes[biggest].span, f"a compile here can take about {fits:,} "
                   "weights (`cnndsl shapes` lists each layer's); free some memory or make "
                   "the network smaller")


def _gib(size: int) -> str:
    return f"{size / 2**30:,.1f} GiB"

def compile_python(graph: Graph, output: Path | None, source_name: str = "") -> None:
    """Write readable Keras source, a function `build_NAME()` that makes the model, to
    `output` or to standard output if None. Never imports Keras: the source is text."""
    from .backends.keras_source import python_source

    source = python_source(graph, source_name)
    if output is None:
        files.to_stdout(source.encode("utf-8"))
        return
    with writing(output), files.staged(output) as tmp:
        tmp.write_text(source, encoding="utf-8")


def export_weights(model: Path, output: Path) -> Weights:
    """Every weight of a `.keras` model, written to an `.npz` keyed LAYER/VARIABLE."""
    check_keras_file(model)  # first: `weights w.npz` is "not a .keras file"
    paths.check({"the model": model}, {"-o": output}, suffixes={"-o": (".npz",)})
    weights = keras_weights(model)
    with writing(output):
        files.write_npz(output, weights)
    return weights


# -- reading weights --------------------------------------------------------------------------
def read_weights(path: Path) -> Weights:
    """Weights from an `.npz` archive or a `.keras` model, by the file's ending."""
    if path.suffix.lower() == ".keras":
        return keras_weights(path)
    try:
        return load_npz(path)
    except WeightsError as e:
        raise FileError(path, str(e).removeprefix(f"{path}: "),
                       "weights are an .npz keyed LAYER/VARIABLE, or a .keras model") from None


def fit(graph: Graph, weights: Weights, path: str | Path) -> None:
    """`FileError` listing every missing, extra or mis-shaped variable."""
    try:
        check_weights(graph, weights)
    except WeightsError as e:
        raise FileError(path, str(e), "keys are LAYER/VARIABLE with Keras's shapes, e.g. "
                       "dense_1/kernel (in, units); `cnndsl shapes` lists the layers") from None


def load_keras_model(backend, path: Path):
    """The model in `path`, loaded by the Keras backend in safe mode, or a `FileError`
    with why Keras refused it, in one line (`cnndsl weights`, `run --weights`, `import`)."""
    from .keras_files import keras_reason, weights_mismatch

    try:
        with _own_temporary_directory():
            return backend.load_model(path)
    except CnnError:  # no TensorFlow: `keras_backend` says so
        raise
    except Exception as e:  # noqa: BLE001 - Keras raises many types for a bad file
        if backend.out_of_memory(e):
            raise
        hint = ("the weights it holds do not fit the layers its config.json describes: "
                "save the model again with model.save('model.keras')" if weights_mismatch(e)
                else "save it with model.save('model.keras'); models with Lambda layers or "
                "unregistered custom classes cannot be loaded safely")
        raise FileError(path, f"Keras cannot load the model: {keras_reason(e)}",
                        hint) from None


@contextlib.contextmanager
def _own_temporary_directory() -> Iterator[None]:
    """Python's temporary files in a directory of ours, removed whatever happens: Keras
    extracts an archive of more than three members into one of its own and leaves it
    behind when that fails (a member's name too long for the file system)."""
    with tempfile.TemporaryDirectory(prefix="cnndsl-keras-", ignore_cleanup_errors=True) \
            as scratch:
        previous, tempfile.tempdir = tempfile.tempdir, scratch
        try:
            yield
        finally:
            tempfile.tempdir = previous


def keras_weights(path: Path) -> Weights:
    """The weights of a `.keras` model, loaded in Keras's safe mode. What Keras warns
    about while loading it (an odd config) is said in one line on standard error
    (`keras_backend`)."""
    check_keras_file(path)
    with keras_backend(path, "loading the model") as backend:
        model = load_keras_model(backend, path)
        return backend.get_weights(model)


def check_keras_file(path: Path) -> None:
    """A Keras 3 `.keras` archive by its name and container, checked without Keras."""
    if path.suffix.lower() in (".h5", ".hdf5"):
        raise FileError(path, "legacy HDF5 models are not supported",
                       "load it in Keras and save it again with model.save('model.keras')")
    if path.suffix.lower() != ".keras":
        raise FileError(path, "not a .keras file", "give a Keras 3 model saved with "
                       "model.save('model.keras')")
    try:
        with files.open_regular(path) as file, zipfile.ZipFile(file) as archive:
            names = set(archive.namelist())
    except OSError as e:
        raise unreadable(path, e, "a .keras file") from None
    except Exception:  # noqa: BLE001 - BadZipFile, truncated, unsupported zip versions...
        names = set()
    if "config.json" not in names:
        raise FileError(path, "the file is not a Keras model (not a .keras archive, or a "
                       "truncated or corrupt one)", "save it with model.save('model.keras')")
    _check_declared(path)


def _check_declared(path: Path) -> None:
    """The sizes the archive declares, against the limits (`keras_files`) and against the
    memory available: Keras holds the weights about COPIES_FROM_KERAS times."""
    from .keras_files import check_declared

    try:
        weights = check_declared(path)
    except ArchiveError as e:
        raise FileError(path, str(e), "a model saved by Keras is not like this: save it again "
                        "with model.save('model.keras') (docs/reliability.md lists the "
                        "limits)") from None
    except OSError as e:
        raise unreadable(path, e, "a .keras file") from None
    need, available = TENSORFLOW_BYTES + COPIES_FROM_KERAS * weights, files.available_memory()
    if available is not None and need > available:
        raise FileError(path, f"loading the model needs about {_gib(need)} of memory, more "
                        f"than the {_gib(available)} available ({_gib(weights)} of weights, "
                        f"held about {COPIES_FROM_KERAS} times while Keras loads them)",
                        "close other programs, or load it on a machine with more memory")


# -- Keras and files ----------------------------------------------------------------------------
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
    from .backends import keras as backend
    from .keras_output import quiet_import, warnings_said

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


@contextlib.contextmanager
def writing(output: Path | None) -> Iterator[None]:
    """OS errors while writing `output` (None: a temporary file for standard output), said
    in terms of the file."""
    try:
        yield
    except BrokenPipeError:  # `-o -` and the reader went away: the CLI ends quietly
        raise
    except OSError as e:
        if output is None:
            raise FileError("cnndsl compile", "cannot write the model's temporary file: "
                           f"{e.strerror or e}", "check the free space of the temporary "
                           "directory (TMPDIR), or write to a file with -o") from None
        raise FileError(output, f"cannot write the file: {e.strerror or e}",
                       "check the free space and permissions of its directory") from None


def array_count(weights: Weights) -> tuple[int, int]:
    """(arrays, values) in a weights mapping, for the one-line summary."""
    return len(weights), sum(int(np.size(a)) for a in weights.values())

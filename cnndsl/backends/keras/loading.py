"""`.keras` files read: checked without Keras first, then loaded in Keras's safe mode.

The container and what it declares are checked before TensorFlow is imported (`files`
holds the limits), so a file that is not a Keras model, or one that would inflate past
memory, is refused at once; what Keras itself refuses is said in one line.
"""

from __future__ import annotations

import contextlib
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from ...errors import CnnError
from ...support import files
from ...support.files import ArchiveError, FileError, unreadable
from ..weights import Weights
from . import runtime
from .runtime import COPIES_FROM_KERAS, TENSORFLOW_BYTES, gib


def load_keras_model(backend, path: Path):
    """The model in `path`, loaded by the Keras backend in safe mode, or a `FileError`
    with why Keras refused it, in one line (`cnndsl weights`, `run --weights`, `import`)."""
    from .files import keras_reason, weights_mismatch

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
    with runtime.keras_backend(path, "loading the model") as backend:
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
    from .files import check_declared

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
        raise FileError(path, f"loading the model needs about {gib(need)} of memory, more "
                        f"than the {gib(available)} available ({gib(weights)} of weights, "
                        f"held about {COPIES_FROM_KERAS} times while Keras loads them)",
                        "close other programs, or load it on a machine with more memory")

"""The examples `cnndsl run` reads: a `.npy` read a batch at a time, or an `.npz`'s one array.

A `.npy` is never memory-mapped. A mapped file that another program truncates while it is
read ends the process with a bus error (SIGBUS) in the middle of a copy, which Python
cannot catch: no message, and the run's temporary output left behind. Each batch is read
with plain reads at its offset instead, so a file that shrinks is a short read, reported
with the sizes. Reading from the page cache into the batch costs the one copy the mapping
cost too.
"""

from __future__ import annotations

import os
import warnings
from math import prod
from pathlib import Path
from typing import BinaryIO, Protocol

import numpy as np

from ..errors import shown
from ..support.files import ArchiveError, FileError, check_expansion, open_regular, unreadable

NUMERIC_KINDS = "biuf"  # bool, signed, unsigned, floating point
KIND_NAMES = {"c": "complex numbers", "U": "strings", "S": "byte strings", "V": "records",
              "O": "Python objects", "M": "dates", "m": "time deltas"}
WANTED = "a .npy or .npz file"


class Examples(Protocol):
    """An input array whose rows (along the first axis) are read on demand."""

    shape: tuple[int, ...]
    dtype: np.dtype

    def read(self, start: int, stop: int, reuse: bool = False) -> np.ndarray:
        """Rows `start` to `stop` (cut at the end), C-contiguous; with `reuse`, in the
        memory of the previous call's result, which must no longer be needed."""
        ...

    def close(self) -> None:
        ...


class InMemory:
    """An array already read whole (an `.npz` member)."""

    def __init__(self, array: np.ndarray) -> None:
        self.array, self.shape, self.dtype = array, tuple(array.shape), array.dtype

    def read(self, start: int, stop: int, reuse: bool = False) -> np.ndarray:
        return self.array[start:stop]

    def close(self) -> None:
        self.array = np.empty(0)


class NpyFile:
    """A `.npy` on disk, read rows at a time with plain reads at their offset."""

    def __init__(self, path: Path, file: BinaryIO, shape: tuple[int, ...], dtype: np.dtype,
                 fortran: bool, offset: int) -> None:
        self.path, self.file, self.shape, self.dtype = path, file, shape, dtype
        self.fortran, self.offset = fortran, offset
        self.size = offset + prod(shape) * dtype.itemsize  # what the header promises
        self.row_bytes = prod(shape[1:]) * dtype.itemsize
        self._buffer = np.empty(0, np.uint8)
        self._last: tuple[np.ndarray, memoryview] | None = None

    def read(self, start: int, stop: int, reuse: bool = False) -> np.ndarray:
        count, rest = self.shape[0], self.shape[1:]
        rows = max(0, min(stop, count) - start)
        if not self.fortran:
            out, view = self._empty((rows, *rest), reuse)
            self._fill(view, self.offset + start * self.row_bytes)
            return out
        # Column-major: each of the prod(rest) columns holds all `count` rows in a run.
        columns = np.empty((prod(rest), rows), self.dtype)
        if rows == count:
            self._fill(_bytes(columns), self.offset)
        else:
            for c in range(len(columns)):
                self._fill(_bytes(columns[c]), self.offset
                           + (c * count + start) * self.dtype.itemsize)
        return np.ascontiguousarray(columns.reshape(*rest[::-1], rows).transpose())

    def _empty(self, shape: tuple[int, ...], reuse: bool) -> tuple[np.ndarray, memoryview]:
        """A new array and its bytes, or, with `reuse`, the previous batch's memory: a
        fresh batch each time costs its page faults again, and small batches the making
        of the array (at 32 rows of 1 KB, as long as the read itself)."""
        if not reuse:
            out = np.empty(shape, self.dtype)
            return out, _bytes(out)
        if self._last is None or self._last[0].shape != shape:
            size = prod(shape) * self.dtype.itemsize
            if len(self._buffer) < size:
                self._buffer = np.empty(size, np.uint8)
            self._last = (self._buffer[:size].view(self.dtype).reshape(shape),
                          _bytes(self._buffer[:size]))
        return self._last

    def _fill(self, view: memoryview, at: int) -> None:
        """Read `len(view)` bytes at offset `at` into `view`."""
        done = 0
        try:
            while done < len(view):
                got = _read_at(self.file, view[done:] if done else view, at + done)
                if not got:
                    raise self._truncated()
                done += got
        except OSError as e:
            raise unreadable(self.path, e, WANTED) from None

    def _truncated(self) -> FileError:
        now = os.fstat(self.file.fileno()).st_size
        return FileError(self.path, f"the file was truncated while being read (now {now:,} "
                         f"bytes, expected {self.size:,})", "another program shortened or "
                         "rewrote it during the run; run again once the file is complete")

    def close(self) -> None:
        self.file.close()


def _bytes(array: np.ndarray) -> memoryview:
    """The bytes of a C-contiguous array, to read into."""
    return memoryview(array.reshape(-1).view(np.uint8))  # type: ignore[arg-type]


def _read_at(file: BinaryIO, into: memoryview, at: int) -> int:
    """Bytes read into `into` from offset `at` (one system call where there is pread)."""
    if hasattr(os, "preadv"):
        return os.preadv(file.fileno(), [into], at)
    file.seek(at)
    return file.readinto(into) or 0  # type: ignore[attr-defined]


def read_input(path: Path) -> Examples:
    """The input: a `.npy` read on demand, or the one array of an `.npz`, checked to hold
    numbers. Close it when done."""
    x = _npy(path) if sniff(path) == "npy" else InMemory(_one(path))
    if x.dtype.kind not in NUMERIC_KINDS:
        x.close()
        what = KIND_NAMES.get(x.dtype.kind, "values that are not numbers")
        raise FileError(path, f"the input holds {what} (dtype {x.dtype}); the network takes "
                        "integers or floating-point numbers",
                        "save a numeric array, e.g. numpy.save(path, x.astype('float32'))")
    return x


def sniff(path: Path) -> str:
    """'npy' or 'npz' from the file's first bytes, not its name; `FileError` if neither.

    NumPy itself calls any unknown file "pickled data", which misleads for a text file."""
    try:
        with open_regular(path) as f:
            head = f.read(6)
    except OSError as e:
        raise unreadable(path, e, WANTED) from None
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(b"PK"):
        return "npz"
    if not head:
        raise FileError(path, "the file is empty", "save arrays with numpy.save or numpy.savez")
    if head.startswith(b"\x80"):
        raise _pickled(path)
    raise FileError(path, "not a .npy or .npz file", "save arrays with numpy.save or numpy.savez")


def _npy(path: Path) -> NpyFile:
    """A `.npy`'s header read and checked against the file's size; the data is left on
    disk."""
    try:
        file = open_regular(path)
    except OSError as e:
        raise unreadable(path, e, WANTED) from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a header numpy only warns about is corrupt too
            shape, fortran, dtype = _header(file, path)
        npy = NpyFile(path, file, shape, dtype, fortran, file.tell())
        if dtype.hasobject:
            raise _pickled(path)
        size = os.fstat(file.fileno()).st_size
        if size < npy.size:
            raise FileError(path, f"the file is truncated: it has {size:,} bytes, its header "
                            f"declares {npy.size:,}", "write it again with numpy.save")
        return npy
    except BaseException:
        file.close()
        raise


def _header(file: BinaryIO, path: Path) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran order, dtype) from a `.npy` header; `FileError` if it is corrupt."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(file)
        if version == (1, 0):
            header = fmt.read_array_header_1_0(file)
        elif version == (2, 0):
            header = fmt.read_array_header_2_0(file)
        else:  # 3.0 (a UTF-8 header) has no public reader.
            header = fmt._read_array_header(file, version)  # type: ignore[attr-defined]
        # NumPy's reader takes any tuple of ints; np.load would fail on (-1, 4) later.
        if any(d < 0 for d in header[0]):
            raise ValueError(f"a negative size in its shape {header[0]}")
        return header
    except (FileError, MemoryError):
        raise
    except OSError as e:
        raise unreadable(path, e, WANTED) from None
    except Exception as e:  # noqa: BLE001 - any failure to parse the header means corrupt
        raise _corrupt(path, e) from None


def _one(path: Path) -> np.ndarray:
    """The only array of an `.npz` archive (read whole: zip members cannot be read a
    batch at a time)."""
    try:
        with open_regular(path) as file:
            try:
                check_expansion(file)
            except ArchiveError as e:
                raise FileError(path, str(e), "save a large input as .npy: it is read from "
                                "disk a batch at a time") from None
            file.seek(0)
            return _member(path, file)
    except OSError as e:
        raise unreadable(path, e, WANTED) from None


def _member(path: Path, file: BinaryIO) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a header numpy only warns about is corrupt too
            with np.load(file, allow_pickle=False) as data:
                names = list(data.files)
                if len(names) != 1:
                    listed = ", ".join(shown(n, limit=60) for n in names[:10])
                    more = f", and {len(names) - 10:,} more" if len(names) > 10 else ""
                    held = f"{len(names):,} arrays ({listed}{more})" if names else "no arrays"
                    raise FileError(path, f"the archive holds {held}; the input must be "
                                    "exactly one", "save only the input: numpy.savez(path, x) "
                                    "or numpy.save('x.npy', x)")
                x = data[names[0]]
    except (FileError, OSError):
        raise
    except MemoryError:  # what it declares, not what is free: not "corrupt" either
        raise FileError(path, "the array is too large to read into memory (its header "
                        "declares more than can be allocated)", "save a large input as .npy: "
                        "it is read from disk a batch at a time") from None
    except ValueError as e:
        if "pickle" in str(e) or "object" in str(e).lower():
            raise _pickled(path) from None
        raise _corrupt(path, e) from None
    except Exception as e:  # noqa: BLE001 - any failure to parse the file means corrupt
        raise _corrupt(path, e) from None
    if not isinstance(x, np.ndarray):  # a zip member that is not a .npy comes back as bytes
        raise FileError(path, f"`{shown(names[0])}` in the archive is not a NumPy array",
                        "write the archive with numpy.savez")
    return x


def _pickled(path: Path) -> FileError:
    return FileError(path, "the file holds pickled Python objects, which are refused for "
                     "safety", "save a plain numeric array, e.g. numpy.save(path, "
                     "numpy.asarray(x, dtype='float32'))")


def _corrupt(path: Path, e: BaseException) -> FileError:
    return FileError(path, f"the file is truncated or corrupt ({shown(e)})",
                     "write it again with numpy.save or numpy.savez")

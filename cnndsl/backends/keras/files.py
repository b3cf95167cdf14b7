"""What a `.keras` file declares, checked before Keras reads a byte of it; and why Keras
refused one, said in one line.

    declared = check_declared(Path("model.keras"))   # bytes of weights, or ArchiveError

A `.keras` file is a zip of `config.json` (the layers), `metadata.json` and the weights
(`model.weights.h5`, or `model.weights.npz`). Keras reads `config.json` whole, parses it,
then reads every weight array the HDF5 file declares into memory before it compares its
shape with the layer's variable. So a few kilobytes can make it take gigabytes: a
config.json compressed a thousandfold, or an HDF5 dataset that declares a billion values
and stores none (its chunks never written, or compressed). Keras guards against these only
past 4 GiB. Here the sizes the file declares are read from the zip's directory and from
HDF5's metadata (h5py reads no data for that), and refused past these limits:

- config.json above `limits.MAX_KERAS_CONFIG_BYTES` (the config of the largest network
  cnndsl takes is far smaller);
- any zip member or HDF5 dataset that declares more than `limits.MAX_EXPANSION` times
  what it stores, once such members or datasets declare more than
  `limits.EXPANSION_FLOOR` in all (what Keras writes is stored as it is: ratio 1;
  deflate or gzip make real weights a little smaller, and only arrays of zeros come
  near a thousandfold);

and the weights' declared size is returned for the caller's memory check. What is not
a zip or an HDF5 file is left to Keras, whose error is then said by `keras_reason`.
"""

from __future__ import annotations

import contextlib
import io
import re
import struct
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from math import prod
from pathlib import Path
from typing import Any, BinaryIO

from ...errors import shown
from ...support.files import ArchiveError, open_regular
from ...support.limits import EXPANSION_FLOOR, MAX_EXPANSION, MAX_KERAS_CONFIG_BYTES

CONFIG, H5, NPZ = "config.json", "model.weights.h5", "model.weights.npz"


@dataclass(frozen=True)
class Declared:
    """What one zip member or HDF5 dataset declares and what it stores, in bytes."""

    name: str
    declared: int
    stored: int

    @property
    def expands(self) -> bool:
        return self.declared > MAX_EXPANSION * max(self.stored, 1)


def check_declared(path: str | Path) -> int:
    """Bytes of weights the `.keras` file at `path` declares; `ArchiveError` if it
    declares more than the limits allow (see the module's docstring). `OSError` if it
    cannot be read."""
    with open_regular(path) as file:
        try:
            archive = zipfile.ZipFile(file)
        except (zipfile.BadZipFile, ValueError, NotImplementedError, EOFError):
            return 0  # not a zip: check_keras_file or Keras says so
        with archive:
            members = {info.filename: info for info in archive.infolist()}
            config = members.get(CONFIG)
            if config is not None and config.file_size > MAX_KERAS_CONFIG_BYTES:
                raise ArchiveError(f"its {CONFIG} declares {_size(config.file_size)}, over "
                                   f"the limit of {_size(MAX_KERAS_CONFIG_BYTES)} for a "
                                   "model's description")
            _refuse_expansion([Declared(i.filename, i.file_size, i.compress_size)
                               for i in members.values()], "archive member")
            if H5 in members:
                return max(members[H5].file_size, _h5_declared(file, archive, members[H5]))
            if NPZ in members:
                return _npz_declared(file, archive, members[NPZ])
            return 0


def _refuse_expansion(items: list[Declared], what: str) -> None:
    """`ArchiveError` if the items that store far less than they declare declare more
    than the floor in all (a bomb cannot hide among genuine arrays, nor split itself
    into many small ones)."""
    swollen = [i for i in items if i.expands]
    total = sum(i.declared for i in swollen)
    if total <= EXPANSION_FLOOR:
        return
    worst = max(swollen, key=lambda i: i.declared)
    more = f" (and {len(swollen) - 1} more like it)" if len(swollen) > 1 else ""
    raise ArchiveError(f"{what} `{shown(worst.name)}` declares {_size(worst.declared)} "
                       f"but stores {_size(worst.stored)}{more}: a file that would expand "
                       f"over {MAX_EXPANSION}-fold is refused")


def _h5_declared(file: BinaryIO, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> int:
    """The bytes the HDF5 weights' datasets declare, each read from its metadata (0 if
    h5py is missing: Keras cannot load anything then). A file whose metadata h5py cannot
    walk is refused: Keras reads it with the same library, and what could not be
    measured could be anything."""
    try:
        import h5py
    except ImportError:  # comes with Keras: without it, Keras cannot load anything
        return 0
    datasets: list[Declared] = []

    def visit(name: str, item) -> None:
        if isinstance(item, h5py.Dataset):
            declared = prod(item.shape or ()) * item.dtype.itemsize
            datasets.append(Declared(name, declared, item.id.get_storage_size()))

    with _member(file, archive, info) as member:
        try:
            with h5py.File(member, "r") as h5:
                h5.visititems(visit)
        except Exception as e:  # noqa: BLE001 - h5py raises many types for a broken file
            raise ArchiveError(f"its weights ({H5}) cannot be read as HDF5: "
                               f"{shown(str(e) or type(e).__name__)}") from None
    _refuse_expansion(datasets, "weights dataset")
    return sum(d.declared for d in datasets)


def _npz_declared(file: BinaryIO, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> int:
    """The bytes the arrays of weights saved as an `.npz` inside the archive declare (a
    zip in the zip: its members are checked as the archive's are)."""
    with _member(file, archive, info) as member:
        try:
            with zipfile.ZipFile(member) as inner:
                items = [Declared(i.filename, i.file_size, i.compress_size)
                         for i in inner.infolist()]
        except (zipfile.BadZipFile, ValueError, EOFError, NotImplementedError):
            return info.file_size  # not a zip: Keras says so
    _refuse_expansion(items, "weights array")
    return sum(i.declared for i in items)


@contextlib.contextmanager
def _member(file: BinaryIO, archive: zipfile.ZipFile, info: zipfile.ZipInfo
            ) -> Iterator[Any]:  # a binary file: `_Window` or a temporary file
    """A zip member as a seekable file for h5py. A stored member (what Keras writes) is
    a window on the archive: HDF5 seeks back and forth, which zipfile answers by
    decompressing from the start each time. A compressed one is copied to a temporary
    file first (its size is bounded by `_refuse_expansion`)."""
    if info.compress_type == zipfile.ZIP_STORED:
        file.seek(info.header_offset)
        header = file.read(30)
        if len(header) == 30 and header[:4] == b"PK\x03\x04":
            name_length, extra_length = struct.unpack("<HH", header[26:30])
            start = info.header_offset + 30 + name_length + extra_length
            yield _Window(file, start, info.file_size)
            return
    with tempfile.TemporaryFile() as copy:
        with archive.open(info) as source:
            while chunk := source.read(2**20):
                copy.write(chunk)
        copy.seek(0)
        yield copy


class _Window(io.RawIOBase):
    """Bytes `start` to `start + size` of an open file, as a read-only seekable file."""

    def __init__(self, file: BinaryIO, start: int, size: int) -> None:
        super().__init__()
        self._file, self._start, self._size, self._at = file, start, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._at

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._at, io.SEEK_END: self._size}[whence]
        self._at = max(0, base + offset)
        return self._at

    def readinto(self, buffer) -> int:
        wanted = min(len(buffer), max(0, self._size - self._at))
        if wanted == 0:
            return 0
        self._file.seek(self._start + self._at)
        data = self._file.read(wanted)
        buffer[:len(data)] = data
        self._at += len(data)
        return len(data)


def _size(n: int) -> str:
    if n >= 2**30:
        return f"{n / 2**30:,.1f} GiB"
    return f"{n / 2**20:,.1f} MiB" if n >= 2**20 else f"{n:,} bytes"


# -- Keras's words ----------------------------------------------------------------------------

# Keras's loader gathers what went wrong per layer into one message whose first line
# ends at "Example error message for object <Dense ...>:", the reason after a blank line.
_FAILURES = re.compile(r"A total of (\d+) objects could not be loaded\. Example error "
                       r"message for object (.*?):\s*\n\s*\n(.*?)(?:\n\s*\nList of objects|$)",
                       re.S)
_VALUES = re.compile(r", value=[^>]*")  # a variable's printed values: megabytes of numbers
_LAYER = re.compile(r"<(\w+) name=([^,>]*)[^>]*>")  # <Dense name=d, built=True>
REASON_LIMIT = 400
# A layer's call that failed while a model is built: the reason is the next paragraph,
# in bold (ANSI escapes, dropped).
_CALL = re.compile(r"Exception encountered when calling (\w+)\.call\(\)\.\s*\n\s*\n(.*?)"
                   r"(?:\n\s*\n|$)", re.S)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def keras_reason(error: BaseException) -> str:
    """One line that says why Keras refused a file: the first line of its message, the
    lines after it where that line ends in a colon, a variable's printed values left out.

    >>> keras_reason(ValueError("A total of 1 objects could not be loaded. Example error "
    ...     "message for object <Dense name=d>:\\n\\nshape (4, 5) != (4, 3). Target: "
    ...     "<Variable path=d/kernel, value=[[1 2]\\n [3 4]]>\\n\\nList of objects ...: [x]"))
    'layer `d` (Dense): shape (4, 5) != (4, 3). Target: <Variable path=d/kernel>'
    >>> keras_reason(ValueError("Exception encountered when calling Conv2D.call().\\n\\n"
    ...     "\\x1b[1mComputed output size would be zero or negative.\\x1b[0m\\n\\nArguments"))
    'Conv2D: Computed output size would be zero or negative.'
    """
    text = _ANSI.sub("", str(error)).strip()
    found, call = _FAILURES.match(text), _CALL.match(text)
    if call:
        line = f"{call[1]}: {call[2]}"
    elif found:
        count, where, why = found.groups()
        more = f" (and {int(count) - 1} more objects)" if int(count) > 1 else ""
        where = _LAYER.sub(lambda m: f"layer `{m[2]}` ({m[1]})", where)
        line = f"{where}: {_VALUES.sub('', why)}{more}"
    else:
        lines = [x.strip() for x in text.splitlines() if x.strip()] or [type(error).__name__]
        line = lines[0]
        for x in lines[1:]:
            if not line.endswith(":"):
                break
            line += " " + x
    return shown(" ".join(line.split()), limit=REASON_LIMIT)


def weights_mismatch(error: BaseException) -> bool:
    """Whether Keras refused the file because its weights do not fit its layers."""
    return bool(_FAILURES.match(str(error).strip()))

"""Training data as arrays, opened and checked without TensorFlow.

An `.npz` holds `x` (examples) and `y` (labels). `np.load(..., mmap_mode="r")` ignores
the memory map for an `.npz` (it reads a member whole when asked for it), so a member
stored uncompressed, as `np.savez` writes it, is mapped here at its offset in the
archive: the examples are read from disk a batch at a time, however large the file.
A compressed member (`np.savez_compressed`) cannot be mapped; it is read into memory
when it fits, and refused with a hint otherwise.
"""

from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import shown
from ..support.files import FileError, available_memory, open_regular, unreadable

SAVE_HINT = "save it with np.savez(PATH, x=examples, y=labels)"
_LOCAL_HEADER = struct.Struct("<4s5H3I2H")  # a zip member's local header, before its name


@dataclass(frozen=True)
class Arrays:
    """Examples and labels of one data set; `rows` picks the examples used (a split)."""

    path: Path
    x: np.ndarray
    y: np.ndarray
    rows: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)

    def subset(self, rows: np.ndarray) -> Arrays:
        return Arrays(self.path, self.x, self.y, rows)


def open_npz(path: Path) -> Arrays:
    """`x` and `y` of an `.npz`, memory-mapped where stored uncompressed."""
    try:
        with open_regular(path) as file, zipfile.ZipFile(file) as archive:
            members = {info.filename: info for info in archive.infolist()}
            x, y = (_member(path, file, archive, members, key) for key in ("x", "y"))
    except OSError as e:
        raise unreadable(path, e, "an .npz with arrays x and y") from None
    except zipfile.BadZipFile:
        raise FileError(path, "not an .npz archive", SAVE_HINT) from None
    for key, array in (("x", x), ("y", y)):
        if array.ndim == 0:
            raise FileError(path, f"`{key}` is a single value, not one per example",
                            f"{key} holds {'examples' if key == 'x' else 'labels'} along "
                            f"its first axis; {SAVE_HINT}")
    if len(x) != len(y):
        raise FileError(path, f"x has {len(x):,} examples but y has {len(y):,} labels",
                        "x and y need one label per example, in the same order")
    if len(x) == 0:
        raise FileError(path, "the data holds no examples", SAVE_HINT)
    return Arrays(path, x, y, np.arange(len(x)))


def _member(path: Path, file, archive: zipfile.ZipFile, members: dict, key: str) -> np.ndarray:
    info = members.get(f"{key}.npy")
    if info is None:
        held = ", ".join(shown(n.removesuffix(".npy")) for n in members) or "nothing"
        raise FileError(path, f"the .npz holds no array `{key}` (it holds {held})", SAVE_HINT)
    if info.compress_type != zipfile.ZIP_STORED:
        return _read_compressed(path, archive, info, key)
    file.seek(info.header_offset)
    header = _LOCAL_HEADER.unpack(file.read(_LOCAL_HEADER.size))
    file.seek(info.header_offset + _LOCAL_HEADER.size + header[-2] + header[-1])
    shape, fortran, dtype = _npy_header(path, file, key)
    return np.memmap(path, dtype=dtype, mode="r", offset=file.tell(), shape=shape,
                     order="F" if fortran else "C")


def _npy_header(path: Path, file, key: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    fmt = np.lib.format
    try:
        major, _ = fmt.read_magic(file)
        read = fmt.read_array_header_1_0 if major == 1 else fmt.read_array_header_2_0
        shape, fortran, dtype = read(file)
    except ValueError as e:
        raise FileError(path, f"`{key}` is not a NumPy array: {shown(e)}", SAVE_HINT) from None
    if dtype.hasobject:
        raise FileError(path, f"`{key}` holds Python objects, which are never unpickled",
                        "store numbers: x as float32 or uint8, y as integers or one-hot")
    return shape, fortran, dtype


def _read_compressed(path: Path, archive: zipfile.ZipFile, info, key: str) -> np.ndarray:
    available = available_memory()
    if available is not None and info.file_size > available // 2:
        raise FileError(path, f"`{key}` is compressed ({info.file_size / 2**30:,.1f} GiB "
                        "unpacked) and too large to read into memory",
                        "save it uncompressed with np.savez (not savez_compressed): then "
                        "it is read from disk a batch at a time")
    with archive.open(info) as member:
        try:
            return np.lib.format.read_array(member, allow_pickle=False)
        except ValueError as e:
            raise FileError(path, f"`{key}` cannot be read: {shown(e)}", SAVE_HINT) from None


def split(data: Arrays, fraction: float, seed: int) -> tuple[Arrays, Arrays]:
    """(training, validation): a seeded random `fraction` of the examples held out."""
    check_fraction(fraction)
    order = np.random.default_rng(seed).permutation(data.rows)
    held = int(round(len(order) * fraction))
    check_sides(data.path, fraction, len(order), held, "examples")
    return data.subset(np.sort(order[held:])), data.subset(np.sort(order[:held]))


def check_fraction(fraction: float) -> None:
    """`--val-split` is a fraction strictly between 0 and 1."""
    if not 0 < fraction < 1:
        raise FileError("--val-split", f"must be between 0 and 1, got {fraction:g}",
                        "e.g. --val-split 0.2 holds out a fifth of the examples")


def check_sides(where: str | Path, fraction: float, total: int, held: int,
                what: str) -> None:
    """Holding out `held` of `total` leaves something on both sides."""
    if held == 0 or held == total:
        raise FileError(where, f"--val-split {fraction:g} of {total:,} {what} leaves one "
                        "side empty", "use a fraction that keeps some on both sides"
                        + (", or --val DATA" if what == "examples" else ""))


def rows_of(data: Arrays, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The examples (float32) and labels at `rows`, read from disk if mapped."""
    rows = np.asarray(rows)
    return np.asarray(data.x[rows], np.float32), np.asarray(data.y[rows])

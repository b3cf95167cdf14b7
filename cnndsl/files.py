"""Writing files so that nothing is ever half-written, and `.npz` archives without pickle.

Every output of cnndsl (weights, run results, feature maps, Keras models) goes through
`staged`: the data is written to a hidden temporary file in the destination's directory,
flushed to disk, and renamed over the destination only when complete. A crash, a full
disk or an interrupt leaves the old file exactly as it was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from . import signals


@contextlib.contextmanager
def staged(path: str | Path, suffix: str = ".tmp") -> Iterator[Path]:
    """A hidden temporary file beside `path` (`.NAME.XXXX.tmp`), renamed over `path` only
    if the block succeeds; removed on any failure or interrupt. OSErrors propagate.

    `suffix` is for writers that insist on a file ending (Keras wants `.keras`)."""
    path = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        _sync(tmp)
        with signals.publishing(path):  # refused after a signal; never cut short
            os.replace(tmp, path)
            _sync_directory(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def _sync(path: Path) -> None:
    """Data on disk before the rename, and the usual permissions (mkstemp makes 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable (where the platform allows opening a directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_npz(path: str | Path, arrays: Mapping[str, np.ndarray]) -> None:
    """An `.npz` as `numpy.savez` lays it out, member by member, written atomically.

    Keys are free: `numpy.savez(**arrays)` would clash with a key named `file`."""
    with staged(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED,
                                              allowZip64=True) as archive:
        for key, array in arrays.items():
            with archive.open(f"{key}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asarray(array), allow_pickle=False)


class FileError(Exception):
    """A problem with a file or option given to a command (not with the spec's text),
    rendered `PATH: error: message` and a hint."""

    def __init__(self, where: str | Path, message: str, hint: str) -> None:
        super().__init__(message)
        self.where, self.message, self.hint = str(where), message, hint

    def render(self) -> str:
        return f"{self.where}: error: {self.message}\nhint: {self.hint}"


def unreadable(path: str | Path, error: OSError, wanted: str) -> FileError:
    """The error for a file that cannot be opened; `wanted` names what was expected
    ("a .keras file")."""
    if isinstance(error, FileNotFoundError):
        return FileError(path, "no such file", "check the path")
    if isinstance(error, IsADirectoryError):
        return FileError(path, "is a directory, not a file", f"give {wanted}")
    return FileError(path, f"cannot read the file: {error.strerror or error}",
                     "check the file's permissions")


class ArchiveError(ValueError):
    """A file that is not an `.npz` of plain arrays; the message says what it is."""


def available_memory() -> int | None:
    """Bytes of memory the system can give now without swapping (Linux's MemAvailable,
    else the free pages), or None where neither can be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def check_expansion(path: str | Path) -> None:
    """Refuse an `.npz` whose members would not fit in memory once decompressed.

    Zip members are read whole, and a few kilobytes of compressed zeros can declare
    gigabytes: the sizes the archive declares are summed before anything is read (a
    member cannot give more than it declares). Anything that is not a readable zip is
    left for the reader to report."""
    try:
        with zipfile.ZipFile(path) as archive:
            declared = sum(member.file_size for member in archive.infolist())
    except (OSError, zipfile.BadZipFile, ValueError, NotImplementedError, EOFError):
        return
    limit = available_memory()
    if limit is not None and declared > limit:
        raise ArchiveError(f"its arrays would take {declared / 2**30:.1f} GiB once "
                           f"decompressed, more than the {limit / 2**30:.1f} GiB of memory "
                           "available")


def read_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of an `.npz`, refusing pickled objects, anything not an array, and
    archives that would not fit in memory."""
    check_expansion(path)
    try:
        data = np.load(path, allow_pickle=False)
    except ValueError as e:
        if "pickle" in str(e).lower():
            raise ArchiveError("it is not an .npz archive of arrays (numpy reads it as "
                               "pickled data, which is refused for safety)") from None
        raise ArchiveError(f"it is not a valid .npz file ({e})") from None
    except OSError:
        raise
    except Exception as e:  # noqa: BLE001 - any other failure to parse: a corrupt file
        raise ArchiveError(f"it is not a valid .npz file ({type(e).__name__}: {e})") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ArchiveError("it is a single .npy array, not an .npz archive")
    with data:
        out = {}
        for key in data.files:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error")
                    value = data[key]
            except ValueError as e:
                if "pickle" in str(e).lower():
                    raise ArchiveError(f"member `{key}` holds pickled Python objects, which "
                                       "are refused for safety") from None
                raise ArchiveError(f"member `{key}` is not a valid array ({e})") from None
            except Exception as e:  # noqa: BLE001 - encrypted, truncated, huge, garbled...
                raise ArchiveError(f"member `{key}` cannot be read ({type(e).__name__}: "
                                   f"{e})") from None
            if not isinstance(value, np.ndarray):
                raise ArchiveError(f"member `{key}` is not a .npy array")
            out[key] = value
        return out

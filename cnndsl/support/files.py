"""Writing files so that nothing is ever half-written, and `.npz` archives without pickle.

Every output of cnndsl (weights, run results, feature maps, Keras models) goes through
`staged`: the data is written to a hidden temporary file in the destination's directory,
flushed to disk, and renamed over the destination only when complete. A crash, a full
disk or an interrupt leaves the old file exactly as it was. An output sent to standard
output (`-o -`) is likewise made whole in a temporary file first (`staged_stdout`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
import tempfile
import warnings
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from ..errors import safe_message, shown
from . import signals

if TYPE_CHECKING:  # NumPy is imported where arrays are read or written: `check` needs none
    import numpy as np


@contextlib.contextmanager
def staged(path: str | Path, suffix: str = ".tmp", mode: int | None = None) -> Iterator[Path]:
    """A hidden temporary file beside `path` (`.NAME.XXXX.tmp`), renamed over `path` only
    if the block succeeds; removed on any failure or interrupt. OSErrors propagate.

    `suffix` is for writers that insist on a file ending (Keras wants `.keras`); `mode`
    gives the file its permissions (a file rewritten keeps its own), else the umask's. A
    symbolic link is written through: its target is replaced and the link stays a link."""
    path = Path(os.path.realpath(path))
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        _sync(tmp, mode)
        with signals.publishing(path):  # refused after a signal; never cut short
            os.replace(tmp, path)
            _sync_directory(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def staged_stdout(suffix: str = ".tmp") -> Iterator[Path]:
    """`staged` for `-o -`: a temporary file in the system's temporary directory whose
    bytes are copied to standard output only if the block succeeds. A failure or an
    interrupt before then writes nothing; an interrupt while copying (a reader that
    stopped reading) may leave the reader a truncated file, which no rename can prevent."""
    with tempfile.TemporaryDirectory(prefix="cnndsl-") as directory:
        tmp = Path(directory) / f"output{suffix}"
        yield tmp
        signals.check()
        with open(tmp, "rb") as data:
            to_stdout(data)


class StdoutError(Exception):
    """Standard output could not be written (a full disk, `> /dev/full`, a closed fd)."""


def to_stdout(data: bytes | BinaryIO) -> None:
    """`data` (bytes, or a binary file copied a megabyte at a time) written to standard
    output as they are, and flushed. `StdoutError` if it cannot be written; a reader that
    went away (`BrokenPipeError`) propagates, for the caller to end quietly."""
    stream = sys.stdout
    if stream is None:  # started with standard output closed
        raise StdoutError("standard output is closed")
    chunks = [data] if isinstance(data, bytes) else iter(lambda: data.read(2**20), b"")
    try:
        stream.flush()  # what was printed before comes first
        binary = getattr(stream, "buffer", None)
        for chunk in chunks:
            if binary is not None:
                binary.write(chunk)
            else:  # a text-only stream (a test's StringIO): text can still go through
                stream.write(chunk.decode("utf-8"))
        (binary or stream).flush()
    except BrokenPipeError:
        raise
    except UnicodeDecodeError:
        raise StdoutError("standard output takes text only, and this is binary") from None
    except (OSError, ValueError) as e:  # ValueError: the stream was closed
        raise StdoutError(getattr(e, "strerror", None) or str(e)) from None


def _sync(path: Path, mode: int | None = None) -> None:
    """Data on disk before the rename, and `mode` or the usual permissions (mkstemp makes
    0600)."""
    if mode is None:
        mask = os.umask(0)
        os.umask(mask)
        mode = 0o666 & ~mask
    os.chmod(path, mode)
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
    import numpy as np

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
        """Paths are `shown` (control characters escaped, length capped); the message and
        hint quote user strings through `shown` where they are made."""
        return (f"{shown(self.where)}: error: {safe_message(self.message)}\n"
                f"hint: {safe_message(self.hint)}")


def unreadable(path: str | Path, error: OSError, wanted: str) -> FileError:
    """The error for a file that cannot be opened or read; `wanted` names what was
    expected ("a .keras file")."""
    if isinstance(error, FileNotFoundError):
        return FileError(path, "no such file", "check the path")
    if isinstance(error, IsADirectoryError):
        return FileError(path, "is a directory, not a file", f"give {wanted}")
    if isinstance(error, NotRegularFile):
        return FileError(path, f"is {error.kind}, not a regular file", f"give {wanted}")
    if error.errno == errno.ENOMEM:
        return FileError(path, "not enough memory to read the file", "close other programs "
                         "to free some memory")  # no option of every command would help
    if isinstance(error, PermissionError):
        return FileError(path, f"cannot read the file: {error.strerror or error}",
                         "check the file's permissions")
    return FileError(path, f"cannot read the file: {shown(error.strerror or error)}",
                     "check that the file and its disk are still there and readable")


class NotRegularFile(OSError):
    """A path that names a FIFO, a device or a socket, which cnndsl does not read."""

    KINDS = {stat.S_IFIFO: "a named pipe (FIFO)", stat.S_IFCHR: "a device",
             stat.S_IFBLK: "a device", stat.S_IFSOCK: "a socket"}

    def __init__(self, mode: int) -> None:
        self.kind = self.KINDS.get(stat.S_IFMT(mode), "not a file")
        super().__init__(f"it is {self.kind}, not a regular file")


def open_regular(path: str | Path):
    """`path` opened for reading (binary, unbuffered), if it is a regular file; else an
    `OSError` (`IsADirectoryError`, `NotRegularFile`, or the one `open` raised).

    Opening a FIFO for reading waits for a writer, forever if none comes: the file is
    opened without waiting (O_NONBLOCK) and its type checked before anything is read."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
        if not stat.S_ISREG(mode):
            raise NotRegularFile(mode)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb", buffering=0)
    except BaseException:
        os.close(fd)
        raise


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


def check_expansion(file: str | Path | BinaryIO) -> None:
    """Refuse an `.npz` whose members would not fit in memory once decompressed.

    Zip members are read whole, and a few kilobytes of compressed zeros can declare
    gigabytes: the sizes the archive declares are summed before anything is read (a
    member cannot give more than it declares). Anything that is not a readable zip is
    left for the reader to report. `file` is a path or an open binary file."""
    try:
        with zipfile.ZipFile(file) as archive:
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
    archives that would not fit in memory. A file that cannot be read, or is not a
    regular file, is an `OSError`."""
    with open_regular(path) as file:
        if file.read(6) == b"\x93NUMPY":  # np.load would read the whole array first
            raise ArchiveError("it is a single .npy array, not an .npz archive")
        file.seek(0)
        check_expansion(file)
        file.seek(0)
        return _arrays(file)


def _arrays(file: BinaryIO) -> dict[str, np.ndarray]:
    import numpy as np

    try:
        data = np.load(file, allow_pickle=False)
    except ValueError as e:
        if "pickle" in str(e).lower():
            raise ArchiveError("it is not an .npz archive of arrays (numpy reads it as "
                               "pickled data, which is refused for safety)") from None
        raise ArchiveError(f"it is not a valid .npz file ({shown(e)})") from None
    except (OSError, MemoryError):
        raise
    except Exception as e:  # noqa: BLE001 - any other failure to parse: a corrupt file
        raise ArchiveError(f"it is not a valid .npz file ({type(e).__name__}: "
                           f"{shown(e)})") from None
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
                    raise ArchiveError(f"member `{shown(key)}` holds pickled Python objects, "
                                       "which are refused for safety") from None
                raise ArchiveError(f"member `{shown(key)}` is not a valid array "
                                   f"({shown(e)})") from None
            except MemoryError:  # what it declares, not what is free: not "corrupt" either
                raise ArchiveError(f"member `{shown(key)}` is too large to read into memory "
                                   "(its header declares more than can be allocated)") from None
            except Exception as e:  # noqa: BLE001 - encrypted, truncated, garbled...
                raise ArchiveError(f"member `{shown(key)}` cannot be read "
                                   f"({type(e).__name__}: {shown(e)})") from None
            if not isinstance(value, np.ndarray):
                raise ArchiveError(f"member `{shown(key)}` is not a .npy array")
            out[key] = value
        return out


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

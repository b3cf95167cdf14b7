"""The files a command reads and writes, checked against each other before it starts.

Every command declares its inputs, by what they are (`"the spec"`, `"the data"`), and its
outputs, by option (`"-o"`, `"--history"`), with their paths once defaults are filled in;
`check` then refuses, before anything is written and before any input but the spec (or
the model's list of members) is read (`PATH: error: ...`, exit 1):

- an output that is an input, by any path to it (`./x.npy`, `sub/../x.npy`, a symbolic or
  a hard link): it would be overwritten, or truncated while it is read (a memory-mapped
  `.npz` truncated under training ended in SIGBUS);
- two outputs that are one file: one would silently replace the other;
- an output inside an input directory (an image folder): it would become part of the data;
- an output directory (`--checkpoint-dir`) that is, or holds, an input or another output:
  it is the command's own, and `--resume` reads whatever checkpoint is last in it;
- an output that exists and is not a regular file: outputs are written beside and renamed
  over (`files.staged`), which would replace a directory's name or a device such as
  `/dev/null` itself (as root, the rename succeeds);
- an output whose directory does not exist or cannot be written, an output directory
  that is a file or a device or that cannot be made.

Two paths are one file when they have the same device and inode (so through links of any
kind), else when their paths agree once links are resolved (`same_file`). None and `-`
(standard input or output) are left out.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path

from ..errors import shown
from .files import FileError, NotRegularFile

Pathish = str | Path
STDIO = "-"


def check(inputs: Mapping[str, Pathish | None], outputs: Mapping[str, Pathish | None],
          suffixes: Mapping[str, tuple[str, ...]] | None = None,
          directories: Mapping[str, Pathish | None] | None = None) -> None:
    """`FileError` for the first problem among a command's files (see the module's doc).

    `inputs` maps what each input is to its path (`{"the spec": "net.cnn"}`), `outputs`
    each output option to its path (`{"-o": "y.npy", "--layers": None}`), `suffixes` an
    output option to the endings it takes, `directories` each option that names a
    directory the command writes in (`{"--checkpoint-dir": "run/"}`)."""
    ins, outs, dirs = _given(inputs), _given(outputs), _given(directories or {})
    endings = suffixes or {}
    seen: dict[str, Pathish] = {}
    for option, path in outs.items():  # first: the loss of data, whatever else is wrong
        instead = f"e.g. {option} {shown(sibling(Path(path), endings.get(option)))}"
        overwritten = _apart_from_inputs(path, ins)
        if overwritten is not None:
            raise FileError(path, f"the output would overwrite {overwritten}",
                            f"write to another file, {instead}")
        for other, earlier in seen.items():
            if same_file(path, earlier):
                raise FileError(path, f"{option} and {other} name the same file: one "
                                "output would replace the other", f"give each output its "
                                f"own file, {instead}")
        seen[option] = path
    for option, directory in dirs.items():
        _directory_apart(directory, option, ins, outs)
    for option, path in outs.items():
        if option in endings:
            _suffix(Path(path), endings[option], option)
        writable_file(Path(path), endings.get(option, ()))
    for option, directory in dirs.items():
        _makeable(Path(directory), option)


def _given(named: Mapping[str, Pathish | None]) -> dict[str, Pathish]:
    """The paths given, without None and `-` (standard input or output)."""
    return {key: path for key, path in named.items()
            if path is not None and str(path) != STDIO}


def same_file(a: Pathish, b: Pathish) -> bool:
    """Whether `a` and `b` name one file: the same inode when both exist (through symbolic
    and hard links), else the same path once links are resolved."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return os.path.realpath(a) == os.path.realpath(b)


def inside(path: Pathish, directory: Pathish) -> bool:
    """Whether `path` is somewhere below `directory` (links resolved; `directory` matched
    by inode where it exists, so another path to it counts too)."""
    return any(same_file(parent, directory)
               for parent in Path(os.path.realpath(path)).parents)


def sibling(path: Path, suffixes: tuple[str, ...] | None = None) -> Path:
    """`x.npy` -> `x.out.npy` (or `x.out.csv` for an option whose files end in `.csv`): a
    suggestion for an output that is not the input."""
    return path.with_name(f"{path.stem}.out{suffixes[0] if suffixes else path.suffix}")


def _apart_from_inputs(path: Pathish, inputs: Mapping[str, Pathish]) -> str | None:
    """What `path` would overwrite among `inputs` (`the spec itself`, `the data (d.npz)`);
    `FileError` for an output inside an input directory."""
    for what, source in inputs.items():
        if same_file(path, source):
            return f"{what} itself" if str(source) == str(path) else f"{what} ({shown(source)})"
        if os.path.isdir(source) and inside(path, source):
            raise FileError(path, f"the output would be written inside {what}, the "
                            f"directory {shown(source)}", "write it outside that directory: "
                            "an input is never added to")
    return None


def _directory_apart(directory: Pathish, option: str, inputs: Mapping[str, Pathish],
                     outputs: Mapping[str, Pathish]) -> None:
    """An output directory is the command's own: it is not, and does not hold, any
    other file of the command, nor is it inside an input directory."""
    hint = (f"give {option} a directory of its own, holding no input or other output "
            "of the command")
    named = {**inputs, **{f"the output of {o}": p for o, p in outputs.items()}}
    for what, path in named.items():
        if same_file(path, directory):
            raise FileError(directory, f"{option} is {what}", hint)
        if inside(path, directory):
            raise FileError(directory, f"{option} would hold {what} ({shown(path)})", hint)
    for what, source in inputs.items():
        if os.path.isdir(source) and inside(directory, source):
            raise FileError(directory, f"{option} is inside {what}, the directory "
                            f"{shown(source)}", "give it a directory outside the input: "
                            "an input is never added to")


# -- one output, by itself -------------------------------------------------------------------
def _suffix(path: Path, suffixes: tuple[str, ...], option: str) -> None:
    if path.suffix.lower() not in suffixes:
        raise FileError(path, f"{option} must name a {' or '.join(suffixes)} file",
                        f"e.g. {option} {shown(path.with_suffix(suffixes[0]).name)}")


def writable_file(path: Path, suffixes: tuple[str, ...] = ()) -> None:
    """Fail before the work, not after it, if `path` cannot be written as a file: an
    existing directory, device, FIFO or socket is refused (a rename would replace it), and
    its directory must exist and be writable. A symbolic link is written through (see
    `files.staged`): its target is what is checked."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        mode = None
    example = "out" + (suffixes[0] if suffixes else path.suffix)
    if mode is not None and stat.S_ISDIR(mode):
        raise FileError(path, "is a directory", f"give a file name, e.g. "
                        f"{shown(path / example)}")
    if mode is not None and not stat.S_ISREG(mode):
        raise FileError(path, f"is {_kind(mode)}, not a regular file", "an output is "
                        "written beside its path and renamed over it, which would replace "
                        "it: give the name of a regular file")
    parent = Path(os.path.realpath(path)).parent if path.is_symlink() else path.parent
    if not parent.is_dir():
        problem = "is not a directory" if parent.exists() else "does not exist"
        raise FileError(path, f"the directory {shown(parent)} {problem}",
                        f"create it first (mkdir -p {shown(parent)}) or write elsewhere")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise FileError(path, f"cannot write in the directory {shown(parent)}",
                        "check its permissions or write elsewhere")


def _makeable(directory: Path, option: str) -> None:
    """An existing directory, or one that can be made where the nearest existing
    ancestor is a writable directory."""
    try:
        mode = os.stat(directory).st_mode
    except (OSError, ValueError):
        mode = None
    if mode is not None:
        if not stat.S_ISDIR(mode):
            raise FileError(directory, f"{option} names {_kind(mode)}, not a directory",
                            f"give {option} a directory, or a new name for one")
        return
    ancestor = Path(os.path.abspath(directory))
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise FileError(directory, f"cannot make the directory: {shown(ancestor)} is not "
                        "a directory", f"give {option} a path in an existing directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise FileError(directory, f"cannot make the directory: cannot write in "
                        f"{shown(ancestor)}", "check its permissions or give another path")


@contextlib.contextmanager
def made_directory(directory: Path, option: str) -> Iterator[None]:
    """`directory` made now (with its parents) for the block, so that a path `check` could
    not judge (`/proc/x`) is an error before the long work, not after it. What was made
    is removed again if the block fails while it is still empty."""
    missing = [p for p in (directory, *directory.parents) if not p.exists()]
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FileError(directory, f"cannot make the directory: {shown(e.strerror or e)}",
                        f"give {option} a path in an existing, writable directory") from None
    try:
        yield
    except BaseException:
        for made in missing:  # the deepest first; one that holds anything stays
            with contextlib.suppress(OSError):
                made.rmdir()
        raise


def _kind(mode: int) -> str:
    """`a file`, `a device`, `a named pipe (FIFO)`, `a socket`."""
    return "a file" if stat.S_ISREG(mode) else NotRegularFile.KINDS.get(stat.S_IFMT(mode),
                                                                       "not a file")

"""Fuzzing every path option of every command against every other (cnndsl/support/paths.py).

A case is a command with all its path options given good files (inputs) or fresh names
(outputs), then one to three options twisted: named as another option's file (the same
path, `sub/../` to it, a symbolic link, a hard link), or as a directory, a device, a path
in a missing folder, or a name that is not UTF-8. Each case runs in-process through
`cnndsl.cli.main`, and whatever it does:

- the exit status is 0, 1 or 2, with no traceback and no internal error;
- every file that was there before is as it was (checksums; a link's target; a device's
  or FIFO's type): no input is changed, whatever the outputs name;
- nothing appears but the declared outputs (a staged temporary file neither);
- an output that names another option's file, by any path, or a directory, a device or a
  missing folder, is refused (exit 1).

Commands that need TensorFlow (train, evaluate, compile to .keras, import, weights) get
only cases that must be refused, and must refuse them before TensorFlow is imported: the
Keras backend's entry point fails the test. So the whole search runs in seconds; what
TensorFlow does with a good case is tests/test_train.py's and tests/test_import.py's.

Profiles as in tests/test_fuzz_files.py: deterministic by default,
`CNNDSL_HYPOTHESIS_PROFILE=thorough` runs 20 times as many random cases. The number of
cases per command and their exit statuses are printed at the end of the module.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import io
import os
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from outcomes import TensorFlowWanted, no_tensorflow, print_past_capture

from cnndsl.backends.weights import init_weights
from cnndsl.cli import main
from cnndsl.language.frontend import compile_text
from cnndsl.support import files

SPEC = "input 6x6x1 -> conv 3x3 x2 -> flatten -> dense 3 softmax\n"

# ---- the commands and their path options ------------------------------------------------------


@dataclass(frozen=True)
class Option:
    flag: str  # "FILE" for the positional argument
    role: str  # "in", "out" (a file), "dir" (a directory the command writes in)
    name: str  # the file's name when it is not twisted
    content: str = ""  # for an input: spec, x, weights, data, model


@dataclass(frozen=True)
class Command:
    argv: tuple[str, ...]  # the command and fixed flags; FILE goes after the first word
    options: tuple[Option, ...]
    tensorflow: bool  # whether a case that is not refused would import TensorFlow


SPEC_IN = Option("FILE", "in", "net.cnn", "spec")
WEIGHTS_IN = Option("--weights", "in", "w.npz", "weights")
MODEL_IN = Option("FILE", "in", "model.keras", "model")
DATA_IN = Option("--data", "in", "d.npz", "data")
COMMANDS = {
    "run": Command(("run",), (SPEC_IN, Option("--input", "in", "x.npy", "x"), WEIGHTS_IN,
                              Option("-o", "out", "y.npy"), Option("--layers", "out", "l.npz")),
                   False),
    "compile-python": Command(("compile", "--emit", "python"),
                              (SPEC_IN, Option("-o", "out", "net.py")), False),
    "compile-onnx": Command(("compile",), (SPEC_IN, WEIGHTS_IN, Option("-o", "out", "net.onnx")),
                            False),
    "compile-keras": Command(("compile",), (SPEC_IN, WEIGHTS_IN,
                                            Option("-o", "out", "net.keras")), True),
    "weights": Command(("weights",), (MODEL_IN, Option("-o", "out", "mw.npz")), True),
    "import": Command(("import",), (MODEL_IN, Option("-o", "out", "imported.cnn"),
                                    Option("--weights-out", "out", "iw.npz")), True),
    "draw": Command(("draw",), (SPEC_IN, Option("-o", "out", "net.svg")), False),
    "maps": Command(("maps",), (SPEC_IN, Option("--input", "in", "x.npy", "x"), WEIGHTS_IN,
                                Option("-o", "out", "maps.png")), False),
    "train": Command(("train", "--epochs", "1"), (
        SPEC_IN, DATA_IN, Option("--val", "in", "v.npz", "data"), WEIGHTS_IN,
        Option("-o", "out", "m.keras"), Option("--history", "out", "h.csv"),
        Option("--plot", "out", "p.png"), Option("--checkpoint-dir", "dir", "ckpt")), True),
    "evaluate": Command(("evaluate",), (SPEC_IN, DATA_IN, WEIGHTS_IN), True),
}

LINKS = ("same", "dotted", "symlink", "hardlink")  # name another option's file
ODD = ("dir", "device", "missing", "undecodable")  # a path of its own kind


def refused(option: Option, kind: str, target: Option | None) -> bool:
    """Whether twisting `option` this way must make the command refuse (exit 1): an
    output named as another option's file, an output (or input) that is a directory, a
    device or in a missing folder. A good file under an odd name, two inputs that are
    one file, or a new or empty checkpoint directory are not refused."""
    if kind in LINKS:
        return "in" not in (option.role, target.role) or option.role != target.role
    if kind == "undecodable":
        return False
    return option.role != "dir" or kind == "device"


@dataclass(frozen=True)
class Case:
    command: str
    twists: tuple[tuple[int, str, int], ...]  # (option, kind, target option or -1)

    @property
    def spec(self) -> Command:
        return COMMANDS[self.command]

    def must_refuse(self) -> bool:
        options = self.spec.options
        return any(refused(options[i], kind, options[t] if t >= 0 else None)
                   for i, kind, t in self.twists)


def _triples(command: Command, exclude: set[int]) -> list[tuple[int, str, int]]:
    """Every twist of an option not in `exclude`, naming an option not in `exclude`."""
    n = len(command.options)
    out = [(i, kind, -1) for i in range(n) if i not in exclude for kind in ODD]
    out += [(i, kind, t) for i in range(n) for t in range(n) for kind in LINKS
            if i != t and not {i, t} & exclude]
    return out


@st.composite
def cases(draw) -> Case:
    name = draw(st.sampled_from(sorted(COMMANDS)))
    command = COMMANDS[name]
    twists: list[tuple[int, str, int]] = []
    used: set[int] = set()
    if command.tensorflow:  # the first twist is one that must be refused before TensorFlow
        options = command.options
        twists.append(draw(st.sampled_from([
            t for t in _triples(command, set())
            if refused(options[t[0]], t[1], options[t[2]] if t[2] >= 0 else None)])))
        used |= {twists[0][0], twists[0][2]}
    # Half of the other commands' cases twist nothing that must be refused, so that they
    # run to the end: good files under odd names, inputs that are one file.
    benign = not command.tensorflow and draw(st.booleans())
    for _ in range(draw(st.integers(0 if twists else 1, 2))):
        options = command.options
        choices = [t for t in _triples(command, used) if not benign or not refused(
            options[t[0]], t[1], options[t[2]] if t[2] >= 0 else None)]
        if not choices:
            break
        twist = draw(st.sampled_from(choices))
        twists.append(twist)
        used |= {twist[0], twist[2]}  # a twisted option is no other's target, and vice versa
    return Case(name, tuple(twists))


# ---- the files --------------------------------------------------------------------------------

def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return buf.getvalue()


def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    with tempfile.TemporaryDirectory() as directory:
        files.write_npz(Path(directory) / "a.npz", arrays)
        return (Path(directory) / "a.npz").read_bytes()


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


_RNG = np.random.default_rng(0)
CONTENT = {
    "spec": SPEC.encode(),
    "x": _npy(_RNG.normal(size=(2, 6, 6, 1)).astype(np.float32)),
    "weights": _npz(init_weights(compile_text(SPEC, "net"), 0)),
    "data": _npz({"x": _RNG.normal(size=(8, 6, 6, 1)).astype(np.float32),
                  "y": _RNG.integers(0, 3, 8)}),
    "model": _zip({"config.json": b"{}"}),
}


def _undecodable_names() -> bool:
    with tempfile.TemporaryDirectory() as directory:
        try:
            (Path(directory) / os.fsdecode(b"x\xe9")).write_bytes(b"")
        except (OSError, UnicodeEncodeError):
            return False
    return True


UNDECODABLE = _undecodable_names()  # not on file systems that take UTF-8 names only


def _device(path: Path) -> Path:
    """A private null device at `path` where this process may make one (root), else the
    system's: the real /dev/null is never offered to an output that root could replace."""
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        return path
    except (OSError, AttributeError):
        return Path(os.devnull)


def lay_out(directory: Path, case: Case) -> dict[int, Path]:
    """The case's files in `directory`; each option's path."""
    options = case.spec.options
    (directory / "sub").mkdir()
    where = {i: directory / o.name for i, o in enumerate(options)}
    for i, o in enumerate(options):
        if o.role == "in":
            where[i].write_bytes(CONTENT[o.content])
    for i, kind, t in case.twists:
        o = options[i]
        own = Path(o.name).suffix
        if kind == "same":
            where[i] = where[t]
        elif kind == "dotted":
            where[i] = directory / "sub" / ".." / where[t].name
        elif kind == "symlink":
            where[i] = directory / f"link{i}{own}"
            where[i].symlink_to(where[t].name)
        elif kind == "hardlink":
            where[i] = directory / f"hard{i}{own}"
            if where[t].is_file() and not where[t].is_symlink():
                os.link(where[t], where[i])
            else:  # nothing to link to yet (an output): the same path
                where[i] = where[t]
        elif kind == "dir":
            where[i] = directory / f"dir{i}{own}"
            where[i].mkdir()
        elif kind == "device":
            where[i] = _device(directory / f"dev{i}{own}")
        elif kind == "missing":
            where[i] = directory / "missing" / o.name
        else:  # undecodable
            where[i] = directory / os.fsdecode(b"x\xe9" + f"{i}{own}".encode())
            if o.role == "in":
                where[i].write_bytes(CONTENT[o.content])
    return where


def snapshot(directory: Path) -> dict[str, object]:
    """Every entry below `directory`, by its kind: a file's checksum, a link's target."""
    out: dict[str, object] = {}
    for p in directory.rglob("*"):
        mode = os.lstat(p).st_mode
        if stat.S_ISLNK(mode):
            out[str(p)] = ("link", os.readlink(p))
        elif stat.S_ISREG(mode):
            out[str(p)] = ("file", hashlib.sha256(p.read_bytes()).hexdigest(), os.lstat(p).st_ino)
        else:
            out[str(p)] = ("kind", stat.S_IFMT(mode))
    return out


# ---- running a case ---------------------------------------------------------------------------

def call(argv: list[str]) -> tuple[int | None, str, str]:
    """(exit status, or None where the command went on to import TensorFlow; stdout;
    stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            no_tensorflow():
        try:
            rc: int | None = main(argv)
        except TensorFlowWanted:
            rc = None
    return rc, out.getvalue(), err.getvalue()


_QUIET = list(HealthCheck)
settings.register_profile("cnndsl-paths-ci", max_examples=300, deadline=None,
                          derandomize=True, database=None, suppress_health_check=_QUIET)
settings.register_profile("cnndsl-paths-thorough", max_examples=6000, deadline=None,
                          derandomize=False, suppress_health_check=_QUIET)
THOROUGH = os.environ.get("CNNDSL_HYPOTHESIS_PROFILE", "ci") == "thorough"
PROFILE = settings.get_profile("cnndsl-paths-thorough" if THOROUGH else "cnndsl-paths-ci")
OUTCOMES: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)


@pytest.fixture(scope="module", autouse=True)
def report(request):
    """How many cases each command ran, and how they ended, once the module is done."""
    yield
    if not OUTCOMES:
        return
    parts = [f"{name} {sum(c.values())} (exit 0: {c[0]}, 1: {c[1]}, 2: {c[2]})"
             for name, c in sorted(OUTCOMES.items())]
    total = sum(sum(c.values()) for c in OUTCOMES.values())
    print_past_capture(request, f"test_fuzz_paths ({'thorough' if THOROUGH else 'ci'}): "
                       f"{'; '.join(parts)}; total {total}")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzzpaths")


def _fresh(directory: Path) -> Path:
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir()
    return directory


@settings(PROFILE)
@given(case=cases())
def test_every_path_option_against_every_other(workdir, case):
    if not UNDECODABLE and any(kind == "undecodable" for _, kind, _ in case.twists):
        return
    d = _fresh(workdir / "case")
    where = lay_out(d, case)
    command = case.spec
    argv = [command.argv[0], str(where[0]), *command.argv[1:]]
    for i, o in enumerate(command.options[1:], start=1):
        argv += [o.flag, str(where[i])]
    before = snapshot(d)

    rc, out, err = call(argv)
    context = f"\ncase: {case!r}\nargv: {argv!r}\nexit {rc}\nstdout: {out}\nstderr:\n{err}"
    assert rc is not None, "the command went on to import TensorFlow" + context
    OUTCOMES[case.command][rc] += 1
    assert rc in (0, 1, 2), context
    assert "Traceback" not in out + err and "internal error" not in err, context
    if rc == 1:
        assert ": error: " in err and "\nhint: " in err, context
    if case.must_refuse():
        assert rc == 1, "a twisted output was not refused" + context
    after = snapshot(d)
    changed = [p for p, entry in before.items() if after.get(p) != entry]
    assert not changed, f"changed: {changed}" + context
    outputs = [Path(os.path.realpath(where[i])) for i, o in enumerate(command.options)
               if o.role != "in"]
    new = [p for p in after if p not in before]
    stray = [p for p in new if not any(
        Path(os.path.realpath(p)) == o or o in Path(os.path.realpath(p)).parents
        for o in outputs)]
    assert not stray, f"files outside the declared outputs: {stray}" + context
    assert not [p for p in new if Path(p).name.startswith(".")], "a staged file" + context

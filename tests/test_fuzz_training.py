"""Fuzzing `cnndsl train` and `cnndsl evaluate` with hostile image folders and hostile
`.npz` labels (issue 19, "Tests").

Every call ends in exit 0, 1 or 2 (never 3, a traceback or an exception out of `main`);
an error is `PATH: error: ...` with a `hint:` line and nothing on standard output; every
input is byte for byte as it was (a checksum of every file under the work directory, and
the kind and target of every link, before and after); no file is made but the outputs
(`-o`, its history and checkpoints).

Hostile folders: class names with escapes, line breaks, non-ASCII and a leading `.`;
images that are whole, truncated, text, empty, random bytes after a PNG's signature,
damaged in the middle, followed by junk, of 100,000 x 100,000 pixels declared, named
`.png` or `.PNG` or in a deeper folder, not UTF-8; a FIFO, a link to /dev/zero, a
dangling link, a directory named like an image; one class or several; --val-split.
Hostile labels: every dtype (ints to uint64, floats with NaN and infinity, bool,
complex, strings, objects), shapes that are indices, one-hot, rows of ones, too many
axes or the wrong count, values past 2**62, against softmax, logits, sigmoid and
regression outputs; x stored compressed or not.

Cheap by construction: the cases run in this process with the two functions that start
TensorFlow (`session.train`, `evaluate.score`) replaced by a recorder, so most are refused
in milliseconds. The cases that reach TensorFlow (the first few of each kind Hypothesis
draws) then run for real, in one child process (training sets seeds and deterministic
ops, which must not leak into this one), each through `cnndsl.cli.main`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib.util
import io
import json
import os
import stat
import struct
import subprocess
import sys
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cnndsl import compile_text
from cnndsl.backends.weights import init_weights
from cnndsl.cli import main
from cnndsl.support.files import write_npz

ROOT = Path(__file__).resolve().parent.parent
THOROUGH = os.environ.get("CNNDSL_HYPOTHESIS_PROFILE", "ci") == "thorough"
SCALE = 20 if THOROUGH else 1
PROFILE = settings(max_examples=60 * SCALE, deadline=None, derandomize=not THOROUGH,
                   database=None, suppress_health_check=list(HealthCheck))
# The cases run with TensorFlow in the child: at most 3 of each command and kind of data
# are kept, and the first of each kind, then the second, ... up to 12 run (~1 s each);
# 20 times as many in the thorough profile.
KERAS_CASES, KERAS_RUNS = 3 * SCALE, 12 * SCALE


class Reached(BaseException):
    """Raised where TensorFlow would start (not an Exception: `main` must not catch it)."""


# ---- files and what may change -------------------------------------------------------------

def snapshot(work: Path) -> dict[str, str]:
    """Every path under `work`: a checksum for a file, the target for a link, the kind
    for anything else. Links and FIFOs are never opened."""
    found = {}
    for root, dirs, names in os.walk(work):
        for name in dirs + names:
            path = Path(root) / name
            mode = os.lstat(path).st_mode
            key = os.fsdecode(path.relative_to(work))
            if stat.S_ISLNK(mode):
                found[key] = "link -> " + os.fsdecode(os.readlink(path))
            elif stat.S_ISREG(mode):
                found[key] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                found[key] = "dir" if stat.S_ISDIR(mode) else f"mode {stat.S_IFMT(mode)}"
    return found


def outputs_of(key: str) -> bool:
    """Whether `key` (relative to the work directory) is one of a train run's outputs."""
    return key.split("/")[0] in ("out.keras", "out.history.csv", "out.checkpoints")


def judge(rc: int, out: str, err: str, before: dict[str, str], after: dict[str, str],
          context: str) -> None:
    assert rc in (0, 1, 2), f"exit {rc}{context}"
    assert "Traceback" not in out + err and "internal error" not in err, context
    assert "\x1b" not in out + err, "an escape sequence reached the terminal" + context
    if rc == 1:
        assert out == "", context
        first = err.split("\n")
        errors = [i for i, line in enumerate(first) if ": error: " in line]
        assert errors and first[errors[0] + 1].startswith("hint: "), context
    changed = {k for k in before if after.get(k) != before[k]}
    assert not changed, f"inputs changed: {sorted(changed)}{context}"
    made = {k for k in after if k not in before}
    assert all(outputs_of(k) for k in made), f"files made: {sorted(made)}{context}"
    if rc != 0:
        assert not any(k.startswith("out.keras") for k in made), context


# Python's default filters hide these from users; any other warning would be printed.
HIDDEN = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)


def call(argv: list[str], cwd: Path) -> tuple[int | None, str, str]:
    """`main(argv)` in `cwd`: (status, stdout, stderr); status None where TensorFlow
    would have started. A Python warning the user would see is a failure."""
    out, err = io.StringIO(), io.StringIO()
    old = Path.cwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                rc: int | None = main(argv)
            except Reached:
                rc = None
    finally:
        os.chdir(old)
    leaked = [f"{w.category.__name__}: {w.message}" for w in caught
              if not issubclass(w.category, HIDDEN)]
    assert not leaked, f"{argv}: {leaked}"
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture
def recorder(monkeypatch):
    """`session.train` and `evaluate.score` replaced: reaching them raises `Reached`."""
    from cnndsl.commands import evaluate
    from cnndsl.training import session

    def reached(*args, **kwargs):
        raise Reached

    monkeypatch.setattr(session, "train", reached)
    monkeypatch.setattr(evaluate, "score", reached)


# ---- hostile image folders ----------------------------------------------------------------

def image(kind: str) -> bytes:
    """A small grey 8x8 image in `kind`'s format, by Pillow (the test extra)."""
    from PIL import Image

    pixels = (np.arange(64).reshape(8, 8) * 4).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(out, format=kind)
    return out.getvalue()


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data))


def huge_png() -> bytes:
    """A PNG declaring 100,000 x 100,000 grey pixels, with one row of data."""
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(bytes(100_001))) + chunk(b"IEND", b""))


def damaged(data: bytes) -> bytes:
    middle = bytearray(data)
    middle[len(middle) // 2] ^= 0xFF
    return bytes(middle)


CONTENTS = {
    "png": lambda: image("PNG"),
    "jpeg": lambda: image("JPEG"),
    "gif": lambda: image("GIF"),
    "bmp": lambda: image("BMP"),
    "truncated": lambda: image("PNG")[:40],
    "truncated jpeg": lambda: image("JPEG")[:-30],
    "junk after": lambda: image("PNG") + b"junk" * 10,
    "damaged": lambda: damaged(image("PNG")),
    "text": lambda: b"hello, I am text\n",
    "empty": lambda: b"",
    "signature only": lambda: b"\x89PNG\r\n\x1a\n" + bytes(range(50)),
    "huge": huge_png,
}
SPECIAL = ("fifo", "link to /dev/zero", "dangling link", "directory", "not UTF-8")
CLASS_NAMES = ("a", "b", "c", "Zeta", ".hidden", "esc\x1b[31m", "new\nline", "ünï",
               "sp ace")
FILE_NAMES = ("0.png", "1.PNG", "x.jpg", "y.gif", "z.bmp", ".png", "deep/2.png")


@dataclass
class Folder:
    classes: dict[str, list[tuple[str, str]]]  # class -> (file name, contents kind)
    units: int
    val_split: float | None


# Half the files are readable images, so that a folder of several is often wholly
# readable and reaches TensorFlow.
KINDS = ["png"] * 8 + ["jpeg", "gif", "bmp", "junk after"] * 2 + sorted(CONTENTS) + list(
    SPECIAL)
folders = st.builds(
    Folder,
    classes=st.dictionaries(
        st.sampled_from(CLASS_NAMES),
        st.lists(st.tuples(st.sampled_from(FILE_NAMES), st.sampled_from(KINDS)),
                 min_size=0, max_size=4, unique_by=lambda f: f[0]),
        min_size=1, max_size=3),
    units=st.one_of(st.just(0), st.integers(1, 4)),  # 0: one unit per class
    val_split=st.sampled_from([None, None, 0.5, 0.9]))


def write_folder(work: Path, folder: Folder) -> None:
    data = work / "data"
    data.mkdir()
    for name, entries in folder.classes.items():
        (data / name).mkdir()
        for file_name, kind in entries:
            path = data / name / file_name
            path.parent.mkdir(parents=True, exist_ok=True)
            if kind == "fifo":
                os.mkfifo(path)
            elif kind == "link to /dev/zero":
                path.symlink_to("/dev/zero")
            elif kind == "dangling link":
                path.symlink_to(work / "nowhere.png")
            elif kind == "directory":
                path.mkdir()
            elif kind == "not UTF-8":
                path.with_name(os.fsdecode(b"\xe9" + os.fsencode(path.name))).write_bytes(
                    CONTENTS["png"]())
            else:
                path.write_bytes(CONTENTS[kind]())


def network(work: Path, units: int, ending: str = "softmax") -> None:
    """net.cnn ending in `dense UNITS ENDING` and w.npz, its seeded weights."""
    text = f"input 8x8x1 -> flatten -> dense {units} {ending}\n"
    (work / "net.cnn").write_text(text, encoding="utf-8")
    write_npz(work / "w.npz", init_weights(compile_text(text, "net"), 0))


def commands(work: Path, val_split: float | None) -> list[list[str]]:
    split = ["--val-split", str(val_split)] if val_split else []
    return [["train", "net.cnn", "--data", "data", "-o", "out.keras", "--epochs", "1",
             *split],
            ["evaluate", "net.cnn", "--weights", "w.npz", "--data", "data"]]


@dataclass
class Tally:
    """What each kind of case came to, and the cases left for TensorFlow."""

    statuses: dict[str, dict[str, int]]
    for_keras: list[tuple[str, str, list[str]]]  # (kind, work directory, argv)

    def count(self, kind: str, outcome: str) -> None:
        self.statuses.setdefault(kind, {}).setdefault(outcome, 0)
        self.statuses[kind][outcome] += 1


def run_cases(tally: Tally, kind: str, work: Path, argvs: list[list[str]],
              context: str) -> None:
    for argv in argvs:
        before = snapshot(work)
        rc, out, err = call(argv, work)
        after = snapshot(work)
        label = f"{kind} {argv[0]}"
        if rc is None:
            tally.count(label, "reaches TensorFlow")
            judge(0, "", "", before, after, context)
            if sum(1 for k, _, a in tally.for_keras if k == label) < KERAS_CASES:
                tally.for_keras.append((label, str(work), argv))
            continue
        tally.count(label, f"exit {rc}")
        judge(rc, out, err, before, after, f"\n{argv}\n{err}{context}")


def keras_phase(tally: Tally) -> None:
    """The cases that reached TensorFlow, for real, in one child process; judged there
    against the same rules."""
    if not tally.for_keras:
        return
    if importlib.util.find_spec("tensorflow") is None:  # not imported here: it is slow
        pytest.skip("the cases that reach TensorFlow need it: pip install 'cnndsl[keras]'")
    rank = {id(case): [c for c in tally.for_keras if c[0] == case[0]].index(case)
            for case in tally.for_keras}
    tally.for_keras = sorted(tally.for_keras, key=lambda c: rank[id(c)])[:KERAS_RUNS]
    cases = [(work, argv, snapshot(Path(work))) for _, work, argv in tally.for_keras]
    script = (
        "import contextlib, io, json, os, sys\n"
        "from cnndsl.cli import main\n"
        "results = []\n"
        "for work, argv in json.load(sys.stdin):\n"
        "    os.chdir(work)\n"
        "    out, err = io.StringIO(), io.StringIO()\n"
        "    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):\n"
        "        rc = main(argv)\n"
        "    results.append((rc, out.getvalue(), err.getvalue()))\n"
        "print(json.dumps(results))\n")
    done = subprocess.run([sys.executable, "-c", script], input=json.dumps(
        [(work, argv) for work, argv, _ in cases]), capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.splitlines()[-1])
    for (kind, _, _), (work, argv, before), (rc, out, err) in zip(tally.for_keras, cases,
                                                                    results):
        tally.count(kind, f"with TensorFlow, exit {rc}")
        judge(rc, out, err, before, snapshot(Path(work)), f"\n{work} {argv}\n{err}")
        if rc == 0 and argv[0] == "train":
            assert out.startswith("ok: out.keras") and out.count("\n") == 1, out


def report(tally: Tally, request) -> None:
    lines = [f"  {kind}: " + ", ".join(f"{o} {n}" for o, n in sorted(outcomes.items()))
             for kind, outcomes in sorted(tally.statuses.items())]
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print("\ntest_fuzz_training:\n" + "\n".join(lines), file=sys.stderr)


def hostile_folders(tmp_path: Path, tally: Tally) -> None:
    counter = iter(range(10**9))

    @PROFILE
    @given(folder=folders)
    @example(folder=Folder({"a": [("0.png", "png")], "b": [("0.png", "jpeg")]}, 0, None))
    @example(folder=Folder({"a": [("0.png", "png"), ("1.png", "damaged")],
                            "b": [("0.png", "png")]}, 0, 0.5))
    @example(folder=Folder({"a": [("0.png", "truncated")], "b": [("0.png", "text")]}, 0,
                           None))  # the two files
    def case(folder: Folder) -> None:
        work = tmp_path / f"folder{next(counter)}"
        work.mkdir()
        write_folder(work, folder)
        visible = [c for c in folder.classes if not c.startswith(".")]
        network(work, folder.units or max(1, len(visible)))
        run_cases(tally, "folder", work, commands(work, folder.val_split),
                  f"\n{folder}")

    case()


# ---- hostile .npz labels --------------------------------------------------------------------

ENDINGS = ("softmax", "", "sigmoid", "relu")
DTYPES = ("int8", "int64", "uint8", "uint64", "float16", "float32", "float64", "bool",
          "complex64", "U3", "object", "datetime64[s]")
SPECIAL_VALUES = (0, 1, 2, -1, 2**62, 2**63 - 1, float("nan"), float("inf"), -0.5, 0.5)


SHAPES = ("indices", "column", "one-hot", "ones", "cube", "short", "scalar")


@dataclass
class Labels:
    n: int
    units: int
    ending: str
    dtype: str
    values: list[float]
    compressed: bool
    shape: str = "indices"  # each case is tried in every one of SHAPES


labels_cases = st.builds(
    Labels, n=st.integers(1, 6), units=st.integers(1, 4), ending=st.sampled_from(ENDINGS),
    dtype=st.sampled_from(DTYPES),
    values=st.lists(st.one_of(st.sampled_from(SPECIAL_VALUES), st.integers(0, 3)),
                    min_size=1, max_size=6),
    compressed=st.booleans())


def labels_array(case: Labels) -> np.ndarray:
    n, k = case.n, case.units
    picks = [case.values[i % len(case.values)] for i in range(n)]
    base: np.ndarray
    if case.shape == "one-hot":
        base = np.eye(max(k, 2))[[int(v) % max(k, 2) if np.isfinite(v) else 0
                                  for v in picks]]
    elif case.shape == "ones":
        base = np.ones((n, max(k, 2)))
    elif case.shape == "column":
        base = np.array(picks, dtype=object).reshape(n, 1)
    elif case.shape == "cube":
        base = np.array(picks * 2, dtype=object).reshape(n, 2, 1)
    elif case.shape == "short":
        base = np.array(picks[:-1] or [0, 0], dtype=object)
    elif case.shape == "scalar":
        base = np.array(picks[0], dtype=object)
    else:
        base = np.array(picks, dtype=object)
    if case.dtype == "object":
        return base.astype(object)
    with np.errstate(all="ignore"), contextlib.suppress(Exception):
        return base.astype(case.dtype)
    return base.astype("U20")  # a value the dtype cannot hold: the text of it


def write_labels(work: Path, case: Labels) -> None:
    x = (np.arange(case.n * 64).reshape(case.n, 8, 8, 1) % 16).astype(np.float32)
    y = labels_array(case)
    save = np.savez_compressed if case.compressed else np.savez
    save(work / "data.npz", x=x, y=y)  # objects are pickled: cnndsl never unpickles


def hostile_labels(tmp_path: Path, tally: Tally) -> None:
    counter = iter(range(10**9))

    @settings(PROFILE, max_examples=25 * SCALE)
    @given(drawn=labels_cases)
    @example(drawn=Labels(4, 3, "softmax", "int64", [0, 1, 2], False))
    @example(drawn=Labels(4, 3, "softmax", "int64", [2**62], True))  # the labels
    def labels(drawn: Labels) -> None:
        for shape in SHAPES:
            case = dataclasses.replace(drawn, shape=shape)
            work = tmp_path / f"labels{next(counter)}"
            work.mkdir()
            write_labels(work, case)
            network(work, case.units, case.ending)
            argvs = [["train", "net.cnn", "--data", "data.npz", "-o", "out.keras",
                      "--epochs", "1"],
                     ["evaluate", "net.cnn", "--weights", "w.npz", "--data", "data.npz"]]
            run_cases(tally, f"labels {case.shape}", work, argvs, f"\n{case}")

    labels()


def test_hostile_image_folders_and_labels(tmp_path, recorder, request):
    """Both kinds of hostile data, then what reached TensorFlow in one child process."""
    tally = Tally({}, [])
    hostile_folders(tmp_path, tally)
    hostile_labels(tmp_path, tally)
    keras_phase(tally)
    report(tally, request)


def test_the_fuzz_judge_would_catch_a_changed_input(tmp_path):
    (tmp_path / "data.npz").write_bytes(b"x")
    before = snapshot(tmp_path)
    (tmp_path / "data.npz").write_bytes(b"")
    with pytest.raises(AssertionError, match="inputs changed"):
        judge(1, "", "data.npz: error: x\nhint: y\n", before, snapshot(tmp_path), "")
    before = snapshot(tmp_path)
    (tmp_path / "stray.tmp").write_bytes(b"")
    with pytest.raises(AssertionError, match="files made"):
        judge(1, "", "data.npz: error: x\nhint: y\n", before, snapshot(tmp_path), "")
    with pytest.raises(AssertionError, match="exit 3"):
        judge(3, "", "", before, before, "")

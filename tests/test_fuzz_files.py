"""Fuzzing the commands that read and write files: `run`, `compile` and `weights`.

Whatever the spec, the input, the weights or the options, a call of `cnndsl.cli.main`
either succeeds (exit 0) or reports the project's own error (exit 1: `SPEC:LINE:COL: error:`
for the spec, `PATH: error: ...` and a `hint:` line for a file or option). Exit 3 (an
internal error), a traceback, a Python warning leaking to the user or an exception escaping
`main` is a bug. Outputs are never half-written: every call starts with an existing good
output; after a failure it is byte for byte as it was, after a success it loads with
`numpy.load(allow_pickle=False)` (or is valid, harmless Python source) with the reported
shape, and no staged temporary file is ever left behind.

Inputs tried:
  specs     small valid networks of every rank from a tiny grammar, mutations of
            examples/*.cnn (run for real only when small), random bytes;
  inputs    .npy of random shape and dtype (float16/32/64, big-endian, ints, uint64, bool,
            complex, strings, bytes, dates, records, object arrays saved with pickle),
            NaN/Inf/huge values, Fortran order, zero-length batches, single examples, wrong
            shapes; .npz with 0, 1 or 2 arrays, stored or deflated; crafted .npy headers
            (odd dtypes, negative or huge shapes); truncated, bit-flipped, zero-filled or
            extended files; zip members with an unknown compression method or the
            encrypted flag; random bytes and pickles named .npy; a missing file, a directory;
  weights   seeded (random, negative and huge seeds), exact, perturbed (dtype, shape,
            missing, extra and random keys), pickled members, zips with non-.npy members,
            empty zips, single .npy files, random bytes, the same corruptions as inputs;
  options   --batch-size from -2 to 10**30, --dtype, --layers (good, wrong suffix, the
            output itself), outputs with odd suffixes or in missing directories;
  compile   --emit python and .keras on the specs above, odd spec file names and --name
            values, random weights; `weights` on random bytes, random zips and truncated
            real .keras files named .keras.

Profiles: `CNNDSL_HYPOTHESIS_PROFILE=thorough` runs 20 times as many examples, random;
the default ('ci') is derandomized, so CI is reproducible. The number of examples each test
ran is printed at the end of the module. Keras cases are few (TensorFlow is slow) and run
only where Keras imports; without it the same tests check everything cnndsl does before
importing Keras, and the missing-TensorFlow error.
"""

from __future__ import annotations

import ast
import collections
import contextlib
import importlib.util
import io
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import time
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from mutation import mutate
from outcomes import print_past_capture

import cnndsl
from cnndsl.backends.weights import init_weights
from cnndsl.cli import main
from cnndsl.errors import CnnError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.cnn"))
OLD = b"an existing good output, which no failure may touch\n"


def _saved(save) -> bytes:
    buf = io.BytesIO()
    save(buf)
    return buf.getvalue()


# Existing good outputs of each kind, which no failure may touch.
OLD_NPY = _saved(lambda f: np.save(f, np.arange(6, dtype=np.float32).reshape(2, 3)))
OLD_NPZ = _saved(lambda f: np.savez(f, output=np.arange(6, dtype=np.float32).reshape(2, 3)))


def old_for(path: Path) -> bytes:
    suffix = path.suffix.lower()
    return OLD_NPY if suffix == ".npy" else OLD_NPZ if suffix == ".npz" else OLD
HAVE_KERAS = (importlib.util.find_spec("keras") is not None
              and importlib.util.find_spec("tensorflow") is not None)

# ---- profiles -------------------------------------------------------------------------------
# Named apart from tests/test_fuzz.py's (profiles are global to Hypothesis) and applied per
# test, never loaded, so other files keep their settings. Selected, like test_fuzz.py's, by
# CNNDSL_HYPOTHESIS_PROFILE: 'ci' (the default) or 'thorough'.
_QUIET = list(HealthCheck)
settings.register_profile("cnndsl-files-ci", max_examples=100, deadline=None,
                          derandomize=True, database=None, suppress_health_check=_QUIET,
                          print_blob=True)
settings.register_profile("cnndsl-files-thorough", max_examples=2000, deadline=None,
                          derandomize=False, suppress_health_check=_QUIET, print_blob=True)
THOROUGH = os.environ.get("CNNDSL_HYPOTHESIS_PROFILE", "ci") == "thorough"
PROFILE = settings.get_profile("cnndsl-files-thorough" if THOROUGH else "cnndsl-files-ci")
SCALE = 20 if THOROUGH else 1


def budget(n: int) -> settings:
    """`n` examples in the ci profile, 20 times as many in the thorough one."""
    return settings(PROFILE, max_examples=n * SCALE)


COUNTS: collections.Counter[str] = collections.Counter()  # examples run, per test
OUTCOMES: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)


def tally(test: str, rc: int | None = None) -> None:
    """Count an example of `test` (rc None), or its exit status once known."""
    if rc is None:
        COUNTS[test] += 1
    else:
        OUTCOMES[test][rc] += 1


@pytest.fixture(scope="module", autouse=True)
def examples_report(request):
    """Print how many examples each test ran, once the module is done."""
    yield
    if not COUNTS:
        return
    lines = [f"{name}: {n:,} examples (exit 0: {OUTCOMES[name][0]:,}, "
             f"exit 1: {OUTCOMES[name][1]:,})" for name, n in sorted(COUNTS.items())]
    text = ("test_fuzz_files (profile " + ("thorough" if THOROUGH else "ci") + "): "
            + "; ".join(lines) + f"; total {sum(COUNTS.values()):,}")
    print_past_capture(request, text)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzzfiles")


def fresh(directory: Path) -> Path:
    """An empty directory (emptied if it exists)."""
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    return directory


# ---- calling the CLI and judging the outcome ------------------------------------------------

def call(argv: list[str]) -> tuple[int, str, str, list[warnings.WarningMessage]]:
    """`main(argv)` in-process: (exit status, stdout, stderr, Python warnings raised)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rc = main([str(a) for a in argv])  # an exception escaping main fails by itself
    return rc, out.getvalue(), err.getvalue(), [w for w in caught if shown(w)]


# Python's default filters hide these from users (ResourceWarning: an unclosed file that
# the garbage collector closes); every other warning would be printed on the terminal.
HIDDEN_BY_DEFAULT = (DeprecationWarning, PendingDeprecationWarning, ImportWarning,
                     ResourceWarning)


def shown(w: warnings.WarningMessage) -> bool:
    return not issubclass(w.category, HIDDEN_BY_DEFAULT)


def describe(caught: list[warnings.WarningMessage]) -> str:
    return "; ".join(f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})"
                     for w in caught)


def judge_error(rc: int, out: str, err: str, spec: Path, context: str) -> None:
    """The outcome is exit 0 or 1; on 1, stderr holds the project's own error."""
    assert rc in (0, 1), "only exit 0 or 1 is allowed" + context
    assert "Traceback" not in out + err, context
    assert "internal error" not in err, context
    if rc == 0:
        return
    assert out == "", "an error prints nothing on stdout" + context
    lines = err.split("\n")
    errors = [i for i, line in enumerate(lines) if ": error: " in line]
    assert errors, "no `error:` line" + context
    i = errors[0]
    located = re.match(rf"^{re.escape(str(spec))}:\d+:\d+: error: \S", lines[i])
    if located:
        assert any("^" in line for line in lines[i + 1:i + 3]), "no caret line" + context
    else:
        assert re.match(r"^.+: error: \S", lines[i]), context
        assert any(line.startswith("hint: ") for line in lines[i + 1:]), \
            "a file or option error has a `hint:` line" + context
    # Whatever precedes the error is the spec's own warnings, nothing from Python.
    for line in lines[:i]:
        assert "Warning" not in line and not line.startswith("  File "), context


def hidden(directory: Path) -> list[str]:
    """Staged temporary files are hidden (`.NAME.XXXXXXXX.tmp`): none may stay."""
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


# ---- byte-level helpers: arrays, archives and corruption ------------------------------------

def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=True)
    return buf.getvalue()


def zip_bytes(members: list[tuple[str, bytes]], compressed: bool = False) -> bytes:
    """A zip of `members`, the same bytes every time (a fixed date: Hypothesis replays a
    case from its choices and insists on the same data)."""
    buf = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate member names are part of the fuzz
        with zipfile.ZipFile(buf, "w", method) as archive:
            for name, data in members:
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = method
                info.external_attr = (0o40775 << 16 | 0x10 if name.endswith("/")
                                      else 0o600 << 16)
                archive.writestr(info, data)
    return buf.getvalue()


def raw_header(header: str, version: int = 1) -> bytes:
    """A `.npy` preamble with any header text, valid or not, padded as NumPy pads it."""
    body = header.encode("latin1", "replace")
    if version == 1:
        pad = (-(10 + len(body) + 1)) % 64
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(body) + pad + 1) + body \
            + b" " * pad + b"\n"
    pad = (-(12 + len(body) + 1)) % 64
    return b"\x93NUMPY\x02\x00" + struct.pack("<I", len(body) + pad + 1) + body \
        + b" " * pad + b"\n"


def patch_zip(data: bytes, how: str) -> bytes:
    """Every member's compression method set to 99 ('method'), its encrypted flag set
    ('encrypted'), or the zip version needed to extract it set to 8.4 ('version')."""
    out = bytearray(data)
    for signature, offsets in ((b"PK\x03\x04", {"version": 4, "encrypted": 6, "method": 8}),
                               (b"PK\x01\x02", {"version": 6, "encrypted": 8, "method": 10})):
        i = out.find(signature)
        while i >= 0:
            at = i + offsets[how]
            if at + 2 <= len(out):
                if how == "method":
                    out[at:at + 2] = struct.pack("<H", 99)
                elif how == "version":
                    out[at:at + 2] = struct.pack("<H", 84)
                else:
                    out[at] |= 1
            i = out.find(signature, i + 4)
    return bytes(out)


@st.composite
def corrupted(draw, data: bytes) -> bytes:
    """`data`, mostly intact, else truncated, bit-flipped (often in the header), zero-filled,
    extended, or (for zips) with an unknown compression method or the encrypted flag."""
    how = draw(st.sampled_from(["none"] * 5 + ["truncate", "truncate", "flip", "flip", "flip",
                                                "zero", "append", "zip"]))
    if how == "none" or not data:
        return data
    if how == "truncate":
        return data[:draw(st.integers(0, len(data) - 1))]
    if how == "append":
        return data + draw(st.binary(min_size=1, max_size=64))
    out = bytearray(data)
    if how == "zero":
        start = draw(st.integers(0, len(out) - 1))
        end = min(len(out), start + draw(st.integers(1, 64)))
        out[start:end] = bytes(end - start)
        return bytes(out)
    if how == "zip":
        if data.startswith(b"PK"):
            return patch_zip(data, draw(st.sampled_from(["method", "encrypted", "version"])))
        return data
    for _ in range(draw(st.integers(1, 8))):
        limit = draw(st.sampled_from([min(len(out), 128), len(out)]))
        pos = draw(st.integers(0, limit - 1))
        out[pos] ^= 1 << draw(st.integers(0, 7))
    return bytes(out)


DTYPES = ["float32", "float32", "float64", "float16", ">f4", ">f8", "int8", "int16", "int32",
          "int64", "uint8", "uint64", "bool", "complex64", "complex128", "<U3", "|S2",
          "object", "datetime64[s]", "timedelta64[ms]", "record", "longdouble"]


def make_array(shape: tuple[int, ...], dtype: str, seed: int, special: bool,
               fortran: bool) -> np.ndarray:
    """A random array of `shape` and `dtype`; `special` sprinkles NaN, Inf, -Inf, huge
    and tiny values into floating-point ones."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=shape) * 4
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dtype == "object":
            flat = [None, 1, "a", 2.5, (1,), b"x"]
            array = np.empty(shape, dtype=object)
            for i, index in enumerate(np.ndindex(*shape)):
                array[index] = flat[i % len(flat)]
            return array
        if dtype == "record":
            array = np.zeros(shape, dtype=[("a", "<f4"), ("b", "<i4")])
        elif dtype in ("<U3", "|S2"):
            array = values.astype(dtype)
        elif dtype.startswith(("datetime64", "timedelta64")):
            array = values.astype(np.int64).astype(dtype)
        elif dtype == "longdouble":  # 80 bits in 16 bytes: zeroed, so the padding is too
            array = np.zeros(shape, np.longdouble)
            array[...] = values
        else:
            array = values.astype(dtype)
            if special and array.dtype.kind in "fc" and array.size:
                flat = array.reshape(-1)
                picks = rng.integers(0, flat.size, size=min(flat.size, 4))
                flat[picks] = rng.choice([np.nan, np.inf, -np.inf, 1e300, 5e-324, -0.0],
                                         size=len(picks)).astype(array.dtype)
    if fortran and array.ndim > 1:
        array = np.asfortranarray(array)
    return array


@st.composite
def arrays(draw, shape: tuple[int, ...] | None) -> np.ndarray:
    """An input for a network taking `shape`: a batch, one example, an empty batch, or a
    wrong shape; of a random dtype."""
    kinds = ["batch", "batch", "batch", "single", "zero", "wrong", "scalar"]
    kind = draw(st.sampled_from(kinds)) if shape is not None else "wrong"
    if kind == "batch":
        full = (draw(st.integers(1, 3)), *shape)
    elif kind == "single":
        full = tuple(shape)
    elif kind == "zero":
        full = (0, *shape)
    elif kind == "scalar":
        full = ()
    else:
        full = tuple(draw(st.lists(st.integers(0, 5), max_size=5)))
    dtype = draw(st.sampled_from(DTYPES) if draw(st.integers(0, 3)) == 0
                 else st.sampled_from(["float32", "float64", "int16"]))
    return make_array(full, dtype, draw(st.integers(0, 2**32 - 1)), draw(st.booleans()),
                      draw(st.booleans()))


HEADER_DESCRS = ["'<f4'", "'<f8'", "'|O'", "'<U0'", "'|V0'", "'<c16'", "'<f2'", "'|b1'",
                 "'<M8[s]'", "'x'", "'<f4x'", "[('a', '<f4')]", "[('a', '|O')]", "1", "None",
                 "'<i8'", "'|S0'"]
HEADER_SHAPES = ["()", "(0,)", "(3, 4)", "(-1, 4)", "(4,)", "(2**40, 4)".replace(
    "2**40", str(2**40)), f"({2**62}, 4)", f"({2**27}, 4)", "(1, 2, 3, 4, 5, 6)", "'a'", "3",
    "(3.5,)", "(None,)", "[3, 4]"]


@st.composite
def crafted_npy(draw) -> bytes:
    """A `.npy` whose header says anything, followed by some bytes of data."""
    descr = draw(st.sampled_from(HEADER_DESCRS))
    shape = draw(st.sampled_from(HEADER_SHAPES))
    order = draw(st.sampled_from(["False", "True", "0", "'yes'"]))
    header = f"{{'descr': {descr}, 'fortran_order': {order}, 'shape': {shape}, }}"
    if draw(st.integers(0, 5)) == 0:
        header = draw(st.sampled_from(["{}", "{'descr': '<f4'}", "", "[", "{'descr': "
                                       "'<f4', 'fortran_order': False, 'shape': (4,), "
                                       "'extra': 1}", "__import__('os')"]))
    data = draw(st.sampled_from([b"", bytes(16), bytes(96), b"\x80\x04N."]))
    return raw_header(header, draw(st.sampled_from([1, 1, 2]))) + data


@st.composite
def array_file(draw, shape: tuple[int, ...] | None) -> bytes:
    """The bytes of an input file for a network taking `shape`."""
    container = draw(st.sampled_from(["npy"] * 6 + ["npz1", "npz1", "npz0", "npz2", "npzc",
                                                    "crafted", "crafted-npz", "random",
                                                    "pickle", "nonnpy-npz"]))
    if container == "random":
        data = draw(st.one_of(st.binary(max_size=200),
                              st.binary(max_size=200).map(lambda b: b"\x93NUMPY" + b),
                              st.binary(max_size=200).map(lambda b: b"PK\x03\x04" + b)))
    elif container == "pickle":
        data = draw(st.sampled_from([b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x01.",
                                     b"\x80\x02]q\x00.", b"\x80"]))
    elif container == "crafted":
        data = draw(crafted_npy())
    elif container == "crafted-npz":
        data = zip_bytes([("x.npy", draw(crafted_npy()))], draw(st.booleans()))
    elif container == "nonnpy-npz":
        data = zip_bytes([(draw(st.sampled_from(["x", "x.txt", "x.npy/", "dir/x.npy"])),
                           draw(st.binary(max_size=40)))])
    else:
        array = draw(arrays(shape))
        if container == "npy":
            data = npy_bytes(array)
        elif container == "npz0":
            data = zip_bytes([])
        elif container == "npz2":
            data = zip_bytes([("x.npy", npy_bytes(array)), ("y.npy", npy_bytes(array))])
        else:
            data = zip_bytes([(draw(st.sampled_from(["x.npy", "arr_0.npy", "file.npy"])),
                               npy_bytes(array))], compressed=container == "npzc")
    return draw(corrupted(data))


# ---- specs ------------------------------------------------------------------------------------

TINY_INPUTS = ["4", "7", "5x3", "6x6x2", "5x4x1", "3x4x4x2"]
SPATIAL = ["conv 3 x4 same", "conv 1 x2", "conv 3/2 x3 same relu", "conv 2 x{C} same bias=false",
           "dwconv 3 same", "sepconv 3 x4 same", "deconv 2/2 x3 same", "maxpool 2 same",
           "avgpool 2/1 same", "bn", "relu", "leaky_relu=0.1", "dropout 0.25", "upsample 2",
           "zeropad 1", "add { id | conv 1 x{C} same }", "concat { id | relu }",
           "residual { conv 3 x{C} same -> bn }", "mul { id | conv 1 x{C} same sigmoid }",
           "max { id | avgpool 3/1 same }", "conv 3 x4 same groups=2", "conv 3 x2 same dilation=2"]
HEADS = ["gap", "gmp", "flatten"]
FLAT = ["dense 3", "dense 5 relu", "relu", "bn", "dropout 0.5", "softmax", "tanh",
        "add { id | dense {C} }", "concat { id | dense 2 }", "leaky_relu=0.3",
        "dense 2 bias=false", "swish", "avg { id | dense {C} tanh }"]


@st.composite
def tiny_specs(draw) -> str:
    """A small network, valid far more often than not, of rank 1 to 4."""
    head = draw(st.sampled_from(TINY_INPUTS))
    steps = []
    if "x" in head:
        steps += draw(st.lists(st.sampled_from(SPATIAL), max_size=3))
        if draw(st.booleans()):
            steps.append(draw(st.sampled_from(HEADS)))
            steps += draw(st.lists(st.sampled_from(FLAT), max_size=2))
    else:
        steps += draw(st.lists(st.sampled_from(FLAT), max_size=4))
    if not steps:
        steps = ["dense 2"]
    return f"input {head} -> " + " -> ".join(steps) + "\n"


# Mutations of the examples, as tests/test_fuzz.py makes them (with "1" among the
# numbers put in).
REPLACEMENTS = ["0", "1", "-1", str(10**12), "2.5"]


@st.composite
def mutants(draw) -> str:
    path = draw(st.sampled_from(EXAMPLES))
    return mutate(draw, path.read_text(encoding="utf-8"), 0, REPLACEMENTS)


def any_specs() -> st.SearchStrategy[str]:
    return st.one_of(tiny_specs(), tiny_specs(), tiny_specs(), mutants(),
                     st.binary(max_size=60).map(lambda b: b.decode("latin1")))


# Networks are run for real only when this small, so the fuzz stays fast and never asks for
# gigabytes of weights (a mutation can make `dense 1000000000000`).
MAX_RUN_PARAMS, MAX_RUN_MACS = 300_000, 5_000_000


@dataclass
class Network:
    graph: object | None  # the compiled graph, None if the spec does not compile
    small: bool  # small enough to run and to hold its weights


_GRAPHS: dict[str, Network] = {}


def network_of(text: str) -> Network:
    """The spec's graph (cached), and whether it is small enough to run."""
    if text not in _GRAPHS:
        try:
            graph = cnndsl.compile_text(text, "net")
            stats = cnndsl.analyse(graph)
            small = (stats.total("params") <= MAX_RUN_PARAMS
                     and stats.total("macs") <= MAX_RUN_MACS)
        except (CnnError, RecursionError, MemoryError):
            graph, small = None, False
        if len(_GRAPHS) > 2000:
            _GRAPHS.clear()
        _GRAPHS[text] = Network(graph, small)
    return _GRAPHS[text]


# ---- weights ----------------------------------------------------------------------------------

# Zip member names cannot hold NUL (zipfile cuts the name there) or surrogates.
KEYS = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
               max_size=12)
WEIGHT_DTYPES = ["float32", "float64", "float16", ">f4", "longdouble", "int32", "bool",
                 "complex64", "object", "<U2"]


@st.composite
def weights_files(draw, graph) -> tuple[bytes, str] | int:
    """Either a seed (int) or the bytes and name of a weights file for `graph` (or for no
    network): exact, perturbed, with random keys, pickled or junk, maybe corrupted."""
    kinds = ["seed", "seed", "seed", "random-keys", "junk-zip", "raw", "npy", "pickle"]
    if graph is not None:
        kinds += ["exact", "exact", "perturbed", "perturbed", "perturbed"]
    kind = draw(st.sampled_from(kinds))
    if kind == "seed":
        return draw(st.one_of(st.integers(0, 5), st.integers(-3, -1),
                              st.sampled_from([2**32, 2**64, 10**30])))
    members: list[tuple[str, bytes]]
    if kind in ("exact", "perturbed"):
        weights = init_weights(graph, draw(st.integers(0, 3)))
        keys = list(weights)
        if kind == "perturbed" and keys:
            key = keys[draw(st.integers(0, len(keys) - 1))]
            how = draw(st.sampled_from(["dtype", "shape", "drop", "extra", "rename", "nan"]))
            if how == "dtype":
                weights[key] = make_array(weights[key].shape, draw(st.sampled_from(
                    WEIGHT_DTYPES)), 0, False, False)
            elif how == "shape":
                shape = tuple(draw(st.lists(st.integers(0, 4), max_size=4)))
                weights[key] = np.zeros(shape, np.float32)
            elif how == "drop":
                del weights[key]
            elif how == "extra":
                weights[draw(KEYS)] = np.zeros(2, np.float32)
            elif how == "rename":
                weights[draw(KEYS)] = weights.pop(key)
            else:
                weights[key] = weights[key].copy()
                weights[key].reshape(-1)[:1] = np.nan
        members = [(f"{k}.npy", npy_bytes(v)) for k, v in weights.items()]
    elif kind == "random-keys":
        members = [(draw(KEYS) + ".npy",
                    npy_bytes(make_array(tuple(draw(st.lists(st.integers(0, 3), max_size=3))),
                                         draw(st.sampled_from(WEIGHT_DTYPES)), 0, True, False)))
                   for _ in range(draw(st.integers(0, 3)))]
    elif kind == "junk-zip":
        members = [(draw(st.sampled_from(["dense_1/kernel", "a.txt", "dir/", "x.npy",
                                          "conv_1/bias.npy", "../up.npy", "/abs.npy"])),
                    draw(st.one_of(st.binary(max_size=40), crafted_npy())))
                   for _ in range(draw(st.integers(0, 3)))]
    elif kind == "npy":
        return draw(corrupted(npy_bytes(np.zeros((4, 2), np.float32)))), "w.npz"
    elif kind == "pickle":
        return b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x01.", "w.npz"
    else:
        return draw(st.binary(max_size=100)), draw(st.sampled_from(["w.npz", "w.keras",
                                                                    "w.h5"]))
    data = zip_bytes(members, compressed=draw(st.booleans()))
    # A name ending .keras or .h5 sends the file to the Keras loader; none holds a
    # config.json, so it is refused before TensorFlow is imported.
    name = draw(st.sampled_from(["w.npz"] * 8 + ["w.keras", "W.NPZ", "w.h5"]))
    return draw(corrupted(data)), name


# ---- `cnndsl run` -----------------------------------------------------------------------------

@dataclass
class RunCase:
    spec: str
    input: bytes | None  # None: no such file; b"DIR": a directory
    input_name: str
    weights: tuple[bytes, str] | int
    batch_size: int | None
    dtype: str | None
    output: str
    layers: str | None


@st.composite
def run_cases(draw, specs: st.SearchStrategy[str], files: str = "both") -> RunCase:
    """A `run` call: `files` says which files are fuzzed ('input', 'weights' or 'both');
    the other is made to fit the network."""
    spec = draw(specs)
    net = network_of(spec)
    shape = tuple(net.graph.input.shape) if net.graph is not None and net.small else None
    if files in ("input", "both"):
        data = (draw(st.sampled_from([None, b"DIR"])) if draw(st.integers(0, 30)) == 0
                else draw(array_file(shape)))
    elif shape is None:
        data = npy_bytes(np.zeros((2, 3), np.float32))
    else:
        data = npy_bytes(make_array((draw(st.integers(0, 2)), *shape), "float32",
                                    draw(st.integers(0, 9)), False, False))
    if files in ("weights", "both"):
        weights = draw(weights_files(net.graph if net.small else None))
    else:
        weights = draw(st.integers(0, 3))
    # Half the cases take sound options, so that the fuzzed files decide the outcome.
    odd = draw(st.booleans())
    batch = draw(st.one_of(st.none(), st.integers(1, 4), st.sampled_from([2**31, 10**30]),
                           *([st.integers(-2, 0)] if odd else [])))
    outputs = ["out.npy"] * 5 + ["out.npz"] * 3 + ["OUT.NPY"]
    layers = [None] * 6 + ["layers.npz", "layers.npz"]
    return RunCase(
        spec=spec, input=data,
        input_name=draw(st.sampled_from(["x.npy"] * 6 + ["x.npz", "x.bin", "X.NPY"])),
        weights=weights, batch_size=batch,
        dtype=draw(st.sampled_from([None, "float32", "float64"])),
        output=draw(st.sampled_from(outputs + (["out.txt", "nodir/out.npy", "adir.npy"]
                                               if odd else []))),
        layers=draw(st.sampled_from(layers + (["layers.npy", "SAME"] if odd else []))))


def check_run(workdir: Path, case: RunCase, test: str = "") -> None:
    """Run one case and hold it to every rule of the module docstring."""
    inputs = fresh(workdir / "in")
    outdir = fresh(workdir / "out")
    spec = inputs / "net.cnn"
    spec.write_bytes(case.spec.encode("utf-8", "surrogateescape"))
    source = inputs / case.input_name
    if case.input == b"DIR":
        source.mkdir()
    elif case.input is not None:
        source.write_bytes(case.input)
    argv = ["run", spec, "--input", source]
    if isinstance(case.weights, int):
        argv += ["--seed", str(case.weights)] if case.weights else []
    else:
        data, name = case.weights
        (inputs / name).write_bytes(data)
        argv += ["--weights", inputs / name]
    output = outdir / case.output
    (outdir / "adir.npy").mkdir()
    if output.parent == outdir and not output.is_dir():
        output.write_bytes(old_for(output))
    argv += ["-o", output]
    layers = None
    if case.layers is not None:
        layers = output if case.layers == "SAME" else outdir / case.layers
        if layers.parent == outdir and not layers.exists():
            layers.write_bytes(old_for(layers))
        argv += ["--layers", layers]
    if case.batch_size is not None:
        argv += ["--batch-size", str(case.batch_size)]
    if case.dtype is not None:
        argv += ["--dtype", case.dtype]
    before = {p.name: p.read_bytes() for p in inputs.iterdir() if p.is_file()}

    rc, out, err, caught = call(argv)
    tally(test, rc)

    context = f"\ncase: {case!r}\nargv: {[str(a) for a in argv]}\nexit {rc}\nstderr:\n{err}"
    judge_error(rc, out, err, spec, context)
    assert not caught, f"Python warnings reached the user: {describe(caught)}" + context
    assert hidden(outdir) == [], "a staged temporary file was left behind" + context
    assert {p.name: p.read_bytes() for p in inputs.iterdir() if p.is_file()} == before, \
        "an input file was changed" + context
    if rc == 1:
        if output.is_file():
            assert output.read_bytes() == old_for(output), "a failure touched the output" + context
        if layers is not None and layers.is_file():
            assert layers.read_bytes() == old_for(layers), "a failure touched the layers" + context
        return
    m = re.fullmatch(r"ok: (.+) \(([\d, ]*)\) (float32|float64)(, every layer -> (.+))?\n", out)
    assert m and m.group(1) == str(output), out + context
    shape = tuple(int(d) for d in m.group(2).replace(" ", "").split(",") if d)
    assert m.group(3) == (case.dtype or "float32"), context
    if output.suffix.lower() == ".npz":
        with np.load(output, allow_pickle=False) as archive:
            assert archive.files == ["output"], context
            y = archive["output"]
    else:
        y = np.load(output, allow_pickle=False)
    assert y.shape == shape and y.dtype == np.dtype(m.group(3)), context
    if layers is not None:
        assert m.group(5) == str(layers), context
        with np.load(layers, allow_pickle=False) as archive:
            kept = {k: archive[k] for k in archive.files}
        assert kept, context
        assert kept[list(kept)[-1]].shape == shape, context


@budget(1600)
@given(case=run_cases(tiny_specs(), "input"))
def test_run_random_inputs(workdir, case):
    tally("test_run_random_inputs")
    check_run(workdir, case, "test_run_random_inputs")


@budget(1400)
@given(case=run_cases(tiny_specs(), "weights"))
def test_run_random_weights(workdir, case):
    tally("test_run_random_weights")
    check_run(workdir, case, "test_run_random_weights")


@budget(1000)
@given(case=run_cases(any_specs(), "both"))
def test_run_random_everything(workdir, case):
    tally("test_run_random_everything")
    check_run(workdir, case, "test_run_random_everything")


@budget(300)
@given(case=run_cases(mutants(), "both"))
def test_run_mutated_examples(workdir, case):
    tally("test_run_mutated_examples")
    check_run(workdir, case, "test_run_mutated_examples")


# ---- `cnndsl compile` -------------------------------------------------------------------------

SPEC_STEMS = ["net", "net", "net", 'we"ird', "class", "1net", "ünï", "a b", "x.y", "a\\b",
              "''' x", "\u00bc", "x\u00b2"]
NAMES = st.one_of(st.none(), st.none(), st.none(),
                  st.sampled_from(["a/b", 'x"y', "a\\", '"""', "é", "", " ", "a b", "-x",
                                   "model", "None", "keras", "x\ny"]),
                  st.text(st.characters(blacklist_categories=("Cs",),
                                        blacklist_characters="\x00"), max_size=12))


@dataclass
class CompileCase:
    spec: str
    stem: str
    emit: str
    output: str | None  # None: the default, beside the spec
    name: str | None
    weights: tuple[bytes, str] | int | None


@st.composite
def compile_cases(draw, emit: str, weights: bool) -> CompileCase:
    spec = draw(any_specs())
    net = network_of(spec)
    suffix = ".py" if emit == "python" else ".keras"
    chosen = None
    if weights:
        chosen = draw(st.one_of(st.none(), weights_files(net.graph if net.small else None)))
    return CompileCase(
        spec=spec, stem=draw(st.sampled_from(SPEC_STEMS)), emit=emit,
        output=draw(st.sampled_from([None, f"out{suffix}", f"out{suffix}", "out.txt",
                                     f"nodir/out{suffix}", f"adir{suffix}"])),
        name=draw(NAMES), weights=chosen)


ALLOWED_IMPORTS = {"keras"}


def check_python_source(source: str, context: str) -> None:
    """Emitted source is valid Python that only imports Keras, defines functions and
    calls Keras: user text (file names, --name, layer names) cannot inject code."""
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        raise AssertionError(f"the emitted source is not valid Python: {e}\n{source}"
                             + context) from None
    defined = {"keras", "layers", "__name__"}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = ([a.name for a in node.names] if isinstance(node, ast.Import)
                       else [node.module or ""])
            assert all(m.split(".")[0] in ALLOWED_IMPORTS for m in modules), source + context
        elif isinstance(node, ast.FunctionDef):
            defined.add(node.name)
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            assert node.id in defined, f"the source uses `{node.id}`\n{source}" + context
    for node in tree.body:
        assert isinstance(node, (ast.Expr, ast.Import, ast.ImportFrom, ast.FunctionDef,
                                 ast.If)), f"unexpected top-level statement\n{source}" + context


def check_compile(workdir: Path, case: CompileCase, test: str = "") -> None:
    inputs = fresh(workdir / "cin")
    outdir = fresh(workdir / "cout")
    spec = outdir / f"{case.stem}.cnn"  # the default output goes beside the spec
    spec_bytes = case.spec.encode("utf-8", "surrogateescape")
    spec.write_bytes(spec_bytes)
    suffix = ".py" if case.emit == "python" else ".keras"
    (outdir / f"adir{suffix}").mkdir()
    argv = ["compile", spec]
    if case.emit == "python" or case.output is not None:
        argv += ["--emit", case.emit]
    if case.output is None:
        output = spec.with_suffix(suffix)
    else:
        output = outdir / case.output
        argv += ["-o", output]
    if output.parent == outdir and not output.is_dir() and output != spec:
        output.write_bytes(old_for(output))
    if case.name is not None:
        argv.append(f"--name={case.name}")
    if isinstance(case.weights, int):
        argv += ["--seed", str(case.weights)]
    elif case.weights is not None:
        data, name = case.weights
        (inputs / name).write_bytes(data)
        argv += ["--weights", inputs / name]

    rc, out, err, _ = call(argv)
    tally(test, rc)

    context = f"\ncase: {case!r}\nargv: {[str(a) for a in argv]}\nexit {rc}\nstderr:\n{err}"
    judge_error(rc, out, err, spec, context)
    assert hidden(outdir) == [], "a staged temporary file was left behind" + context
    assert spec.read_bytes() == spec_bytes, "the spec was changed" + context
    if rc == 1:
        if output.is_file():
            assert output.read_bytes() == old_for(output), "a failure touched the output" + context
        return
    assert out.startswith(f"ok: {output} ("), out + context
    if case.emit == "python":
        check_python_source(output.read_text(encoding="utf-8"), context)
    else:
        with zipfile.ZipFile(output) as archive:
            assert "config.json" in archive.namelist(), context


@budget(700)
@given(case=compile_cases("python", weights=False))
@example(case=CompileCase("input 4 -> dense 2\n", "net", "python", "out.py", "a/b", None))
def test_compile_python(workdir, case):
    tally("test_compile_python")
    check_compile(workdir, case, "test_compile_python")


# With Keras each case builds and saves a model (TensorFlow is slow): about 20 cases. Without
# it, everything checked before Keras is imported (destinations, weights, their fit to the
# network) and the missing-TensorFlow error, which are quick.
@settings(PROFILE, max_examples=(20 if HAVE_KERAS else 300) * SCALE)
@given(case=compile_cases("keras", weights=True))
def test_compile_keras(workdir, case):
    tally("test_compile_keras")
    check_compile(workdir, case, "test_compile_keras")


# ---- `cnndsl weights` -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_model(tmp_path_factory) -> bytes:
    """A real .keras file (from `cnndsl compile` where Keras imports), else a zip laid out
    like one, for truncation."""
    directory = tmp_path_factory.mktemp("realmodel")
    if HAVE_KERAS:
        spec = directory / "m.cnn"
        spec.write_text("input 6x6x2 -> conv 3 x4 same relu -> bn -> gap -> dense 3\n",
                        encoding="utf-8")
        rc, _, err, _ = call(["compile", spec, "-o", directory / "m.keras"])
        assert rc == 0, err
        return (directory / "m.keras").read_bytes()
    return zip_bytes([("metadata.json", b'{"keras_version": "3.15.0"}'),
                      ("config.json", b'{"module": "keras", "class_name": "Functional", '
                                      b'"config": {}}'),
                      ("model.weights.h5", b"\x89HDF\r\n\x1a\n" + bytes(200))])


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.sampled_from(["module", "class_name", "config",
                                                       "layers", "name", "registered_name",
                                                       "build_config", "function"]),
                                      inner, max_size=4), max_leaves=12)
MEMBERS = ["config.json", "metadata.json", "model.weights.h5", "assets/", "x.npy", "junk"]


@st.composite
def keras_files(draw, real: bytes) -> bytes:
    kind = draw(st.sampled_from(["random", "zip", "zip", "truncated", "corrupt-real"]))
    if kind == "random":
        return draw(st.binary(max_size=200))
    if kind == "truncated":
        return real[:draw(st.integers(0, len(real) - 1))]
    if kind == "corrupt-real":
        return draw(corrupted(real))
    members = []
    for _ in range(draw(st.integers(0, 4))):
        name = draw(st.sampled_from(MEMBERS))
        if name.endswith(".json") and draw(st.booleans()):
            data = json.dumps(draw(JSON)).encode()
        else:
            data = draw(st.binary(max_size=60))
        members.append((name, data))
    return zip_bytes(members, compressed=draw(st.booleans()))


@settings(PROFILE, max_examples=(30 if HAVE_KERAS else 400) * SCALE)
@given(data=st.data(), output=st.sampled_from([None, "w.npz", "w.npz", "w.npy"]))
def test_weights_of_random_keras_files(workdir, real_model, data, output):
    model_bytes = data.draw(keras_files(real_model), label="model")
    tally("test_weights_of_random_keras_files")
    directory = fresh(workdir / "weights")
    model = directory / "model.keras"
    model.write_bytes(model_bytes)
    target = model.with_suffix(".npz") if output is None else directory / output
    target.write_bytes(old_for(target))
    argv = ["weights", model] + ([] if output is None else ["-o", target])

    rc, out, err, _ = call(argv)
    tally("test_weights_of_random_keras_files", rc)

    context = f"\nmodel: {model_bytes[:300]!r}...\nargv: {argv}\nexit {rc}\nstderr:\n{err}"
    judge_error(rc, out, err, model, context)
    assert hidden(directory) == [], context
    if rc == 1:
        assert target.read_bytes() == old_for(target), context
    else:
        with np.load(target, allow_pickle=False) as archive:
            assert all(isinstance(archive[k], np.ndarray) for k in archive.files), context


# ---- outputs that are inputs ----------------------------------------------------------------
# `run --input x.npy -o x.npy` overwrote the input, `--layers` an input archive, the weights
# or the spec, and `-o link.npy` replaced a symbolic link by a file. Whatever names the file
# (the same text, another path to it, a hard link, a chain of symbolic links, a link to its
# directory), an output that is an input is refused, and every file stays as it was.

ALIAS_WAYS = ("same", "dot", "parent", "hard", "symlink", "chain", "dirlink")


@dataclass
class AliasCase:
    command: str  # run, compile-python, compile-keras or weights
    option: str  # the output option: -o or --layers
    target: str  # the input it names: input, weights, spec or model
    target_name: str
    way: str
    output_name: str  # the name of the link, for the ways that make one
    input_kind: str


@st.composite
def alias_cases(draw) -> AliasCase:
    command = draw(st.sampled_from(["run", "run", "run", "compile-python", "compile-keras",
                                    "weights"]))
    way = draw(st.sampled_from(ALIAS_WAYS))
    linked = way in ("hard", "symlink", "chain")  # the output has a name of its own
    input_kind = draw(st.sampled_from([".npy", ".npz"]))
    if command == "run":
        option = draw(st.sampled_from(["-o", "--layers"]))
        suffixes = (".npy", ".npz") if option == "-o" else (".npz",)
        target = draw(st.sampled_from(["input", "weights", "spec"]))
        out_suffix = draw(st.sampled_from(suffixes))
        if not linked:  # the output is the target's own name: it must fit the option
            if target == "input":
                input_kind = out_suffix
            elif target == "weights" and out_suffix != ".npz":
                target = "spec"
        names = {"input": f"x{input_kind}", "weights": "w.npz", "spec": f"net{out_suffix}"}
        target_name = names[target] if not linked else {**names, "spec": "net.cnn"}[target]
    elif command.startswith("compile"):
        option, suffix = "-o", ".py" if command == "compile-python" else ".keras"
        target = "spec" if command == "compile-python" else draw(
            st.sampled_from(["spec", "weights"]))
        out_suffix = suffix
        target_name = ({"spec": f"net{suffix}", "weights": f"w{suffix}"}[target] if not linked
                       else {"spec": "net.cnn", "weights": "w.npz"}[target])
    else:
        option, target, out_suffix = "-o", "model", ".npz"
        way = draw(st.sampled_from(("hard", "symlink", "chain")))
        target_name = "model.keras"
    return AliasCase(command, option, target, target_name, way, f"alias{out_suffix}",
                     input_kind)


def _alias(directory: Path, case: AliasCase) -> Path:
    """The output path that names `case.target_name` in `directory` the case's way."""
    target = directory / case.target_name
    if case.way == "same":
        return target
    if case.way == "dot":
        return directory / "." / case.target_name
    if case.way == "parent":
        (directory / "sub").mkdir(exist_ok=True)
        return directory / "sub" / ".." / case.target_name
    link = directory / case.output_name
    if case.way == "hard":
        os.link(target, link)
    elif case.way == "symlink":
        link.symlink_to(case.target_name)
    elif case.way == "chain":
        (directory / f"mid{link.suffix}").symlink_to(case.target_name)
        link.symlink_to(f"mid{link.suffix}")
    else:  # a link to the directory, and the file's name through it
        (directory.parent / "dirlink").unlink(missing_ok=True)
        (directory.parent / "dirlink").symlink_to(directory)
        return directory.parent / "dirlink" / case.target_name
    return link


def _snapshot(directory: Path) -> dict[str, object]:
    """Every entry: a link's target, a file's bytes."""
    return {p.name: ("->", os.readlink(p)) if p.is_symlink() else p.read_bytes()
            for p in directory.iterdir() if not p.is_dir()}


@budget(120)
@given(case=alias_cases())
def test_outputs_equal_to_inputs_are_refused(workdir, case):
    tally("test_outputs_equal_to_inputs_are_refused")
    d = fresh(workdir / "alias" / "files")
    text = "input 4 -> dense 2\n"
    for name in ("net.cnn", "net.npy", "net.npz", "net.py", "net.keras"):
        (d / name).write_text(text, encoding="utf-8")
    x = np.ones((3, 4), np.float32)
    np.save(d / "x.npy", x)
    np.savez(d / "x.npz", x)
    (d / "w.npz").write_bytes(_weights_zip())
    (d / "w.keras").write_bytes(zip_bytes([("config.json", b"{}")]))
    (d / "model.keras").write_bytes(zip_bytes([("config.json", b"{}")]))
    output = _alias(d, case)
    spec = d / (case.target_name if case.target == "spec" else "net.cnn")
    if case.command == "run":
        source = d / (case.target_name if case.target == "input" else f"x{case.input_kind}")
        argv = ["run", spec, "--input", source]
        if case.target == "weights":
            argv += ["--weights", d / "w.npz"]
        argv += ["-o", output] if case.option == "-o" else ["-o", d / "out.npy",
                                                            "--layers", output]
    elif case.command.startswith("compile"):
        argv = ["compile", spec, "-o", output]
        argv += ["--emit", "python"] if case.command == "compile-python" else []
        argv += ["--weights", d / case.target_name] if case.target == "weights" else []
    else:
        argv = ["weights", d / "model.keras", "-o", output]
    before = _snapshot(d)

    rc, out, err, caught = call(argv)
    tally("test_outputs_equal_to_inputs_are_refused", rc)

    context = f"\ncase: {case!r}\nargv: {[str(a) for a in argv]}\nexit {rc}\nstderr:\n{err}"
    judge_error(rc, out, err, spec, context)
    assert rc == 1, "an output that is an input was accepted" + context
    assert err.startswith(f"{output}: error: the output would overwrite the "), context
    assert "\nhint: write to another file" in err, context
    assert not caught, f"Python warnings reached the user: {describe(caught)}" + context
    assert _snapshot(d) == before, "a file or link was changed" + context
    assert hidden(d) == [], "a staged temporary file was left behind" + context


# ---- regressions: cases these fuzzers found ---------------------------------------------------
# Each failed (exit 3, or a misleading message) when found; see the report of the fuzzing.

def _net_and_input(directory: Path) -> tuple[Path, Path]:
    spec = directory / "net.cnn"
    spec.write_text("input 4 -> dense 2\n", encoding="utf-8")
    source = directory / "x.npy"
    np.save(source, np.ones((3, 4), np.float32))
    return spec, source


def _weights_zip(compressed: bool = False) -> bytes:
    return zip_bytes([("dense_1/kernel.npy", npy_bytes(np.ones((4, 2), np.float32))),
                      ("dense_1/bias.npy", npy_bytes(np.zeros(2, np.float32)))], compressed)


def _deflate_damaged(data: bytes) -> bytes:
    """The first member's compressed data overwritten, its headers intact."""
    out = bytearray(data)
    name_len, extra_len = struct.unpack("<HH", out[26:30])
    start = 30 + name_len + extra_len
    out[start:start + 40] = b"\xff" * 40
    return bytes(out)


REGRESSIONS = {
    # (file given as, its bytes): every one must be refused with exit 1 and a hint.
    "weights-deflate-damaged": ("--weights", "w.npz",
                                lambda: _deflate_damaged(_weights_zip(compressed=True))),
    "weights-unknown-method": ("--weights", "w.npz",
                               lambda: patch_zip(_weights_zip(), "method")),
    "weights-encrypted": ("--weights", "w.npz", lambda: patch_zip(_weights_zip(), "encrypted")),
    "input-unknown-method": ("--input", "x.npz", lambda: patch_zip(
        zip_bytes([("x.npy", npy_bytes(np.ones((3, 4), np.float32)))]), "method")),
    "input-encrypted": ("--input", "x.npz", lambda: patch_zip(
        zip_bytes([("x.npy", npy_bytes(np.ones((3, 4), np.float32)))]), "encrypted")),
    "weights-huge-member": ("--weights", "w.npz", lambda: zip_bytes(
        [("dense_1/kernel.npy", raw_header(f"{{'descr': '<f4', 'fortran_order': False, "
                                           f"'shape': ({2**40}, 4), }}") + bytes(64))])),
    "input-huge-member": ("--input", "x.npz", lambda: zip_bytes(
        [("x.npy", raw_header(f"{{'descr': '<f4', 'fortran_order': False, "
                              f"'shape': ({2**40}, 4), }}") + bytes(64))])),
    "weights-zip-version": ("--weights", "w.npz", lambda: patch_zip(_weights_zip(), "version")),
    "input-zip-version": ("--input", "x.npz", lambda: patch_zip(
        zip_bytes([("x.npy", npy_bytes(np.ones((3, 4), np.float32)))]), "version")),
    "weights-header-unclosed-bracket": ("--weights", "w.npz", lambda: zip_bytes(
        [("dense_1/kernel.npy", raw_header("[") + bytes(32)),
         ("dense_1/bias.npy", npy_bytes(np.zeros(2, np.float32)))])),
    "input-header-unclosed-bracket": ("--input", "x.npy", lambda: raw_header("[") + bytes(48)),
    "input-overflowing-shape": ("--input", "x.npy", lambda: raw_header(
        f"{{'descr': '<f4', 'fortran_order': False, 'shape': ({2**62}, 4), }}") + bytes(64)),
}


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_regression_bad_archives(tmp_path, name):
    option, file_name, make = REGRESSIONS[name]
    spec, source = _net_and_input(tmp_path)
    bad = tmp_path / file_name
    bad.write_bytes(make())
    output = tmp_path / "out" / "y.npy"
    output.parent.mkdir()
    output.write_bytes(OLD)
    argv = ["run", spec, "--input", source, "-o", output]
    if option == "--weights":
        argv += ["--weights", bad]
    else:
        argv[3] = bad
    rc, out, err, caught = call(argv)
    context = f"\n{name}: exit {rc}\nstderr:\n{err}"
    judge_error(rc, out, err, spec, context)
    assert rc == 1, context
    assert err.startswith(f"{bad}: error: "), "the error names the bad file" + context
    assert not caught, f"Python warnings reached the user: {describe(caught)}" + context
    assert output.read_bytes() == OLD and hidden(output.parent) == []


@pytest.mark.parametrize("name", sorted(n for n in REGRESSIONS if n.startswith("weights")))
def test_regression_bad_archives_as_compile_weights(tmp_path, name):
    _, file_name, make = REGRESSIONS[name]
    spec, _ = _net_and_input(tmp_path)
    bad = tmp_path / file_name
    bad.write_bytes(make())
    output = tmp_path / "out.keras"
    output.write_bytes(OLD)
    rc, out, err, _ = call(["compile", spec, "--weights", bad, "-o", output])
    judge_error(rc, out, err, spec, f"\n{name}: exit {rc}\nstderr:\n{err}")
    assert rc == 1 and err.startswith(f"{bad}: error: "), err
    assert output.read_bytes() == OLD


@pytest.mark.parametrize("command", ["weights", "run", "compile"])
def test_regression_keras_file_needing_zip_version_8_4(tmp_path, command):
    """`zipfile` raises NotImplementedError for a zip whose members need version 8.4 to
    extract, when the archive is opened, in the container check before Keras."""
    spec, source = _net_and_input(tmp_path)
    model = tmp_path / "model.keras"
    model.write_bytes(patch_zip(zip_bytes([("config.json", b"{}"), ("metadata.json", b"{}")]),
                                "version"))
    output = tmp_path / "out" / ("w.npz" if command == "weights" else
                                 "y.npy" if command == "run" else "m.keras")
    output.parent.mkdir()
    output.write_bytes(OLD)
    argv = {"weights": ["weights", model, "-o", output],
            "run": ["run", spec, "--input", source, "-o", output, "--weights", model],
            "compile": ["compile", spec, "-o", output, "--weights", model]}[command]
    rc, out, err, _ = call(argv)
    judge_error(rc, out, err, spec, f"\nexit {rc}\nstderr:\n{err}")
    assert rc == 1 and err.startswith(f"{model}: error: "), err
    assert output.read_bytes() == OLD and hidden(output.parent) == []


def test_regression_negative_moving_variance_warns_from_numpy(tmp_path):
    """A batch norm folded into the convolution before it, with a negative moving variance:
    the run succeeds (NaN, as in Keras) but NumPy's `RuntimeWarning: invalid value
    encountered in sqrt` (backends/numpy/fusion.py) was printed to the user."""
    spec = tmp_path / "bn.cnn"
    spec.write_text("input 4x3 -> conv 1 x2 -> bn\n", encoding="utf-8")
    weights = init_weights(cnndsl.compile_text(spec.read_text(encoding="utf-8"), "bn"), 0)
    weights["batchnorm_1/moving_variance"] = np.array([-1.0, 1.0], np.float32)
    np.savez(tmp_path / "w.npz", **weights)
    np.save(tmp_path / "x.npy", np.ones((2, 4, 3), np.float32))
    rc, out, err, caught = call(["run", spec, "--input", tmp_path / "x.npy", "-o",
                                 tmp_path / "y.npy", "--weights", tmp_path / "w.npz"])
    judge_error(rc, out, err, spec, f"\nexit {rc}\nstderr:\n{err}")
    assert not caught, f"Python warnings reached the user: {describe(caught)}"


@pytest.mark.parametrize("name", ['x"); import os; os.system("touch PWNED"); ("',
                                  'a"b', "a\\", '"""', "x\ny", "\u00bc", "x\u00b2"])
def test_regression_name_cannot_break_or_inject_python_source(tmp_path, name):
    spec, _ = _net_and_input(tmp_path)
    output = tmp_path / "net.py"
    rc, out, err, _ = call(["compile", spec, "--emit", "python", "-o", output,
                            f"--name={name}"])
    judge_error(rc, out, err, spec, f"\nexit {rc}\nstderr:\n{err}")
    if rc == 0:
        check_python_source(output.read_text(encoding="utf-8"), f"\n--name={name!r}")


@pytest.mark.parametrize("stem", ['we"ird', "\u00bc", "x\u00b2"])
def test_regression_spec_file_name_cannot_break_python_source(tmp_path, stem):
    spec = tmp_path / f"{stem}.cnn"
    spec.write_text("input 4 -> dense 2\n", encoding="utf-8")
    rc, out, err, _ = call(["compile", spec, "--emit", "python"])
    judge_error(rc, out, err, spec, f"\nexit {rc}\nstderr:\n{err}")
    if rc == 0:
        check_python_source(spec.with_suffix(".py").read_text(encoding="utf-8"), "")


@pytest.mark.skipif(not HAVE_KERAS, reason="Keras not installed")
@pytest.mark.parametrize("name", ["a/b", "/"])
def test_regression_keras_refuses_a_slash_in_the_model_name(tmp_path, name):
    spec, _ = _net_and_input(tmp_path)
    output = tmp_path / "net.keras"
    output.write_bytes(OLD)
    rc, out, err, _ = call(["compile", spec, "-o", output, f"--name={name}"])
    judge_error(rc, out, err, spec, f"\nexit {rc}\nstderr:\n{err}")
    assert rc == 0 or output.read_bytes() == OLD


# ---- signals while `compile` writes a .keras file ----------------------------------------------
# (SIGKILL during `cnndsl run` is tests/test_run.py::test_sigkill_mid_run_keeps_the_old_output,
# SIGINT and SIGTERM there test_interrupt_mid_run_cleans_up.)

STAGED_MODEL = re.compile(r"^\.resnet50\.keras\.\w+\.keras$")


# The compile, held where its staged file is written but not yet renamed into place:
# `files._sync` (called between the two) first says so through a marker file, then waits
# to be signalled. The moment is the same on any machine, however fast its disk; signals
# at random moments, inside the write itself, are tests/test_signals.py's.
HELD_COMPILE = """
import pathlib, sys, time
import cnndsl.support.files
marker, real_sync = pathlib.Path(sys.argv[1]), cnndsl.support.files._sync
def held_sync(path, mode=None):
    marker.touch()
    time.sleep(3600)
    real_sync(path, mode)
cnndsl.support.files._sync = held_sync
from cnndsl.cli import entry
sys.argv = ["cnndsl", *sys.argv[2:]]
entry()
"""


def signal_mid_compile(directory: Path, signum: int) -> tuple[int, str]:
    """`cnndsl compile examples/resnet50.cnn -o resnet50.keras`, sent `signum` once its
    hidden staged file `.resnet50.keras.XXXXXXXX.keras` is written and not yet renamed
    (see HELD_COMPILE): (exit status, stderr)."""
    output = directory / "resnet50.keras"
    held = directory.parent / f"{directory.name}.held"  # outside: not a leftover
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.Popen([sys.executable, "-c", HELD_COMPILE, str(held), "compile",
                             str(ROOT / "examples" / "resnet50.cnn"), "-o", str(output)],
                            cwd=directory, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 600  # a slow machine's TensorFlow and save
        while not held.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the compile never wrote its staged file"
            time.sleep(0.05)
        assert any(STAGED_MODEL.match(p.name) for p in directory.iterdir())
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=60)
    return proc.returncode, err.decode("utf-8", "replace")


@pytest.mark.skipif(not HAVE_KERAS, reason="Keras not installed")
def test_sigkill_mid_compile_keeps_the_old_model(tmp_path):
    output = tmp_path / "resnet50.keras"
    output.write_bytes(OLD)
    rc, _ = signal_mid_compile(tmp_path, signal.SIGKILL)
    assert rc == -signal.SIGKILL
    assert output.read_bytes() == OLD
    left = hidden(tmp_path)
    assert len(left) == 1 and STAGED_MODEL.match(left[0]), left  # SIGKILL cannot clean up


@pytest.mark.skipif(not HAVE_KERAS, reason="Keras not installed")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
def test_regression_interrupt_mid_compile_cleans_up(tmp_path, signum):
    """Ctrl-C printed a KeyboardInterrupt traceback (only `run` catches it); SIGTERM, which
    `run` turns into a clean interrupt, killed `compile` outright and left the staged file.
    A KeyboardInterrupt is often lost inside h5py while the weights are written, and the
    compile used to finish (exit 0): the signal is now recorded, and the rename refused.
    (tests/test_signals.py sends signals at random moments.)"""
    output = tmp_path / "resnet50.keras"
    output.write_bytes(OLD)
    rc, err = signal_mid_compile(tmp_path, signum)
    assert "Traceback" not in err, err
    assert hidden(tmp_path) == [], "the staged file was left behind"
    assert rc == 128 + signum, err
    assert output.read_bytes() == OLD
    assert err.endswith("resnet50.keras was not written\n"), err

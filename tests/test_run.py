"""`cnndsl run`: outputs worked out by hand, batch streaming, single examples, `.npz` in and
out, `--layers`, every user error (exit 1, a located or path-prefixed message and a hint,
no traceback, an existing output untouched), interrupts, and no TensorFlow or Keras.

The hand-worked network is `input 4 -> dense 2` with kernel rows (1, 0), (0, 1), (1, 1),
(0, 0) and bias (0.5, -1): the first output is x0 + x2 + 0.5, the second x1 + x2 - 1, so
(1, 2, 3, 4) gives (4.5, 4).
"""

from __future__ import annotations

import json
import os
import pickle
import re
import signal
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from outcomes import cli

import cnndsl
from cnndsl.cli import main
from cnndsl.running import runner
from cnndsl.support import files

ROOT = Path(__file__).resolve().parent.parent
SEED_NET = "input 6x6x1 -> conv 3x3/1 x2 -> maxpool 2 -> flatten -> dense 10\n"
KERNEL = np.array([[1, 0], [0, 1], [1, 1], [0, 0]], np.float32)
BIAS = np.array([0.5, -1], np.float32)
X = np.array([[1, 2, 3, 4], [0, 0, 0, 0], [-1, 1, -1, 1]], np.float32)
Y = np.array([[4.5, 4], [0.5, -1], [-1.5, -1]], np.float32)  # by hand, see above
OLD = b"an existing good output, which no failure may touch"
TEMP = re.compile(r"^\.(out|layers)\.np[yz]\.\w+\.tmp$")  # staged files, hidden


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A directory with the hand-worked network, its weights and input, and an old output."""
    monkeypatch.chdir(tmp_path)
    Path("net.cnn").write_text("input 4 -> dense 2\n", encoding="utf-8")
    Path("seed.cnn").write_text(SEED_NET, encoding="utf-8")
    np.savez("w.npz", **{"dense_1/kernel": KERNEL, "dense_1/bias": BIAS})
    np.save("x.npy", X)
    Path("out.npy").write_bytes(OLD)
    return tmp_path


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


# ---- outputs worked out by hand -----------------------------------------------------------

def test_dense_by_hand(work):
    rc, out, err = cli("run", "net.cnn", "--input", "x.npy", "-o", "out.npy",
                       "--weights", "w.npz")
    assert rc == 0, err
    assert out == "ok: out.npy (3, 2) float32\n" and err == ""
    y = np.load("out.npy")
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, Y)
    assert leftovers(work) == []


def test_conv_by_hand(work):
    # A 2x2 kernel of ones sums each 2x2 window of 0..8 laid out 3x3: 0+1+3+4 = 8, ...
    Path("conv.cnn").write_text("input 3x3x1 -> conv 2x2 x1\n", encoding="utf-8")
    np.savez("cw.npz", **{"conv_1/kernel": np.ones((2, 2, 1, 1), np.float32),
                          "conv_1/bias": np.zeros(1, np.float32)})
    np.save("img.npy", np.arange(9, dtype=np.float32).reshape(3, 3, 1))
    rc, _, err = cli("run", "conv.cnn", "--input", "img.npy", "-o", "out.npy",
                     "--weights", "cw.npz")
    assert rc == 0, err
    np.testing.assert_array_equal(np.load("out.npy"), [[[8], [12]], [[20], [24]]])


def test_single_example_keeps_no_batch_axis(work):
    np.save("one.npy", X[0])
    rc, out, err = cli("run", "net.cnn", "--input", "one.npy", "-o", "out.npy",
                       "--weights", "w.npz", "--layers", "layers.npz")
    assert rc == 0, err
    np.testing.assert_array_equal(np.load("out.npy"), [4.5, 4])
    with np.load("layers.npz") as layers:
        assert {k: layers[k].shape for k in layers.files} == {"input": (4,), "dense_1": (2,)}


def test_float64(work):
    rc, out, err = cli("run", "net.cnn", "--input", "x.npy", "-o", "out.npy",
                       "--weights", "w.npz", "--dtype", "float64")
    assert rc == 0, err
    assert out == "ok: out.npy (3, 2) float64\n"
    y = np.load("out.npy")
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, Y)


def test_integer_and_bool_inputs_are_numbers(work):
    np.save("ints.npy", X.astype(np.int16))
    np.save("bools.npy", np.array([[True, False, True, False]]))
    assert cli("run", "net.cnn", "--input", "ints.npy", "-o", "out.npy",
               "--weights", "w.npz")[0] == 0
    np.testing.assert_array_equal(np.load("out.npy"), Y)
    assert cli("run", "net.cnn", "--input", "bools.npy", "-o", "out.npy",
               "--weights", "w.npz")[0] == 0
    np.testing.assert_array_equal(np.load("out.npy"), [[2.5, 0]])


def test_npz_in_and_out(work):
    np.savez("x.npz", examples=X)
    rc, out, err = cli("run", "net.cnn", "--input", "x.npz", "-o", "out.npz",
                       "--weights", "w.npz", "--batch-size", "2")
    assert rc == 0, err
    with np.load("out.npz") as y:
        assert y.files == ["output"]
        np.testing.assert_array_equal(y["output"], Y)


def test_nan_and_inf_propagate(work):
    np.save("odd.npy", np.array([[np.nan, 0, 0, 0], [np.inf, 0, 0, 0], [0, -np.inf, 0, 0]]))
    rc, _, err = cli("run", "net.cnn", "--input", "odd.npy", "-o", "out.npy",
                     "--weights", "w.npz")
    assert rc == 0, err
    # IEEE: 0 * NaN and 0 * Inf are NaN, so a zero weight does not stop them.
    np.testing.assert_array_equal(np.load("out.npy"),
                                  [[np.nan, np.nan], [np.inf, np.nan], [np.nan, -np.inf]])


API_NETS = ["input 4 -> dense 3",
            "input 8x8x3 -> conv 3x3 x4 -> batchnorm -> relu -> maxpool 2 -> flatten -> dense 3",
            "input 16x16x3 -> conv 3x3 x8 same sigmoid -> avgpool 2 -> conv 1 x4 -> gap -> "
            "dense 3 softmax"]


@pytest.mark.parametrize("threads", ["1", "2"])
@pytest.mark.parametrize("spec", API_NETS, ids=["dense", "conv", "conv-pool"])
def test_the_python_api_is_as_quiet_as_the_cli_on_nan_and_inf(monkeypatch, spec, threads):
    """Infinity times a zero weight is NaN: NumPy warns (`invalid value encountered in
    matmul`) unless told not to, and `np.errstate` holds for one thread only. The API, like
    the CLI, lets NaN and Inf propagate without a warning, from the calling thread and
    from every worker (a batch of 8 is shared between 2 workers, one image is split by
    tiles). The warnings filter is global: a warning in any thread would be an error."""
    monkeypatch.setenv("CNNDSL_THREADS", threads)
    net = cnndsl.parse(spec)
    for value in (np.nan, np.inf, -np.inf):
        x = np.full((8, *net.input_shape), value, np.float32)
        x[1] = 1.0
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for dtype in (np.float32, np.float64):
                y = net.run(x, dtype=dtype)
                assert np.isnan(y[0]).all() and np.isfinite(y[1]).all()
                assert np.isnan(net.run(x[0], dtype=dtype)).all()
            maps = net.run_layers(x)
            assert np.isfinite(maps[list(maps)[-1]][1]).all()


def test_the_python_api_is_quiet_in_a_fresh_process():
    """The same, in a process where `-W error` turns every warning into an exception from
    the start, as a user's script with warnings as errors would see it."""
    script = ("import numpy as np, cnndsl\n"
              f"for spec in {API_NETS!r}:\n"
              "    net = cnndsl.parse(spec)\n"
              "    x = np.full((8, *net.input_shape), np.inf, np.float32)\n"
              "    net.run(x); net.run(x[0]); net.run_layers(x)\n"
              "print('quiet')\n")
    result = subprocess.run([sys.executable, "-W", "error", "-c", script], env=environ(),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout == "quiet\n", result.stderr
    assert result.stderr == ""


def test_zero_examples(work):
    np.save("none.npy", np.zeros((0, 4), np.float32))
    assert cli("run", "net.cnn", "--input", "none.npy", "-o", "out.npy")[0] == 0
    assert np.load("out.npy").shape == (0, 2)


# ---- seeds, batches and layers ------------------------------------------------------------

def seed_input(n: int = 10) -> np.ndarray:
    return np.random.default_rng(7).normal(size=(n, 6, 6, 1)).astype(np.float32)


def test_seeded_weights_are_the_python_apis(work):
    np.save("imgs.npy", seed_input())
    net = cnndsl.parse(SEED_NET)
    for seed in (0, 3):
        net.init_weights(seed)
        args = ["--seed", str(seed)] if seed else []  # 0 is the default
        assert cli("run", "seed.cnn", "--input", "imgs.npy", "-o", "out.npy",
                   *args)[0] == 0
        np.testing.assert_allclose(np.load("out.npy"), net.run(seed_input()), rtol=1e-6)
    assert not np.allclose(net.run(seed_input()), cnndsl.parse(SEED_NET).run(seed_input()))


@pytest.mark.parametrize("batch", [1, 3, 7])
def test_batches_equal_one_shot(work, batch):
    np.save("imgs.npy", seed_input())
    argv = ["run", "seed.cnn", "--input", "imgs.npy", "--seed", "5"]
    assert cli(*argv, "-o", "one.npy", "--batch-size", "10")[0] == 0
    assert cli(*argv, "-o", "out.npy", "--batch-size", batch)[0] == 0
    assert np.load("out.npy").shape == (10, 10)
    np.testing.assert_allclose(np.load("out.npy"), np.load("one.npy"), rtol=1e-5, atol=1e-6)


def test_layers_keys_and_shapes(work):
    np.save("imgs.npy", seed_input())
    rc, out, err = cli("run", "seed.cnn", "--input", "imgs.npy", "-o", "out.npy",
                       "--layers", "layers.npz", "--batch-size", "3")
    assert rc == 0, err
    assert out == "ok: out.npy (10, 10) float32, every layer -> layers.npz\n"
    with np.load("layers.npz") as layers:
        shapes = {k: layers[k].shape for k in layers.files}
        assert shapes == {"input": (10, 6, 6, 1), "conv_1": (10, 4, 4, 2),
                          "maxpool_1": (10, 2, 2, 2), "flatten_1": (10, 8),
                          "dense_1": (10, 10)}
        np.testing.assert_array_equal(layers["input"], seed_input())
        np.testing.assert_allclose(layers["dense_1"], np.load("out.npy"), rtol=1e-6)
        whole = cnndsl.parse(SEED_NET)
        whole.init_weights(0)
        expected = whole.run_layers(seed_input())
        for name in shapes:
            np.testing.assert_allclose(layers[name], expected[name], rtol=1e-5, atol=1e-6)
    assert leftovers(work) == []


# ---- user errors: exit 1, a message, a hint, the old output untouched ---------------------

def write_bad_inputs() -> None:
    np.save("wide.npy", np.zeros((10, 5), np.float32))
    np.save("flat.npy", np.zeros(40, np.float32))
    np.save("strings.npy", np.array([["a", "b", "c", "d"]]))
    np.save("complex.npy", np.zeros((2, 4), complex))
    np.save("objects.npy", np.array([[1, None, 2, 3]], dtype=object), allow_pickle=True)
    np.savez("objects.npz", x=np.array([1, None], dtype=object))
    np.savez("empty.npz")
    np.savez("two.npz", a=X, b=X)
    Path("pickle.npy").write_bytes(pickle.dumps(X.tolist()))
    Path("text.npy").write_text("1, 2, 3, 4\n", encoding="utf-8")
    Path("zero.npy").write_bytes(b"")
    Path("truncated.npy").write_bytes(Path("x.npy").read_bytes()[:-8])
    Path("header.npy").write_bytes(Path("x.npy").read_bytes()[:20])
    # A header NumPy's reader accepts as it is: shape (-1, 4) (found by test_fuzz_files,
    # once inputs were read with pread: the run "succeeded" with an output of (-1, 2)).
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 4), }"
    header += b" " * (117 - len(header)) + b"\n"
    Path("negative.npy").write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little")
                                     + header)
    Path("truncated.npz").write_bytes(Path("w.npz").read_bytes()[:100])
    with zipfile.ZipFile("notes.npz", "w") as z:
        z.writestr("notes.txt", "not an array")
    np.savez("wmissing.npz", **{"dense_1/kernel": KERNEL})
    np.savez("wextra.npz", **{"dense_1/kernel": KERNEL, "dense_1/bias": BIAS,
                              "dense_9/bias": BIAS})
    np.savez("wshape.npz", **{"dense_1/kernel": KERNEL.T, "dense_1/bias": BIAS})
    Path("w.keras").write_bytes(b"PK\x03\x04 not really keras")
    Path("afile").write_text("", encoding="utf-8")
    Path("adir").mkdir()
    Path("adir.npy").mkdir()


IN, W = ("--input",), ("--weights",)
USER_ERRORS = [
    # (extra argv, the stderr's first line starts with, and contains)
    ((*IN, "nope.npy"), "nope.npy: error: no such file", ""),
    ((*IN, "adir"), "adir: error: is a directory", ""),
    ((*IN, "zero.npy"), "zero.npy: error: the file is empty", ""),
    ((*IN, "text.npy"), "text.npy: error: not a .npy or .npz file", ""),
    ((*IN, "truncated.npy"), "truncated.npy: error: the file is truncated: it has 168 bytes, "
     "its header declares 176", ""),
    ((*IN, "header.npy"), "header.npy: error: the file is truncated or corrupt", ""),
    ((*IN, "negative.npy"), "negative.npy: error: the file is truncated or corrupt (a "
     "negative size in its shape (-1, 4))", ""),
    ((*IN, "truncated.npz"), "truncated.npz: error: the file is truncated or corrupt", ""),
    ((*IN, "notes.npz"), "notes.npz: error: `notes.txt` in the archive is not", ""),
    ((*IN, "pickle.npy"), "pickle.npy: error: the file holds pickled Python objects", ""),
    ((*IN, "objects.npy"), "objects.npy: error: the file holds pickled Python objects", ""),
    ((*IN, "objects.npz"), "objects.npz: error: the file holds pickled Python objects", ""),
    ((*IN, "empty.npz"), "empty.npz: error: the archive holds no arrays", ""),
    ((*IN, "two.npz"), "two.npz: error: the archive holds 2 arrays (a, b)", "exactly one"),
    ((*IN, "wide.npy"), "wide.npy: error: the input has shape (10, 5)", "(N, 4)"),
    ((*IN, "flat.npy"), "flat.npy: error: the input has shape (40,)", "or (4,) for one"),
    ((*IN, "strings.npy"), "strings.npy: error: the input holds strings (dtype <U1)", ""),
    ((*IN, "complex.npy"), "complex.npy: error: the input holds complex numbers", ""),
    (("-o", "nodir/out.npy"), "nodir/out.npy: error: the directory nodir does not exist", ""),
    (("-o", "afile/out.npy"), "afile/out.npy: error: the directory afile is not a", ""),
    (("-o", "adir"), "adir: error: -o must name a .npy or .npz file", ""),
    (("-o", "adir.npy"), "adir.npy: error: is a directory", ""),
    (("-o", "out.txt"), "out.txt: error: -o must name a .npy or .npz file", "-o out.npy"),
    ((*W, "nope.npz"), "nope.npz: error: no such file", ""),
    ((*W, "x.npy"), "x.npy: error: weights must be an .npz archive", ""),
    ((*W, "w.keras"), "w.keras: error: the file is not a Keras model", ""),
    ((*W, "wmissing.npz"), "wmissing.npz: error: the weights do not fit the network",
     "missing: dense_1/bias"),
    ((*W, "wextra.npz"), "wextra.npz: error: the weights do not fit the network",
     "not in the network: dense_9/bias"),
    ((*W, "wshape.npz"), "wshape.npz: error: the weights do not fit the network",
     "dense_1/kernel has shape (2, 4), expected (4, 2)"),
    ((*W, "objects.npz"), "objects.npz: error: member `x` holds pickled Python objects", ""),
    (("--batch-size", "0"), "cnndsl run: error: --batch-size must be at least 1, got 0", ""),
    (("--batch-size", "-3"), "cnndsl run: error: --batch-size must be at least 1", ""),
    (("--seed", "-1"), "cnndsl run: error: --seed must be 0 or more, got -1", ""),
    (("--layers", "l.npy"), "l.npy: error: --layers must name a .npz file", ""),
    (("--layers", "nodir/l.npz"), "nodir/l.npz: error: the directory nodir does not", ""),
    (("--layers", "out.npz", "-o", "out.npz"), "out.npz: error: --layers and -o name the", ""),
]


@pytest.mark.parametrize("extra, first, contains", USER_ERRORS,
                         ids=[" ".join(e[0]) for e in USER_ERRORS])
def test_user_error(work, extra, first, contains):
    write_bad_inputs()
    argv = {"--input": "x.npy", "-o": "out.npy"}
    rest = list(extra)
    for option in ("--input", "-o"):
        if option in rest:
            at = rest.index(option)
            argv[option] = rest.pop(at + 1)
            rest.pop(at)
    rc, out, err = cli("run", "net.cnn", "--input", argv["--input"], "-o", argv["-o"],
                       *rest)
    assert rc == 1
    assert out == ""
    assert err.startswith(first), err
    assert contains in err
    assert "\nhint: " in err
    assert Path("out.npy").read_bytes() == OLD
    assert leftovers(work) == []


@pytest.mark.parametrize("shape, hint", [
    ((3, 6, 6), "hint: add the channel axis: `x[..., None]` in NumPy"),  # grey, no channels
    ((6, 6), "hint: add the channel axis: `x[..., None]` in NumPy"),  # one example
    ((3, 6, 6, 1, 1), "hint: drop the extra axis of size 1: `x[..., 0]`"),
    ((3, 5, 5, 1), "hint: the network's first step, `input 6x6x1`"),  # not a channel problem
])
def test_an_input_missing_its_channel_axis_says_how_to_add_it(work, shape, hint):
    np.save("grey.npy", np.zeros(shape, np.float32))
    rc, out, err = cli("run", "seed.cnn", "--input", "grey.npy", "-o", "out.npy")
    assert rc == 1 and out == ""
    assert err.startswith(f"grey.npy: error: the input has shape {shape}; the network takes "
                          "(N, 6, 6, 1)"), err
    assert hint in err
    assert Path("out.npy").read_bytes() == OLD


def test_an_npz_input_missing_its_channel_axis_names_the_array(work):
    Path("two.cnn").write_text("input 4x4x1 as image -> flatten as f\ninput 2 as meta\n"
                               "concat { @f | @meta } -> dense 1\n", encoding="utf-8")
    np.savez("in.npz", image=np.zeros((2, 4, 4), np.float32), meta=np.zeros((2, 2)))
    rc, _, err = cli("run", "two.cnn", "--input", "in.npz", "-o", "out.npz")
    assert rc == 1
    assert "array `image` has shape (2, 4, 4)" in err
    assert "hint: add the channel axis: `image[..., None]` in NumPy" in err


def test_spec_error_is_located(work):
    Path("bad.cnn").write_text("input 6x6x1 -> conv 7x7 x2\n", encoding="utf-8")
    rc, _, err = cli("run", "bad.cnn", "--input", "x.npy", "-o", "out.npy")
    assert rc == 1
    assert err.startswith("bad.cnn:1:16: error: kernel 7x7 is larger")
    assert Path("out.npy").read_bytes() == OLD


def test_unwritable_directory(work, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(files.tempfile, "mkstemp", refuse)  # root may write anywhere
    rc, _, err = cli("run", "net.cnn", "--input", "x.npy", "-o", "out.npy")
    assert rc == 1
    assert err.startswith("out.npy: error: cannot write the output: Permission denied")
    assert "\nhint: " in err and Path("out.npy").read_bytes() == OLD


def test_weights_and_seed_together_are_a_usage_error(work, capsys):
    try:
        rc = main(["run", "net.cnn", "--input", "x.npy", "-o", "out.npy", "--weights", "w.npz",
                   "--seed", "1"])
    except SystemExit as e:  # argparse's own exit, if main lets it through
        rc = e.code
    assert rc == 2
    assert "not allowed with argument" in capsys.readouterr().err
    assert Path("out.npy").read_bytes() == OLD


# ---- an output never destroys an input ----------------------------------------------------

RUN = ("run", "net.cnn", "--input", "x.npy")
ALIASES = [
    # (argv, the output named in the message, what it would overwrite)
    ((*RUN, "-o", "x.npy"), "x.npy", "the input itself"),
    ((*RUN, "-o", "sub/../x.npy"), "sub/../x.npy", "the input (x.npy)"),
    ((*RUN, "-o", "hard.npy"), "hard.npy", "the input (x.npy)"),
    ((*RUN, "-o", "sym.npy"), "sym.npy", "the input (x.npy)"),
    ((*RUN, "-o", "out.npy", "--layers", "sym.npz"), "sym.npz", "the input (x.npy)"),
    (("run", "net.cnn", "--input", "xz.npz", "-o", "xz.npz"), "xz.npz", "the input itself"),
    (("run", "net.cnn", "--input", "xz.npz", "-o", "out.npy", "--layers", "xz.npz"), "xz.npz",
     "the input itself"),
    ((*RUN, "-o", "out.npy", "--weights", "w.npz", "--layers", "w.npz"), "w.npz",
     "the weights file itself"),
    ((*RUN, "-o", "hardw.npz", "--weights", "w.npz"), "hardw.npz", "the weights file (w.npz)"),
    (("run", "net.npz", "--input", "x.npy", "-o", "out.npy", "--layers", "net.npz"), "net.npz",
     "the spec itself"),
    (("run", "net.npy", "--input", "x.npy", "-o", "symspec.npy"), "symspec.npy",
     "the spec (net.npy)"),
]


@pytest.mark.parametrize("argv, name, words", ALIASES, ids=[" ".join(a[0][2:]) for a in ALIASES])
def test_an_output_that_is_an_input_is_refused(work, argv, name, words):
    """`-o x.npy --input x.npy` used to overwrite the input, and `--layers` the input
    archive, the weights or the spec: refused, whichever way the output names the file
    (the same text, another path, a hard or symbolic link), before anything is read."""
    Path("sub").mkdir()
    np.savez("xz.npz", X)
    for spec in ("net.npz", "net.npy"):
        Path(spec).write_text("input 4 -> dense 2\n", encoding="utf-8")
    os.link("x.npy", "hard.npy")
    os.link("w.npz", "hardw.npz")
    for link, target in (("sym.npy", "x.npy"), ("sym.npz", "x.npy"),
                         ("symspec.npy", "net.npy")):
        os.symlink(target, link)
    before = {p.name: p.read_bytes() for p in work.iterdir() if p.is_file()}
    option = argv[len(argv) - 2 - argv[::-1].index(name)]  # the option before the output
    rc, out, err = cli(*argv)
    assert rc == 1 and out == "", err
    assert err.startswith(f"{name}: error: the output would overwrite {words}\n"), err
    assert f"\nhint: write to another file, e.g. {option} " in err
    assert {p.name: p.read_bytes() for p in work.iterdir() if p.is_file()} == before
    assert all(Path(link).is_symlink() for link in ("sym.npy", "sym.npz", "symspec.npy"))
    assert leftovers(work) == []


def test_compile_refuses_to_overwrite_its_spec_or_weights(work):
    """`compile` refused only `-o` equal to the spec's own path: now any path to it, and
    the weights file too (checked before Keras is imported)."""
    Path("net.py").write_text("input 4 -> dense 2\n", encoding="utf-8")
    os.symlink("net.py", "link.py")
    os.symlink("w.npz", "w.keras")
    before = {p.name: p.read_bytes() for p in work.iterdir() if p.is_file()}
    cases = [(["compile", "net.py", "--emit", "python", "-o", "link.py"], "link.py",
              "the spec (net.py)"),
             (["compile", "net.cnn", "--weights", "w.npz", "-o", "w.keras"], "w.keras",
              "the weights file (w.npz)")]
    for argv, name, words in cases:
        rc, out, err = cli(*argv)
        assert rc == 1 and out == "", err
        assert err.startswith(f"{name}: error: the output would overwrite {words}\n"), err
        assert "\nhint: " in err
    assert {p.name: p.read_bytes() for p in work.iterdir() if p.is_file()} == before
    assert Path("link.py").is_symlink() and Path("w.keras").is_symlink()


@pytest.mark.parametrize("option", ["-o", "--layers"])
def test_a_symbolic_link_is_written_through(work, option):
    """`-o link.npy` replaced the link with a regular file: the output now goes to the
    link's target, and the link stays a link (also across directories, and when the
    target does not exist yet)."""
    Path("real").mkdir()
    suffix = ".npy" if option == "-o" else ".npz"
    target = Path("real") / f"target{suffix}"
    target.write_bytes(OLD)
    os.symlink(target, f"link{suffix}")
    os.symlink(Path("real") / f"new{suffix}", f"dangling{suffix}")
    for name, real in ((f"link{suffix}", target),
                       (f"dangling{suffix}", Path("real") / f"new{suffix}")):
        argv = ["-o", name] if option == "-o" else ["-o", "out.npy", "--layers", name]
        rc, out, err = cli("run", "net.cnn", "--input", "x.npy", "--weights", "w.npz",
                           *argv)
        assert rc == 0, err
        assert Path(name).is_symlink() and os.readlink(name) == str(real)
        if option == "-o":
            np.testing.assert_array_equal(np.load(real), Y)
        else:
            with np.load(real) as layers:
                np.testing.assert_array_equal(layers["dense_1"], Y)
        assert leftovers(work) == [] and leftovers(work / "real") == []


# ---- inputs read in batches, never mapped -------------------------------------------------

@pytest.mark.parametrize("batch", [1, 2, 3, 5])
@pytest.mark.parametrize("layout", ["C", "F", "big-endian", "F big-endian"])
def test_inputs_in_any_layout_are_read_a_batch_at_a_time(work, layout, batch):
    """Rows are read with plain reads at their offset: a Fortran-order file holds each
    column's rows together, read column by column (or whole, when the batch is)."""
    x = np.random.default_rng(3).normal(size=(5, 4)).astype(
        ">f4" if "big" in layout else np.float32)
    np.save("odd.npy", np.asfortranarray(x) if "F" in layout else x)
    with open("odd.npy", "rb") as f:
        np.lib.format.read_magic(f)
        assert np.lib.format.read_array_header_1_0(f)[1] == ("F" in layout)
    rc, _, err = cli("run", "net.cnn", "--input", "odd.npy", "-o", "out.npy",
                     "--weights", "w.npz", "--batch-size", str(batch))
    assert rc == 0, err
    np.testing.assert_allclose(np.load("out.npy"), x.astype(np.float32) @ KERNEL + BIAS,
                               rtol=1e-6)


def test_input_truncated_while_being_read(work, monkeypatch):
    """The input shrinks between two batches (another program rewrites it): a clear error
    with the sizes, where a memory-mapped input ended in a bus error (SIGBUS, exit 135),
    no message, and the temporary output left behind."""
    from cnndsl.backends.numpy import Interpreter

    np.save("x.npy", np.tile(X, (4, 1)))  # 12 rows of 16 bytes after a 128-byte header
    original = Interpreter._run

    def shrink_after_first(self, x):
        os.truncate("x.npy", 128 + 3 * 16 + 5)
        return original(self, x)

    monkeypatch.setattr(Interpreter, "_run", shrink_after_first)
    rc, out, err = cli("run", "net.cnn", "--input", "x.npy", "-o", "out.npy",
                       "--batch-size", "4")
    assert rc == 1 and out == ""
    assert err.startswith("x.npy: error: the file was truncated while being read (now 181 "
                          "bytes, expected 320)\nhint: "), err
    assert Path("out.npy").read_bytes() == OLD and leftovers(work) == []


def test_input_truncated_while_being_read_by_another_process(work):
    """The same, for real: a 256 MB input truncated by `truncate` while `cnndsl run` reads
    it. Memory-mapped, this was a bus error (exit 135, no message, a temporary file left
    behind)."""
    proc = start_slow_run(work)
    os.truncate("big.npy", 4096)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert re.match(rb"big\.npy: error: the file was truncated while being read \(now "
                    rb"4,096 bytes, expected 256,000,128\)\nhint: ", err), err
    assert Path("out.npy").read_bytes() == OLD and leftovers(work) == []


def test_input_larger_than_the_address_space_is_read(work):
    """Mapped, a 512 MiB input under a 400 MiB address-space limit (`ulimit -v`; the
    command itself takes about 150 MiB) was "truncated or corrupt ([Errno 12] Cannot
    allocate memory)": now it is read a batch at a time, within the limit."""
    import resource

    np.lib.format.open_memmap("huge.npy", mode="w+", dtype=np.float32,
                              shape=(2**17, 1024)).flush()  # sparse: quick to make
    Path("wide.cnn").write_text("input 1024 -> dense 2\n", encoding="utf-8")
    limit = 400 * 2**20

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    result = subprocess.run([sys.executable, "-m", "cnndsl", "run", "wide.cnn", "--input",
                             "huge.npy", "-o", "out.npy", "--batch-size", "4096"],
                            env={**environ(), "CNNDSL_THREADS": "1",
                                 "OPENBLAS_NUM_THREADS": "1"},
                            preexec_fn=cap, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert np.load("out.npy", mmap_mode="r").shape == (2**17, 2)


def test_not_enough_memory_to_read_is_not_called_corrupt(tmp_path):
    error = files.unreadable(tmp_path / "x.npy", OSError(12, "Cannot allocate memory"),
                             "a .npy file")
    assert "memory" in error.message and "corrupt" not in error.message
    assert "truncated" not in error.message and error.hint


@pytest.mark.parametrize("option", ["--input", "--weights"])
def test_a_fifo_is_refused_not_waited_on(work, option):
    """Opening a FIFO for reading waits for a writer: forever, if none comes."""
    os.mkfifo("pipe.npz")
    argv = ["--input", "pipe.npz"] if option == "--input" else ["--input", "x.npy",
                                                                  "--weights", "pipe.npz"]
    result = subprocess.run([sys.executable, "-m", "cnndsl", "run", "net.cnn", *argv,
                             "-o", "out.npy"], env=environ(), capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith("pipe.npz: error: is a named pipe (FIFO), not a regular "
                                    "file\nhint: "), result.stderr
    assert Path("out.npy").read_bytes() == OLD


# ---- failures during the run: nothing half-written ----------------------------------------

def fail_on_second_batch(monkeypatch, error: BaseException) -> None:
    from cnndsl.backends.numpy import Interpreter

    calls = []
    original = Interpreter._run

    def flaky(self, x):
        calls.append(len(x))
        if len(calls) == 2:
            raise error
        return original(self, x)

    monkeypatch.setattr(Interpreter, "_run", flaky)


@pytest.mark.parametrize("output", ["out.npy", "out.npz"])
def test_crash_mid_run_leaves_the_old_output(work, monkeypatch, output):
    Path(output).write_bytes(OLD)
    fail_on_second_batch(monkeypatch, RuntimeError("boom"))
    rc, _, err = cli("run", "net.cnn", "--input", "x.npy", "-o", output,
                     "--batch-size", "1", "--layers", "layers.npz")
    assert rc == 3 and "internal error: RuntimeError: boom" in err
    assert Path(output).read_bytes() == OLD
    assert not Path("layers.npz").exists()
    assert leftovers(work) == []


def test_ctrl_c_mid_run(work, monkeypatch):
    fail_on_second_batch(monkeypatch, KeyboardInterrupt())
    rc, out, err = cli("run", "net.cnn", "--input", "x.npy", "-o", "out.npy",
                       "--batch-size", "1")
    assert rc == 130
    assert err == "cnndsl run: interrupted; out.npy was not written\n"
    assert Path("out.npy").read_bytes() == OLD and leftovers(work) == []


def test_layers_write_failure(work, monkeypatch):
    Path("layers.npz").write_bytes(OLD)

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np.lib.format, "write_array", full)
    rc, _, err = cli("run", "net.cnn", "--input", "x.npy", "-o", "out.npy",
                     "--layers", "layers.npz")
    assert rc == 1
    assert err.startswith("layers.npz: error: cannot write the layers file: No space left")
    assert Path("out.npy").read_bytes() == OLD == Path("layers.npz").read_bytes()
    assert leftovers(work) == []


# ---- progress bar -------------------------------------------------------------------------

class Terminal:
    def __init__(self) -> None:
        self.text = ""

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass


def test_progress_bar_only_after_a_second():
    now = [100.0]
    term = Terminal()
    bar = runner.Progress(1024, term, clock=lambda: now[0])
    bar.update(256)
    assert term.text == ""  # a quick run draws nothing
    now[0] = 103.25
    bar.update(512)
    bar.update(600)  # within a tenth of a second of the last: not redrawn
    now[0] = 104.0
    bar.update(1024)
    bar.close()
    assert term.text == ("\r[###############...............] 512/1024 examples 3.2 s"
                         "\r[##############################] 1024/1024 examples 4.0 s\n")


def test_progress_bar_on_a_terminal(work, monkeypatch):
    np.save("imgs.npy", seed_input())
    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    monkeypatch.setattr(runner.Progress, "DELAY", 0.0)  # as if the run had been slow
    assert main(["run", "seed.cnn", "--input", "imgs.npy", "-o", "out.npy",
                 "--batch-size", "4"]) == 0
    assert re.fullmatch(r"(\r\[#*\.*\] (4|8|10)/10 examples \d+\.\d s)+\n", term.text)
    assert re.search(r"\r\[#{30}\] 10/10 examples \d+\.\d s\n$", term.text)


def test_no_progress_bar_off_a_terminal(work):
    np.save("imgs.npy", seed_input())
    rc, _, err = cli("run", "seed.cnn", "--input", "imgs.npy", "-o", "out.npy")
    assert rc == 0 and err == ""
    assert not runner.Progress(10, sys.stderr).enabled  # pytest captures stderr


# ---- subprocesses: no TensorFlow, interrupts ----------------------------------------------

def environ() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


NO_TF_SCRIPT = r"""
import json, sys
from cnndsl.cli import main
codes = [main(argv) for argv in ARGVS]
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tf_keras"))
print(json.dumps({"codes": codes, "loaded": loaded}))
"""


def test_run_does_not_import_tensorflow_or_keras(work):
    fake = work / "fake"  # importable stand-ins: any import of them would show in sys.modules
    for name in ("tensorflow", "keras", "tf_keras"):
        (fake / name).mkdir(parents=True)
        (fake / name / "__init__.py").write_text("", encoding="utf-8")
    Path("w.keras").write_bytes(b"PK\x03\x04")
    # NaN and Inf through threaded convolutions: no RuntimeWarning from any thread either.
    Path("conv.cnn").write_text("input 32x32x3 -> conv 3x3 x16 same relu -> conv 3x3 x16 -> "
                                "gap -> dense 4 softmax\n", encoding="utf-8")
    odd = np.random.default_rng(0).normal(size=(64, 32, 32, 3)).astype(np.float32)
    odd[0, 0, 0, 0], odd[1], odd[2] = np.nan, np.inf, 1e30
    np.save("odd.npy", odd)
    argvs = [["run", "net.cnn", "--input", "x.npy", "-o", "a.npy", "--weights", "w.npz"],
             ["run", "seed.cnn", "--input", "x.npy", "-o", "b.npy"],  # shape error
             ["run", "net.cnn", "--input", "x.npy", "-o", "c.npz", "--layers", "l.npz"],
             ["run", "net.cnn", "--input", "x.npy", "-o", "d.npy", "--weights", "w.keras"],
             ["run", "conv.cnn", "--input", "odd.npy", "-o", "e.npy"]]
    env = {**environ(), "PYTHONPATH": os.pathsep.join([str(fake), str(ROOT)])}
    result = subprocess.run([sys.executable, "-c", NO_TF_SCRIPT.replace("ARGVS", repr(argvs))],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().split("\n")[-1])
    assert report == {"codes": [0, 1, 0, 1, 0], "loaded": []}
    assert "Warning" not in result.stderr, result.stderr
    np.testing.assert_array_equal(np.load("a.npy"), Y)
    e = np.load("e.npy")
    assert np.isnan(e[:2]).all() and np.isfinite(e[2:]).all()


def start_slow_run(work: Path) -> subprocess.Popen:
    """`python -m cnndsl run` over 2,000,000 examples one at a time (a minute here: far
    more than the time to signal it on any machine), once its temporary output exists.
    The input is a sparse file of zeros, quick to make."""
    Path("slow.cnn").write_text("input 32 -> dense 256 -> relu -> dense 256 -> dense 8\n",
                                encoding="utf-8")
    np.lib.format.open_memmap("big.npy", mode="w+", dtype=np.float32,
                              shape=(2_000_000, 32)).flush()
    proc = subprocess.Popen([sys.executable, "-m", "cnndsl", "run", "slow.cnn", "--input",
                             "big.npy", "-o", "out.npy", "--batch-size", "1"], cwd=work,
                            env=environ(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120  # a slow machine's imports, not the run
    while not any(TEMP.match(name) for name in leftovers(work)):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never started writing"
        time.sleep(0.02)
    time.sleep(0.3)  # well into the run, rows being written
    assert proc.poll() is None, "the run finished too soon to be interrupted"
    return proc


def test_sigkill_mid_run_keeps_the_old_output(work):
    """SIGKILL cannot be caught, so the staged file stays behind: hidden, named after the
    output (`.out.npy.XXXXXXXX.tmp`), and the old output is byte for byte as it was."""
    proc = start_slow_run(work)
    proc.kill()
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert Path("out.npy").read_bytes() == OLD
    left = leftovers(work)
    assert len(left) == 1 and TEMP.match(left[0]), left


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
def test_interrupt_mid_run_cleans_up(work, signum):
    proc = start_slow_run(work)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signum, err
    assert err.decode() == "cnndsl run: interrupted; out.npy was not written\n"
    assert Path("out.npy").read_bytes() == OLD
    assert leftovers(work) == []

"""Every command's files against each other (cnndsl/support/paths.py), the history written whole
(cnndsl/training/history.py), and file names that are not UTF-8: the regressions of
issue 19, items 1, 4, 7 and 11, each on the exact input that broke it.

The refusals come before TensorFlow is imported: the `no_tensorflow` fixture makes the
Keras backend's entry point fail the test, so these run in-process in a fraction of a
second. The random search over every path option of every command is
tests/test_fuzz_paths.py.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from outcomes import TensorFlowWanted, cli, no_tensorflow

from cnndsl.cli import main
from cnndsl.support import files, paths
from cnndsl.training.history import HistoryFile, columns

ROOT = Path(__file__).resolve().parent.parent
NET = "input 4 -> dense 8 relu -> dense 3 softmax\n"
HAVE_KERAS = (importlib.util.find_spec("keras") is not None
              and importlib.util.find_spec("tensorflow") is not None)


@pytest.fixture(name="no_tensorflow")
def _no_tensorflow():
    with no_tensorflow():
        yield


@pytest.fixture
def work(tmp_path, monkeypatch):
    """The issue's files: a spec, training and validation data, weights."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    Path("net.cnn").write_text(NET, encoding="utf-8")
    np.savez("d.npz", x=rng.normal(size=(40, 4)).astype(np.float32), y=rng.integers(0, 3, 40))
    np.savez("v.npz", x=rng.normal(size=(10, 4)).astype(np.float32), y=rng.integers(0, 3, 10))
    files.write_npz("w.npz", {"dense_1/kernel": np.ones((4, 8), np.float32),
                              "dense_1/bias": np.zeros(8, np.float32),
                              "dense_2/kernel": np.ones((8, 3), np.float32),
                              "dense_2/bias": np.zeros(3, np.float32)})
    return tmp_path


def sums(directory: Path) -> dict[str, str]:
    """Every entry below `directory`: a file's checksum, a link's target, `dir`."""
    out = {}
    for p in sorted(directory.rglob("*")):
        key = str(p.relative_to(directory))
        out[key] = (f"-> {os.readlink(p)}" if p.is_symlink() else "dir" if p.is_dir()
                    else hashlib.sha256(p.read_bytes()).hexdigest())
    return out


TRAIN = ("train", "net.cnn", "--data", "d.npz", "--val", "v.npz", "-o", "m.keras",
         "--epochs", "1")

# Issue 19, item 1: --history naming an input truncated the mapped data (SIGBUS, exit 135)
# or overwrote the spec or the weights (exit 0); naming -o, the history was lost (exit 0).
HISTORY_CASES = [
    (("--history", "d.npz"), "d.npz: error: the output would overwrite the data itself"),
    (("--history", "v.npz"), "v.npz: error: the output would overwrite the validation data "
     "itself"),
    (("--history", "net.cnn"), "net.cnn: error: the output would overwrite the spec itself"),
    (("--history", "w.npz", "--weights", "w.npz"), "w.npz: error: the output would "
     "overwrite the weights file itself"),
    (("--history", "m.keras"), "m.keras: error: --history and -o name the same file"),
]


@pytest.mark.parametrize("flags, said", HISTORY_CASES, ids=[c[1] for c, _ in HISTORY_CASES])
def test_regression_history_naming_an_input_or_the_model_is_refused(work,
                                                                    no_tensorflow, flags,
                                                                    said):
    before = sums(work)
    rc, out, err = cli(*TRAIN, *flags)
    assert rc == 1 and out == "", err
    assert err.startswith(said), err
    assert "\nhint: " in err
    assert sums(work) == before


def test_the_history_through_links_and_the_plot_are_checked_too(work, no_tensorflow):
    os.symlink("d.npz", "sym.csv")
    os.link("v.npz", "hard.csv")
    before = sums(work)
    for flags, said in [(("--history", "sym.csv"), "the data (d.npz)"),
                        (("--history", "hard.csv"), "the validation data (v.npz)"),
                        (("--history", "h.csv", "--plot", "./h.csv"), "--plot and --history"),
                        (("--plot", "m.history.csv"), "--plot and --history")]:
        rc, _, err = cli(*TRAIN, *flags)
        assert rc == 1 and said in err.split("\n")[0], err
    assert sums(work) == before


# Item 7: --checkpoint-dir naming a file, /dev/null or a path that cannot be made was an
# internal error (FileExistsError, NotADirectoryError; exit 3) after TensorFlow's import.
CHECKPOINT_CASES = [
    ("afile", "afile: error: --checkpoint-dir names a file, not a directory"),
    (os.devnull, f"{os.devnull}: error: --checkpoint-dir names a device, not a directory"),
    ("afile/sub", "afile/sub: error: cannot make the directory: "),
    ("d.npz", "d.npz: error: --checkpoint-dir is the data"),
    (".", ".: error: --checkpoint-dir would hold the spec (net.cnn)"),
]


@pytest.mark.parametrize("directory, said", CHECKPOINT_CASES,
                         ids=[d for d, _ in CHECKPOINT_CASES])
def test_regression_checkpoint_dir_that_cannot_be_one_is_refused_before_tensorflow(
        work, no_tensorflow, directory, said):
    Path("afile").write_text("a file\n", encoding="utf-8")
    before = sums(work)
    rc, out, err = cli(*TRAIN, "--checkpoint-dir", directory)
    assert rc == 1 and out == "", err
    assert err.startswith(said), err
    assert "\nhint: " in err
    assert sums(work) == before


def test_regression_checkpoint_dir_that_mkdir_refuses_is_refused_before_tensorflow(
        work, no_tensorflow, monkeypatch):
    """A directory the checks cannot judge (`/proc/nope/x` on Linux: its parent looks
    writable to root) is made before TensorFlow, so mkdir's refusal is an error there."""
    def refuse(self, *args, **kwargs):
        raise FileNotFoundError(2, "No such file or directory")
    monkeypatch.setattr(Path, "mkdir", refuse)
    rc, out, err = cli(*TRAIN, "--checkpoint-dir", "new/ckpt")
    assert rc == 1 and out == "", err
    assert err.startswith("new/ckpt: error: cannot make the directory: No such file or "
                          "directory\nhint: "), err


def test_an_empty_checkpoint_dir_made_for_a_run_that_failed_is_removed(work,
                                                                      no_tensorflow):
    with pytest.raises(TensorFlowWanted):
        main(list(TRAIN) + ["--checkpoint-dir", "new/ckpt"])
    assert not Path("new").exists()


def test_an_output_inside_an_input_directory_is_refused(work, no_tensorflow):
    """An image folder as --data: a checkpoint directory inside it would become a class."""
    (work / "images" / "cat").mkdir(parents=True)
    before = sums(work)
    rc, _, err = cli("train", "net.cnn", "--data", "images", "-o", "images/m.keras")
    assert rc == 1
    assert err.startswith("images/m.keras: error: the output would be written inside the "
                          "data, the directory images\nhint: "), err
    rc, _, err = cli("train", "net.cnn", "--data", "images", "-o", "m.keras",
                     "--checkpoint-dir", "images/ckpt")
    assert rc == 1
    assert err.startswith("images/ckpt: error: --checkpoint-dir is inside the data"), err
    assert sums(work) == before


@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="mknod needs root")
def test_an_output_that_is_a_device_is_never_replaced(work):
    """`draw --format svg -o /dev/null` renamed a regular file over the device (as root);
    a private null device stands in for it here."""
    os.mknod("null.svg", 0o666 | 0o020000, os.makedev(1, 3))
    os.mkfifo("fifo.dot")
    for argv, said in [(("draw", "net.cnn", "-o", "null.svg"), "null.svg: error: is a device"),
                       (("draw", "net.cnn", "--format", "dot", "-o", "fifo.dot"),
                        "fifo.dot: error: is a named pipe (FIFO)")]:
        rc, _, err = cli(*argv)
        assert rc == 1 and err.startswith(said), err
    assert Path("null.svg").is_char_device() and Path("fifo.dot").is_fifo()


def test_check_declares_and_refuses_in_order(tmp_path):
    """The data's loss first: an output that is an input is named as such even when its
    suffix is wrong too; then two outputs that are one file; then each output alone."""
    spec = tmp_path / "net.cnn"
    spec.write_text(NET)
    with pytest.raises(files.FileError, match="would overwrite the spec itself"):
        paths.check({"the spec": spec}, {"-o": spec}, suffixes={"-o": (".npy",)})
    with pytest.raises(files.FileError, match="--layers and -o name the same file"):
        paths.check({}, {"-o": tmp_path / "a.npz", "--layers": tmp_path / "sub/../a.npz"})
    with pytest.raises(files.FileError, match=r"-o must name a \.npy file"):
        paths.check({"the spec": spec}, {"-o": tmp_path / "y.txt"}, suffixes={"-o": (".npy",)})
    paths.check({"the spec": "-"}, {"-o": "-", "--layers": None})  # standard streams: free


# ---- item 4: the history, written whole -------------------------------------------------------

def test_the_history_file_is_written_whole_after_each_epoch(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("an old history\n", encoding="utf-8")
    history = HistoryFile(path)
    assert path.read_text() == "an old history\n"  # nothing until an epoch ends
    history.add(0, {"loss": 1.5, "accuracy": 0.25})
    assert path.read_bytes() == (b"epoch,accuracy,loss,val_accuracy,val_loss\r\n"
                                 b"0,0.25,1.5,NA,NA\r\n")
    history.add(1, {"loss": 1.25, "accuracy": 0.5})
    rows = list(csv.DictReader(path.open(newline="")))
    assert [r["loss"] for r in rows] == ["1.5", "1.25"]
    assert [p.name for p in tmp_path.iterdir()] == ["h.csv"]  # no staged file left


def test_a_resumed_history_keeps_the_rows_before_the_resumed_epoch(tmp_path):
    path = tmp_path / "h.csv"
    path.write_bytes(b"epoch,loss,val_loss\r\n0,3,4\r\n1,2,3\r\n2,9,9\r\ngarbage\r\n")
    history = HistoryFile.resumed(path, first_epoch=2)  # the row of epoch 2 outran its
    history.add(2, {"loss": 1.0, "val_loss": 2.0})        # checkpoint (a SIGKILL between)
    assert path.read_bytes() == b"epoch,loss,val_loss\r\n0,3,4\r\n1,2,3\r\n2,1.0,2.0\r\n"
    assert HistoryFile.resumed(tmp_path / "none.csv", 5).rows == []
    assert columns({"loss": 1, "val_loss": 2}) == ["loss", "val_loss"]


SIGTERM_AT_FIRST_STEP = """
import os, signal, sys
from cnndsl.training import fit

def callbacks(*args, **kwargs):
    import keras

    class Term(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            os.kill(os.getpid(), signal.SIGTERM)

    return [*callbacks.keras_own(*args, **kwargs), Term()]

callbacks.keras_own = fit.callbacks
fit.callbacks = callbacks
from cnndsl.cli import entry
sys.argv = ["cnndsl", *sys.argv[1:]]
entry()
"""


@pytest.mark.skipif(not HAVE_KERAS, reason="pip install 'cnndsl[keras]'")
def test_regression_sigterm_before_the_first_epoch_leaves_the_old_history(work):
    """Keras's CSVLogger truncated the history when training began: SIGTERM before the
    first epoch ended left a file of 0 bytes. The old history now stays as it was."""
    Path("h.csv").write_bytes(b"epoch,loss\r\n0,1.5\r\n")
    done = subprocess.run([sys.executable, "-c", SIGTERM_AT_FIRST_STEP, *TRAIN,
                           "--history", "h.csv"], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT),
                                            "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert done.returncode == 128 + signal.SIGTERM, done.stderr[-3000:]
    assert "cnndsl train: interrupted; m.keras was not written" in done.stderr
    assert Path("h.csv").read_bytes() == b"epoch,loss\r\n0,1.5\r\n"
    assert sorted(p.name for p in work.iterdir() if p.name.startswith(".")) == []


# ---- item 11: file names that are not UTF-8 ---------------------------------------------------

def undecodable(work: Path, suffix: str, data: bytes) -> str:
    """`x\\xe9SUFFIX` holding `data`, its name as Python has it (`x\\udce9...`)."""
    name = os.fsdecode(b"x\xe9" + suffix.encode())
    try:
        Path(name).write_bytes(data)
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system takes UTF-8 names only")
    return name


@pytest.mark.parametrize("flags, written", [
    (("-o", "x\udce9.svg"), "<title>x\\xe9"),
    (("-o", "x\udce9.dot"), 'digraph "x\\\\xe9"'),
    (("--style", "volumes", "-o", "x\udce9.svg"), ">x\\xe9 · 3 layers"),
], ids=["svg", "dot", "volumes"])
def test_regression_draw_a_spec_whose_name_is_not_utf8(work, flags, written):
    spec = undecodable(work, ".cnn", NET.encode())
    rc, out, err = cli("draw", spec, *flags)
    assert rc == 0, err  # was: internal error: UnicodeEncodeError, exit 3
    assert out.startswith("ok: x\\xe9."), out
    assert written in Path(flags[-1]).read_text(encoding="utf-8")


def test_regression_compile_onnx_of_a_spec_whose_name_is_not_utf8(work):
    onnx = pytest.importorskip("onnx")
    spec = undecodable(work, ".cnn", NET.encode())
    rc, out, err = cli("compile", spec, "-o", "x\udce9.onnx")
    assert rc == 0, err  # was: internal error: UnicodeEncodeError, exit 3
    assert onnx.load("x\udce9.onnx").graph.name == "x\\xe9"


def test_the_python_api_names_a_network_after_a_stem_that_is_not_utf8(work):
    import cnndsl

    spec = undecodable(work, ".cnn", NET.encode())
    assert cnndsl.load(spec).graph.name == "x\\xe9"


@pytest.mark.skipif(not HAVE_KERAS, reason="pip install 'cnndsl[keras]'")
def test_regression_import_a_model_whose_name_is_not_utf8(work):
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)], name="net")
    name = undecodable(work, ".keras", b"")
    model.save(name)
    rc, out, err = cli("import", name)
    assert rc == 0, err  # was: internal error: UnicodeEncodeError, exit 3
    assert Path("x\udce9.cnn").read_text(encoding="utf-8").startswith(
        "# net: imported from x\\xe9.keras by `cnndsl import`.\n")

"""What the Keras commands print besides their result (issue 19, item 21).

- TensorFlow's C++ start-up lines (`WARNING: All log messages before
  absl::InitializeLog() ...`, `oneDNN custom operations are on`), which ignore
  `TF_CPP_MIN_LOG_LEVEL`, are left out; errors and anything else pass.
- Keras's Python warnings are lines of ours, escaped and cut, not Python's raw
  `UserWarning` with Keras's source path.
- Progress: Keras's bar on a terminal only; elsewhere one plain line per epoch; nothing
  with `--quiet` (train, evaluate, run).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from cnndsl.backends.keras import output as keras_output
from cnndsl.cli import main

ROOT = Path(__file__).resolve().parent.parent

# What `import tensorflow` wrote with TF_ENABLE_ONEDNN_OPTS=1 (tensorflow-cpu 2.21), the
# notice of TensorFlow's GPU builds on a machine without a GPU (logged as an error), one
# error that is not noise, and a line that is no log record.
PREAMBLE = (b"WARNING: All log messages before absl::InitializeLog() is called are written "
            b"to STDERR\n")
ONEDNN = (b"I0000 00:00:1796599868.507145   13262 port.cc:153] oneDNN custom operations are "
          b"on. You may see slightly different numerical results due to floating-point "
          b"round-off errors from different computation orders. To turn them off, set the "
          b"environment variable `TF_ENABLE_ONEDNN_OPTS=0`.\n")
CPU = (b"I0000 00:00:1796599821.583690   13116 cpu_feature_guard.cc:227] This TensorFlow "
       b"binary is optimized to use available CPU instructions in performance-critical "
       b"operations.\nTo enable the following instructions: AVX2 FMA, in other operations, "
       b"rebuild TensorFlow with the appropriate compiler flags.\n")
OLD_WARNING = (b"2024-03-01 10:00:00.123456: W tensorflow/compiler/tf2tensorrt/utils/"
               b"py_utils.cc:38] TF-TRT Warning: Could not find TensorRT\n")
GPU_NOISE = (b"E0000 00:00:1796599868.600000   13262 cuda_dnn.cc:8310] Unable to register "
             b"cuDNN factory: Attempting to register factory for plugin cuDNN when one has "
             b"already been registered\n")
REAL_ERROR = b"E0000 00:00:1796599868.700000   13262 file_io.cc:42] a real error\n"
PYTHON = b"something Python printed\n"
STARTUP = PREAMBLE + ONEDNN + CPU + OLD_WARNING + GPU_NOISE + REAL_ERROR + PYTHON + PREAMBLE


@pytest.mark.parametrize("level, kept", [
    (0, STARTUP),
    (1, OLD_WARNING + GPU_NOISE + REAL_ERROR + PYTHON),
    (2, REAL_ERROR + PYTHON),
    (3, PYTHON),
])
def test_the_startup_noise_is_left_out_by_level(level, kept):
    assert keras_output.filtered(STARTUP, level) == kept


def test_the_level_is_the_users_or_2(monkeypatch):
    for value, level in (("0", 0), ("3", 3), ("9", 3), ("-1", 0), ("x", 2), (None, 2)):
        if value is None:
            monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
        else:
            monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", value)
        assert keras_output.log_level() == level


def test_what_the_import_writes_to_descriptor_2_is_filtered(capfd, monkeypatch):
    """The lines are written by C++ to file descriptor 2, not through sys.stderr."""
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")

    def load():
        os.write(2, STARTUP)
        return 42

    assert keras_output.quiet_import(load) == 42
    os.write(2, b"after\n")  # descriptor 2 is standard error again
    assert capfd.readouterr().err == (REAL_ERROR + PYTHON + b"after\n").decode()

    def fails():
        os.write(2, ONEDNN + PYTHON)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        keras_output.quiet_import(fails)
    os.write(2, b"after\n")
    assert capfd.readouterr().err == (PYTHON + b"after\n").decode()


KERAS_SOURCE = "/venv/site-packages/keras/src/models/functional.py"


def test_warnings_are_lines_of_ours(capsys):
    hostile = "evil\x1b[31m\nline2" + "A" * 3000
    with keras_output.warnings_said("m.keras"):
        for text in (f"Received key '{hostile}'", f"Received key '{hostile}'", "second"):
            warnings.warn_explicit(text, UserWarning, KERAS_SOURCE, 106)
        warnings.warn_explicit("old", DeprecationWarning, KERAS_SOURCE, 1)  # hidden
        warnings.warn_explicit("from TF", UserWarning, "/x/tensorflow/python/ops/a.py", 1)
        for text in ("fourth", "fifth", "second"):
            warnings.warn_explicit(text, UserWarning, KERAS_SOURCE, 106)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("m.keras: warning: Keras says: Received key 'evil\\x1b[31m"
                               "\\nline2AAA")
    assert lines[0].endswith("…(3,030 characters)") and len(lines[0]) < 400
    assert lines[1:] == ["m.keras: warning: Keras says: second",
                         "m.keras: warning: TensorFlow says: from TF",
                         "m.keras: warning: and 2 more from Keras"]


# ---- the commands -------------------------------------------------------------------------

TINY = "input 8x8x1 -> flatten -> dense 10 softmax\n"


@pytest.fixture(scope="module")
def keras():
    pytest.importorskip("tensorflow", reason="pip install 'cnndsl[keras]'")
    import keras

    return keras


def test_the_backend_says_keras_warnings_in_one_line(keras, capsys):
    from cnndsl.backends.keras.runtime import keras_backend

    with keras_backend("m.keras", "loading"):
        warnings.warn_explicit("odd \x1b[2J config", UserWarning, KERAS_SOURCE, 106)
    with keras_backend("out.keras", "training", "cnndsl train"):
        warnings.warn_explicit("Your input ran out of data", UserWarning, KERAS_SOURCE, 90)
    assert capsys.readouterr().err == (
        "m.keras: warning: Keras says: odd \\x1b[2J config\n"
        "cnndsl train: warning: Keras says: Your input ran out of data\n")


class Terminal(io.StringIO):
    """Standard error as a terminal would be."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def work(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    Path("tiny.cnn").write_text(TINY, encoding="utf-8")
    rng = np.random.default_rng(0)
    np.savez("d.npz", x=rng.integers(0, 16, (40, 8, 8, 1)).astype(np.float32),
             y=np.arange(40) % 10)
    np.save("x.npy", np.zeros((64, 8, 8, 1), np.float32))
    return tmp_path


@pytest.mark.parametrize("quiet", [False, True])
def test_run_quiet_draws_no_bar_on_a_terminal(work, monkeypatch, quiet):
    from cnndsl.running import runner

    monkeypatch.setattr(runner.Progress, "DELAY", 0.0)  # drawn however quick the run is
    terminal = Terminal()
    with contextlib.redirect_stderr(terminal), contextlib.redirect_stdout(io.StringIO()):
        assert main(["run", "tiny.cnn", "-i", "x.npy", "-o", "y.npy", "--batch-size", "8",
                     *(["--quiet"] if quiet else [])]) == 0
    assert ("64/64 examples" in terminal.getvalue()) != quiet, terminal.getvalue()


@pytest.mark.parametrize("quiet", [False, True])
def test_evaluate_shows_keras_bar_on_a_terminal_only(work, capsys, keras, quiet):
    from cnndsl import compile_text
    from cnndsl.backends.weights import init_weights
    from cnndsl.support.files import write_npz

    write_npz(Path("w.npz"), init_weights(compile_text(TINY, "tiny"), 0))
    argv = ["evaluate", "tiny.cnn", "--weights", "w.npz", "--data", "d.npz", "--format",
            "json", *(["--quiet"] if quiet else [])]
    assert main(argv) == 0  # not a terminal: nothing on standard error
    out, err = capsys.readouterr()
    assert err == "" and json.loads(out)["examples"] == 40
    terminal = Terminal()
    with contextlib.redirect_stderr(terminal):  # not monkeypatch: capsys restores it
        assert main(argv) == 0
    assert ("2/2" in terminal.getvalue()) != quiet, terminal.getvalue()
    assert json.loads(capsys.readouterr().out)["examples"] == 40  # the result alone


def cnndsl_process(*args, cwd: Path, **env: str) -> tuple[int, str, str]:
    """`python -m cnndsl ARGS`, standard error a pipe (not a terminal), TensorFlow's log
    level the command's own (TF_CPP_MIN_LOG_LEVEL unset)."""
    environ = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-m", "cnndsl", *map(str, args)], cwd=cwd,
                          env={**environ, "PYTHONPATH": str(ROOT), **env},
                          capture_output=True, text=True, timeout=600)
    return done.returncode, done.stdout, done.stderr


def hostile_checkpoint(path: Path) -> None:
    """The tiny network, compiled as `cnndsl train` compiles it, saved as a checkpoint
    whose config makes Keras warn when it loads it: an input key that is not the input's
    name, as a hostile archive can write it, with an escape sequence and 3,000 letters."""
    from cnndsl import compile_text
    from cnndsl.backends.keras import builder as backend

    model = backend.build_seeded(compile_text(TINY, "tiny"), 0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.save(path)
    with zipfile.ZipFile(path) as source:
        members = {name: source.read(name) for name in source.namelist()}
    config = json.loads(members["config.json"])
    config["config"]["input_layers"] = {"evil\x1b[31m\nline2" + "A" * 3000: ["input", 0, 0]}
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_training_into_a_log_says_what_it_does_in_plain_lines(work, keras):
    """`train --resume` from that checkpoint, standard error a pipe as in a log file or
    CI, oneDNN on (its notice ignores TF_CPP_MIN_LOG_LEVEL), the issue's --batch-size
    99999999999999999999, --plot without validation data. Before: exit 3 (the batch; the
    plot); and TensorFlow's start-up lines, Python's `UserWarning`s with Keras's source
    path, the escape sequence raw and 9 KB of the key (13 KB of standard error), then
    Keras's bar with its escape sequences redrawn every 50 ms (10 KB for 5 epochs of the
    digits here, 176 KB in the issue). Now Keras's warnings in lines of ours, and one
    plain line for the epoch."""
    (work / "ck").mkdir()
    hostile_checkpoint(work / "ck" / "epoch-001.keras")
    status, out, err = cnndsl_process(
        "train", "tiny.cnn", "--data", "d.npz", "-o", "a.keras", "--epochs", "2",
        "--checkpoint-dir", "ck", "--resume", "--batch-size", "99999999999999999999",
        "--plot", "a.svg", cwd=work, TF_ENABLE_ONEDNN_OPTS="1")
    assert status == 0, err[-3000:]
    assert re.fullmatch(r"ok: a\.keras \(1 epochs: accuracy \d\.\d{4}, loss \d+\.\d{4}\)\n",
                        out), out
    *warned, epoch = err.splitlines()
    assert 1 <= len(warned) <= 4, err
    assert all(line.startswith("cnndsl train: warning: Keras says: ") and len(line) < 400
               for line in warned), err
    assert re.fullmatch(r"epoch 2/2: accuracy \d\.\d{4}, loss \d+\.\d{4} \(\d+\.\d s\)",
                        epoch), err
    assert "\x1b" not in err and "UserWarning" not in err and ".py:" not in err
    assert (work / "a.svg").read_text(encoding="utf-8").startswith("<?xml")


def test_train_quiet_shows_no_progress(keras):
    from cnndsl.cli import _parser
    from cnndsl.training import fit, progress, session

    argv = ["train", "t.cnn", "--data", "d.npz", "-o", "o.keras"]
    for quiet in (False, True):
        args = _parser().parse_args(argv + (["--quiet"] if quiet else []))
        settings = session.settings_of(args, Path("o.keras"))
        shown = [type(c).__name__ for c in fit.callbacks(settings, None, False)]
        assert ("EpochLines" in shown) != quiet  # standard error is not a terminal here
        assert progress.verbosity(settings.silent) == 0

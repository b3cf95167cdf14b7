"""`cnndsl train` and `cnndsl evaluate` on a real learning task: scikit-learn's 8x8 digits.

- examples/digits.cnn trained by `cnndsl train` for a fixed number of epochs reaches at
  least 95% validation accuracy on one device, mirrored over two logical CPU devices, and
  with two worker processes on 127.0.0.1 (MultiWorkerMirroredStrategy, TF_CONFIG).
- A run stopped by Ctrl-C after epoch 1's checkpoint, resumed, stopped by SIGTERM after
  epoch 3's, and resumed again ends with exactly the weights of a run never stopped.
- The trained .keras file loads where cnndsl cannot be imported, and its predictions
  (Keras's own) are what `cnndsl weights` + `cnndsl run` compute; `cnndsl evaluate`
  reports the accuracy and confusion matrix those predictions make.
- Mistakes in the data are said before any training, with exit status 1.

Training runs in subprocesses (each sets seeds and deterministic ops for itself, which
must not leak into the rest of the suite); the single-device run is shared.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from outcomes import free_ports

from cnndsl.cli import main

pytest.importorskip("sklearn", reason="the digits data: pip install 'cnndsl[test]'")
pytest.importorskip("tensorflow", reason="pip install 'cnndsl[keras]'")

ROOT = Path(__file__).resolve().parent.parent
DIGITS = ROOT / "examples" / "digits.cnn"
EPOCHS = 6
# The same flags for every run: a fixed seed, so the runs can be compared.
FLAGS = ["--val-split", "0.2", "--epochs", str(EPOCHS), "--batch-size", "32", "--seed", "3"]


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", **extra}


def cnndsl(*args, extra_env: dict[str, str] | None = None, **kwargs):
    """Start `python -m cnndsl ARGS` (a Popen)."""
    return subprocess.Popen([sys.executable, "-m", "cnndsl", *map(str, args)],
                            env=env(**(extra_env or {})), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def finished(process, timeout: float = 900) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def train(data: Path, output: Path, *more) -> tuple[int, str, str]:
    return finished(cnndsl("train", DIGITS, "--data", data, "-o", output, *FLAGS, *more))


def last_row(history: Path) -> dict[str, float]:
    with open(history, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == list(range(EPOCHS))
    return {k: float(v) for k, v in rows[-1].items()}


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> Path:
    """The digits as an .npz of x (1797, 8, 8, 1) float32 and y (1797,) class indices."""
    from sklearn.datasets import load_digits

    data = load_digits()
    path = tmp_path_factory.mktemp("digits") / "digits.npz"
    np.savez(path, x=data.images.reshape(-1, 8, 8, 1).astype(np.float32),
             y=data.target.astype(np.int64))
    return path


@pytest.fixture(scope="module")
def trained(digits) -> Path:
    """examples/digits.cnn trained on one device, uninterrupted."""
    output = digits.parent / "one.keras"
    status, out, err = train(digits, output, "--plot", digits.parent / "one.png")
    assert status == 0, err[-3000:]
    assert out.startswith(f"ok: {output} ({EPOCHS} epochs: "), out
    return output


# ---- data and defaults, without TensorFlow ----------------------------------------------------

@pytest.mark.parametrize("save, mapped", [(np.savez, True), (np.savez_compressed, False)])
def test_an_npz_is_mapped_where_it_is_stored_uncompressed(tmp_path, save, mapped):
    from cnndsl.training.arrays import open_npz

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 4, 3, 2)).astype(np.float32), rng.integers(0, 5, 50)
    save(tmp_path / "d.npz", x=np.asfortranarray(x), y=y)
    data = open_npz(tmp_path / "d.npz")
    assert isinstance(data.x, np.memmap) == mapped
    np.testing.assert_array_equal(data.x, x)
    np.testing.assert_array_equal(data.y, y)


def test_the_validation_split_is_seeded_and_disjoint(tmp_path):
    from cnndsl.training.arrays import open_npz, split

    data = open_npz(write(tmp_path / "d.npz", x=np.zeros((100, 2)), y=np.zeros(100, int)))
    train, val = split(data, 0.2, seed=1)
    again, _ = split(data, 0.2, seed=1)
    other, _ = split(data, 0.2, seed=2)
    assert (len(train), len(val)) == (80, 20)
    assert sorted([*train.rows, *val.rows]) == list(range(100))
    assert train.rows.tolist() == again.rows.tolist() != other.rows.tolist()


DEFAULTS = [  # (output, labels) -> (loss, from logits, metric)
    ("dense 10 softmax", np.arange(30) % 10,
     ("sparse_categorical_crossentropy", False, "accuracy")),
    ("dense 10 softmax", np.eye(10)[np.arange(30) % 10],
     ("categorical_crossentropy", False, "accuracy")),
    ("dense 10 -> softmax", np.arange(30) % 10,
     ("sparse_categorical_crossentropy", False, "accuracy")),
    ("dense 10", np.arange(30) % 10, ("sparse_categorical_crossentropy", True, "accuracy")),
    ("dense 1 sigmoid", np.arange(30) % 2, ("binary_crossentropy", False, "accuracy")),
    ("dense 3", np.zeros((30, 3)), ("mean_squared_error", False, "mean_absolute_error")),
    # version 3: log-probabilities are logits (their softmax is the probabilities), not
    # values to regress
    ("dense 10 log_softmax", np.arange(30) % 10,
     ("sparse_categorical_crossentropy", True, "accuracy")),
    ("dense 10 -> log_softmax", np.eye(10)[np.arange(30) % 10],
     ("categorical_crossentropy", True, "accuracy")),
]


@pytest.mark.parametrize("output, y, expected", DEFAULTS,
                         ids=[f"{o} {y.shape}" for o, y, _ in DEFAULTS])
def test_the_loss_follows_from_the_output_layer_and_the_labels(tmp_path, output, y,
                                                               expected):
    from cnndsl import compile_text
    from cnndsl.training.arrays import open_npz
    from cnndsl.training.defaults import task_for

    graph = compile_text(f"input 4 -> dense 8 relu -> {output}", "t")
    data = open_npz(write(tmp_path / "d.npz", x=np.zeros((30, 4), np.float32), y=y))
    task = task_for(graph, data)
    assert (task.loss, task.from_logits, task.metrics[0]) == expected


# ---- mistakes said before training -------------------------------------------------------------

def write(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


X = np.zeros((20, 8, 8, 1), np.float32)
MISTAKES = [
    ({"x": X, "y": np.arange(20) % 12}, "y has 12 classes but the network outputs 10"),
    ({"x": X, "y": np.eye(12)[np.arange(20) % 12]},
     "y has 12 classes but the network outputs 10"),
    ({"x": X[..., 0], "y": np.zeros(20, int)},
     "x holds examples of shape 8x8 but the network takes 8x8x1"),
    ({"x": X, "y": np.zeros(19, int)}, "x has 20 examples but y has 19 labels"),
    ({"x": X, "y": -np.ones(20, int)}, "y holds the class -1; classes count from 0"),
    ({"x": X}, "the .npz holds no array `y` (it holds x)"),
    ({"x": X, "y": np.zeros(20)}, "y has shape 20 and type float64: not class indices"),
    # Issue 19, item 14: rows of all ones were taken for one-hot labels, and trained.
    ({"x": X, "y": np.ones((20, 10))}, "y is not one-hot: row 0 is [1, 1, 1, 1, 1, 1, 1, 1, "
     "...]; a one-hot row has one 1 (its class) and zeros elsewhere"),
    ({"x": X, "y": np.eye(10)[np.arange(20) % 10] * (np.arange(20) != 13)[:, None]},
     "y is not one-hot: row 13 is [0, 0, 0, 0, 0, 0, 0, 0, ...]"),
    ({"x": X, "y": np.eye(10)[np.arange(20) % 10] * 2}, "y is not one-hot: row 0 is [2, 0, "),
    # Found by tests/test_fuzz_training.py: `internal error` (exit 3) each.
    ({"x": X, "y": np.int64(3)}, "`y` is a single value, not one per example"),
    ({"x": X, "y": np.array(["cat"] * 20)}, "y holds <U3 values, not numbers"),
    # Issue 19, item 20: the hint was `make the last layer dense 4611686018427387905`.
    ({"x": X, "y": np.full(20, 2**62)}, "y holds the label 4,611,686,018,427,387,904, but "
     "class indices run from 0 to 9 for the network's 10 outputs\nhint: labels that are ids "
     "rather than classes can be numbered from 0 with np.unique(y, return_inverse=True)[1]"),
]


@pytest.mark.parametrize("arrays, message", MISTAKES, ids=[m for _, m in MISTAKES])
def test_data_mistakes_are_said_before_training(tmp_path, capsys, arrays, message):
    data = write(tmp_path / "bad.npz", **arrays)
    output = tmp_path / "out.keras"
    assert main(["train", str(DIGITS), "--data", str(data), "-o", str(output)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{data}: error: {message}"), err
    assert "\nhint: " in err
    assert not output.exists() and not (tmp_path / "out.checkpoints").exists()


def test_option_mistakes_are_said_before_training(tmp_path, capsys, digits):
    out = tmp_path / "o.keras"
    cases = [
        (["--resume"], f"{tmp_path / 'o.checkpoints'}: error: no checkpoint to resume"),
        (["--strategy", "multiworker"], "TF_CONFIG: error: --strategy multiworker needs"),
        (["--val-split", "1.5"], "--val-split: error: must be between 0 and 1"),
        (["--epochs", "0"], "--epochs: error: must be 1 or more"),
    ]
    environ = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    for flags, said in cases:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(os, "environ", environ)
            status = main(["train", str(DIGITS), "--data", str(digits), "-o", str(out),
                           *flags])
        assert status == 1
        assert capsys.readouterr().err.startswith(said)
    (tmp_path / "o.checkpoints").mkdir()
    (tmp_path / "o.checkpoints" / "epoch-002.keras").write_bytes(b"")
    assert main(["train", str(DIGITS), "--data", str(digits), "-o", str(out)]) == 1
    assert "holds the checkpoints of an earlier run (up to epoch 2)" in \
        capsys.readouterr().err


def test_names_keras_does_not_know_are_said_before_training(digits, tmp_path):
    output = tmp_path / "o.keras"
    status, out, err = finished(cnndsl("train", DIGITS, "--data", digits, "-o", output,
                                       "--metrics", "accuracy,acuracy"))
    assert status == 1 and out == ""
    assert err.startswith("--metrics: error: Keras has no metric `acuracy`\nhint: "), err
    assert not output.exists() and not (tmp_path / "o.checkpoints").exists()


# ---- learning ---------------------------------------------------------------------------------

def test_one_device_learns_the_digits(trained):
    assert last_row(trained.with_suffix(".history.csv"))["val_accuracy"] >= 0.95
    assert (trained.parent / "one.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = sorted(p.name for p in (trained.parent / "one.checkpoints").iterdir())
    assert saved == [f"epoch-{e:03d}.keras" for e in range(1, EPOCHS + 1)] + ["split.json"]


def test_mirrored_over_two_devices_learns_the_digits(digits, tmp_path):
    output = tmp_path / "mirrored.keras"
    status, out, err = train(digits, output, "--strategy", "mirrored", "--devices", "2")
    assert status == 0, err[-3000:]
    assert last_row(tmp_path / "mirrored.history.csv")["val_accuracy"] >= 0.95


def test_two_workers_learn_the_digits(digits, tmp_path):
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    workers = [cnndsl("train", DIGITS, "--data", digits, "-o", tmp_path / f"w{i}.keras",
                      *FLAGS, "--strategy", "multiworker",
                      extra_env={"TF_CONFIG": json.dumps(
                          {"cluster": cluster, "task": {"type": "worker", "index": i}})})
               for i in range(2)]
    (s0, out0, err0), (s1, out1, err1) = (finished(w) for w in workers)
    assert (s0, s1) == (0, 0), (err0[-3000:], err1[-3000:])
    assert out1.startswith("ok: this worker trained; the chief writes"), out1
    assert (tmp_path / "w0.keras").exists() and not (tmp_path / "w1.keras").exists()
    assert last_row(tmp_path / "w0.history.csv")["val_accuracy"] >= 0.95


# ---- interrupted and resumed ------------------------------------------------------------------

def stop_after(process, checkpoint: Path, signum: int) -> tuple[int, str, str]:
    """Signal the training once `checkpoint` exists (the process finishes writing it: a
    signal is only acted on between steps)."""
    while not checkpoint.exists():
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.send_signal(signum)
    return finished(process)


def test_stopped_and_resumed_ends_with_the_weights_of_a_run_never_stopped(
        digits, trained, tmp_path):
    output, saved = tmp_path / "resumed.keras", tmp_path / "resumed.checkpoints"
    args = ["train", DIGITS, "--data", digits, "-o", output, *FLAGS]
    status, _, err = stop_after(cnndsl(*args), saved / "epoch-001.keras", signal.SIGINT)
    assert status == 128 + signal.SIGINT, err[-3000:]
    assert "--resume continues" in err and not output.exists()
    status, _, err = stop_after(cnndsl(*args, "--resume"), saved / "epoch-003.keras",
                                signal.SIGTERM)
    assert status == 128 + signal.SIGTERM, err[-3000:]
    status, out, err = finished(cnndsl(*args, "--resume"))
    assert status == 0, err[-3000:]
    assert last_row(tmp_path / "resumed.history.csv") == \
        pytest.approx(last_row(trained.with_suffix(".history.csv")), rel=1e-6)
    one, resumed = weights(trained), weights(output)
    assert one.keys() == resumed.keys()
    for key in one:
        np.testing.assert_array_equal(resumed[key], one[key], err_msg=key)


def weights(model: Path) -> dict[str, np.ndarray]:
    out = model.with_suffix(".npz")
    assert main(["weights", str(model), "-o", str(out)]) == 0
    with np.load(out) as archive:
        return dict(archive)


# ---- the trained model: plain Keras, the NumPy interpreter, evaluate --------------------------

PLAIN_KERAS = """
import sys
class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "cnndsl":
            raise ModuleNotFoundError("blocked", name=name)
sys.meta_path.insert(0, Blocked())
import keras, numpy as np
model = keras.models.load_model(sys.argv[1])
x = np.load(sys.argv[2])
np.save(sys.argv[3], model.predict(x, verbose=0))
"""


def test_the_model_is_plain_keras_and_runs_in_numpy_and_evaluates(trained, digits, tmp_path,
                                                                   capsys):
    with np.load(digits) as data:
        x, y = data["x"], data["y"]
    np.save(tmp_path / "x.npy", x)
    keras_out = tmp_path / "keras.npy"
    subprocess.run([sys.executable, "-c", PLAIN_KERAS, trained, tmp_path / "x.npy",
                    keras_out], env={**env(), "PYTHONPATH": ""}, check=True,
                   cwd=tmp_path, capture_output=True)
    predicted = np.load(keras_out)
    assert main(["weights", str(trained), "-o", str(tmp_path / "w.npz")]) == 0
    assert main(["run", str(DIGITS), "--weights", str(tmp_path / "w.npz"), "-i",
                 str(tmp_path / "x.npy"), "-o", str(tmp_path / "numpy.npy")]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "numpy.npy"), predicted, atol=1e-5)
    capsys.readouterr()

    assert main(["evaluate", str(DIGITS), "--weights", str(trained), "--data", str(digits),
                 "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    confusion = np.zeros((10, 10), int)
    np.add.at(confusion, (y, predicted.argmax(axis=1)), 1)
    assert report["examples"] == len(y)
    assert report["confusion_matrix"] == confusion.tolist()
    assert report["metrics"]["accuracy"] == pytest.approx(np.trace(confusion) / len(y))
    chosen = predicted[np.arange(len(y)), y]
    assert report["metrics"]["loss"] == pytest.approx(-np.mean(np.log(chosen)), rel=1e-4)


# ---- a directory of images --------------------------------------------------------------------

def test_an_image_directory_with_other_classes_is_refused_before_training(tmp_path, capsys):
    for name in [f"class{c:02d}" for c in range(12)]:
        (tmp_path / "images" / name).mkdir(parents=True)
        (tmp_path / "images" / name / "a.png").write_bytes(b"")
    assert main(["train", str(DIGITS), "--data", str(tmp_path / "images"), "-o",
                 str(tmp_path / "out.keras")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{tmp_path / 'images'}: error: the directory has 12 classes "
                          "(class00, class01, class02, class03, class04, ...) but the "
                          "network outputs 10 softmax"), err


def test_an_image_directory_trains_and_evaluates(digits, tmp_path, capsys):
    import tensorflow as tf

    with np.load(digits) as data:
        x, y = data["x"][:300], data["y"][:300]
    for i, (image, label) in enumerate(zip(x, y)):
        folder = tmp_path / "images" / f"digit{label}"
        folder.mkdir(parents=True, exist_ok=True)
        png = tf.io.encode_png(image.astype(np.uint8))  # 0..16, as the .npz holds them
        (folder / f"{i}.png").write_bytes(png.numpy())
    output = tmp_path / "images.keras"
    status, out, err = finished(cnndsl("train", DIGITS, "--data", tmp_path / "images", "-o",
                                       output, "--val-split", "0.25", "--epochs", "2"))
    assert status == 0, err[-3000:]
    with open(tmp_path / "images.history.csv", encoding="utf-8") as f:
        assert len(list(csv.DictReader(f))) == 2
    assert main(["evaluate", str(DIGITS), "--weights", str(output), "--data",
                 str(tmp_path / "images"), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["classes"] == [f"digit{c}" for c in range(10)]
    confusion = np.array(report["confusion_matrix"])
    assert confusion.sum(axis=1).tolist() == np.bincount(y, minlength=10).tolist()
    assert report["metrics"]["accuracy"] == pytest.approx(np.trace(confusion) / len(y))

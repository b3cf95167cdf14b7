"""What a `cnndsl train` run leaves for the next command, and how it is held to it.

- `--resume` refuses a checkpoint of another network than the spec (issue 19, item 3:
  an edited spec trained and wrote the checkpoint's network, exit 0; another class count
  was exit 3), saying what differs.
- `evaluate --split val` scores exactly the examples `train --val-split` held out, and
  `--split train` the others (item 22: the README scored the training data, 0.99): the
  labels are distinct powers of two and the network outputs zero, so a mean absolute
  error names the very examples it was taken over; Keras's own validation during the
  run names those it held out. Data changed since, or no record, is refused.

Training runs in subprocesses (seeds and deterministic ops must not leak into the rest of
the suite), tiny: 20 examples, one epoch.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cnndsl.cli import main

pytest.importorskip("tensorflow", reason="pip install 'cnndsl[keras]'")

ROOT = Path(__file__).resolve().parent.parent
NET = "input 8x8x1 -> conv 3x3 x4 same relu -> flatten -> dense 10 softmax\n"


def cnndsl(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cnndsl", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT),
                                 "TF_CPP_MIN_LOG_LEVEL": "2"})


def finished(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=900)
    return process.returncode, out, err


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


# ---- item 3: a checkpoint of another network ----------------------------------------------------

def test_resume_refuses_a_checkpoint_of_another_network(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 8, 8, 1)).astype(np.float32)
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(20) % 10)
    np.savez(tmp_path / "d3.npz", x=x, y=np.arange(20) % 3)
    (tmp_path / "net.cnn").write_text(NET)
    status, _, err = finished(cnndsl("train", tmp_path / "net.cnn", "--data",
                                     tmp_path / "d.npz", "-o", tmp_path / "net.keras",
                                     "--epochs", "1"))
    assert status == 0, err[-3000:]
    checkpoints = tmp_path / "net.checkpoints"
    before = snapshot(checkpoints)
    # The spec edited (x4 -> x8), then another spec with 3 classes on 3-class labels.
    (tmp_path / "wider.cnn").write_text(NET.replace("x4", "x8"))
    (tmp_path / "three.cnn").write_text(NET.replace("dense 10", "dense 3"))
    runs = [cnndsl("train", tmp_path / spec, "--data", tmp_path / data, "-o",
                   tmp_path / f"{spec}.keras", "--epochs", "2", "--checkpoint-dir",
                   checkpoints, "--resume") for spec, data in
            (("wider.cnn", "d.npz"), ("three.cnn", "d3.npz"))]
    (wider, _, wider_err), (three, _, three_err) = (finished(r) for r in runs)
    checkpoint = checkpoints / "epoch-001.keras"
    assert wider == 1, wider_err[-3000:]
    assert wider_err.startswith(
        f"{checkpoint}: error: the checkpoint holds another network than "
        f"{tmp_path / 'wider.cnn'}: `conv_1` (Conv2D) has filters 4 in the checkpoint, 8 in "
        "the spec; `flatten_1` (Flatten) takes shape [null,8,8,4] in the checkpoint, "
        "[null,8,8,8] in the spec; `dense_1` (Dense) takes shape [null,256] in the "
        "checkpoint, [null,512] in the spec\nhint: "), wider_err
    assert three == 1, three_err[-3000:]
    assert three_err.startswith(
        f"{checkpoint}: error: the checkpoint holds another network than "
        f"{tmp_path / 'three.cnn'}: `dense_1` (Dense) has units 10 in the checkpoint, 3 in "
        "the spec\nhint: "), three_err
    assert snapshot(checkpoints) == before
    assert not any(tmp_path.glob("*.cnn.keras"))


def test_the_differences_are_said_layer_by_layer():
    from cnndsl.training.resume import differences

    def layer(name, cls, inputs=(), **config):
        nodes = [{"args": [{"config": {"keras_history": [i, 0, 0]}} for i in inputs]}]
        return {"name": name, "class_name": cls, "config": {"name": name, **config},
                "inbound_nodes": nodes if inputs else []}

    saved = [layer("input", "InputLayer"), layer("conv_1", "Conv2D", ["input"], filters=4),
             layer("add_1", "Add", ["conv_1", "input"])]
    assert differences(saved, saved) == []
    edited = [saved[0], layer("conv_1", "Conv2D", ["input"], filters=4, strides=[1, 1]),
              layer("add_1", "Add", ["input", "conv_1"]), layer("relu_1", "Activation")]
    assert differences(saved, edited) == [
        "`add_1` (Add) takes [\"conv_1\",\"input\"] in the checkpoint, "
        "[\"input\",\"conv_1\"] in the spec", "the checkpoint has 3 layers, the spec 4"]
    other = [saved[0], layer("dense_1", "Dense", ["input"], units=3)]
    assert differences(saved, other)[0] == ("layer 1 is `conv_1` (Conv2D) in the "
                                            "checkpoint, `dense_1` (Dense) in the spec")


# ---- item 22: the held-out examples -------------------------------------------------------------

EXAMPLES, HELD = 20, 4  # --val-split 0.2 of 20


def examples_named(mean_absolute_error: float, count: int) -> set[int]:
    """The examples a mean absolute error was taken over: label i is 2**i, the output 0."""
    total = round(mean_absolute_error * count)
    return {i for i in range(EXAMPLES) if total >> i & 1}


@pytest.fixture(scope="module")
def split_run(tmp_path_factory) -> Path:
    """`input 1 -> dense 1` from zero weights, trained one epoch at a learning rate that
    moves nothing, on 20 examples labelled 1, 2, 4, ... 2**19, a fifth held out."""
    work = tmp_path_factory.mktemp("split")
    (work / "net.cnn").write_text("input 1 -> dense 1\n")
    np.savez(work / "d.npz", x=np.ones((EXAMPLES, 1), np.float32),
             y=(2.0 ** np.arange(EXAMPLES)).astype(np.float32).reshape(-1, 1))
    np.savez(work / "zero.npz", **{"dense_1/kernel": np.zeros((1, 1), np.float32),
                                   "dense_1/bias": np.zeros(1, np.float32)})
    status, _, err = finished(cnndsl(
        "train", work / "net.cnn", "--data", work / "d.npz", "-o", work / "net.keras",
        "--val-split", "0.2", "--seed", "5", "--epochs", "1", "--weights",
        work / "zero.npz", "--optimizer", "sgd", "--lr", "1e-30"))
    assert status == 0, err[-3000:]
    return work


def evaluated(work: Path, capsys, *more: str) -> dict:
    capsys.readouterr()
    assert main(["evaluate", str(work / "net.cnn"), "--weights", str(work / "net.keras"),
                 "--data", str(work / "d.npz"), "--format", "json", *more]) == 0
    return json.loads(capsys.readouterr().out)


def test_evaluate_split_val_scores_exactly_the_held_out_examples(split_run, capsys):
    with open(split_run / "net.history.csv", newline="", encoding="utf-8") as f:
        keras_held = examples_named(float(next(csv.DictReader(f))
                                          ["val_mean_absolute_error"]), HELD)
    assert len(keras_held) == HELD
    val = evaluated(split_run, capsys, "--split", "val")
    assert val["examples"] == HELD
    assert examples_named(val["metrics"]["mean_absolute_error"], HELD) == keras_held
    rest = evaluated(split_run, capsys, "--split", "train")
    assert rest["examples"] == EXAMPLES - HELD
    assert examples_named(rest["metrics"]["mean_absolute_error"], EXAMPLES - HELD) == \
        set(range(EXAMPLES)) - keras_held
    everything = evaluated(split_run, capsys)
    assert examples_named(everything["metrics"]["mean_absolute_error"], EXAMPLES) == \
        set(range(EXAMPLES))
    record = json.loads((split_run / "net.split.json").read_text())
    assert set(record["validation"]) == keras_held
    assert json.loads((split_run / "net.checkpoints" / "split.json").read_text())[
        "validation"] == record["validation"]


def test_evaluate_split_refuses_data_that_changed(split_run, tmp_path, capsys):
    shutil.copy(split_run / "net.cnn", tmp_path)
    with np.load(split_run / "d.npz") as data:
        x, y = data["x"], data["y"]
    cases = [(np.concatenate([x, x[:1]]), np.concatenate([y, y[:1]]),
              "it has 21 examples, the data then had 20"),
             (x, y[::-1], "the same number of examples, but its contents changed since")]
    for x_now, y_now, said in cases:
        np.savez(tmp_path / "d.npz", x=x_now, y=y_now)
        assert main(["evaluate", str(tmp_path / "net.cnn"), "--weights",
                     str(split_run / "net.keras"), "--data", str(tmp_path / "d.npz"),
                     "--split", "val"]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"{tmp_path / 'd.npz'}: error: is not the data the model was "
                              f"trained on: {said}"), err
        assert "\nhint: " in err


def test_evaluate_split_refuses_a_model_without_its_record(split_run, tmp_path, capsys):
    model = tmp_path / "copy.keras"
    shutil.copy(split_run / "net.keras", model)
    args = ["evaluate", str(split_run / "net.cnn"), "--weights", str(model), "--data",
            str(split_run / "d.npz"), "--split", "val"]
    assert main(args) == 1
    assert capsys.readouterr().err.startswith(
        f"{model}: error: no validation split is recorded for it (no copy.split.json "
        "beside it)\nhint: train with --val-split F")
    record = json.loads((split_run / "net.split.json").read_text())
    record["model_sha256"] = "0" * 64  # the model written again since, by another run
    (tmp_path / "copy.split.json").write_text(json.dumps(record))
    assert main(args) == 1
    assert capsys.readouterr().err.startswith(
        f"{tmp_path / 'copy.split.json'}: error: records the split of another model than "
        f"{model}")


def test_a_resumed_run_holds_out_what_its_checkpoints_did(tmp_path):
    from cnndsl.support.files import FileError
    from cnndsl.training import splits
    from cnndsl.training.arrays import open_npz, split

    np.savez(tmp_path / "d.npz", x=np.zeros((EXAMPLES, 1), np.float32),
             y=np.zeros(EXAMPLES, np.int64))
    data = open_npz(tmp_path / "d.npz")
    first = splits.record(*split(data, 0.2, 1), 0.2, 1)
    (tmp_path / "ck").mkdir()
    with pytest.raises(KeyboardInterrupt), splits.recorded(first, tmp_path / "ck"):
        raise KeyboardInterrupt  # stopped before its first checkpoint: nothing recorded
    assert list((tmp_path / "ck").iterdir()) == []
    with splits.recorded(first, tmp_path / "ck"):
        (tmp_path / "ck" / "epoch-001.keras").write_bytes(b"")
    assert splits.known(first, tmp_path / "ck", resume=True) == first
    assert splits.known(first, tmp_path / "elsewhere", resume=True) is None  # not recorded
    other = splits.record(*split(data, 0.2, 2), 0.2, 2)
    with pytest.raises(FileError, match="the checkpoints were trained holding out other "
                       "examples"):
        splits.known(other, tmp_path / "ck", resume=True)

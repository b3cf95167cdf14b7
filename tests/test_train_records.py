"""What a `cnndsl train` run leaves for the next command, and how it is held to it.

- `--resume` refuses a checkpoint of another network than the spec (issue 19, item 3:
  an edited spec trained and wrote the checkpoint's network, exit 0; another class count
  was exit 3), saying what differs.

Training runs in subprocesses (seeds and deterministic ops must not leak into the rest of
the suite), tiny: 20 examples, one epoch.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

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

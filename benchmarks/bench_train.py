"""`cnndsl train` against a hand-written Keras script, and mirrored against one device.

    python benchmarks/bench_train.py [--epochs 4] [--repeats 3] [--copies 8]

The data is scikit-learn's digits, repeated `--copies` times with a little noise (the
1,797 images alone make epochs of a third of a second, too short to time); the model is
examples/digits.cnn, batch 32, seed 0, validation on a fifth. Every configuration runs in
a fresh process; the processes are interleaved, `--repeats` rounds. An epoch's time is
taken by a Keras callback (time between `on_epoch_begin` and `on_epoch_end`, validation
included); the first epoch (tracing) is left out, and each configuration's median over
all rounds and epochs is reported.

- script: what a Keras user writes by hand: the same layers, `model.fit` on NumPy arrays
  with `validation_data`, `keras.utils.set_random_seed`, deterministic ops (cnndsl turns
  them on so that a resumed run matches; the script does too, so like is timed with like).
- cnndsl: `cnndsl train` in-process, with the timing callback added to its list.
- cnndsl mirrored: `--strategy mirrored --devices 2`: the CPU split into two logical
  devices, each replica computing half of every batch.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

TIMER = """
import json, sys, time
import keras

class Timer(keras.callbacks.Callback):
    times = []
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()
    def on_epoch_end(self, epoch, logs=None):
        Timer.times.append(time.perf_counter() - self.start)

def report():
    print("EPOCHS " + json.dumps(Timer.times), flush=True)
"""

CNNDSL = TIMER + """
from cnndsl.training import fit
from cnndsl.cli import main
plain = fit.callbacks
fit.callbacks = lambda *a, **k: [Timer(), *plain(*a, **k)]
status = main(sys.argv[1:])
report()
sys.exit(status)
"""

SCRIPT = TIMER + """
import numpy as np
import tensorflow as tf
data, epochs = sys.argv[1], int(sys.argv[2])
keras.utils.set_random_seed(0)
tf.config.experimental.enable_op_determinism()
with np.load(data) as f:
    x, y = f["x"], f["y"]
order = np.random.default_rng(0).permutation(len(x))
held = len(x) // 5
val, train = order[:held], order[held:]
inputs = keras.Input((8, 8, 1))
h = keras.layers.Rescaling(1 / 16)(inputs)
h = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(h)
h = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(h)
h = keras.layers.MaxPooling2D(2)(h)
h = keras.layers.Flatten()(h)
h = keras.layers.Dense(64, activation="relu")(h)
outputs = keras.layers.Dense(10, activation="softmax")(h)
model = keras.Model(inputs, outputs)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x[train], y[train], batch_size=32, epochs=epochs, shuffle=True,
          validation_data=(x[val], y[val]), callbacks=[Timer()], verbose=0)
report()
"""


def data(directory: Path, copies: int) -> tuple[Path, int]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(0)
    x = np.concatenate([digits.images] * copies).reshape(-1, 8, 8, 1).astype(np.float32)
    x += rng.normal(0, 0.5, x.shape).astype(np.float32)
    y = np.concatenate([digits.target] * copies).astype(np.int64)
    path = directory / "digits.npz"
    np.savez(path, x=x, y=y)
    return path, len(x)


def epoch_times(command: list[str], directory: Path) -> list[float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=directory)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("EPOCHS ")]
    if done.returncode != 0 or not lines:
        sys.exit(f"failed: {' '.join(command)}\n{done.stderr[-2000:]}")
    return json.loads(lines[-1].removeprefix("EPOCHS "))[1:]  # the first one traces


def configurations(path: Path, epochs: int, directory: Path) -> dict[str, list[str]]:
    def cnndsl(name: str, *more: str) -> list[str]:
        return [sys.executable, "-c", CNNDSL, "train", str(ROOT / "examples" / "digits.cnn"),
                "--data", str(path), "-o", str(directory / f"{name}.keras"),
                "--checkpoint-dir", str(directory / f"{name}.checkpoints"),
                "--val-split", "0.2", "--epochs", str(epochs), "--batch-size", "32", *more]

    return {"script": [sys.executable, "-c", SCRIPT, str(path), str(epochs)],
            "cnndsl": cnndsl("one"),
            "cnndsl mirrored": cnndsl("mirrored", "--strategy", "mirrored", "--devices", "2")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--copies", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        path, examples = data(directory, args.copies)
        configs = configurations(path, args.epochs, directory)
        times: dict[str, list[float]] = {name: [] for name in configs}
        for _ in range(args.repeats):
            for name, command in configs.items():
                for leftover in directory.glob("*.checkpoints/*"):
                    leftover.unlink()
                times[name] += epoch_times(command, directory)
    trained = examples - examples // 5
    medians = {name: statistics.median(t) for name, t in times.items()}
    print(f"{examples:,} examples ({trained:,} trained, batch 32), {args.epochs} epochs "
          f"x {args.repeats} rounds, first epoch of each run left out, "
          f"{os.cpu_count()} CPUs")
    print(f"{'configuration':<18} {'epoch s (median)':>17} {'examples/s':>11} "
          f"{'vs script':>10}")
    for name, median in medians.items():
        print(f"{name:<18} {median:>17.3f} {trained / median:>11,.0f} "
              f"{median / medians['script']:>10.3f}")
    print(f"mirrored (2 logical CPU devices) / one device: examples/s x "
          f"{medians['cnndsl'] / medians['cnndsl mirrored']:.2f}")


if __name__ == "__main__":
    main()

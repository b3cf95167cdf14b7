"""ONNX export and onnxruntime speed, beside TensorFlow and the NumPy interpreter.

Run from the repository root: `python benchmarks/bench_onnx.py [--runs N] [--only NAME]`.
Prints two tables; asserts nothing (the machine is shared and noisy: the compared
columns are measured in the same run, interleaved).

1. `cnndsl compile examples/resnet50.cnn -o resnet50.onnx` against `-o resnet50.keras`,
   each the whole process (Python start, parse, weights drawn, model built, checked
   and written), wall time, best and median of N.
2. Forward time, warm, on the same weights and input (bench_numpy's networks: LeNet-5
   b256, the small VGG b64, ResNet-50 b8): onnxruntime (CPU provider, default threads
   and graph optimisations) against TensorFlow (the Keras model in a warmed-up
   tf.function) and the NumPy interpreter, with onnxruntime's error against NumPy.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_numpy import NETWORKS, keras_function, realistic_weights, tensorflow  # noqa: E402

from cnndsl import compile_text  # noqa: E402
from cnndsl.backends.numpy import Interpreter  # noqa: E402
from cnndsl.backends.onnx import build_model  # noqa: E402


def compile_times(runs: int) -> None:
    spec = ROOT / "examples" / "resnet50.cnn"
    print(f"`cnndsl compile {spec.relative_to(ROOT)} -o OUT`, whole process, wall seconds "
          f"(best / median of {runs}, interleaved)\n")
    print(f"| {'output':<14} | {'best s':>7} | {'median s':>8} | {'size MB':>7} |")
    print(f"|{'-' * 16}|{'-' * 9}|{'-' * 10}|{'-' * 9}|")
    times: dict[str, list[float]] = {".onnx": [], ".keras": []}
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(runs):
            for suffix in times:
                out = Path(tmp) / f"resnet50{suffix}"
                start = time.perf_counter()
                subprocess.run([sys.executable, "-m", "cnndsl", "compile", str(spec), "-o",
                                str(out)], check=True, cwd=ROOT, capture_output=True)
                times[suffix].append(time.perf_counter() - start)
                sizes[suffix] = out.stat().st_size
    for suffix, seconds in times.items():
        print(f"| resnet50{suffix:<6} | {min(seconds):7.2f} | {statistics.median(seconds):8.2f} "
              f"| {sizes[suffix] / 1e6:7.1f} |")


def ort_session(model):
    import onnxruntime as ort

    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def forward_times(runs: int, only: str | None) -> None:
    tf_state = tensorflow()
    print(f"\nforward pass, warm, best of {runs} (interleaved); TF: "
          + (tf_state[0].__version__ if tf_state else "not installed") + "\n")
    print(f"| {'network':<10} | {'batch':>5} | {'ORT ms':>7} | {'TF ms':>7} | {'NumPy ms':>8} |"
          f" {'ORT/TF':>6} | {'ORT/NumPy':>9} | {'ORT vs NumPy':>12} |")
    print(f"|{'-' * 12}|{'-' * 7}|{'-' * 9}|{'-' * 9}|{'-' * 10}|{'-' * 8}|{'-' * 11}|"
          f"{'-' * 14}|")
    for name, (text, batch) in NETWORKS.items():
        if not only or name == only:
            print(forward_row(name, text, batch, runs, tf_state))


def forward_row(name: str, text: str, batch: int, runs: int, tf_state) -> str:
    """One row: the three backends on the same weights and input, interleaved."""
    graph = compile_text(text, name)
    weights = realistic_weights(graph)
    x = np.random.default_rng(2).standard_normal((batch, *graph.input.shape),
                                                 dtype=np.float32)
    interpreter = Interpreter(graph, weights)
    session = ort_session(build_model(graph, weights))
    feed = {graph.input.name: x}
    expected = interpreter.run(x)
    got = session.run(None, feed)[0]
    err = float(np.max(np.abs(got - expected)) / np.max(np.abs(expected)))
    runners = {"ort": lambda: session.run(None, feed), "numpy": lambda: interpreter.run(x)}
    if tf_state:
        infer, tx = keras_function(tf_state, graph, weights, x)
        runners["tf"] = lambda: infer(tx).numpy()
    runners["ort"]()  # warm: onnxruntime plans its memory on the first run
    best = {key: float("inf") for key in runners}
    for _ in range(runs):
        for key, fn in runners.items():
            best[key] = min(best[key], timed(fn))
    tf_ms = f"{best['tf'] * 1e3:7.1f}" if tf_state else "      -"
    ratio = f"{best['ort'] / best['tf']:6.2f}" if tf_state else "     -"
    return (f"| {name:<10} | {batch:>5} | {best['ort'] * 1e3:7.1f} | {tf_ms} | "
            f"{best['numpy'] * 1e3:8.1f} | {ratio} | {best['ort'] / best['numpy']:9.2f} | "
            f"{err:12.1e} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", choices=sorted(NETWORKS))
    parser.add_argument("--skip-compile", action="store_true",
                        help="only the forward-time table")
    args = parser.parse_args()
    if not args.skip_compile:
        compile_times(max(1, args.runs // 2))
    forward_times(args.runs, args.only)


if __name__ == "__main__":
    main()

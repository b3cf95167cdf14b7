"""NumPy interpreter speed, side by side with TensorFlow/Keras on the same weights.

Run from the repository root: `python benchmarks/bench_numpy.py [--runs N] [--only NAME]`.
Prints tables; asserts nothing (the machine is shared and noisy; the ratios are
measured in the same run, interleaved).

Networks (issue 3): LeNet-5 32x32x1 batch 256; a small VGG for 32x32x3 batch 64;
ResNet-50 224x224x3 batch 8. Targets: NumPy time / TF time <= 1.5 on the small VGG and
ResNet-50; ResNet-50's convolutions at >= 60% of the GFLOP/s of a plain float32
`numpy.matmul` of comparable size. Without TensorFlow only the NumPy columns print.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the weights helper is the tests' (zoo.py)

from zoo import lively  # noqa: E402

from cnndsl import analyse, compile_text  # noqa: E402
from cnndsl.backends.numpy import Interpreter  # noqa: E402
from cnndsl.backends.weights import init_weights  # noqa: E402

SMALL_VGG = """input 32x32x3
  -> conv 3x3 x32 same relu -> conv 3x3 x32 same relu -> maxpool 2
  -> conv 3x3 x64 same relu -> conv 3x3 x64 same relu -> maxpool 2
  -> flatten -> dense 256 relu -> dense 10 softmax"""

NETWORKS = {
    "lenet5": ((ROOT / "examples/lenet5.cnn").read_text(), 256),
    "small_vgg": (SMALL_VGG, 64),
    "resnet50": ((ROOT / "examples/resnet50.cnn").read_text(), 8),
}


def realistic_weights(graph, seed=0):
    """Default init plus non-trivial batch-norm statistics and biases."""
    return lively(init_weights(graph, seed), np.random.default_rng(seed), gamma=(0.5, 1.5),
                  variance=(0.5, 1.5))


def best_and_median(fn, runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def tensorflow():
    """(tf, keras, oneDNN state) or None when TensorFlow is not installed."""
    try:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import keras
        import tensorflow as tf
    except ImportError:
        return None
    onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    try:
        from tensorflow.python.util import _pywrap_util_port

        state = "on" if _pywrap_util_port.IsMklEnabled() else "off"
        if onednn == "0":
            state = "off (TF_ENABLE_ONEDNN_OPTS=0)"
    except (ImportError, AttributeError):
        state = "unknown"
    return tf, keras, state


def layer_times(interpreter, x, runs: int) -> dict[int, float]:
    """Best time of each node over `runs` runs (wrapping the interpreter's dispatch), the
    whole batch layer by layer: not split into shares, which would time each share's
    layers side by side."""
    best: dict[int, float] = {}
    call = interpreter._call

    def timed(node, values):
        start = time.perf_counter()
        result = call(node, values)
        elapsed = time.perf_counter() - start
        best[node.index] = min(best.get(node.index, elapsed), elapsed)
        return result

    interpreter._call = timed
    interpreter.split_batch = False
    try:
        for _ in range(runs):
            interpreter.run(x)
    finally:
        interpreter._call = call
        interpreter.split_batch = True
    return best


def matmul_gflops(m: int, k: int, n: int, runs: int) -> float:
    a = np.random.default_rng(0).random((m, k), dtype=np.float32)
    b = np.random.default_rng(1).random((k, n), dtype=np.float32)
    out = np.empty((m, n), np.float32)
    np.matmul(a, b, out=out)
    best, _ = best_and_median(lambda: np.matmul(a, b, out=out), runs)
    return 2 * m * k * n / best / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", choices=sorted(NETWORKS))
    args = parser.parse_args()
    tf_state = tensorflow()
    print(f"NumPy {np.__version__}; TensorFlow: "
          + (f"{tf_state[0].__version__}, oneDNN {tf_state[2]}" if tf_state else "not installed"))
    print(f"best / median of {args.runs} runs; TF runs model(x, training=False) inside a "
          "warmed-up tf.function\n")
    print(f"| {'network':<10} | {'batch':>5} | {'NumPy ms':>8} | {'TF ms':>8} | {'NumPy/TF':>8} |"
          f" {'NumPy peak MiB':>14} | {'GFLOP/s':>7} |")
    # NumPy peak: memory allocated during a first run (tracemalloc; weights excluded).
    print(f"|{'-' * 12}|{'-' * 7}|{'-' * 10}|{'-' * 10}|{'-' * 10}|{'-' * 16}|{'-' * 9}|")
    details: list[str] = []
    for name, (text, batch) in NETWORKS.items():
        if not args.only or name == args.only:
            print(bench_one(name, text, batch, args.runs, tf_state, details))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nmax RSS of this process (NumPy and TF together): {rss:.0f} MiB")
    for line in details:
        print(line)


def bench_one(name: str, text: str, batch: int, runs: int, tf_state, details) -> str:
    """One table row: NumPy and (if installed) TF on the same weights and input."""
    graph = compile_text(text, name)
    weights = realistic_weights(graph)
    x = np.random.default_rng(2).standard_normal((batch, *graph.input.shape),
                                                 dtype=np.float32)
    # Peak of a first run: every activation, im2col tile and recycled buffer is new then.
    interpreter = Interpreter(graph, weights)
    tracemalloc.start()
    interpreter.run(x)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    flops = 2 * sum(s.macs for s in analyse(graph).layers) * batch
    tf_cell, ratio_cell = "-", "-"
    if tf_state:
        infer, tx = keras_function(tf_state, graph, weights, x)
        reference = infer(tx).numpy()
        err = np.max(np.abs(interpreter.run(x) - reference)) / np.max(np.abs(reference))
        details.append(f"{name}: max |NumPy - TF| / max |TF| = {err:.1e}")
        times_np, times_tf = [], []
        for _ in range(runs):  # interleaved, so load changes hit both alike
            times_np.append(best_and_median(lambda: interpreter.run(x), 1)[0])
            times_tf.append(best_and_median(lambda: infer(tx).numpy(), 1)[0])
        np_best, tf_best = min(times_np), min(times_tf)
        tf_cell, ratio_cell = f"{tf_best * 1e3:8.1f}", f"{np_best / tf_best:8.2f}"
    else:
        np_best, _ = best_and_median(lambda: interpreter.run(x), runs)
    if name == "resnet50":
        details += conv_report(graph, interpreter, x, runs)
    else:
        details += layer_report(name, graph, interpreter, x, runs)
    return (f"| {name:<10} | {batch:>5} | {np_best * 1e3:8.1f} | {tf_cell:>8} | {ratio_cell:>8} |"
            f" {peak / 2**20:14.1f} | {flops / np_best / 1e9:7.1f} |")


def keras_function(tf_state, graph, weights, x):
    """The Keras model of `graph` as a warmed-up `tf.function`, and `x` as a tensor."""
    tf = tf_state[0]
    from cnndsl.backends.keras.builder import build_model

    model = build_model(graph, weights)
    infer = tf.function(lambda t: model(t, training=False))
    tx = tf.constant(x)
    for _ in range(2):
        infer(tx).numpy()
    return infer, tx


def layer_report(name, graph, interpreter, x, runs) -> list[str]:
    """Where a small network's time goes, layer by layer (steps fused into the layer
    before them, such as a pooling after a convolution, are timed with it)."""
    stats = analyse(graph)
    best = layer_times(interpreter, x, runs)
    total = sum(best.values())
    lines = ["", f"{name}, NumPy time by layer (best of {runs}; whole batch, layer by layer):"]
    for index, seconds in sorted(best.items()):
        node = graph.nodes[index]
        flops = 2 * x.shape[0] * stats.layers[index].macs
        rate = f"{flops / seconds / 1e9:6.1f} GFLOP/s" if flops else ""
        lines.append(f"  {node.name:<12} {seconds * 1e3:7.2f} ms  {100 * seconds / total:5.1f}%"
                     f"  {rate}")
    return lines


def conv_report(graph, interpreter, x, runs) -> list[str]:
    """Where ResNet-50's time goes, and its convolutions' GFLOP/s against plain matmul."""
    stats = analyse(graph)
    best = layer_times(interpreter, x, runs)
    batch = x.shape[0]
    by_kind: dict[str, float] = {}
    for index, seconds in best.items():
        kind = graph.nodes[index].kind
        by_kind[kind] = by_kind.get(kind, 0.0) + seconds
    conv_nodes = [i for i in best if graph.nodes[i].kind == "conv"]
    conv_time = sum(best[i] for i in conv_nodes)
    conv_flops = 2 * batch * sum(stats.layers[i].macs for i in conv_nodes)
    # A GEMM of the size of ResNet-50's middle 3x3 convolution at this batch.
    m, k, n = batch * 28 * 28, 3 * 3 * 128, 128
    reference = matmul_gflops(m, k, n, runs)
    big = matmul_gflops(2048, 2048, 2048, runs)
    total = sum(by_kind.values())
    lines = ["", "ResNet-50, NumPy time by layer kind (sum of per-layer best times):"]
    for kind, seconds in sorted(by_kind.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {kind:<10} {seconds:7.3f} s  {100 * seconds / total:5.1f}%")
    gflops = conv_flops / conv_time / 1e9
    lines += [f"convolutions: {conv_flops / 1e9:.1f} GFLOP in {conv_time:.3f} s = "
              f"{gflops:.1f} GFLOP/s",
              f"numpy.matmul float32 ({m}x{k}) @ ({k}x{n}): {reference:.1f} GFLOP/s -> "
              f"convolutions at {100 * gflops / reference:.0f}%",
              f"numpy.matmul float32 2048^3: {big:.1f} GFLOP/s -> convolutions at "
              f"{100 * gflops / big:.0f}%"]
    return lines


if __name__ == "__main__":
    main()

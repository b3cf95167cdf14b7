"""Compile time: `resnet50.cnn` to a `.keras` file, against Keras building its own
`keras.applications.ResNet50` and saving it, in the same process.

Run from the repository root with TensorFlow installed:
`python benchmarks/bench_keras.py [--runs N]`. Prints a table; asserts nothing.
Target (issue 4): cnndsl / Keras <= 1.2. Both sides start with TensorFlow imported and
warmed up, build a fresh model with initial weights, and save it; runs are interleaved.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    try:
        import keras
    except ImportError:
        print("TensorFlow is not installed: pip install 'cnndsl[keras]'")
        return
    from cnndsl import compile_file
    from cnndsl.backends.keras.builder import build_seeded, save_model

    spec = ROOT / "examples" / "resnet50.cnn"
    out = Path(tempfile.mkdtemp())

    def ours() -> None:
        graph, _ = compile_file(spec)
        save_model(build_seeded(graph, 0), out / "ours.keras")

    def theirs() -> None:
        model = keras.applications.ResNet50(weights=None)
        model.save(out / "theirs.keras")

    timings: dict[str, list[float]] = {"cnndsl": [], "keras": []}
    for fn in (ours, theirs):  # warm-up: imports, graph tracing caches
        fn()
        keras.backend.clear_session()
    for _ in range(args.runs):
        for name, fn in (("cnndsl", ours), ("keras", theirs)):
            start = time.perf_counter()
            fn()
            timings[name].append(time.perf_counter() - start)
            keras.backend.clear_session()
    print(f"keras {keras.__version__}; median and best of {args.runs} interleaved runs\n")
    print(f"| {'what':<58} | {'median s':>8} | {'best s':>7} |")
    print(f"|{'-' * 60}|{'-' * 10}|{'-' * 9}|")
    labels = {"cnndsl": "cnndsl: parse resnet50.cnn, init weights, build, save .keras",
              "keras": "Keras: keras.applications.ResNet50(weights=None), save"}
    for name, values in timings.items():
        print(f"| {labels[name]:<58} | {statistics.median(values):8.3f} | {min(values):7.3f} |")
    ratio = statistics.median(timings["cnndsl"]) / statistics.median(timings["keras"])
    print(f"\nratio cnndsl / Keras (medians): {ratio:.2f}   (target <= 1.2)")
    sizes = {p.name: p.stat().st_size for p in out.glob("*.keras")}
    print("file sizes: " + ", ".join(f"{k} {v / 2**20:.1f} MiB" for k, v in sorted(sizes.items())))


if __name__ == "__main__":
    main()

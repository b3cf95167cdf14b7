"""`cnndsl draw` speed: the whole process on ResNet-50 against `cnndsl shapes`, and the
layout's growth from 1,000 to 100,000 layers.

Run from the repository root: `python benchmarks/bench_draw.py [--runs N]`.
Prints tables; asserts nothing (the machine is shared and noisy: read the ratios, which
are measured side by side in the same run).

Targets (issue 12): `cnndsl draw examples/resnet50.cnn` takes no more than 1.3 times
`cnndsl shapes` on it; 1,000 layers lay out in well under a second, and the time per
layer stays flat up to 100,000 layers (linear growth).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cnndsl import analyse, compile_text  # noqa: E402
from cnndsl.views.drawing.diagram import describe  # noqa: E402
from cnndsl.views.drawing.layout import layout  # noqa: E402
from cnndsl.views.drawing.svg import svg  # noqa: E402


def _process_seconds(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, cwd=ROOT,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    return time.perf_counter() - start


def processes(runs: int) -> None:
    spec = "examples/resnet50.cnn"
    with tempfile.TemporaryDirectory() as tmp:
        commands = {
            "cnndsl shapes resnet50": [sys.executable, "-m", "cnndsl", "shapes", spec],
            "cnndsl draw resnet50": [sys.executable, "-m", "cnndsl", "draw", spec, "-o",
                                     f"{tmp}/r.svg"],
            "cnndsl draw --collapse": [sys.executable, "-m", "cnndsl", "draw", spec,
                                       "--collapse", "-o", f"{tmp}/c.svg"],
        }
        times: dict[str, list[float]] = {k: [] for k in commands}
        for _ in range(runs):  # interleaved, so both see the same load
            for key, argv in commands.items():
                times[key].append(_process_seconds(argv))
    base = statistics.median(times["cnndsl shapes resnet50"])
    print(f"| whole process ({runs} runs, median) | seconds | vs shapes |")
    print("|---|---:|---:|")
    for key, values in times.items():
        median = statistics.median(values)
        print(f"| {key} | {median:.3f} | {median / base:.2f}x |")


def network(blocks: int) -> str:
    """Four layers per block: a conv, then two branches side by side and their add."""
    return (f"input 8x8x4 -> (conv 3 x4 same -> add {{ conv 1 x4 | conv 3 x4 same }}) "
            f"* {blocks}"
            " -> gap -> dense 2")


def scaling(runs: int) -> None:
    print()
    print("| layers | describe s | layout s | SVG text s | total s | us per layer |")
    print("|---:|---:|---:|---:|---:|---:|")
    for blocks in (250, 2500, 24999):
        graph = compile_text(network(blocks))
        stats = analyse(graph)
        best = [float("inf")] * 3
        for _ in range(runs if blocks < 20000 else max(1, runs // 2)):
            t0 = time.perf_counter()
            diagram = describe(graph, stats)
            t1 = time.perf_counter()
            placed = layout(diagram)
            t2 = time.perf_counter()
            svg(placed)
            t3 = time.perf_counter()
            best = [min(b, t) for b, t in zip(best, (t1 - t0, t2 - t1, t3 - t2))]
        total = sum(best)
        print(f"| {len(graph):,} | {best[0]:.3f} | {best[1]:.3f} | {best[2]:.3f} | "
              f"{total:.3f} | {total / len(graph) * 1e6:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    processes(args.runs)
    scaling(args.runs)


if __name__ == "__main__":
    main()

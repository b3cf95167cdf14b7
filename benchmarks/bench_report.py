"""The `shapes` table's cost: the merge tree (`cnndsl.views.outline`) and the text, by size.

Run from the repository root: `python benchmarks/bench_report.py [--runs N]`.
Prints a table; asserts nothing (the machine is shared and noisy). The tree is one walk
over the graph, so time per layer should stay flat from 1,000 to 100,000 layers, for a
plain chain, for residual blocks, and for named-tensor cells that do not nest.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cnndsl import analyse, compile_text  # noqa: E402
from cnndsl.views.outline import outline  # noqa: E402
from cnndsl.views.report import table  # noqa: E402


def chain(n: int) -> str:
    return "input 8x8x4 -> " + " -> ".join(["relu"] * (n - 1)) + "\n"


def residual(n: int) -> str:  # 4 layers a block: add, conv, relu (and the add's id branch)
    return "input 8x8x4 -> (residual { conv 1 x4 -> relu } -> relu) * " + f"{n // 4 - 1}\n"


def cells(n: int) -> str:  # every cell reads the one before the last: no nesting
    lines = ["input 8x8x4 as c0 -> relu as c1"]
    for i in range(2, n // 2):
        lines.append(f"add {{ @c{i - 1} | @c{i - 2} }} -> relu as c{i}")
    return "\n".join(lines) + f"\noutput @c{n // 2 - 1}\n"


def seconds(fn, arg, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn(arg)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    print(f"{'network':<10} {'layers':>8} {'outline s':>10} {'us/layer':>9} "
          f"{'table s':>9} {'us/layer':>9}")
    for name, make in (("chain", chain), ("residual", residual), ("cells", cells)):
        for n in (1_000, 10_000, 100_000):
            graph = compile_text(make(n), name)
            stats = analyse(graph)
            tree = seconds(outline, graph, runs)
            text = seconds(table, stats, runs)
            size = len(graph)
            print(f"{name:<10} {size:>8,} {tree:>10.3f} {tree / size * 1e6:>9.1f} "
                  f"{text:>9.3f} {text / size * 1e6:>9.1f}")


if __name__ == "__main__":
    main()

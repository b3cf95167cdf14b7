"""Front-end speed: process start-up of `cnndsl shapes`, and scaling to 100,000 layers.

Run from the repository root: `python benchmarks/bench_frontend.py [--runs N]`.
Prints tables; asserts nothing (the machine is shared and noisy: read the ratios, which
are measured side by side in the same run).

Targets (issue 2): `cnndsl shapes examples/resnet50.cnn` takes no more than about twice
`python -c "import numpy, lark"`; parsing and inference stay well under a second per
10,000 layers and grow linearly up to 100,000 layers; issue 11: the same for a network of
named-tensor cells (several statements, `@NAME`, a tensor parameter).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cnndsl import analyse, compile_text  # noqa: E402
from cnndsl.syntax.parser import parse  # noqa: E402


def _process_seconds(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - start


def startup(runs: int) -> None:
    py = sys.executable
    commands = {
        'python -c "import numpy, lark"': [py, "-c", "import numpy, lark"],
        "cnndsl shapes examples/resnet50.cnn": [py, "-m", "cnndsl", "shapes",
                                                "examples/resnet50.cnn"],
        "cnndsl check examples/densenet121.cnn": [py, "-m", "cnndsl", "check",
                                                  "examples/densenet121.cnn"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for argv in commands.values():  # warm the OS cache and Lark's grammar cache
        _process_seconds(argv)
    for _ in range(runs):  # interleaved, so load changes hit every command alike
        for name, argv in commands.items():
            times[name].append(_process_seconds(argv))
    base = statistics.median(times['python -c "import numpy, lark"'])
    print(f"Process start-up, median of {runs} runs (interleaved)\n")
    print(f"| {'command':<40} | {'median s':>9} | {'min s':>7} | {'ratio':>6} |")
    print(f"|{'-' * 42}|{'-' * 11}|{'-' * 9}|{'-' * 8}|")
    for name, values in times.items():
        med = statistics.median(values)
        print(f"| {name:<40} | {med:9.3f} | {min(values):7.3f} | {med / base:6.2f} |")
    print()


def _literal(n: int) -> str:
    """A chain of n layers written out step by step (each step one layer)."""
    steps = ("conv 3 x16 same relu", "bn", "relu", "conv 1 x16", "dropout 0.1")
    return "input 32x32x16 -> " + " -> ".join(steps[i % len(steps)] for i in range(n - 1))


def _repeated(n: int) -> str:
    """About n layers from a short text, through a block and `* N`."""
    return ("def unit(f) = conv 3 x{f} same -> bn -> relu -> residual { conv 1 x{f} }\n"
            f"input 32x32x16 -> ( unit(16) ) * {(n - 1) // 5}")


def _cells(n: int) -> str:
    """NASNet-like cells within n of the size limit's count: each reads its input and the
    cell before it, one statement a cell, through named tensors and a tensor parameter
    (issue 11). A cell makes 3 layers and an `id` branch, which the limit on expanded
    layers counts too: 4 each, so that the largest size stays under the limit."""
    lines = ["def cell(@prev) = conv 1 x8 as h -> @prev -> conv 1 x8 -> add { id | @h }",
             "input 16x16x8 -> conv 1 x8 as c0 -> conv 1 x8 as c1"]
    lines += [f"@c{i + 1} -> cell(@c{i}) as c{i + 2}" for i in range(max(1, (n - 3) // 4))]
    return "\n".join(lines)


def scaling(sizes: list[int]) -> None:
    print("Parse + expand + infer + analyse (in process; best of 3)\n")
    print(f"| {'network':<24} | {'layers':>7} | {'parse s':>8} | {'total s':>8} |"
          f" {'s / 10k layers':>14} |")
    print(f"|{'-' * 26}|{'-' * 9}|{'-' * 10}|{'-' * 10}|{'-' * 16}|")
    for label, make in (("written out", _literal), ("`* N` expansion", _repeated),
                        ("named-tensor cells", _cells)):
        for n in sizes:
            text = make(n)
            best_parse = best_total = float("inf")
            for _ in range(3):
                t0 = time.perf_counter()
                parse(text)
                t1 = time.perf_counter()
                graph = compile_text(text)
                analyse(graph)
                t2 = time.perf_counter()
                best_parse = min(best_parse, t1 - t0)
                best_total = min(best_total, t2 - t1)
            layers = len(graph)
            print(f"| {label + ' ' + format(n, ','):<24} | {layers:>7,} | {best_parse:8.3f} |"
                  f" {best_total:8.3f} | {best_total / layers * 10_000:14.3f} |")
    print("\n(total = compile_text + analyse; compile_text includes parsing)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="start-up runs per command")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    args = parser.parse_args()
    startup(args.runs)
    scaling(args.sizes)


if __name__ == "__main__":
    main()

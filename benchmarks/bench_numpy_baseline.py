"""The NumPy interpreter today against an earlier commit, side by side in one run.

Run from the repository root:

    python benchmarks/bench_numpy_baseline.py [--baseline REV] [--rounds N] [--runs N]

Issue 11 asks that language version 2 leave the interpreter "as fast as today on v1
networks". REV (default: the parent of the first version-2 commit) is exported with
`git archive` into a temporary directory. Each round starts one worker process per version,
in alternating order, and each worker times the forward pass of bench_numpy's three networks
on the same weights (the best of `--runs`); the table gives the median over rounds of each
version's time and their ratio. Interleaving rounds spreads the shared machine's noise over
both columns. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRST_V2 = "eeeaf87"  # "Language v2 front end: named tensors ..."

WORKER = r"""
import json, sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[1] + "/benchmarks")
from cnndsl import compile_text
from cnndsl.backends.numpy import Interpreter
import bench_numpy
runs = int(sys.argv[2])
result = {}
for name, (text, batch) in bench_numpy.NETWORKS.items():
    graph = compile_text(text, name)
    interpreter = Interpreter(graph, bench_numpy.realistic_weights(graph))
    x = np.random.default_rng(1).normal(size=(batch, *graph.input.shape)).astype(np.float32)
    interpreter.run(x)
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        interpreter.run(x)
        best = min(best, time.perf_counter() - start)
    result[name] = best
print(json.dumps(result))
"""


def export(rev: str, into: Path) -> Path:
    """The tree of `rev` (cnndsl/, grammar/, benchmarks/, examples/) as plain files."""
    archive = into / "tree.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), rev], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into / "tree", filter="data")
    return into / "tree"


def time_tree(tree: Path, runs: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", WORKER, str(tree), str(runs)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=f"{FIRST_V2}^",
                        help=f"the commit to compare with (default: {FIRST_V2}^)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.baseline],
                         check=True, capture_output=True, text=True).stdout.strip()
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                          check=True, capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        base = export(rev, Path(tmp))
        times: dict[str, dict[str, list[float]]] = {"base": {}, "now": {}}
        started = time.perf_counter()
        for round_ in range(args.rounds):
            order = [("base", base), ("now", ROOT)]
            for label, tree in order if round_ % 2 == 0 else order[::-1]:
                for name, t in time_tree(tree, args.runs).items():
                    times[label].setdefault(name, []).append(t)
    print(f"NumPy interpreter, forward pass, best of {args.runs} per worker, median of "
          f"{args.rounds} interleaved rounds ({time.perf_counter() - started:.0f} s)")
    print(f"{'network':<12} {rev + ' (ms)':>14} {head + ' (ms)':>14} {'now/base':>9}")
    for name in times["base"]:
        b, n = statistics.median(times["base"][name]), statistics.median(times["now"][name])
        print(f"{name:<12} {b * 1e3:>14.1f} {n * 1e3:>14.1f} {n / b:>9.2f}")


if __name__ == "__main__":
    main()

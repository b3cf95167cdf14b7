"""Whole-process start-up of the commands that never load NumPy or TensorFlow, today
against an earlier commit, side by side in one run.

Run from the repository root:

    python benchmarks/bench_startup.py [--baseline REV] [--runs N]

Issue 20 moved 35 modules into layered folders; the lazy imports that keep NumPy out of
`shapes` and `check` had to survive the move, and the package's start-up must not grow.
REV (default: the commit before the move) is exported with `git archive`; each run times
`python -m cnndsl shapes examples/resnet50.cnn` (and `check`) once from each tree, in
alternating order, so the shared machine's noise falls on both columns; the table gives
the median of each and their ratio. Asserts nothing.
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

from bench_numpy_baseline import ROOT, export

BEFORE_THE_MOVE = "5948063"  # main before issue 20's layers
COMMANDS = (("shapes", "examples/resnet50.cnn"), ("check", "examples/resnet50.cnn"),
            ("shapes", "examples/nasnet_mobile.cnn"))


def once(tree: Path, argv: tuple[str, ...]) -> float:
    """Seconds for one whole `python -m cnndsl ...` process run from `tree`."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cnndsl", *argv], cwd=tree, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BEFORE_THE_MOVE,
                        help=f"the commit to compare with (default: {BEFORE_THE_MOVE})")
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        trees = {"before": export(args.baseline, Path(scratch)), "now": ROOT}
        print(f"{'command':44} {'before':>8} {'now':>8} {'now/before':>10}")
        for argv in COMMANDS:
            times: dict[str, list[float]] = {"before": [], "now": []}
            for run in range(args.runs + 1):
                order = ("before", "now") if run % 2 else ("now", "before")
                for name in order:
                    seconds = once(trees[name], argv)
                    if run:  # the first round warms the page cache for both
                        times[name].append(seconds)
            before, now = (statistics.median(times[k]) for k in ("before", "now"))
            print(f"{'cnndsl ' + ' '.join(argv):44} {before:8.3f} {now:8.3f} "
                  f"{now / before:10.2f}")
        print(f"medians of {args.runs} interleaved runs; before = {args.baseline}")


if __name__ == "__main__":
    main()

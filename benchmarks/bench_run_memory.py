"""Peak memory of `cnndsl run` as the network gets deeper: the bound of docs/running.md.

Run from the repository root: `python benchmarks/bench_run_memory.py [--deepest N]`.
Each row runs `cnndsl run` as a fresh process on a chain of N layers and prints its
peak resident memory, next to what the bound allows: a fixed start-up cost (the same
command on the 1-layer network), the weights, a few activations of the largest layer,
and bookkeeping per layer (the IR, the weights' dictionaries, the per-layer plans).
The "per layer" column is (peak - start-up - weights) / layers: it must stay flat as N
grows, and small (kilobytes), for memory to be bounded for any depth.

Two chains: `dense 4` layers on a batch of 3 (the probe that grew 256 KB per layer), and
`conv 3 x16 same relu` layers on 32x32x16 images (large activations, batch 8).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

CHAINS = {
    "dense 4": ("input 4", "dense 4", (3, 4), 4 * 4 + 4),
    "conv 3 x16 same relu": ("input 32x32x16", "conv 3 x16 same relu", (8, 32, 32, 16),
                             3 * 3 * 16 * 16 + 16),
}


def peak_mib(argv: list[str], cwd: Path) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of one process, which must succeed."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read().decode() if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{err}")
    return time.perf_counter() - start, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deepest", type=int, default=100_000,
                        help="the deepest dense chain (default: 100,000 layers)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp())
    print(f"| {'chain':<22} | {'layers':>7} | {'seconds':>7} | {'peak MiB':>8} "
          f"| {'weights MiB':>11} | {'per layer KiB':>13} |")
    print(f"|{'-' * 24}|{'-' * 9}|{'-' * 9}|{'-' * 10}|{'-' * 13}|{'-' * 15}|")
    for label, (head, step, x_shape, params) in CHAINS.items():
        np.save(work / "x.npy", np.ones(x_shape, np.float32))
        depths = [1, 1_000, 10_000, args.deepest] if label == "dense 4" else [1, 100, 1_000]
        base = None
        for depth in depths:
            (work / "net.cnn").write_text(f"{head} " + f"-> {step} " * depth + "\n")
            seconds, mib = peak_mib([sys.executable, "-m", "cnndsl", "run", "net.cnn",
                                     "--input", "x.npy", "-o", "y.npy"], work)
            weights = depth * params * 4 / 2**20
            base = mib - weights if base is None else base
            per_layer = (mib - base - weights) * 1024 / depth if depth > 1 else 0.0
            print(f"| {label:<22} | {depth:>7,} | {seconds:7.2f} | {mib:8.1f} "
                  f"| {weights:11.1f} | {per_layer:13.2f} |")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT),
                                                             os.environ.get("PYTHONPATH")]))
    main()

"""How fast, and in how much memory, specs beyond the limits are refused.

Run from the repository root: `python benchmarks/bench_limits.py`. Each case runs
`cnndsl check` as a fresh process; the table shows its wall time, its peak resident
memory, and the error's first line. Target (issue 5): each answered within a second
with flat memory. `python -c "import lark"` is the baseline process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

DOUBLING = "def b0 = conv 1 x1 -> conv 1 x1\n" + "".join(
    f"def b{i} = b{i - 1} -> b{i - 1}\n" for i in range(1, 40)) + "input 4x4x1 -> b39\n"

CASES = {
    "( conv 1 x1 ) * 1000000000": "input 6x6x1 -> ( conv 1 x1 ) * 1000000000\n",
    "blocks doubling 39 times (2^40 layers)": DOUBLING,
    "100,005 steps written out": "input 4x4x1 " + "-> relu " * 100_005 + "\n",
    "merges nested 10,000 deep": "input 8x8x4 -> " + "add { id | " * 10_000 + "relu"
    + " }" * 10_000 + "\n",
    "repeats nested 10,000 deep": "input 8x8x4 -> " + "( " * 10_000 + "relu"
    + " ) * 2" * 10_000 + "\n",
    "a tensor of 2^33 elements": "input 65536x65536x2\n",
    "an expression 10,000 parentheses deep": "input 8 -> dense {" + "(" * 10_000 + "1"
    + ")" * 10_000 + "}\n",
}


def measure(argv: list[str]) -> tuple[float, float, str]:
    """(seconds, peak RSS MiB, first stderr line) of one process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    err = proc.stderr.read().decode() if proc.stderr else ""
    _, _, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    first = err.splitlines()[0] if err else "(no error)"
    return elapsed, usage.ru_maxrss / 1024, first


def main() -> None:
    py = sys.executable
    work = Path(tempfile.mkdtemp())
    rows = [("baseline: python -c 'import lark'", *measure([py, "-c", "import lark"]))]
    for label, text in CASES.items():
        path = work / "net.cnn"
        path.write_text(text)
        rows.append((label, *measure([py, "-m", "cnndsl", "check", str(path)])))
    huge = work / "huge.cnn"
    with open(huge, "wb") as f:  # in pieces: a child's peak RSS counts what it forked from
        f.write(b"input 8x8x1 -> relu\n")
        for _ in range(50):
            f.write(b"#" * 2**20)
        f.write(b"\n")
    rows.append(("a 50 MB spec file", *measure([py, "-m", "cnndsl", "check", str(huge)])))
    print(f"| {'case':<40} | {'seconds':>7} | {'peak MiB':>8} | error |")
    print(f"|{'-' * 42}|{'-' * 9}|{'-' * 10}|-------|")
    for label, seconds, mib, first in rows:
        message = first.split(": error: ", 1)[-1][:60]
        print(f"| {label:<40} | {seconds:7.2f} | {mib:8.0f} | {message} |")


if __name__ == "__main__":
    main()

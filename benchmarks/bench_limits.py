"""How fast, and in how much memory, hostile specs are answered.

Run from the repository root: `python benchmarks/bench_limits.py`. Each case runs
`cnndsl check` on a spec as a fresh process; the table shows its exit status, wall time,
peak resident memory and the message's first line. `python -c "import lark"` is the
baseline process.

The cases are the worst ones for each limit of cnndsl/support/limits.py: a construct repeated
until just past its limit, and, for every construct, a spec that fills the 8 MiB size
limit with it (the file size limit lets those through, the other limits must answer
them). Target (issues 5 and 10): a spec beyond a limit is refused in about a second with
flat memory; no spec under the size limit takes longer than the largest network the
limits accept.

`--trees DIR...` runs every case against each checkout given (default: this one), side
by side: for example `--trees /tmp/old .` with a clone of an older commit in /tmp/old.
`--only WORDS` keeps the cases whose label contains WORDS; `--timeout S` stops a case
after S seconds (shown as `timeout`).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _limits():
    """cnndsl/support/limits.py alone: importing `cnndsl` would grow this process, and a child's
    peak memory counts the parent's pages it was started from."""
    spec = importlib.util.spec_from_file_location("limits", ROOT / "cnndsl" / "limits.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_L = _limits()
MAX_ARGUMENTS, MAX_BRANCHES, MAX_DEFINITIONS = _L.MAX_ARGUMENTS, _L.MAX_BRANCHES, \
    _L.MAX_DEFINITIONS
MAX_LAYERS, MAX_NESTING, MAX_SOURCE_BYTES = _L.MAX_LAYERS, _L.MAX_NESTING, _L.MAX_SOURCE_BYTES
MAX_STEPS_WRITTEN, MAX_TOKENS, MAX_NAME_CHARS = _L.MAX_STEPS_WRITTEN, _L.MAX_TOKENS, \
    _L.MAX_NAME_CHARS

FULL = MAX_SOURCE_BYTES - 64  # just under the size limit, room for a head and a tail


def fill(head: str, unit: str, tail: str = "\n", size: int = FULL) -> bytes:
    """`head`, then `unit` as many times as fits in `size` bytes, then `tail`."""
    count = (size - len(head) - len(tail)) // len(unit)
    return (head + unit * count + tail).encode()


def numbered(head: str, make: Callable[[int], str], tail: str, size: int = FULL,
             count: int | None = None) -> bytes:
    """`head`, then make(0), make(1), ... while they fit in `size` bytes (and, given
    `count`, for `count` pieces at most), then `tail`."""
    parts, used, i = [head], len(head) + len(tail), 0
    while count is None or i < count:
        piece = make(i)
        if used + len(piece) > size:
            break
        parts.append(piece)
        used += len(piece)
        i += 1
    parts.append(tail)
    return "".join(parts).encode()


def doubling(count: str, param: bool = False) -> bytes:
    """Blocks each repeating the one before: 2^40 layers from 40 lines. With `param`, the
    count is a block parameter, counted from its value at the use."""
    head = "(n=2)" if param else ""
    return ("def b0 = conv 1 x1 -> conv 1 x1\n" + "".join(
        f"def b{i}{head} = ( b{i - 1} ) * {count}\n" for i in range(1, 40))
        + "input 4x4x1 -> b39\n").encode()


def under_words(head: str, unit: str, words: int, tail: str = "\n") -> bytes:
    """`unit` (of `words` words and symbols) repeated to just under the word limit."""
    return fill(head, unit, tail, size=len(head) + len(tail)
                + len(unit) * ((MAX_TOKENS - 100) // words))


WORDS = f"{MAX_TOKENS // 1000}k"  # the word limit, for labels

# Steps of the largest legal networks: with every argument a convolution may take, and
# with eight words and symbols (the most the word limit allows for 100,000 layers).
RICH_STEP = "-> conv 3x3/1 x4 same relu bias=false dilation=1 groups=1 name=c{:06d} "
LEGAL_STEP = "-> conv 3x3/1 x4 same relu "
WIDE_MERGE = f"def b = add{{id{'|id' * (MAX_BRANCHES - 1)}}}\n"

CASES: dict[str, Callable[[], bytes]] = {
    # -- issue 5: beyond the layer, step, nesting, tensor and expression limits ---------
    "( conv 1 x1 ) * 1000000000": lambda: b"input 6x6x1 -> ( conv 1 x1 ) * 1000000000\n",
    "blocks doubling 39 times (2^40 layers)": lambda: doubling("2"),
    "blocks doubling, counts as {expr}": lambda: doubling("{2}"),
    "blocks doubling, counts as parameters": lambda: doubling("{n}", param=True),
    "( relu ) * {1000000000}": lambda: b"input 8 -> ( relu ) * {1000000000}\n",
    f"{MAX_STEPS_WRITTEN + 5:,} steps written out": lambda: (
        "input 4x4x1 " + "-> relu " * (MAX_STEPS_WRITTEN + 5) + "\n").encode(),
    f"{MAX_STEPS_WRITTEN:,} steps, no spaces (one layer too many)": lambda: fill(
        "input 8", "->relu", "\n", size=MAX_STEPS_WRITTEN * 6 + 8),
    "merges nested 10,000 deep": lambda: (
        "input 8x8x4 -> " + "add { id | " * 10_000 + "relu" + " }" * 10_000 + "\n").encode(),
    "repeats nested 10,000 deep": lambda: (
        "input 8x8x4 -> " + "( " * 10_000 + "relu" + " ) * 2" * 10_000 + "\n").encode(),
    "a tensor of 2^33 elements": lambda: b"input 65536x65536x2\n",
    "an expression 10,000 parentheses deep": lambda: (
        "input 8 -> dense {" + "(" * 10_000 + "1" + ")" * 10_000 + "}\n").encode(),
    # -- issue 10: each construct filling the 8 MiB size limit -------------------------
    "8 MiB: `1` arguments after one step": lambda: fill("input 8 -> dense", " 1"),
    "8 MiB: `x1` widths after one step": lambda: fill("input 8 -> dense", " x1"),
    "8 MiB: options after one step": lambda: numbered(
        "input 8 -> dense 1", lambda i: f" o{i}=1", "\n"),
    "8 MiB: arguments of `input`": lambda: fill("input", " 1"),
    "8 MiB: unclosed `(`": lambda: fill("input 8 -> ", "("),
    "8 MiB: unclosed `add{`": lambda: fill("input 8 -> ", "add{"),
    "8 MiB: `id` branches of one merge": lambda: fill("input 8 -> add{id", "|id", "}\n"),
    "8 MiB: `relu` branches of one merge": lambda: fill("input 8 -> concat{relu", "|relu",
                                                        "}\n"),
    "8 MiB: `def`s": lambda: numbered("", lambda i: f"def d{i}=relu\n", "input 8 -> relu\n"),
    "8 MiB: arguments of a block use": lambda: fill("def b(n)=relu\ninput 8 -> b(1", ",1",
                                                   ")\n"),
    "8 MiB: parameters of a block": lambda: numbered(
        "def b(p0", lambda i: f",p{i + 1}", ")=relu\ninput 8 -> b\n"),
    "8 MiB: comment lines": lambda: fill("input 8 -> relu\n", "#\n"),
    "8 MiB: blank lines, error at the end": lambda: fill("input 8 -> relu\n", "\n", "->"),
    "8 MiB: one long name": lambda: fill("input 8 -> ", "a"),
    "8 MiB: one long size": lambda: fill("input 8x8x1 -> conv 1", "x1"),
    "8 MiB: one long `{expr}`": lambda: fill("input 8 -> dense {1", "+1", "}\n"),
    "8 MiB: `->` in comments": lambda: fill("input 8 -> relu\n#", " ->"),
    # -- each construct to just under the word limit: the other limits must answer ------
    f"{WORDS} words: `1` arguments after one step": lambda: under_words(
        "input 8 -> dense", " 1", 1),
    f"{WORDS} words: unclosed `(`": lambda: under_words("input 8 -> ", "(", 1),
    f"{WORDS} words: unclosed `add{{`": lambda: under_words("input 8 -> ", "add{", 2),
    f"{WORDS} words: `id` branches of one merge": lambda: under_words(
        "input 8 -> add{id", "|id", 2, "}\n"),
    f"{WORDS} words: `def`s": lambda: numbered(
        "", lambda i: f"def d{i}=relu\n", "input 8 -> relu\n", count=(MAX_TOKENS - 100) // 4),
    f"{WORDS} words: arguments of a block use": lambda: under_words(
        "def b(n)=relu\ninput 8 -> b(1", ",1", 2, ")\n"),
    f"{WORDS} words: parameters of a block": lambda: numbered(
        "def b(p0", lambda i: f",p{i + 1}", ")=relu\ninput 8 -> b\n",
        count=(MAX_TOKENS - 100) // 2),
    # -- just past each limit of issue 10 ------------------------------------------------
    f"{MAX_TOKENS + 1:,} comments": lambda: fill(
        "input 8 -> relu\n", "#\n", size=MAX_TOKENS * 2 + 20),
    f"{MAX_LAYERS - 1:,} layers, every option (about 2M words)": lambda: (
        "input 32x32x4 " + "".join(RICH_STEP.format(i) for i in range(MAX_LAYERS - 1))
        + "\n").encode(),
    f"{MAX_ARGUMENTS + 1} arguments after one step": lambda: (
        "input 8 -> dense 1 " + " ".join(f"o{i}=1" for i in range(MAX_ARGUMENTS))
        + "\n").encode(),
    f"{MAX_BRANCHES + 1:,} branches of one merge": lambda: (
        "input 8 -> add{id" + "|id" * MAX_BRANCHES + "}\n").encode(),
    f"{MAX_DEFINITIONS + 1:,} `def`s": lambda: (
        "".join(f"def d{i}=relu\n" for i in range(MAX_DEFINITIONS + 1))
        + "input 8 -> relu\n").encode(),
    f"nesting {MAX_NESTING + 1} deep, unclosed": lambda: (
        "input 8 -> " + "(" * (MAX_NESTING + 1) + "\n").encode(),
    f"a name of {MAX_NAME_CHARS + 1:,} characters": lambda: (
        "input 8 -> " + "a" * (MAX_NAME_CHARS + 1) + "\n").encode(),
    # -- work hidden behind small text --------------------------------------------------
    "a 10,000-branch merge used 100,000 times": lambda: (
        WIDE_MERGE + f"def r(n) = ( b ) * {{n}}\ninput 8 -> r({MAX_LAYERS})\n").encode(),
    "a 1,000-character {expr} evaluated 100,000 times": lambda: (
        "def b = dense {C+1" + "*1" * 497 + "}\n"
        f"input 8 -> ( b ) * {{{MAX_LAYERS - 1}}}\n").encode(),
    # -- the largest legal specs ---------------------------------------------------------
    f"legal: {MAX_LAYERS - 1:,} layers, 8 words each": lambda: fill(
        "input 32x32x4 ", LEGAL_STEP, "\n", size=len(LEGAL_STEP) * (MAX_LAYERS - 1) + 20),
    f"legal: {MAX_LAYERS - 1:,} layers written out, each different": lambda: numbered(
        "input 8 ", lambda i: f"-> dense {i + 1} ", "\n", count=MAX_LAYERS - 1),
    f"legal: {MAX_LAYERS - 1:,} layers by `* N`, each different": lambda: (
        f"input 8x8x1 -> ( conv 3 x{{C+1}} same ) * {MAX_LAYERS - 1}\n").encode(),
    f"legal: {MAX_LAYERS - 1:,} layers by `* N`": lambda: (
        f"input 8x8x4 -> ( conv 3 x4 same relu ) * {MAX_LAYERS - 1}\n").encode(),
    f"legal: {WORDS} words, comment lines": lambda: under_words(
        "input 8 -> relu\n", "#\n", 1),
}


def measure(argv: list[str], cwd: Path, timeout: float) -> tuple[int | str, float, float, str]:
    """(exit status, seconds, peak RSS MiB, first stderr line) of one process."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, cwd=cwd)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - start > timeout:
                proc.send_signal(signal.SIGKILL)
                _, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.01)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        first = err.readline(2000).decode(errors="replace").rstrip("\n")
    rc: int | str = "timeout" if proc.returncode == -signal.SIGKILL else proc.returncode
    return rc, elapsed, usage.ru_maxrss / 1024, first or "(no message)"


LABEL = 50  # width of the case column


def row(label: str, results: list[tuple[int | str, float, float, str]]) -> str:
    cells = [f"{label:<{LABEL}}"]
    for rc, seconds, mib, _ in results:
        cells += [f"{rc!s:>7}", f"{seconds:7.2f}", f"{mib:7.0f}"]
    message = results[-1][3].split(": error: ", 1)[-1][:60]
    return "| " + " | ".join(cells + [message]) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trees", type=Path, nargs="+", default=[ROOT], metavar="DIR",
                        help="the checkouts to run each case against (default: this one)")
    parser.add_argument("--only", default="", metavar="WORDS",
                        help="only the cases whose label contains WORDS")
    parser.add_argument("--timeout", type=float, default=300, metavar="S")
    parser.add_argument("--write", nargs=2, metavar=("CASE", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write:  # in a child process, so that this one stays small
        Path(args.write[1]).write_bytes(CASES[args.write[0]]())
        return
    trees = [tree.resolve() for tree in args.trees]
    py = sys.executable
    work = Path(tempfile.mkdtemp())
    header = ["case".ljust(LABEL)]
    for i, tree in enumerate(trees):
        tag = "" if len(trees) == 1 else f" {chr(65 + i)}"
        header += [f"{'exit' + tag:>7}", f"{'s' + tag:>7}", f"{'MiB' + tag:>7}"]
        if len(trees) > 1:
            print(f"{chr(65 + i)}: {tree}")
    print("\n(peak resident memory of the process; the message is the last tree's)\n")
    print("| " + " | ".join(header + ["message"]) + " |")
    print("|" + "|".join("-" * (len(h) + 2) for h in header + ["message"]) + "|")
    base = [measure([py, "-c", "import lark"], tree, args.timeout) for tree in trees]
    print(row("baseline: python -c 'import lark'", base), flush=True)
    for label in CASES:
        if args.only not in label:
            continue
        path = work / "net.cnn"
        subprocess.run([py, __file__, "--write", label, str(path)], check=True)
        results = [measure([py, "-m", "cnndsl", "check", str(path)], tree, args.timeout)
                   for tree in trees]
        print(row(label, results), flush=True)
    huge = work / "huge.cnn"
    with open(huge, "wb") as f:  # in pieces: a child's peak RSS counts what it forked from
        f.write(b"input 8x8x1 -> relu\n")
        for _ in range(50):
            f.write(b"#" * 2**20)
        f.write(b"\n")
    results = [measure([py, "-m", "cnndsl", "check", str(huge)], tree, args.timeout)
               for tree in trees]
    print(row("a 50 MB spec file", results))


if __name__ == "__main__":
    main()

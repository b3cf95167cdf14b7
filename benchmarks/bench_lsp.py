"""The language server's latency, as an editor sees it: `cnndsl lsp` driven over stdio.

Run from the repository root: `python benchmarks/bench_lsp.py [--hovers N] [--edits N]`.
Prints a Markdown table; asserts nothing (the machine is shared and noisy: compare each
row with `cnndsl check` on the same file, measured in the same run).

The server runs as editors run it, `python -m cnndsl lsp`, and a small JSON-RPC client
here (a reader thread, Content-Length frames) times each answer from the request written
to the response read, so the client's own cost is a JSON parse. On ResNet-152
(examples/resnet152.cnn) and on a generated network of 10,000 layers written out on
1,000 lines, it measures:

- the diagnostics after opening the file, and after an edit (an incremental didChange:
  the last layer's width changed, so the file is analysed again each time);
- the first hover right after an edit (it waits for the new analysis) and then hovers over
  many different steps (median and 95th percentile): issue's target, 50 ms on ResNet-152;
- completion at many places, the outline, the inlay hints of the whole file;
- for comparison, `cnndsl check`'s work on the same text (compile_text, in this process)
  and the command itself (a process: start-up included);
- and `format_text` over every example, in one process (target: under a second), and the
  command `cnndsl fmt --check examples/`.
"""

from __future__ import annotations

import argparse
import json
import queue
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cnndsl.language.frontend import compile_text  # noqa: E402

HOVER_TARGET = 0.050  # seconds, on ResNet-152 (the issue's)


class Client:
    """Just enough of an LSP client: requests answered in order, notifications kept."""

    def __init__(self, argv: list[str]) -> None:
        self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        cwd=ROOT)
        self.inbox: queue.Queue = queue.Queue()
        self.notes: list[tuple[float, dict]] = []
        self.ids = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        out = self.process.stdout
        assert out is not None
        while True:
            length = 0
            while (line := out.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if not line:
                return
            body = out.read(length)
            self.inbox.put((time.perf_counter(), json.loads(body)))

    def send(self, message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        stdin.flush()

    def notify(self, method: str, params: dict) -> None:
        self.send({"method": method, "params": params})

    def request(self, method: str, params: dict | None) -> tuple[float, object]:
        """The result and the seconds from writing the request to reading its answer."""
        self.ids += 1
        start = time.perf_counter()
        self.send({"id": self.ids, "method": method, "params": params})
        while True:
            at, message = self.inbox.get(timeout=120)
            if message.get("id") == self.ids and "method" not in message:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return at - start, message.get("result")
            self.notes.append((at, message))

    def diagnostics(self, uri: str, version: int, since: float) -> float:
        """Seconds from `since` to the diagnostics of `version`."""
        while True:
            for at, message in self.notes:
                params = message.get("params", {})
                if params.get("uri") == uri and params.get("version") == version:
                    self.notes.clear()
                    return at - since
            at, message = self.inbox.get(timeout=120)
            self.notes.append((at, message))

    def close(self) -> None:
        self.request("shutdown", None)
        self.notify("exit", None)
        self.process.wait(timeout=10)


def generated(layers: int = 10_000, per_line: int = 10) -> str:
    """`input 32x32x3`, then `layers` steps, `per_line` on each line."""
    steps = ("conv 3 x16 same relu", "bn", "relu", "conv 1 x16", "dropout 0.1")
    lines = ["input 32x32x3"]
    for i in range(0, layers, per_line):
        lines.append("  -> " + " -> ".join(steps[(i + k) % len(steps)]
                                           for k in range(min(per_line, layers - i))))
    return "\n".join(lines) + "\n  -> gap -> dense 10 softmax\n"


def position(text: str, offset: int) -> dict:
    line = text.count("\n", 0, offset)
    return {"line": line, "character": offset - (text.rfind("\n", 0, offset) + 1)}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}"


def measure(client: Client, name: str, text: str, hovers: int, edits: int) -> dict[str, str]:
    """Each row's value for one file (milliseconds)."""
    uri = f"file:///bench/{name}.cnn"
    doc = {"uri": uri}
    rows: dict[str, str] = {}
    start = time.perf_counter()
    client.notify("textDocument/didOpen", {"textDocument": {
        "uri": uri, "languageId": "cnn", "version": 1, "text": text}})
    rows["diagnostics after open"] = ms(client.diagnostics(uri, 1, start))
    # The edit: the last dense layer's width, 10 <-> 11, so every edit is a new network.
    width = text.rindex("dense ") + len("dense ")
    number = re.match(r"\d+", text[width:]).group()
    edit_range = {"start": position(text, width), "end": position(text, width + len(number))}
    after_edit, first_hovers = [], []
    steps = [m.start() + 3 for m in re.finditer("-> ", text)]
    rng = random.Random(0)
    for version in range(2, edits + 2):
        new = str(int(number) + version % 2)
        start = time.perf_counter()
        client.notify("textDocument/didChange", {
            "textDocument": {"uri": uri, "version": version},
            "contentChanges": [{"range": edit_range, "text": new}]})
        took, _ = client.request("textDocument/hover", {
            "textDocument": doc, "position": position(text, rng.choice(steps))})
        first_hovers.append(took)
        after_edit.append(client.diagnostics(uri, version, start))
    rows["diagnostics after an edit (median)"] = ms(statistics.median(after_edit))
    rows["first hover right after an edit (median)"] = ms(statistics.median(first_hovers))
    times = [client.request("textDocument/hover", {
        "textDocument": doc, "position": position(text, rng.choice(steps))})[0]
        for _ in range(hovers)]
    rows["hover, median"] = ms(statistics.median(times))
    rows["hover, p95"] = ms(percentile(times, 0.95))
    completions = [client.request("textDocument/completion", {
        "textDocument": doc, "position": position(text, rng.choice(steps))})[0]
        for _ in range(hovers)]
    rows["completion, median"] = ms(statistics.median(completions))
    rows["completion, p95"] = ms(percentile(completions, 0.95))
    outline = [client.request("textDocument/documentSymbol", {"textDocument": doc})[0]
               for _ in range(5)]
    rows["outline (document symbols)"] = ms(statistics.median(outline))
    lines = text.count("\n") + 1
    hints = [client.request("textDocument/inlayHint", {"textDocument": doc, "range": {
        "start": {"line": 0, "character": 0}, "end": {"line": lines, "character": 0}}})[0]
        for _ in range(5)]
    rows["inlay hints, whole file"] = ms(statistics.median(hints))
    checks = []
    for _ in range(5):
        start = time.perf_counter()
        compile_text(text, name)
        checks.append(time.perf_counter() - start)
    rows["`cnndsl check` (compile_text, in process)"] = ms(statistics.median(checks))
    rows["`cnndsl check FILE`, the command (a process)"] = ms(command(["check"], text))
    return rows


def command(argv: list[str], text: str | None = None, runs: int = 3) -> float:
    """The median wall time of `python -m cnndsl ARGV [FILE]` (FILE holding `text`)."""
    with tempfile.TemporaryDirectory() as folder:
        extra = []
        if text is not None:
            spec = Path(folder) / "spec.cnn"
            spec.write_text(text, encoding="utf-8")
            extra = [str(spec)]
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "cnndsl", *argv, *extra], cwd=ROOT,
                           check=True, capture_output=True)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def formatting() -> tuple[float, int] | None:
    """Seconds to format every example once, in one process, and how many."""
    try:
        from cnndsl.formatting import format_text
    except ImportError:
        return None
    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "examples").glob("*.cnn"))]
    format_text(texts[0])  # the grammar loaded
    start = time.perf_counter()
    for text in texts:
        format_text(text)
    return time.perf_counter() - start, len(texts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hovers", type=int, default=200, help="hovers and completions "
                        "per file (default: 200)")
    parser.add_argument("--edits", type=int, default=10, help="edits per file (default: 10)")
    args = parser.parse_args()
    files = {"ResNet-152": (ROOT / "examples" / "resnet152.cnn").read_text(encoding="utf-8"),
             "10,000 layers": generated()}
    client = Client([sys.executable, "-m", "cnndsl", "lsp"])
    client.request("initialize", {"processId": None, "rootUri": None, "capabilities": {},
                                  "initializationOptions": {"inlayHints": {"shapes": True}}})
    client.notify("initialized", {})
    found = {name: measure(client, name.replace(",", "").replace(" ", "_"), text,
                           args.hovers, args.edits) for name, text in files.items()}
    client.close()
    names = list(files)
    hover = f"≤ {HOVER_TARGET * 1000:.0f} on ResNet-152"
    targets = {"hover, median": hover, "hover, p95": hover,
               "first hover right after an edit (median)": hover + " (the analysis "
               "within `cnndsl check`'s time)",
               "diagnostics after an edit (median)": "`cnndsl check`'s time, after a wait "
               "as long (bursts of edits coalesce)"}
    print(f"`cnndsl lsp` over stdio, milliseconds ({args.hovers} hovers and completions at "
          f"random steps, {args.edits} edits per file)\n")
    print("| measure | " + " | ".join(names) + " | target |")
    print("|---|" + "---:|" * len(names) + "---|")
    for row in found[names[0]]:
        cells = " | ".join(found[name][row] for name in names)
        print(f"| {row} | {cells} | {targets.get(row, '')} |")
    formatted = formatting()
    if formatted is not None:
        seconds, count = formatted
        print(f"| `format_text` on all {count} examples, one process | "
              f"{ms(seconds)} (total) | | < 1,000 |")
        print(f"| `cnndsl fmt --check examples/`, the command (a process) | "
              f"{ms(command(['fmt', '--check', 'examples']))} (total) | | |")


if __name__ == "__main__":
    main()

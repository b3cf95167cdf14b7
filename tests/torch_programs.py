"""`.pt2` programs made and run in a process of their own, for tests whose process has
TensorFlow loaded (where `torch.export` crashes it: see tests/test_differential_torch.py).

    worker = ProgramWorker(tmp_dir)
    job = worker.submit(spec, weights, [x_nchw], name="net")   # the worker starts working
    ...                                                       # meanwhile: other backends
    result = job.result()   # Program(outputs=[y_nchw], keys=[...]); AssertionError if not

The worker (this file run as a script) is one Python that imports torch and cnndsl, never
TensorFlow, started at the first job and kept for the next ones: a job is one JSON line
on its standard input naming a folder with the weights (`weights.npz`, keyed
LAYER/VARIABLE) and the inputs (`inputs.npz`, channels first); it compiles the spec,
exports the program (`exported_program`), saves it with `torch.export.save`, loads it
with `torch.export.load`, runs `.module()` on the inputs, writes `outputs.npz` and
answers one JSON line. A worker that dies is named with the end of its log, and the next
job starts a new one.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TIMEOUT = 600.0  # seconds for one job, the worker's start (importing torch) included


@dataclass
class Program:
    """What the `.pt2` gave: its outputs (channels first) and its state_dict's keys."""

    outputs: list[np.ndarray]
    keys: list[str]


class Job:
    """One program being made; `result()` waits for it."""

    def __init__(self, worker: ProgramWorker, number: int, folder: Path) -> None:
        self.worker, self.number, self.folder = worker, number, folder

    def result(self) -> Program:
        reply = self.worker.reply(self.number)
        if "error" in reply:
            raise AssertionError(f"the .pt2 worker failed: {reply['error']}")
        with np.load(self.folder / "outputs.npz") as saved:
            outputs = [saved[f"y{i}"] for i in range(reply["outputs"])]
        return Program(outputs, reply["keys"])


class ProgramWorker:
    """The client: one worker process at a time, jobs one after the other."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.jobs = 0
        self.process: subprocess.Popen | None = None
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.log = folder / "worker.log"

    def submit(self, spec: str, weights: dict[str, np.ndarray], xs: list[np.ndarray],
               name: str = "net") -> Job:
        self.jobs += 1
        folder = self.folder / f"job{self.jobs}"
        folder.mkdir()
        np.savez(folder / "weights.npz", **weights)
        np.savez(folder / "inputs.npz", **{f"x{i}": x for i, x in enumerate(xs)})
        line = json.dumps({"job": self.jobs, "spec": spec, "name": name,
                           "folder": str(folder)}) + "\n"
        for attempt in (1, 2):  # a worker that died since its last answer: a new one
            process = self._running()
            assert process.stdin is not None
            try:
                process.stdin.write(line)
                process.stdin.flush()
                break
            except BrokenPipeError:
                if attempt == 2:
                    raise
                process.wait()
        return Job(self, self.jobs, folder)

    def reply(self, number: int) -> dict:
        """Job `number`'s answer; those of earlier jobs nobody waited for (a test that
        failed before it asked) are passed over."""
        while True:
            try:
                line = self.lines.get(timeout=TIMEOUT)
            except queue.Empty:
                self.close()
                return {"error": f"no answer in {TIMEOUT:.0f} s; log:\n{self._log_tail()}"}
            if line is None:  # the worker's standard output closed: it died
                code = self.process.wait() if self.process else None
                self.process = None
                return {"error": f"the worker died (exit code {code}); log:\n"
                        f"{self._log_tail()}"}
            answer = json.loads(line)
            if answer["job"] >= number:
                return answer

    def close(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _running(self) -> subprocess.Popen:
        if self.process is None or self.process.poll() is not None:
            self.lines = queue.Queue()
            log = open(self.log, "a", encoding="utf-8")  # noqa: SIM115 - the child's
            self.process = subprocess.Popen(
                [sys.executable, "-X", "faulthandler", __file__], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=log, text=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"})
            log.close()
            threading.Thread(target=_read, args=(self.process.stdout, self.lines),
                             daemon=True).start()
        return self.process

    def _log_tail(self, chars: int = 3000) -> str:
        text = self.log.read_text("utf-8", errors="replace") if self.log.exists() else ""
        return text[-chars:]


def _read(stream, lines: queue.Queue) -> None:
    """Every line the worker answers, then None when it is gone."""
    for line in stream:
        lines.put(line)
    lines.put(None)


# ---- the worker -------------------------------------------------------------------------------

def serve() -> None:
    """Answer jobs until standard input closes. The answers go to a copy of the standard
    output; the output itself goes to the log, so nothing a library prints is read as
    an answer."""
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    import torch

    torch.set_num_threads(1)  # beside the test's process, on CI's two cores
    for line in sys.stdin:
        job = json.loads(line)
        try:
            answer = _make_and_run(job["spec"], job["name"], Path(job["folder"]))
        except Exception as e:  # noqa: BLE001 - every failure goes back to the test
            import traceback

            answer = {"error": "".join(traceback.format_exception(e))}
        if "tensorflow" in sys.modules:
            answer = {"error": "the worker imported TensorFlow"}
        answer["job"] = job["job"]
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


def _make_and_run(spec: str, name: str, folder: Path) -> dict:
    import torch

    from cnndsl import compile_text
    from cnndsl.backends.torch.export import exported_program

    graph = compile_text(spec, name)
    with np.load(folder / "weights.npz") as saved:
        weights = {key: saved[key] for key in saved.files}
    with np.load(folder / "inputs.npz") as saved:
        xs = [torch.from_numpy(saved[f"x{i}"]) for i in range(len(saved.files))]
    path = folder / "net.pt2"
    torch.export.save(exported_program(graph, weights), str(path))
    program = torch.export.load(str(path))
    with torch.no_grad():
        out = program.module()(*xs)
    outs = out if isinstance(out, tuple) else (out,)
    np.savez(folder / "outputs.npz", **{f"y{i}": y.numpy() for i, y in enumerate(outs)})
    return {"outputs": len(outs), "keys": sorted(program.state_dict)}


if __name__ == "__main__":
    serve()

"""The PyTorch backend's speed, beside TensorFlow, onnxruntime and the NumPy interpreter.

Run from the repository root, in an environment with the torch extra:
`python benchmarks/bench_torch.py [--runs N] [--only NAME] [--skip-compile]
[--torch-threads N]`.
Prints tables; asserts nothing (the machine is shared and noisy: the compared columns
are measured in the same run, interleaved).

1. `cnndsl compile examples/resnet50.cnn -o resnet50.pt2` (the spec parsed, weights
   seeded, the module built, `torch.export`ed with an open batch axis and saved) against
   the same work done by hand in a fresh `python -c` (torchvision's resnet50 built in
   eval mode, `torch.export.export` with a dynamic batch, `torch.export.save`): each the
   whole process, wall time, best and median of N, and the ratio (target: at most 1.5x).
2. Forward time, warm, on the same weights and input (bench_numpy's networks: LeNet-5
   b256, the small VGG b64, ResNet-50 b8): the module as `cnndsl run --backend torch`
   runs it (eval mode, under `torch.inference_mode`, the batch a channels-last view and
   an image network's weights in `torch.channels_last`) against TensorFlow (the Keras model in a
   warmed-up tf.function), onnxruntime (CPU provider, defaults) and the NumPy
   interpreter; ratios against PyTorch and NumPy, and PyTorch's error against NumPy.

torch is imported before TensorFlow, and nothing is `torch.export`ed in this process:
with torch 2.14 and TensorFlow 2.21, exporting after TensorFlow was imported crashed.
On a shared machine, torch's OpenMP threads spin-waiting between operations (libgomp's
default) fight every other process and the other frameworks' threads in this one, and
can cost ten times the operations (LeNet-5 measured 120 ms against 16 ms passive, same
machine, same minute): so this script sets `OMP_WAIT_POLICY=PASSIVE` unless the
environment sets it (run with `OMP_WAIT_POLICY=ACTIVE` to see the other), and prints it.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Before torch (and its OpenMP runtime) loads: see the docstring.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_numpy import NETWORKS, keras_function, realistic_weights, tensorflow  # noqa: E402

from cnndsl import compile_text  # noqa: E402
from cnndsl.backends.numpy import Interpreter  # noqa: E402

SPEC = ROOT / "examples" / "resnet50.cnn"

# The work `cnndsl compile resnet50.cnn -o OUT.pt2` does, by hand: the same example batch
# of two, the batch axis open from 1. Prints the parameter and running-statistic counts.
BY_HAND = """\
import sys
import torch
import torchvision

model = torchvision.models.resnet50(weights=None).eval()
batch = torch.export.Dim("batch", min=1)
program = torch.export.export(model, (torch.zeros(2, 3, 224, 224),),
                              dynamic_shapes=({0: batch},))
torch.export.save(program, sys.argv[1])
params = sum(p.numel() for p in model.parameters())
stats = sum(b.numel() for n, b in model.named_buffers() if not n.endswith("num_batches_tracked"))
print(params, stats)
"""

LABELS = {"torch": "PyTorch", "tf": "TF", "ort": "ORT", "numpy": "NumPy"}


def require_torch():
    """torch, imported first (before TensorFlow); exits with the install hint without it."""
    try:
        import torch
    except ImportError:
        sys.exit("this benchmark needs PyTorch, which is not installed: "
                 "pip install -e '.[torch]'")
    return torch


def compile_times(runs: int) -> None:
    """Table 1: the cnndsl command against the by-hand script, whole processes."""
    if importlib.util.find_spec("torchvision") is None:
        print("compile table skipped: the by-hand script needs torchvision, which is not "
              "installed: pip install -e '.[torch]'\n")
        return
    print(f"`cnndsl compile {SPEC.relative_to(ROOT)} -o resnet50.pt2` against the same work "
          f"by hand (torchvision),\nwhole process, wall seconds (best / median of {runs}, "
          "interleaved)\n")
    times: dict[str, list[float]] = {"cnndsl": [], "by hand": []}
    sizes: dict[str, int] = {}
    outputs: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        commands = {
            "cnndsl": [sys.executable, "-m", "cnndsl", "compile", str(SPEC), "-o",
                       str(Path(tmp) / "cnndsl.pt2")],
            "by hand": [sys.executable, "-c", BY_HAND, str(Path(tmp) / "by_hand.pt2")]}
        for _ in range(runs):
            for key, command in commands.items():
                start = time.perf_counter()
                done = subprocess.run(command, cwd=tmp, capture_output=True, text=True)
                times[key].append(time.perf_counter() - start)
                if done.returncode:
                    sys.exit(f"{key} failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
                sizes[key] = Path(command[-1]).stat().st_size
                outputs[key] = done.stdout
    print(f"| {'process':<8} | {'best s':>7} | {'median s':>8} | {'size MB':>7} |")
    print(f"|{'-' * 10}|{'-' * 9}|{'-' * 10}|{'-' * 9}|")
    for key, seconds in times.items():
        print(f"| {key:<8} | {min(seconds):7.2f} | {statistics.median(seconds):8.2f} "
              f"| {sizes[key] / 1e6:7.1f} |")
    best = min(times["cnndsl"]) / min(times["by hand"])
    median = statistics.median(times["cnndsl"]) / statistics.median(times["by hand"])
    print(f"\ncnndsl / by hand: {best:.2f}x best, {median:.2f}x median (target: at most 1.5x)")
    param_counts(outputs)


def param_counts(outputs: dict[str, str]) -> None:
    """For information: what each program holds (the two ResNet-50s are not the same)."""
    ours = outputs["cnndsl"].split("(")[-1].split(" params")[0].strip().split(", ")[-1]
    params, stats = (int(n) for n in outputs["by hand"].split())
    print(f"parameters: cnndsl {ours} (counted as Keras does: weights and batch-norm "
          f"moving statistics);\ntorchvision {params:,} + {stats:,} running statistics = "
          f"{params + stats:,}.\ncnndsl's example is keras.applications' ResNet50; "
          "torchvision's differs slightly: its convolutions\nhave no bias (the difference), "
          "and a block strides in its 3x3 convolution, not in the first 1x1.\n")


def optional_backends() -> tuple[object, bool]:
    """TensorFlow's state (None without it) and whether onnxruntime runs; says what is
    missing and how to install it."""
    tf_state = tensorflow()
    if tf_state is None:
        print("TF column skipped: TensorFlow is not installed: pip install -e '.[keras]'")
    has_ort = all(importlib.util.find_spec(m) for m in ("onnx", "onnxruntime"))
    if not has_ort:
        print("ORT column skipped: onnx/onnxruntime not installed: pip install -e '.[onnx]'")
    return tf_state, has_ort


def forward_times(torch, runs: int, only: str | None) -> None:
    """Tables 2 and 3: forward times and their ratios, a row per network."""
    tf_state, has_ort = optional_backends()
    tf_version = tf_state[0].__version__ if tf_state else "-"
    print(f"forward pass, warm, ms best / median of {runs} (interleaved); TF {tf_version}, "
          f"torch {torch.__version__}\n({torch.get_num_threads()} threads, OMP_WAIT_POLICY "
          f"{os.environ.get('OMP_WAIT_POLICY', 'unset')}); "
          "PyTorch err: max|PyTorch - NumPy| / max(1, max|NumPy|)\n")
    print(f"| {'network':<10} | {'batch':>5} | {'PyTorch ms':>15} | {'TF ms':>15} | "
          f"{'ORT ms':>15} | {'NumPy ms':>15} | {'PyTorch err':>11} |")
    print(f"|{'-' * 12}|{'-' * 7}|{'-' * 17}|{'-' * 17}|{'-' * 17}|{'-' * 17}|{'-' * 13}|")
    bests = {}
    for name, (text, batch) in NETWORKS.items():
        if not only or name == only:
            times, err = forward_row(torch, name, text, batch, runs, tf_state, has_ort)
            cells = [cell(times.get(key)) for key in LABELS]
            print(f"| {name:<10} | {batch:>5} | {' | '.join(cells)} | {err:11.1e} |")
            bests[name] = {key: min(seconds) for key, seconds in times.items()}
    ratio_table(bests)


def cell(seconds: list[float] | None) -> str:
    if seconds is None:
        return f"{'-':>15}"
    return f"{min(seconds) * 1e3:.1f} / {statistics.median(seconds) * 1e3:.1f}".rjust(15)


def ratio_table(bests: dict[str, dict[str, float]]) -> None:
    """Best time of each backend over PyTorch's and over NumPy's (above 1: slower)."""
    pairs = [("tf", "torch"), ("ort", "torch"), ("numpy", "torch"), ("torch", "numpy"),
             ("tf", "numpy"), ("ort", "numpy")]
    heads = [f"{LABELS[a]}/{LABELS[b]}" for a, b in pairs]
    print(f"\nratios of best times (above 1: the first is slower)\n\n| {'network':<10} | "
          + " | ".join(f"{h:>13}" for h in heads) + " |")
    print(f"|{'-' * 12}|" + "|".join("-" * 15 for _ in heads) + "|")
    for name, best in bests.items():
        cells = [f"{best[a] / best[b]:13.2f}" if a in best and b in best else f"{'-':>13}"
                 for a, b in pairs]
        print(f"| {name:<10} | " + " | ".join(cells) + " |")


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def forward_row(torch, name: str, text: str, batch: int, runs: int, tf_state,
                has_ort: bool) -> tuple[dict[str, list[float]], float]:
    """The backends on the same weights and input, interleaved: their times, PyTorch's
    error against NumPy."""
    from cnndsl.running.backends import Torch

    graph = compile_text(text, name)
    weights = realistic_weights(graph)
    x = np.random.default_rng(2).standard_normal((batch, *graph.input.shape),
                                                 dtype=np.float32)
    interpreter = Interpreter(graph, weights)
    forward = Torch(graph, weights)  # what `cnndsl run --backend torch` runs

    def run_torch():
        return forward.run(x)

    expected = interpreter.run(x)
    got = run_torch()
    err = float(np.max(np.abs(got - expected)) / max(1.0, np.max(np.abs(expected))))
    runners = {"torch": run_torch}
    if tf_state:
        infer, tfx = keras_function(tf_state, graph, weights, x)
        runners["tf"] = lambda: infer(tfx).numpy()
    if has_ort:
        runners["ort"] = ort_runner(graph, weights, x)
    runners["numpy"] = lambda: interpreter.run(x)
    for fn in runners.values():  # warm: first-run planning and allocation
        fn()
    times: dict[str, list[float]] = {key: [] for key in runners}
    for _ in range(runs):
        for key, fn in runners.items():
            times[key].append(timed(fn))
    return times, err


def ort_runner(graph, weights, x):
    """onnxruntime on the ONNX export of the same weights, as bench_onnx runs it."""
    import onnxruntime as ort

    from cnndsl.backends.onnx import build_model

    session = ort.InferenceSession(build_model(graph, weights).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    feed = {graph.input.name: x}
    return lambda: session.run(None, feed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", choices=sorted(NETWORKS))
    parser.add_argument("--skip-compile", action="store_true",
                        help="only the forward-time tables")
    parser.add_argument("--torch-threads", type=int,
                        help="torch.set_num_threads for the forward pass (default: torch's)")
    args = parser.parse_args()
    torch = require_torch()
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    if not args.skip_compile:
        compile_times(max(1, args.runs))
    forward_times(torch, max(1, args.runs), args.only)


if __name__ == "__main__":
    main()

"""`cnndsl import`: how long it takes and how the text reads, for keras.applications models.

Run from the repository root with TensorFlow installed:
`python benchmarks/bench_import.py [--runs N] [--models ResNet50 MobileNetV2]`; the
models read through operations on tensors are there too (`--models MobileNetV3Small
MobileNetV3Large ConvNeXtTiny`), MobileNetV3 built at 224x224 (its default is `None`).
Prints two tables; asserts nothing.

- Time, whole process: `cnndsl import MODEL.keras -o NET.cnn --weights-out W.npz` in a
  fresh Python, against a fresh Python that only imports Keras and runs
  `keras.models.load_model(MODEL.keras)` (safe mode, as cnndsl loads it). Both pay for
  TensorFlow's import; the difference is what cnndsl adds (walking the graph, folding,
  printing, reading the text back, writing the weights). Runs are interleaved. Target
  (issue 11): ratio <= 1.5.
- Lines: of the imported text (header comments included) against the hand-written
  examples (examples/resnet50.cnn, ...; comments included too), and the longest line of
  each (target: 96 columns).
- `--onnx`: ONNX models instead (no TensorFlow needed), ResNet-50 and EfficientNet-B0 as
  cnndsl's own export writes them (examples/*.cnn, seed 0) and, where torch and
  torchvision are installed, as PyTorch's exporter writes torchvision's: whole-process
  `cnndsl import MODEL.onnx -o NET.cnn --weights-out W.npz` against a fresh Python that
  runs `onnx.load` and creates an `onnxruntime.InferenceSession` of the same file.
  Target (issue 22): ratio <= 1.5.
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

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = {"ResNet50": "resnet50.cnn", "MobileNetV2": "mobilenet_v2.cnn",
            "MobileNetV3Small": "mobilenet_v3_small.cnn",
            "MobileNetV3Large": "mobilenet_v3_large.cnn", "ConvNeXtTiny": "convnext_tiny.cnn",
            "NASNetMobile": "nasnet_mobile.cnn", "EfficientNetB0": "efficientnet_b0.cnn"}
DEFAULT = ("MobileNetV2", "ResNet50")
OPTIONS = {"MobileNetV3Small": {"input_shape": (224, 224, 3)},
           "MobileNetV3Large": {"input_shape": (224, 224, 3)}}
LOAD_ONLY = ("import sys, keras; keras.models.load_model(sys.argv[1])")
ONNX_LOAD_ONLY = ("import sys, onnx, onnxruntime; onnx.load(sys.argv[1]); "
                  "onnxruntime.InferenceSession(sys.argv[1], providers=['CPUExecutionProvider'])")
ONNX_EXAMPLES = {"ResNet50": ("resnet50.cnn", "resnet50"),
                 "EfficientNetB0": ("efficientnet_b0.cnn", "efficientnet_b0")}


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--models", nargs="+", default=list(DEFAULT), choices=sorted(EXAMPLES))
    parser.add_argument("--onnx", action="store_true", help="ONNX models (see above)")
    args = parser.parse_args()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    if args.onnx:
        onnx_table(args.runs, env)
        return
    try:
        import keras
    except ImportError:
        print("TensorFlow is not installed: pip install 'cnndsl[keras]'")
        return
    work = Path(tempfile.mkdtemp())
    rows, lines = [], []
    for name in args.models:
        source = work / f"{name}.keras"
        getattr(keras.applications, name)(weights=None, **OPTIONS.get(name, {})).save(source)
        ours = [sys.executable, "-m", "cnndsl", "import", str(source), "-o",
                str(work / f"{name}.cnn"), "--weights-out", str(work / f"{name}.npz")]
        theirs = [sys.executable, "-c", LOAD_ONLY, str(source)]
        timings: dict[str, list[float]] = {"import": [], "load": []}
        timed(theirs, env)  # warm-up: the page cache holds TensorFlow's files
        for _ in range(args.runs):
            timings["import"].append(timed(ours, env))
            timings["load"].append(timed(theirs, env))
        rows.append((name, statistics.median(timings["import"]),
                     statistics.median(timings["load"])))
        text = (work / f"{name}.cnn").read_text(encoding="utf-8").splitlines()
        example = (ROOT / "examples" / EXAMPLES[name]).read_text(encoding="utf-8").splitlines()
        lines.append((name, len(text), sum(1 for t in text if t.strip() and not
                                           t.lstrip().startswith("#")),
                      max(map(len, text)),
                      len(example), sum(1 for t in example if t.strip() and not
                                        t.lstrip().startswith("#")),
                      max(map(len, example))))
    print(f"keras {keras.__version__}; medians of {args.runs} interleaved runs, whole "
          "processes\n")
    print(f"| {'model':<16} | {'cnndsl import s':>15} | {'load_model s':>12} | {'ratio':>5} |")
    print(f"|{'-' * 18}|{'-' * 17}|{'-' * 14}|{'-' * 7}|")
    for name, ours, theirs in rows:
        print(f"| {name:<16} | {ours:15.2f} | {theirs:12.2f} | {ours / theirs:5.2f} |")
    print("\ntarget: ratio <= 1.5\n")
    print(f"| {'model':<16} | {'imported lines':>14} | {'of code':>7} | {'longest':>7} "
          f"| {'example lines':>13} | {'of code':>7} | {'longest':>7} |")
    print(f"|{'-' * 18}|{'-' * 16}|{'-' * 9}|{'-' * 9}|{'-' * 15}|{'-' * 9}|{'-' * 9}|")
    for name, total, code, wide, example, example_code, example_wide in lines:
        print(f"| {name:<16} | {total:14} | {code:7} | {wide:7} | {example:13} "
              f"| {example_code:7} | {example_wide:7} |")


def onnx_models(work: Path, env: dict[str, str]) -> dict[str, Path]:
    """The ONNX files to import: cnndsl's exports, and torchvision's where torch is."""
    found = {}
    for name, (example, _) in ONNX_EXAMPLES.items():
        found[f"{name} (cnndsl)"] = work / f"{name}_cnndsl.onnx"
        subprocess.run([sys.executable, "-m", "cnndsl", "compile", str(ROOT / "examples" /
                        example), "-o", str(found[f"{name} (cnndsl)"]), "--seed", "0"],
                       env=env, check=True, stdout=subprocess.DEVNULL)
    try:
        import torch
        import torchvision
    except ImportError:
        return found
    for name, (_, builder) in ONNX_EXAMPLES.items():
        model = getattr(torchvision.models, builder)(weights=None).eval()
        path = work / f"{name}_torch.onnx"
        torch.onnx.export(model, (torch.randn(1, 3, 224, 224),), str(path), dynamo=False,
                          opset_version=17)
        found[f"{name} (PyTorch)"] = path
    return found


def onnx_table(runs: int, env: dict[str, str]) -> None:
    work = Path(tempfile.mkdtemp())
    rows = []
    for name, source in onnx_models(work, env).items():
        ours = [sys.executable, "-m", "cnndsl", "import", str(source), "-o",
                str(work / "net.cnn"), "--weights-out", str(work / "net.npz")]
        theirs = [sys.executable, "-c", ONNX_LOAD_ONLY, str(source)]
        timings: dict[str, list[float]] = {"import": [], "load": []}
        timed(theirs, env)  # warm-up: the page cache
        for _ in range(runs):
            timings["import"].append(timed(ours, env))
            timings["load"].append(timed(theirs, env))
        rows.append((name, statistics.median(timings["import"]),
                     statistics.median(timings["load"])))
    print(f"medians of {runs} interleaved runs, whole processes\n")
    print(f"| {'model':<24} | {'cnndsl import s':>15} | {'load + session s':>16} | "
          f"{'ratio':>5} |")
    print(f"|{'-' * 26}|{'-' * 17}|{'-' * 18}|{'-' * 7}|")
    for name, ours, theirs in rows:
        print(f"| {name:<24} | {ours:15.2f} | {theirs:16.2f} | {ours / theirs:5.2f} |")
    print("\ntarget: ratio <= 1.5")


if __name__ == "__main__":
    main()

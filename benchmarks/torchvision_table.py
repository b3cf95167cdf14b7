"""torchvision's classification CNNs through `torch.onnx.export` and `cnndsl import`.

Run from the repository root with the torch extra installed (pip install -e '.[torch]'):
`python benchmarks/torchvision_table.py [MODEL ...] [--dynamo]`.
Prints one table; asserts nothing (tests/test_import_torchvision.py does, on the same
models, built and exported by the same functions).

For each model of the family: the lines of the imported text (default names, and with
`--auto-names`, folded), its parameters and the model's floating-point ONNX initializers,
the worst relative error of `cnndsl run` (the NumPy interpreter) against onnxruntime on a
batch of two, and the seconds `cnndsl import` takes (in process: reading the file, the
walk, printing, reading the text back; the export is not counted). A model that does not
import says why.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx_check import relative_error, session  # noqa: E402
from test_import_torchvision import FAMILY, exported, initializer_count  # noqa: E402

from cnndsl import compile_text  # noqa: E402
from cnndsl.backends.numpy import Interpreter  # noqa: E402
from cnndsl.commands.import_ import import_model  # noqa: E402
from cnndsl.support.files import FileError  # noqa: E402


def row(name: str, folder: Path, dynamo: bool) -> str:
    path = exported(name, folder, dynamo)
    start = time.perf_counter()
    try:
        result = import_model(path, stem=name)
    except FileError as e:
        return f"| {name:<20} | refused: {e.message} |"
    seconds = time.perf_counter() - start
    folded = import_model(path, stem=name, auto_names=True)
    model = onnx.load(str(path))
    side = FAMILY[name]
    batch = 1 if dynamo else 2
    x = np.random.default_rng(1).standard_normal((batch, 3, side, side)).astype(np.float32)
    runner = session(model)
    theirs = runner.run(None, {runner.get_inputs()[0].name: x})[0]
    ours = Interpreter(compile_text(result.text, name), result.weights).run(
        np.moveaxis(x, 1, -1))
    lines = len(result.text.splitlines())
    short = len(folded.text.split("\n# Layers named otherwise")[0].splitlines())
    return (f"| {name:<20} | {lines:>5} | {short:>6} | {result.params:>11,} | "
            f"{initializer_count(model):>11,} | {relative_error(ours, theirs):>9.2e} | "
            f"{seconds:>8.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=sorted(FAMILY))
    parser.add_argument("--dynamo", action="store_true",
                        help="PyTorch's dynamo-based exporter instead of TorchScript's")
    args = parser.parse_args()
    exporter = "dynamo, opset 18" if args.dynamo else "TorchScript, opset 17"
    print(f"torch.onnx.export ({exporter}), weights redrawn from seed 0\n")
    print(f"| {'model':<20} | lines | folded | {'params':>11} | {'ONNX floats':>11} | "
          f"{'rel. err':>9} | import s |")
    print(f"|{'-' * 22}|{'-' * 7}|{'-' * 8}|{'-' * 13}|{'-' * 13}|{'-' * 11}|{'-' * 10}|")
    for name in args.models:
        with tempfile.TemporaryDirectory() as folder:
            print(row(name, Path(folder), args.dynamo), flush=True)
    print("\nlines: the imported text as written by default (each layer's module path as "
          "its name, so nothing folds), folded: with --auto-names (the list of names aside)")


if __name__ == "__main__":
    main()

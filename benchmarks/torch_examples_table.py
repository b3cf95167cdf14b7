"""Every example through the PyTorch backend, at full size, as one table.

Run from the repository root with the torch extra installed (pip install -e '.[torch]'):
`python benchmarks/torch_examples_table.py [EXAMPLE ...] [--batch N]`.
Prints one table; asserts nothing (tests/test_torch_backend.py does, on the same
examples and the same weights).

For each example, as written (keras.applications' sizes: 224, 299, 331): the spec's
trainable and non-trainable counts against the module's parameters and buffers (batch
norm's `num_batches_tracked` aside); the worst relative error, max|ours - NumPy| /
max(1, max|NumPy|), of the module `--emit torch` writes (its source run, given the built
module's `state_dict`) and of the `.pt2` program (`torch.export`, saved, loaded, run on
another batch size than it was exported with) against the NumPy interpreter, on weights
whose biases and batch-norm statistics are moved off their initial values so that they
matter (tests/zoo.py's `lively_weights`); and the lines of the emitted source with the
helper methods its blocks became. TensorFlow is never imported (torch.export beside it
crashes: see tests/test_differential_torch.py).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import numpy as np  # noqa: E402
from zoo import lively_weights  # noqa: E402

from cnndsl import analyse, compile_text  # noqa: E402
from cnndsl.backends.numpy import Interpreter  # noqa: E402

try:
    import torch
except ImportError:
    sys.exit("needs the torch extra: pip install -e '.[torch]'")


def first(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.moveaxis(x, -1, 1)) if x.ndim > 2 else x


def last(x: np.ndarray) -> np.ndarray:
    return np.moveaxis(x, 1, -1) if x.ndim > 2 else x


def worst(outs, expected) -> float:
    return max(float(np.max(np.abs(last(o.numpy()) - e)) / max(1.0, float(np.max(np.abs(e)))))
               for o, e in zip(outs if isinstance(outs, tuple) else (outs,), expected))


def row(path: Path, batch: int, folder: Path) -> str:
    from cnndsl.backends.torch.export import exported_program
    from cnndsl.backends.torch.module import build_module
    from cnndsl.backends.torch.source import torch_source

    stem = path.stem
    started = time.perf_counter()
    graph = compile_text(path.read_text(encoding="utf-8"), stem)
    weights = lively_weights(graph, 0)
    stats = analyse(graph)
    built = build_module(graph, weights)
    params = sum(p.numel() for p in built.parameters())
    buffers = sum(b.numel() for n, b in built.named_buffers()
                  if not n.endswith("num_batches_tracked"))
    text = torch_source(graph, path.name)
    (folder / f"{stem}.py").write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"emitted_{stem}", folder / f"{stem}.py")
    emitted = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(emitted)  # cnndsl's own output, written just above
    module = getattr(emitted, f"build_{stem}")()
    module.load_state_dict(built.state_dict())
    module.eval()
    rng = np.random.default_rng(1)
    xs = [rng.normal(0, 1, (batch, *n.shape)).astype(np.float32) for n in graph.input_nodes]
    expected = Interpreter(graph, weights).run_many(xs)
    with torch.no_grad():
        source_err = worst(module(*(torch.from_numpy(first(x)) for x in xs)), expected)
    torch.export.save(exported_program(graph, weights), folder / f"{stem}.pt2")
    program = torch.export.load(folder / f"{stem}.pt2").module()
    with torch.no_grad():
        program_err = worst(program(*(torch.from_numpy(first(x)) for x in xs)), expected)
    helpers = text.count("\n    def ") - 2  # __init__ and forward aside
    seconds = time.perf_counter() - started
    return (f"| {stem:19s} | {stats.total('trainable'):>11,} | {params:>11,} | "
            f"{stats.total('non_trainable'):>7,} | {buffers:>7,} | {source_err:8.1e} | "
            f"{program_err:8.1e} | {text.count(chr(10)):>5} | {helpers:>7} | {seconds:5.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("examples", nargs="*", help="stems (default: every example)")
    parser.add_argument("--batch", type=int, default=3,
                        help="examples run (the .pt2 was exported on 2; default: 3)")
    args = parser.parse_args()
    paths = sorted((ROOT / "examples").glob("*.cnn"))
    if args.examples:
        paths = [p for p in paths if p.stem in args.examples]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}, "
          "full size\n")
    print("| example             |   trainable |  parameters | non-tr. | buffers | "
          "source e | .pt2 err | lines | helpers |     s |")
    print("|---------------------|-------------|-------------|---------|---------|"
          "----------|----------|-------|---------|-------|")
    with tempfile.TemporaryDirectory() as folder:
        for path in paths:
            print(row(path, args.batch, Path(folder)), flush=True)


if __name__ == "__main__":
    main()

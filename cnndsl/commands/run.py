"""`cnndsl run NET.cnn --input X -o Y [--backend B]`: the network over the examples in a
file, with the NumPy interpreter or another backend installed, in batches
(`cnndsl.running`)."""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import shown
from ..running import BACKENDS
from ..support.console import say
from .common import EXIT_OK, add_weights_arguments, load, path, user_errors


def add_parser(sub) -> None:
    """The `run` subcommand's arguments."""
    p = sub.add_parser("run", help="run the network with NumPy over the examples in a "
                         ".npy file", description="Run the network over the examples in X, "
                         "B at a time, and write the outputs to Y. A single example without "
                         "the batch axis gives a single output. Y is written only when "
                         "complete: a failure or interrupt leaves an existing Y as it was.")
    p.add_argument("file", type=path, help="a .cnn file ('-' for standard input)")
    p.add_argument("--input", "-i", type=path, required=True, metavar="X",
                     help="the examples: a .npy file (read a batch at a time), or an .npz holding "
                     "one array")
    p.add_argument("--output", "-o", type=path, required=True, metavar="Y",
                     help="where to write the outputs (.npy, or .npz with one array `output`)")
    add_weights_arguments(p, {"default": 0}, "(loaded with TensorFlow) ")
    p.add_argument("--batch-size", type=int, default=32, metavar="B",
                     help="examples run at once; memory grows with it (default: 32)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                     help="the arithmetic's precision (default: float32)")
    p.add_argument("--layers", type=path, metavar="L.npz",
                     help="also write every layer's output, keyed by layer name, for the "
                     "whole input (held in memory)")
    p.add_argument("--backend", choices=BACKENDS, default="numpy",
                     help="what computes it, on the same weights: the NumPy interpreter "
                     "(default), or onnxruntime, PyTorch or Keras where installed (the "
                     "onnx, torch or keras extra)")
    p.add_argument("--quiet", "-q", action="store_true",
                     help="no progress bar on a terminal")


def run(args) -> int:
    """Run, write the outputs atomically, say what was written."""
    from ..network import Network
    from ..running import many as runner_many
    from ..running import runner

    spec = load(args.file)
    layers = Path(args.layers) if args.layers else None
    # Several inputs or outputs: an .npz in, an .npz out, one array per name.
    run_over = runner.run if spec.graph.single else runner_many.run_many
    with user_errors(spec):  # CnnError: a layer kind the NumPy backend cannot run
        shape = run_over(Network(spec.graph, spec.text), Path(args.input), Path(args.output),
                         weights=Path(args.weights) if args.weights else None,
                         seed=args.seed, batch_size=args.batch_size, dtype=args.dtype,
                         layers=layers, progress=None if args.quiet else sys.stderr,
                         spec=None if args.file == "-" else Path(args.file),
                         backend=args.backend)
    also = f", every layer -> {shown(layers)}" if layers else ""
    also += f", {args.backend}" if args.backend != "numpy" else ""
    say(f"ok: {shown(args.output)} {shape} {args.dtype}{also}")
    return EXIT_OK

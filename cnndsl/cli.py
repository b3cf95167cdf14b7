"""The `cnndsl` command: `shapes`, `check` and `run`.

`main(argv)` returns the exit status: 0 success, 1 an error in the user's input (always
`FILE:LINE:COL: error: ...` with the line and a caret), 2 a usage error (argparse).
Nothing here imports TensorFlow.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import CnnError

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class UserError(Exception):
    """An error already rendered for the terminal."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnndsl", description="Describe a convolutional network in a line; get its "
        "shapes, sizes and costs.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    shapes = sub.add_parser("shapes", help="per-layer shapes, parameters, MACs, FLOPs and "
                            "receptive fields")
    shapes.add_argument("file", help="a .cnn file ('-' for standard input)")
    shapes.add_argument("--format", choices=("table", "json", "markdown", "csv"),
                        default="table", help="output format (default: table)")
    shapes.add_argument("--name", help="the model's name (default: the file's stem)")

    check = sub.add_parser("check", help="parse and infer only; one line on success")
    check.add_argument("file", help="a .cnn file ('-' for standard input)")

    run = sub.add_parser("run", help="run the network with NumPy over the examples in a "
                         ".npy file", description="Run the network over the examples in X, "
                         "B at a time, and write the outputs to Y. A single example without "
                         "the batch axis gives a single output. Y is written only when "
                         "complete: a failure or interrupt leaves an existing Y as it was.")
    run.add_argument("file", help="a .cnn file ('-' for standard input)")
    run.add_argument("--input", "-i", required=True, metavar="X",
                     help="the examples: a .npy file (memory-mapped), or an .npz holding "
                     "one array")
    run.add_argument("--output", "-o", required=True, metavar="Y",
                     help="where to write the outputs (.npy, or .npz with one array `output`)")
    weights = run.add_mutually_exclusive_group()
    weights.add_argument("--weights", metavar="W.npz",
                         help="weights keyed LAYER/VARIABLE (default: initialised from --seed)")
    weights.add_argument("--seed", type=int, default=0,
                         help="seed of the Keras-like initial weights (default: 0)")
    run.add_argument("--batch-size", type=int, default=32, metavar="B",
                     help="examples run at once; memory grows with it (default: 32)")
    run.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                     help="the arithmetic's precision (default: float32)")
    run.add_argument("--layers", metavar="L.npz",
                     help="also write every layer's output, keyed by layer name, for the "
                     "whole input (held in memory)")
    return parser


def load(path: str, name: str | None = None):
    """(display path, graph, text) of a spec, or `UserError` with the rendered message."""
    from .compiler import compile_text, decode

    shown = "<stdin>" if path == "-" else path
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as e:
        raise UserError(f"{shown}: error: cannot read the file: {e.strerror or e}") from None
    text = data.decode("utf-8", errors="replace")
    try:
        text = decode(data)
        stem = "model" if path == "-" else Path(path).stem
        graph = compile_text(text, name or stem)
    except CnnError as e:
        raise UserError(e.render(text, shown)) from None
    for w in graph.warnings:
        print(w.render(text, shown, "warning"), file=sys.stderr)
    return shown, graph, text


def cmd_shapes(args) -> int:
    from .analysis import analyse
    from .report import FORMATS

    _, graph, _ = load(args.file, args.name)
    print(FORMATS[args.format](analyse(graph)))
    return EXIT_OK


def cmd_check(args) -> int:
    _, graph, _ = load(args.file)
    params = sum(sum(n.layer.params(n.in_shapes)) for n in graph.nodes)
    print(f"ok: {len(graph)} layers, {params:,} params")
    return EXIT_OK


def cmd_run(args) -> int:
    from . import runner
    from .network import Network

    shown, graph, text = load(args.file)
    layers = Path(args.layers) if args.layers else None
    try:
        shape = runner.run(Network(graph, text), Path(args.input), Path(args.output),
                           weights=Path(args.weights) if args.weights else None,
                           seed=args.seed, batch_size=args.batch_size, dtype=args.dtype,
                           layers=layers, progress=sys.stderr)
    except runner.RunError as e:
        raise UserError(e.render()) from None
    except CnnError as e:  # a layer kind the NumPy backend cannot run
        raise UserError(e.render(text, shown)) from None
    except KeyboardInterrupt as e:
        print(f"cnndsl run: interrupted; {args.output} was not written", file=sys.stderr)
        return 128 + getattr(e, "signum", 2)
    also = f", every layer -> {layers}" if layers else ""
    print(f"ok: {args.output} {shape} {args.dtype}{also}")
    return EXIT_OK


COMMANDS = {"shapes": cmd_shapes, "check": cmd_check, "run": cmd_run}


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as e:  # argparse: --help (0) or a usage error (2)
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    try:
        return COMMANDS[args.command](args)
    except UserError as e:
        print(e, file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        return EXIT_OK
    except (RecursionError, MemoryError) as e:
        print(f"{args.file}: error: the network is too large to process "
              f"({type(e).__name__})", file=sys.stderr)
        return EXIT_ERROR
    except Exception as e:  # noqa: BLE001 - even a bug must not show a traceback
        print(f"cnndsl: internal error: {type(e).__name__}: {e}\n"
              "this is a bug in cnndsl; please report it with the input file",
              file=sys.stderr)
        return EXIT_INTERNAL

"""The `cnndsl` command: `shapes`, `check` (and, with later backends, `run`, `compile`).

`main(argv)` returns the exit status: 0 success, 1 an error in the user's input (always
`FILE:LINE:COL: error: ...` with the line and a caret), 2 a usage error (argparse).
Nothing here imports TensorFlow.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import CnnError

EXIT_OK, EXIT_ERROR, EXIT_INTERNAL = 0, 1, 3


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


COMMANDS = {"shapes": cmd_shapes, "check": cmd_check}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
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

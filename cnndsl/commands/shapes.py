"""`cnndsl shapes NET.cnn [--format table|json|markdown|csv]`: every layer's output
shape, parameters, MACs, FLOPs, receptive field and memory, and the totals."""

from __future__ import annotations

import sys

from ..support.console import say
from .common import EXIT_OK, load, path


def add_parser(sub) -> None:
    """The `shapes` subcommand's arguments."""
    shapes = sub.add_parser("shapes", help="per-layer shapes, parameters, MACs, FLOPs and "
                            "receptive fields")
    shapes.add_argument("file", type=path, help="a .cnn file ('-' for standard input)")
    shapes.add_argument("--format", choices=("table", "json", "markdown", "csv"),
                        default="table", help="output format (default: table)")
    shapes.add_argument("--name", help="the model's name (default: the file's stem)")


def run(args) -> int:
    """The report of the spec, in the format asked for."""
    from ..graph.analysis import analyse
    from ..views.report import FORMATS, table

    graph = load(args.file, args.name).graph
    stats = analyse(graph)
    say(table(stats, _glyphs()) if args.format == "table" else FORMATS[args.format](stats))
    return EXIT_OK


def _glyphs():
    """The table's tree lines in box-drawing characters, or in ASCII on a terminal whose
    encoding lacks them (a Latin-1 or ASCII locale), where escapes would break the columns."""
    from ..views.outline import ASCII, UNICODE

    try:
        (UNICODE.tee + UNICODE.last + UNICODE.pipe + UNICODE.ellipsis).encode(
            getattr(sys.stdout, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return ASCII
    return UNICODE

"""`cnndsl check NET.cnn`: parse and type-check only; one line on success."""

from __future__ import annotations

from ..support.console import say
from .common import EXIT_OK, load, path


def add_parser(sub) -> None:
    """The `check` subcommand's arguments."""
    check = sub.add_parser("check", help="parse and infer only; one line on success")
    check.add_argument("file", type=path, help="a .cnn file ('-' for standard input)")


def run(args) -> int:
    """`ok: N layers, P params`, or the spec's first error."""
    graph = load(args.file).graph
    params = graph.params
    say(f"ok: {len(graph):,} layers, {params:,} params")
    return EXIT_OK

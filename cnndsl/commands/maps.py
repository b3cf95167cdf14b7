"""`cnndsl maps NET.cnn --input X.npy [--weights W] -o maps.png`: feature maps as a picture.

    cnndsl maps lesson.cnn --input image.npy --weights lesson.npz -o maps.png

One example goes through the network with NumPy, and each chosen layer's output channels
are drawn as grey images, one row per layer (see `cnndsl.views.pictures.maps`). Needs
matplotlib: pip install 'cnndsl[plot]'; without it the command says so before reading
anything. The picture is written only when complete (PNG, SVG or PDF, by its suffix).
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import MissingExtra, shown
from ..support.files import FileError
from ..views.pictures import MAX_CHANNELS, MAX_ROWS
from .common import EXIT_OK, add_weights_arguments, load, path, user_errors

if TYPE_CHECKING:  # NumPy is not imported until the command runs: `--help` stays quick
    import numpy as np

DESCRIPTION = (
    "Run one example through the network with NumPy and draw each layer's output "
    "channels as grey images, one row per layer, each map scaled on its own with its "
    "range written under it; maps of at most 8x8 get their values written in the cells. "
    "By default every layer whose output has spatial axes, the input included. Needs "
    "matplotlib: pip install 'cnndsl[plot]'.")


def add_parser(sub) -> None:
    """The `maps` subcommand's arguments."""
    parser = sub.add_parser("maps", help="draw each layer's feature maps for one example "
                            "(PNG, SVG or PDF)", description=DESCRIPTION)
    parser.add_argument("file", type=path, help="a .cnn file ('-' for standard input)")
    parser.add_argument("--input", "-i", type=path, required=True, metavar="X",
                        help="a .npy (or an .npz of one array): one example, or a batch "
                        "of which --example is drawn")
    parser.add_argument("--output", "-o", type=path, required=True, metavar="MAPS.png",
                        help="where to write the picture (.png, .svg or .pdf)")
    add_weights_arguments(parser, {"default": 0})
    parser.add_argument("--layers", metavar="A,B",
                        help="the layers to draw, by name, comma-separated (default: every "
                        f"layer with spatial output, the first {MAX_ROWS})")
    parser.add_argument("--example", type=int, default=0, metavar="N",
                        help="which example of a batch to draw (default: 0, the first)")
    parser.add_argument("--channels", type=int, default=MAX_CHANNELS, metavar="C",
                        help=f"at most C channels per layer (default: {MAX_CHANNELS})")


def run(args: argparse.Namespace) -> int:
    """The command: checks, one example run, the picture written atomically."""
    from ..support.console import say

    spec = load(args.file)
    with user_errors(spec):  # CnnError: a layer kind the NumPy backend cannot run
        maps = draw(args, spec.graph, spec.text)
    drawn = sum(len(r.planes) for r in maps.rows)
    layers = "layer" if len(maps.rows) == 1 else "layers"
    also = f"; {maps.left_out} more layers left out (--layers)" if maps.left_out else ""
    say(f"ok: {shown(args.output)} ({len(maps.rows)} {layers}, {drawn} maps{also})")
    return EXIT_OK


def draw(args: argparse.Namespace, graph, text: str):
    """The picture, written to `args.output`; `FileError` for any problem with the options
    or files, found before the network runs where it can be."""
    output, source = Path(args.output), Path(args.input)
    _check_options(args, graph)
    layers = [n.strip() for n in args.layers.split(",")] if args.layers else None
    _plan(args, graph, layers)  # before NumPy's and matplotlib's imports (1-2 s), the run
    from ..network import Network
    from ..running.runner import staged, use_weights
    from ..support import paths
    from ..views.pictures.maps import picture, require_matplotlib
    from ..views.pictures.page import FORMATS

    try:
        require_matplotlib()
    except MissingExtra as e:
        raise FileError("cnndsl maps", e.args[0], e.hint) from None
    paths.check({"the input": source, "the weights file": args.weights, "the spec": args.file},
                {"-o": output}, suffixes={"-o": FORMATS})
    network = Network(graph, text)
    x = one_example(source, network, args.example)
    use_weights(network, Path(args.weights) if args.weights else None, args.seed)
    maps = picture(network, x, layers, args.channels)
    with staged(output) as tmp:
        maps.save(tmp, format=output.suffix.lower().lstrip("."))
    return maps


def _plan(args: argparse.Namespace, graph, layers: list[str] | None) -> None:
    """The layers' names and the picture's size, from the graph alone (issue 19: a
    4 G-pixel picture ran the network and drew for 15 minutes before failing)."""
    from ..views.pictures.page import LayerChoice, plan

    try:
        plan(graph, layers, args.channels)
    except LayerChoice as e:
        raise FileError("--layers" if args.layers else "cnndsl maps", e.message,
                        e.hint) from None


def _check_options(args: argparse.Namespace, graph) -> None:
    """Options argparse cannot range-check, and networks this command cannot draw yet."""
    if args.channels < 1:
        raise FileError("cnndsl maps", f"--channels must be at least 1, got {args.channels}",
                        "the most maps drawn for one layer, e.g. --channels 16")
    if args.example < 0 or args.seed < 0:
        option, value = ("--example", args.example) if args.example < 0 else \
            ("--seed", args.seed)
        raise FileError("cnndsl maps", f"{option} must be 0 or more, got {value}",
                        "--example counts from 0, the first example")
    if len(graph.inputs) > 1:
        raise FileError("cnndsl maps", "the network has several inputs; `maps` draws "
                        "networks of one input", "run it with `cnndsl run --layers L.npz` "
                        "and draw the arrays of L.npz yourself")


def one_example(path: Path, network, index: int) -> np.ndarray:
    """Example `index` of the input (the array itself if it is one example)."""
    from ..running.inputs import read_input
    from ..running.runner import fit_input

    with contextlib.closing(read_input(path)) as x:
        if fit_input(x, network, path):
            return x.read(0, x.shape[0])
        if not x.shape[0]:
            raise FileError(path, "the file holds no examples (its first axis is 0)",
                            "save at least one example")
        if index >= x.shape[0]:
            raise FileError(path, f"--example {index} is past the end: the file holds "
                            f"{x.shape[0]} examples", f"--example 0 to {x.shape[0] - 1}")
        return x.read(index, index + 1)[0]

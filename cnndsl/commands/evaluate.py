"""`cnndsl evaluate NET.cnn --weights MODEL.keras --data DATA`: how well a model does.

    cnndsl evaluate examples/digits.cnn --weights digits.keras --data digits.npz --split val
    cnndsl evaluate examples/digits.cnn --weights digits.keras --data test/ --format json

The network is built from the spec with the given weights (a `.keras` model's, or an
`.npz` keyed LAYER/VARIABLE), compiled with the loss and metrics `cnndsl train` would
choose (or --loss, --metrics), and scored by Keras; a classifier also gets its confusion
matrix. The data is checked against the network before TensorFlow is imported. `--split val`
scores only the examples `cnndsl train --val-split` held out (`--split train`, the
others), by the record it wrote beside the model (cnndsl/training/splits.py).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from ..support.files import FileError
from .common import EXIT_OK, load, path, user_errors
from .train import add_data_arguments

if TYPE_CHECKING:  # imported when run: NumPy and Keras stay out of other commands
    from ..training import evaluation


def add_parser(sub) -> None:
    """The `evaluate` subcommand's arguments."""
    p = sub.add_parser("evaluate", help="loss, metrics and confusion matrix of trained "
                       "weights on data", description=__doc__.split("\n\n")[2])
    p.add_argument("file", type=path, help="a .cnn file")
    p.add_argument("--weights", type=path, required=True, metavar="W",
                   help="a trained .keras model, or an .npz keyed LAYER/VARIABLE")
    add_data_arguments(p)
    p.add_argument("--batch-size", type=int, default=32, help="(default: 32)")
    p.add_argument("--format", choices=("table", "json"), default="table",
                   help="output format (default: table)")
    p.add_argument("--split", choices=("all", "train", "val"), default="all",
                   help="score only the examples of an .npz that `cnndsl train "
                   "--val-split` held out (val), or the others (train), as recorded beside "
                   "the model (default: all)")
    p.add_argument("--quiet", "-q", action="store_true",
                   help="no progress bar on a terminal")


def run(args: argparse.Namespace) -> int:
    """The command: checks without TensorFlow, then Keras's evaluation."""
    from ..support import paths
    from ..support.console import say
    from ..training import defaults, evaluation, folders
    from ..training.session import batch_for, open_data

    spec = load(args.file)
    graph = spec.graph
    with user_errors(spec):
        # No output option: nothing can be overwritten; one added later is declared here.
        paths.check({"the spec": args.file, "the data": args.data,
                     "the weights file": args.weights}, {})
        if not graph.single:
            raise FileError(args.file, "evaluation takes a network of one input and one "
                            "output", "evaluate it in Keras directly")
        data, task = open_data(graph, args.data, None, None, 0)
        if args.split != "all":
            data = part_of(data, args.split, Path(args.weights))
        task = defaults.overridden(task, args.loss, args.metrics)
        batch = batch_for(graph, data, args.batch_size)
        with folders.named_bad_image(data.folder, graph.input.shape[-1]):
            found = score(graph, data, task, Path(args.weights), batch, args.quiet)
    say(json.dumps(evaluation.as_json(found), indent=2) if args.format == "json"
        else evaluation.table(found))
    return EXIT_OK


def part_of(data, part: str, weights: Path):
    """The examples of `data` that `cnndsl train` held out, or the others."""
    from dataclasses import replace

    from ..training import splits

    if data.train is None:
        raise FileError("--split", "takes an .npz; an image directory is split by Keras "
                        "itself, which cnndsl does not record", "keep the held-out images "
                        "in a directory of their own, and evaluate on it")
    return replace(data, train=splits.held_out(data.train, weights, part))


def score(graph, data, task, weights: Path, batch: int,
          quiet: bool = False) -> evaluation.Evaluation:
    from ..backends.given import fit as fit_weights
    from ..backends.given import read_weights
    from ..backends.keras import runtime
    from ..training import evaluation, fit, folders, pipeline, progress

    values = read_weights(weights)
    fit_weights(graph, values, weights)
    with runtime.keras_backend(weights, "evaluating") as backend:
        model = backend.build_model(graph, values)
        model.compile(loss=fit.loss(task), metrics=fit.metrics(task))
        names = None
        if data.folder is not None:
            dataset = pipeline.images(data.folder, graph.input.shape, batch, 0, None,
                                      "evaluate")
            names = folders.classes(data.folder)
        else:
            dataset = pipeline.evaluation(data.train, batch)
        return evaluation.evaluate(model, dataset, task, names, progress.verbosity(quiet))

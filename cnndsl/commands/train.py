"""`cnndsl train NET.cnn --data DATA -o MODEL.keras`: train the network with Keras.

    cnndsl train examples/digits.cnn --data digits.npz --val-split 0.2 -o digits.keras
    cnndsl evaluate examples/digits.cnn --weights digits.keras --data digits.npz

Everything that can be checked without TensorFlow is checked first: the destination, the
data's shapes and labels against the network (`y has 12 classes but the network outputs
10`), the checkpoints, TF_CONFIG. Then Keras does the work (cnndsl/training/).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import shown
from ..support.console import say
from ..support.files import FileError
from ..training.distribute import STRATEGIES
from .common import EXIT_OK, load, path, user_errors

CLUSTER_TIMEOUT = 300.0  # seconds: machines started by hand, or pods still pulling images

DESCRIPTION = (
    "Train the network with Keras on an .npz of arrays x and y (read from disk a batch at "
    "a time) or a directory of images with one sub-directory per class, and write the "
    "trained model as a .keras file (plain Keras, written only when complete). The loss "
    "and metrics follow from the output layer and the labels; a checkpoint is written "
    "every epoch, and --resume continues a stopped run. Needs TensorFlow: pip install "
    "'cnndsl[keras]'. See docs/training.md.")


def add_parser(sub) -> None:
    """The `train` subcommand's arguments."""
    p = sub.add_parser("train", help="train the network with Keras on local data",
                       description=DESCRIPTION)
    p.add_argument("file", type=path, help="a .cnn file")
    add_data_arguments(p)
    p.add_argument("-o", "--output", type=path, required=True, metavar="MODEL.keras",
                   help="where to write the trained model")
    val = p.add_mutually_exclusive_group()
    val.add_argument("--val", type=path, metavar="DATA", help="validation data")
    val.add_argument("--val-split", type=float, metavar="F",
                     help="hold out a random fraction F of DATA for validation")
    p.add_argument("--epochs", type=int, default=10, help="(default: 10)")
    p.add_argument("--batch-size", type=int, default=32, help="(default: 32)")
    p.add_argument("--seed", type=int, default=0, help="initial weights, shuffling, "
                   "validation split (default: 0)")
    p.add_argument("--optimizer", default="adam", help="a Keras optimizer (default: adam)")
    p.add_argument("--lr", type=float, help="learning rate (default: the optimizer's)")
    p.add_argument("--weights", type=path, metavar="W",
                   help="start from these weights (.npz or .keras)")
    p.add_argument("--checkpoint-dir", type=path, metavar="DIR",
                   help="a checkpoint every epoch (default: beside -o, MODEL.checkpoints)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the last checkpoint in --checkpoint-dir")
    p.add_argument("--patience", type=int, metavar="N",
                   help="stop when the (validation) loss has not improved for N epochs")
    p.add_argument("--history", type=path, metavar="CSV",
                   help="the per-epoch history (default: beside -o, MODEL.history.csv)")
    p.add_argument("--plot", type=path, metavar="PNG",
                   help="plot loss and metrics per epoch (needs matplotlib)")
    p.add_argument("--strategy", choices=STRATEGIES, default="one",
                   help="one device, mirrored over this machine's, or multiworker "
                   "with TF_CONFIG (default: one)")
    p.add_argument("--devices", type=int, metavar="N", help="split the CPU into N "
                   "logical devices (to try --strategy mirrored without GPUs; for tests)")
    p.add_argument("--cluster-timeout", type=float, default=CLUSTER_TIMEOUT,
                   metavar="SECONDS", help="with multiworker: how long to wait for the "
                   "other tasks of TF_CONFIG to answer, then again for TensorFlow to form "
                   f"the cluster (default: {CLUSTER_TIMEOUT:g})")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress: no bar on a "
                   "terminal, no line per epoch elsewhere")


def add_data_arguments(p) -> None:
    """--data, --loss and --metrics: shared with `cnndsl evaluate`."""
    p.add_argument("--data", type=path, required=True, metavar="DATA",
                   help="an .npz with arrays x and y, or a directory of class "
                   "sub-directories of images")
    p.add_argument("--loss", help="a Keras loss (default: from the output layer and labels)")
    p.add_argument("--metrics", metavar="M,M", help="Keras metrics, comma-separated "
                   "(default: accuracy for classifiers)")


def run(args: argparse.Namespace) -> int:
    """The command: checks without TensorFlow, then training, then the model written
    (`cnndsl.training.session`, imported only now: it needs NumPy, then Keras)."""
    import dataclasses

    from ..training import defaults, fit, folders
    from ..training.session import (
        batch_for,
        check_files,
        held_out,
        open_data,
        settings_of,
        train,
    )

    spec = load(args.file)
    graph, output = spec.graph, Path(args.output)
    with user_errors(spec):
        if not graph.single:
            raise FileError(args.file, "training takes a network of one input and one "
                            "output", "train a network of one chain, or in Keras directly")
        settings = settings_of(args, output)
        check_files(args, output, settings)
        data, task = open_data(graph, args.data, args.val, args.val_split, args.seed)
        task = defaults.overridden(task, args.loss, args.metrics)
        settings = dataclasses.replace(settings, batch_size=batch_for(graph, data,
                                                                      args.batch_size))
        fit.check_checkpoints(settings)
        split = held_out(args, data, settings)
        with folders.named_bad_image(data.folder, graph.input.shape[-1]):
            history, wrote = train(graph, data, task, settings, args, split)
    last = {k: v[-1] for k, v in history.items()}
    shown_metrics = ", ".join(f"{k} {v:.4f}" for k, v in last.items())
    epochs = len(next(iter(history.values()), []))
    target = shown(output) if wrote else f"this worker trained; the chief writes {shown(output)}"
    say(f"ok: {target} ({epochs} epochs: {shown_metrics})")
    return EXIT_OK

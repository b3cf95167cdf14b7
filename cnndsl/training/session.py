"""A `cnndsl train` run: the data opened and checked, Keras's fit, the model written.

The command (`cnndsl.commands.train`) calls these once its arguments are read; this module
is imported only then, so that every other command starts without NumPy.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import shown
from ..graph.ir import Graph
from ..support import paths, signals
from ..support.files import FileError
from . import arrays, defaults, distribute, fit, folders, pipeline, resume, splits, watchdog
from . import plot as plotting


@dataclass(frozen=True)
class Data:
    """Training and validation data: arrays, or an image directory (`folder`)."""

    train: arrays.Arrays | None
    val: arrays.Arrays | None
    folder: Path | None
    val_split: float | None


def open_data(graph: Graph, data: str, val: str | None, val_split: float | None,
              seed: int) -> tuple[Data, defaults.Task]:
    """The data, checked against the network; the task its labels make."""
    if Path(data).is_dir():
        if val is not None:
            raise FileError("--val", "an image directory is split with --val-split",
                            "e.g. --val-split 0.2")
        task = folders.image_task(graph, Path(data), val_split)
        return Data(None, None, Path(data), val_split), task
    train = arrays.open_npz(Path(data))
    defaults.check_examples(graph, train)
    task = defaults.task_for(graph, train)
    held = None
    if val is not None:
        held = arrays.open_npz(Path(val))
        defaults.check_examples(graph, held)
        if defaults.task_for(graph, held).labels != task.labels:
            raise FileError(val, "the validation labels are not of the training labels' "
                            "kind", "both class indices, or both one-hot")
    elif val_split is not None:
        train, held = arrays.split(train, val_split, seed)
    return Data(train, held, None, None), task


def batch_for(graph: Graph, data: Data, requested: int) -> int:
    """`--batch-size` for this data: at most its number of examples (`pipeline.batch_size`)."""
    if data.folder is not None:
        examples = len(folders.files(data.folder, folders.classes(data.folder)))
    else:
        examples = max(len(d) for d in (data.train, data.val) if d is not None)
    return pipeline.batch_size(requested, examples, tuple(graph.input.shape))


def settings_of(args, output: Path) -> fit.Settings:
    for name, low in (("epochs", 1), ("batch_size", 1), ("patience", 0), ("devices", 1)):
        value = getattr(args, name)
        if value is not None and value < low:
            raise FileError(f"--{name.replace('_', '-')}", f"must be {low} or more, got "
                            f"{value}", f"e.g. --{name.replace('_', '-')} {max(low, 2)}")
    if args.lr is not None and not args.lr > 0:
        raise FileError("--lr", f"must be positive, got {args.lr:g}", "e.g. --lr 0.001")
    stem = output.with_suffix("")
    return fit.Settings(
        epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
        optimizer=args.optimizer, lr=args.lr, patience=args.patience,
        checkpoint_dir=Path(args.checkpoint_dir or f"{stem}.checkpoints"),
        resume=args.resume, history=Path(args.history or f"{stem}.history.csv"),
        quiet=args.quiet)


def check_files(args, output: Path, settings: fit.Settings) -> None:
    """Every file of the run, the defaults filled in, against each other (`paths.check`),
    and what else can be known before the data is read."""
    outputs = {"-o": output, "--history": settings.history, "--plot": args.plot}
    if args.val_split is not None:  # what it holds out, for `evaluate --split` (`splits`)
        outputs["the record of the split beside -o"] = splits.beside(output)
    paths.check({"the spec": args.file, "the data": args.data, "the validation data": args.val,
                 "the weights file": args.weights}, outputs,
                suffixes={"-o": (".keras",), "--history": (".csv",),
                          "--plot": (".png", ".svg", ".pdf")},
                directories={"--checkpoint-dir": settings.checkpoint_dir})
    if args.plot is not None:
        plotting.check()
    if args.weights is not None and not Path(args.weights).is_file():
        raise FileError(args.weights, "no such file", "--weights takes an .npz keyed "
                        "LAYER/VARIABLE or a .keras model")
    if args.weights is not None and Path(args.weights).suffix.lower() == ".keras":
        from ..backends.keras.loading import check_keras_file

        check_keras_file(Path(args.weights))  # before TensorFlow, as evaluate does
    distribute.check(args.strategy)


def held_out(args, data: Data, settings: fit.Settings) -> dict | None:
    """The record of the examples `--val-split` holds out of an `.npz` (`splits`)."""
    if args.val_split is None or data.train is None or data.val is None:
        return None
    split = splits.record(data.train, data.val, args.val_split, args.seed)
    return splits.known(split, settings.checkpoint_dir, settings.resume)


def train(graph: Graph, data: Data, task: defaults.Task, settings: fit.Settings, args,
          split: dict | None = None):
    """(history, whether this process wrote the model); the chief records `split`."""
    chief = distribute.is_chief(args.strategy)
    with tempfile.TemporaryDirectory(prefix="cnndsl-worker-") as scratch:
        if not chief:  # a cluster's other workers save too (every worker must), unseen
            settings = dataclasses.replace(settings, history=None)
        output = Path(args.output) if chief else Path(scratch) / "model.keras"
        checkpoints_to = settings.checkpoint_dir if chief else Path(scratch) / "checkpoints"
        placement = distribute.Placement(args.strategy, args.devices, args.cluster_timeout,
                                         _ending(chief, output, Path(scratch),
                                                 args.cluster_timeout))
        made = (paths.made_directory(checkpoints_to, "--checkpoint-dir") if checkpoints_to
                else contextlib.nullcontext())
        with made:  # before TensorFlow: a path `paths.check` could not judge (/proc/x)
            history = fitted(graph, data, task, settings, args, output, checkpoints_to,
                             placement, split if chief else None)
    if chief and split is not None:
        splits.finish(split, output)
    return history, chief


def fitted(graph: Graph, data: Data, task: defaults.Task, settings: fit.Settings, args,
           output: Path, checkpoints_to: Path | None,
           placement: distribute.Placement, split: dict | None) -> dict[str, list[float]]:
    """Train, save the model to `output`, plot; the history."""
    from ..backends.keras import runtime
    from ..support.files import writing

    with runtime.keras_backend(output, "training", "cnndsl train") as backend:
        import keras
        import tensorflow as tf

        strategy = placement.setup()
        keras.utils.set_random_seed(settings.seed)
        tf.config.experimental.enable_op_determinism()
        if settings.resume:  # before the checkpoint is loaded: of the spec's network?
            resume.check(graph, "<stdin>" if args.file == "-" else args.file,
                         fit.checkpoints(settings.checkpoint_dir)[-1][1], backend)
        with strategy.scope():
            model, first = fit.model_for(graph, task, settings,
                                         Path(args.weights) if args.weights else None,
                                         backend)
        train_ds, steps, val_ds = datasets(graph, data, settings, first,
                                           strategy.num_replicas_in_sync > 1)
        sample = (next(iter(train_ds.take(1))) if data.train is None else
                  pipeline.sample(data.train, settings.batch_size))
        signals.check()
        try:
            with splits.recorded(split, checkpoints_to), placement.training():
                history = fit.fit(model, train_ds, steps, val_ds, settings, first,
                                  checkpoints_to, strategy, sample)
        except KeyboardInterrupt:
            _say_resumable(settings)
            raise
        with writing(output), strategy.scope():
            backend.save_model(model, output)
        if args.plot is not None and settings.history is not None:
            with writing(Path(args.plot)):
                plotting.plot(settings.history, Path(args.plot))
    return history


def _ending(chief: bool, output: Path, scratch: Path, timeout: float) -> watchdog.Ending:
    """For a process ended while TensorFlow forms the cluster: what to say and remove."""
    unwritten = f"; {shown(output)} was not written" if chief else ""
    return watchdog.Ending(
        stopped=f"cnndsl train: stopped while TensorFlow was forming the cluster{unwritten}",
        late=FileError("TF_CONFIG", "every other task answered, but TensorFlow did not form "
                       f"the cluster within {timeout:g} s", "check that each address "
                       "in TF_CONFIG is a task running `cnndsl train --strategy "
                       "multiworker` with the same cluster (not another program), or "
                       "raise --cluster-timeout").render(),
        remove=[] if chief else [str(scratch)])


def datasets(graph: Graph, data: Data, settings: fit.Settings, first: int, replicas: bool):
    """(training dataset, steps per epoch or None, validation dataset or None)."""
    b, seed = settings.batch_size, settings.seed
    if data.folder is not None:
        subset = "training" if data.val_split else None
        train = pipeline.images(data.folder, graph.input.shape, b, seed, data.val_split,
                                subset)
        val = pipeline.images(data.folder, graph.input.shape, b, seed, data.val_split,
                              "validation") if data.val_split else None
        return train, None, val
    assert data.train is not None
    train, steps = pipeline.training(data.train, b, seed, first, settings.epochs, replicas)
    val = pipeline.evaluation(data.val, b) if data.val is not None else None
    return train, steps, val


def _say_resumable(settings: fit.Settings) -> None:
    from ..support.console import tell

    found = fit.checkpoints(settings.checkpoint_dir)
    if found:
        tell(f"cnndsl train: checkpoints up to epoch {found[-1][0]} are in "
             f"{shown(settings.checkpoint_dir)}; the same command with --resume continues")
    sys.stderr.flush()

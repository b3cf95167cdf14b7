"""`model.fit` with Keras's callbacks: a checkpoint every epoch, resume, early stopping.

    DIR/epoch-003.keras    the whole model after epoch 3, optimizer state included
                           (Keras's ModelCheckpoint)
    --resume               loads the last one and fits from epoch 3 on (initial_epoch)
    HISTORY.csv            one row per epoch, written whole after each (`history`);
                           kept up to the resumed epoch on resume

A resumed run ends with the weights of one never stopped: the seeds are set
(`keras.utils.set_random_seed`), ops are deterministic, the checkpoint carries the
optimizer's state, and each epoch's batches depend on the epoch alone (`pipeline`).
Ctrl-C and SIGTERM are recorded while Keras trains and raised between steps, so a
checkpoint being written is finished first.
"""

from __future__ import annotations

import contextlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import shown
from ..graph.ir import Graph
from ..support import signals
from ..support.files import FileError
from . import progress
from .defaults import Task
from .history import history_callback

CHECKPOINT = "epoch-{epoch:03d}.keras"
_CHECKPOINT = re.compile(r"epoch-(\d+)\.keras")


@dataclass(frozen=True)
class Settings:
    """How to train, from the command line."""

    epochs: int
    batch_size: int
    seed: int
    optimizer: str
    lr: float | None
    patience: int | None
    checkpoint_dir: Path | None
    resume: bool
    history: Path | None
    quiet: bool = False

    @property
    def silent(self) -> bool:
        """No progress: --quiet, or a worker of a cluster other than the chief (which
        writes no history)."""
        return self.quiet or self.history is None


def checkpoints(directory: Path | None) -> list[tuple[int, Path]]:
    """(epoch, file) of the checkpoints in `directory`, oldest first."""
    if directory is None or not directory.is_dir():
        return []
    found = ((_CHECKPOINT.fullmatch(p.name), p) for p in directory.iterdir())
    return sorted((int(m.group(1)), p) for m, p in found if m)


def check_checkpoints(settings: Settings) -> None:
    """Before TensorFlow: `--resume` has something to resume, and a fresh run does not
    mix its checkpoints with an earlier run's."""
    directory, found = settings.checkpoint_dir, checkpoints(settings.checkpoint_dir)
    if settings.resume and not found:
        raise FileError(directory or "--resume", "no checkpoint to resume from",
                        "--resume continues a run that wrote epoch-NNN.keras files in "
                        "--checkpoint-dir; leave it out to start afresh")
    if not settings.resume and found:
        raise FileError(directory or "", f"holds the checkpoints of an earlier run (up to "
                        f"epoch {found[-1][0]})", "add --resume to continue it, or remove "
                        "the directory to start afresh")
    if found and found[-1][0] >= settings.epochs:
        raise FileError(found[-1][1], f"the run is finished: epoch {found[-1][0]} of "
                        f"{settings.epochs}", "raise --epochs to train further")
    if settings.resume:
        from ..backends.keras.loading import check_keras_file

        check_keras_file(found[-1][1])  # what it declares, as for any .keras read


def optimizer(name: str, lr: float | None):
    """A Keras optimizer by name, with `--lr` if given."""
    import keras

    config: dict[str, Any] = {} if lr is None else {"learning_rate": lr}
    try:
        return keras.optimizers.get({"class_name": name, "config": config})
    except (ValueError, TypeError):
        raise FileError("--optimizer", f"Keras has no optimizer `{shown(name)}`",
                        "e.g. adam, sgd, rmsprop, adamw") from None


def loss(task: Task):
    import keras

    if task.from_logits:
        return keras.losses.get({"class_name": _CLASS[task.loss],
                                 "config": {"from_logits": True}})
    try:
        return keras.losses.get(task.loss)
    except ValueError:
        raise FileError("--loss", f"Keras has no loss `{shown(task.loss)}`",
                        "e.g. sparse_categorical_crossentropy, mean_squared_error") from None


_CLASS = {"sparse_categorical_crossentropy": "SparseCategoricalCrossentropy",
          "categorical_crossentropy": "CategoricalCrossentropy"}


def model_for(graph: Graph, task: Task, settings: Settings, weights: Path | None, backend):
    """The compiled model: the last checkpoint's on resume, else the network built with
    `weights` or seeded initial weights (those of `cnndsl compile --seed`)."""
    import keras

    found = checkpoints(settings.checkpoint_dir)
    if settings.resume and found:
        return keras.saving.load_model(found[-1][1], safe_mode=True), found[-1][0]
    if weights is not None:
        from ..backends.given import fit, read_weights

        values = read_weights(weights)
        fit(graph, values, weights)
        model = backend.build_model(graph, values)
    else:
        model = backend.build_seeded(graph, settings.seed)
    model.compile(optimizer=optimizer(settings.optimizer, settings.lr), loss=loss(task),
                  metrics=metrics(task))
    return model, 0


def metrics(task: Task) -> list:
    """The metrics' names, each one Keras knows (else Keras says so only once fitting)."""
    import keras

    for name in task.metrics:
        try:
            keras.metrics.get(name)
        except (ValueError, TypeError):
            raise FileError("--metrics", f"Keras has no metric `{shown(name)}`",
                            "e.g. accuracy, top_k_categorical_accuracy, "
                            "mean_absolute_error") from None
    return list(task.metrics)


def _signals_between_steps():
    """A callback that raises a recorded Ctrl-C or SIGTERM after a step or at an epoch's
    end (after that epoch's checkpoint: it comes last), never inside Keras's work."""
    import keras

    class SignalsBetweenSteps(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            signals.check()

        def on_epoch_end(self, epoch, logs=None):
            signals.check()

    return SignalsBetweenSteps()


def callbacks(settings: Settings, checkpoints_to: Path | None, validated: bool,
              first_epoch: int = 0) -> list:
    """Keras's callbacks for the settings; checkpoints go to `checkpoints_to` (a temporary
    directory for the workers of a cluster other than the chief), the history is the
    chief's alone, written before each epoch's checkpoint (see `history`)."""
    import keras

    found: list = []
    if settings.history is not None:
        found.append(history_callback(settings.history, settings.resume, first_epoch))
    if checkpoints_to is not None:
        checkpoints_to.mkdir(parents=True, exist_ok=True)
        found.append(keras.callbacks.ModelCheckpoint(
            str(checkpoints_to / CHECKPOINT), save_freq="epoch"))
    if settings.patience is not None:
        found.append(keras.callbacks.EarlyStopping(
            monitor="val_loss" if validated else "loss", patience=settings.patience,
            restore_best_weights=True))
    return [*found, _signals_between_steps(),
            *progress.epoch_lines(settings.silent, settings.epochs)]


def fit(model, train, steps: int | None, val, settings: Settings, first_epoch: int,
        checkpoints_to: Path | None, strategy, sample) -> dict[str, list[float]]:
    """`model.fit` from `first_epoch`, inside the strategy's scope; Keras's progress bar
    (on a terminal, else a line per epoch: `progress`) goes to standard error, so standard
    output carries the command's result alone."""
    verbose = progress.verbosity(settings.silent)
    if getattr(model, "_distribute_strategy", None) is not None:
        _built_before_fitting(model, sample, strategy)
    with contextlib.redirect_stdout(sys.stderr), signals.deferred(), strategy.scope():
        history = model.fit(train, epochs=settings.epochs, steps_per_epoch=steps,
                            initial_epoch=first_epoch, validation_data=val, shuffle=False,
                            callbacks=callbacks(settings, checkpoints_to, val is not None,
                                              first_epoch),
                            verbose=verbose)
    return history.history


def _built_before_fitting(model, sample, strategy) -> None:
    """Build the metrics and the optimizer from `sample` (a batch), in the strategy's scope,
    and let the model forget its strategy (fit runs in the scope, where Keras finds it).

    A model made in a strategy's scope has Keras 3.15 build them before fitting from a
    first batch it takes off the training iterator and reduces across replicas: under
    MultiWorkerMirroredStrategy that reduction fails (keras-team/keras#20585), and under
    MirroredStrategy the batch taken shifts every epoch's batches by one, so a resumed
    run would not see the batches of an uninterrupted one. Building from a batch of our
    own first, by the trainer's method for it, leaves the data alone."""
    with strategy.scope():
        model._symbolic_build(data_batch=sample)
    model._distribute_strategy = None

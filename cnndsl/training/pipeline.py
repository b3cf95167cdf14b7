"""The data fed to Keras through tf.data: batches read from the (mapped) arrays.

Every epoch's order is a stateless shuffle seeded by (seed, epoch), and one dataset runs
the epochs from the first to be trained to the last (Keras keeps the iterator across
epochs when `steps_per_epoch` is given). So epoch 7 sees the same batches whether the run
started at epoch 0 or resumed at epoch 5: a resumed run ends with the weights of one that
was never stopped. The dataset holds row indices only; a batch's examples are gathered
from the arrays when it is needed, so nothing is copied whole.

Under tf.distribute, the dataset is sharded by data (each worker takes its share of the
batches), since there are no files to shard by.
"""

from __future__ import annotations

import contextlib
import io
import math
from pathlib import Path

import numpy as np

from ..support.files import FileError, available_memory
from .arrays import Arrays, rows_of


def batch_size(requested: int, examples: int, shape: tuple[int, ...]) -> int:
    """`--batch-size`, at most the number of examples (as Keras's `fit` takes a batch
    larger than its arrays: one batch of them all), refused if one batch of examples, as
    float32, would take more than half the memory available now."""
    if requested < 1:
        raise FileError("--batch-size", f"must be 1 or more, got {requested}",
                        "e.g. --batch-size 32")
    batch = min(requested, examples)
    size, available = 4 * batch * math.prod(shape), available_memory()
    if available is not None and size > available // 2:
        fits = max(1, available // 2 // (4 * math.prod(shape)))
        raise FileError("--batch-size", f"a batch of {batch:,} examples takes "
                        f"{size / 2**30:,.1f} GiB as float32, more than half the "
                        f"{available / 2**30:,.1f} GiB of memory available",
                        f"a smaller --batch-size: at most {fits:,} fit, and 32 to 256 "
                        "is usual")
    return batch


def _tf():
    import tensorflow as tf

    return tf


def _batch(data: Arrays, rows) -> tuple[np.ndarray, np.ndarray]:
    """Examples as float32, labels as int32 (indices) or float32, at `rows`."""
    x, y = rows_of(data, rows)
    return x, y.astype(np.int32 if data.y.dtype.kind in "biu" else np.float32)


def sample(data: Arrays, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `batch` examples, for building what a model needs before fitting."""
    return _batch(data, data.rows[:batch])


def _gathered(dataset, data: Arrays):
    """Batches of row indices -> batches of (examples, labels)."""
    tf = _tf()
    y_dtype = tf.int32 if data.y.dtype.kind in "biu" else tf.float32

    def gather(rows):
        return _batch(data, rows)

    def load(rows):
        x, y = tf.numpy_function(gather, [rows], [tf.float32, y_dtype], stateful=False)
        x.set_shape((None,) + tuple(data.x.shape[1:]))
        y.set_shape((None,) + tuple(data.y.shape[1:]))
        return x, y

    return _sharded(dataset.map(load).prefetch(tf.data.AUTOTUNE))


def _sharded(dataset):
    tf = _tf()
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    options.deterministic = True
    return dataset.with_options(options)


def training(data: Arrays, batch: int, seed: int, first_epoch: int, epochs: int,
             whole_batches: bool = False):
    """(dataset, steps per epoch) for epochs `first_epoch` to `epochs` - 1. With
    `whole_batches` (several replicas), the last partial batch is left out, so every
    worker takes the same number of steps."""
    tf = _tf()
    rows = tf.constant(data.rows, tf.int64)
    steps = len(data) // batch if whole_batches else math.ceil(len(data) / batch)

    def epoch(e):
        order = tf.random.experimental.stateless_shuffle(
            rows, seed=tf.stack([tf.constant(seed, tf.int64), e]))
        return tf.data.Dataset.from_tensor_slices(order).batch(
            batch, drop_remainder=whole_batches)

    epochs_ds = tf.data.Dataset.range(first_epoch, epochs).flat_map(epoch)
    return _gathered(epochs_ds, data), max(1, steps)


def evaluation(data: Arrays, batch: int):
    """The examples in order, batch by batch."""
    tf = _tf()
    return _gathered(tf.data.Dataset.from_tensor_slices(data.rows).batch(batch), data)


def images(directory: Path, shape: tuple[int, ...], batch: int, seed: int,
           val_split: float | None, subset: str | None = None):
    """Keras's `image_dataset_from_directory`, resized to the input's height and width,
    in its colour mode for the input's channels; integer labels by sub-directory. What
    it prints of a split (`Using 24 files for training.`, on standard output, whatever
    `verbose` says) is left out: standard output carries the command's result alone."""
    import keras

    mode = {1: "grayscale", 3: "rgb", 4: "rgba"}[shape[-1]]
    with contextlib.redirect_stdout(io.StringIO()):
        return keras.utils.image_dataset_from_directory(
            directory, labels="inferred", label_mode="int", color_mode=mode,
            image_size=shape[:2], batch_size=batch, shuffle=subset != "evaluate",
            seed=seed, validation_split=val_split,
            subset=None if subset == "evaluate" else subset, verbose=False)

"""Where training runs: one device, or tf.distribute over several.

    --strategy one          the default device
    --strategy mirrored     MirroredStrategy over the machine's GPUs, or its CPUs
    --strategy multiworker  MultiWorkerMirroredStrategy; the cluster comes from TF_CONFIG

`--devices N` splits the CPU into N logical devices first, which is how mirrored training
is tried (and tested) on a machine without GPUs. It has to happen before TensorFlow
touches a device, so `setup` is the first thing done after TensorFlow's import.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..support.files import FileError

if TYPE_CHECKING:  # the CLI imports STRATEGIES at start: sockets and processes wait till used
    from . import watchdog

STRATEGIES = ("one", "mirrored", "multiworker")


def check(strategy: str) -> None:
    """TF_CONFIG is present and sound for multiworker (checked before TensorFlow)."""
    if strategy == "multiworker":
        from . import cluster

        cluster.read()


def setup(strategy: str, devices: int | None):
    """The tf.distribute strategy (the default one for `one`)."""
    import tensorflow as tf

    if devices is not None:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(devices)])
    if strategy == "multiworker":
        return _multi_worker(tf)()
    if strategy == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        names = [d.name for d in gpus or tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(names)
    return tf.distribute.get_strategy()


def is_chief(strategy: str) -> bool:
    """Whether this process writes the outputs: always, except in a multi-worker cluster
    where it is not the chief (the task `chief`, or else worker 0). The other workers
    write theirs to a temporary directory: saving takes every worker, as it makes
    variables that the workers keep in step."""
    from . import cluster

    return strategy != "multiworker" or cluster.read().chief


class Placement:
    """`setup`, guarded for a cluster. The tasks first meet in Python (`meeting.meet`:
    interruptible, at most `timeout` seconds, an error naming the tasks that did not
    come); then TensorFlow forms the cluster, in C++, `bounded` by `timeout` again and
    ended at once by Ctrl-C; `ending` says what was not written."""

    def __init__(self, strategy: str, devices: int | None, timeout: float,
                 ending: watchdog.Ending) -> None:
        if strategy == "multiworker" and not 0 < timeout < float("inf"):
            raise FileError("--cluster-timeout", f"must be a positive number of seconds, "
                            f"got {timeout:g}", "e.g. --cluster-timeout 300")
        self.strategy, self.devices, self.timeout, self.ending = strategy, devices, timeout, ending

    def setup(self):
        """The strategy (`setup`); for a cluster, within the timeout or not at all."""
        if self.strategy != "multiworker":
            return setup(self.strategy, self.devices)
        from ..support.console import tell
        from . import cluster, meeting, watchdog

        meeting.meet(cluster.read(), self.timeout, tell)
        with watchdog.bounded(self.timeout, self.ending):
            return setup(self.strategy, self.devices)

    @contextlib.contextmanager
    def training(self) -> Iterator[None]:
        """Around `model.fit`: a task that stops answering (it ended, or its machine)
        is TensorFlow's `UnavailableError` in the others, said as such."""
        if self.strategy != "multiworker":
            yield
            return
        import tensorflow as tf

        try:
            yield
        except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError) as e:
            raise FileError("TF_CONFIG", "another task of the cluster stopped answering "
                            f"during training (TensorFlow's {type(e).__name__})",
                            "start every task again with the same command and --resume; "
                            "the chief's checkpoints continue the run") from None


def _multi_worker(tf):
    """MultiWorkerMirroredStrategy, except that a scalar is reduced as a scalar: Keras
    3.15 reduces every step's logs (the loss, each metric: scalars) with `axis=0` when it
    runs on several workers, which TensorFlow refuses for a tensor of no dimensions."""

    class MultiWorker(tf.distribute.MultiWorkerMirroredStrategy):
        def reduce(self, reduce_op, value, axis):
            first = self.experimental_local_results(value)[0]
            if axis is not None and getattr(first.shape, "rank", None) == 0:
                axis = None
            return super().reduce(reduce_op, value, axis)

    return MultiWorker

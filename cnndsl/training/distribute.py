"""Where training runs: one device, or tf.distribute over several.

    --strategy one          the default device
    --strategy mirrored     MirroredStrategy over the machine's GPUs, or its CPUs
    --strategy multiworker  MultiWorkerMirroredStrategy; the cluster comes from TF_CONFIG

`--devices N` splits the CPU into N logical devices first, which is how mirrored training
is tried (and tested) on a machine without GPUs. It has to happen before TensorFlow
touches a device, so `setup` is the first thing done after TensorFlow's import.
"""

from __future__ import annotations

import json
import os

from ..files import FileError

STRATEGIES = ("one", "mirrored", "multiworker")


def check(strategy: str) -> None:
    """TF_CONFIG is present and readable for multiworker (checked before TensorFlow)."""
    if strategy != "multiworker":
        return
    try:
        config = json.loads(os.environ["TF_CONFIG"])
        workers = config["cluster"]["worker"]
        config["task"]["index"]
    except (KeyError, TypeError, ValueError):
        raise FileError("TF_CONFIG", "--strategy multiworker needs the environment "
                        "variable TF_CONFIG with the cluster and this worker's task",
                        'e.g. TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", '
                        '"host2:12345"]}, "task": {"type": "worker", "index": 0}}\' '
                        "(docs/training.md)") from None
    if not isinstance(workers, list) or not workers:
        raise FileError("TF_CONFIG", "the cluster lists no workers",
                        "list every worker's host:port under cluster.worker")


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
    if strategy != "multiworker":
        return True
    config = json.loads(os.environ["TF_CONFIG"])
    task = config["task"]
    if "chief" in config["cluster"]:
        return task.get("type") == "chief"
    return task.get("type", "worker") == "worker" and int(task["index"]) == 0


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

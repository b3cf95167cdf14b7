"""The loss and metrics a learner need not choose, read from the output layer and labels.

    dense 10 softmax, y = [3, 0, 7, ...]          sparse categorical cross-entropy
    dense 10 softmax, y one-hot (n, 10)           categorical cross-entropy
    dense 1 sigmoid,  y = [0, 1, 1, ...]          binary cross-entropy
    dense 10 (no activation), integer y           sparse categorical, from logits
    anything else                                 mean squared error, mean absolute error

The data is checked against the network here, before TensorFlow is imported: the
examples' shape, the labels' shape, and the number of classes the labels name against
the units of the output (`y has 12 classes but the network outputs 10`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import shown
from ..graph.ir import Graph
from ..support.files import FileError
from .arrays import Arrays


@dataclass(frozen=True)
class Task:
    """What the labels are, and the loss and metrics that go with them."""

    labels: str  # "indices", "onehot", "binary" or "values"
    classes: int  # the output's units (0 for values)
    loss: str
    from_logits: bool
    metrics: tuple[str, ...]

    @property
    def classifier(self) -> bool:
        return self.labels != "values"


def output_activation(graph: Graph) -> str:
    """The output layer's activation, fused (`dense 10 softmax`) or a step (`-> softmax`)."""
    layer = graph.output.layer
    function = getattr(layer, "function", None) or getattr(layer, "activation", None)
    return function.name if function is not None else "linear"


def dims(shape) -> str:
    return "x".join(str(d) for d in shape) or "a scalar"


def check_examples(graph: Graph, data: Arrays) -> None:
    """`x` matches the network's input: shape after the batch axis, numeric values."""
    want = tuple(graph.input.shape)
    got = tuple(data.x.shape[1:])
    if got != want:
        hint = (f"add the channel axis: x.reshape(-1, {dims(want).replace('x', ', ')})"
                if got + (1,) == want else f"the network's input is `input {dims(want)}`; "
                "`cnndsl shapes` shows it")
        raise FileError(data.path, f"x holds examples of shape {dims(got)} but the network "
                        f"takes {dims(want)}", hint)
    if data.x.dtype.kind not in "biuf":
        raise FileError(data.path, f"x holds {data.x.dtype} values, not numbers",
                        "store the examples as float32 or uint8")


def task_for(graph: Graph, data: Arrays) -> Task:
    """The task the labels and the output layer make; `FileError` if they disagree."""
    out, y = tuple(graph.output.shape), data.y
    if y.dtype.kind not in "biuf":
        raise FileError(data.path, f"y holds {y.dtype} values, not numbers", "store "
                        "labels as integers (class indices) or floats (one-hot rows, values)")
    activation = output_activation(graph)
    units = out[0] if len(out) == 1 else 0
    integral = y.dtype.kind in "biu"
    # log_softmax's log-probabilities are logits whose softmax is the probabilities
    if activation in ("softmax", "log_softmax") or (activation == "linear" and units > 1
                                                    and integral and y.ndim == 1):
        return _classes(data, units, from_logits=activation != "softmax")
    if activation == "sigmoid" and units:
        _check_labels_shape(data, out)
        low, high = _range(y)
        if low < 0 or high > 1:
            raise FileError(data.path, f"y holds values from {low:g} to {high:g}, but a "
                            "sigmoid output is a probability", "binary labels are 0 and 1")
        return Task("binary", units, "binary_crossentropy", False, ("accuracy",))
    _check_labels_shape(data, out)
    return Task("values", 0, "mean_squared_error", False, ("mean_absolute_error",))


def _classes(data: Arrays, units: int, from_logits: bool) -> Task:
    y = data.y
    if units == 1:
        raise FileError(data.path, "the network ends in a softmax over one unit, which is "
                        "always 1: it cannot learn", "for two classes, `dense 1 sigmoid` "
                        "with labels 0 and 1, or `dense 2 softmax`")
    if y.ndim == 2 and y.shape[1] > 1:
        if y.shape[1] != units:
            raise FileError(data.path, f"y has {y.shape[1]} classes but the network outputs "
                            f"{units}", f"make the last layer `dense {y.shape[1]} softmax`, "
                            "or check the labels")
        _check_one_hot(data)
        return Task("onehot", units, "categorical_crossentropy", from_logits, ("accuracy",))
    if y.ndim > 2 or y.dtype.kind not in "biu":
        raise FileError(data.path, f"y has shape {dims(y.shape)} and type {y.dtype}: not "
                        "class indices or one-hot labels", "store one integer class per "
                        "example (shape (n,)), or one-hot rows (shape (n, classes))")
    low, high = _range(y)
    if low < 0:
        raise FileError(data.path, f"y holds the class {low:g}; classes count from 0",
                        "labels are class indices 0, 1, ..., classes - 1")
    if high >= units:
        _too_many_classes(data, int(high), units)
    return Task("indices", units, "sparse_categorical_crossentropy", from_logits,
                ("accuracy",))


# More classes than any classifier head trained here (ImageNet-21k has 21,841); labels
# beyond are ids or hashes, and `dense 4611686018427387905 softmax` is no advice.
MAX_SUGGESTED_CLASSES = 100_000


def _too_many_classes(data: Arrays, high: int, units: int) -> None:
    """The labels name a class the output has no unit for: a hint that fits the labels."""
    if not units:
        raise FileError(data.path, "y holds class indices but the network's output is not "
                        "a vector of class scores", "end the network with `gap -> dense K "
                        "softmax` or `flatten -> dense K softmax`, K the number of classes")
    if high + 1 > MAX_SUGGESTED_CLASSES:
        raise FileError(data.path, f"y holds the label {high:,}, but class indices run from "
                        f"0 to {units - 1} for the network's {units} outputs",
                        "labels that are ids rather than classes can be numbered from 0 "
                        "with np.unique(y, return_inverse=True)[1]")
    raise FileError(data.path, f"y has {high + 1} classes but the network outputs {units}",
                    f"make the last layer `dense {high + 1} softmax`, or check the labels "
                    "(classes count from 0)")


def _check_one_hot(data: Arrays) -> None:
    """Every row of a one-hot `y` has one 1 and zeros elsewhere (read in chunks: y may be
    mapped); rows of all ones were taken for one-hot labels."""
    y = data.y
    step = max(1, 2**20 // y.shape[1])
    for start in range(0, len(y), step):
        chunk = np.asarray(y[start:start + step])
        good = ((chunk == 0) | (chunk == 1)).all(axis=1) & ((chunk == 1).sum(axis=1) == 1)
        if not good.all():
            row = start + int(np.argmin(good))
            values = ", ".join(f"{v:g}" for v in chunk[row - start][:8].tolist())
            more = ", ..." if y.shape[1] > 8 else ""
            raise FileError(data.path, f"y is not one-hot: row {row:,} is [{values}{more}]; "
                            "a one-hot row has one 1 (its class) and zeros elsewhere",
                            "store class indices (shape (n,)), or one-hot rows made with "
                            "np.eye(classes)[indices]")


def _check_labels_shape(data: Arrays, out: tuple[int, ...]) -> None:
    got = tuple(data.y.shape[1:])
    if got != out and not (out == (1,) and got == ()):
        raise FileError(data.path, f"y holds labels of shape {dims(got)} but the network "
                        f"outputs {dims(out)}", "one label per example, shaped like the "
                        "network's output (`cnndsl shapes` shows it)")


def _range(y: np.ndarray) -> tuple[float, float]:
    """The smallest and largest label, read a million at a time (y may be mapped)."""
    flat = y.reshape(len(y), -1)
    step = max(1, 2**20 // max(1, flat.shape[1]))
    lows, highs = zip(*((float(c.min()), float(c.max())) for c in
                        (flat[i:i + step] for i in range(0, len(flat), step))))
    return min(lows), max(highs)


def overridden(task: Task, loss: str | None, metrics: str | None) -> Task:
    """The task with `--loss` and `--metrics` (comma-separated Keras names) applied."""
    names = tuple(m.strip() for m in metrics.split(",") if m.strip()) if metrics else None
    if metrics is not None and not names:
        raise FileError("--metrics", f"`{shown(metrics)}` names no metric",
                        "e.g. --metrics accuracy,top_k_categorical_accuracy")
    return Task(task.labels, task.classes, loss or task.loss,
                task.from_logits and loss is None, names or task.metrics)

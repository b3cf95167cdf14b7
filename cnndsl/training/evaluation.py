"""`cnndsl evaluate`: loss and metrics (Keras's `model.evaluate`) and, for a classifier,
the confusion matrix of the predicted classes (`tf.math.confusion_matrix`)."""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass, field

import numpy as np

from ..errors import shown
from .defaults import Task


@dataclass
class Evaluation:
    """What a model scores on a data set."""

    examples: int
    results: dict[str, float]
    classes: list[str] = field(default_factory=list)
    confusion: list[list[int]] | None = None  # rows: true class; columns: predicted


def evaluate(model, dataset, task: Task, class_names: list[str] | None = None,
             verbose: int = 0) -> Evaluation:
    """Score `model` on `dataset` (in order, unshuffled), which is read twice; Keras's
    progress bars (`verbose`) on standard error, which standard output's result is not."""
    import tensorflow as tf

    with contextlib.redirect_stdout(sys.stderr):
        results = model.evaluate(dataset, return_dict=True, verbose=verbose)
    truth = np.concatenate([np.asarray(y) for _, y in dataset])
    found = Evaluation(len(truth), {k: float(v) for k, v in results.items()})
    if not task.classifier or (task.labels == "binary" and task.classes > 1):
        return found  # values, or several yes/no labels: no one matrix of classes
    with contextlib.redirect_stdout(sys.stderr):
        scores = model.predict(dataset, verbose=verbose)
    predicted = _classes(task, scores)
    truth = _classes(task, truth) if task.labels == "onehot" else truth.reshape(-1)
    count = 2 if task.labels == "binary" else task.classes
    if task.labels == "binary":
        truth = (truth >= 0.5).astype(np.int64)
    matrix = tf.math.confusion_matrix(truth, predicted, num_classes=count)
    found.classes = class_names or [str(c) for c in range(count)]
    found.confusion = np.asarray(matrix).astype(int).tolist()
    return found


def _classes(task: Task, scores: np.ndarray) -> np.ndarray:
    if task.labels == "binary":
        threshold = 0.0 if task.from_logits else 0.5
        return (scores.reshape(len(scores), -1)[:, 0] > threshold).astype(np.int64)
    return np.argmax(scores, axis=-1)


def table(found: Evaluation) -> str:
    """The evaluation as aligned text."""
    width = max(len(k) for k in found.results) if found.results else 8
    lines = [f"{'examples':<{width}}  {found.examples:,}"]
    lines += [f"{k:<{width}}  {v:.4f}" for k, v in found.results.items()]
    if found.confusion is not None:
        names = [shown(c) for c in found.classes]  # a folder's names: escapes, line breaks
        cells = [names] + [[str(v) for v in row] for row in found.confusion]
        w = max(len(c) for row in cells for c in row)
        lines += ["", "confusion matrix (rows: true class, columns: predicted class)",
                  " " * (w + 2) + " ".join(f"{c:>{w}}" for c in names)]
        lines += [f"{name:>{w}}  " + " ".join(f"{v:>{w}}" for v in row)
                  for name, row in zip(names, found.confusion)]
    return "\n".join(lines)


def as_json(found: Evaluation) -> dict:
    return {"examples": found.examples, "metrics": found.results, "classes": found.classes,
            "confusion_matrix": found.confusion}

"""What the `dump_keras_applications_*.py` scripts share: a model's entry and the file layout.

Each script builds its group of `keras.applications` models and hands their entries to
`write`; tests/test_examples.py reads every `keras_applications*.json` this writes. One
layer a line keeps a diff of a regenerated file readable.
"""

from __future__ import annotations

import json
from pathlib import Path


def count(weights) -> int:
    """Number of values in a list of Keras variables."""
    return int(sum(int(w.numpy().size) if hasattr(w, "numpy") else int(w.size)
                   for w in weights))


def entry(model, layers: list) -> dict:
    """A model's totals, output shape and per-layer rows [class, shape, params]."""
    trainable, non_trainable = count(model.trainable_weights), count(model.non_trainable_weights)
    total = int(model.count_params())
    assert total == trainable + non_trainable, model.name
    return {"total": total, "trainable": trainable, "non_trainable": non_trainable,
            "output": [int(d) for d in model.output.shape[1:]], "layers": layers}


def layer_rows(model) -> list:
    """[Keras class, output shape without the batch axis, count_params()] per layer, in
    model.layers order."""
    return [[type(layer).__name__, [int(d) for d in layer.output.shape[1:]],
             int(layer.count_params()) if layer.weights else 0] for layer in model.layers]


def published(dumps: dict) -> dict:
    """name -> [params, trainable, rows, output], as tests/test_examples.py reads it."""
    return {name: [d["total"], d["trainable"], len(d["layers"]), d["output"]]
            for name, d in dumps.items()}


def text(doc: dict) -> str:
    """The file: `_` keys on a line each, then each model with one layer a line."""
    parts = ["{"]
    items = list(doc.items())
    for i, (key, value) in enumerate(items):
        sep = "," if i < len(items) - 1 else ""
        if isinstance(value, dict) and "layers" in value:
            head = {k: v for k, v in value.items() if k != "layers"}
            rows = ",\n".join(json.dumps(row, separators=(",", ":")) for row in value["layers"])
            parts.append(f"{json.dumps(key)}:{json.dumps(head, separators=(',', ':'))[:-1]},"
                         f"\"layers\":[\n{rows}]}}{sep}")
        else:
            parts.append(f"{json.dumps(key)}:{json.dumps(value, separators=(',', ':'))}{sep}")
    parts.append("}")
    return "\n".join(parts) + "\n"


def save(path: Path, doc: dict, subset: bool) -> None:
    """`write`, or for a dump of some of a group's models only, print: a subset never
    replaces the whole group's file."""
    if subset:
        print(text(doc), end="")
    else:
        write(path, doc)


def write(path: Path, doc: dict) -> None:
    path.write_text(text(doc), encoding="utf-8")
    assert json.loads(path.read_text(encoding="utf-8")) == doc
    print(f"wrote {path}: " + ", ".join(f"{n} {d['total']:,}" for n, d in doc.items()
                                        if not n.startswith("_")))

"""The validation split `train --val-split` held out, remembered for `evaluate --split`.

    cnndsl train net.cnn --data d.npz --val-split 0.2 -o net.keras
    cnndsl evaluate net.cnn --weights net.keras --data d.npz --split val

Scoring a model on the data it learnt from says little (0.99 on the digits, where the
held-out fifth gives 0.96). So `train` writes what it held out, `NET.split.json` beside
the model and `split.json` in the checkpoint directory: the seed and fraction, the
indices of the held-out examples, and the data's size and SHA-256, so that `evaluate
--split val` scores exactly those examples (`--split train`, the others), and refuses
data that changed since. The file beside the model also carries the model's SHA-256:
a model written again by another run, without a split or with another, is not paired
with an old record. Both are written atomically (the checkpoint directory's when
training starts, and removed if it stops before the first checkpoint); a run resumed
from checkpoints whose split was another is refused, and one whose split is not
recorded records none.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import shown
from ..support import files
from ..support.files import FileError, open_regular, unreadable
from .arrays import Arrays

RECORD = "split.json"  # in the checkpoint directory
KIND = "cnndsl validation split"
_CHECKPOINT = re.compile(r"epoch-\d+\.keras")
HINT = ("train with --val-split F: `cnndsl train` then writes MODEL.split.json beside the "
        "model, which `evaluate --split` reads; or evaluate on data of its own without --split")


def beside(model: Path) -> Path:
    """`net.keras` -> `net.split.json`."""
    return model.with_suffix(".split.json")


def digest(path: Path) -> str:
    """The SHA-256 of a file (hashlib.file_digest is Python 3.11's)."""
    found = hashlib.sha256()
    try:
        with open_regular(path) as file:
            for chunk in iter(lambda: file.read(2**20), b""):  # a megabyte at a time
                found.update(chunk)
    except OSError as e:
        raise unreadable(path, e, "the file as it was") from None
    return found.hexdigest()


def record(train: Arrays, val: Arrays, fraction: float, seed: int) -> dict[str, Any]:
    """What a split of `train.path` held out (`val`: those rows)."""
    return {"kind": KIND, "data": {"file": str(train.path), "examples": len(train.x),
                                   "sha256": digest(train.path)},
            "val_split": fraction, "seed": seed, "validation": val.rows.tolist()}


def known(split: dict[str, Any], directory: Path | None,
          resume: bool) -> dict[str, Any] | None:
    """`split`, or on resume the one recorded in the checkpoint `directory`, which must
    be the same; None if the checkpoints' split was not recorded (then none is)."""
    if not resume or directory is None:
        return split
    path = directory / RECORD
    if not path.is_file():
        return None
    if _held(_read(path)) != _held(split):
        raise FileError(path, "the checkpoints were trained holding out other examples "
                        "(another --val-split, --seed or data)", "resume with the same "
                        "--val-split and --seed on the same data, or start afresh in "
                        "another --checkpoint-dir")
    return split


@contextlib.contextmanager
def recorded(split: dict[str, Any] | None, directory: Path | None) -> Iterator[None]:
    """`split` recorded in the checkpoint `directory` for the training in the block, and
    removed if it fails before the first checkpoint (a directory left empty is removed
    too: `paths.made_directory`)."""
    if split is None or directory is None:
        yield
        return
    _write(directory / RECORD, split)
    try:
        yield
    except BaseException:
        if not any(_CHECKPOINT.fullmatch(p.name) for p in directory.iterdir()):
            (directory / RECORD).unlink(missing_ok=True)
        raise


def _held(split: dict[str, Any]) -> tuple:
    """What makes two splits the same: the data (not its path) and the rows held out."""
    data = _data(split)
    return data.get("examples"), data.get("sha256"), split.get("validation")


def finish(split: dict[str, Any], model: Path) -> None:
    """Record `split` beside the `model` just written, paired with it by its SHA-256."""
    _write(beside(model), {**split, "model_sha256": digest(model)})


def _write(path: Path, content: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with files.staged(path) as tmp:
            tmp.write_text(_text(content), encoding="utf-8")
    except OSError as e:
        raise FileError(path, f"cannot write the record of the validation split: "
                        f"{shown(e.strerror or e)}", "check the free space and "
                        "permissions of its directory") from None


def _text(content: dict[str, Any]) -> str:
    """JSON, a line a field, the held-out rows on one line (however many)."""
    head = json.dumps({k: v for k, v in content.items() if k != "validation"}, indent=1)
    return head[:-2] + ',\n "validation": ' + json.dumps(content["validation"]) + "\n}\n"


def _read(path: Path, limit: int = 2**30) -> dict[str, Any]:
    try:
        with open_regular(path) as file:
            content = json.loads(file.read(limit + 1))
    except OSError as e:
        raise unreadable(path, e, "a split written by cnndsl train") from None
    except ValueError:
        content = None
    if not isinstance(content, dict) or content.get("kind") != KIND:
        raise FileError(path, "is not a record of a validation split written by cnndsl "
                        "train", "train again to write it anew")
    return content


def held_out(data: Arrays, weights: Path, part: str) -> Arrays:
    """The examples of `data` that `part` names ("val": those held out when `weights`
    were trained; "train": the others), by the split recorded for them."""
    path = _found(weights)
    split = _read(path, 16 * len(data.x) + 2**16)
    if path == beside(weights) and split.get("model_sha256") != digest(weights):
        raise FileError(path, f"records the split of another model than {shown(weights)} "
                        "(written again since, by a run that recorded none or another)", HINT)
    was = _data(split)
    if was.get("examples") != len(data.x):
        raise FileError(data.path, f"is not the data the model was trained on: it has "
                        f"{len(data.x):,} examples, the data then had {_count(was)}",
                        f"evaluate on the data it was trained on "
                        f"({shown(was.get('file', '?'))}), or without --split")
    if was.get("sha256") != digest(data.path):
        raise FileError(data.path, "is not the data the model was trained on: the same "
                        "number of examples, but its contents changed since (its SHA-256 "
                        "differs)", "evaluate on the data as it was, or without --split")
    rows = _rows(path, split.get("validation"), len(data.x))
    if part == "train":
        rows = np.setdiff1d(np.arange(len(data.x)), rows)
    return data.subset(rows)


def _data(split: dict[str, Any]) -> dict[str, Any]:
    data = split.get("data")
    return data if isinstance(data, dict) else {}


def _found(weights: Path) -> Path:
    """The record for `weights`: beside a model, or in a checkpoint's directory."""
    if beside(weights).is_file():
        return beside(weights)
    if _CHECKPOINT.fullmatch(weights.name) and (weights.parent / RECORD).is_file():
        return weights.parent / RECORD
    raise FileError(weights, f"no validation split is recorded for it (no "
                    f"{shown(beside(weights).name)} beside it)", HINT)


def _count(data: dict) -> str:
    examples = data.get("examples")
    return f"{examples:,}" if type(examples) is int else "?"  # noqa: E721 - not a bool


def _rows(path: Path, rows: Any, examples: int) -> np.ndarray:
    """The held-out indices, checked: whole numbers, increasing, within the data."""
    found = np.asarray(rows if isinstance(rows, list) else [None])
    if found.dtype.kind not in "iu" or (found.size and (found[0] < 0 or found[-1] >= examples
                                                        or np.any(np.diff(found) <= 0))):
        raise FileError(path, "its list of held-out examples is damaged", "train again to "
                        "write it anew")
    return found.astype(np.int64)

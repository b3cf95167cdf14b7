"""The per-epoch history (`--history`, by default MODEL.history.csv), written whole and
atomically after every epoch.

Keras's CSVLogger opens the file for writing when training starts and adds a line per
epoch: a run stopped before its first epoch ended left a file of 0 bytes in place of the
old history, and one stopped mid-line half a row. Here the rows are kept in memory and
the whole file is written after each epoch through `files.staged` (a temporary file
renamed over the old one): at any moment the file is the old one or holds every epoch
finished so far, so an interrupted run keeps its history up to its last epoch.

The columns are CSVLogger's, so files written by either read alike: `epoch` (counted from
0), then the logged values' names, sorted, with `val_` columns holding `NA` when there is
no validation data. On `--resume` the earlier rows are kept up to the epoch the run
resumes from (a row past the last checkpoint, possible after SIGKILL, is dropped) and the
earlier header is kept. The history is written before the epoch's checkpoint, so it is
never behind the checkpoints.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..support import files

NA = "NA"


class HistoryFile:
    """The rows so far, and the file they are written to."""

    def __init__(self, path: Path, columns: list[str] | None = None,
                 rows: list[dict[str, str]] | None = None) -> None:
        self.path, self.columns, self.rows = path, columns, rows or []

    @classmethod
    def resumed(cls, path: Path, first_epoch: int) -> HistoryFile:
        """The earlier run's header and rows of epochs before `first_epoch`; an empty
        history if there is no readable file."""
        try:
            with open(path, newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                rows = [row for row in reader if _epoch(row) < first_epoch]
                columns = list(reader.fieldnames or []) or None
        except (OSError, UnicodeDecodeError, csv.Error):
            return cls(path)
        if columns is None or columns[0] != "epoch":
            return cls(path)
        return cls(path, columns, rows)

    def add(self, epoch: int, logs: dict) -> None:
        """One epoch's row, then the whole file written again."""
        if self.columns is None:
            self.columns = ["epoch", *columns(logs)]
        self.rows.append({"epoch": str(epoch),
                          **{k: str(logs.get(k, NA)) for k in self.columns[1:]}})
        self.write()

    def text(self) -> str:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=self.columns or ["epoch"], restval=NA,
                                extrasaction="ignore")
        writer.writeheader()
        writer.writerows(self.rows)
        return out.getvalue()

    def write(self) -> None:
        with files.staged(self.path) as tmp:
            tmp.write_text(self.text(), encoding="utf-8", newline="")


def columns(logs: dict) -> list[str]:
    """The logged names, sorted, and their `val_` twins when none was validated."""
    keys = sorted(logs)
    if keys and not any(k.startswith("val_") for k in keys):
        keys += [f"val_{k}" for k in keys]
    return keys


def _epoch(row: dict) -> int:
    try:
        return int(row.get("epoch") or "")
    except ValueError:
        return 2**62  # not a row of ours: dropped


def history_callback(path: Path, resume: bool, first_epoch: int):
    """A Keras callback writing the history to `path` after every epoch."""
    import keras

    class WriteHistory(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.history = (HistoryFile.resumed(path, first_epoch) if resume
                            else HistoryFile(path))

        def on_epoch_end(self, epoch, logs=None):
            self.history.add(epoch, dict(logs or {}))

    return WriteHistory()

"""`--plot`: loss and the first metric per epoch, read back from the history CSV (so a
resumed run's plot shows every epoch). Needs matplotlib: pip install 'cnndsl[plot]'."""

from __future__ import annotations

import csv
from pathlib import Path

from ..support.files import FileError, staged

INSTALL = "pip install 'cnndsl[plot]'"


def check() -> None:
    """matplotlib is there, before hours of training are spent."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise FileError("--plot", "plotting needs matplotlib, which is not installed",
                        INSTALL) from None


def plot(history: Path, output: Path) -> None:
    """A figure of one or two panels (loss; a metric), training and validation curves."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    from matplotlib import pyplot as plt

    with open(history, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    names = [k for k in rows[0] if k != "epoch" and not k.startswith("val_")
             and k != "learning_rate"][:2] if rows else []
    figure, axes = plt.subplots(1, max(1, len(names)), figsize=(5 * max(1, len(names)), 4))
    for ax, name in zip(list(getattr(axes, "flat", [axes])), names):
        for key, label in ((name, "training"), (f"val_{name}", "validation")):
            points = [(e, v) for e, v in ((_number(r.get("epoch")), _number(r.get(key)))
                                          for r in rows) if e is not None and v is not None]
            if points:  # no validation data: Keras's CSVLogger writes `NA` in val_ columns
                ax.plot([e + 1 for e, _ in points], [v for _, v in points], marker="o",
                        label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        if ax.lines:
            ax.legend()
    figure.tight_layout()
    with staged(output, suffix=output.suffix) as tmp:
        figure.savefig(tmp)
    plt.close(figure)


def _number(text: str | None) -> float | None:
    """A value of the history, or None where it has none (`NA`, an empty cell)."""
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None

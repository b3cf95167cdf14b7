"""`--plot`: loss and the first metric per epoch, read back from the history CSV (so a
resumed run's plot shows every epoch). Needs matplotlib: pip install 'cnndsl[plot]'."""

from __future__ import annotations

import csv
from pathlib import Path

from ..files import FileError, staged

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
    epochs = [int(r["epoch"]) + 1 for r in rows]
    names = [k for k in rows[0] if k != "epoch" and not k.startswith("val_")
             and k != "learning_rate"][:2] if rows else []
    figure, axes = plt.subplots(1, max(1, len(names)), figsize=(5 * max(1, len(names)), 4))
    for ax, name in zip(list(getattr(axes, "flat", [axes])), names):
        for key, label in ((name, "training"), (f"val_{name}", "validation")):
            if rows and key in rows[0]:
                ax.plot(epochs, [float(r[key]) for r in rows], marker="o", label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.legend()
    figure.tight_layout()
    with staged(output, suffix=output.suffix) as tmp:
        figure.savefig(tmp)
    plt.close(figure)

"""`cnndsl weights MODEL.keras -o W.npz`: a (trained) Keras model's weights, for the NumPy
interpreter and every other backend (`--weights W.npz`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import shown
from ..support import files, paths
from ..support.console import say
from ..support.files import writing
from .common import EXIT_OK, path, user_errors

if TYPE_CHECKING:  # NumPy and the backends load when the command runs
    from ..backends.weights import Weights


def add_parser(sub) -> None:
    """The `weights` subcommand's arguments."""
    weights = sub.add_parser(
        "weights", help="export a .keras model's weights to an .npz for `cnndsl run`",
        description="Load a Keras 3 .keras model (in safe mode: no code from the file is "
        "run) and write its weights as an .npz keyed LAYER/VARIABLE, the format of "
        "`cnndsl run --weights`. Needs TensorFlow: pip install 'cnndsl[keras]'.")
    weights.add_argument("file", type=path, metavar="MODEL.keras",
                         help="a model saved by Keras 3")
    weights.add_argument("-o", "--output", type=path, metavar="W.npz",
                         help="where to write (default: beside the model, with .npz)")


def run(args) -> int:
    """Export, say how many arrays and values were written."""
    model = Path(args.file)
    output = Path(args.output) if args.output is not None else model.with_suffix(".npz")
    with user_errors():
        weights = export_weights(model, output)
    arrays, values = array_count(weights)
    say(f"ok: {shown(output)} ({arrays} arrays, {values:,} values)")
    return EXIT_OK


def export_weights(model: Path, output: Path) -> Weights:
    """Every weight of a `.keras` model, written to an `.npz` keyed LAYER/VARIABLE."""
    from ..backends.keras.loading import check_keras_file, keras_weights

    check_keras_file(model)  # first: `weights w.npz` is "not a .keras file"
    paths.check({"the model": model}, {"-o": output}, suffixes={"-o": (".npz",)})
    weights = keras_weights(model)
    with writing(output):
        files.write_npz(output, weights)
    return weights


def array_count(weights: Weights) -> tuple[int, int]:
    """(arrays, values) in a weights mapping, for the one-line summary."""
    import numpy as np

    return len(weights), sum(int(np.size(a)) for a in weights.values())

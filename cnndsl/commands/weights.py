"""`cnndsl weights MODEL -o W.npz`: a (trained) model's weights, for the NumPy interpreter
and every other backend (`--weights W.npz`): from a Keras model (`.keras`), or from
PyTorch, a `.pt2` program cnndsl wrote (it carries its spec) or a `state_dict` of the
`--emit torch` module (`.pt`, `.pth`: with `--spec NET.cnn`, since tensors alone do not
say which network they are)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import CnnError, as_text, shown
from ..support import files, paths
from ..support.console import say
from ..support.files import FileError, writing
from .common import EXIT_OK, UserError, load, path, user_errors

if TYPE_CHECKING:  # NumPy and the backends load when the command runs
    from ..backends.weights import Weights


def add_parser(sub) -> None:
    """The `weights` subcommand's arguments."""
    weights = sub.add_parser(
        "weights", help="export a .keras model's or a PyTorch file's weights to an .npz "
        "for `cnndsl run`",
        description="Write a model's weights as an .npz keyed LAYER/VARIABLE, the format "
        "of `cnndsl run --weights`: from a Keras 3 .keras model (loaded in safe mode: no "
        "code from the file is run; needs TensorFlow: pip install 'cnndsl[keras]'), or "
        "from PyTorch: a .pt2 program written by `cnndsl compile -o NET.pt2` (it carries "
        "its spec), or a state_dict of the module `cnndsl compile --emit torch` writes "
        "(.pt or .pth, saved by torch.save; give --spec), read with weights_only=True "
        "(needs pip install 'cnndsl[torch]').")
    weights.add_argument("file", type=path, metavar="MODEL",
                         help="a .keras model, a .pt2 program or a .pt state_dict")
    weights.add_argument("-o", "--output", type=path, metavar="W.npz",
                         help="where to write (default: beside the model, with .npz)")
    weights.add_argument("--spec", type=path, metavar="NET.cnn",
                         help="the network the PyTorch weights are for (needed for a .pt; "
                         "a .pt2 from cnndsl carries its own)")


def run(args) -> int:
    """Export, say how many arrays and values were written."""
    model = Path(args.file)
    output = Path(args.output) if args.output is not None else model.with_suffix(".npz")
    with user_errors():
        weights = export_weights(model, output, Path(args.spec) if args.spec else None)
    arrays, values = array_count(weights)
    say(f"ok: {shown(output)} ({arrays} arrays, {values:,} values)")
    return EXIT_OK


def export_weights(model: Path, output: Path, spec: Path | None = None) -> Weights:
    """Every weight of a `.keras` model or a PyTorch file, written to an `.npz` keyed
    LAYER/VARIABLE."""
    from ..backends.given import TORCH_SUFFIXES

    if model.suffix.lower() in TORCH_SUFFIXES:
        paths.check({"the model": model, "the spec": spec}, {"-o": output},
                    suffixes={"-o": (".npz",)})
        weights = torch_file_weights(model, spec)
    else:
        from ..backends.keras.loading import check_keras_file, keras_weights

        if spec is not None:
            raise FileError("cnndsl weights", "--spec is for PyTorch's files: a .keras "
                            "model knows its layers", "leave --spec out")
        check_keras_file(model)  # first: `weights w.npz` is "not a .keras file"
        paths.check({"the model": model}, {"-o": output}, suffixes={"-o": (".npz",)})
        weights = keras_weights(model)
    with writing(output):
        files.write_npz(output, weights)
    return weights


def torch_file_weights(model: Path, spec: Path | None) -> Weights:
    """A `.pt2` or `.pt`'s weights for the network in `spec`, or in the spec a `.pt2`
    carries; a located error for a spec that does not compile."""
    from ..backends.torch.files import SPEC_FILE, read_state, torch_weights
    from ..language.frontend import compile_text

    if spec is not None:
        return torch_weights(load(str(spec)).graph, model)
    _, text = read_state(model)
    if text is None:
        raise FileError(model, "a state_dict does not say which network it is for",
                        "give the spec it was trained from: cnndsl weights "
                        f"{shown(model.name)} --spec NET.cnn")
    try:
        graph = compile_text(text, as_text(model.stem))
    except CnnError as e:
        raise UserError(e.render(text, f"{model}:{SPEC_FILE}")) from None
    return torch_weights(graph, model)


def array_count(weights: Weights) -> tuple[int, int]:
    """(arrays, values) in a weights mapping, for the one-line summary."""
    import numpy as np

    return len(weights), sum(int(np.size(a)) for a in weights.values())

"""`cnndsl import MODEL.keras|MODEL.onnx -o NET.cnn [--weights-out W.npz]`: a Keras or
ONNX model as `.cnn`.

    cnndsl import resnet50.keras -o resnet50.cnn --weights-out resnet50.npz
    cnndsl import resnet18.onnx -o resnet18.cnn --weights-out resnet18.npz
    cnndsl run resnet50.cnn --weights resnet50.npz --input x.npy -o y.npy

The model is loaded in Keras's safe mode (no code from the file runs), turned into the IR
by the Keras importer, written as text by the printer, and the text is read back before
anything is written: it must make the same layers, shapes and wiring, and the weights are
keyed by the names the text gives its layers. Any problem is `MODEL.keras: error: ...`
with a hint, exit status 1, and nothing written.
"""

from __future__ import annotations

import argparse
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import as_text, shown
from ..support import files, signals
from ..support.files import FileError
from .common import EXIT_OK, UserError, path, user_errors, write_text

if TYPE_CHECKING:  # NumPy is imported when a model is, not by every command
    import numpy as np

DESCRIPTION = (
    "Write a Keras 3 model (.keras, loaded in safe mode: no code from the file is run) or "
    "an ONNX model (.onnx, as PyTorch's torch.onnx.export, tf2onnx or `cnndsl compile -o "
    "NET.onnx` write it) as .cnn text that infers to the same shapes and parameter counts, "
    "with repeated sub-chains folded into `def` blocks and `( ... ) * N`. --weights-out "
    "writes its weights keyed by the text's layer names, so `cnndsl run NET.cnn --weights "
    "W.npz` computes what the model does. Keras models need TensorFlow: pip install "
    "'cnndsl[keras]'; ONNX models need onnx: pip install 'cnndsl[onnx]'.")


def add_parser(sub) -> None:
    """The `import` subcommand's arguments."""
    parser = sub.add_parser("import", help="write a .keras or .onnx model as .cnn text "
                            "(and its weights as an .npz)", description=DESCRIPTION)
    parser.add_argument("file", type=path, metavar="MODEL.keras|MODEL.onnx",
                        help="a model saved by Keras 3, or an ONNX model")
    parser.add_argument("-o", "--output", type=path, metavar="NET.cnn",
                        help="where to write the text ('-' for standard output; default: "
                        "beside the model, with .cnn)")
    parser.add_argument("--weights-out", type=path, metavar="W.npz",
                        help="also write the weights, keyed LAYER/VARIABLE by the text's "
                        "layer names")
    names = parser.add_mutually_exclusive_group()
    names.add_argument("--keep-names", action="store_true",
                       help="give every layer its Keras or ONNX name (`name=`), even one "
                       "the framework made up (`conv2d_3`); nothing is folded")
    names.add_argument("--auto-names", action="store_true",
                       help="name every layer KIND_N as the text's order gives it, so that "
                       "repeated sub-chains fold into `def` blocks and `( ... ) * N` "
                       "whatever the model called them (by default a layer keeps a name "
                       "that says more than its kind, and what it is in is not folded); "
                       "the model's names are listed in a comment either way")
    parser.add_argument("--input-shape", type=input_shape, action="append", default=[],
                        metavar="[NAME=]HxWxC",
                        help="the size of an input the model leaves open (None, or a "
                        "named ONNX dimension), channels last, e.g. 224x224x3 for "
                        "keras.applications.MobileNetV3Small(); NAME=... for one of "
                        "several inputs; repeat for each")
    parser.add_argument("--no-fold", action="store_true",
                        help="write every layer out: no `def` blocks, no `( ... ) * N`")


def input_shape(text: str):
    """`--input-shape`'s argument, checked before anything is loaded."""
    from ..backends.keras.input_sizes import parse

    try:
        return parse(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


@dataclass
class Result:
    text: str
    weights: dict[str, np.ndarray]
    layers: int
    params: int


def run(args: argparse.Namespace) -> int:
    """The command: checks, import, then the weights and the text written atomically."""
    from ..support.console import say

    model = Path(args.file)
    output = args.output or str(model.with_suffix(".cnn"))
    weights_out = Path(args.weights_out) if args.weights_out else None
    with user_errors():
        check_paths(model, output, weights_out)
        result = import_model(model, keep_names=args.keep_names, auto_names=args.auto_names,
                              input_sizes=_given_sizes(args.input_shape),
                              fold=not (args.no_fold or args.keep_names),
                              stem=as_text(model.stem if output == "-" else Path(output).stem))
        signals.check()
        if weights_out is not None:
            with files.writing(weights_out):
                files.write_npz(weights_out, result.weights)
        write_text(result.text, None if output == "-" else Path(output))
    if output == "-":
        return EXIT_OK
    also = f", weights -> {shown(weights_out)}" if weights_out else ""
    say(f"ok: {shown(output)} ({result.layers:,} layers, {result.params:,} params, "
        f"{result.text.count(chr(10)):,} lines{also})")
    return EXIT_OK


def _given_sizes(given: list) -> dict:
    """`--input-shape` by input name (None: the model's only input); each named once."""
    sizes: dict = {}
    for name, shape in given:
        if name in sizes:
            raise UserError(f"cnndsl: error: --input-shape gives the size of "
                            f"{shown(name) if name else 'the input'} twice\n"
                            "hint: give each input's size once")
        sizes[name] = shape
    return sizes


def check_paths(model: Path, output: str, weights_out: Path | None) -> None:
    """Everything about the files that can be known before TensorFlow is imported."""
    from ..backends.keras.loading import check_keras_file
    from ..support import paths

    onnx = is_onnx(model)
    if not onnx:
        check_keras_file(model)
    paths.check({"the model": model}, {"-o": output, "--weights-out": weights_out},
                suffixes={"-o": (".cnn",), "--weights-out": (".npz",)})
    if not onnx:
        _prescan(model)


def is_onnx(model: Path) -> bool:
    """An ONNX model by its name (`.onnx`); anything else is read as a Keras one."""
    return model.suffix.lower() == ".onnx"


def _prescan(model: Path) -> None:
    """Layers no step can express, found in the file's config before Keras loads it (a
    `Lambda`, which safe mode refuses to load at all, gets its name and class said)."""
    from ..importers.keras import Unsupported, scan_config

    try:
        with zipfile.ZipFile(model) as archive:
            config = json.loads(archive.read("config.json"))
    except Exception:  # noqa: BLE001 - Keras's loader reports a broken file in its words
        return
    try:
        scan_config(config)
    except Unsupported as e:
        raise FileError(model, e.message, e.hint) from None


def import_model(model: Path, *, keep_names: bool = False, fold: bool = True,
                 stem: str = "model", input_sizes: dict | None = None,
                 auto_names: bool = False) -> Result:
    """The model's text and weights, read back and checked; `FileError` for any problem.
    `input_sizes` fills in the sizes the model leaves open (`--input-shape`); the model's
    names are kept where they say something, unless `auto_names` (or `keep_names`: all)."""
    from ..backends.keras.input_sizes import InputSizeError, with_input_sizes
    from ..importers.keras import Unsupported, from_keras

    if is_onnx(model):
        return _import_onnx(model, keep_names, fold, stem, input_sizes or {}, auto_names)

    keras_model = load(model)
    try:
        if input_sizes:
            keras_model = with_input_sizes(keras_model, input_sizes)
    except InputSizeError as e:
        raise FileError(model, e.message, e.hint) from None
    try:
        imported = from_keras(keras_model)
    except Unsupported as e:
        raise FileError(model, e.message, e.hint) from None
    del keras_model
    if auto_names:
        imported.kept = frozenset()
    return write_out(imported, model, keep_names, fold, stem)


def _import_onnx(model: Path, keep_names: bool, fold: bool, stem: str,
                 input_sizes: dict, auto_names: bool) -> Result:
    from ..importers.onnx import Unsupported, from_onnx
    from ..importers.onnx.reading import read_model

    onnx_model = read_model(model)
    signals.check()
    try:
        imported = from_onnx(onnx_model, input_sizes=input_sizes)
    except Unsupported as e:
        raise FileError(model, e.message, e.hint) from None
    del onnx_model
    if auto_names:
        imported.kept = frozenset()
    return write_out(imported, model, keep_names, fold, stem)


def load(model: Path):
    """The Keras model, loaded in safe mode; Keras's own warnings said in one line."""
    from ..backends.keras import runtime
    from ..backends.keras.loading import load_keras_model

    with runtime.keras_backend(model, "loading the model") as backend:
        keras_model = load_keras_model(backend, model)
    signals.check()
    return keras_model


def write_out(imported, model: Path, keep_names: bool, fold: bool, stem: str) -> Result:
    """Print, read back, match; the weights renamed to the text's layer names."""
    from ..errors import CnnError
    from ..language.frontend import compile_text
    from ..views.printing.check import Mismatch, match

    graph = imported.graph
    text = _text(imported, model, keep_names, fold)
    try:
        reparsed = compile_text(text, stem)
        twin = match(graph, reparsed)
    except (CnnError, Mismatch):
        if not fold:
            raise
        text = _text(imported, model, keep_names, False)  # folding got it wrong: a bug
        reparsed = compile_text(text, stem)
        twin = match(graph, reparsed)
    text += _renamed_comment(imported, {i: reparsed.nodes[j].name for i, j in enumerate(twin)})
    weights = {}
    for node in graph.nodes:
        new = reparsed.nodes[twin[node.index]].name
        for var in node.layer.variables(node.in_shapes):
            weights[f"{new}/{var}"] = imported.weights[f"{node.name}/{var}"]
    params = graph.params
    return Result(text, weights, len(graph.nodes), params)


def _text(imported, model: Path, keep_names: bool, fold: bool) -> str:
    from ..support.escaping import cnn_comment
    from ..views.printing.printer import to_text

    graph = imported.graph
    trainable = sum(n.layer.params(n.in_shapes)[0] for n in graph.nodes)
    frozen = sum(n.layer.params(n.in_shapes)[1] for n in graph.nodes)
    # The names are the file's: a line break or a bidi override must stay inside the comment.
    header = [f"{cnn_comment(imported.model_name)}: imported from "
              f"{cnn_comment(Path(model).name)} by `cnndsl import`.",
              f"{trainable + frozen:,} params: {trainable:,} trainable, {frozen:,} "
              "non-trainable."]
    return to_text(graph, fold=fold, names=keep_names, header=header, kept=imported.kept,
                   outputs=imported.output_names)


def _renamed_comment(imported, names: dict[int, str]) -> str:
    """The layers this text names otherwise than the model (a name made valid, a
    framework's automatic name given way to `KIND_N`, a layer in a folded block), each
    with the model's name: so the weights and activations match back by name."""
    from ..support.escaping import cnn_comment

    pairs = imported.renamed(names)
    if not pairs:
        return ""
    width = min(max(len(ours) for ours, _ in pairs), 32)
    lines = ["", "# Layers named otherwise in the model (this text's name, the model's):"]
    lines += [f"#   {ours:<{width}}  {cnn_comment(theirs, limit=None)}" for ours, theirs in pairs]
    return "\n".join(lines) + "\n"

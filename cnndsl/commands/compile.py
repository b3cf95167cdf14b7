"""`cnndsl compile`: the network as a Keras model, Keras source or an ONNX model.

    cnndsl compile lenet5.cnn                  # lenet5.keras, Keras-like weights from seed 0
    cnndsl compile lenet5.cnn --emit python    # lenet5.py, a function that builds the model
    cnndsl compile lenet5.cnn -o - | ...       # the .keras model on standard output
    cnndsl compile lenet5.cnn -o lenet5.onnx   # ONNX, written without TensorFlow

Everything that can be checked without TensorFlow (the destination, the weights file and
its fit to the network, a `.keras` file's container) is checked before Keras is imported,
so most mistakes are reported at once, and without TensorFlow installed; `--emit python`
never imports it. Problems with files are `FileError`s (`PATH: error: ...` and a hint),
as for `cnndsl run`; outputs are written atomically, so a failure leaves an existing file
as it was, and one for standard output is made whole before a byte of it is written.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import as_text, shown
from ..support import paths
from ..support.console import say
from ..support.files import FileError
from .common import EXIT_OK, add_weights_arguments, load, path, user_errors, write_text

if TYPE_CHECKING:
    from ..graph.ir import Graph


def add_parser(sub) -> None:
    """The `compile` subcommand's arguments."""
    compile_ = sub.add_parser(
        "compile", help="build the Keras model (a .keras file, or Python source), or an "
        "ONNX model",
        description="Build the network's Keras model and save it as a .keras file carrying "
        "its weights (from --weights, or Keras-like initial weights drawn from --seed), or, "
        "with --emit python, as readable Python code that builds it (without weights). "
        "Either needs nothing but Keras to load or run, not cnndsl. The .keras model needs "
        "TensorFlow to build: pip install 'cnndsl[keras]'; the Python source does not. The "
        "output is written only when complete: a failure leaves an existing file as it "
        "was. With -o -, it goes to standard output, and nothing else does. With -o "
        "NET.onnx (or --emit onnx), an ONNX model with the same weights, written without "
        "TensorFlow: pip install 'cnndsl[onnx]'. With --emit torch, readable PyTorch source: "
        "one torch.nn.Module class, channels first, that needs only torch to run (writing "
        "it needs no torch). With -o NET.pt2, a torch.export program with the weights; "
        "with -o NET.pt, that module's state_dict (torch.save): pip install 'cnndsl[torch]'.")
    compile_.add_argument("file", type=path, help="a .cnn file ('-' for standard input)")
    compile_.add_argument("-o", "--output", type=path, metavar="OUT",
                          help="where to write, '-' for standard output (a .keras model "
                          "only when that is not a terminal) (default: beside FILE, with "
                          "the same stem and .keras, .py or .onnx)")
    compile_.add_argument("--emit", choices=("keras", "python", "onnx", "torch", "pt2", "pt"),
                          help="a .keras model, Keras's Python source, an ONNX model, "
                          "PyTorch source, a torch.export program with its weights, or the "
                          "weights alone as the PyTorch source module's state_dict "
                          "(default: by -o's ending, .onnx, .pt2 or .pt; keras otherwise)")
    compile_.add_argument("--opset", type=int, metavar="K",
                          help="the ONNX operator set to write (default: 17)")
    # No default seed: --emit python refuses one given, and ONNX and Keras take 0.
    add_weights_arguments(compile_, {"metavar": "N"})
    compile_.add_argument("--name", help="the model's name (default: the file's stem)")


def run(args) -> int:
    """Build and write, or the first problem found before any work."""
    spec = load(args.file, args.name)
    with user_errors(spec):  # CnnError: a layer Keras cannot build, located in the spec
        output, summary = command(spec.graph, args.file, args.output, args.emit,
                                  args.weights, args.seed, args.opset, spec.text)
    if output is not None:  # with `-o -`, standard output carries the output alone
        say(f"ok: {shown(output)} ({summary})")
    return EXIT_OK


SUFFIXES = {"keras": ".keras", "python": ".py", "onnx": ".onnx", "torch": ".py",
            "pt2": ".pt2", "pt": ".pt"}
SOURCES = ("python", "torch")  # text, without weights


STDOUT = "-"  # `-o -`: standard output


def command(graph: Graph, spec: str, output: str | None, emit: str | None = None,
            weights: str | None = None, seed: int | None = None,
            opset: int | None = None, text: str = "") -> tuple[Path | None, str]:
    """`cnndsl compile`: (the file written, None for standard output; a summary such as
    `61,706 params`). Without `emit`, the ending of `output` chooses: `.onnx` writes
    ONNX, anything else a `.keras` model."""
    ending = Path(output).suffix.lower() if output is not None else ""
    emit = emit or {".onnx": "onnx", ".pt2": "pt2", ".pt": "pt"}.get(ending, "keras")
    if opset is not None and emit != "onnx":
        raise FileError("cnndsl compile", f"--opset applies to ONNX, not to --emit {emit}",
                        "write to a .onnx file (-o NET.onnx), or leave --opset out")
    if output == STDOUT:
        path = None
        check_stdout(emit)
    else:
        path = Path(output) if output is not None else default_output(spec, emit)
        check_output(path, spec, emit, weights)
    if emit in SOURCES:
        if weights is not None or seed is not None:
            raise FileError("cnndsl compile", f"--emit {emit} writes code without weights: "
                           "--weights and --seed do not apply", "compile to .keras to carry "
                           "weights, or leave the option out")
        source_name = "" if spec == "-" else as_text(Path(spec).name)
        params = graph.params
        if emit == "torch":
            from ..backends.torch.source import torch_source

            write_text(torch_source(graph, source_name), path)
            return path, f"PyTorch source, {params:,} params"
        compile_python(graph, path, source_name)
        return path, f"Keras source, {params:,} params"
    if seed is not None and seed < 0:
        raise FileError("cnndsl compile", f"--seed must be 0 or more, got {seed}",
                       "any non-negative integer, e.g. --seed 0")
    if emit == "pt2":
        from ..backends.torch.export import compile_pt2

        params = compile_pt2(graph, path, Path(weights) if weights is not None else None,
                             seed or 0, text)
        return path, f"torch.export program, {params:,} params"
    if emit == "pt":
        from ..backends.torch.export import compile_state

        params = compile_state(graph, path, Path(weights) if weights is not None else None,
                               seed or 0)
        return path, f"PyTorch state_dict, {params:,} params"
    if emit == "onnx":
        from ..backends.onnx.export import compile_onnx

        params, used = compile_onnx(graph, path, Path(weights) if weights is not None
                                    else None, seed or 0, opset)
        return path, f"ONNX opset {used}, {params:,} params"
    from ..backends.keras.model import compile_keras

    params = compile_keras(graph, path, Path(weights) if weights is not None else None,
                           seed or 0)
    return path, f"{params:,} params"


def default_output(spec: str, emit: str) -> Path:
    """`nets/lenet5.cnn` -> `nets/lenet5.keras` (or `.py`): beside the spec, same stem."""
    if spec == "-":
        raise FileError("cnndsl compile", "-o is needed when the spec is read from standard "
                       "input", f"e.g. -o model{SUFFIXES[emit]}, or -o - for standard output")
    return Path(spec).with_suffix(SUFFIXES[emit])


def check_output(output: Path, spec: str, emit: str, weights: str | None = None) -> None:
    """A writable `.keras`, `.py` or `.onnx` destination that is not the spec or the
    weights."""
    paths.check({"the spec": spec, "the weights file": weights}, {"-o": output},
                suffixes={"-o": (SUFFIXES[emit],)})


def check_stdout(emit: str) -> None:
    """`-o -` writes text anywhere, and a `.keras` or `.onnx` model (binary) only where it
    is not a terminal: a file or a pipe."""
    if emit not in SOURCES and _is_terminal(sys.stdout):
        raise FileError("cnndsl compile", f"-o - would write the {SUFFIXES[emit]} model, "
                       "binary data, "
                       "to the terminal", "redirect standard output to a file or a pipe "
                       "(cnndsl compile NET.cnn -o - > model.keras), or write text with "
                       "--emit python")


def _is_terminal(stream) -> bool:
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError, OSError):  # no file behind it, or closed
        return False


def compile_python(graph: Graph, output: Path | None, source_name: str = "") -> None:
    """Write readable Keras source, a function `build_NAME()` that makes the model, to
    `output` or to standard output if None. Never imports Keras: the source is text."""
    from ..backends.keras.source import python_source

    write_text(python_source(graph, source_name), output)

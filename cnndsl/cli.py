"""The `cnndsl` command: `shapes`, `check`, `run`, `compile`, `weights`, `import`,
`draw`, `maps`, `train` and `evaluate`.

`main(argv)` returns the exit status: 0 success, 1 an error in the user's input (always
`FILE:LINE:COL: error: ...` with the line and a caret, or `PATH: error: ...` and a hint
for a problem with another file), 2 a usage error (argparse). Nothing here imports
TensorFlow: only `compile`, `weights` and `run --weights MODEL.keras` load it, through
the Keras backend.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from pathlib import Path

from .commands import draw, evaluate, import_, maps, train
from .errors import CnnError, as_text, shown
from .files import StdoutError
from .limits import MAX_SOURCE_BYTES

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class UserError(Exception):
    """An error already rendered for the terminal."""


def path(text: str) -> str:
    """A file argument: `-o ""` is a usage error, not a file named nothing."""
    if not text:
        raise argparse.ArgumentTypeError("expected a file name, got an empty string")
    return text


class _Parser(argparse.ArgumentParser):
    """argparse, with a hint for a misspelt command: `cnndsl shape` -> `shapes`."""

    def error(self, message: str):  # type: ignore[override]
        from .errors import did_you_mean

        wrong = re.search(r"invalid choice: '([^']*)'", message)
        if wrong and self._subparsers is not None:
            for action in self._subparsers._group_actions:
                guess = did_you_mean(wrong.group(1), list(action.choices or ()))
                if guess:
                    message += f"\nhint: did you mean `{guess}`?"
        super().error(message)


def version() -> str:
    """The installed package's version, or the source tree's when it is not installed."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    from . import __version__

    try:
        return installed("cnndsl")
    except PackageNotFoundError:
        return __version__


class _Version(argparse.Action):
    """`--version`, looked up only when asked for: reading package metadata costs time
    every other command would pay at start."""

    def __call__(self, parser, namespace, values, option_string=None):
        say(f"cnndsl {version()}")
        parser.exit()


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="cnndsl", description="Describe a convolutional network in a line; get its "
        "shapes, sizes and costs.")
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="print cnndsl's version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    shapes = sub.add_parser("shapes", help="per-layer shapes, parameters, MACs, FLOPs and "
                            "receptive fields")
    shapes.add_argument("file", type=path, help="a .cnn file ('-' for standard input)")
    shapes.add_argument("--format", choices=("table", "json", "markdown", "csv"),
                        default="table", help="output format (default: table)")
    shapes.add_argument("--name", help="the model's name (default: the file's stem)")

    check = sub.add_parser("check", help="parse and infer only; one line on success")
    check.add_argument("file", type=path, help="a .cnn file ('-' for standard input)")

    run = sub.add_parser("run", help="run the network with NumPy over the examples in a "
                         ".npy file", description="Run the network over the examples in X, "
                         "B at a time, and write the outputs to Y. A single example without "
                         "the batch axis gives a single output. Y is written only when "
                         "complete: a failure or interrupt leaves an existing Y as it was.")
    run.add_argument("file", type=path, help="a .cnn file ('-' for standard input)")
    run.add_argument("--input", "-i", type=path, required=True, metavar="X",
                     help="the examples: a .npy file (read a batch at a time), or an .npz holding "
                     "one array")
    run.add_argument("--output", "-o", type=path, required=True, metavar="Y",
                     help="where to write the outputs (.npy, or .npz with one array `output`)")
    weights = run.add_mutually_exclusive_group()
    weights.add_argument("--weights", type=path, metavar="W.npz",
                         help="weights keyed LAYER/VARIABLE, or a .keras model's (loaded "
                         "with TensorFlow) (default: initialised from --seed)")
    weights.add_argument("--seed", type=int, default=0,
                         help="seed of the Keras-like initial weights (default: 0)")
    run.add_argument("--batch-size", type=int, default=32, metavar="B",
                     help="examples run at once; memory grows with it (default: 32)")
    run.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                     help="the arithmetic's precision (default: float32)")
    run.add_argument("--layers", type=path, metavar="L.npz",
                     help="also write every layer's output, keyed by layer name, for the "
                     "whole input (held in memory)")
    run.add_argument("--quiet", "-q", action="store_true",
                     help="no progress bar on a terminal")
    _compile_parser(sub)
    _weights_parser(sub)
    import_.add_parser(sub, path)
    draw.add_parser(sub, path)
    maps.add_parser(sub, path)
    train.add_parser(sub, path)
    evaluate.add_parser(sub, path)
    return parser


def _compile_parser(sub) -> None:
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
        "TensorFlow: pip install 'cnndsl[onnx]'.")
    compile_.add_argument("file", type=path, help="a .cnn file ('-' for standard input)")
    compile_.add_argument("-o", "--output", type=path, metavar="OUT",
                          help="where to write, '-' for standard output (a .keras model "
                          "only when that is not a terminal) (default: beside FILE, with "
                          "the same stem and .keras, .py or .onnx)")
    compile_.add_argument("--emit", choices=("keras", "python", "onnx"),
                          help="a .keras model, Python source or an ONNX model (default: "
                          "onnx for -o NAME.onnx, keras otherwise)")
    compile_.add_argument("--opset", type=int, metavar="K",
                          help="the ONNX operator set to write (default: 17)")
    weights = compile_.add_mutually_exclusive_group()
    weights.add_argument("--weights", type=path, metavar="W.npz",
                         help="weights keyed LAYER/VARIABLE, or a .keras model's (default: "
                         "initialised from --seed)")
    weights.add_argument("--seed", type=int, metavar="N",
                         help="seed of the Keras-like initial weights (default: 0)")
    compile_.add_argument("--name", help="the model's name (default: the file's stem)")


def _weights_parser(sub) -> None:
    weights = sub.add_parser(
        "weights", help="export a .keras model's weights to an .npz for `cnndsl run`",
        description="Load a Keras 3 .keras model (in safe mode: no code from the file is "
        "run) and write its weights as an .npz keyed LAYER/VARIABLE, the format of "
        "`cnndsl run --weights`. Needs TensorFlow: pip install 'cnndsl[keras]'.")
    weights.add_argument("file", type=path, metavar="MODEL.keras",
                         help="a model saved by Keras 3")
    weights.add_argument("-o", "--output", type=path, metavar="W.npz",
                         help="where to write (default: beside the model, with .npz)")


def load(path: str, name: str | None = None):
    """(display path, graph, text) of a spec, or `UserError` with the rendered message."""
    from .compiler import compile_text, decode
    from .files import open_regular, unreadable

    display = "<stdin>" if path == "-" else path
    if name is not None and (not name or "/" in name or not name.isprintable()):
        raise UserError(f"cnndsl: error: --name `{shown(name)}` is not a usable model name\n"
                        "hint: use letters, digits, `_`, `-` or `.`; Keras refuses `/`")
    try:
        # Never more than the limit plus one byte: a 50 MB file is refused unread.
        if path == "-" and sys.stdin is None:  # started with standard input closed
            raise UserError("<stdin>: error: standard input is closed\n"
                            "hint: give the spec as a file, or pipe it in: cnndsl check - < FILE")
        if path == "-":
            data = sys.stdin.buffer.read(MAX_SOURCE_BYTES + 1)
        else:  # a regular file only: a FIFO would wait for a writer forever
            with open_regular(path) as f:
                data = f.read(MAX_SOURCE_BYTES + 1)
    except OSError as e:
        raise UserError(unreadable(path, e, "a .cnn file, or `-` and the spec on standard "
                                   "input").render()) from None
    if len(data) > MAX_SOURCE_BYTES:
        raise UserError(f"{shown(display)}:1:1: error: the file is over the limit of "
                        f"{MAX_SOURCE_BYTES // 2**20} MiB for a spec\n"
                        "hint: is this the right file? a 100,000-layer network is about 3 MB")
    text = data.decode("utf-8", errors="replace")
    try:
        text = decode(data)
        stem = "model" if path == "-" else as_text(Path(path).stem)
        graph = compile_text(text, name or stem)
    except CnnError as e:
        raise UserError(e.render(text, display)) from None
    for w in graph.warnings:
        tell(w.render(text, display, "warning"))
    return display, graph, text


def cmd_shapes(args) -> int:
    from .analysis import analyse
    from .report import FORMATS, table

    _, graph, _ = load(args.file, args.name)
    stats = analyse(graph)
    say(table(stats, _glyphs()) if args.format == "table" else FORMATS[args.format](stats))
    return EXIT_OK


def _glyphs():
    """The table's tree lines in box-drawing characters, or in ASCII on a terminal whose
    encoding lacks them (a Latin-1 or ASCII locale), where escapes would break the columns."""
    from .outline import ASCII, UNICODE

    try:
        (UNICODE.tee + UNICODE.last + UNICODE.pipe + UNICODE.ellipsis).encode(
            getattr(sys.stdout, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return ASCII
    return UNICODE


def cmd_check(args) -> int:
    _, graph, _ = load(args.file)
    params = sum(sum(n.layer.params(n.in_shapes)) for n in graph.nodes)
    say(f"ok: {len(graph):,} layers, {params:,} params")
    return EXIT_OK


def cmd_run(args) -> int:
    from . import files, runner, runner_many
    from .network import Network

    display, graph, text = load(args.file)
    layers = Path(args.layers) if args.layers else None
    # Several inputs or outputs: an .npz in, an .npz out, one array per name.
    run = runner.run if graph.single else runner_many.run_many
    try:
        shape = run(Network(graph, text), Path(args.input), Path(args.output),
                    weights=Path(args.weights) if args.weights else None,
                    seed=args.seed, batch_size=args.batch_size, dtype=args.dtype,
                    layers=layers, progress=None if args.quiet else sys.stderr,
                    spec=None if args.file == "-" else Path(args.file))
    except files.FileError as e:
        raise UserError(e.render()) from None
    except CnnError as e:  # a layer kind the NumPy backend cannot run
        raise UserError(e.render(text, display)) from None
    also = f", every layer -> {shown(layers)}" if layers else ""
    say(f"ok: {shown(args.output)} {shape} {args.dtype}{also}")
    return EXIT_OK


def cmd_compile(args) -> int:
    from . import compile as keras_compile
    from .files import FileError

    display, graph, text = load(args.file, args.name)
    try:
        output, summary = keras_compile.command(graph, args.file, args.output, args.emit,
                                                args.weights, args.seed, args.opset)
    except FileError as e:
        raise UserError(e.render()) from None
    except CnnError as e:  # a layer Keras cannot build, located in the spec
        raise UserError(e.render(text, display)) from None
    if output is not None:  # with `-o -`, standard output carries the output alone
        say(f"ok: {shown(output)} ({summary})")
    return EXIT_OK


def cmd_weights(args) -> int:
    from . import compile as keras_compile
    from .files import FileError

    model = Path(args.file)
    output = Path(args.output) if args.output is not None else model.with_suffix(".npz")
    try:
        weights = keras_compile.export_weights(model, output)
    except FileError as e:
        raise UserError(e.render()) from None
    arrays, values = keras_compile.array_count(weights)
    say(f"ok: {shown(output)} ({arrays} arrays, {values:,} values)")
    return EXIT_OK


COMMANDS = {"shapes": cmd_shapes, "check": cmd_check, "run": cmd_run, "compile": cmd_compile,
            "weights": cmd_weights, "import": import_.run, "draw": draw.run,
            "maps": maps.run, "train": train.run, "evaluate": evaluate.run}


def say(text: str) -> None:
    """Print a command's result to standard output, flushed at once, so that a failure
    to write is reported here (exit 1) and not at exit, where Python would print
    `Exception ignored` and exit 120."""
    if sys.stdout is None:  # started with standard output closed
        raise StdoutError("standard output is closed")
    try:
        print(text, flush=True)
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as e:  # ValueError: the stream was closed
        _silence_stdout()
        raise StdoutError(getattr(e, "strerror", None) or str(e)) from None


def tell(text: str) -> None:
    """Print to standard error; if it cannot be written, the exit status still tells."""
    if sys.stderr is None:
        return
    try:
        print(text, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def _silence_stdout() -> None:
    """Point standard output at the null device, so that the flush at exit of what could
    not be written succeeds instead of failing again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real file behind it (tests)
        pass


def _never_fail_to_print() -> None:
    """A terminal whose locale cannot encode `…` or a non-ASCII name (LANG=C on an old
    Python, a Latin-1 locale, PYTHONIOENCODING=ascii) gets escapes, not a crash."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


def entry() -> None:
    """The `cnndsl` program (and `python -m cnndsl`): `main`, then exit with its status.

    The process exits at once, without Python's shutdown: everything is written, flushed
    and renamed into place by then, and a signal arriving during the shutdown would meet
    the default handlers again (Python restores them) and change the exit status."""
    status = main(ending_process=True)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()
    os._exit(status)


def main(argv: list[str] | None = None, *, ending_process: bool = False) -> int:
    """Run the command `argv` (default: the program's arguments); its exit status.
    `ending_process`: the process exits next, so a late signal may end it at once."""
    _never_fail_to_print()
    from . import signals

    # SIGINT, SIGTERM and SIGHUP are recorded and raised once, so staged files are removed
    # and a second signal cannot interrupt the cleanup; whatever the command made of the
    # signal (a library may swallow it), the exit status is 128+signum (signals.py).
    with signals.handled(ending_process):
        parsed: list[argparse.Namespace] = []
        try:
            status = _command(argv, parsed)
            signum = signals.consume()  # from here on, signals are ignored
        except KeyboardInterrupt as e:
            status, signum = EXIT_ERROR, signals.consume() or getattr(e, "signum", 2)
        if signum is not None:
            status = _interrupted(parsed[0] if parsed else None, signum)
        return signals.finish(status)


def _interrupted(args: argparse.Namespace | None, signum: int) -> int:
    """Say what an interrupt left behind; the exit status for `signum`."""
    from .signals import published

    target = getattr(args, "output", None)
    written = {os.path.realpath(p) for p in published()}
    if target is None or target == "-":  # nothing to say of standard output
        note = ""
    elif os.path.realpath(target) in written:
        note = f" after {shown(target)} was written"
    else:
        note = f"; {shown(target)} was not written"
    tell(f"cnndsl{' ' + args.command if args else ''}: interrupted{note}")
    return 128 + signum


# Out of memory: what holds it, in the command's own terms (`--batch-size` only where it is
# an option: issue 19's `compile` was told to use it).
MEMORY_HINTS = {"maps": "`maps` holds every layer's output for the one example: a smaller "
                "input or network, or free some memory",
                "compile": "the weights are held several times while the model is built and "
                "written: make the network smaller (`cnndsl shapes` lists each layer's "
                "weights), or free some memory"}


def _memory_hint(args: argparse.Namespace) -> str:
    """The hint under `out of memory` for this command."""
    batch = getattr(args, "batch_size", None) is not None
    return (MEMORY_HINTS.get(args.command) or ("a smaller --batch-size, or a smaller network"
            if batch else "a smaller network, or free some memory")) + "; see docs/reliability.md"


def _command(argv: list[str] | None, parsed: list[argparse.Namespace]) -> int:
    """Parse the arguments (appended to `parsed`) and run the command; its exit status."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as e:  # argparse: --help (0) or a usage error (2)
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    parsed.append(args)
    try:
        try:
            return COMMANDS[args.command](args)
        except Exception:
            from .signals import check

            check()  # an error after a signal is a library's answer to it: the signal rules
            raise
    except UserError as e:
        tell(str(e))
        return EXIT_ERROR
    except BrokenPipeError:  # `cnndsl shapes net.cnn | head`: the reader wanted no more
        _silence_stdout()
        return EXIT_OK
    except StdoutError as e:
        _silence_stdout()  # what is left in the buffer would fail again at exit
        tell(f"cnndsl {args.command}: error: cannot write to standard output: {shown(e)}\n"
             "hint: is the disk full, or standard output closed?")
        return EXIT_ERROR
    except MemoryError:
        tell(f"{shown(args.file)}: error: out of memory\nhint: {_memory_hint(args)}")
        return EXIT_ERROR
    except RecursionError:
        tell(f"{shown(args.file)}: error: the network is nested too deeply to process\n"
             "hint: merges, repeats and blocks nest at most 200 deep")
        return EXIT_ERROR
    except Exception as e:  # noqa: BLE001 - even a bug must not show a traceback
        tell(f"cnndsl: internal error: {type(e).__name__}: {shown(e, limit=1000)}\n"
             "this is a bug in cnndsl; please report it with the input file")
        return EXIT_INTERNAL

"""The `cnndsl` command: `shapes`, `check`, `run`, `compile`, `weights`, `import`,
`draw`, `maps`, `train`, `evaluate`, `fmt` and `lsp`.

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

from .commands import (
    check,
    compile,
    draw,
    evaluate,
    fmt,
    import_,
    lsp,
    maps,
    run,
    shapes,
    train,
    weights,
)
from .commands.common import EXIT_ERROR, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, UserError
from .errors import shown
from .support.console import say, silence_stdout, tell
from .support.files import StdoutError

# The commands in the order `cnndsl --help` lists them; each module declares its
# arguments (`add_parser`) and does its work (`run`).
COMMANDS = {"shapes": shapes, "check": check, "run": run, "compile": compile,
            "weights": weights, "import": import_, "draw": draw, "maps": maps,
            "train": train, "evaluate": evaluate, "fmt": fmt, "lsp": lsp}


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

    for command in COMMANDS.values():
        command.add_parser(sub)
    return parser


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
    from .support import signals

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
    from .support.signals import published

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
            return COMMANDS[args.command].run(args)
        except Exception:
            from .support.signals import check

            check()  # an error after a signal is a library's answer to it: the signal rules
            raise
    except UserError as e:
        tell(str(e))
        return EXIT_ERROR
    except BrokenPipeError:  # `cnndsl shapes net.cnn | head`: the reader wanted no more
        silence_stdout()
        return EXIT_OK
    except StdoutError as e:
        silence_stdout()  # what is left in the buffer would fail again at exit
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

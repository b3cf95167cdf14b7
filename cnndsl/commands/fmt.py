"""`cnndsl fmt FILE|DIR... [--check] [--diff]`: lay `.cnn` files out the one canonical way.

Like gofmt and Black: files are rewritten in place (whole or not at all, their mode kept),
`-` formats standard input to standard output, a directory means every `.cnn` file under
it. `--check` changes nothing and exits 1 if a file would change (for CI and pre-commit),
`--diff` prints what would change. A file with an error is left as it is, its error
printed as `cnndsl check` prints it; the other files are still formatted.
"""

from __future__ import annotations

import difflib
import os
from collections import Counter
from pathlib import Path

from ..errors import CnnError, as_text, shown
from ..support import files
from ..support.console import say, tell
from .common import EXIT_ERROR, EXIT_OK, UserError, path, read_source

SUFFIX = ".cnn"


def add_parser(sub) -> None:
    """The `fmt` subcommand's arguments."""
    fmt = sub.add_parser("fmt", help="lay .cnn files out the one canonical way (in place)")
    fmt.add_argument("files", nargs="+", type=path, metavar="FILE",
                     help=".cnn files, directories (every .cnn file under them), or '-': "
                     "standard input formatted to standard output")
    fmt.add_argument("--check", action="store_true",
                     help="change nothing; list the files that would change and exit 1 if any")
    fmt.add_argument("--diff", action="store_true",
                     help="change nothing; print a unified diff of what would change")


def run(args) -> int:
    """Format each file; 1 if any has an error, or with --check if any would change."""
    targets = _targets(args.files)
    outcomes = Counter(_format_one(target, args) for target in targets)
    if targets != ["-"]:
        tell(_summary(outcomes["changed"], outcomes["unchanged"], outcomes["failed"],
                      args.check or args.diff))
    failed = outcomes["failed"] or (args.check and outcomes["changed"])
    return EXIT_ERROR if failed else EXIT_OK


def _format_one(target: str, args) -> str:
    """Format one file (`-`: standard input) as the options say: "changed", "unchanged",
    or "failed" (its error said)."""
    try:
        display, text = read_source(target)
        name = "model" if target == "-" else as_text(Path(target).stem)
        formatted = _format(text, display, name)
        outcome = "unchanged" if formatted == text else "changed"
        if args.diff:
            _print_diff(text, formatted, display)
        if args.check:
            if outcome == "changed":
                tell(f"would reformat {shown(display)}")
        elif args.diff:
            pass
        elif target == "-":  # standard input always comes back, changed or not
            files.to_stdout(formatted.encode("utf-8"))
        elif outcome == "changed":
            _rewrite(Path(target), formatted)
            tell(f"reformatted {shown(display)}")
        return outcome
    except UserError as e:
        tell(str(e))
        return "failed"


def _format(text: str, display: str, name: str) -> str:
    from ..formatting import format_text

    try:
        return format_text(text, name)
    except CnnError as e:
        raise UserError(e.render(text, display)) from None


def _targets(arguments: list[str]) -> list[str]:
    """The files to format: each argument, or the `.cnn` files under a directory (sorted,
    hidden folders skipped); a directory without any is an error."""
    out: list[str] = []
    for argument in arguments:
        if argument == "-" or not os.path.isdir(argument):
            out.append(argument)
            continue
        found = sorted(str(p) for p in Path(argument).rglob(f"*{SUFFIX}")
                       if p.is_file() and not any(part.startswith(".")
                                                  for part in p.relative_to(argument).parts))
        if not found:
            raise UserError(f"{shown(argument)}: error: no {SUFFIX} files in this directory\n"
                            "hint: give .cnn files or a folder that holds some")
        out += found
    if out.count("-") > 1:
        raise UserError("cnndsl fmt: error: `-` (standard input) is given twice\n"
                        "hint: standard input can be read once")
    return out


def _rewrite(target: Path, text: str) -> None:
    """`text` over `target`, all or nothing (a temporary file renamed), its mode kept."""
    mode = target.stat().st_mode & 0o7777
    try:
        with files.writing(target), files.staged(target, mode=mode) as tmp:
            tmp.write_text(text, encoding="utf-8")
    except files.FileError as e:
        raise UserError(e.render()) from None


def _print_diff(old: str, new: str, display: str) -> None:
    diff = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                f"{display}\t(original)", f"{display}\t(formatted)")
    text = "".join(diff)
    if text:
        say(text.rstrip("\n"))


def _summary(changed: int, unchanged: int, failed: int, dry: bool) -> str:
    def files_(n: int) -> str:
        return f"{n} file{'s' if n != 1 else ''}"

    parts = []
    if changed:
        parts.append(f"{files_(changed)} {'would be ' if dry else ''}reformatted")
    if unchanged or not parts:
        parts.append(f"{files_(unchanged)} {'would be ' if dry else ''}left unchanged")
    if failed:
        parts.append(f"{files_(failed)} with errors left as they were")
    return ", ".join(parts)

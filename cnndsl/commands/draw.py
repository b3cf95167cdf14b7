"""`cnndsl draw NET.cnn [-o NET.svg]`: a diagram of the network, without any framework.

    cnndsl draw examples/resnet50.cnn --collapse -o resnet50.svg
    cnndsl draw examples/seed.cnn --style volumes -o seed.svg
    cnndsl draw examples/unet.cnn --format mermaid -o -
    cnndsl draw examples/lenet5.cnn --style volumes -o lenet5.png   # needs cnndsl[render]

The format comes from --format, else from the output's suffix (.svg, .dot/.gv,
.mmd/.mermaid, .png, .pdf); the file is written only when complete (cnndsl/support/files.py).
PNG and PDF are the SVG rendered by a library (cnndsl/views/drawing/render.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import shown
from ..support import files, paths
from ..support.files import FileError
from .common import EXIT_OK, UserError, load, path, user_errors

SUFFIXES = {".svg": "svg", ".dot": "dot", ".gv": "dot", ".mmd": "mermaid",
            ".mermaid": "mermaid", ".png": "png", ".pdf": "pdf"}
EXTENSION = {"svg": ".svg", "dot": ".dot", "mermaid": ".mmd", "png": ".png", "pdf": ".pdf"}
RENDERED = ("png", "pdf")  # the SVG, rendered

DESCRIPTION = (
    "Draw the network: every layer a box with the step as written, its name, output shape "
    "and parameters; branches side by side, merged where the merge is. SVG is drawn by "
    "cnndsl itself (no Graphviz, no framework); dot and Mermaid describe the same graph "
    "for Graphviz or a Markdown page to lay out. --style volumes draws each tensor as a "
    "3-D box, as in the LeNet and AlexNet papers (SVG, PNG, PDF). PNG and PDF are the SVG "
    "rendered by resvg and CairoSVG: pip install 'cnndsl[render]'.")


def add_parser(sub) -> None:
    """The `draw` subcommand's arguments."""
    parser = sub.add_parser("draw", help="a diagram of the network (SVG, dot, Mermaid, "
                            "PNG or PDF)",
                            description=DESCRIPTION)
    parser.add_argument("file", type=path, help="a .cnn file ('-' for standard input)")
    parser.add_argument("-o", "--output", type=path, metavar="OUT",
                        help="where to write, '-' for standard output (default: beside "
                        "FILE, with the format's suffix; standard output for '-')")
    parser.add_argument("--format", choices=tuple(EXTENSION),
                        help="output format (default: from OUT's suffix, else svg)")
    parser.add_argument("--scale", type=float, metavar="S",
                        help="PNG and PDF: S times the SVG's size (default: 2 for PNG, "
                        "1 for PDF)")
    parser.add_argument("--style", choices=("boxes", "volumes"), default="boxes",
                        help="boxes and edges, or the tensors as 3-D volumes "
                        "(default: boxes)")
    parser.add_argument("--collapse", action="store_true",
                        help="one box per use of a `def` block or `( ... ) * N`")
    parser.add_argument("--name", help="the title (default: the file's stem)")


def output_format(output: str | None, given: str | None) -> str:
    """The format asked for, or the one the output's suffix names."""
    if given is not None:
        return given
    if output is None or output == "-":
        return "svg"
    suffix = Path(output).suffix.lower()
    if suffix not in SUFFIXES:
        raise FileError(output, f"cannot tell the format from the suffix `{shown(suffix)}`",
                        "name it .svg, .dot, .mmd, .png or .pdf, or give "
                        "--format svg|dot|mermaid|png|pdf")
    return SUFFIXES[suffix]


def run(args: argparse.Namespace) -> int:
    """The command: load, draw, write atomically (or to standard output)."""
    from ..support.console import say
    from ..views.drawing import draw

    with user_errors():
        fmt = output_format(args.output, args.format)
        if args.style == "volumes" and fmt not in ("svg", *RENDERED):
            raise FileError(args.output or args.file, "the volumes style is a picture: "
                            "SVG, PNG or PDF", "drop --style volumes, or write .svg, .png "
                            "or .pdf")
        check_scale(args, fmt)
        output = args.output
        if output is None:
            output = "-" if args.file == "-" else str(Path(args.file).with_suffix(
                EXTENSION[fmt]))
        paths.check({"the spec": args.file}, {"-o": output})
    graph = load(args.file, args.name).graph
    text = draw(graph, "svg" if fmt in RENDERED else fmt, args.style, args.collapse)
    data = rendered(text, fmt, args, output) if fmt in RENDERED else text.encode("utf-8")
    if output == "-":
        files.to_stdout(data)
        return EXIT_OK
    try:
        with files.staged(output) as tmp:
            tmp.write_bytes(data)
    except OSError as e:
        raise UserError(FileError(output, f"cannot write the file: "
                                  f"{shown(e.strerror or e)}", "check the directory exists "
                                  "and is writable").render()) from None
    say(f"ok: {shown(output)} ({len(graph):,} layers, {fmt}"
        f"{', ' + args.style if args.style != 'boxes' else ''}"
        f"{', collapsed' if args.collapse else ''})")
    return EXIT_OK


def check_scale(args: argparse.Namespace, fmt: str) -> None:
    """--scale: for PNG and PDF, above 0 and at most MAX_SCALE; and the renderer is
    there, said before the spec is read."""
    from ..views.drawing.render import MAX_SCALE, RenderError, require

    if args.scale is not None and fmt not in RENDERED:
        raise FileError(args.output or args.file, "--scale applies to PNG and PDF output",
                        "drop --scale, or write .png or .pdf")
    if args.scale is not None and not 0 < args.scale <= MAX_SCALE:
        raise FileError("cnndsl draw", f"--scale must be above 0 and at most {MAX_SCALE:g}, "
                        f"got {args.scale:g}", "e.g. --scale 2 for a PNG twice the SVG's size")
    if fmt in RENDERED:
        try:
            require(fmt)
        except RenderError as e:
            raise FileError(args.output or args.file, e.message, e.hint) from None


def rendered(svg: str, fmt: str, args: argparse.Namespace, output: str) -> bytes:
    """The SVG as PNG or PDF bytes, or the user's error saying why not."""
    from ..views.drawing.render import RenderError, render

    try:
        return render(svg, fmt, args.scale)
    except RenderError as e:
        raise UserError(FileError(output, e.message, e.hint).render()) from None

"""`cnndsl lsp`: the language server, for editors, over standard input and output.

    cnndsl lsp        # started by the editor, which speaks LSP on its stdin and stdout

Errors and warnings as `cnndsl check` gives them, hover with each step's shape and
costs, go to definition, references, completion, formatting, an outline and shapes as
inlay hints (`cnndsl.lsp`). Needs pygls: pip install 'cnndsl[lsp]'; without it the
command says so and exits with status 1.
"""

from __future__ import annotations

import argparse

from ..errors import MissingExtra
from ..support.files import FileError
from .common import EXIT_OK, UserError

DESCRIPTION = (
    "Run the language server for .cnn files, speaking the Language Server Protocol on "
    "standard input and output, as an editor starts it: errors and warnings as you type, "
    "hover with each step's shape, parameters and costs, go to definition and references "
    "for blocks and @names, completion, formatting, an outline and shapes as inlay hints "
    "(setting cnndsl.inlayHints.shapes). Needs pygls: pip install 'cnndsl[lsp]'.")


def add_parser(sub) -> None:
    """The `lsp` subcommand's arguments."""
    parser = sub.add_parser("lsp", help="the language server, for editors (stdio)",
                            description=DESCRIPTION)
    # Editors' LSP clients (vscode-languageclient) pass the transport they expect.
    parser.add_argument("--stdio", action="store_true",
                        help="talk over standard input and output (the default, and only, "
                        "transport)")


def run(args: argparse.Namespace) -> int:
    """Serve until the editor says `exit`."""
    from .. import __version__
    from ..lsp.server import serve

    try:
        serve(__version__)
    except MissingExtra as e:
        raise UserError(FileError("cnndsl lsp", e.args[0], e.hint).render()) from None
    return EXIT_OK

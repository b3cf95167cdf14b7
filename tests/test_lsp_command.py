"""`cnndsl lsp` without its extra: the package imports, the command says what to install.

Runs everywhere, pygls installed or not: a child Python is told pygls and lsprotocol are
missing (None in sys.modules makes their import fail), imports every module of
`cnndsl.lsp`, as the doctest collection does, and runs the command.
"""

from __future__ import annotations

import subprocess
import sys

WITHOUT_EXTRA = """
import pkgutil, sys
for name in ("pygls", "lsprotocol"):
    sys.modules[name] = None
import cnndsl.lsp
for module in pkgutil.iter_modules(cnndsl.lsp.__path__):
    __import__(f"cnndsl.lsp.{module.name}")
from cnndsl.cli import main
sys.exit(main(["lsp"]))
"""


def test_without_pygls_the_command_names_the_extra():
    done = subprocess.run([sys.executable, "-c", WITHOUT_EXTRA], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert done.stderr == ("cnndsl lsp: error: `cnndsl lsp` needs pygls and lsprotocol, which "
                           "are not installed\nhint: pip install 'cnndsl[lsp]'\n")
    assert done.stdout == ""

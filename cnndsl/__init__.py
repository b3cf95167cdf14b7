"""cnndsl: write a convolutional network the way it is drawn on a whiteboard.

    input 6x6x1 -> conv 3x3/1 x2 -> maxpool 2 -> flatten -> dense 10

`cnndsl.parse(text)` / `cnndsl.load(path)` give a `Network` to inspect and run;
`compile_text` / `compile_file` give the typed `Graph` itself, and `analyse` its
parameters, MACs, FLOPs and receptive fields.
"""

from typing import TYPE_CHECKING

from .errors import CnnError

if TYPE_CHECKING:
    from .graph.analysis import analyse
    from .language.frontend import compile_file, compile_text
    from .network import Network, load, parse

__version__ = "0.1.0"
__all__ = ["CnnError", "Network", "analyse", "compile_file", "compile_text", "load", "parse",
           "__version__"]

# Where each name lives. They load on first use, so that the command-line tool starts (and
# takes over Ctrl-C and SIGTERM) in milliseconds, and `shapes` and `check` never import
# NumPy.
_LAZY = {"analyse": "graph.analysis", "compile_file": "language.frontend",
         "compile_text": "language.frontend",
         "Network": "network", "load": "network", "parse": "network"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'cnndsl' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names too, though they load lazily: `dir(cnndsl)` and completion in a
    notebook list `Network`, `parse`, `load`, ... before any is used."""
    return sorted(set(globals()) | set(__all__))

"""cnndsl: write a convolutional network the way it is drawn on a whiteboard.

    input 6x6x1 -> conv 3x3/1 x2 -> maxpool 2 -> flatten -> dense 10

`cnndsl.parse(text)` / `cnndsl.load(path)` give a `Network` to inspect and run;
`compile_text` / `compile_file` give the typed `Graph` itself, and `analyse` its
parameters, MACs, FLOPs and receptive fields.
"""

from .analysis import analyse
from .compiler import compile_file, compile_text
from .errors import CnnError

__version__ = "0.1.0"
__all__ = ["CnnError", "Network", "analyse", "compile_file", "compile_text", "load", "parse",
           "__version__"]


def __getattr__(name: str):
    """`Network`, `load` and `parse` import NumPy, so they load on first use: the
    `shapes` and `check` commands never need it."""
    if name in ("Network", "load", "parse"):
        from . import network

        return getattr(network, name)
    raise AttributeError(f"module 'cnndsl' has no attribute {name!r}")

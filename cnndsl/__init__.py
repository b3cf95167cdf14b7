"""cnndsl: write a convolutional network the way it is drawn on a whiteboard.

    input 6x6x1 -> conv 3x3/1 x2 -> maxpool 2 -> flatten -> dense 10

`compile_text` / `compile_file` turn such text into a typed `Graph`; `analyse` gives its
parameters, MACs, FLOPs and receptive fields.
"""

from .analysis import analyse
from .compiler import compile_file, compile_text
from .errors import CnnError

__version__ = "0.1.0"
__all__ = ["CnnError", "analyse", "compile_file", "compile_text", "__version__"]

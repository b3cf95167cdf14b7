"""The Python API: a network you can inspect, initialise and run.

    >>> import cnndsl, numpy as np
    >>> net = cnndsl.parse("input 6x6x1 -> conv 3x3/1 x2 -> maxpool 2 -> flatten -> dense 10")
    >>> net.output_shape, net.params
    ((10,), 110)
    >>> net.run(np.zeros((6, 6, 1), np.float32)).shape
    (10,)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .analysis import Stats, analyse
from .compiler import compile_text, decode
from .errors import CnnError, as_text
from .ir import Graph
from .shapes import Shape, format_shape
from .weights import Weights, init_weights, load_npz


class Network:
    """A compiled `.cnn` network: its typed graph, and ways to run it with NumPy."""

    def __init__(self, graph: Graph, source: str = "") -> None:
        self.graph, self.source = graph, source
        self._weights: Weights | None = None
        self._interpreters: dict[tuple, object] = {}

    @property
    def name(self) -> str:
        return self.graph.name

    @property
    def input_shape(self) -> Shape:
        return self.graph.input.shape

    @property
    def output_shape(self) -> Shape:
        return self.graph.output.shape

    @property
    def params(self) -> int:
        return self.stats().params

    def stats(self) -> Stats:
        """Per-layer shapes, parameters, MACs, FLOPs and receptive fields."""
        return analyse(self.graph)

    # -- showing it: a line, the report's table, a notebook's HTML, feature-map pictures --
    def __repr__(self) -> str:
        g = self.graph

        def shapes(nodes) -> str:
            return ", ".join(format_shape(n.shape) for n in nodes)
        params = sum(sum(n.layer.params(n.in_shapes)) for n in g.nodes)
        return (f"<Network {g.name!r}: {shapes(g.input_nodes)} -> {shapes(g.output_nodes)}, "
                f"{len(g):,} layers, {params:,} params>")

    def summary(self, file=None) -> None:
        """Print the report table of `cnndsl shapes` (to standard output unless `file`)."""
        from .report import table

        print(table(self.stats()), file=file)

    def _repr_html_(self) -> str:
        """What a Jupyter cell showing the network displays: the report's table beside the
        diagram. Notebooks show only the richest of a value's forms, and HTML ranks above
        SVG, so the diagram is placed inside the HTML rather than left to `_repr_svg_`."""
        from .report_html import to_html

        svg = self._repr_svg_()
        svg = svg[svg.index("<svg"):]  # no XML declaration inside an HTML page
        # flex:none: a notebook's narrow output column must not squash the diagram
        # (its text would no longer fit its boxes); it scrolls instead.
        return (f'<div style="display:flex;gap:24px;align-items:flex-start;overflow-x:auto">'
                f"<div>{to_html(self.stats())}</div>"
                f'<div class="cnndsl-diagram" style="flex:none">{svg}</div></div>')

    def maps(self, x, layers: list[str] | None = None, channels: int | None = None):
        """Each layer's output channels for the one example `x`, as a picture (`Maps`:
        shown inline by Jupyter, `.save(path)`, `.figure`). Needs `cnndsl[plot]`."""
        from .pictures import MAX_CHANNELS
        from .pictures.maps import picture

        return picture(self, x, layers, channels or MAX_CHANNELS)

    def draw(self, format: str = "svg", style: str = "boxes", collapse: bool = False) -> str:
        """The network drawn as SVG (or `format="dot"`, `"mermaid"`), as `cnndsl draw`."""
        from .drawing import draw

        return draw(self.graph, format, style, collapse)

    def _repr_svg_(self) -> str:
        """Jupyter shows a network as its diagram, collapsed past 60 layers."""
        return self.draw(collapse=len(self.graph) > 60)

    def init_weights(self, seed: int = 0, dtype=np.float32) -> Weights:
        """Keras-like initial weights from `seed`; they become this network's weights."""
        self.set_weights(init_weights(self.graph, seed, dtype))
        assert self._weights is not None
        return self._weights

    def set_weights(self, weights: Mapping[str, np.ndarray] | str | Path) -> None:
        """Use these weights (a mapping, or the path of an `.npz` file) from now on."""
        if isinstance(weights, (str, Path)):
            weights = load_npz(weights)
        from .weights import check_weights

        check_weights(self.graph, weights)
        self._weights = dict(weights)
        self._interpreters.clear()

    @property
    def weights(self) -> Weights:
        if self._weights is None:
            self.init_weights()
        assert self._weights is not None
        return self._weights

    def interpreter(self, dtype=np.float32, keep: bool = False):
        """The NumPy interpreter for the current weights (made once, then reused)."""
        from .backends.numpy import Interpreter

        key = (np.dtype(dtype).str, keep)
        if key not in self._interpreters:
            self._interpreters[key] = Interpreter(self.graph, self.weights, dtype, keep=keep)
        return self._interpreters[key]

    def run(self, x, weights: Mapping[str, np.ndarray] | None = None, dtype=np.float32):
        """The output for `x`: a batch (N, *input_shape), or one example without the batch
        axis, answered the same way. Uses `weights` if given, else this network's.

        A network of several inputs or outputs takes a mapping from each input's name to
        its array (or a list in the order written) and gives a dict by output name, the
        names the spec gives (`output @label, @box`), as `cnndsl run` writes them."""
        if weights is not None:
            self.set_weights(weights)
        xs, single = self._inputs(x)
        outs = self.interpreter(dtype).run_many(xs)
        outs = [o[0] if single else o for o in outs]
        if self.graph.single:
            return outs[0]
        return dict(zip(self.graph.output_names, outs))

    def run_layers(self, x, dtype=np.float32) -> dict[str, np.ndarray]:
        """Every layer's output by name (feature maps), for a batch or a single example;
        `x` as for `run`."""
        xs, single = self._inputs(x)
        outputs = self.interpreter(dtype, keep=True).run_all(xs)
        return {k: (v[0] if single else v) for k, v in outputs.items()}

    def _inputs(self, x) -> tuple[list[np.ndarray], bool]:
        """`x` as one batch per input, in the order written, and whether it was single
        examples without the batch axis (given one added)."""
        nodes = self.graph.input_nodes
        if self.graph.single:
            xs = [np.asarray(x)]
        elif isinstance(x, Mapping):
            xs = [np.asarray(x[name] if name in x else x[n.name])
                  for name, n in zip(self.graph.input_names, nodes)]
        else:
            xs = [np.asarray(a) for a in x]
        single = len(xs) == len(nodes) and all(a.shape == n.shape for a, n in zip(xs, nodes))
        return ([a[None] for a in xs] if single else xs), single


def parse(text: str, name: str = "model") -> Network:
    """A network from `.cnn` source text; raises `CnnError` for any problem in it, whose
    `str` shows the line, a caret and the hint."""
    try:
        return Network(compile_text(text, name), text)
    except CnnError as e:
        # `from None`: the error carries all there is to say; a notebook shows it alone,
        # not after the traceback of the compiler's internals.
        raise e.located(text, "<string>") from None


def load(path: str | Path, name: str | None = None) -> Network:
    """A network from a `.cnn` file; its name is the file's stem unless given. Raises
    `CnnError` for any problem in the text (see `parse`), `OSError` for the file."""
    path = Path(path)
    data = path.read_bytes()
    text = data.decode("utf-8", errors="replace")  # to show where undecodable text is
    try:
        text = decode(data)
        return Network(compile_text(text, name or as_text(path.stem)), text)
    except CnnError as e:
        raise e.located(text, str(path)) from None

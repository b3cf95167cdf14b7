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

from .backends.weights import Weights, init_weights, load_npz
from .errors import CnnError, as_text
from .graph.analysis import Stats, analyse
from .graph.ir import Graph
from .language.frontend import compile_text, decode
from .layers.shapes import Shape, format_shape


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
        params = g.params
        return (f"<Network {g.name!r}: {shapes(g.input_nodes)} -> {shapes(g.output_nodes)}, "
                f"{len(g):,} layers, {params:,} params>")

    def summary(self, file=None) -> None:
        """Print the report table of `cnndsl shapes` (to standard output unless `file`)."""
        from .views.report import table

        print(table(self.stats()), file=file)

    def _repr_html_(self) -> str:
        """What a Jupyter cell showing the network displays: the report's table beside the
        diagram. Notebooks show only the richest of a value's forms, and HTML ranks above
        SVG, so the diagram is placed inside the HTML rather than left to `_repr_svg_`.
        Both are capped for a big network (cnndsl/views/notebook.py); the totals are whole."""
        from .views.notebook import html

        return html(self.graph)

    def maps(self, x, layers: list[str] | None = None, channels: int | None = None):
        """Each layer's output channels for the one example `x`, as a picture (`Maps`:
        shown inline by Jupyter, `.save(path)`, `.figure`). Needs `cnndsl[plot]`."""
        from .views.pictures import MAX_CHANNELS
        from .views.pictures.maps import picture

        return picture(self, x, layers, channels or MAX_CHANNELS)

    def draw(self, format: str = "svg", style: str = "boxes", collapse: bool = False) -> str:
        """The network drawn as SVG (or `format="dot"`, `"mermaid"`), as `cnndsl draw`."""
        from .views.drawing import draw

        return draw(self.graph, format, style, collapse)

    def _repr_svg_(self) -> str:
        """Jupyter shows a network as its diagram, collapsed past 60 layers, and past 300
        boxes the rest drawn as one (`draw()` draws everything)."""
        from .views.notebook import svg

        return svg(self.graph)

    # -- other frameworks: the same builders as `cnndsl compile` ---------------------------
    def to_keras(self, weights: Mapping[str, np.ndarray] | str | Path | None = None,
                 seed: int | None = None):
        """The network as a `keras.Model`, built as `cnndsl compile` builds the `.keras`
        file it writes (the same code): with `weights` (a mapping, or the path of an
        `.npz` or `.keras` file, as `--weights`), or Keras-like initial weights drawn from
        `seed` (those `init_weights(seed)` gives), or, given neither, this network's own
        weights (`net.weights`: those set or trained last, else seed 0's). Imports
        TensorFlow (seconds); without it, `MissingExtra` (an `ImportError`) says
        `pip install 'cnndsl[keras]'`. A weights file or mapping that does not fit the
        network raises `FileError`, naming every missing or mis-shaped variable.

            >>> import cnndsl, numpy as np
            >>> net = cnndsl.parse("input 4 -> dense 3 relu")
            >>> model = net.to_keras(seed=1)  # doctest: +SKIP
            >>> y = model.predict(np.ones((2, 4)), verbose=0)  # doctest: +SKIP
            >>> _ = net.init_weights(1)  # the same weights, for NumPy
            >>> bool(np.allclose(y, net.run(np.ones((2, 4))), atol=1e-6))  # doctest: +SKIP
            True
            >>> model = net.to_keras(weights="trained.npz")  # doctest: +SKIP
        """
        from .backends.keras.model import keras_model

        return keras_model(self.graph, *self._export_weights(weights, seed))

    def to_onnx(self, path: str | Path | None = None, opset: int | None = None,
                weights: Mapping[str, np.ndarray] | str | Path | None = None,
                seed: int | None = None):
        """The network as an `onnx.ModelProto`, built as `cnndsl compile -o NET.onnx`
        builds it (the same code), and written to `path` (atomically, as the command
        writes it) unless `path` is None. `opset` defaults to 17; `weights` and `seed` as
        for `to_keras`. Needs only the `onnx` package, never TensorFlow (unless the
        weights come from a `.keras` file); without it, `MissingExtra` (an
        `ImportError`) says `pip install 'cnndsl[onnx]'`.

            >>> import cnndsl
            >>> net = cnndsl.parse("input 8x8x3 -> conv 3 x4 -> gap -> dense 2")
            >>> model = net.to_onnx("net.onnx", seed=1)  # doctest: +SKIP
            >>> [o.name for o in model.graph.output]  # named as in the spec  # doctest: +SKIP
            ['dense_1']
            >>> net.to_onnx(opset=18).opset_import[0].version  # no file  # doctest: +SKIP
            18
        """
        from .backends.onnx.export import onnx_model

        destination = None if path is None else Path(path)
        given, seed = self._export_weights(weights, seed)
        if destination is not None:  # as the command checks its -o
            from .support import paths

            paths.check({"the weights file": given if isinstance(given, Path) else None},
                        {"path": destination}, suffixes={"path": (".onnx",)})
        model, _ = onnx_model(self.graph, given, seed, opset)
        if destination is not None:
            from .backends.onnx import save_model

            save_model(model, destination)
        return model

    def _export_weights(self, weights, seed: int | None):
        """(weights, seed) for the export builders: what was given, else this network's
        own weights when no seed is asked for (a user who set or trained weights expects
        those in the exported model, not fresh ones)."""
        if weights is None and seed is None:
            return self.weights, 0
        if weights is not None and seed is not None:
            raise ValueError("give weights or seed, not both")
        return _given(weights), 0 if seed is None else seed

    def init_weights(self, seed: int = 0, dtype=np.float32) -> Weights:
        """Keras-like initial weights from `seed`; they become this network's weights."""
        self.set_weights(init_weights(self.graph, seed, dtype))
        assert self._weights is not None
        return self._weights

    def set_weights(self, weights: Mapping[str, np.ndarray] | str | Path) -> None:
        """Use these weights (a mapping, or the path of an `.npz` file) from now on."""
        if isinstance(weights, (str, Path)):
            weights = load_npz(weights)
        from .backends.weights import check_weights

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


def _given(weights: Mapping[str, np.ndarray] | str | Path | None):
    """Weights as the compile functions take them: a mapping, a `Path`, or None."""
    return Path(weights) if isinstance(weights, str) else weights


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

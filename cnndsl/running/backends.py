"""Which backend `cnndsl run --backend` computes with: the NumPy interpreter (the default,
and the one that keeps every layer's output or runs in float64), or an installed
framework on the same weights: onnxruntime (the ONNX model `compile -o NET.onnx`
writes), PyTorch (the module `--emit torch` writes) or Keras (TensorFlow). The same
inputs and outputs, channels last, whichever runs, so a user can pick the fastest.

Each is an object like the interpreter: `run(x)` for one input and output, `run_many(xs)`
for several, `graph`, and `keep` (False). A framework is imported only when chosen, and
a missing one is a `FileError` naming the extra that brings it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import MissingExtra
from ..graph.ir import Graph
from ..network import Network
from ..support.files import FileError

EXTRAS = {"onnxruntime": "onnx", "torch": "torch", "keras": "keras"}


def forward(network: Network, backend: str, dtype: np.dtype, keep: bool):
    """The object that runs `network`'s current weights with `backend`."""
    if backend == "numpy":
        return network.interpreter(dtype, keep=keep)
    if keep:
        raise FileError("cnndsl run", f"--layers keeps every layer's output in the NumPy "
                        f"interpreter, not with --backend {backend}",
                        "leave --backend out to keep the layers")
    if dtype != np.float32:
        raise FileError("cnndsl run", f"--dtype {dtype} runs in the NumPy interpreter; "
                        f"--backend {backend} computes in float32", "leave --dtype out")
    try:
        made = {"onnxruntime": OnnxRuntime, "torch": Torch, "keras": Keras}[backend]
        return made(network.graph, network.weights)
    except MissingExtra as e:
        raise FileError("cnndsl run", e.args[0], e.hint) from None
    except ImportError as e:
        raise FileError("cnndsl run", f"--backend {backend} needs {e.name or backend}, "
                        "which is not installed",
                        MissingExtra("", EXTRAS[backend]).hint) from None


class Framework:
    """A backend outside NumPy: one input and output through `run_many`."""

    keep = False

    def __init__(self, graph: Graph) -> None:
        self.graph = graph

    def run(self, x: np.ndarray) -> np.ndarray:
        return self.run_many([x])[0]

    def run_many(self, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
        raise NotImplementedError


class OnnxRuntime(Framework):
    """onnxruntime's CPU provider on the ONNX model cnndsl writes (channels last in and
    out, as the spec)."""

    def __init__(self, graph: Graph, weights) -> None:
        super().__init__(graph)
        import onnxruntime

        from ..backends.onnx import build_model

        model = build_model(graph, weights)
        self.session = onnxruntime.InferenceSession(model.SerializeToString(),
                                                    providers=["CPUExecutionProvider"])
        self.inputs = [n.name for n in graph.input_nodes]

    def run_many(self, xs):
        feed = {name: np.asarray(x, np.float32) for name, x in zip(self.inputs, xs)}
        return self.session.run(None, feed)


class Torch(Framework):
    """The PyTorch module, in eval mode under `torch.inference_mode`. Each batch is given
    as a view, channels first in shape but channels last in memory (PyTorch's
    `channels_last`, which its convolutions run fastest in on a CPU), so no copy is made
    either way; a network of images keeps its weights in that format too."""

    def __init__(self, graph: Graph, weights) -> None:
        super().__init__(graph)
        import torch

        from ..backends.torch.module import build_module

        self.torch, self.module = torch, build_module(graph, weights)
        if all(len(n.shape) == 3 for n in graph.input_nodes):
            self.module.to(memory_format=torch.channels_last)

    def run_many(self, xs):
        batch = [self.torch.from_numpy(np.asarray(x, np.float32)).movedim(-1, 1)
                 if np.ndim(x) > 2 else self.torch.from_numpy(np.asarray(x, np.float32))
                 for x in xs]
        with self.torch.inference_mode():
            out = self.module(*batch)
        return [(o.movedim(1, -1) if o.ndim > 2 else o).numpy()
                for o in (out if isinstance(out, tuple) else (out,))]


class Keras(Framework):
    """The Keras model `cnndsl compile` saves, called in inference mode."""

    def __init__(self, graph: Graph, weights) -> None:
        super().__init__(graph)
        from ..backends.keras.model import keras_model

        self.model = keras_model(graph, weights)

    def run_many(self, xs):
        given = [np.asarray(x, np.float32) for x in xs]
        out = self.model(given[0] if len(given) == 1 else given, training=False)
        return [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]



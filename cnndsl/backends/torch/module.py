"""A cnndsl graph as a working `torch.nn.Module`, built in this process from the same steps
the readable source is written from (`steps`): the modules of every layer under the layer's
name, a forward that walks the graph, and the weights loaded into its `state_dict`.

    module = build_module(graph, weights)          # eval mode; NCHW in, NCHW out
    y = module(torch.from_numpy(x_nchw))

torch is imported when a module is built, not when this file is.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from ...graph.ir import Graph
from .ops import attribute_names
from .state import torch_state
from .steps import TorchSteps
from .writer import Step


@cache
def spec_module_class() -> type:
    """`SpecModule`, defined once torch is imported."""
    from torch import nn

    class SpecModule(nn.Module):
        """The network: one attribute per module of a layer, a forward over the graph."""

        def __init__(self, graph: Graph, steps: list[Step]) -> None:
            super().__init__()
            for step in steps:
                for attr, spec in step.modules.items():
                    spec.install(self, attr)
            self._plan = [(node.index, tuple(node.inputs), tuple(step.ops))
                          for node, step in zip(graph.nodes, steps) if node.kind != "input"]
            self._inputs, self._outputs = tuple(graph.inputs), tuple(graph.outputs)

        def forward(self, *xs: Any) -> Any:
            values = dict(zip(self._inputs, xs))
            for index, inputs, ops in self._plan:
                args = [values[i] for i in inputs]
                for op in ops:
                    args = [op.run(args, self)]
                values[index] = args[0]
            outs = tuple(values[o] for o in self._outputs)
            return outs[0] if len(outs) == 1 else outs

    return SpecModule


def build_module(graph: Graph, weights: dict[str, np.ndarray]) -> Any:
    """The module with `weights` (cnndsl's, keyed LAYER/VARIABLE) loaded, in eval mode."""
    import torch

    module = empty_module(graph)
    state = module.state_dict()
    for key, value in torch_state(graph, weights).items():
        state[key] = torch.from_numpy(np.ascontiguousarray(value)).to(
            state[key].dtype).reshape(state[key].shape)
    module.load_state_dict(state)
    return module.eval()


def empty_module(graph: Graph) -> Any:
    """The module, its weights as PyTorch initialises them (zeros for its own tensors)."""
    maker = TorchSteps(None, attribute_names(graph))
    steps = [Step() if node.kind == "input" else maker.step(node) for node in graph.nodes]
    return spec_module_class()(graph, steps)

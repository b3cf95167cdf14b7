"""A cnndsl graph as a working `torch.nn.Module`, built in this process from the same steps
the readable source is written from (`steps`): the modules of every layer under the layer's
name, a forward that walks the graph, and the weights loaded into its `state_dict`.

    module = build_module(graph, weights)          # eval mode; NCHW in, NCHW out
    y = module(torch.from_numpy(x_nchw))

Imports torch: this module is imported only where PyTorch is wanted.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ...graph.ir import Graph
from ...support.escaping import python_identifier
from .steps import Step, TorchSteps


class SpecModule(nn.Module):
    """The network: one attribute per module of a layer, a forward over the graph."""

    def __init__(self, graph: Graph, steps: list[Step]) -> None:
        super().__init__()
        for step in steps:
            for attr, spec in step.modules.items():
                self.add_module(attr, spec.build())
        self._plan = [(node.index, tuple(node.inputs), tuple(step.ops))
                      for node, step in zip(graph.nodes, steps) if node.kind != "input"]
        self._inputs, self._outputs = tuple(graph.inputs), tuple(graph.outputs)

    def forward(self, *xs: torch.Tensor) -> Any:
        values = dict(zip(self._inputs, xs))
        for index, inputs, ops in self._plan:
            args = [values[i] for i in inputs]
            for op in ops:
                args = [op.run(args, self._modules)]
            values[index] = args[0]
        outs = tuple(values[o] for o in self._outputs)
        return outs[0] if len(outs) == 1 else outs


def attribute_names(graph: Graph) -> dict[int, str]:
    """Each layer's name as a Python attribute of the module: valid, unique, and not one
    of `nn.Module`'s own (`eval`, `training`, `forward`...)."""
    taken: set[str] = set()
    names: dict[int, str] = {}
    for node in graph.nodes:
        name = python_identifier(node.name).lstrip("_")
        name = name if name and not name[0].isdigit() else f"layer_{name}"
        while name in taken or hasattr(nn.Module, name):
            name += "_"
        taken.add(name)
        names[node.index] = name
    return names


def build_module(graph: Graph, weights: dict[str, np.ndarray]) -> SpecModule:
    """The module with `weights` (cnndsl's, keyed LAYER/VARIABLE) loaded, in eval mode."""
    maker = TorchSteps(weights, attribute_names(graph))
    steps = [Step() if node.kind == "input" else maker.step(node) for node in graph.nodes]
    module = SpecModule(graph, steps)
    state = module.state_dict()
    given = {k: v for step in steps for k, v in step.state.items()}
    missing = set(state) - set(given) - {k for k in state if k.endswith("num_batches_tracked")}
    if missing or set(given) - set(state):
        raise ValueError(f"state mismatch: {sorted(missing)} {sorted(set(given) - set(state))}")
    for key, value in given.items():
        state[key] = torch.from_numpy(np.ascontiguousarray(value, np.float32)).reshape(
            state[key].shape)
    module.load_state_dict(state)
    return module.eval()

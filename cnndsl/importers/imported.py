"""What every importer gives back: the model as a typed graph, its weights, and where each
layer came from; and the pruning every importer applies before it."""

from __future__ import annotations

import re
from collections.abc import Set
from dataclasses import dataclass, field

import numpy as np

from ..graph.ir import Graph, Node
from ..support.escaping import cnn_name


@dataclass
class Imported:
    """The model as a typed graph (layers named after the model's) and its weights, keyed
    `LAYER/VARIABLE` by those names."""

    graph: Graph
    weights: dict[str, np.ndarray]
    origins: dict[str, tuple[str, str]]  # node name -> its layer or node name, class or op
    model_name: str
    # The nodes whose names the text keeps (`name=` where the text would name them
    # otherwise): by default those whose model names say more than their kind.
    kept: frozenset[int] | None = None
    # The model's names for its outputs, where they are its own (`logits`): `as NAME`.
    output_names: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kept is None:
            self.kept = self.meaningful()

    def meaningful(self, unnamed: Set[str] = frozenset()) -> frozenset[int]:
        """The nodes whose names say more than their kind (`unnamed`: names the importer
        made up, from no name in the model)."""
        return frozenset(n.index for n in self.graph.nodes if n.name not in unnamed and not
                         automatic(n.name, *self.origins.get(n.name, (n.name, "")), n.kind))

    def renamed(self, names: dict[int, str]) -> list[tuple[str, str]]:
        """(text's name, model's name) of each layer the text names otherwise than the
        model does, in graph order: what a reader needs to match weights and activations
        back to the model."""
        return [(names[n.index], self.origins[n.name][0]) for n in self.graph.nodes
                if n.name in self.origins and names[n.index] != self.origins[n.name][0]]

    def label(self, index: int) -> str:
        """`layer `conv1` (Conv2D)` for a node, in the model's own terms."""
        name, cls = self.origins[self.graph.nodes[index].name]
        return f"layer `{name}` ({cls})"


def reachable(graph: Graph, n_inputs: int, outs: list[int]) -> Graph:
    """Only the layers the outputs depend on (a nested model may compute more); every
    input kept, in order, and the nodes still in topological order."""
    keep, stack = set(outs) | set(range(n_inputs)), list(outs)
    while stack:
        for i in graph.nodes[stack.pop()].inputs:
            if i not in keep:
                keep.add(i)
                stack.append(i)
    order = sorted(keep)  # a node comes after its inputs
    index = {old: new for new, old in enumerate(order)}
    nodes = tuple(Node(index[n.index], n.name, n.layer, tuple(index[i] for i in n.inputs),
                       n.in_shapes, n.shape, n.span, n.text)
                  for n in (graph.nodes[i] for i in order))
    return Graph(graph.name, nodes, (), tuple(range(n_inputs)),
                 tuple(index[o] for o in outs))


def unique_name(text: str, nodes: list[Node]) -> str:
    """A model's name for a layer as a cnndsl name (`name=` accepts it), unique among
    `nodes` (`conv`, `conv_2`, ...)."""
    name = cnn_name(text)
    taken = {n.name for n in nodes}
    base, k = name, 2
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    return name


FRAMEWORK_INPUTS = {"input", "inputlayer", "kerastensor", "x"}  # names given by default


def automatic(name: str, original: str, cls: str, kind: str) -> bool:
    """Whether a layer's name is one a framework gives by itself, saying nothing `KIND_N`
    does not: Keras's `conv2d_3`, `batch_normalization`, `re_lu_2`, `input_layer_1`;
    PyTorch's `/Relu_4` (`relu_4` here), `node_max_pool2d`, a tensor's number (`191`,
    `onnx::Conv_12`); cnndsl's own `conv_3`. A name that does say something (`conv1`,
    `conv5_block3_add`, `layer1_0_conv1`, `fc`) is the author's, and is kept.

    >>> automatic("conv2d_3", "conv2d_3", "Conv2D", "conv")
    True
    >>> automatic("conv5_block3_add", "conv5_block3_add", "Add", "add")
    False
    >>> automatic("l_191", "191", "Gemm", "dense"), automatic("fc", "/fc/Gemm", "Gemm", "dense")
    (True, False)
    """
    if original.isdigit() or original.startswith("onnx::"):
        return True

    def squash(text: str) -> str:
        text = re.sub(r"(_\d+)+$", "", text.lower())
        text = re.sub(r"^(node_|l_)", "", text).replace("_", "").replace(".", "")
        return re.sub(r"[123]d$", "", text)

    stem = squash(name)
    if kind == "input":
        return not stem or stem in FRAMEWORK_INPUTS
    return not stem or stem in {squash(cls), squash(kind)}

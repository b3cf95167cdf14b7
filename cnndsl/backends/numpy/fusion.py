"""Inference-time fusion: fold batch norm into the layer before it, and apply the
activation after it while the output tile is still in cache.

`conv -> bn -> relu` runs as one convolution whose kernel and bias absorb the batch
norm (w' = w * gamma / sqrt(var + eps), b' = (b - mean) * gamma / sqrt(var + eps) + beta)
and whose epilogue applies relu in place. The folded nodes are then aliases of the
first one. Rounding differs from the unfused form by float32 epsilons, far inside the
tolerance the backends are held to; `fuse=False` gives the step-by-step form.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...activations import Activation
from ...ir import Graph

# Kinds whose output channels have a bias a batch norm can be folded into.
FOLDABLE = ("conv", "dwconv", "sepconv", "deconv", "dense")
# Kinds that write a buffer of their own, so the activation after them can run in it.
ACTIVATED_AFTER = ("add", "mul", "avg", "max", "concat", "maxpool", "avgpool", "zeropad")


@dataclass
class Plan:
    """What to fold where: per producing node, the BN node folded in and the activation
    applied in its epilogue; `aliases` maps each folded node to its producer."""

    batchnorm: dict[int, int] = field(default_factory=dict)
    activation: dict[int, Activation] = field(default_factory=dict)
    aliases: dict[int, int] = field(default_factory=dict)


def consumers(graph: Graph) -> list[list[int]]:
    out: list[list[int]] = [[] for _ in graph.nodes]
    for node in graph.nodes:
        for i in node.inputs:
            out[i].append(node.index)
    return out


def plan(graph: Graph) -> Plan:
    """Find `P -> batchnorm -> activation` runs where only the last output is used."""
    users = consumers(graph)
    result = Plan()
    for node in graph.nodes:
        if node.kind in ACTIVATED_AFTER:
            after = _single_user(graph, users, node.index)
            if after is not None and after.kind == "activation":
                result.activation[node.index] = after.layer.function  # type: ignore
                result.aliases[after.index] = node.index
            continue
        if node.kind not in FOLDABLE or getattr(node.layer, "activation", None):
            continue
        end = node.index
        after = _single_user(graph, users, end)
        if after is not None and after.kind == "batchnorm":
            result.batchnorm[node.index] = after.index
            result.aliases[after.index] = node.index
            end = after.index
            after = _single_user(graph, users, end)
        if after is not None and after.kind == "activation":
            result.activation[node.index] = after.layer.function  # type: ignore[attr-defined]
            result.aliases[after.index] = node.index
    return result


def _single_user(graph: Graph, users, index: int):
    if len(users[index]) != 1 or index == len(graph.nodes) - 1:
        return None
    return graph.nodes[users[index][0]]


def fold_batchnorm(bias: np.ndarray | None, bn: dict[str, np.ndarray], eps: float):
    """(per-channel scale for the kernel, new bias) folding a batch norm into a layer.

    A negative variance (possible in hand-made weights) gives NaN, as in Keras, quietly."""
    with np.errstate(all="ignore"):
        scale = bn["gamma"] / np.sqrt(bn["moving_variance"] + eps)
    base = np.zeros_like(scale) if bias is None else bias
    return scale, (base - bn["moving_mean"]) * scale + bn["beta"]

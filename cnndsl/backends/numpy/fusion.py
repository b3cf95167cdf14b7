"""Inference-time fusion: fold batch norm into the layer before it, apply the
activation after it while the output tile is still in cache, and pool that tile too.

`conv -> bn -> relu` runs as one convolution whose kernel and bias absorb the batch
norm (w' = w * gamma / sqrt(var + eps), b' = (b - mean) * gamma / sqrt(var + eps) + beta)
and whose epilogue applies relu in place; `conv -> relu -> maxpool 2` pools each tile
of the convolution's output as it is made (`targets.Pooled`). The folded nodes are then
aliases of the first one. Rounding differs from the unfused form by float32 epsilons, far inside the
tolerance the backends are held to; `fuse=False` gives the step-by-step form.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ...graph.ir import Graph
from ...layers.activations import Activation
from ...layers.shapes import same_padding
from . import activations
from .memory import thread_rows

# Kinds whose output channels have a bias a batch norm can be folded into.
FOLDABLE = ("conv", "dwconv", "sepconv", "deconv", "dense")
# Kinds that write a buffer of their own, so the activation after them can run in it.
ACTIVATED_AFTER = ("add", "mul", "avg", "max", "concat", "maxpool", "avgpool", "zeropad")
# Poolings a convolution can run on its output tiles.
POOLS = ("maxpool", "avgpool")


@dataclass
class Plan:
    """What to fold where: per producing node, the BN node folded in, the activation
    applied in its epilogue and the pooling run on its tiles; `aliases` maps each folded
    node to its producer."""

    batchnorm: dict[int, int] = field(default_factory=dict)
    activation: dict[int, Activation] = field(default_factory=dict)
    pool: dict[int, int] = field(default_factory=dict)
    aliases: dict[int, int] = field(default_factory=dict)


def consumers(graph: Graph) -> list[list[int]]:
    out: list[list[int]] = [[] for _ in graph.nodes]
    for node in graph.nodes:
        for i in node.inputs:
            out[i].append(node.index)
    return out


def plan(graph: Graph) -> Plan:
    """Find `P -> batchnorm -> activation -> pooling` runs (each step but P optional)
    where only the last output is used."""
    users = consumers(graph)
    result = Plan()
    for node in graph.nodes:
        if node.kind in ACTIVATED_AFTER:
            after = _single_user(graph, users, node.index)
            if after is not None and after.kind == "activation":
                result.activation[node.index] = after.layer.function  # type: ignore
                result.aliases[after.index] = node.index
            continue
        if node.kind not in FOLDABLE:
            continue
        end = node.index
        after = _single_user(graph, users, end)
        # A layer with an activation of its own folds nothing after it but a pooling.
        fold = not getattr(node.layer, "activation", None)
        if fold and after is not None and after.kind == "batchnorm":
            result.batchnorm[node.index] = after.index
            result.aliases[after.index] = node.index
            end = after.index
            after = _single_user(graph, users, end)
        if fold and after is not None and after.kind == "activation":
            result.activation[node.index] = after.layer.function  # type: ignore[attr-defined]
            result.aliases[after.index] = node.index
            end = after.index
            after = _single_user(graph, users, end)
        if after is not None and tile_poolable(graph.nodes[end], node, after):
            result.pool[node.index] = after.index
            result.aliases[after.index] = node.index
    return result


# Activations that are non-decreasing and computed exactly (piecewise linear), so
# max(f(x + b)) == f(max(x) + b) bit for bit, float rounding being monotonic too.
MAX_COMMUTING = ("relu", "relu6", "linear", "clip")


def commutes_with_max(activation: Activation | None) -> bool:
    """Whether a max pooling may run before the bias add and `activation` instead of
    after them: the epilogue then touches a quarter of the values (for `maxpool 2`)."""
    if activation is None or activation.name in MAX_COMMUTING:
        return True
    return activation.name == "leaky_relu" and (activation.alpha is None
                                                 or activation.alpha >= 0)


def tile_poolable(before, conv, pool) -> bool:
    """Whether `pool` (reading `before`, the end of `conv`'s run) can run on `conv`'s
    tiles of whole output lines: a 1-D or 2-D convolution with a window (1x1 ones are
    tiled by rows, not lines), and pooling windows that never overlap, padded by nothing.
    """
    if conv.kind != "conv" or pool.kind not in POOLS or len(conv.layer.kernel) > 2 \
            or all(k == 1 for k in conv.layer.kernel):
        return False
    layer = pool.layer
    if layer.padding not in ("valid", "same") or layer.ceil:  # version 3's `pad=`, `ceil`
        return False
    if any(k > s for k, s in zip(layer.kernel, layer.stride)):
        return False
    sizes = before.shape[:-1]
    return layer.padding == "valid" or not any(
        b or a for n, k, s in zip(sizes, layer.kernel, layer.stride)
        for b, a in [same_padding(n, k, s, 1)])


def _single_user(graph: Graph, users, index: int):
    if len(users[index]) != 1 or index in graph.outputs:
        return None
    return graph.nodes[users[index][0]]


def fold_batchnorm(bias: np.ndarray | None, bn: dict[str, np.ndarray], eps: float):
    """(per-channel scale for the kernel, new bias) folding a batch norm into a layer.

    A negative variance (possible in hand-made weights) gives NaN, as in Keras, quietly.
    Without gamma (`scale=false`) the scale is 1, without beta (`center=false`) the shift 0.
    """
    with np.errstate(all="ignore"):
        scale = bn.get("gamma", 1) / np.sqrt(bn["moving_variance"] + eps)
    base = np.zeros_like(scale) if bias is None else bias
    shift = (base - bn["moving_mean"]) * scale
    return scale, shift + bn["beta"] if "beta" in bn else shift


def scaled(kind: str, w: dict[str, np.ndarray], scale: np.ndarray) -> dict[str, np.ndarray]:
    """Weights with each output channel multiplied by `scale` (batch norm folding)."""
    w = dict(w)
    if kind == "dwconv":
        kernel = w["depthwise_kernel"]
        w["depthwise_kernel"] = kernel * scale.reshape(kernel.shape[-2:])
    elif kind == "sepconv":
        w["pointwise_kernel"] = w["pointwise_kernel"] * scale
    elif kind == "deconv":
        w["kernel"] = w["kernel"] * scale[:, None]
    else:
        w["kernel"] = w["kernel"] * scale
    return w


def epilogue(bias: np.ndarray | None,
              activation: Activation | None) -> Callable[[np.ndarray], None] | None:
    """Bias add and activation, in place on a (rows, channels) output tile.

    The bias is added from a block of whole rows of it (about `activations.BLOCK`
    values, in a buffer of the thread's, see `memory.thread_rows`): adding two contiguous
    arrays runs NumPy's vectorised loop, while broadcasting a row of a few dozen channels
    ran at a third of the speed here."""
    if bias is None and activation is None:
        return None
    rows = max(1, activations.BLOCK // max(bias.size, 1)) if bias is not None else 0

    def apply(tile: np.ndarray) -> None:
        if bias is not None:
            if tile.flags.c_contiguous and tile.ndim == 2:
                block = thread_rows(bias, min(rows, len(tile)))
                for r0 in range(0, len(tile), rows):
                    part = tile[r0:r0 + rows]
                    np.add(part, block[:len(part)], out=part)
            else:
                tile += bias
        if relu:  # the common case, without `apply`'s checks: a tile is ours and float
            activations.relu(tile)
        elif activation is not None:
            result = activations.apply(activation, tile)
            if result is not tile:
                tile[...] = result

    relu = activation is not None and activation.name == "relu"
    return apply

"""PyTorch's GroupNorm as the TorchScript exporter writes it below opset 18, where ONNX has
no GroupNormalization: the channels reshaped into G groups, an InstanceNormalization of
the groups (scale 1, shift 0), the original shape again, then the per-channel gamma and
beta (`Mul`, `Add`; neither with `affine=False`). One `groupnorm G` step, or
`instancenorm` where each group is one channel (`nn.GroupNorm(C, C)`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...layers.norm_groups import GroupNorm, InstanceNorm
from .scales import fixed, shortest
from .walk import FIRST, Walk, attributes


def group_norm_pattern(walk: Walk, onnx_node: Any) -> bool:
    """The pattern read from its first node, the Reshape into groups."""
    if onnx_node.op_type != "Reshape" or onnx_node.input[0] not in walk.values or \
            not walk.evaluate(onnx_node.input[1]):
        return False
    x = walk.values[onnx_node.input[0]]
    dims = walk.shape_of(x)
    channels = dims[1]
    target = [int(t) for t in walk.constants[onnx_node.input[1]].reshape(-1)]
    if x.layout != FIRST or len(dims) < 3 or len(target) != 3 or target[0] not in (
            0, -1, dims[0]) or target[1] < 1 or channels % target[1] or \
            target[2] not in (-1, int(np.prod(dims[1:])) // target[1]):
        return False
    groups = target[1]
    norm = walk.sole_user(onnx_node.output[0])
    if norm is None or norm.op_type != "InstanceNormalization" or \
            not all(walk.evaluate(n) for n in norm.input[1:3]) or \
            not fixed(walk, norm.input[1], 1.0) or not fixed(walk, norm.input[2], 0.0):
        return False
    back = walk.sole_user(norm.output[0])
    if back is None or back.op_type != "Reshape" or not walk.evaluate(back.input[1]) or \
            [int(t) for t in walk.constants[back.input[1]].reshape(-1)][1:] != list(dims[1:]):
        return False
    nodes, end = [norm, back], back
    weights = {"gamma": np.ones(channels, np.float32), "beta": np.zeros(channels, np.float32)}
    for op, var in (("Mul", "gamma"), ("Add", "beta")):
        user = walk.sole_user(end.output[0])
        value = None if user is None or user.op_type != op else _per_channel(walk, user, end,
                                                                          len(dims), channels)
        if value is None:
            break
        weights[var] = value
        nodes.append(user)
        end = user
    walk.absorb(*nodes)
    eps = shortest(attributes(norm).get("epsilon", 1e-5))
    layer = InstanceNorm(eps) if groups == channels else GroupNorm(groups, eps)
    walk.add(layer, [x], end, FIRST, weights, named=onnx_node)
    return True


def _per_channel(walk: Walk, onnx_node: Any, before: Any, rank: int,
                 channels: int) -> np.ndarray | None:
    """The constant a node multiplies or shifts the output of `before` by, where it is one
    number per channel of a channels-first tensor: (C, 1, 1) or (1, C, 1, 1)."""
    others = [n for n in onnx_node.input if n != before.output[0]]
    if len(others) != 1 or not walk.evaluate(others[0]):
        return None
    c = walk.constants[others[0]]
    shape = (1,) * (rank - c.ndim) + tuple(c.shape)
    if c.ndim >= rank or shape[1] != channels or any(s != 1 for s in shape[2:]):
        return None
    return c.reshape(-1).astype(np.float32)

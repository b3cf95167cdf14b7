"""Keras's GroupNormalization and PReLU as version 3's `groupnorm`, `instancenorm` and
`prelu`: the inverse of `backends/keras/norm_specs`.

GroupNormalization over the last axis is `groupnorm G` (`instancenorm` when each group is
one channel of an image, Keras's `groups=-1` included), its epsilon written; gamma and
beta both or neither, as cnndsl's `affine`. PReLU is `prelu` when its slopes are shared
over every spatial axis (one per channel), `prelu shared` when over the channels too;
any other sharing is a slope per position, which no step has.
"""

from __future__ import annotations

from collections.abc import Callable

from ..layers import Layer
from ..layers.norm_groups import GroupNorm, InstanceNorm
from ..layers.prelu import PReLU
from .keras_layers import Refused, Seen


def group_normalization(seen: Seen) -> Layer:
    rank = len(seen.in_shapes[0])
    seen.require("axis", (-1, rank), "cnndsl's groupnorm groups the channels (last) axis")
    if bool(seen.get("center", True)) != bool(seen.get("scale", True)):
        raise Refused("GroupNormalization with only one of center and scale has no "
                      "cnndsl equivalent", "cnndsl's groupnorm has both gamma and beta, "
                      "or neither (`affine=false`)")
    channels = seen.in_shapes[0][-1]
    groups = int(seen.get("groups", 32))
    eps, affine = float(seen.get("epsilon", 1e-3)), bool(seen.get("center", True))
    if groups == -1 or (groups == channels and rank > 1):
        if rank == 1:  # a vector's channels, one per group: each normalised alone
            return GroupNorm(channels, eps, affine)
        return InstanceNorm(eps, affine)
    return GroupNorm(groups, eps, affine)


def prelu(seen: Seen) -> Layer:
    rank = len(seen.in_shapes[0])
    shared = sorted(int(a) % (rank + 1) for a in seen.get("shared_axes") or ())
    if shared == list(range(1, rank)):
        return PReLU(False)
    if shared == list(range(1, rank + 1)):
        return PReLU(True)
    raise Refused(f"PReLU(shared_axes={seen.get('shared_axes')!r}) has a slope per "
                  "position, which no cnndsl step has",
                  f"share the slopes over the spatial axes, "
                  f"shared_axes={list(range(1, rank)) or None} (`prelu`), or over every "
                  f"axis, {list(range(1, rank + 1))} (`prelu shared`)")


LAYERS: dict[str, Callable[[Seen], Layer]] = {
    "GroupNormalization": group_normalization, "PReLU": prelu,
}

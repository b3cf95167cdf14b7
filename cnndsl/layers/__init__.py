"""The layer catalogue: every kind of step, looked up by the word that writes it.

Adding a layer kind means writing its class in one of these modules (`core`, `conv`,
`pooling`, `norm`, `merge`) and listing it in `KINDS`; the grammar never changes, and a
conformance test checks every backend has it.

Imports: `syntax` (a kind reads its written arguments through `arguments`) and
`support`. The catalogue never imports what is built from it.
"""

from __future__ import annotations

from .base import GLOBAL, Inputs, Layer, LayerError, Window, rank_word
from .conv import Conv, Deconv, DWConv, SepConv
from .core import ActivationStep, Crop, Dense, Dropout, Flatten, Input, Reshape, Upsample, ZeroPad
from .merge import Add, Avg, Concat, Max, Merge, Mul, Split
from .norm import BatchNorm, LayerNorm, Normalize, Rescale
from .norm_groups import LRN, GroupNorm, InstanceNorm
from .padding import Pad
from .pooling import GAP, GMP, AvgPool, MaxPool
from .prelu import PReLU
from .rearrange import ChannelShuffle, Part, PixelShuffle, PixelUnshuffle

KINDS: tuple[type[Layer], ...] = (
    Input, Conv, DWConv, SepConv, Deconv, MaxPool, AvgPool, GAP, GMP, Flatten, Dense,
    Dropout, BatchNorm, ZeroPad, Upsample, Reshape, ActivationStep,
    Add, Mul, Avg, Max, Concat,
    # version 2
    LayerNorm, Rescale, Normalize, Crop,
    # version 3: rearranging
    PixelShuffle, PixelUnshuffle, ChannelShuffle, Split, Part,
    # version 3: padding
    Pad,
    # version 3: normalisation and activations
    GroupNorm, InstanceNorm, LRN, PReLU,
)

BY_KIND: dict[str, type[Layer]] = {k.kind: k for k in KINDS}
BY_WORD: dict[str, type[Layer]] = {
    word: k for k in KINDS if not issubclass(k, Merge) and k not in (Input, Part)
    for word in (k.words or (k.kind,))
}
MERGES: dict[str, type[Layer]] = {k.kind: k for k in KINDS if issubclass(k, Merge)}


def lookup(word: str) -> type[Layer] | None:
    """The kind a step word names (`bn` -> BatchNorm, `swish` -> ActivationStep)."""
    return BY_WORD.get(word)


__all__ = ["GLOBAL", "Inputs", "KINDS", "BY_KIND", "BY_WORD", "MERGES", "Layer", "LayerError",
           "Window", "lookup", "rank_word"]

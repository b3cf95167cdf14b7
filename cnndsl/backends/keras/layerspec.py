"""What the Keras backend makes of a node: a Keras class and its arguments, built by the
model builder and printed by the source emitter alike (so the two cannot disagree)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class LayerSpec:
    """A Keras layer to make: `keras.layers.<cls>(*args, **kwargs)`; an argument may be a
    `LayerSpec` itself (a fused `activation=LeakyReLU(...)`)."""

    cls: str
    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

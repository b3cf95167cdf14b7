"""`LayerSpec`: a Keras layer to make, as the Keras backend's methods describe it; the
model builder instantiates it and the source emitter prints it. Its own module so that
the methods of version 3 (`rearrange`) and the builder can both import it."""

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


def chain_of(made: LayerSpec | tuple[LayerSpec, ...]) -> tuple[LayerSpec, ...]:
    """The layers a node is built of, in order: one, or a chain of plain Keras layers
    (Reshape, Permute, Cropping, ...) where Keras has no one layer for the step."""
    return made if isinstance(made, tuple) else (made,)

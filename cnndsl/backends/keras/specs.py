"""What the Keras backend makes of a node, as data: the Keras class and its arguments.

The model builder instantiates a `LayerSpec` and the source emitter prints it, so the
two cannot disagree; neither this module nor its callers need Keras to make one.
"""

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
    # version 3: layers without weights applied before and after this one (the
    # ZeroPadding of `pad=`, the Cropping of a transposed convolution's `pad=`)
    before: tuple[LayerSpec, ...] = ()
    after: tuple[LayerSpec, ...] = ()


# Keras 3's layer classes by dimensions: it has no DepthwiseConv3D or SeparableConv3D. A
# table rather than a look-up in `keras.layers`, so that Python source is written without
# TensorFlow; tests/test_plain_keras.py checks it against the installed Keras.
_EVERY_DIMS = ("Conv", "MaxPooling", "AveragePooling", "GlobalAveragePooling",
               "GlobalMaxPooling", "ZeroPadding", "Cropping", "UpSampling")
KERAS_CLASSES = frozenset(
    [f"{base}{d}D" for base in _EVERY_DIMS for d in (1, 2, 3)]
    + [f"Conv{d}DTranspose" for d in (1, 2, 3)]
    + [f"{base}{d}D" for base in ("DepthwiseConv", "SeparableConv") for d in (1, 2)])


def chain_of(made: LayerSpec | tuple[LayerSpec, ...]) -> tuple[LayerSpec, ...]:
    """The layers a node is built of, in order, each reading the last: one layer with the
    weightless ones it asks for before and after it (padding, cropping), or a chain of
    plain Keras layers (Reshape, Permute, Cropping, ...) where Keras has no one layer for
    the step. The layer named as the node holds its weights."""
    made = made if isinstance(made, tuple) else (made,)
    return tuple(one for spec in made for one in (*spec.before, spec, *spec.after))

"""The Keras backend's steps of language version 3 that rearrange values: built from
Keras's own Reshape, Permute, Cropping1D, Flatten and Concatenate layers, which move
values without computing any, so the function is exactly the spec's and the `.keras`
file stays plain Keras (no Lambda, no class of cnndsl's).

A mixin of `KerasSpecs`: a method returns one `LayerSpec`, or a tuple of them applied
in order (the last one carries the node's name, the others the name and a suffix).
"""

from __future__ import annotations

from math import prod

from .spec import LayerSpec


def _axes(*order: int) -> tuple[int, ...]:
    """Permute's dims (counted from 1, the batch axis left out)."""
    return tuple(order)


class RearrangeSpecs:
    """One method per kind, as `KerasSpecs`'s."""

    def pixel_shuffle(self, node, layer):
        # (H, W, C·R²) as (H, W, C, i, j), to (H, i, W, j, C), merged to (H·R, W·R, C).
        (h, w, c), r = node.in_shapes[0], layer.factor
        return (LayerSpec("Reshape", ((h, w, c // (r * r), r, r),),
                          dict(name=f"{node.name}_blocks")),
                LayerSpec("Permute", (_axes(1, 4, 2, 5, 3),), dict(name=f"{node.name}_order")),
                LayerSpec("Reshape", (node.shape,), dict(name=node.name)))

    def pixel_unshuffle(self, node, layer):
        # (H·R, W·R, C) as (H, i, W, j, C), to (H, W, C, i, j), merged to (H, W, C·R²).
        (h, w, c), r = node.shape, layer.factor
        return (LayerSpec("Reshape", ((h, r, w, r, c // (r * r)),),
                          dict(name=f"{node.name}_blocks")),
                LayerSpec("Permute", (_axes(1, 3, 5, 2, 4),), dict(name=f"{node.name}_order")),
                LayerSpec("Reshape", (node.shape,), dict(name=node.name)))

    def channel_shuffle(self, node, layer):
        # The channels as a (G, C/G) matrix, transposed, merged back.
        *lead, c = node.shape
        g, n = layer.groups, len(lead)
        return (LayerSpec("Reshape", ((*lead, g, c // g),), dict(name=f"{node.name}_groups")),
                LayerSpec("Permute", (_axes(*range(1, n + 1), n + 2, n + 1),),
                          dict(name=f"{node.name}_order")),
                LayerSpec("Reshape", (node.shape,), dict(name=node.name)))

    def part(self, node, layer):
        # Keras crops only spatial axes: the channels are made the one spatial axis of a
        # 1-D tensor, cropped, and put back.
        *lead, c = node.in_shapes[0]
        positions = prod(lead)
        cut = (layer.start, c - layer.start - layer.size)
        name = node.name
        return (LayerSpec("Reshape", ((positions, c),), dict(name=f"{name}_rows")),
                LayerSpec("Permute", ((2, 1),), dict(name=f"{name}_channels_first")),
                LayerSpec("Cropping1D", (cut,), dict(name=f"{name}_crop")),
                LayerSpec("Permute", ((2, 1),), dict(name=f"{name}_channels_last")),
                LayerSpec("Reshape", (node.shape,), dict(name=name)))

    def split(self, node, layer):
        return LayerSpec("Concatenate", (), dict(axis=-1, name=node.name))

    def flatten_chw(self, node, layer):
        rank = len(node.in_shapes[0])
        if rank == 1:
            return LayerSpec("Flatten", (), dict(name=node.name))
        return (LayerSpec("Permute", (_axes(rank, *range(1, rank)),),
                          dict(name=f"{node.name}_channels_first")),
                LayerSpec("Flatten", (), dict(name=node.name)))

    def upsample_bilinear(self, node, layer):
        # Keras resizes with half-pixel centres, as PyTorch's align_corners=False.
        return LayerSpec("UpSampling2D", (layer.factors,),
                         dict(interpolation="bilinear", name=node.name))

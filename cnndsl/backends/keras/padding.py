"""Version 3's explicit padding in Keras: exactly, from Keras's own layers, or refused.

Keras pads only its own way (`same`: TensorFlow's split, the odd one after; minus
infinity for max pooling, real inputs only in an average). PyTorch's padding is built
as a `ZeroPadding` layer before a `valid` window where zeros are what it pads with
(convolutions, `include_pad` averages), as `same` where the two pad alike, and as a
`Cropping` after a transposed convolution. What only a layer of cnndsl's own could
compute (max pooling or an average of real inputs padded otherwise than `same`, a
`ceil` window overhanging the padding, `reflect` and `replicate`) is refused at the
step, naming the backends that run it: the `.keras` file stays plain Keras.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ...errors import CnnError
from ...graph.ir import Node
from ...layers.padding import CAUSAL, EXPLICIT, Pads, explicit_pads, pads_text
from ...layers.shapes import padded_length, same_padding
from .specs import KERAS_CLASSES, LayerSpec

RUN_ELSEWHERE = ("`cnndsl run` (NumPy) and `cnndsl compile -o NET.onnx` run it; Keras "
                 "has no layer that pads this way")


def windowed(node: Node, spec: LayerSpec) -> LayerSpec:
    """A convolution's `spec` as built for `same`/`valid`, for `pad=` or `causal`: Keras's
    own `causal` where it has it (Conv1D), else `valid` after a ZeroPadding of the pads
    (when they pad anything); a transposed one as `deconv` says."""
    layer: Any = node.layer
    if node.kind == "deconv":
        return deconv(node, spec)
    if layer.padding == CAUSAL and node.kind == "conv":
        return spec
    return padded_spec(node, replace(spec, kwargs={**spec.kwargs, "padding": "valid"}),
                       layer.pads)


def _zero_padding(node: Node, pads: Pads) -> LayerSpec:
    return LayerSpec(_cls(node, "ZeroPadding"), (_pairs(pads),), dict(name=f"{node.name}_pad"))


def _cls(node: Node, base: str) -> str:
    dims = len(node.in_shapes[0]) - 1
    name = f"{base}{dims}D"
    if name not in KERAS_CLASSES:  # pragma: no cover - every rank has these two
        raise CnnError(f"Keras has no {name} layer for this {dims}-D `{node.kind}`",
                       node.span, "the NumPy backend can run it (`cnndsl run`)")
    return name


def _pairs(pads: Pads):
    """Keras's padding argument: one pair for 1-D, a pair per dimension else."""
    return tuple(pads[0]) if len(pads) == 1 else tuple(tuple(p) for p in pads)


def pool(node: Node, cls: str, stride) -> LayerSpec:
    """maxpool / avgpool with `pad=`, `ceil` or `include_pad`: as Keras's `valid` or
    `same` where these pad alike, after a ZeroPadding for an `include_pad` average,
    else refused."""
    layer: Any = node.layer
    sizes = node.in_shapes[0][:-1]
    pads = explicit_pads(layer, sizes)
    out = node.shape[:-1]
    plain = LayerSpec(cls, (layer.kernel,), dict(strides=stride, padding="valid",
                                                 name=node.name))
    floor = tuple(padded_length(n, k, s, b, a) for n, k, s, (b, a) in
                  zip(sizes, layer.kernel, layer.stride, pads))
    if layer.include_pad:  # zeros counted: a ZeroPadding, then windows that fit it
        if out != floor:
            raise _refused(node, "the last `ceil` window overhangs the padded input, and "
                           "Keras would count the overhang in the average")
        return padded_spec(node, plain, pads)
    if not any(b or a for b, a in pads) and out == floor:
        return plain
    same = tuple(same_padding(n, k, s) for n, k, s in zip(sizes, layer.kernel, layer.stride))
    if out == tuple(-(-n // s) for n, s in zip(sizes, layer.stride)) and \
            all(b == sb for (b, _), (sb, _) in zip(pads, same)):
        return replace(plain, kwargs={**plain.kwargs, "padding": "same"})
    what = ("padded with minus infinity" if layer.kind == "maxpool"
            else "averaging only the real inputs")
    raise _refused(node, f"Keras pools {what} only as its `same` pads (`pad="
                   f"{pads_text(same)}` here), not `{_written(layer, pads)}`")


def padded_spec(node: Node, spec: LayerSpec, pads: Pads) -> LayerSpec:
    if not any(b or a for b, a in pads):
        return spec
    return replace(spec, before=(_zero_padding(node, pads),))


def deconv(node: Node, spec: LayerSpec) -> LayerSpec:
    """A transposed convolution with `pad=` and `outpad=`: Keras's `valid` one with
    `output_padding` (positions after the full output, which get the bias as PyTorch's
    do) where `outpad` passes the padding after, then a Cropping of what `pad=` cuts."""
    layer: Any = node.layer
    if layer.padding != EXPLICIT:
        return spec
    outpad = layer.outpad or (0,) * len(layer.pads)
    extra = tuple(max(q - a, 0) for q, (_, a) in zip(outpad, layer.pads))
    crops = tuple((b, max(a - q, 0)) for q, (b, a) in zip(outpad, layer.pads))
    spec = replace(spec, kwargs={**spec.kwargs, "padding": "valid",
                                 "output_padding": extra[0] if len(extra) == 1 else extra})
    if not any(b or a for b, a in crops):
        return spec
    crop = LayerSpec(_cls(node, "Cropping"), (_pairs(crops),), dict(name=f"{node.name}_crop"))
    return replace(spec, after=(crop,))


def pad_step(node: Node) -> LayerSpec:
    """The `pad` step: a ZeroPadding, or refused for `reflect` and `replicate`."""
    layer: Any = node.layer
    if layer.mode != "zeros":
        raise _refused(node, f"Keras has no layer that pads by `{layer.mode}`")
    return LayerSpec(_cls(node, "ZeroPadding"), (_pairs(layer.pads),), dict(name=node.name))


def _written(layer, pads: Pads) -> str:
    return (f"pad={pads_text(pads)}" if layer.padding == EXPLICIT else layer.padding) + \
        (" ceil" if layer.ceil else "")


def _refused(node: Node, why: str) -> CnnError:
    return CnnError(f"the Keras backend cannot build `{node.layer.describe()}`: {why}",
                    node.span, RUN_ELSEWHERE)

"""Layers that keras.applications defines for itself, read as catalogue steps.

ConvNeXt (`keras.src.applications.convnext`) has two layer classes of its own, saved in a
`.keras` file under that module and loaded by safe mode like Keras's own:

* `LayerScale` multiplies each channel by one learned weight (`x * gamma`): that is a 1x1
  depthwise convolution without bias, `dwconv 1 bias=false`, C parameters; its `gamma`
  of shape (C,) becomes the kernel of shape (1, 1, C, 1), the same numbers in the same
  order (`WEIGHT_SHAPES`).
* `StochasticDepth` drops whole samples while training (`x / keep * floor(keep + u)`
  with one draw per sample) and is the identity at inference: a dropout whose noise
  shape is 1 on every axis but the batch, `dropout P noise=1x1x1`.

Inception-ResNet-v2 (`keras.src.applications.inception_resnet_v2`) adds each residual
branch scaled by a constant, `CustomScaleLayer(scale)([x, r])` computing `x + r * scale`.
No one step is that, so it is read as two (`STEPS`): `rescale S` on the branch, then `add`,
`add { @x | @r -> rescale S }`; the same products and sums in the same order, so the same
numbers as Keras's.

Readers take the same `Seen` as those of `keras_layers`.
"""

from __future__ import annotations

from collections.abc import Callable

from ..layers import Layer, rank_word
from ..layers.conv import DWConv
from ..layers.core import Dropout
from ..layers.merge import Add
from ..layers.norm import Rescale
from .keras_layers import Refused, Seen

APPLICATIONS = "keras.src.applications."


def layer_scale(seen: Seen) -> Layer:
    shape = seen.in_shapes[0]
    if len(shape) not in (2, 3):
        raise Refused(f"LayerScale on a {rank_word(shape)} tensor has no cnndsl equivalent",
                      "cnndsl writes LayerScale as `dwconv 1 bias=false`, which takes a "
                      "sequence or an image")
    if seen.get("projection_dim") != shape[-1]:
        raise Refused(f"projection_dim={seen.get('projection_dim')!r} is not the input's "
                      f"{shape[-1]} channels", "LayerScale has one weight per channel")
    ones = (1,) * seen.rank
    return DWConv(kernel=ones, stride=ones, padding="valid", activation=None, bias=False,
                  dilation=ones, multiplier=1)


def stochastic_depth(seen: Seen) -> Layer:
    rate = seen.get("drop_path_rate")
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
        raise Refused(f"drop_path_rate={rate!r} is not a rate in [0, 1)",
                      "cnndsl writes stochastic depth as `dropout P noise=1x1x1`, P < 1")
    return Dropout(float(rate), (1,) * len(seen.in_shapes[0]))


def custom_scale(seen: Seen) -> list[tuple[Layer, tuple[int, ...]]]:
    scale = seen.get("scale")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)):
        raise Refused(f"scale={scale!r} is not a number",
                      "cnndsl writes CustomScaleLayer as `add { @x | @r -> rescale S }`")
    if len(seen.in_shapes) != 2 or seen.in_shapes[0] != seen.in_shapes[1]:
        raise Refused("CustomScaleLayer is read on two tensors of one shape",
                      "cnndsl writes it as `add { @x | @r -> rescale S }`")
    return [(Rescale(float(scale)), (1,)), (Add(), (0, 2))]


# Keras class name (in a module under keras.src.applications) -> reader.
LAYERS: dict[str, Callable[[Seen], Layer]] = {
    "LayerScale": layer_scale, "StochasticDepth": stochastic_depth,
}

# Classes read as several steps: each step and what it reads, by position among the
# layer's inputs and then the steps before it (input k, ..., step j is k + j).
STEPS: dict[str, Callable[[Seen], list[tuple[Layer, tuple[int, ...]]]]] = {
    "CustomScaleLayer": custom_scale,
}

# Classes whose weights the catalogue declares in another shape, same numbers in order.
WEIGHT_SHAPES = frozenset({"LayerScale"})

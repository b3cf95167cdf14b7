"""Keras layers to catalogue layers: the inverse of `cnndsl.backends.keras.builder.KerasSpecs`.

One entry per Keras class in `LAYERS`, reading the layer's config (what Keras saves, so
what a `.keras` file holds) into the cnndsl layer that computes the same function.
Options cnndsl cannot express are a `Refused` naming the option. `NOT_YET` lists Keras
classes a future step will read (empty now that language version 2's steps are read), so
that the refusal can say which step they will become.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..layers import Layer
from ..layers.activations import ACTIVATIONS, VALUE_NEEDED, Activation, canonical_activation
from ..layers.conv import Conv, Deconv, DWConv, SepConv
from ..layers.core import ActivationStep, Crop, Dense, Dropout, Flatten, Reshape, Upsample, ZeroPad
from ..layers.merge import Add, Avg, Concat, Max, Mul
from ..layers.norm import BatchNorm, LayerNorm, Normalize, Rescale
from ..layers.padding import CAUSAL, EXPLICIT, causal_pads
from ..layers.pooling import GAP, GMP, AvgPool, MaxPool
from ..layers.shapes import Shape

NOT_YET_HINT = ("it comes with a later language version (docs/language.md); until then, "
                "change the model or leave the layer out")


class Refused(Exception):
    """A layer cnndsl cannot express; `hint` says what to do instead."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


@dataclass(frozen=True)
class Seen:
    """What an entry reads: the layer's config and the shapes Keras gave it."""

    cls: str
    config: dict[str, Any]
    in_shapes: tuple[Shape, ...]
    out_shape: Shape

    @property
    def rank(self) -> int:
        """Spatial dimensions of the (first) input: 2 for an image."""
        return len(self.in_shapes[0]) - 1

    def get(self, key: str, default: Any = None) -> Any:
        return self.config.get(key, default)

    def sizes(self, key: str, default: int = 1) -> tuple[int, ...]:
        """An int-or-tuple option as one int per spatial dimension."""
        value = self.config.get(key)
        if value is None:
            value = default
        if isinstance(value, int):
            return (value,) * self.rank
        return tuple(int(v) for v in value)

    def pairs(self, key: str) -> tuple[tuple[int, int], ...]:
        """A padding or cropping option (ZeroPadding's, Cropping's) as one (before, after)
        pair per spatial dimension: Keras takes one int for all, or one int or pair each,
        except in 1-D, where the option is the one pair itself."""
        value = self.config.get(key, 1)
        if isinstance(value, int):
            return ((value, value),) * self.rank
        if self.rank == 1:
            return ((int(value[0]), int(value[1])),)
        return tuple((p, p) if isinstance(p, int) else (int(p[0]), int(p[1])) for p in value)

    def require(self, key: str, allowed: tuple, why: str) -> None:
        """Refuse an option whose value cnndsl cannot express."""
        value = self.config.get(key, allowed[0])
        if value not in allowed:
            raise Refused(f"{key}={value!r} has no cnndsl equivalent", why)

    def not_yet(self, option: str) -> Refused:
        return Refused(f"`{option}` is not supported yet", NOT_YET_HINT)


def activation(seen: Seen, value: Any = None, fused: bool = True) -> Activation | None:
    """A Keras activation (a name in the config) as cnndsl's; `linear` fused is none."""
    name = seen.get("activation") if value is None else value
    if name is None or (fused and name == "linear"):
        return None
    if isinstance(name, dict) and name.get("class_name") in ACTIVATION_LAYERS:
        # a layer as a fused activation (`activation=ELU(alpha=0.5)`): read as the layer
        inner = Seen(name["class_name"], name.get("config") or {}, seen.in_shapes,
                     seen.out_shape)
        return LAYERS[inner.cls](inner).function  # type: ignore[attr-defined]
    if name == "hard_tanh":  # version 3
        return Activation("clip", bounds=(-1.0, 1.0))
    if name in VALUE_NEEDED:
        raise Refused(f"activation `{name}` is not one of Keras's", "a clip is written "
                      "as Keras's ReLU(max_value=...) or hard_tanh")
    if not isinstance(name, str):
        raise Refused("a custom activation function has no cnndsl equivalent",
                      f"use one of: {', '.join(ACTIVATIONS)}")
    if name not in ACTIVATIONS and canonical_activation(name).name not in ACTIVATIONS:
        raise Refused(f"activation `{name}` has no cnndsl equivalent",
                      f"cnndsl has: {', '.join(ACTIVATIONS)}")
    return canonical_activation(name)


def _channels_last(seen: Seen) -> None:
    seen.require("data_format", ("channels_last", None), "cnndsl is channels-last; build "
                 "the model with data_format='channels_last'")


def _padding(seen: Seen) -> str:
    seen.require("padding", ("valid", "same", CAUSAL), "cnndsl pads `same`, `valid` or, "
                 "in 1-D, `causal`")
    return str(seen.get("padding", "valid"))


def _sliding(seen: Seen) -> dict[str, Any]:
    """Kernel, stride, padding, activation, bias and dilation, shared by convolutions."""
    _channels_last(seen)
    if seen.get("lora_rank"):
        seen.require("lora_rank", (None,), "merge the LoRA weights into the kernel first")
    fields: dict[str, Any] = dict(
        kernel=seen.sizes("kernel_size"), stride=seen.sizes("strides"),
        padding=_padding(seen), activation=activation(seen),
        bias=bool(seen.get("use_bias", True)), dilation=seen.sizes("dilation_rate"))
    if fields["padding"] == CAUSAL:  # version 3: D*(K-1) before, as Keras's Conv1D
        fields["pads"] = causal_pads(fields["kernel"], fields["dilation"])
    return fields


def conv(seen: Seen) -> Layer:
    return Conv(**_sliding(seen), filters=int(seen.get("filters")),
                           groups=int(seen.get("groups", 1)))


def dwconv(seen: Seen) -> Layer:
    return DWConv(**_sliding(seen), multiplier=int(seen.get("depth_multiplier", 1)))


def sepconv(seen: Seen) -> Layer:
    return SepConv(**_sliding(seen), filters=int(seen.get("filters")),
                   multiplier=int(seen.get("depth_multiplier", 1)))


def deconv(seen: Seen) -> Layer:
    fields = _sliding(seen)
    if max(fields["dilation"]) > 1:
        raise Refused("a dilated transposed convolution has no cnndsl equivalent",
                      "cnndsl's deconv has no dilation")
    if fields["padding"] == CAUSAL:
        raise Refused("a causal transposed convolution has no cnndsl equivalent",
                      "cnndsl's deconv pads `same`, `valid` or `pad=`")
    fields["outpad"] = (0,) * seen.rank  # as the front end reads a deconv without one
    if seen.get("output_padding") is not None:  # version 3
        fields.update(_output_padding(seen, fields))
    return Deconv(**fields, filters=int(seen.get("filters")))


def _output_padding(seen: Seen, fields: dict[str, Any]) -> dict[str, Any]:
    """Keras's output_padding as PyTorch's padding and output_padding (`pad=`, `outpad=`).

    TensorFlow computes the transposed convolution of the output size Keras asks for
    (`out`) as the gradient of a convolution of `out` to the input: for `same`, the
    full (n-1)*S + K positions are cut by that convolution's padding before, half of
    max((n-1)*S + K - out, 0); what is left past the full output is zeros (and bias)."""
    pads, outpad = [], []
    for n, k, s, o in zip(seen.in_shapes[0][:-1], fields["kernel"], fields["stride"],
                          seen.out_shape[:-1]):
        full = (n - 1) * s + k
        before = max(full - o, 0) // 2 if fields["padding"] == "same" else 0
        pads.append((before, max(full - before - o, 0)))
        outpad.append(max(o - (full - before), 0))
    return dict(padding=EXPLICIT, pads=tuple(pads), outpad=tuple(outpad))


def dense(seen: Seen) -> Layer:
    """On a sequence, image or volume, a Dense acts on the channels at each position: a
    1x1 convolution, written `conv 1` as a person would (`dense` there draws the warning
    that `flatten` was probably meant); its kernel gets the 1x1 axes (`WEIGHT_SHAPES`)."""
    if seen.get("lora_rank"):
        seen.require("lora_rank", (None,), "merge the LoRA weights into the kernel first")
    units, fn, bias = int(seen.get("units")), activation(seen), bool(seen.get("use_bias", True))
    if seen.rank == 0:
        return Dense(units, fn, bias)
    ones = (1,) * seen.rank
    return Conv(kernel=ones, stride=ones, padding="valid", activation=fn, bias=bias,
                dilation=ones, filters=units, groups=1)


def pool(kind: type[MaxPool] | type[AvgPool]) -> Callable[[Seen], Layer]:
    def read(seen: Seen) -> Layer:
        _channels_last(seen)
        kernel = seen.sizes("pool_size", 2)
        stride = seen.sizes("strides") if seen.get("strides") is not None else kernel
        return kind(kernel=kernel, stride=stride, padding=_padding(seen))
    return read


def global_pool(kind: type[GAP] | type[GMP]) -> Callable[[Seen], Layer]:
    def read(seen: Seen) -> Layer:
        _channels_last(seen)
        return kind(bool(seen.get("keepdims", False)))
    return read


def _channel_axis(seen: Seen, step: str) -> None:
    """Refuse a normalisation over anything but the last (channel) axis."""
    axis = seen.get("axis", -1)
    axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    rank = len(seen.in_shapes[0])
    if [a % (rank + 1) if a < 0 else a for a in axes] != [rank]:
        raise Refused(f"axis={axis!r} normalises another axis than the channels",
                      f"cnndsl's {step} normalises the last (channel) axis")


def batchnorm(seen: Seen) -> Layer:
    _channel_axis(seen, "batchnorm")
    seen.require("renorm", (False, None), "cnndsl's batchnorm has no batch renormalisation")
    return BatchNorm(float(seen.get("epsilon", 0.001)), float(seen.get("momentum", 0.99)),
                     bool(seen.get("scale", True)), bool(seen.get("center", True)))


def layernorm(seen: Seen) -> Layer:
    _channel_axis(seen, "layernorm")
    seen.require("rms_scaling", (False, None), "cnndsl's layernorm subtracts the mean "
                 "(no RMS scaling)")
    return LayerNorm(float(seen.get("epsilon", 0.001)), bool(seen.get("scale", True)),
                     bool(seen.get("center", True)))


def rescale(seen: Seen) -> Layer:
    scale, offset = seen.get("scale", 1.0), seen.get("offset", 0.0)
    if not all(isinstance(v, (int, float)) for v in (scale, offset)):
        raise Refused("a per-channel scale or offset has no cnndsl equivalent",
                      "cnndsl's rescale takes one number for each")
    return Rescale(float(scale), float(offset))


def normalize(seen: Seen) -> Layer:
    """Adapted statistics (mean, variance, count) are weights; constants are options,
    one number or one per channel."""
    _channel_axis(seen, "normalize")
    seen.require("invert", (False, None), "cnndsl's normalize does not invert")
    mean, variance = seen.get("mean"), seen.get("variance")
    if mean is None and variance is None:
        return Normalize()
    if mean is None or variance is None:
        raise Refused("a Normalization with only one of mean and variance",
                      "give both, or adapt the layer")
    m, v = (tuple(float(x) for x in np.ravel(np.asarray(a, dtype=np.float64)))
            for a in (mean, variance))
    channels = seen.in_shapes[0][-1]
    if len(m) != len(v) or len(m) not in (1, channels):
        raise Refused("mean and variance are neither one number nor one per channel",
                      "cnndsl's normalize takes one number, or one per channel, for each")
    return Normalize(m, v)


def crop(seen: Seen) -> Layer:
    _channels_last(seen)
    return Crop(seen.pairs("cropping"))


def dropout(seen: Seen) -> Layer:
    """`noise_shape` without the batch axis; Keras's None (the input's size) made explicit."""
    noise = seen.get("noise_shape")
    if noise is None:
        return Dropout(float(seen.get("rate")))
    shape = seen.in_shapes[0]
    dims = tuple(noise)[1:]
    if len(dims) != len(shape):
        raise Refused(f"noise_shape={noise!r} does not have one axis per input axis",
                      "give noise_shape the input's rank, batch axis first")
    return Dropout(float(seen.get("rate")),
                   tuple(n if d is None else int(d) for d, n in zip(dims, shape)))


def zeropad(seen: Seen) -> Layer:
    _channels_last(seen)
    return ZeroPad(seen.pairs("padding"))


def upsample(seen: Seen) -> Layer:
    _channels_last(seen)
    seen.require("interpolation", ("nearest", "bilinear"), "cnndsl's upsample repeats "
                 "pixels (nearest neighbour) or interpolates them (`bilinear`)")
    return Upsample(seen.sizes("size", 2), seen.get("interpolation") == "bilinear")


def reshape(seen: Seen) -> Layer:
    return Reshape(tuple(seen.out_shape))  # Keras's -1 already resolved


def flatten(seen: Seen) -> Layer:
    _channels_last(seen)
    return Flatten()


def activation_layer(seen: Seen) -> Layer:
    fn = activation(seen, fused=False)
    assert fn is not None
    return ActivationStep(fn)


def relu_layer(seen: Seen) -> Layer:
    """`ReLU(max_value=6)` is relu6; a threshold or a negative slope has no word."""
    if seen.get("negative_slope", 0.0) or seen.get("threshold", 0.0):
        raise Refused("ReLU with a threshold or a negative slope has no cnndsl equivalent",
                      "use LeakyReLU, or a plain ReLU")
    top = seen.get("max_value")
    if top is not None and float(top) <= 0.0:
        raise Refused(f"ReLU(max_value={top}) is constant 0 or less", "give a max_value "
                      "above 0, or leave the layer out")
    if top is not None and float(top) != 6.0:  # version 3: min(max(x, 0), top)
        return ActivationStep(Activation("clip", bounds=(0.0, float(top))))
    return ActivationStep(canonical_activation("relu" if top is None else "relu6"))


def leaky_relu_layer(seen: Seen) -> Layer:
    slope = seen.get("negative_slope", seen.get("alpha", 0.3))
    return ActivationStep(Activation("leaky_relu", float(slope)))


def elu_layer(seen: Seen) -> Layer:
    alpha = float(seen.get("alpha", 1.0))
    return ActivationStep(Activation("elu", None if alpha == 1.0 else alpha))  # `elu=A`


def softmax_layer(seen: Seen) -> Layer:
    seen.require("axis", (-1, len(seen.in_shapes[0])), "cnndsl's softmax is over the last "
                 "axis")
    return ActivationStep(canonical_activation("softmax"))


def merge(kind: type[Layer]) -> Callable[[Seen], Layer]:
    def read(seen: Seen) -> Layer:
        return kind()
    return read


def concat(seen: Seen) -> Layer:
    seen.require("axis", (-1, len(seen.in_shapes[0])), "cnndsl concatenates along the "
                 "channel (last) axis")
    return Concat()


def _dims(base: str, read: Callable[[Seen], Layer], dims=(1, 2, 3)) -> dict:
    return {f"{base}{d}D": read for d in dims}


def _dims_suffix(base: str, suffix: str, read: Callable[[Seen], Layer], dims=(1, 2, 3)) -> dict:
    return {f"{base}{d}D{suffix}": read for d in dims}


# Keras class name -> reader. Models (Functional, Sequential) are inlined by the walker.
LAYERS: dict[str, Callable[[Seen], Layer]] = {
    **_dims("Conv", conv),
    **_dims("DepthwiseConv", dwconv, (1, 2)),
    **_dims("SeparableConv", sepconv, (1, 2)),
    **_dims_suffix("Conv", "Transpose", deconv),
    **_dims("MaxPooling", pool(MaxPool)),
    **_dims("AveragePooling", pool(AvgPool)),
    **_dims("GlobalAveragePooling", global_pool(GAP)),
    **_dims("GlobalMaxPooling", global_pool(GMP)),
    **_dims("ZeroPadding", zeropad),
    **_dims("UpSampling", upsample),
    **_dims("Cropping", crop),
    "LayerNormalization": layernorm, "Rescaling": rescale, "Normalization": normalize,
    "Dense": dense, "Flatten": flatten, "Dropout": dropout, "Reshape": reshape,
    "BatchNormalization": batchnorm, "Activation": activation_layer, "ReLU": relu_layer,
    "LeakyReLU": leaky_relu_layer, "ELU": elu_layer, "Softmax": softmax_layer,
    "Add": merge(Add), "Multiply": merge(Mul), "Average": merge(Avg),
    "Maximum": merge(Max), "Concatenate": concat,
}

# Keras layers that may stand as a fused activation (`Conv2D(activation=ELU(0.5))`).
ACTIVATION_LAYERS = ("ReLU", "LeakyReLU", "ELU")

# Classes whose weights the catalogue declares in another shape: the same numbers, in the
# same order, with axes of size 1 added (a Dense's kernel as a 1x1 convolution's).
WEIGHT_SHAPES = frozenset({"Dense"})

# Keras classes a later language version will read, and the step each will be.
NOT_YET: dict[str, str] = {}

MODELS = ("Functional", "Sequential", "Model")

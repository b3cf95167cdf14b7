"""The Keras backend: a typed network as a real `keras.Model` (Keras 3, functional API).

The only module of cnndsl that imports Keras or TensorFlow, and only when a function
here is called, so `shapes`, `check`, `run` and `compile --emit python` never pay for it.
Each layer kind has one method, named after the kind, returning a `LayerSpec` (the Keras
class and its arguments); the model builder instantiates it and the source emitter
(`keras_source.py`) prints it, so the two cannot disagree. Layer names are the IR's
names, so weights move between the backends by name.

Every class a model is made of is one of Keras's own, so a saved `.keras` file loads
with nothing but Keras: no class of cnndsl is registered or needed. A leaky_relu with a
slope of its own, fused into a layer, is that layer's `activation=LeakyReLU(...)`, a
Keras layer Keras serialises by itself.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from math import prod
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import CnnError
from ...graph.ir import Graph, Node
from ...layers.activations import LEAKY_RELU_DEFAULT_SLOPE, Activation
from . import (
    norm_specs,
    padding,  # version 3: padding
)
from .rearrange import RearrangeSpecs
from .specs import KERAS_CLASSES, LayerSpec, chain_of


def _keras():
    try:
        import keras
    except ImportError as e:  # pragma: no cover - depends on the installation
        raise CnnError("the Keras backend needs TensorFlow", hint="pip install "
                       "'cnndsl[keras]'") from e
    return keras



def keras_module():
    """Keras, TensorFlow imported (seconds, the first time)."""
    return _keras()


_OOM_SHAPE = re.compile(r"OOM when allocating tensor with shape\s*\[([\d, ]*)\]")


def out_of_memory(error: BaseException) -> str:
    """What ran out of memory, if `error` says so (Python's `MemoryError`, TensorFlow's
    `ResourceExhaustedError`, a C++ `std::bad_alloc` surfaced as an exception), else ""."""
    if isinstance(error, MemoryError):
        return "Python could not allocate memory"
    if "bad_alloc" in str(error):
        return "a C++ library could not allocate memory (std::bad_alloc)"
    try:
        from tensorflow.errors import ResourceExhaustedError
    except ImportError:  # pragma: no cover - depends on the installation
        return ""
    if not isinstance(error, ResourceExhaustedError):
        return ""
    shape = _OOM_SHAPE.search(str(error))
    if shape is None:
        return "TensorFlow could not allocate memory"
    dims = ", ".join(d.strip() for d in shape.group(1).split(","))
    return f"TensorFlow could not allocate a tensor of shape ({dims})"


class KerasSpecs(RearrangeSpecs):
    """One method per layer kind: the Keras layer that computes the node."""

    def spec(self, node: Node) -> LayerSpec | tuple[LayerSpec, ...]:
        method = getattr(self, node.kind, None)
        if method is None:
            raise CnnError(f"the Keras backend cannot build `{node.kind}`", node.span,
                           "`cnndsl run` runs it with NumPy, which can")
        try:
            spec = method(node, node.layer)
        except norm_specs.Unbuildable as e:  # an activation refused, located at its step
            raise CnnError(e.message, node.span, e.hint) from None
        if getattr(node.layer, "pads", None) and node.kind in WINDOWED:  # version 3: padding
            spec = padding.windowed(node, spec)
        return spec

    @staticmethod
    def _cls(node: Node, base: str, suffix: str = "") -> str:
        """`Conv2D` for a 2-D `conv`; a located error if Keras has no such layer."""
        dims = len(node.in_shapes[0]) - 1
        name = f"{base}{dims}D{suffix}"
        if name not in KERAS_CLASSES:
            raise CnnError(f"Keras has no {name} layer for this {dims}-D `{node.kind}`",
                           node.span, "the NumPy backend can run it (`cnndsl run`); Keras "
                           "cannot build it")
        return name

    def conv(self, node, layer):
        return LayerSpec(self._cls(node, "Conv"), (layer.filters, layer.kernel), dict(
            strides=layer.stride, padding=layer.padding, dilation_rate=layer.dilation,
            groups=layer.groups, activation=_activation(layer.activation),
            use_bias=layer.bias, name=node.name))

    def dwconv(self, node, layer):
        return LayerSpec(self._cls(node, "DepthwiseConv"), (layer.kernel,), dict(
            strides=layer.stride, padding=layer.padding, depth_multiplier=layer.multiplier,
            dilation_rate=layer.dilation, activation=_activation(layer.activation),
            use_bias=layer.bias, name=node.name))

    def sepconv(self, node, layer):
        return LayerSpec(self._cls(node, "SeparableConv"), (layer.filters, layer.kernel), dict(
            strides=layer.stride, padding=layer.padding, dilation_rate=layer.dilation,
            activation=_activation(layer.activation), use_bias=layer.bias, name=node.name,
            **_only(depth_multiplier=layer.multiplier if layer.multiplier > 1 else None)))

    def deconv(self, node, layer):
        return LayerSpec(self._cls(node, "Conv", "Transpose"), (layer.filters, layer.kernel),
                         dict(strides=layer.stride, padding=layer.padding,
                              activation=_activation(layer.activation), use_bias=layer.bias,
                              name=node.name))

    def dense(self, node, layer):
        return LayerSpec("Dense", (layer.units,), dict(
            activation=_activation(layer.activation), use_bias=layer.bias, name=node.name))

    def maxpool(self, node, layer):
        if layer.pads or layer.ceil:  # version 3: padding
            return padding.pool(node, self._cls(node, "MaxPooling"), _pool_stride(layer))
        return LayerSpec(self._cls(node, "MaxPooling"), (layer.kernel,), dict(
            strides=_pool_stride(layer), padding=layer.padding, name=node.name))

    def avgpool(self, node, layer):
        if layer.pads or layer.ceil or layer.include_pad:  # version 3: padding
            return padding.pool(node, self._cls(node, "AveragePooling"), _pool_stride(layer))
        return LayerSpec(self._cls(node, "AveragePooling"), (layer.kernel,), dict(
            strides=_pool_stride(layer), padding=layer.padding, name=node.name))

    def gap(self, node, layer):
        return LayerSpec(self._cls(node, "GlobalAveragePooling"), (),
                         _only(keepdims=layer.keepdims or None, name=node.name))

    def gmp(self, node, layer):
        return LayerSpec(self._cls(node, "GlobalMaxPooling"), (),
                         _only(keepdims=layer.keepdims or None, name=node.name))

    def flatten(self, node, layer):
        if layer.chw:
            return self.flatten_chw(node, layer)
        return LayerSpec("Flatten", (), dict(name=node.name))

    def dropout(self, node, layer):
        noise = (None, *layer.noise) if layer.noise else None  # None: the batch axis
        return LayerSpec("Dropout", (layer.rate,), _only(noise_shape=noise, name=node.name))

    def batchnorm(self, node, layer):
        return LayerSpec("BatchNormalization", (), _only(
            epsilon=layer.eps, momentum=layer.momentum, scale=None if layer.scale else False,
            center=None if layer.center else False, name=node.name))

    def layernorm(self, node, layer):
        return LayerSpec("LayerNormalization", (), _only(
            axis=-1, epsilon=layer.eps, scale=None if layer.scale else False,
            center=None if layer.center else False, name=node.name))

    def rescale(self, node, layer):
        return LayerSpec("Rescaling", (layer.scale,), _only(offset=layer.offset or None,
                                                             name=node.name))

    def normalize(self, node, layer):
        mean, variance = layer.mean, layer.variance
        if mean is not None and len(mean) == 1:
            mean, variance = mean[0], variance[0]
        elif mean is not None:
            mean, variance = list(mean), list(variance)
        return LayerSpec("Normalization", (), _only(axis=-1, mean=mean, variance=variance,
                                                    name=node.name))

    def crop(self, node, layer):
        pads = layer.pads[0] if len(layer.pads) == 1 else layer.pads
        return LayerSpec(self._cls(node, "Cropping"), (pads,), dict(name=node.name))

    def zeropad(self, node, layer):
        pads = layer.pads[0] if len(layer.pads) == 1 else layer.pads
        return LayerSpec(self._cls(node, "ZeroPadding"), (pads,), dict(name=node.name))

    def upsample(self, node, layer):
        if layer.bilinear:
            return self.upsample_bilinear(node, layer)
        size = layer.factors[0] if len(layer.factors) == 1 else layer.factors
        return LayerSpec(self._cls(node, "UpSampling"), (size,), dict(name=node.name))

    def reshape(self, node, layer):
        return LayerSpec("Reshape", (layer.shape,), dict(name=node.name))

    def activation(self, node, layer):
        fn = layer.function
        v3 = norm_specs.activation(fn)
        if isinstance(v3, LayerSpec):  # `elu=0.5` as ELU(alpha=0.5), ...
            return LayerSpec(v3.cls, v3.args, {**v3.kwargs, "name": node.name})
        if v3 is not None:
            return LayerSpec("Activation", (v3,), dict(name=node.name))
        if fn.name == "leaky_relu" and fn.alpha != LEAKY_RELU_DEFAULT_SLOPE:
            return LayerSpec("LeakyReLU", (), dict(negative_slope=fn.alpha, name=node.name))
        return LayerSpec("Activation", (_keras_name(fn),), dict(name=node.name))

    def add(self, node, layer):
        return LayerSpec("Add", (), dict(name=node.name))

    def mul(self, node, layer):
        return LayerSpec("Multiply", (), dict(name=node.name))

    def avg(self, node, layer):
        return LayerSpec("Average", (), dict(name=node.name))

    def max(self, node, layer):
        return LayerSpec("Maximum", (), dict(name=node.name))

    def concat(self, node, layer):
        return LayerSpec("Concatenate", (), dict(axis=-1, name=node.name))

    # version 3: normalisation and activations
    groupnorm = norm_specs.groupnorm
    instancenorm = norm_specs.instancenorm
    lrn = norm_specs.lrn
    prelu = norm_specs.prelu

    # version 3: padding
    def pad(self, node, layer):
        return padding.pad_step(node)


WINDOWED = ("conv", "dwconv", "sepconv", "deconv")  # version 3: what `pad=` adapts


def _only(**kwargs) -> dict[str, Any]:
    """Keyword arguments without the None ones: an option left at Keras's default is not
    passed, so version-1 layers are built (and printed) with the arguments they always had."""
    return {key: value for key, value in kwargs.items() if value is not None}


def _pool_stride(layer):
    """None (Keras: the window) when the stride is the window, as it is by default."""
    return None if layer.stride == layer.kernel else layer.stride


def _activation(activation: Activation | None) -> str | LayerSpec | None:
    """A fused activation: Keras's name for it, or for a leaky_relu whose slope is not
    Keras's default a `LeakyReLU` layer (Keras's activation functions are serialised by
    name only, so `leaky_relu` with another slope would need a class of cnndsl's)."""
    if activation is None:
        return None
    v3 = norm_specs.activation(activation)  # version 3's: by name, a layer, or refused
    if v3 is not None:
        return v3
    if activation.name == "leaky_relu" and activation.alpha != LEAKY_RELU_DEFAULT_SLOPE:
        return LayerSpec("LeakyReLU", (), dict(negative_slope=float(activation.alpha or 0.0)))
    return _keras_name(activation)


def _keras_name(activation: Activation) -> str:
    """Keras's own name: `hard_swish` is `hard_silu` there (it reads both)."""
    return "hard_silu" if activation.name == "hard_swish" else activation.name


def merge_order(node: Node) -> list[int]:
    """A node's inputs, broadcasting branches first for element-wise merges.

    Keras 3's TensorFlow `ops.add` treats a second operand that squeezes to one axis as a
    bias and adds it along the channel axis, wrongly when that axis is not the channels
    (`add { id | dense 1 }` on a batch of 2). Merges are commutative, so the smaller
    operands go first, where that rule never applies."""
    if node.kind not in ("add", "avg", "mul", "max") or len(set(node.in_shapes)) == 1:
        return list(node.inputs)
    order = sorted(range(len(node.inputs)), key=lambda i: prod(node.in_shapes[i]))
    return [node.inputs[i] for i in order]


# -- building a model -------------------------------------------------------------------------

def _instantiate(spec: LayerSpec):
    """The Keras layer, and the layers among its arguments (a fused `LeakyReLU`)."""
    kwargs = {k: _instantiate(v) if isinstance(v, LayerSpec) else v
              for k, v in spec.kwargs.items()}
    return getattr(_keras().layers, spec.cls)(*spec.args, **kwargs)


def build_model(graph: Graph, weights: Mapping[str, np.ndarray] | None = None):
    """A `keras.Model` named after the graph, with `weights` loaded if given."""
    if weights is None:
        return _build(graph)
    with _no_initial_draws():
        model = _build(graph)
    set_weights(model, graph, weights)
    return model


@contextlib.contextmanager
def _no_initial_draws():
    """While building a model whose weights are overwritten at once, Keras's
    Glorot-uniform initialiser returns zeros instead of drawing 25M random numbers for
    ResNet-50 (a quarter of the build). The layers' configs still name Glorot-uniform,
    so a saved model is unchanged; the class is patched only for this block."""
    glorot = _keras().initializers.GlorotUniform
    draw = glorot.__call__

    def zeros(self, shape, dtype=None):
        return _keras().ops.zeros(shape, dtype=dtype)

    glorot.__call__ = zeros
    try:
        yield
    finally:
        glorot.__call__ = draw


def _build(graph: Graph):
    keras = _keras()
    specs = KerasSpecs()
    tensors: dict[int, Any] = {}
    for node in graph.nodes:
        if node.kind == "input":
            tensors[node.index] = keras.Input(shape=node.shape, name=node.name)
            continue
        args = [tensors[i] for i in merge_order(node)]
        x = args if node.layer.arity == "many" else args[0]
        for spec in chain_of(specs.spec(node)):
            x = _instantiate(spec)(x)
        tensors[node.index] = x
    return keras.Model(_one_or_list([tensors[i] for i in graph.inputs]),
                       _one_or_list([tensors[o] for o in graph.outputs]), name=graph.name)


def _one_or_list(tensors: list) -> Any:
    """One input or output as a plain tensor, several as a list, as Keras users write
    them (a model of one input called with a list warns, and the reverse)."""
    return tensors[0] if len(tensors) == 1 else tensors


def build_seeded(graph: Graph, seed: int = 0):
    """`build_model` with the weights `cnndsl run --seed` uses; they are drawn in a
    second thread while Keras builds the layers (NumPy's generator releases the GIL)."""
    from ..weights import init_weights

    with ThreadPoolExecutor(1) as pool:
        weights = pool.submit(init_weights, graph, seed)
        with _no_initial_draws():
            model = _build(graph)
        set_weights(model, graph, weights.result())
    return model


# -- weights both ways --------------------------------------------------------------------------

# Keras 3 calls a depthwise layer's kernel `kernel`; the weights format, like Keras 2 and
# the separable layers, calls it `depthwise_kernel`.
_RENAMED = {("DepthwiseConv1D", "kernel"): "depthwise_kernel",
            ("DepthwiseConv2D", "kernel"): "depthwise_kernel"}


def set_weights(model, graph: Graph, weights: Mapping[str, np.ndarray]) -> None:
    """Load `LAYER/VARIABLE` arrays into the model's layers of the same names."""
    from ..weights import check_weights

    check_weights(graph, weights)
    for node in graph.nodes:
        variables = node.layer.variables(node.in_shapes)
        if variables:
            layer = model.get_layer(node.name)
            layer.set_weights([np.asarray(weights[f"{node.name}/{name}"],
                                          np.int64 if var.dtype == "int" else None)
                               for name, var in variables.items()])
            if hasattr(layer, "finalize_state"):  # Normalization reads its weights here
                layer.finalize_state()


def get_weights(model) -> dict[str, np.ndarray]:
    """Every weight of a Keras model as `LAYER/VARIABLE` arrays (the `.npz` format).

    Needs no `.cnn` file: names come from the model's layers and variables, so a model
    trained and saved in Keras exports directly."""
    out = {}
    for layer in model.layers:
        for var in layer.weights:
            name = var.path.split("/")[-1] if hasattr(var, "path") else var.name
            name = _RENAMED.get((type(layer).__name__, name), name)
            out[f"{layer.name}/{name}"] = np.asarray(var.numpy())
    return out


def load_model(path):
    """A `.keras` file, loaded in Keras's safe mode (no arbitrary code is run)."""
    keras = _keras()
    return keras.saving.load_model(path, safe_mode=True, compile=False,
                                   custom_objects=_earlier_objects())


def _earlier_objects() -> dict:
    """The class that models compiled by earlier versions of cnndsl name for a fused
    leaky_relu of their own slope (`cnndsl>LeakyReLUActivation`), so that `cnndsl
    weights` and `--weights` still read them. Given to this one load, never registered:
    what cnndsl writes now needs no class of its own."""
    keras = _keras()

    class LeakyReLUActivation:
        def __init__(self, negative_slope: float) -> None:
            self.negative_slope = negative_slope

        def __call__(self, x):
            return keras.activations.leaky_relu(x, negative_slope=self.negative_slope)

        def get_config(self) -> dict:
            return {"negative_slope": self.negative_slope}

        @classmethod
        def from_config(cls, config: dict):
            return cls(**config)

    return {"cnndsl>LeakyReLUActivation": LeakyReLUActivation}


def save_model(model, path: Path | None) -> None:
    """Save a `.keras` file atomically, or to standard output when `path` is None (Keras
    insists on the ending, so the temporary file has it too)."""
    from ...support.files import staged, staged_stdout

    with staged(path, suffix=".keras") if path is not None else \
            staged_stdout(suffix=".keras") as tmp:
        model.save(tmp)


def saved_config(graph: Graph) -> dict:
    """What a `.keras` file of the network holds as `config.json` (Keras's serialisation,
    through JSON), the model built without drawing its weights: what a checkpoint of it
    must hold (`cnndsl train --resume`)."""
    import json

    with _no_initial_draws():
        model = _build(graph)
    return json.loads(json.dumps(_keras().saving.serialize_keras_object(model)))

"""The Keras backend: a typed network as a real `keras.Model` (Keras 3, functional API).

The only module of cnndsl that imports Keras or TensorFlow, and only when a function
here is called, so `shapes`, `check` and `run` never pay for it. Each layer kind has one
method, named after the kind, that returns the Keras layer for a node; layer names are
the IR's names, so weights move between the backends by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import CnnError
from ..ir import Graph, Node
from ..weights import check_weights


def _keras():
    try:
        import keras
    except ImportError as e:  # pragma: no cover - depends on the installation
        raise CnnError("the Keras backend needs TensorFlow: pip install 'cnndsl[keras]'") \
            from e
    return keras


class KerasBuilder:
    """Makes Keras layers for nodes; `build` wires them into a functional model."""

    def __init__(self) -> None:
        self.keras = _keras()
        self.layers = self.keras.layers

    def build(self, graph: Graph, weights: Mapping[str, np.ndarray] | None = None):
        """A `keras.Model` named after the graph, with `weights` loaded if given."""
        tensors: dict[int, Any] = {}
        inputs = self.keras.Input(shape=graph.input.shape, name="input")
        tensors[0] = inputs
        for node in graph.nodes[1:]:
            method = getattr(self, node.kind, None)
            if method is None:
                raise CnnError(f"the Keras backend cannot build `{node.kind}`", node.span)
            layer = method(node, node.layer)
            args = [tensors[i] for i in node.inputs]
            tensors[node.index] = layer(args if node.layer.arity == "many" else args[0])
        model = self.keras.Model(inputs, tensors[len(graph.nodes) - 1], name=graph.name)
        if weights is not None:
            set_weights(model, graph, weights)
        return model

    def _cls(self, node: Node, base: str, suffix: str = ""):
        """`Conv2D` for a 2-D `conv`; a located error if Keras has no such layer."""
        dims = len(node.in_shapes[0]) - 1
        name = f"{base}{dims}D{suffix}"
        cls = getattr(self.layers, name, None)
        if cls is None:
            raise CnnError(f"Keras has no {name} layer for this {dims}-D `{node.kind}`",
                           node.span, "the NumPy backend can run it; Keras cannot build it")
        return cls

    # -- one method per layer kind ----------------------------------------------------------
    def conv(self, node, layer):
        return self._cls(node, "Conv")(
            layer.filters, layer.kernel, strides=layer.stride, padding=layer.padding,
            dilation_rate=layer.dilation, groups=layer.groups,
            activation=_activation(layer.activation), use_bias=layer.bias, name=node.name)

    def dwconv(self, node, layer):
        return self._cls(node, "DepthwiseConv")(
            layer.kernel, strides=layer.stride, padding=layer.padding,
            depth_multiplier=layer.multiplier, dilation_rate=layer.dilation,
            activation=_activation(layer.activation), use_bias=layer.bias, name=node.name)

    def sepconv(self, node, layer):
        return self._cls(node, "SeparableConv")(
            layer.filters, layer.kernel, strides=layer.stride, padding=layer.padding,
            dilation_rate=layer.dilation, activation=_activation(layer.activation),
            use_bias=layer.bias, name=node.name)

    def deconv(self, node, layer):
        return self._cls(node, "Conv", "Transpose")(
            layer.filters, layer.kernel, strides=layer.stride, padding=layer.padding,
            activation=_activation(layer.activation), use_bias=layer.bias, name=node.name)

    def dense(self, node, layer):
        return self.layers.Dense(layer.units, activation=_activation(layer.activation),
                                 use_bias=layer.bias, name=node.name)

    def maxpool(self, node, layer):
        return self._cls(node, "MaxPooling")(layer.kernel, strides=layer.stride,
                                             padding=layer.padding, name=node.name)

    def avgpool(self, node, layer):
        return self._cls(node, "AveragePooling")(layer.kernel, strides=layer.stride,
                                                 padding=layer.padding, name=node.name)

    def gap(self, node, layer):
        return self._cls(node, "GlobalAveragePooling")(name=node.name)

    def gmp(self, node, layer):
        return self._cls(node, "GlobalMaxPooling")(name=node.name)

    def flatten(self, node, layer):
        return self.layers.Flatten(name=node.name)

    def dropout(self, node, layer):
        return self.layers.Dropout(layer.rate, name=node.name)

    def batchnorm(self, node, layer):
        return self.layers.BatchNormalization(epsilon=layer.eps, momentum=layer.momentum,
                                              name=node.name)

    def zeropad(self, node, layer):
        pads = layer.pads[0] if len(layer.pads) == 1 else layer.pads
        return self._cls(node, "ZeroPadding")(pads, name=node.name)

    def upsample(self, node, layer):
        size = layer.factors[0] if len(layer.factors) == 1 else layer.factors
        return self._cls(node, "UpSampling")(size, name=node.name)

    def reshape(self, node, layer):
        return self.layers.Reshape(layer.shape, name=node.name)

    def activation(self, node, layer):
        return self.layers.Activation(_activation(layer.function), name=node.name)

    def add(self, node, layer):
        return self.layers.Add(name=node.name)

    def mul(self, node, layer):
        return self.layers.Multiply(name=node.name)

    def avg(self, node, layer):
        return self.layers.Average(name=node.name)

    def max(self, node, layer):
        return self.layers.Maximum(name=node.name)

    def concat(self, node, layer):
        return self.layers.Concatenate(axis=-1, name=node.name)


def _activation(activation):
    if activation is None:
        return None
    if activation.name == "leaky_relu":
        keras = _keras()
        slope = activation.alpha

        def leaky_relu(x):
            return keras.activations.leaky_relu(x, negative_slope=slope)

        return leaky_relu
    return activation.name


def set_weights(model, graph: Graph, weights: Mapping[str, np.ndarray]) -> None:
    """Load `LAYER/VARIABLE` arrays into the model's layers of the same names."""
    check_weights(graph, weights)
    for node in graph.nodes:
        names = list(node.layer.variables(node.in_shapes))
        if names:
            model.get_layer(node.name).set_weights(
                [np.asarray(weights[f"{node.name}/{v}"]) for v in names])


def get_weights(model, graph: Graph) -> dict[str, np.ndarray]:
    """The model's weights as `LAYER/VARIABLE` arrays, for the NumPy backend."""
    out = {}
    for node in graph.nodes:
        names = list(node.layer.variables(node.in_shapes))
        if names:
            for v, array in zip(names, model.get_layer(node.name).get_weights()):
                out[f"{node.name}/{v}"] = np.asarray(array)
    return out

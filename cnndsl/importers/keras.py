"""A Keras model as cnndsl's IR: the inverse of the Keras backend.

    graph, weights = from_keras(keras.saving.load_model("net.keras", safe_mode=True))

The model's graph is walked as Keras itself runs it (`Function._run_through_graph`:
nodes by decreasing depth), so nested models (a `Model` or `Sequential` used as a layer)
are inlined where they are called. Each Keras layer becomes the catalogue layer that
computes the same function (`keras_layers.LAYERS`), checked against the output shape
Keras gives it; its weights are taken in the order the catalogue declares them, which is
Keras's own. Operations applied to tensors (`inputs + x`, MobileNetV3's hard sigmoid
`ReLU(6.0)(x + 3.0) * (1.0 / 6.0)`) are read by `keras_ops`, a chain of them that is
exactly one activation as that one step; layers keras.applications defines for itself
(ConvNeXt's LayerScale, Inception-ResNet-v2's scaled residual sum) by `keras_apps`.
Nothing here imports Keras: the model object comes from the caller.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from math import prod
from typing import Any

import numpy as np

from ..backends.keras.input_sizes import example_sizes
from ..errors import NOWHERE
from ..graph.ir import Graph, Node
from ..layers import Layer, LayerError
from ..layers.core import Input
from ..layers.shapes import Shape, format_shape
from . import keras_apps, keras_layers, keras_norm
from .imported import Imported, reachable, unique_name
from .keras_apps import APPLICATIONS
from .keras_apps import LAYERS as APPLICATION_LAYERS
from .keras_layers import LAYERS, MODELS, NOT_YET, NOT_YET_HINT, Refused, Seen
from .keras_ops import OPERATIONS, Fused, Readers, fuse, is_operation, read_operation
from .unsupported import Unsupported

__all__ = ["Unsupported", "Imported", "from_keras", "read_layer", "scan_config"]


def layer_label(op: Any) -> str:
    """`layer `conv1` (Conv2D)`, `operation `add` (Add)`: how every message names a Keras
    layer or an operation on tensors."""
    what = "operation" if is_operation(op) else "layer"
    return f"{what} `{getattr(op, 'name', '?')}` ({type(op).__name__})"


@dataclass
class _Walk:
    nodes: list[Node] = field(default_factory=list)
    weights: dict[str, np.ndarray] = field(default_factory=dict)
    origins: dict[str, tuple[str, str]] = field(default_factory=dict)
    used: dict[int, str] = field(default_factory=dict)  # id(layer) -> its node's name

    def run(self, model: Any, inputs: list[int]) -> list[int]:
        """Walk one (possibly nested) model's graph with its inputs bound to nodes."""
        function = getattr(model, "_functional", None) or model
        by_depth = getattr(function, "_nodes_by_depth", None)
        if by_depth is None:
            raise Unsupported(f"{layer_label(model)} is a subclassed model, whose graph is "
                              "Python code", "build it with the functional API or "
                              "keras.Sequential")
        order = [knode for depth in sorted(by_depth, reverse=True) for knode in by_depth[depth]
                 if knode.operation is not None and not knode.is_input]
        readers = Readers(order, list(function.outputs))
        tensors = {id(t): i for t, i in zip(function.inputs, inputs)}
        absorbed: set[int] = set()  # nodes read as part of a fused chain
        for knode in order:
            if id(knode) in absorbed:
                continue
            if any(id(t) not in tensors for t in knode.input_tensors):
                continue  # not computable from these inputs, as Keras skips it
            fused = fuse(knode, readers)
            if fused is not None:
                absorbed |= {id(k) for k in fused.nodes}
                tensors[id(fused.output)] = self.chain(fused, tensors[id(fused.source)])
                continue
            made = self.call(knode, [tensors[id(t)] for t in knode.input_tensors])
            for tensor, index in zip(knode.outputs, made):
                tensors[id(tensor)] = index
        return [tensors[id(t)] for t in function.outputs]

    def call(self, knode: Any, inputs: list[int]) -> list[int]:
        op = knode.operation
        cls = type(op).__name__
        if cls in MODELS or hasattr(op, "_nodes_by_depth") or hasattr(op, "_functional"):
            self.share(op, "model")
            return self.run(op, inputs)
        self.share(op, "layer")
        if len(knode.outputs) != 1:
            raise Unsupported(f"{layer_label(op)} has {len(knode.outputs)} outputs",
                              "cnndsl layers have one output")
        out_shape = _shape(knode.outputs[0])
        if is_operation(op):
            try:
                layer = read_operation(knode)
            except Refused as e:
                raise Unsupported(f"{layer_label(op)}: {e.message}", e.hint) from None
        elif type(op).__module__.startswith(APPLICATIONS) and cls in keras_apps.STEPS:
            return [self.steps(op, inputs, out_shape)]
        else:
            layer = read_layer(op, tuple(self.nodes[i].shape for i in inputs), out_shape)
        return [self.add(layer, inputs, out_shape, op.name, cls, op)]

    def steps(self, op: Any, inputs: list[int], out_shape: Shape) -> int:
        """A layer without weights read as several steps (`keras_apps.STEPS`), each named
        after it; the last gives its output."""
        cls = type(op).__name__
        seen = Seen(cls, op.get_config(), tuple(self.nodes[i].shape for i in inputs),
                    out_shape)
        try:
            steps = keras_apps.STEPS[cls](seen)
        except Refused as e:
            raise Unsupported(f"{layer_label(op)}: {e.message}", e.hint) from None
        made = list(inputs)
        for k, (layer, reads) in enumerate(steps):
            ins = [made[r] for r in reads]
            shape = out_shape if k == len(steps) - 1 else \
                layer.output_shape(tuple(self.nodes[i].shape for i in ins))
            made.append(self.add(layer, ins, shape, op.name, cls))
        return made[-1]

    def chain(self, fused: Fused, source: int) -> int:
        """The step for Keras nodes read together (`relu6(x + 3) * (1/6)`), named after
        the last of them, whose output it is."""
        for knode in fused.nodes:
            self.share(knode.operation, "layer")
        last = fused.nodes[-1].operation
        classes = ", ".join(type(k.operation).__name__ for k in fused.nodes)
        return self.add(fused.layer, [source], _shape(fused.output), last.name, classes)

    def share(self, op: Any, what: str) -> None:
        """Refuse a layer called twice: its weights are shared, which cnndsl cannot say."""
        if id(op) in self.used:
            raise Unsupported(f"{layer_label(op)} is called more than once (shared weights)",
                              f"cnndsl gives every layer its own weights: use a separate "
                              f"{what} for each call")
        self.used[id(op)] = getattr(op, "name", "")

    def add(self, layer: Layer, inputs: list[int], out_shape: Shape, keras_name: str,
            cls: str, op: Any = None) -> int:
        """A node for `layer`, checked against the shape Keras gives, and its weights
        taken from `op`."""
        label = layer_label(op) if op is not None else f"`{keras_name}` ({cls})"
        in_shapes = tuple(self.nodes[i].shape for i in inputs)
        if layer.arity == "one" and len(inputs) != 1:
            raise Unsupported(f"{label} is called on {len(inputs)} tensors", "cnndsl calls it "
                              "on one")
        try:
            computed = layer.output_shape(in_shapes)
        except LayerError as e:  # an operation broadcasting more freely than the merges
            raise Unsupported(f"{label}: {e.message}", e.hint) from None
        if tuple(computed) != tuple(out_shape):  # a Keras semantics cnndsl does not share
            raise Unsupported(f"{label}: Keras gives {format_shape(out_shape)}, "
                              f"cnndsl's `{layer.describe()}` would give "
                              f"{format_shape(computed)}", "please report this model")
        name = self.node_name(keras_name)
        if op is not None and hasattr(op, "get_weights"):
            self.take_weights(op, layer, in_shapes, name)
        self.nodes.append(Node(len(self.nodes), name, layer, tuple(inputs), in_shapes,
                               out_shape, NOWHERE, layer.describe()))
        self.origins[name] = (keras_name, cls)
        return len(self.nodes) - 1

    def node_name(self, keras_name: str) -> str:
        """The Keras name as a cnndsl name, unique in the graph."""
        return unique_name(keras_name, self.nodes)

    def take_weights(self, op: Any, layer: Layer, in_shapes, name: str) -> None:
        declared = layer.variables(in_shapes)
        values = [np.asarray(v) for v in op.get_weights()]
        reshaped = type(op).__name__ in WEIGHT_SHAPES  # the same numbers, another shape
        if len(values) != len(declared):
            raise Unsupported(f"{layer_label(op)} has {len(values)} weight arrays, cnndsl's "
                              f"`{layer.describe()}` has {len(declared)}",
                              "please report this model")
        for (var, spec), value in zip(declared.items(), values):
            if reshaped and value.size == prod(spec.shape):
                value = value.reshape(spec.shape)
            if tuple(value.shape) != spec.shape:
                raise Unsupported(f"{layer_label(op)}: weight `{var}` is {value.shape}, "
                                  f"cnndsl expects {spec.shape}", "please report this model")
            self.weights[f"{name}/{var}"] = value


WEIGHT_SHAPES = keras_layers.WEIGHT_SHAPES | keras_apps.WEIGHT_SHAPES


def _shape(tensor: Any) -> Shape:
    """A Keras tensor's shape without the batch axis; every size must be known."""
    dims = tuple(tensor.shape)[1:]
    if any(d is None for d in dims):
        raise Unsupported(f"the model has a tensor of unknown size {_dims(tensor.shape)}",
                          "give the model's input a fixed shape, e.g. "
                          "keras.Input(shape=(224, 224, 3))")
    return tuple(int(d) for d in dims)


def _dims(shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def read_layer(op: Any, in_shapes: tuple[Shape, ...], out_shape: Shape) -> Layer:
    """The catalogue layer for one Keras layer, or `Unsupported` naming it and its class."""
    cls = type(op).__name__
    module = type(op).__module__
    if not module.startswith("keras."):
        raise Unsupported(f"{layer_label(op)} is a custom class ({module})",
                          "cnndsl reads Keras's own layers only")
    if cls in NOT_YET:
        raise _not_yet(layer_label(op), NOT_YET[cls])
    reader = _reader(module, cls)
    if reader is None:
        raise Unsupported(f"{layer_label(op)}: cnndsl has no step for this Keras layer",
                          _no_step_hint(cls))
    config = op.get_config()
    _check_dtype(op, config)
    try:
        return reader(Seen(cls, config, in_shapes, out_shape))
    except Refused as e:
        raise Unsupported(f"{layer_label(op)}: {e.message}", e.hint) from None


def _reader(module: str, cls: str) -> Callable[[Seen], Layer] | None:
    """Keras's own layers, and those keras.applications defines (ConvNeXt's LayerScale)."""
    if module.startswith("keras.src.layers"):
        return LAYERS.get(cls) or keras_norm.LAYERS.get(cls)
    if module.startswith(APPLICATIONS):
        return APPLICATION_LAYERS.get(cls)
    return None


def _not_yet(label: str, step: str) -> Unsupported:
    return Unsupported(f"{label} is not supported yet: it will be `{step}`",
                       NOT_YET_HINT)


def _no_step_hint(cls: str) -> str:
    if cls == "Lambda":
        return "a Lambda runs Python code, which a .cnn file cannot hold; rewrite it with " \
               "Keras layers"
    return "docs/import.md lists the Keras layers cnndsl reads"


def _check_dtype(op: Any, config: dict) -> None:
    policy = config.get("dtype")
    name = policy.get("config", {}).get("name", "") if isinstance(policy, dict) else policy
    if isinstance(name, str) and name.startswith(("int", "float8")):
        raise Unsupported(f"{layer_label(op)} is quantized (dtype policy `{name}`)",
                          "import the float model before quantizing it")


def from_keras(model: Any, name: str | None = None) -> Imported:
    """The typed graph and weights of a Keras model: its inputs first (in the model's
    order, each named after its Keras input), then its layers; its outputs in order."""
    inputs = list(model.inputs)
    walk = _Walk()
    for tensor in inputs:
        _input_node(walk, tensor, single=len(inputs) == 1)
    outs = walk.run(model, list(range(len(inputs))))
    if all(o < len(inputs) for o in outs):
        raise Unsupported("the model has no layers between its input and its output",
                          "there is nothing to import")
    graph = reachable(Graph(name or model.name, tuple(walk.nodes), ()), len(inputs), outs)
    names = {n.name for n in graph.nodes}
    weights = {k: v for k, v in walk.weights.items() if k.split("/")[0] in names}
    origins = {k: v for k, v in walk.origins.items() if k in names}
    return Imported(graph, weights, origins, str(getattr(model, "name", "model")))


def _input_node(walk: _Walk, tensor: Any, single: bool) -> None:
    """An input node named after the Keras input (`input` for a lone default-named one:
    with several, each name must be a tensor name, `as NAME`)."""
    history = getattr(tensor, "_keras_history", None)
    keras_name = str(getattr(history[0], "name", "input")) if history else "input"
    dims = tuple(tensor.shape)[1:]
    if any(d is None for d in dims):
        example = example_sizes(dims)
        raise Unsupported(f"the model's input `{keras_name}` has unknown sizes "
                          f"{_dims(tensor.shape)}", "give them: `cnndsl import MODEL.keras "
                          f"--input-shape {example}` (in Python, build the model with "
                          "a fixed keras.Input shape)")
    shape = _shape(tensor)
    if not 1 <= len(shape) <= 4:
        raise Unsupported(f"the input has rank {len(shape)}", "cnndsl takes inputs of 1 to "
                          "4 dimensions (batch axis not counted)")
    name = "input" if keras_name == "input" and single else walk.node_name(keras_name)
    walk.nodes.append(Node(len(walk.nodes), name, Input(shape), (), (), shape, NOWHERE,
                           f"input {format_shape(shape)}"))
    walk.origins[name] = (keras_name, "InputLayer")


def scan_config(config: Any) -> None:
    """Refuse, from a `.keras` file's `config.json` alone (no Keras needed), a layer whose
    class no step can express: the same verdict `read_layer` gives, said sooner, and for
    a `Lambda` said at all (safe mode refuses to load one)."""
    inner = config.get("config") if isinstance(config, dict) else None
    if not isinstance(inner, dict):
        return
    for entry in inner.get("layers") or ():
        if not isinstance(entry, dict):
            continue
        cls, module = entry.get("class_name"), str(entry.get("module") or "")
        found = entry.get("config")
        layer = found if isinstance(found, dict) else {}
        label = f"layer `{layer.get('name', entry.get('name', '?'))}` ({cls})"
        if cls in MODELS or module.startswith(("keras.src.models", "keras.models")):
            scan_config(entry)
        elif cls in NOT_YET:
            raise _not_yet(label, NOT_YET[cls])
        elif cls != "InputLayer" and not _scanned_readable(module, str(cls)):
            raise Unsupported(f"{label}: cnndsl has no step for this Keras layer",
                              _no_step_hint(str(cls)))


def _scanned_readable(module: str, cls: str) -> bool:
    """A class named in a config that the walk may read. Operations on tensors are left to
    the walk: whether one is read depends on its constants and its neighbours, and the
    walk's refusal writes the operation out (`conv_1 - conv_2`)."""
    if module == "keras.layers":
        return cls in LAYERS or cls in keras_norm.LAYERS
    if module.startswith(OPERATIONS):
        return True
    return module.startswith(APPLICATIONS) and (cls in APPLICATION_LAYERS
                                                or cls in keras_apps.STEPS)

"""The walk over an ONNX graph, node by node in topological order, building cnndsl's IR.

Every ONNX tensor the walk meets is one of two things:

* a constant (`walk.constants`, a NumPy array): an initializer, a `Constant` node, or
  anything computed from constants alone (the shape arithmetic exporters write, `Shape`
  of a tensor whose size is known included), evaluated here by `folding`;
* a `Value`: the output of an IR node, seen in a `layout`. cnndsl's tensors are
  channels-last; an ONNX tensor of rank > 2 is channels-first (`FIRST`: its axes are
  (N, C, *spatial) of the node's (N, *spatial, C)) as ONNX's Conv reads it, or channels-last
  (`LAST`: the node's own axes), as in cnndsl's own export and tf2onnx's between their
  boundary transposes. A `Transpose` between the two layouts changes only the layout.

The readers (`READERS`, one per operator, in `sliding`, `pointwise` and `shaping`) turn
one ONNX node, or a few read together, into catalogue layers; every layer's output shape
is checked against the one ONNX's shape inference gives, so a semantics cnndsl does not
share is refused, never imported wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# The layouts, the axes of each and the Transpose between them are the ONNX backend's:
# the importer reads what the exporter writes.
from ...backends.onnx.emitter import FIRST, LAST, in_layout, permutation
from ...errors import NOWHERE
from ...graph.ir import Graph, Node
from ...layers import Layer, LayerError
from ...layers.core import Input
from ...layers.shapes import Shape, format_shape
from ..imported import unique_name
from ..unsupported import Unsupported
from .folding import fold
from .naming import by_operator


@dataclass(frozen=True)
class Value:
    """An ONNX tensor computed by IR node `node`, its axes laid out as `layout` says."""

    node: int
    layout: str


def cnndsl_axes(dims: Shape, layout: str) -> Shape:
    """ONNX dims (no batch axis) laid out as `layout` says, as cnndsl's channels-last shape:
    the inverse of the ONNX backend's `in_layout`."""
    return (*dims[1:], dims[0]) if layout == FIRST and len(dims) > 1 else tuple(dims)


Reader = Callable[["Walk", Any], None]
MAX_FOLD_DEPTH = 64  # nodes of shape arithmetic evaluated ahead of the walk, in a row
READERS: dict[str, Reader] = {}


def reads(*op_types: str) -> Callable[[Reader], Reader]:
    """Register a reader for ONNX operators (default domain)."""
    def register(reader: Reader) -> Reader:
        for op in op_types:
            READERS[op] = reader
        return reader
    return register


@dataclass
class Walk:
    """The graph being built, and what is known of every ONNX tensor so far."""

    onnx_graph: Any
    opset: int
    inferred: dict[str, tuple]  # ONNX's inferred shapes (batch axis included), where known
    batch: int | None  # the batch size, or None where it is dynamic
    nodes: list[Node] = field(default_factory=list)
    weights: dict[str, np.ndarray] = field(default_factory=dict)
    origins: dict[str, tuple[str, str]] = field(default_factory=dict)
    values: dict[str, Value] = field(default_factory=dict)
    constants: dict[str, np.ndarray] = field(default_factory=dict)
    consumers: dict[str, list[Any]] = field(default_factory=dict)
    producers: dict[str, Any] = field(default_factory=dict)
    absorbed: set[int] = field(default_factory=set)  # id() of nodes another node read
    orders: dict[str, np.ndarray] = field(default_factory=dict)  # flatten -> dense folding
    padded: dict[str, tuple[Value, tuple]] = field(default_factory=dict)  # Pad -> window
    outputs: set[str] = field(default_factory=set)
    stored: set[str] = field(default_factory=set)  # initializers: the model's weights
    # cnndsl's own export writes a step's padding on its Conv, so a Pad there is a step
    exporter: str = ""
    layer_names: dict[int, str] = field(default_factory=dict)  # id(node) -> module path
    unnamed: set[str] = field(default_factory=set)  # layers named after a tensor: no name

    # -- what a reader asks ---------------------------------------------------------------
    def value(self, onnx_node: Any, k: int = 0) -> Value:
        """Input `k` of a node as a computed tensor; a constant there is refused."""
        name = onnx_node.input[k] if k < len(onnx_node.input) else ""
        if name in self.values:
            return self.values[name]
        if name in self.constants:
            raise self.refuse(onnx_node, f"input {k + 1} is a constant where cnndsl needs "
                              "a computed tensor")
        raise self.refuse(onnx_node, f"input {k + 1} (`{name}`) is not computed by any node")

    def constant(self, onnx_node: Any, k: int, what: str) -> np.ndarray:
        """Input `k` of a node as a constant (a weight, a shape); a computed one refused."""
        name = onnx_node.input[k] if k < len(onnx_node.input) else ""
        if name and self.evaluate(name):
            return self.constants[name]
        raise self.refuse(onnx_node, f"its {what} (input {k + 1}) is computed, not a "
                          "constant", "cnndsl's layers hold their weights and sizes as numbers")

    def optional(self, onnx_node: Any, k: int) -> np.ndarray | None:
        name = onnx_node.input[k] if k < len(onnx_node.input) else ""
        return self.constants[name] if name and self.evaluate(name) else None

    def is_constant(self, name: str) -> bool:
        return name in self.constants

    def shape_of(self, value: Value) -> Shape:
        """The ONNX dims of a computed tensor, batch axis first (1 where it is dynamic)."""
        return (self.batch or 1, *in_layout(self.nodes[value.node].shape, value.layout))

    def channel_axis(self, value: Value) -> int:
        """The ONNX axis (batch counted) holding a computed tensor's channels."""
        rank = len(self.shape_of(value))
        return 1 if value.layout == FIRST and rank > 2 else rank - 1

    def spatial_axes(self, value: Value) -> list[int]:
        """The ONNX axes (batch counted) of a computed tensor's spatial dimensions."""
        rank = len(self.shape_of(value))
        return list(range(2, rank)) if value.layout == FIRST else list(range(1, rank - 1))

    def producer(self, name: str) -> Any | None:
        return self.producers.get(name)

    def users(self, name: str) -> list[Any]:
        """The nodes that read tensor `name`'s values (not a CastLike that takes its type)."""
        return [u for u in self.consumers.get(name, [])
                if u.op_type != "CastLike" or u.input[0] == name]

    def sole_user(self, name: str) -> Any | None:
        """The one node reading tensor `name`, if exactly one does and it is not an output."""
        users = self.users(name)
        return users[0] if len(users) == 1 and name not in self.outputs else None

    def squeezes_spatial(self, onnx_node: Any, name: str, dims: Shape) -> bool:
        """Whether `onnx_node` only drops the size-1 spatial axes of tensor `name`
        of ONNX dims `dims` (N, C, 1, 1): a Flatten from axis 1, a Reshape to (N, C), a
        Squeeze of those axes."""
        if onnx_node.input[0] != name or len(dims) < 3 or any(d != 1 for d in dims[2:]):
            return False
        op, attrs = onnx_node.op_type, attributes(onnx_node)
        if op == "Flatten":
            return int(attrs.get("axis", 1)) == 1
        if op == "Squeeze":
            given = self.optional(onnx_node, 1)
            axes = list(attrs.get("axes", [])) if given is None else list(given.reshape(-1))
            return sorted(a % len(dims) for a in axes) == list(range(2, len(dims)))
        if op == "Reshape" and self.is_constant(onnx_node.input[1]):
            target = [int(t) for t in self.constants[onnx_node.input[1]].reshape(-1)]
            return len(target) == 2 and target[1] in (-1, dims[1]) and target[0] in (
                0, -1, self.batch or 1) and not (target[0] == -1 and target[1] == -1)
        return False

    def fold_node(self, onnx_node: Any) -> bool:
        """Evaluate a node of constants (or `Shape` of a tensor of known size) into
        `constants`; False where it is not one (`folding` says which operators)."""
        if onnx_node.op_type == "Shape" and onnx_node.input[0] in self.values:
            attrs = attributes(onnx_node)
            dims = np.array(self.shape_of(self.values[onnx_node.input[0]]), np.int64)
            self.constants[onnx_node.output[0]] = dims[attrs.get("start", 0):attrs.get("end")]
            return True
        if onnx_node.op_type == "CastLike" and onnx_node.input[0] in self.constants and \
                onnx_node.input[1] not in self.constants:  # computed tensors are float32
            self.constants[onnx_node.output[0]] = \
                self.constants[onnx_node.input[0]].astype(np.float32)
            return True
        given = list(onnx_node.input)
        while given and not given[-1]:
            given.pop()  # optional inputs left out at the end; one in between is None
        if not given or not all(n in self.constants for n in given if n):
            return False
        result = fold(onnx_node.op_type, [self.constants[n] if n else None for n in given],
                      attributes(onnx_node))
        if result is None:
            return False
        for name, value in zip(onnx_node.output, result):
            self.constants[name] = value
        return True

    def evaluate(self, name: str, depth: int = 0) -> bool:
        """Whether tensor `name` is a constant, evaluating now the nodes of constants it
        comes from, though the walk has not reached them (a Slice's bounds written after
        the Slice beside it: torchvision's `chunk`)."""
        if name in self.constants:
            return True
        node = self.producers.get(name)
        if node is None or depth > MAX_FOLD_DEPTH or id(node) in self.absorbed:
            return False
        read = node.input[:1] if node.op_type == "CastLike" else node.input  # not its type
        if not all(not n or n in self.values or self.evaluate(n, depth + 1) for n in read):
            return False
        return self.fold_node(node) and name in self.constants

    # -- what a reader does ---------------------------------------------------------------
    def bind(self, name: str, value: Value) -> None:
        self.values[name] = value

    def absorb(self, *onnx_nodes: Any) -> None:
        """Nodes read as part of another's step: the walk passes over them."""
        self.absorbed |= {id(n) for n in onnx_nodes}

    def add(self, layer: Layer, inputs: list[Value], onnx_node: Any, layout: str,
            weights: dict[str, np.ndarray] | None = None, output: str | None = None,
            named: Any = None) -> Value:
        """A node for `layer` reading `inputs`; its output bound to ONNX tensor `output`
        (default: the node's first), checked against ONNX's inferred shape. `named` is the
        ONNX node whose name the layer takes (default `onnx_node`)."""
        ins = [i.node for i in inputs]
        in_shapes = tuple(self.nodes[i].shape for i in ins)
        label = self.label(onnx_node)
        if layer.arity == "one" and len(ins) != 1:
            raise Unsupported(f"{label} reads {len(ins)} tensors", "cnndsl's step reads one")
        try:
            shape = tuple(layer.output_shape(in_shapes))
        except LayerError as e:
            raise Unsupported(f"{label}: {e.message}", e.hint) from None
        output = output if output is not None else onnx_node.output[0]
        expected = self.inferred.get(output)
        got = in_layout(shape, layout)
        if expected is not None and len(expected) == len(got) + 1 and any(
                e is not None and e != g for e, g in zip(expected[1:], got)):
            raise Unsupported(f"{label}: ONNX gives {shown_dims(expected)}, cnndsl's "
                              f"`{layer.describe()}` would give {shown_dims((None, *got))}",
                              "please report this model")
        source = named if named is not None else onnx_node
        known_as = self.layer_names.get(id(source)) or source.name or output
        name = self.node_name(known_as)
        if weights is not None:
            self.take_weights(layer, in_shapes, name, weights, label)
        self.nodes.append(Node(len(self.nodes), name, layer, tuple(ins), in_shapes, shape,
                               NOWHERE, layer.describe()))
        self.origins[name] = (known_as, source.op_type)  # a module's path, not its node's
        if not source.name or by_operator(source):
            self.unnamed.add(name)
        value = Value(len(self.nodes) - 1, layout)
        self.bind(output, value)
        return value

    def take_weights(self, layer: Layer, in_shapes, name: str,
                     weights: dict[str, np.ndarray], label: str) -> None:
        declared = layer.variables(in_shapes)
        if set(declared) != set(weights):  # a reader's bug, said in the model's terms
            raise Unsupported(f"{label}: weights {sorted(weights)}, cnndsl's "
                              f"`{layer.describe()}` has {sorted(declared)}",
                              "please report this model")
        for var, spec in declared.items():
            value = np.asarray(weights[var])
            if spec.dtype == "int":  # Normalization's `count`, which inference does not use
                self.weights[f"{name}/{var}"] = np.asarray(value, np.int64).reshape(spec.shape)
                continue
            if value.dtype.kind != "f":
                raise Unsupported(f"{label}: weight `{var}` holds {value.dtype} numbers",
                                  "cnndsl's weights are floating point: import the float "
                                  "model before quantizing it")
            if tuple(value.shape) != tuple(spec.shape):
                raise Unsupported(f"{label}: weight `{var}` is {value.shape}, cnndsl "
                                  f"expects {spec.shape}", "please report this model")
            self.weights[f"{name}/{var}"] = np.ascontiguousarray(value, dtype=np.float32)

    def add_input(self, name: str, dims: Shape, layout: str, single: bool) -> None:
        shape = cnndsl_axes(dims, layout)
        node_name = "input" if single and name == "input" else self.node_name(name)
        self.nodes.append(Node(len(self.nodes), node_name, Input(shape), (), (), shape,
                               NOWHERE, f"input {format_shape(shape)}"))
        self.origins[node_name] = (name, "graph input")
        self.bind(name, Value(len(self.nodes) - 1, layout))

    def node_name(self, onnx_name: str) -> str:
        """The ONNX name as a cnndsl name, unique in the graph."""
        return unique_name(onnx_name, self.nodes)

    # -- refusals -------------------------------------------------------------------------
    @staticmethod
    def label(onnx_node: Any) -> str:
        """`node `/conv1/Conv` (Conv)`: how every message names an ONNX node."""
        name = onnx_node.name or (onnx_node.output[0] if onnx_node.output else "?")
        return f"node `{name}` ({onnx_node.op_type})"

    def refuse(self, onnx_node: Any, what: str, hint: str = "docs/import.md lists the "
               "ONNX operators and attributes cnndsl reads") -> Unsupported:
        return Unsupported(f"{self.label(onnx_node)}: {what}", hint)

    def graph(self, name: str, inputs: list[int], outputs: list[int]) -> Graph:
        return Graph(name, tuple(self.nodes), (), tuple(inputs), tuple(outputs))


def shown_dims(dims) -> str:
    """ONNX dims as a message writes them: `(?, 3, 224, 224)`, `?` for an open one."""
    return "(" + ", ".join("?" if d is None else str(d) for d in dims) + ")"


# Operators that read axis 1 as the channels: an input reaching one of them first is
# channels-first.
CHANNELS_FIRST_OPS = ("Conv", "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool",
                      "GlobalMaxPool", "BatchNormalization", "InstanceNormalization", "LRN",
                      "GroupNormalization", "DepthToSpace", "SpaceToDepth", "Resize")


AXES_CHANGING_OPS = ("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Gemm", "MatMul",
                     "ReduceMean", "ReduceMax", "GlobalAveragePool", "GlobalMaxPool")


def layout_by_readers(users: dict[str, list[Any]], name: str, rank: int) -> str | None:
    """How the readers of tensor `name` (rank `rank`, batch axis not counted) take it:
    channels-last where it reaches a Transpose to channels-first before any operator that
    reads axis 1 as the channels (cnndsl's own export and tf2onnx, where an input may be
    padded or normalised first), channels-first where it reaches such an operator first
    (PyTorch's), None where neither tells."""
    if rank < 2:
        return LAST
    perm = permutation(rank + 1, FIRST)
    seen, frontier = {name}, [name]
    while frontier:
        for user in users.get(frontier.pop(0), []):
            if user.op_type == "Transpose":
                given = [int(p) % (rank + 1) for p in attributes(user).get("perm", ())]
                return LAST if given == perm else FIRST
            if user.op_type in CHANNELS_FIRST_OPS:
                return FIRST
            if user.op_type in AXES_CHANGING_OPS:
                continue  # what lies beyond tells nothing of this tensor's axes
            for out in user.output:
                if out not in seen:
                    seen.add(out)
                    frontier.append(out)
    return None


def attributes(onnx_node: Any) -> dict[str, Any]:
    """A node's attributes as Python values (ints, floats, strings, lists, arrays)."""
    from onnx import helper

    found = {}
    for attribute in onnx_node.attribute:
        value = helper.get_attribute_value(attribute)
        found[attribute.name] = value.decode() if isinstance(value, bytes) else value
    return found

"""An ONNX model as cnndsl's IR: what PyTorch's exporters (TorchScript and dynamo), tf2onnx
and cnndsl's own `compile -o NET.onnx` write.

    imported = from_onnx(onnx.load("net.onnx"), input_sizes={"x": (224, 224, 3)})

The graph is walked once in its (topological) order (`walk`): constants are propagated
(`folding`), channels-first tensors are followed as such and become channels-last text
(`walk.Value`), and each node, or a few read together, becomes the catalogue layer that
computes the same function (`sliding`, `pointwise`, `shaping`). Anything else is an
`Unsupported` naming the node, its operator and what cnndsl cannot say: the importer never
skips a node or approximates one.

Imports: `graph`, `layers`, `support`, `backends.onnx.geometry` (the inverse of the
export's padding arithmetic), and the `onnx` package, when a model is read.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from ...backends.keras.input_sizes import example_sizes
from ...layers.shapes import Shape
from ...support.escaping import cnn_name
from ..imported import Imported, reachable
from ..unsupported import Unsupported
from . import activations, parts, pointwise, scales, shaping, sliding  # noqa: F401 - readers
from .folding import dtype_of
from .grouping import group_norm_pattern
from .naming import layer_names
from .walk import FIRST, LAST, READERS, Walk, attributes, layout_by_readers, shown_dims

__all__ = ["from_onnx", "Unsupported", "MIN_OPSET", "INSTALL"]

MIN_OPSET = 11  # Pad's and Clip's values as inputs; older exporters are long gone
INSTALL = "pip install 'cnndsl[onnx]'"
# subgraphs read from their first node
PATTERNS = (activations.gelu_pattern, activations.hard_pattern, group_norm_pattern)
SMALL_CONSTANT = 4096  # elements: a shape, an axis list, a scalar; weights are larger


def from_onnx(model: Any, name: str | None = None,
              input_sizes: dict[str | None, Shape] | None = None) -> Imported:
    """The typed graph and weights of an ONNX model (its external data already loaded).
    `input_sizes` gives, per input name (None: the only input), the channels-last sizes of
    an input whose spatial sizes the model leaves open."""
    opset = _opset(model)
    graph = model.graph
    constants = {t.name: _array(t) for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in constants]
    if not inputs:
        raise Unsupported("the model has no inputs", "there is nothing to import")
    users: dict[str, list[Any]] = {}
    for onnx_node in graph.node:
        for name in onnx_node.input:
            if name:
                users.setdefault(name, []).append(onnx_node)
    # Where no reader tells: cnndsl's own export is channels-last throughout; PyTorch's
    # convention (and ONNX's operators') is channels-first.
    unknown = LAST if model.producer_name == "cnndsl" else FIRST
    layouts = {t.name: layout_by_readers(users, t.name, _rank(t)) or unknown
               for t in inputs}
    dims, batch = _input_dims(inputs, layouts, input_sizes or {})
    inferred = _inferred_shapes(model, dims)
    walk = Walk(graph, opset, inferred, batch, constants=constants, consumers=users,
                stored=set(constants), exporter=model.producer_name,
                outputs={o.name for o in graph.output})
    walk.producers = {name: n for n in graph.node for name in n.output}
    walk.layer_names = layer_names(list(graph.node), model.producer_name)
    for tensor in inputs:
        walk.add_input(tensor.name, dims[tensor.name], layouts[tensor.name],
                       single=len(inputs) == 1)
    live = _live(graph, walk.producers)
    # A Constant reads nothing, so its value is known before the walk: a pattern read
    # from its first node sees the constants of later ones, which the TorchScript
    # exporter writes each just before its use (gelu's 1 and 0.5, a shuffle's shape).
    for onnx_node in graph.node:
        if onnx_node.op_type == "Constant" and onnx_node.domain in ("", "ai.onnx") and \
                id(onnx_node) in live:
            walk.constants[onnx_node.output[0]] = _constant(walk, onnx_node)
    for onnx_node in graph.node:
        if id(onnx_node) in walk.absorbed or id(onnx_node) not in live:
            continue
        _read(walk, onnx_node)
    parts.check_parts(walk)
    outs = []
    for output in graph.output:
        if output.name not in walk.values:
            raise Unsupported(f"the model's output `{output.name}` is a constant",
                              "cnndsl's outputs are computed from its inputs")
        outs.append(walk.values[output.name].node)
    if all(o < len(inputs) for o in outs):
        raise Unsupported("the model has no layers between its input and its output",
                          "there is nothing to import")
    typed = reachable(walk.graph(name or graph.name or "model", list(range(len(inputs))),
                                 outs), len(inputs), outs)
    names = {n.name for n in typed.nodes}
    weights = {k: v for k, v in walk.weights.items() if k.split("/")[0] in names}
    origins = {k: v for k, v in walk.origins.items() if k in names}
    # cnndsl's own export carries the names its text gave: every one of them is to come back.
    imported = Imported(typed, weights, origins, graph.name or "model", frozenset())
    imported.kept = frozenset(range(len(typed.nodes))) if model.producer_name == "cnndsl" \
        else imported.meaningful(walk.unnamed)
    imported.output_names = _output_names(graph, typed, walk)
    return imported


GENERIC_OUTPUTS = {"y", "out", "output", "outputs"}  # what examples and tools name any output


def _output_names(graph: Any, typed: Any, walk: Walk) -> dict[int, str]:
    """The names the model gives its outputs where a person gave them (`output_names=
    ["logits"]`), by output node: not a tensor's number (the TorchScript exporter's
    `191`), not the operator's own name (the dynamo exporter's `linear`), not a name
    any output gets (`output`, `y`), not the layer's name already."""
    found: dict[int, str] = {}
    for output, index in zip(graph.output, typed.outputs):
        name, producer = output.name, walk.producers.get(output.name)
        made_up = name.isdigit() or name.startswith("onnx::") or re.sub(
            r"_?\d+$", "", name.lower()) in GENERIC_OUTPUTS or (
            producer is not None and name in {producer.op_type, producer.name} | {
                p.value.rsplit("/", 1)[-1].split(":")[0] for p in producer.metadata_props
                if p.key == "namespace"})
        if not made_up and cnn_name(name) != typed.nodes[index].name:
            found[index] = cnn_name(name)
    return found


def _read(walk: Walk, onnx_node: Any) -> None:
    """One node: a constant evaluated, a pattern read from it, or its operator's reader."""
    if onnx_node.domain not in ("", "ai.onnx"):
        raise walk.refuse(onnx_node, f"operator domain `{onnx_node.domain}` is not ONNX's "
                          "own", "export the model with standard ONNX operators only")
    if onnx_node.output and all(o in walk.constants for o in onnx_node.output if o):
        return  # evaluated already, where a reader before it needed its value
    op = onnx_node.op_type
    for name in onnx_node.input[:1] if op == "CastLike" else onnx_node.input:  # not its type
        if name and name not in walk.values and name not in walk.constants \
                and name not in walk.padded:
            raise walk.refuse(onnx_node, f"its input `{name}` is computed by no node before "
                              "it (the graph is not in topological order, or has a cycle)",
                              "save the model with onnx.save after onnx.checker accepts it")
    if op == "Constant":  # evaluated before the walk
        return
    if walk.fold_node(onnx_node):
        return
    if any(pattern(walk, onnx_node) for pattern in PATTERNS):
        return
    reader = READERS.get(op)
    if reader is None:
        raise walk.refuse(onnx_node, "cnndsl has no step for this operator")
    reader(walk, onnx_node)


def _live(graph: Any, producers: dict[str, Any]) -> set[int]:
    """The nodes the graph's outputs depend on (an exporter may leave others behind)."""
    live: set[int] = set()
    stack = [o.name for o in graph.output]
    while stack:
        node = producers.get(stack.pop())
        if node is None or id(node) in live:
            continue
        live.add(id(node))
        stack.extend(n for n in node.input if n)
    return live


def _opset(model: Any) -> int:
    versions = {o.domain or "ai.onnx": o.version for o in model.opset_import}
    opset = versions.get("ai.onnx")
    if opset is None:
        raise Unsupported("the model imports no version of ONNX's own operators",
                          "export it with standard ONNX operators")
    if opset < MIN_OPSET:
        raise Unsupported(f"the model uses ONNX opset {opset}", f"export it at opset "
                          f"{MIN_OPSET} or newer (PyTorch: torch.onnx.export(..., "
                          "opset_version=17))")
    return int(opset)


def _array(tensor: Any) -> np.ndarray:
    from onnx import numpy_helper

    if dtype_of(tensor.data_type) is None:
        raise Unsupported(f"initializer `{tensor.name}` holds ONNX type {tensor.data_type}",
                          "cnndsl reads float, integer and boolean tensors")
    return numpy_helper.to_array(tensor)


def _constant(walk: Walk, onnx_node: Any) -> np.ndarray:
    attrs = {a.name: a for a in onnx_node.attribute}
    if "value" in attrs:
        return _array(attrs["value"].t)
    values = attributes(onnx_node)
    for key, dtype in (("value_float", np.float32), ("value_floats", np.float32),
                       ("value_int", np.int64), ("value_ints", np.int64)):
        if key in values:
            return np.asarray(values[key], dtype)
    raise walk.refuse(onnx_node, f"a constant given as {sorted(values)}")


def _rank(tensor: Any) -> int:
    """An input's rank without the batch axis (0 for what is not a tensor)."""
    if tensor.type.WhichOneof("value") != "tensor_type":
        return 0
    return max(len(tensor.type.tensor_type.shape.dim) - 1, 0)


def _input_dims(inputs: list[Any], layouts: dict[str, str],
                sizes: dict[str | None, Shape]) -> tuple[dict, int | None]:
    """Each input's ONNX dims without the batch axis (open sizes filled in from `sizes`),
    and the batch size (None where it is dynamic)."""
    found: dict[str, Shape] = {}
    batches = set()
    for tensor in inputs:
        kind = tensor.type.WhichOneof("value")
        if kind != "tensor_type":
            raise Unsupported(f"input `{tensor.name}` is a {kind}, not a tensor",
                              "cnndsl's inputs are tensors")
        dims = [d.dim_value if d.HasField("dim_value") else None
                for d in tensor.type.tensor_type.shape.dim]
        if not 2 <= len(dims) <= 5:
            raise Unsupported(f"input `{tensor.name}` has rank {len(dims)}", "cnndsl takes "
                              "inputs of 1 to 4 dimensions after the batch axis")
        batches.add(dims[0])
        given = sizes.get(tensor.name, sizes.get(None) if len(inputs) == 1 else None)
        rest = dims[1:]
        first = layouts[tensor.name] != LAST
        if given is not None:
            rest = _given(tensor.name, rest, given, first)
        if any(d is None or d < 1 for d in rest):
            example = example_sizes(tuple(rest[1:] + rest[:1] if first else rest))
            raise Unsupported(f"input `{tensor.name}` has open sizes "
                              f"{shown_dims([dims[0], *rest])}",
                              f"give them: `cnndsl import MODEL.onnx --input-shape "
                              f"{tensor.name}={example}` (HxWxC, channels last), or export "
                              "the model with fixed spatial sizes")
        found[tensor.name] = tuple(int(d or 0) for d in rest)
    batch = batches.pop() if len(batches) == 1 else None
    return found, int(batch) if batch else None


def _given(name: str, dims: list, given: Shape, first: bool) -> list:
    """`--input-shape` (channels last) laid over an input's ONNX dims (channels first for
    a channels-first input of rank above 1)."""
    want = list(given[-1:]) + list(given[:-1]) if first and len(given) > 1 else list(given)
    if len(want) != len(dims) or any(d is not None and d != w for d, w in zip(dims, want)):
        raise Unsupported(f"--input-shape {'x'.join(map(str, given))} does not fit input "
                          f"`{name}` {shown_dims([None, *dims])}", "give the open sizes, and the "
                          "known ones as they are, channels last")
    return want


def _inferred_shapes(model: Any, dims: dict[str, Shape]) -> dict[str, tuple]:
    """ONNX's shape inference over the model with its open input sizes filled in: the
    dims (batch axis first, None where unknown) of every tensor it can tell."""
    import onnx

    # The graph without its large weights (their shapes as inputs instead): inference needs
    # the values of shape tensors only, and copying and serialising a VGG's 500 MB took
    # longer than everything else the import does.
    copy = onnx.ModelProto()
    copy.ir_version, copy.producer_name = model.ir_version, model.producer_name
    copy.opset_import.extend(model.opset_import)
    graph = copy.graph
    graph.node.extend(model.graph.node)
    graph.output.extend(model.graph.output)
    given = {t.name for t in model.graph.input}
    graph.input.extend(model.graph.input)
    for tensor in model.graph.initializer:
        if int(np.prod(tensor.dims)) <= SMALL_CONSTANT:
            graph.initializer.append(tensor)
        elif tensor.name not in given:
            graph.input.append(onnx.helper.make_tensor_value_info(
                tensor.name, tensor.data_type, list(tensor.dims)))
    for tensor in copy.graph.input:
        if tensor.name in dims:
            for d, size in zip(tensor.type.tensor_type.shape.dim[1:], dims[tensor.name]):
                d.dim_value = size
    try:
        copy = onnx.shape_inference.infer_shapes(copy, strict_mode=False, data_prop=True)
    except Exception:  # noqa: BLE001 - inference is a check; the walk computes the sizes
        return {}
    found = {}
    for info in [*copy.graph.value_info, *copy.graph.output]:
        if info.type.WhichOneof("value") == "tensor_type" and \
                info.type.tensor_type.HasField("shape"):
            found[info.name] = tuple(d.dim_value if d.HasField("dim_value") else None
                                     for d in info.type.tensor_type.shape.dim)
    return found


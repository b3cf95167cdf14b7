"""Layer names from ONNX node names, as the module paths PyTorch's exporters record.

The TorchScript exporter names a node after the module scopes it was called in and its
operator: `/layer1/layer1.0/conv1/Conv`. The dynamo exporter names it `node_Conv_12` and
keeps the scopes in the node's `namespace` metadata (`: ResNet/layer1: Sequential/
layer1.0: BasicBlock/layer1.0.conv1: Conv2d/conv2d: aten.conv2d.default`). Either way the
name a PyTorch user knows is the module's path, `layer1.0.conv1` (its `state_dict` keys
start with it), so that is the name a layer gets, written as cnndsl writes names
(`layer1_0_conv1`). A node computed in a module that has submodules (the `Add` of a
residual block, in the block's scope) keeps its operator too: `layer1_0_add`.

Other exporters' names (tf2onnx's, a hand-built model's) are taken as they are, and
cnndsl's own (`conv_3`, `conv_3/relu`) as the layer they belong to;
`imported.unique_name` makes every name valid and unique.
"""

from __future__ import annotations

import re
from typing import Any

TORCH_LEAF = "torch.nn.modules."  # a module of PyTorch's own: one computation, one layer


def layer_names(onnx_nodes: list[Any], producer: str = "") -> dict[int, str]:
    """Each node's layer name (by `id(node)`), where its name or metadata tells a module
    path; nodes that tell none are left out (their own name is used as it is). cnndsl's
    own export names a layer's nodes `LAYER` and `LAYER/PART` (`conv_3/relu`): `LAYER`.

    >>> from types import SimpleNamespace as N
    >>> nodes = [N(name=n, op_type=n.rsplit("/", 1)[-1].split("_")[0], metadata_props=[])
    ...          for n in ("/conv1/Conv", "/layer1/layer1.0/conv1/Conv",
    ...                    "/layer1/layer1.0/relu/Relu", "/layer1/layer1.0/Add",
    ...                    "/layer1/layer1.0/relu_1/Relu", "/Flatten", "conv_3")]
    >>> sorted(layer_names(nodes).values())
    ['conv1', 'flatten', 'layer1.0.add', 'layer1.0.conv1', 'layer1.0.relu', 'layer1.0.relu_1']
    """
    if producer == "cnndsl":
        return {id(n): n.name.split("/")[0] for n in onnx_nodes if n.name}
    scoped = [n for n in onnx_nodes if n.name.startswith("/") and n.op_type != "Constant"]
    is_scoped = {id(n) for n in scoped}
    # The scopes that hold scopes: a module with submodules. A scope that holds none is
    # a leaf module (a Conv2d, a GELU written as five nodes): its nodes are its layer.
    parents: set[str] = set()
    for node in scoped:
        parts = node.name.strip("/").split("/")[:-1]
        parents.update("/".join(parts[:k]) for k in range(1, len(parts)))
    names: dict[int, str] = {}
    for node in onnx_nodes:
        found = _from_metadata(node) if not node.name.startswith("/") else None
        if found is None and id(node) in is_scoped:
            found = _from_scopes(node, parents)
        if found:
            names[id(node)] = found
    return names


def by_operator(node: Any) -> bool:
    """Whether the dynamo exporter computed `node` in the model's own `forward`, in no
    module: its name is then its ATen operator's (`mean`, `_unsafe_view`), made up as the
    TorchScript exporter's `/ReduceMean` is."""
    scopes = _scopes(node)
    return scopes == [] and not node.name.startswith("/")


def called_after(module_node: Any, node: Any) -> bool:
    """Whether `node` is computed by a call in the `forward` that calls the PyTorch module
    of `module_node` (`F.relu(self.conv1(x))`): in that module's parent's scope, in no
    module of its own. (`self.relu(...)`, a module, has a scope of its own.)

    >>> from types import SimpleNamespace as N
    >>> conv = N(name="/layer1/conv1/Conv", metadata_props=[])
    >>> [called_after(conv, N(name=n, metadata_props=[])) for n in
    ...  ("/layer1/Relu_2", "/layer1/relu/Relu", "/Relu", "/layer1/conv1/Relu")]
    [True, False, False, False]
    """
    module, scopes = _scopes(module_node), _scopes(node)
    return module is not None and scopes is not None and len(module) > 0 and \
        module[-1][1] and scopes == module[:-1]


def _scopes(node: Any) -> list[tuple[str, bool]] | None:
    """The modules a node is computed in, outermost first, each (its path, whether it is
    one of PyTorch's own, torch.nn's: a leaf), from the TorchScript exporter's name
    (`/layer1/conv1/Conv`: every scope a leaf, as far as the name tells) or the dynamo
    exporter's `namespace` (its root module left out); None where neither tells."""
    if node.name.startswith("/"):
        return [(scope, True) for scope in node.name.strip("/").split("/")[:-1]]
    scopes = _namespace(node)
    if scopes is None:
        return None
    return [(path, cls.startswith(TORCH_LEAF)) for path, cls in scopes[1:-1]]


def _from_scopes(node: Any, parents: set[str]) -> str:
    """`/layer1/layer1.0/conv1/Conv` -> `layer1.0.conv1`; `/layer1/layer1.0/Add` ->
    `layer1.0.add`. A scope repeats its parent's name where the parent is a container
    (`layer1`, `layer1.0`; `downsample`, `downsample.0`) and is an attribute's name alone
    otherwise (`conv1`): the path is rebuilt from both.

    >>> from types import SimpleNamespace as N
    >>> node = N(name="/features/features.1/conv/conv.0/conv.0.0/Conv", op_type="Conv")
    >>> _from_scopes(node, {"features", "features/features.1", "features/features.1/conv"})
    'features.1.conv.0.0'
    """
    *scopes, op = node.name.strip("/").split("/")
    stack: list[str] = []
    for scope in scopes:  # `features.1` under `features`, `conv.0` under `conv`
        if stack and scope.startswith(stack[-1] + "."):
            stack[-1] = scope
        else:
            stack.append(scope)
    path = ".".join(stack)
    if scopes and "/".join(scopes) not in parents:
        return path
    own = _operator(op)
    return f"{path}.{own}" if path else own


def _namespace(node: Any) -> list[list[str]] | None:
    """The dynamo exporter's `namespace` metadata as [NAME, CLASS] scopes, root first, the
    ATen operator last; None without one, or one not of that form."""
    namespace = next((p.value for p in getattr(node, "metadata_props", ())
                      if p.key == "namespace"), None)
    if not namespace:
        return None
    scopes = [s.split(": ", 1) for s in namespace.split("/")]
    if len(scopes) < 2 or any(len(s) != 2 for s in scopes):
        return None
    return scopes


def _from_metadata(node: Any) -> str | None:
    """The dynamo exporter's `namespace`: `NAME: CLASS` scopes joined by `/`, the last one
    the ATen operator. Under a module of PyTorch's own, that module's path; else the
    innermost module's path and the operator."""
    scopes = _namespace(node)
    if scopes is None:
        return None
    *modules, (op, _) = scopes
    path, cls = modules[-1]
    if path and cls.startswith(TORCH_LEAF):
        return path
    own = _operator(op)
    return f"{path}.{own}" if path else own


def _operator(text: str) -> str:
    """An operator as a name's last word: `Add_3` -> `add`, `max_pool2d` kept (the
    exporters number operators across the whole graph; the names are made unique later)."""
    return re.sub(r"_\d+$", "", re.sub(r"[^0-9A-Za-z_]", "_", text)).lower()

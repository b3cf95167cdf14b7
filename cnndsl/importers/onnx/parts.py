"""A tensor's channels cut into parts, each part through its own branch, the results
concatenated in order: ShuffleNet v2's `torch.chunk` and `torch.cat`, written
`split { A | B }` (`split 24,40 { ... }` for unequal parts).

ONNX writes the cut as one Split node, or as Slices of the channels (cnndsl's own export).
Each part becomes a `Part` node, as the expansion of `split` makes them; the Concat whose
inputs come, in order, from all the parts of one tensor becomes the `split` itself. A cut
of the channels that no such Concat ends is refused when the walk is over: the language
has no step for a part on its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...layers.merge import Split
from ...layers.rearrange import Part
from .walk import Value, Walk, attributes, reads


def _parts(walk: Walk, onnx_node: Any, x: Value, sizes: list[int], outputs: list[str]) -> None:
    channels = walk.nodes[x.node].shape[-1]
    if sum(sizes) != channels or min(sizes) < 1 or len(sizes) < 2:
        raise walk.refuse(onnx_node, f"parts of {sizes} channels of {channels}",
                          "cnndsl's split cuts all the channels, into two parts or more")
    start = 0
    for index, (size, output) in enumerate(zip(sizes, outputs), 1):
        walk.add(Part(start, size, index), [x], onnx_node, x.layout, output=output)
        start += size


@reads("Split")
def split(walk: Walk, onnx_node: Any) -> None:
    x = walk.value(onnx_node)
    rank = len(walk.shape_of(x))
    if int(attributes(onnx_node).get("axis", 0)) % rank != walk.channel_axis(x):
        raise walk.refuse(onnx_node, "a split of an axis other than the channels")
    given = walk.optional(onnx_node, 1)
    attrs = attributes(onnx_node)
    channels = walk.nodes[x.node].shape[-1]
    outputs = list(onnx_node.output)
    if given is not None:
        sizes = [int(s) for s in given.reshape(-1)]
    elif "split" in attrs:
        sizes = [int(s) for s in attrs["split"]]
    else:  # equal parts (opset 18's num_outputs may leave the last one smaller)
        size = -(-channels // len(outputs))
        sizes = [min(size, channels - i * size) for i in range(len(outputs))]
    _parts(walk, onnx_node, x, sizes, outputs)


def channel_slices(walk: Walk, onnx_node: Any, x: Value, cut: tuple[int, int]) -> None:
    """A Slice of the channels `cut` = (start, stop): a part, if the Slices of that
    tensor's channels together cut all of them; each is made when its node is read."""
    siblings = []
    for user in walk.users(onnx_node.input[0]):
        if user.op_type == "Slice":
            found = channel_cut(walk, user, x)
            if found is not None:
                siblings.append((found, user))
    siblings.sort(key=lambda s: s[0])
    starts = [c[0] for c, _ in siblings]
    ends = [c[1] for c, _ in siblings]
    channels = walk.nodes[x.node].shape[-1]
    if starts[:1] != [0] or ends[-1:] != [channels] or starts[1:] != ends[:-1]:
        raise walk.refuse(onnx_node, f"channels {cut[0]} to {cut[1]} of {channels}, not "
                          "one of parts that cut them all", "cnndsl cuts channels only "
                          "as a split's parts")
    index = [user for _, user in siblings].index(onnx_node) + 1
    walk.add(Part(cut[0], cut[1] - cut[0], index), [x], onnx_node, x.layout)


def channel_cut(walk: Walk, onnx_node: Any, x: Value) -> tuple[int, int] | None:
    """(start, stop) of a Slice that cuts only the channels of `x` with step 1."""
    if len(onnx_node.input) < 3 or not all(walk.evaluate(n) for n in onnx_node.input[1:]
                                           if n):
        return None
    dims = walk.shape_of(x)
    starts, ends = (walk.constants[n].reshape(-1) for n in onnx_node.input[1:3])
    axes = walk.optional(onnx_node, 3)
    axes = np.arange(len(starts)) if axes is None else axes.reshape(-1)
    steps = walk.optional(onnx_node, 4)
    if steps is not None and np.any(steps.reshape(-1) != 1):
        return None
    cut = None
    for start, end, axis in zip(starts, ends, axes):
        axis = int(axis) % len(dims)
        n = dims[axis]
        first, stop = (max(0, min(n, int(v) + n if int(v) < 0 else int(v))) for v in (start, end))
        if (first, stop) == (0, n):
            continue
        if axis != walk.channel_axis(x) or cut is not None:
            return None
        cut = (first, stop)
    return cut


def as_split(walk: Walk, xs: list[Value]) -> Split | None:
    """The `split` a Concat of `xs` ends: every input comes from exactly one part, the
    parts of one tensor, all of them, in order."""
    found = [_part_above(walk, x.node) for x in xs]
    if any(f is None for f in found):
        return None
    nodes = [walk.nodes[f] for f in found if f is not None]
    sources = {n.inputs[0] for n in nodes}
    layers = [_part(n.layer) for n in nodes]
    indices = [p.index for p in layers]
    if len(sources) != 1 or indices != list(range(1, len(nodes) + 1)):
        return None
    source = sources.pop()
    everything = [n for n in walk.nodes if n.kind == "part" and n.inputs[0] == source]
    if len(everything) != len(nodes):
        return None
    return Split(tuple(p.size for p in layers))


def _part(layer: Any) -> Part:
    assert isinstance(layer, Part)
    return layer


def _part_above(walk: Walk, index: int) -> int | None:
    """The one part node that `index` is computed from (itself included), or None where
    there is none or more than one."""
    seen, stack, parts = {index}, [index], set()
    while stack:
        node = walk.nodes[stack.pop()]
        if node.kind == "part":
            parts.add(node.index)
            continue
        for i in node.inputs:
            if i not in seen:
                seen.add(i)
                stack.append(i)
    return parts.pop() if len(parts) == 1 else None


def check_parts(walk: Walk) -> None:
    """Every part the outputs depend on is read by a `split`: no step says a part alone."""
    from ..unsupported import Unsupported

    splits = {i for n in walk.nodes if n.kind == "split" for i in _above(walk, n.index)}
    for node in walk.nodes:
        if node.kind == "part" and node.index not in splits:
            origin, op = walk.origins[node.name]
            part = _part(node.layer)
            raise Unsupported(f"node `{origin}` ({op}): channels {part.start} to "
                              f"{part.start + part.size} are cut out, and no "
                              "concatenation of all the parts in order follows",
                              "cnndsl cuts channels only as a split's parts: "
                              "`split { A | B }`")


def _above(walk: Walk, index: int) -> set[int]:
    """The part nodes a split's branches start from."""
    found: set[int] = set()
    for i in walk.nodes[index].inputs:
        part = _part_above(walk, i)
        if part is not None:
            found.add(part)
    return found

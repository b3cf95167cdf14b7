"""cnndsl's weights (LAYER/VARIABLE, Keras's layouts) to the PyTorch module's `state_dict`
(`conv_1.weight`, PyTorch's layouts) and back, for `.pt2` and `.pt` files and for
`cnndsl weights NET.pt2 -o W.npz`.

Every weight reaches PyTorch by a change of layout alone (a transpose, a reshape), which
`steps` says once, forwards. The way back follows it rather than being written again:
each variable is given as integers that tag every element (the variable, its position),
the same steps move the tags where they move the values, and each value read back goes
where its tag says. So the round trip is bit for bit, and a layer added to `steps` needs
nothing here.

Imports: `graph`, `errors`; numpy only (torch tensors are the caller's).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ...graph.ir import Graph
from ..weights import WeightsError
from .ops import attribute_names
from .steps import TorchSteps

POSITION_BITS = 40  # a tag: variable number << 40 | position in it (2**40 elements each)
COUNTER = "num_batches_tracked"  # PyTorch's batch norm's own, no weight of the spec's


def torch_state(graph: Graph, weights: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The module's state, arrays keyed as its `state_dict` (batch norm's counters aside)."""
    maker = TorchSteps(weights, attribute_names(graph))
    return {key: value for node in graph.nodes if node.kind != "input"
            for key, value in maker.step(node).state.items()}


def spec_weights(graph: Graph, state: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """cnndsl's weights from a `state_dict` (as NumPy arrays) of the module `--emit torch`
    writes: `WeightsError` for a missing, extra or misshapen key."""
    variables = [(f"{n.name}/{name}", v) for n in graph.nodes
                 for name, v in n.layer.variables(n.in_shapes).items()]
    tags = {key: (np.int64(k) << POSITION_BITS) + np.arange(int(np.prod(v.shape)),
                                                             dtype=np.int64).reshape(v.shape)
            for k, (key, v) in enumerate(variables)}
    places = torch_state(graph, tags)
    given = {k: v for k, v in state.items() if not k.endswith(COUNTER)}
    missing, extra = sorted(set(places) - set(given)), sorted(set(given) - set(places))
    if missing or extra:
        problem = (f"no `{missing[0]}`" if missing else f"`{extra[0]}` is not in the module")
        more = len(missing) + len(extra) - 1
        raise WeightsError(f"the state_dict does not fit the network: {problem}"
                           + (f" (and {more} more)" if more else ""))
    out = {key: np.zeros(v.shape, np.int64 if v.dtype == "int" else np.float32)
           for key, v in variables}
    covered: set[int] = set()
    for key, where in places.items():
        value = np.asarray(given[key])
        if value.shape != where.shape:
            raise WeightsError(f"`{key}` has shape {value.shape}; the network's takes "
                               f"{where.shape}")
        which = int(where.flat[0] >> POSITION_BITS) if where.size else 0
        target = out[variables[which][0]]
        target.flat[where.ravel() & ((1 << POSITION_BITS) - 1)] = value.ravel()
        covered.add(which)
    assert len(covered) == len(variables), "a variable the module does not hold"
    return out

"""How a layer's step is put together: the `Step` (modules, state, ops) one node becomes,
and `StepWriter`, the ways a layer kind's method adds to it (a module under the layer's
name, a tensor the module owns, an op on the channels, a padding first), so that each
kind's method in `steps` says only what is its own.

Imports: `graph`, `layers`, `errors`; torch only when a built module runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...errors import CnnError
from ...graph.ir import Node
from ...layers.activations import Activation
from .functions import activation_op, pad_op
from .ops import Call, Fn, ModuleSpec, Op, TensorSpec


@dataclass
class Step:
    """What one node becomes: modules by attribute name, their state (`ATTR.weight`:
    array in PyTorch's layout), and the operations from its inputs to its output."""

    modules: dict[str, ModuleSpec | TensorSpec] = field(default_factory=dict)
    state: dict[str, np.ndarray] = field(default_factory=dict)
    ops: list[Op] = field(default_factory=list)


class StepWriter:
    """The Step of every node of a graph; `weights` keyed LAYER/VARIABLE (cnndsl's), or
    None for the modules and operations alone."""

    def __init__(self, weights, attrs: dict[int, str]) -> None:
        self.weights = weights
        self.attrs = attrs  # node index -> its attribute name (the layer's name)

    def step(self, node: Node) -> Step:
        method = getattr(self, node.kind, None)
        if method is None:
            raise CnnError(f"the PyTorch backend cannot write `{node.kind}` yet", node.span,
                           "`cnndsl run` runs it with NumPy, and `cnndsl compile` writes it "
                           "to Keras and ONNX")
        step = Step()
        method(node, node.layer, step)
        return step

    # -- helpers -----------------------------------------------------------------------------
    def w(self, node: Node, variable: str) -> np.ndarray:
        """A weight in cnndsl's layout; without weights (the source is written from the
        shapes alone), zeros of its shape that take no memory."""
        if self.weights is None:
            shape = node.layer.variables(node.in_shapes)[variable].shape
            return np.broadcast_to(np.float32(0), shape)
        value = np.asarray(self.weights[f"{node.name}/{variable}"])
        # Integers pass unchanged: a count, and the tags `state.spec_weights` follows.
        return value if value.dtype.kind in "iu" else value.astype(np.float32, copy=False)

    def module(self, step: Step, node: Node, spec: ModuleSpec, suffix: str = "",
               **state: np.ndarray) -> None:
        """Add a module (the node's own name, or NAME_SUFFIX for a second one), its
        state, and its call."""
        attr = self.attrs[node.index] + (f"_{suffix}" if suffix else "")
        step.modules[attr] = spec
        if self.weights is not None:
            step.state.update({f"{attr}.{k}": v for k, v in state.items()})
        step.ops.append(Call(attr))

    def tensor(self, step: Step, node: Node, variable: str, buffer: bool = False) -> str:
        """A weight the module owns itself, not in an `nn` module (`LAYER_VARIABLE`, a
        parameter or a buffer): its attribute name."""
        attr = f"{self.attrs[node.index]}_{variable}"
        kept = node.layer.variables(node.in_shapes)[variable]
        step.modules[attr] = TensorSpec(kept.shape, buffer, kept.dtype == "int")
        if self.weights is not None:
            step.state[attr] = self.w(node, variable)
        return attr

    def per_channel(self, step: Step, node: Node, template: str, call, *variables: str,
                    buffer: bool = False) -> None:
        """An op on the node's own per-channel tensors, written `template.format(x=...,
        t1=self.LAYER_VARIABLE.view(-1, 1, 1), ...)`: viewed along axis 1 of channels-first
        tensors (a vector's channels need no view)."""
        view = (-1, *(1,) * self.rank(node))
        shown = f".view{view}" if len(view) > 1 else ""
        attrs = tuple(self.tensor(step, node, v, buffer) for v in variables)
        named = {f"t{k + 1}": f"self.{a}{shown}" for k, a in enumerate(attrs)}
        text = template.format(x="{x}", **named)
        step.ops.append(Fn(text, lambda x, *ts: call(x, *(t.view(view) for t in ts)),
                           uses=attrs))

    @staticmethod
    def rank(node: Node) -> int:
        """Spatial dimensions of the node's input (0 for a vector)."""
        return len(node.in_shapes[0]) - 1

    def fused(self, step: Step, activation: Activation | None) -> None:
        if activation is not None and activation.name != "linear":
            step.ops.append(activation_op(activation))

    def on_channels(self, step: Step, node: Node, spec: ModuleSpec, state: dict,
                    shift: str = "") -> None:
        """A module acting on the last axis (Linear, LayerNorm), on the channels: of an
        image, moved last and back; `shift`, the node's own variable added after it."""
        if self.rank(node):
            step.ops.append(Fn("{x}.movedim(1, -1)", lambda x: x.movedim(1, -1)))
        self.module(step, node, spec, **state)
        if shift:
            attr = self.tensor(step, node, shift)
            step.ops.append(Fn(f"{{x}} + self.{attr}", lambda x, t: x + t, uses=(attr,)))
        if self.rank(node):
            step.ops.append(Fn("{x}.movedim(-1, 1)", lambda x: x.movedim(-1, 1)))

    def pad_first(self, step: Step, node: Node, pads, value: float = 0.0) -> tuple:
        """The symmetric padding a module can take itself; where the pads differ before and
        after (Keras's `same` with an odd total), an `F.pad` first and none left over."""
        if all(b == a for b, a in pads):
            return tuple(b for b, _ in pads)
        step.ops.append(pad_op(pads, value))
        return (0,) * len(pads)

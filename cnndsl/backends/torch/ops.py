"""The pieces a layer's PyTorch code is made of, each written once as both the text the
readable source says and the call the built module makes, side by side so they cannot
drift apart: a module attribute called on its input (`self.conv_1(x)`), or a function of
its inputs (`F.pad(x, (0, 1, 0, 1))`, `x1 + x2`).

Tensors are channels first (N, C, ...), as PyTorch's layers take them: axis 1 holds the
channels whatever the rank, so a softmax over the channels is `dim=1` for an image and for
a vector alike.

Imports: `support.escaping`; torch only when a function runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ModuleSpec:
    """An `nn` module to construct: `nn.Conv2d(3, 16, 3, padding=1)`."""

    cls: str
    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        parts = [literal(a) for a in self.args]
        parts += [f"{k}={literal(v)}" for k, v in self.kwargs.items()]
        return f"nn.{self.cls}({', '.join(parts)})"

    def build(self) -> Any:
        from torch import nn

        return getattr(nn, self.cls)(*self.args, **self.kwargs)

    def statement(self, attr: str) -> str:
        """Its line in `__init__`."""
        return f"self.{attr} = {self.text()}"

    def install(self, owner: Any, attr: str) -> None:
        """Add it to the module being built."""
        owner.add_module(attr, self.build())


@dataclass(frozen=True)
class TensorSpec:
    """A tensor the module owns outside any `nn` module: a parameter (the shift of a
    batch norm without `scale`) or a buffer (an adapted `normalize`'s statistics, kept
    in the `state_dict` but not trained)."""

    shape: tuple[int, ...]
    buffer: bool = False
    integer: bool = False  # a count, int64

    def value_text(self) -> str:
        """`torch.zeros(64)`; a count `torch.zeros((), dtype=torch.int64)`."""
        dtype = ", dtype=torch.int64" if self.integer else ""
        return f"torch.zeros({', '.join(map(str, self.shape)) or '()'}{dtype})"

    def statement(self, attr: str) -> str:
        if self.buffer:
            return f"self.register_buffer({attr!r}, {self.value_text()})"
        return f"self.{attr} = nn.Parameter({self.value_text()})"

    def install(self, owner: Any, attr: str) -> None:
        import torch

        value = torch.zeros(self.shape, dtype=torch.int64 if self.integer else torch.float32)
        if self.buffer:
            owner.register_buffer(attr, value)
        else:
            owner.register_parameter(attr, torch.nn.Parameter(value))


class Op:
    """One step of a layer's forward computation."""

    def text(self, xs: Sequence[str]) -> str:
        raise NotImplementedError

    def run(self, xs: Sequence[Any], owner: Any) -> Any:
        """Compute it; `owner` is the whole module, whose attributes the op may read."""
        raise NotImplementedError


@dataclass(frozen=True)
class Call(Op):
    """`self.ATTR(x)`: a module of the layer called on its one input."""

    attr: str

    def text(self, xs: Sequence[str]) -> str:
        return f"self.{self.attr}({xs[0]})"

    def run(self, xs: Sequence[Any], owner: Any) -> Any:
        return owner._modules[self.attr](xs[0])


@dataclass(frozen=True)
class Fn(Op):
    """A function of the inputs: `template` is its text, `{x}` the one input, `{xs}` them
    all as a list, `{x1}`, `{x2}`... each; `call` computes it from the tensors, and from
    the module's tensors `uses` names (`self.NAME` in the text) after them."""

    template: str
    call: Callable[..., Any]
    uses: tuple[str, ...] = ()

    def text(self, xs: Sequence[str]) -> str:
        named = {f"x{k + 1}": x for k, x in enumerate(xs)}
        named = {k: v if self._alone(k) or _atom(v) else f"({v})" for k, v in
                 (("x", xs[0]), *named.items())}
        return self.template.format(xs=f"[{', '.join(xs)}]", **named)

    def _alone(self, name: str) -> bool:
        """Whether `{name}` stands where any expression may, an argument of a call
        (`F.relu({x})`), rather than beside an operator (`{x} + 1`, `{x}.movedim(...)`)."""
        at = self.template.find(f"{{{name}}}")
        before, after = self.template[at - 1:at], self.template[at + len(name) + 2:][:1]
        return at < 0 or (before in ("(", "[") or self.template[at - 2:at] == ", ") \
            and after in (")", ",", "]")

    def run(self, xs: Sequence[Any], owner: Any) -> Any:
        return self.call(*xs, *(getattr(owner, name) for name in self.uses))


def _atom(text: str) -> bool:
    """Whether an expression needs no parentheses beside an operator: a name, a call, a
    subscript (no space outside brackets, since the source writes `a + b` spaced).

    >>> _atom("F.relu(self.conv_1(x))"), _atom("x1 + x2"), _atom("-x")
    (True, False, False)
    """
    depth = 0
    for char in text:
        depth += char in "([{"
        depth -= char in ")]}"
        if depth == 0 and char == " ":
            return False
    return not text.startswith("-")


def one_size(values: tuple) -> int | tuple:
    """A size as PyTorch's modules take it: one int where every dimension is alike."""
    return values[0] if len(set(values)) == 1 else tuple(values)


# `nn.Module`'s own public names (torch 2.14), which no layer's attribute may shadow;
# tests/test_torch_backend.py checks them against the torch installed.
MODULE_NAMES = frozenset({
    "T_destination", "add_module", "apply", "bfloat16", "buffers", "call_super_init",
    "children", "compile", "cpu", "cuda", "double", "dump_patches", "eval", "extra_repr",
    "float", "forward", "get_buffer", "get_extra_state", "get_parameter", "get_submodule",
    "half", "ipu", "load_state_dict", "modules", "mtia", "named_buffers", "named_children",
    "named_modules", "named_parameters", "parameters", "register_backward_hook",
    "register_buffer", "register_forward_hook", "register_forward_pre_hook",
    "register_full_backward_hook", "register_full_backward_pre_hook",
    "register_load_state_dict_post_hook", "register_load_state_dict_pre_hook",
    "register_module", "register_parameter", "register_state_dict_post_hook",
    "register_state_dict_pre_hook", "requires_grad_", "set_extra_state", "set_submodule",
    "share_memory", "state_dict", "to", "to_empty", "train", "training", "type", "xpu",
    "zero_grad"})


def attribute_names(graph) -> dict[int, str]:
    """Each layer's name as a Python attribute of the module: valid, unique, and not one
    of `nn.Module`'s own (`eval`, `training`, `forward`...)."""
    from ...support.escaping import python_identifier

    taken: set[str] = set()
    names: dict[int, str] = {}
    for node in graph.nodes:
        name = python_identifier(node.name).lstrip("_")
        name = name if name and not name[0].isdigit() else f"layer_{name}"
        while name in taken or name in MODULE_NAMES:
            name += "_"
        taken.add(name)
        names[node.index] = name
    return names


def literal(value: Any) -> str:
    """A Python literal for a module argument: `3`, `(1, 2)`, `1e-05`, `'same'`."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, tuple):
        inner = ", ".join(literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return repr(value)


def torch_functions():
    """(torch, torch.nn.functional), imported when a built module first runs."""
    import torch
    import torch.nn.functional as F  # noqa: N812 - PyTorch's own spelling

    return torch, F

"""Version 3's normalisations and activations as Keras layers, or refused.

`groupnorm G` is Keras's GroupNormalization(groups=G), `instancenorm` the same with one
channel per group, `prelu` Keras's PReLU sharing every spatial axis (and the channels too
with `shared`). Of the activations, those Keras has by name are an `Activation` layer
(`mish`, `softsign`, `log_softmax`, `celu` of alpha 1, `clip=-1,1` as `hard_tanh`,
`clip=0,6` as `relu6`); `elu=A` is the `ELU(alpha=A)` layer and `clip=0,HI` the
`ReLU(max_value=HI)` layer, both also as a fused `activation=`. Keras saves an activation
function by its name alone, so an alpha or a form of its own would be lost on saving:
what no plain Keras layer computes exactly (`lrn`, `celu` of another alpha, `gelu=tanh`,
`clip` with a lower bound other than 0 or -1,1) is refused at the step, naming the
backends that run it, never built as something only close.
"""

from __future__ import annotations

from ...errors import CnnError
from ...layers.activations import Activation
from .specs import LayerSpec

BY_NAME = ("mish", "softsign", "log_softmax")
ELSEWHERE = ("`cnndsl run` computes it with NumPy, and `cnndsl compile -o NET.onnx` "
             "exports it to ONNX")


class Unbuildable(CnnError):
    """No plain Keras layer computes this exactly; the builder adds the step's span."""


def _spec(cls: str, args: tuple = (), **kwargs) -> LayerSpec:
    return LayerSpec(cls, args, kwargs)


def activation(function: Activation) -> str | LayerSpec | None:
    """Keras's name or layer for a version 3 activation, None for an earlier one."""
    name, alpha = function.name, function.alpha
    if function.approximate:
        raise Unbuildable("Keras cannot save `gelu=tanh`: its gelu is saved by name, "
                          "and by name it is the exact gelu", hint=ELSEWHERE)
    if name == "elu" and alpha not in (None, 1.0):
        return _spec("ELU", alpha=float(alpha))  # type: ignore[arg-type]
    if name == "celu":
        if alpha not in (None, 1.0):
            raise Unbuildable(f"Keras cannot save `{function.written()}`: its celu is "
                              "saved by name, with alpha 1, and it has no CELU layer",
                              hint=ELSEWHERE)
        return "celu"
    if name == "clip":
        return _clip(function)
    return name if name in BY_NAME else None


def _clip(function: Activation) -> str | LayerSpec:
    assert function.bounds is not None
    low, high = function.bounds
    if (low, high) == (-1.0, 1.0):
        return "hard_tanh"
    if (low, high) == (0.0, 6.0):
        return "relu6"
    if low == 0.0:
        return _spec("ReLU", max_value=float(high))
    raise Unbuildable(f"Keras has no layer for `{function.written()}`: it clips to "
                      "[0, max] (ReLU) or to [-1, 1] (hard_tanh) only",
                      hint=ELSEWHERE + "; in Keras, `clip=0,HI` and `clip=-1,1` build")


def groupnorm(self, node, layer):
    return _spec("GroupNormalization", groups=layer.groups, axis=-1, epsilon=layer.eps,
                 center=layer.affine, scale=layer.affine, name=node.name)


def instancenorm(self, node, layer):
    return _spec("GroupNormalization", groups=node.shape[-1], axis=-1, epsilon=layer.eps,
                 center=layer.affine, scale=layer.affine, name=node.name)


def lrn(self, node, layer):
    raise CnnError("Keras has no local response normalisation layer (`lrn`)", node.span,
                   ELSEWHERE)


def prelu(self, node, layer):
    rank = len(node.shape)
    shared = list(range(1, rank + 1 if layer.shared else rank)) or None
    return _spec("PReLU", shared_axes=shared, name=node.name)

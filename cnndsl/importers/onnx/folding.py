"""Constant propagation: ONNX nodes whose inputs are all known numbers, evaluated in NumPy.

Exporters compute a Reshape's target shape in the graph (`Shape -> Gather -> Unsqueeze ->
Concat`), cast and slice constants, and divide by `sqrt(2)` before an `Erf`. None of that
is a layer: the walk evaluates it here, once, and the readers see plain numbers. `Shape`
of a computed tensor is a constant too, since every size is known (a dynamic batch axis
reads as 1). Only operators with one exact NumPy meaning are here; any other node with
constant inputs is left to its reader, which refuses it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

Evaluate = Callable[[list[Any], dict[str, Any]], list[np.ndarray]]  # an input left out: None

# ONNX's TensorProto data types that a shape computation or a weight may hold.
_DTYPES = {1: np.float32, 2: np.uint8, 3: np.int8, 5: np.int16, 6: np.int32, 7: np.int64,
           9: np.bool_, 10: np.float16, 11: np.float64, 12: np.uint32, 13: np.uint64}


def dtype_of(code: int) -> Any:
    """The NumPy type of an ONNX element type, or None for one cnndsl does not compute."""
    return _DTYPES.get(code)


def _axes(inputs: list[np.ndarray], attrs: dict[str, Any], k: int) -> list[int] | None:
    """`axes` as an input (opset >= 13 for Squeeze/Unsqueeze, 18 for reductions) or an
    attribute (older)."""
    if len(inputs) > k and inputs[k] is not None and inputs[k].size:
        return [int(a) for a in inputs[k].reshape(-1)]
    return list(attrs["axes"]) if "axes" in attrs else None


def _unsqueeze(inputs, attrs):
    x, axes = inputs[0], _axes(inputs, attrs, 1) or []
    rank = x.ndim + len(axes)
    for axis in sorted(a % rank for a in axes):
        x = np.expand_dims(x, axis)
    return [x]


def _squeeze(inputs, attrs):
    axes = _axes(inputs, attrs, 1)
    x = inputs[0]
    return [np.squeeze(x) if axes is None else np.squeeze(x, tuple(a % x.ndim for a in axes))]


def _reshape(inputs, attrs):
    x, target = inputs[0], [int(t) for t in inputs[1].reshape(-1)]
    if not attrs.get("allowzero", 0):
        target = [x.shape[i] if t == 0 else t for i, t in enumerate(target)]
    return [x.reshape(target)]


def _slice(inputs, attrs):
    x = inputs[0]
    starts, ends = inputs[1].reshape(-1), inputs[2].reshape(-1)
    axes = inputs[3].reshape(-1) if len(inputs) > 3 and inputs[3] is not None \
        else np.arange(len(starts))
    steps = inputs[4].reshape(-1) if len(inputs) > 4 and inputs[4] is not None \
        else np.ones(len(starts), np.int64)
    index = [slice(None)] * x.ndim
    for start, end, axis, step in zip(starts, ends, axes, steps):
        index[int(axis)] = slice(int(start), int(end), int(step))
    return [x[tuple(index)]]


def _cast(inputs, attrs):
    dtype = dtype_of(int(attrs["to"]))
    if dtype is None:
        raise ValueError(f"Cast to ONNX type {attrs['to']}")
    return [inputs[0].astype(dtype)]


def _constant_of_shape(inputs, attrs):
    from onnx import numpy_helper

    fill = numpy_helper.to_array(attrs["value"]) if "value" in attrs else np.zeros(1, np.float32)
    return [np.full([int(d) for d in inputs[0].reshape(-1)], fill.reshape(-1)[0], fill.dtype)]


def _gather(inputs, attrs):
    return [np.take(inputs[0], inputs[1], axis=int(attrs.get("axis", 0)))]


def _concat(inputs, attrs):
    return [np.concatenate(inputs, axis=int(attrs["axis"]))]


def _binary(ufunc) -> Evaluate:
    def evaluate(inputs, attrs):
        a, b = inputs
        if ufunc is np.divide and a.dtype.kind in "iu" and b.dtype.kind in "iu":
            return [np.trunc(a / b).astype(np.result_type(a, b))]  # ONNX: integer division
        return [ufunc(a, b).astype(np.result_type(a, b))]
    return evaluate


def _unary(ufunc) -> Evaluate:
    return lambda inputs, attrs: [ufunc(inputs[0])]


def _transpose(inputs, attrs):
    perm = attrs.get("perm")
    return [np.transpose(inputs[0], perm)]


def _clip(inputs, attrs):
    x, low, high = (inputs + [None, None])[:3]
    return [np.clip(x, -np.inf if low is None else low, np.inf if high is None else high)
            .astype(x.dtype)]


def _where(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    condition: np.ndarray = inputs[0]
    return [np.where(condition, inputs[1], inputs[2])]


def _range(inputs, attrs):
    start, limit, delta = (x.reshape(()) for x in inputs)
    return [np.arange(start, limit, delta, dtype=np.result_type(start, limit, delta))]


def _reduce(ufunc) -> Evaluate:
    def evaluate(inputs, attrs):
        axes = _axes(inputs, attrs, 1)
        keep = bool(attrs.get("keepdims", 1))
        x = inputs[0]
        return [ufunc(x, axis=None if axes is None else tuple(axes), keepdims=keep)]
    return evaluate


FOLDABLE: dict[str, Evaluate] = {
    "Identity": lambda inputs, attrs: [inputs[0]],
    "Unsqueeze": _unsqueeze, "Squeeze": _squeeze, "Reshape": _reshape, "Slice": _slice,
    "Cast": _cast, "CastLike": lambda inputs, attrs: [inputs[0].astype(inputs[1].dtype)],
    "Shape": lambda inputs, attrs: [np.array(inputs[0].shape, np.int64)[
        attrs.get("start", 0):attrs.get("end")]],
    "ConstantOfShape": _constant_of_shape, "Gather": _gather,
    "Concat": _concat, "Transpose": _transpose, "Range": _range,
    "Add": _binary(np.add), "Sub": _binary(np.subtract), "Mul": _binary(np.multiply),
    "Div": _binary(np.divide), "Pow": _binary(np.power), "Equal": _binary(np.equal),
    "Max": _binary(np.maximum), "Min": _binary(np.minimum), "Clip": _clip,
    "Mod": lambda inputs, attrs: [(np.fmod if attrs.get("fmod", 0) else np.mod)(*inputs)],
    "Sqrt": _unary(np.sqrt), "Neg": _unary(np.negative), "Floor": _unary(np.floor),
    "Ceil": _unary(np.ceil), "Abs": _unary(np.abs), "Reciprocal": _unary(np.reciprocal),
    "Where": _where,
    "Expand": lambda inputs, attrs: [inputs[0] * np.ones([int(d) for d in inputs[1]],
                                                         inputs[0].dtype)],
    "ReduceProd": _reduce(np.prod), "ReduceSum": _reduce(np.sum),
}


def fold(op_type: str, inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray] | None:
    """The outputs of a node of constants, or None where it is not one `FOLDABLE` says."""
    evaluate = FOLDABLE.get(op_type)
    if evaluate is None:
        return None
    with np.errstate(all="ignore"):
        return [np.asarray(y) for y in evaluate(inputs, attrs)]

"""Version 3's activations for the NumPy backend: elu and celu with an alpha, gelu's tanh
form, mish, softsign, log_softmax and clip, in place on a buffer as `activations` does.

Each is written so that no finite input overflows or loses precision to cancellation:
mish's softplus is max(x, 0) + log1p(exp(-|x|)); gelu=tanh's gate 1/2 (1 + tanh(z)) is
sigmoid(2z), computed in float64 with exp(-|2z|) and from x clipped to +-30 (where the
gate is exactly 0 or 1 already, and x^3 cannot overflow); log_softmax subtracts the
maximum first. Piecewise functions compute both pieces without branches, as `activations` does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from ...layers.activations import Activation
from .blocks import blockwise, zeros

_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_CUBE = 0.044715
# |x| beyond which gelu=tanh's gate is exactly 0 or 1 in float64 (exp(-1974) is 0), and
# below which x^3 fits even float16
_GELU_SATURATED = 30.0


def scaled_elu(y: np.ndarray, alpha: float = 1.0, scale: float = 1.0) -> np.ndarray:
    """scale * (x if x > 0 else alpha*expm1(x)): elu, `elu=A` (Keras's ELU(alpha)) and
    selu; a factor of 1 is not multiplied at all."""
    def kernel(x: np.ndarray, buffers: Sequence[np.ndarray]) -> None:
        (t,) = buffers
        np.minimum(x, zeros(x.size, x.dtype), out=t)
        np.expm1(t, out=t)
        if alpha != 1.0:
            np.multiply(t, alpha, out=t)
        np.maximum(x, zeros(x.size, x.dtype), out=x)
        np.add(x, t, out=x)
        if scale != 1.0:
            np.multiply(x, scale, out=x)

    return blockwise(y, kernel, 1)


def _elu(y: np.ndarray, f: Activation) -> np.ndarray:
    return scaled_elu(y, f.alpha_or_one)


def _celu(y: np.ndarray, f: Activation) -> np.ndarray:
    """max(x, 0) + alpha*expm1(min(x, 0)/alpha), as Keras's and ONNX's celu."""
    alpha = f.alpha_or_one

    def kernel(x: np.ndarray, buffers: Sequence[np.ndarray]) -> None:
        (t,) = buffers
        np.minimum(x, zeros(x.size, x.dtype), out=t)
        np.divide(t, alpha, out=t)
        np.expm1(t, out=t)
        np.multiply(t, alpha, out=t)
        np.maximum(x, zeros(x.size, x.dtype), out=x)
        np.add(x, t, out=x)

    return blockwise(y, kernel, 1)


def _sigmoid_into(z: np.ndarray, t: np.ndarray) -> None:
    """sigmoid(z) into z: exp(min(z, 0)) / (1 + exp(-|z|)), never overflowing."""
    np.abs(z, out=t)
    np.negative(t, out=t)
    np.exp(t, out=t)
    np.add(t, 1, out=t)
    np.minimum(z, 0, out=z)
    np.exp(z, out=z)
    np.divide(z, t, out=z)


def _gelu(y: np.ndarray, f: Activation) -> np.ndarray:
    """gelu=tanh: x * sigmoid(2c(x + 0.044715 x^3)), i.e. x/2 (1 + tanh(c(...)))."""
    if not f.approximate:
        raise ValueError("the exact gelu is `activations`'s")

    def kernel(x: np.ndarray, buffers: Sequence[np.ndarray]) -> None:
        z, t = buffers
        np.clip(x, -_GELU_SATURATED, _GELU_SATURATED, out=z)
        np.multiply(z, z, out=t)
        np.multiply(t, _GELU_CUBE, out=t)
        np.add(t, 1, out=t)
        np.multiply(z, t, out=z)            # x + 0.044715 x^3
        np.multiply(z, 2 * _GELU_C, out=z)
        _sigmoid_into(z, t)
        np.multiply(x, z, out=x)

    return blockwise(y, kernel, 2, np.float64)  # its gate in float64, as gelu's erf


def _mish(y: np.ndarray, f: Activation) -> np.ndarray:
    """x * tanh(softplus(x)), softplus = max(x, 0) + log1p(exp(-|x|))."""
    def kernel(x: np.ndarray, buffers: Sequence[np.ndarray]) -> None:
        s, t = buffers
        np.abs(x, out=t)
        np.negative(t, out=t)
        np.exp(t, out=t)
        np.log1p(t, out=t)
        np.maximum(x, zeros(x.size, x.dtype), out=s)
        np.add(s, t, out=s)
        np.tanh(s, out=s)
        np.multiply(x, s, out=x)

    return blockwise(y, kernel, 2)


def _softsign(y: np.ndarray, f: Activation) -> np.ndarray:
    def kernel(x: np.ndarray, buffers: Sequence[np.ndarray]) -> None:
        (t,) = buffers
        np.abs(x, out=t)
        np.add(t, 1, out=t)
        np.divide(x, t, out=x)

    return blockwise(y, kernel, 1)


def _log_softmax(y: np.ndarray, f: Activation) -> np.ndarray:
    """(x - max) - log(sum(exp(x - max))) over the last axis."""
    if y.size == 0:
        return y
    v = y if y.ndim else y.reshape(1)
    # float16's x - max and log(sum) each round by up to 2^-11 of their size, and their
    # difference near 0 cancels: computed in float32, rounded to float16 once at the end
    w = v.astype(np.float32) if v.dtype.itemsize < 4 else v
    with np.errstate(over="ignore", invalid="ignore"):   # rows of -inf: NaN, as Keras
        np.subtract(w, np.max(w, axis=-1, keepdims=True), out=w)
        total = np.sum(np.exp(w), axis=-1, keepdims=True)
        np.subtract(w, np.log(total), out=w)
    if w is not v:
        v[...] = w
    return y


def _clip(y: np.ndarray, f: Activation) -> np.ndarray:
    if f.bounds is None:
        raise ValueError("clip needs its bounds")
    low, high = f.bounds
    return np.clip(y, low, high, out=y)


FUNCTIONS: dict[str, Callable[[np.ndarray, Activation], np.ndarray]] = {
    "elu": _elu, "celu": _celu, "gelu": _gelu, "mish": _mish, "softsign": _softsign,
    "log_softmax": _log_softmax, "clip": _clip,
}

"""Activation functions for the NumPy backend, in place on a buffer the caller owns.

`apply(activation, y)` overwrites `y` (a floating array) with the activation of its
values and returns it; only an array NumPy cannot write into, or one of integers, is
copied first (integers to float64). The dtype is kept: float32 stays float32.

Each function follows Keras 3's definition (keras/src/activations/activations.py and
keras/src/backend/tensorflow/nn.py), written so that large |x| neither overflows nor
loses precision:

* relu = max(x, 0); relu6 = min(max(x, 0), 6); linear = x
* leaky_relu = x if x >= 0 else alpha*x (alpha defaults to Keras's 0.2)
* sigmoid = 1 / (1 + exp(-x)) for x >= 0, exp(x) / (1 + exp(x)) for x < 0
* hard_sigmoid = relu6(x + 3) / 6 (Keras 3; Keras 2 had clip(0.2*x + 0.5, 0, 1))
* hard_swish = x * hard_sigmoid(x) (Keras 3's hard_silu), in that order of operations
* tanh; silu = x * sigmoid(x)
* softplus = log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|))
* elu = x if x > 0 else expm1(x) (alpha 1)
* selu = scale * (x if x > 0 else alpha * expm1(x)), Keras's alpha and scale
* gelu (exact, Keras's default `approximate=False`) = x/2 * (1 + erf(x/sqrt 2)),
  computed as x/2 * erfc(-x/sqrt 2), the same number without the cancellation of
  1 + erf(...) for large negative x; in float64 whatever the input dtype
* softmax over the last axis, the maximum subtracted first

Version 3 (in `activations_v3`):

* elu=A = x if x > 0 else A*expm1(x) (Keras's ELU(alpha)); celu = max(x, 0) +
  A*expm1(min(x, 0)/A)
* gelu=tanh = x/2 * (1 + tanh(c*(x + 0.044715*x^3))), c = sqrt(2/pi), computed as
  x * sigmoid(2c*(x + 0.044715*x^3)), the same number without the cancellation of
  1 + tanh(...) for negative x
* mish = x * tanh(softplus(x)), softplus in its stable form; softsign = x / (1 + |x|)
* log_softmax over the last axis = (x - max) - log(sum(exp(x - max)))
* clip=LO,HI = min(max(x, LO), HI)

Underflow to zero (exp of a large negative number) is the correctly rounded result, so
the underflow flag is ignored inside; nothing here overflows for finite input. As in
Keras, silu and gelu of -inf are NaN (-inf * 0), and softmax of a row holding +inf (or
only -inf) is NaN.

Speed: the two branches of a piecewise function are both computed and combined without
branches (`max(x, 0) + expm1(min(x, 0))` for elu; a 0/1 mask times each branch for
erf), because NumPy's masked ufuncs (`where=`), `np.where` and boolean indexing are
5-30 times slower than a plain ufunc pass when the signs of the data are random. The
functions of several passes run over blocks of `BLOCK` elements, so their temporaries
stay small and in cache.

NumPy has no erf, and SciPy is not a dependency: gelu's comes from `erf` (W. J. Cody's
rational approximations, accurate to a few units in the last place of float64).

>>> apply(Activation("relu"), np.array([-1.0, 0.5, 2.0]))
array([0. , 0.5, 2. ])
>>> apply(Activation("hard_sigmoid"), np.array([-4.0, 0.0, 1.5, 4.0], np.float32))
array([0.  , 0.5 , 0.75, 1.  ], dtype=float32)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from ...layers.activations import LEAKY_RELU_DEFAULT_SLOPE, Activation
from . import activations_v3
from .blocks import BLOCK, blockwise, zeros
from .erf import CODY_SCRATCH, cody_block, erf, erfc

__all__ = ["apply", "relu", "zeros", "erf", "erfc", "BLOCK", "SELU_ALPHA", "SELU_SCALE"]

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
_SQRT2 = math.sqrt(2.0)


def apply(activation: Activation, y: np.ndarray) -> np.ndarray:
    """`activation` of `y`, written into `y` itself when it is a writable float array."""
    function = _FUNCTIONS.get(activation.name)
    valued = activations_v3.FUNCTIONS.get(activation.name)
    if function is None and valued is None:
        raise ValueError(f"unknown activation {activation.name!r}")
    y = np.asarray(y)
    if y.dtype.kind != "f":
        y = y.astype(np.float64)
    elif not y.flags.writeable:
        y = y.copy()
    with np.errstate(under="ignore"):
        if activation.name == "leaky_relu":
            return _leaky_relu(y, activation.alpha)
        if valued is not None and (function is None or activation.alpha is not None
                                   or activation.approximate):  # elu=0.5, gelu=tanh
            return valued(y, activation)
        assert function is not None
        return function(y)


def relu(y: np.ndarray) -> np.ndarray:
    """max(y, 0) in place on a writable float array."""
    if not y.flags.c_contiguous:
        return np.maximum(y, 0, out=y)
    flat = y.reshape(-1)
    for start in range(0, flat.size, BLOCK):
        block = flat[start:start + BLOCK]
        np.maximum(block, zeros(block.size, y.dtype), out=block)
    return y


def _relu6(y: np.ndarray) -> np.ndarray:
    return np.clip(y, 0, 6, out=y)


def _leaky_relu(y: np.ndarray, alpha: float | None = None) -> np.ndarray:
    # max(x, 0) + alpha*min(x, 0): x if x >= 0 else alpha*x, for any alpha (not
    # max(x, alpha*x), which is wrong for alpha > 1; TensorFlow selects, as here).
    slope = LEAKY_RELU_DEFAULT_SLOPE if alpha is None else alpha

    def kernel(x: np.ndarray, buffers: Sequence[np.ndarray]) -> None:
        (t,) = buffers
        np.minimum(x, zeros(x.size, x.dtype), out=t)
        np.multiply(t, slope, out=t)
        np.maximum(x, zeros(x.size, x.dtype), out=x)
        np.add(x, t, out=x)

    return blockwise(y, kernel, 1)


def _sigmoid_kernel(x: np.ndarray, s: np.ndarray, t: np.ndarray) -> None:
    """sigmoid(x) into s: exp(min(x, 0)) / (1 + exp(-|x|)), so no exp overflows."""
    np.abs(x, out=t)
    np.negative(t, out=t)
    np.exp(t, out=t)
    np.add(t, 1, out=t)                 # 1 + exp(-|x|)
    np.minimum(x, 0, out=s)
    np.exp(s, out=s)                    # exp(x) if x < 0 else 1
    np.divide(s, t, out=s)


def _sigmoid(y: np.ndarray) -> np.ndarray:
    def kernel(x: np.ndarray, buffers: Sequence[np.ndarray]) -> None:
        _sigmoid_kernel(x, x, buffers[0])

    return blockwise(y, kernel, 1)


def _silu(y: np.ndarray) -> np.ndarray:
    def kernel(x: np.ndarray, buffers: Sequence[np.ndarray]) -> None:
        s, t = buffers
        _sigmoid_kernel(x, s, t)
        np.multiply(x, s, out=x)

    return blockwise(y, kernel, 2)


def _hard_sigmoid(y: np.ndarray) -> np.ndarray:
    np.add(y, 3, out=y)
    np.clip(y, 0, 6, out=y)
    return np.divide(y, 6, out=y)


def _hard_swish(y: np.ndarray) -> np.ndarray:
    def kernel(x: np.ndarray, buffers: Sequence[np.ndarray]) -> None:
        (t,) = buffers
        np.add(x, 3, out=t)
        np.clip(t, 0, 6, out=t)
        np.divide(t, 6, out=t)          # hard_sigmoid, rounded as TensorFlow rounds it
        np.multiply(x, t, out=x)

    return blockwise(y, kernel, 1)


def _tanh(y: np.ndarray) -> np.ndarray:
    return np.tanh(y, out=y)


def _softplus(y: np.ndarray) -> np.ndarray:
    def kernel(x: np.ndarray, buffers: Sequence[np.ndarray]) -> None:
        (t,) = buffers
        np.abs(x, out=t)
        np.negative(t, out=t)
        np.exp(t, out=t)
        np.log1p(t, out=t)              # log1p(exp(-|x|))
        np.maximum(x, zeros(x.size, x.dtype), out=x)
        np.add(x, t, out=x)

    return blockwise(y, kernel, 1)


def _elu(y: np.ndarray) -> np.ndarray:
    return activations_v3.scaled_elu(y)


def _selu(y: np.ndarray) -> np.ndarray:
    return activations_v3.scaled_elu(y, SELU_ALPHA, SELU_SCALE)


def _gelu(y: np.ndarray) -> np.ndarray:
    def kernel(x: np.ndarray, buffers: Sequence[np.ndarray]) -> None:
        z = buffers[0]
        np.divide(x, -_SQRT2, out=z, dtype=np.float64)
        cody_block(z, z, True, buffers[1:])       # erfc(-x/sqrt 2) = 1 + erf(x/sqrt 2)
        half = buffers[1]                          # scratch of cody_block, free again
        np.multiply(x, 0.5, out=half, dtype=np.float64)
        np.multiply(half, z, out=x)                # (x/2) * erfc: no overflow at x ~ max

    return blockwise(y, kernel, 1 + CODY_SCRATCH, np.float64)


def _softmax(y: np.ndarray) -> np.ndarray:
    if y.size == 0:
        return y
    v = y if y.ndim else y.reshape(1)
    with np.errstate(over="ignore"):            # -max - max = -inf, and exp(-inf) = 0
        np.subtract(v, np.max(v, axis=-1, keepdims=True), out=v)
    np.exp(v, out=v)
    np.divide(v, np.sum(v, axis=-1, keepdims=True), out=v)
    return y


def _linear(y: np.ndarray) -> np.ndarray:
    return y


_FUNCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": relu, "relu6": _relu6, "sigmoid": _sigmoid, "hard_sigmoid": _hard_sigmoid,
    "tanh": _tanh, "softmax": _softmax, "elu": _elu, "selu": _selu, "gelu": _gelu,
    "silu": _silu, "softplus": _softplus, "leaky_relu": _leaky_relu, "linear": _linear,
    "hard_swish": _hard_swish,
}

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

NumPy has no erf, and SciPy is not a dependency: `erf` and `erfc` implement
W. J. Cody's rational Chebyshev approximations ("Rational Chebyshev approximations for
the error function", Math. Comp. 23 (1969) 631-637; the coefficients of his CALERF),
accurate to a few units in the last place of float64 over the whole real line.

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

__all__ = ["apply", "relu", "zeros", "erf", "erfc", "SELU_ALPHA", "SELU_SCALE"]

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
BLOCK = 1 << 16       # elements per block of the functions of several passes
_SQRT2 = math.sqrt(2.0)

Kernel = Callable[[np.ndarray, Sequence[np.ndarray]], None]


def apply(activation: Activation, y: np.ndarray) -> np.ndarray:
    """`activation` of `y`, written into `y` itself when it is a writable float array."""
    function = _FUNCTIONS.get(activation.name)
    if function is None:
        raise ValueError(f"unknown activation {activation.name!r}")
    y = np.asarray(y)
    if y.dtype.kind != "f":
        y = y.astype(np.float64)
    elif not y.flags.writeable:
        y = y.copy()
    with np.errstate(under="ignore"):
        if activation.name == "leaky_relu":
            return _leaky_relu(y, activation.alpha)
        return function(y)


def _blockwise(y: np.ndarray, kernel: Kernel, scratch: int,
               scratch_dtype: np.dtype | type | None = None) -> np.ndarray:
    """Run `kernel(block, buffers)` in place over consecutive blocks of `y`'s elements,
    with `scratch` buffers of a block's length (of `scratch_dtype`, default y's)."""
    fortran = y.flags.f_contiguous and not y.flags.c_contiguous
    work = y if y.flags.c_contiguous or fortran else np.ascontiguousarray(y)
    flat = work.reshape(-1, order="F") if fortran else work.reshape(-1)   # views
    size = min(flat.size, BLOCK)
    buffers = [np.empty(size, scratch_dtype or y.dtype) for _ in range(scratch)]
    for start in range(0, flat.size, BLOCK):
        block = flat[start:start + BLOCK]
        n = block.size
        kernel(block, buffers if n == size else [b[:n] for b in buffers])
    if work is not y:
        y[...] = work
    return y


def zeros(n: int, dtype) -> np.ndarray:
    """`n` <= BLOCK read-only zeros of `dtype`, shared by every caller and thread.

    `np.maximum(x, zeros)` between two contiguous arrays runs NumPy's vectorised loop,
    about four times as fast here as `np.maximum(x, 0)` against a scalar."""
    block = _ZEROS.get(np.dtype(dtype))
    if block is None:
        block = np.zeros(BLOCK, dtype)
        block.flags.writeable = False
        _ZEROS[np.dtype(dtype)] = block
    return block[:n]


_ZEROS: dict[np.dtype, np.ndarray] = {}


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

    return _blockwise(y, kernel, 1)


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

    return _blockwise(y, kernel, 1)


def _silu(y: np.ndarray) -> np.ndarray:
    def kernel(x: np.ndarray, buffers: Sequence[np.ndarray]) -> None:
        s, t = buffers
        _sigmoid_kernel(x, s, t)
        np.multiply(x, s, out=x)

    return _blockwise(y, kernel, 2)


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

    return _blockwise(y, kernel, 1)


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

    return _blockwise(y, kernel, 1)


def _elu(y: np.ndarray) -> np.ndarray:
    def kernel(x: np.ndarray, buffers: Sequence[np.ndarray]) -> None:
        (t,) = buffers
        np.minimum(x, zeros(x.size, x.dtype), out=t)
        np.expm1(t, out=t)
        np.maximum(x, zeros(x.size, x.dtype), out=x)
        np.add(x, t, out=x)

    return _blockwise(y, kernel, 1)


def _selu(y: np.ndarray) -> np.ndarray:
    def kernel(x: np.ndarray, buffers: Sequence[np.ndarray]) -> None:
        (t,) = buffers
        np.minimum(x, zeros(x.size, x.dtype), out=t)
        np.expm1(t, out=t)
        np.multiply(t, SELU_ALPHA, out=t)
        np.maximum(x, zeros(x.size, x.dtype), out=x)
        np.add(x, t, out=x)
        np.multiply(x, SELU_SCALE, out=x)

    return _blockwise(y, kernel, 1)


def _gelu(y: np.ndarray) -> np.ndarray:
    def kernel(x: np.ndarray, buffers: Sequence[np.ndarray]) -> None:
        z = buffers[0]
        np.divide(x, -_SQRT2, out=z, dtype=np.float64)
        _cody_block(z, z, True, buffers[1:])       # erfc(-x/sqrt 2) = 1 + erf(x/sqrt 2)
        half = buffers[1]                          # scratch of _cody_block, free again
        np.multiply(x, 0.5, out=half, dtype=np.float64)
        np.multiply(half, z, out=x)                # (x/2) * erfc: no overflow at x ~ max

    return _blockwise(y, kernel, 1 + _CODY_SCRATCH, np.float64)


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


# --- erf and erfc: W. J. Cody's rational Chebyshev approximations ------------------

# erf(x) = x * R(x^2) for |x| <= 0.46875
_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
      3.20937758913846947e03, 1.85777706184603153e-1)
_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
      2.84423683343917062e03)
# erfc(x) = exp(-x^2) * R(x) for 0.46875 < x <= 4
_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
      2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
      2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)
_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
      1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
      3.43936767414372164e03, 1.23033935480374942e03)
# erfc(x) = exp(-x^2) / x * (1/sqrt(pi) + R(1/x^2) / x^2) for x > 4
_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
      1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
_Q = (2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1,
      6.05183413124413191e-2, 2.33520497626869185e-3)
_ONE_OVER_SQRT_PI = 5.6418958354775628695e-1
_THRESHOLD = 0.46875
_ERFC_ZERO = 27.3          # erfc(x) rounds to 0 in float64 from x ~ 27.23 on
_DEEP = 700.0              # exp(-h^2) is applied in two factors beyond h^2 = 700
_EXP_MINUS_DEEP = math.exp(-_DEEP)
_CODY_SCRATCH = 7


def erf(x) -> np.ndarray:
    """The error function, elementwise; computed in float64, returned in x's float dtype
    (float64 for integers)."""
    return _public(x, complement=False)


def erfc(x) -> np.ndarray:
    """The complementary error function 1 - erf(x), accurate also where it is tiny."""
    return _public(x, complement=True)


def _public(x, complement: bool):
    x = np.asarray(x)
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    z = x.astype(np.float64)            # a copy, computed on in place

    def kernel(block: np.ndarray, buffers: Sequence[np.ndarray]) -> None:
        _cody_block(block, block, complement, buffers)

    with np.errstate(under="ignore"):
        _blockwise(z, kernel, _CODY_SCRATCH)
    result = z.astype(dtype, copy=False)
    return result[()] if result.ndim == 0 else result


def _cody_block(x: np.ndarray, out: np.ndarray, complement: bool,
                buffers: Sequence[np.ndarray]) -> None:
    """erf(x), or erfc(x), of a float64 block into `out` (which may be `x`).

    Every piece of Cody's is evaluated on every element, at |x| clipped into the piece's
    interval (so all stay finite), and the right one is picked by multiplying with 0/1
    masks, which is exact. The third piece is computed only when some |x| > 4.
    """
    y, u, p, q, r, m, s = buffers[:_CODY_SCRATCH]
    np.abs(x, out=y)
    ymax = float(y.max())
    if ymax != ymax:                             # a NaN: compute every piece (NaN flows
        ymax = math.inf                          # through them all to the result)

    # erf(|x|) for |x| <= 0.46875 -> r
    np.minimum(y, _THRESHOLD, out=r)
    np.multiply(r, r, out=u)
    np.multiply(u, _A[4], out=p)
    np.add(u, _B[0], out=q)
    np.multiply(q, u, out=q)
    for i in range(3):
        np.add(p, _A[i], out=p)
        np.multiply(p, u, out=p)
        if i:
            np.add(q, _B[i], out=q)
            np.multiply(q, u, out=q)
    np.add(p, _A[3], out=p)
    np.add(q, _B[3], out=q)
    np.multiply(r, p, out=r)
    np.divide(r, q, out=r)

    # erfc(|x|) * exp(x^2) for 0.46875 < |x| <= 4 -> p
    np.clip(y, _THRESHOLD, 4.0, out=u)
    np.multiply(u, _C[8], out=p)
    np.add(u, _D[0], out=q)
    np.multiply(q, u, out=q)
    for i in range(7):
        np.add(p, _C[i], out=p)
        np.multiply(p, u, out=p)
        if i:
            np.add(q, _D[i], out=q)
            np.multiply(q, u, out=q)
    np.add(p, _C[7], out=p)
    np.add(q, _D[7], out=q)
    np.divide(p, q, out=p)

    # ... and for |x| > 4, in s, put into p where |x| > 4
    if ymax > 4.0:
        np.clip(y, 4.0, _ERFC_ZERO, out=u)
        np.multiply(u, u, out=m)
        np.reciprocal(m, out=m)                  # 1/x^2
        np.multiply(m, _P[5], out=s)
        np.add(m, _Q[0], out=q)
        np.multiply(q, m, out=q)
        for i in range(4):
            np.add(s, _P[i], out=s)
            np.multiply(s, m, out=s)
            if i:
                np.add(q, _Q[i], out=q)
                np.multiply(q, m, out=q)
        np.add(s, _P[4], out=s)
        np.add(q, _Q[4], out=q)
        np.multiply(s, m, out=s)
        np.divide(s, q, out=s)
        np.subtract(_ONE_OVER_SQRT_PI, s, out=s)
        np.divide(s, u, out=s)
        np.greater(y, 4.0, out=m)
        np.multiply(s, m, out=s)
        np.subtract(1.0, m, out=m)
        np.multiply(p, m, out=p)
        np.add(p, s, out=p)

    # times exp(-x^2) -> p = erfc(|x|) for |x| > 0.46875
    _times_exp_minus_square(y, p, ymax, u, q, m)

    # Pick erf(|x|) or 1 - erfc(|x|) by |x| <= 0.46875, then the sign of x.
    np.less_equal(y, _THRESHOLD, out=m)
    if complement:
        np.subtract(1.0, r, out=r)               # erfc(|x|) = 1 - erf(|x|) ...
        np.multiply(r, m, out=r)
        np.subtract(1.0, m, out=m)
        np.multiply(p, m, out=p)
        np.add(r, p, out=r)                      # ... or erfc(|x|) -> r
        np.subtract(2.0, r, out=q)               # erfc(x) = 2 - erfc(|x|) for x < 0
        np.less(x, 0.0, out=m)
        np.multiply(q, m, out=q)
        np.subtract(1.0, m, out=m)
        np.multiply(r, m, out=r)
        np.add(r, q, out=out)
    else:
        np.multiply(r, m, out=r)
        np.subtract(1.0, m, out=m)
        np.subtract(1.0, p, out=p)               # erf(|x|) = 1 - erfc(|x|)
        np.multiply(p, m, out=p)
        np.add(r, p, out=r)
        np.copysign(r, x, out=out)               # erf is odd


def _times_exp_minus_square(y: np.ndarray, p: np.ndarray, ymax: float,
                            h: np.ndarray, d: np.ndarray, m: np.ndarray) -> None:
    """p *= exp(-y^2) for y clipped into [0.46875, 27.3], and p = 0 from 27.3 on.

    As p * exp(-d) * exp(-h^2) with h = y rounded down to a multiple of 1/16, so that
    h^2 is exact, and d = (y - h)(y + h) (Cody's device). Where exp(-h^2) would be
    subnormal it is applied as exp(-(h^2 - 700)) * exp(-700), so that only the last
    product may round into the subnormal range.
    """
    np.clip(y, _THRESHOLD, _ERFC_ZERO, out=d)
    np.multiply(d, 16.0, out=h)
    np.trunc(h, out=h)
    np.multiply(h, 0.0625, out=h)
    np.subtract(d, h, out=m)
    np.add(d, h, out=d)
    np.multiply(d, m, out=d)
    np.negative(d, out=d)
    np.exp(d, out=d)
    np.multiply(p, d, out=p)
    np.multiply(h, h, out=h)
    if ymax * ymax > _DEEP:
        np.greater(h, _DEEP, out=m)
        np.multiply(m, _DEEP, out=d)
        np.subtract(h, d, out=h)
        np.multiply(m, _EXP_MINUS_DEEP, out=d)
        np.subtract(1.0, m, out=m)
        np.add(d, m, out=d)                      # exp(-700) where h^2 > 700, else 1
        np.multiply(p, d, out=p)
    np.negative(h, out=h)
    np.exp(h, out=h)
    np.multiply(p, h, out=p)
    if ymax >= _ERFC_ZERO:
        np.less(y, _ERFC_ZERO, out=m)
        np.multiply(p, m, out=p)

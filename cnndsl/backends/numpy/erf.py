"""The error function for the NumPy backend's gelu, and `erf`/`erfc` for callers.

NumPy has no erf, and SciPy is not a dependency: `erf` and `erfc` implement
W. J. Cody's rational Chebyshev approximations ("Rational Chebyshev approximations for
the error function", Math. Comp. 23 (1969) 631-637; the coefficients of his CALERF),
accurate to a few units in the last place of float64 over the whole real line. Every
piece is computed on whole blocks, without branches per element (see `blocks`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .blocks import blockwise

__all__ = ["erf", "erfc", "cody_block", "CODY_SCRATCH"]

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
CODY_SCRATCH = 7


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
        cody_block(block, block, complement, buffers)

    with np.errstate(under="ignore"):
        blockwise(z, kernel, CODY_SCRATCH)
    result = z.astype(dtype, copy=False)
    return result[()] if result.ndim == 0 else result


def cody_block(x: np.ndarray, out: np.ndarray, complement: bool,
                buffers: Sequence[np.ndarray]) -> None:
    """erf(x), or erfc(x), of a float64 block into `out` (which may be `x`).

    Every piece of Cody's is evaluated on every element, at |x| clipped into the piece's
    interval (so all stay finite), and the right one is picked by multiplying with 0/1
    masks, which is exact. The third piece is computed only when some |x| > 4.
    """
    y, u, p, q, r, m, s = buffers[:CODY_SCRATCH]
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

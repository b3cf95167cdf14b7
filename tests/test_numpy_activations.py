"""The NumPy backend's activations and erf against references written here, independently,
with Python's `math` on one float at a time, and against Keras 3 when TensorFlow is there.

The references follow Keras 3's definitions (keras/src/activations/activations.py and
keras/src/backend/tensorflow/nn.py): hard_sigmoid = relu6(x + 3) / 6, hard_swish =
x * hard_sigmoid(x) (Keras's hard_silu), gelu exact
(approximate=False), selu's constants, leaky_relu's slope 0.2, softmax over the last
axis. Stable forms are used only where the plain one would overflow in Python.
Version 3's: celu, mish, softsign, clip (checked at -1, 1, hardtanh), log_softmax over
the last axis, and with values elu=A, celu=A, gelu=tanh.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from cnndsl.backends.numpy import activations as acts
from cnndsl.layers.activations import FLOPS_PER_ELEMENT, Activation

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
INF, NAN = math.inf, math.nan


# --- references, one Python float at a time --------------------------------------------

def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    return math.exp(x) / (1.0 + math.exp(x))


def _gelu(x: float) -> float:
    # 0.5 * x * (1 + erf(x / sqrt 2)), with 1 + erf(t) written erfc(-t): the same number,
    # without the cancellation that makes the first form 0 for x below about -8.
    return 0.5 * x * math.erfc(-x / math.sqrt(2.0))


SCALAR_REFERENCES = {
    "relu": lambda x: max(x, 0.0),
    "relu6": lambda x: min(max(x, 0.0), 6.0),
    "sigmoid": _sigmoid,
    "hard_sigmoid": lambda x: min(max(x + 3.0, 0.0), 6.0) / 6.0,
    "hard_swish": lambda x: x * (min(max(x + 3.0, 0.0), 6.0) / 6.0),  # Keras 3's hard_silu
    "tanh": math.tanh,
    "elu": lambda x: x if x > 0 else math.expm1(x),
    "selu": lambda x: SELU_SCALE * x if x > 0 else SELU_SCALE * SELU_ALPHA * math.expm1(x),
    "gelu": _gelu,
    "silu": lambda x: x * _sigmoid(x),
    "softplus": lambda x: math.log1p(math.exp(-abs(x))) + max(x, 0.0),
    "leaky_relu": lambda x: x if x >= 0 else 0.2 * x,
    "linear": lambda x: x,
    # version 3: normalisation and activations
    "celu": lambda x: x if x > 0 else math.expm1(x),  # alpha 1; other alphas below
    "mish": lambda x: x * math.tanh(math.log1p(math.exp(-abs(x))) + max(x, 0.0)),
    "softsign": lambda x: x / (1.0 + abs(x)),
    "clip": lambda x: min(max(x, -1.0), 1.0),  # as `act("clip")`: clip=-1,1
}
ELEMENTWISE = sorted(SCALAR_REFERENCES)
ALL = sorted(FLOPS_PER_ELEMENT)
ROWWISE = ("softmax", "log_softmax")
assert set(ALL) == set(ELEMENTWISE) | set(ROWWISE)


def reference(name: str, x: np.ndarray, alpha: float = 0.2) -> np.ndarray:
    """The activation of x (any float dtype) in float64, by the scalar references."""
    x = np.asarray(x, dtype=np.float64)
    if name in ROWWISE:
        out = np.empty_like(x)
        for index in np.ndindex(x.shape[:-1]):
            row = [float(v) for v in x[index]]
            top = max(row)
            e = [math.exp(v - top) for v in row]
            total = math.fsum(e)
            out[index] = ([v / total for v in e] if name == "softmax"
                          else [v - top - math.log(total) for v in row])
        return out
    if name == "leaky_relu":
        f = lambda v: v if v >= 0 else alpha * v  # noqa: E731
    else:
        f = SCALAR_REFERENCES[name]
    return np.array([NAN if math.isnan(v) else f(v) for v in x.ravel().tolist()],
                    dtype=np.float64).reshape(x.shape)


def act(name: str, alpha: float | None = None) -> Activation:
    if name == "clip":
        return Activation("clip", bounds=(-1.0, 1.0))
    return Activation(name, 0.2 if name == "leaky_relu" and alpha is None else alpha)


TOLERANCE = {  # (rtol, atol): atol only below the smallest normal number
    np.dtype(np.float64): (1e-12, 1e-300),
    np.dtype(np.float32): (1e-6, 1e-37),
}


def check(name: str, x: np.ndarray, alpha: float = 0.2) -> float:
    """Compare apply() on a copy of x with the reference; return the max relative error."""
    x = np.asarray(x)
    y = acts.apply(act(name, alpha if name == "leaky_relu" else None), x.copy())
    assert y.dtype == x.dtype and y.shape == x.shape
    want = reference(name, x, alpha)
    rtol, atol = TOLERANCE[x.dtype]
    if name in ROWWISE and x.dtype == np.float32:
        # x - max rounds in float32 to within |x - max| * 2^-24: a relative error of the
        # small probabilities p, at most p*ln(1/p) * 2^-24 < 2.2e-8 absolute (Keras alike).
        atol = 3e-8
    np.testing.assert_array_equal(np.isnan(y), np.isnan(want), err_msg=name)
    np.testing.assert_allclose(y.astype(np.float64), want, rtol=rtol, atol=atol,
                               equal_nan=True, err_msg=f"{name} {x.dtype}")
    finite = np.isfinite(want) & (want != 0)
    return float(np.max(np.abs(y[finite] - want[finite]) / np.abs(want[finite]), initial=0))


# The grid: extremes, signed zeros, subnormals, both sides of every branch point.
EXTREMES = [-1e4, -1e3, -750.0, -745.0, -710.0, -100.0, -88.0, -50.0, -38.0, -37.0,
            -30.0, -20.0, -10.0, -6.0, -5.0, -3.0, -1.0, -0.5, -1e-8, -1e-300, -5e-324,
            -0.0, 0.0, 5e-324, 1e-300, 1e-8, 0.5, 1.0, 3.0, 5.0, 6.0, 10.0, 20.0, 30.0,
            50.0, 88.0, 100.0, 710.0, 750.0, 1e3, 1e4]
GRID = np.concatenate([EXTREMES, np.linspace(-40.0, 40.0, 4001), [INF, -INF, NAN]])


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_elementwise_against_math(name, dtype):
    with np.errstate(invalid="ignore"):  # silu and gelu at -inf: -inf * 0 = NaN, as Keras
        check(name, GRID.astype(dtype))


@pytest.mark.parametrize("alpha", [0.0, 0.01, 0.2, 0.3, 1.0, 5.5])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_leaky_relu_slopes(alpha, dtype):
    # x if x >= 0 else alpha*x, also for alpha > 1 where max(x, alpha*x) would be wrong;
    # at alpha = 0, -inf gives 0 * -inf = NaN, as in the reference (and TensorFlow).
    with np.errstate(invalid="ignore"):
        check("leaky_relu", GRID.astype(dtype), alpha)


def test_leaky_relu_default_slope_when_unset():
    y = acts.apply(Activation("leaky_relu"), np.array([-10.0, 10.0]))
    assert y.tolist() == [-2.0, 10.0]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_against_math(dtype):
    rng = np.random.default_rng(0)
    rows = [rng.standard_normal((5, 3, 17)) * 10,
            np.array([[1e4, -1e4, 0.0], [-1e4, -1e4 + 1, -1e4 + 2], [1000.0, 1000.0, 1000.0],
                      [5e-324, -0.0, 0.0], [-745.0, 0.0, 745.0]]),
            np.array([[3.0]]), np.linspace(-40, 40, 81).reshape(1, 81)]
    for x in rows:
        x = x.astype(dtype)
        check("softmax", x)
        y = acts.apply(act("softmax"), x.copy())
        np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=1e-12 if dtype == np.float64
                                   else 1e-6)


def test_softmax_edge_shapes():
    assert acts.apply(act("softmax"), np.zeros((0, 4))).shape == (0, 4)
    assert acts.apply(act("softmax"), np.zeros((3, 0))).shape == (3, 0)
    assert acts.apply(act("softmax"), np.array(7.0)) == 1.0
    # A NaN, or +inf, poisons only its own row.
    y = acts.apply(act("softmax"), np.array([[0.0, NAN], [0.0, 0.0]]))
    assert np.isnan(y[0]).all() and y[1].tolist() == [0.5, 0.5]


def test_special_values():
    f = lambda name, v: acts.apply(act(name), np.array([v])).item()  # noqa: E731
    assert f("sigmoid", INF) == 1.0 and f("sigmoid", -INF) == 0.0
    assert f("softplus", INF) == INF and f("softplus", -INF) == 0.0
    assert f("elu", -INF) == -1.0 and f("selu", -INF) == -SELU_SCALE * SELU_ALPHA
    assert f("gelu", INF) == INF and f("silu", INF) == INF
    assert f("hard_sigmoid", -3.0) == 0.0 and f("hard_sigmoid", 3.0) == 1.0
    assert f("gelu", 1e300) == 1e300 and f("gelu", np.finfo(np.float64).max) > 1e308
    assert f("softplus", 0.0) == math.log(2.0)
    # As in Keras (x * 0 at x = -inf): NaN.
    with np.errstate(invalid="ignore"):
        assert math.isnan(f("silu", -INF)) and math.isnan(f("gelu", -INF))


def test_gelu_keeps_precision_in_the_tail():
    # Keras's written form 0.5*x*(1 + erf(x/sqrt 2)) is 0 here; the true value is not.
    x = np.array([-10.0, -20.0, -37.0])
    y = acts.apply(act("gelu"), x.copy())
    want = [0.5 * v * math.erfc(-v / math.sqrt(2.0)) for v in x]
    assert all(w != 0 for w in want)
    np.testing.assert_allclose(y, want, rtol=1e-13)
    assert all(0.5 * v * (1 + math.erf(v / math.sqrt(2.0))) == 0 for v in x)
    # and it agrees with that form wherever the form has not cancelled
    x = np.linspace(-6, 40, 2001)
    y = acts.apply(act("gelu"), x.copy())
    plain = [0.5 * v * (1 + math.erf(v / math.sqrt(2.0))) for v in x]
    np.testing.assert_allclose(y, plain, rtol=1e-9, atol=1e-15)


# --- erf -------------------------------------------------------------------------------

def _dense_erf_grid() -> np.ndarray:
    near = [0.46875, 4.0, 26.5, 27.0, 27.2, 27.3]
    edges = np.concatenate([np.nextafter(v, [-INF, INF]) for v in near] + [near])
    pos = np.concatenate([np.linspace(0, 7, 300001), np.geomspace(1e-307, 30, 100001),
                          np.linspace(4, 30, 20001), edges])
    return np.concatenate([pos, -pos])


def test_erf_against_math_erf():
    x = _dense_erf_grid()
    with np.errstate(all="raise"):
        got = acts.erf(x)
    want = np.array([math.erf(v) for v in x.tolist()])
    nonzero = want != 0
    rel = np.abs(got[nonzero] - want[nonzero]) / np.abs(want[nonzero])
    assert rel.max() < 1e-14, (rel.max(), x[nonzero][rel.argmax()])
    assert np.all(got[~nonzero] == 0)
    assert np.all(np.abs(got) <= 1)


def test_erfc_against_math_erfc():
    x = _dense_erf_grid()
    with np.errstate(all="raise"):
        got = acts.erfc(x)
    want = np.array([math.erfc(v) for v in x.tolist()])
    normal = want >= np.finfo(np.float64).tiny
    rel = np.abs(got[normal] - want[normal]) / want[normal]
    assert rel.max() < 1e-14, (rel.max(), x[normal][rel.argmax()])
    # subnormal results: within a few units of the smallest subnormal
    np.testing.assert_allclose(got[~normal], want[~normal], rtol=0, atol=2e-323)


def test_erf_special_values_and_dtypes():
    got = acts.erf(np.array([0.0, -0.0, INF, -INF, NAN, 5e-324, -5e-324, 1e300, -1e300]))
    assert got[0] == 0 and not np.signbit(got[0]) and np.signbit(got[1])
    assert got[2:4].tolist() == [1.0, -1.0] and math.isnan(got[4])
    assert got[5] == math.erf(5e-324) and got[6] == -got[5]
    assert got[7:].tolist() == [1.0, -1.0]
    assert acts.erfc(np.array([INF, -INF])).tolist() == [0.0, 2.0]
    x32 = np.linspace(-5, 5, 1001, dtype=np.float32)
    y32 = acts.erf(x32)
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, [math.erf(v) for v in x32.tolist()], rtol=1e-7, atol=1e-38)
    assert acts.erf(np.float64(0.5)) == pytest.approx(math.erf(0.5), rel=1e-15)
    assert acts.erf([1, 2]).dtype == np.float64
    assert acts.erf(np.zeros((2, 0, 3))).shape == (2, 0, 3)
    x = np.linspace(-3, 3, 12).reshape(3, 4)
    np.testing.assert_allclose(acts.erf(x.T), np.vectorize(math.erf)(x.T), rtol=1e-15)
    assert x[0, 0] == -3  # the input is not touched


def test_erf_blocks_with_nan_and_tail_together():
    # A NaN in a block must not stop the |x| > 4 piece from being computed there.
    x = np.array([NAN, 5.0, -6.0, 0.1, 2.0, 27.0, 30.0])
    got = acts.erfc(x)
    assert math.isnan(got[0])
    np.testing.assert_allclose(got[1:], [math.erfc(v) for v in x[1:]], rtol=1e-14)


# --- Hypothesis -------------------------------------------------------------------------

def _arrays(dtype):
    width = 64 if dtype == np.float64 else 32
    return hnp.arrays(dtype, hnp.array_shapes(min_dims=1, max_dims=3, max_side=9),
                      elements=st.floats(-2e4, 2e4, width=width) | st.floats(width=width))


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(ALL), dtype=st.sampled_from([np.float64, np.float32]),
       data=st.data())
def test_random_arrays_against_math(name, dtype, data):
    x = data.draw(_arrays(dtype))
    if name in ROWWISE:  # rows with +-inf are NaN by construction; keep them finite
        x[~np.isfinite(x)] = 0
    with np.errstate(invalid="ignore", over="ignore"):  # silu/gelu at -inf: x * 0
        check(name, x)


@settings(max_examples=100, deadline=None)
@given(x=hnp.arrays(np.float64, st.integers(0, 600),
                    elements=st.floats(-30, 30) | st.floats(-1e300, 1e300)))
def test_erf_random_against_math(x):
    got = acts.erf(x)
    want = np.array([math.erf(v) for v in x.tolist()])
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=0)


# --- in place, dtype, layout, warnings ---------------------------------------------------

@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_in_place_and_dtype(name, dtype):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((3, 5, 2 * acts.BLOCK // 5 + 7)) * 4).astype(dtype)
    y = x.copy()
    out = acts.apply(act(name), y)
    assert out is y and out.dtype == dtype
    rtol = {np.float64: 1e-12, np.float32: 1e-6, np.float16: 2e-3}[dtype]
    np.testing.assert_allclose(out.astype(np.float64), reference(name, x), rtol=rtol,
                               atol=1e-300 if dtype == np.float64 else 1e-6)


@pytest.mark.parametrize("name", ALL)
def test_views_are_written_in_place(name):
    # Non-contiguous and Fortran-ordered views: the caller's buffer changes, nothing else.
    rng = np.random.default_rng(2)
    base = rng.standard_normal((6, 40)).astype(np.float32) * 3
    original = base.copy()
    view = base[1:5, ::3]
    out = acts.apply(act(name), view)
    assert out is view
    np.testing.assert_allclose(base[1:5, ::3], reference(name, original[1:5, ::3]),
                               rtol=1e-6, atol=1e-7)
    untouched = np.ones(base.shape, bool)
    untouched[1:5, ::3] = False
    assert np.array_equal(base[untouched], original[untouched])
    f = np.asfortranarray(original[:, :9])
    out = acts.apply(act(name), f)
    assert out is f
    np.testing.assert_allclose(f, reference(name, original[:, :9]), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ALL)
def test_read_only_and_integer_inputs_are_copied(name):
    x = np.linspace(-3, 3, 12).reshape(3, 4)
    x.flags.writeable = False
    y = acts.apply(act(name), x)
    assert y is not x and x[0, 0] == -3
    np.testing.assert_allclose(y, reference(name, x), rtol=1e-12)
    i = np.arange(-3, 3).reshape(2, 3)
    y = acts.apply(act(name), i)
    assert y.dtype == np.float64 and i[0, 0] == -3
    np.testing.assert_allclose(y, reference(name, i), rtol=1e-12)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_no_floating_point_warnings_for_large_inputs(name, dtype):
    big = [1e4, 1e6, 1e30, 3e38, float(np.finfo(dtype).max) / 2]
    x = np.array(big + [-v for v in big] + [0.0, -0.0, 1e-30, -1e-30, 1e-45, -1e-45],
                 dtype=dtype)
    x = np.stack([x, x[::-1]])
    # selu's scale * x, and log_softmax's x - max between -3e38 and 3e38 in float32,
    # overflow, rightly, near the largest float
    if name in ("selu", "log_softmax"):
        x = np.clip(x, -1e30, 1e30)
    with np.errstate(all="raise"):
        y = acts.apply(act(name), x.copy())
    assert np.isfinite(y).all()
    np.testing.assert_allclose(y.astype(np.float64), reference(name, x),
                               *TOLERANCE[np.dtype(dtype)])


def test_unknown_activation():
    with pytest.raises(ValueError, match="unknown activation"):
        acts.apply(Activation("swoosh"), np.zeros(3))


# --- Keras -----------------------------------------------------------------------------

def test_against_keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.standard_normal(24000) * 4, rng.uniform(-60, 60, 6000),
                        [-1e4, -100, -50, -20, -3, -0.0, 0.0, 3, 20, 50, 100, 1e4]])
    x = x.astype(np.float32).reshape(-1, 12)   # last axis of 12 for softmax
    for name in ALL:
        # clip=-1,1 is Keras's hard_tanh
        keras_fn = getattr(keras.activations, "hard_tanh" if name == "clip" else name)
        want = np.asarray(keras_fn(x), dtype=np.float32)
        got = acts.apply(act(name), x.copy())
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6, err_msg=name)
    for alpha in (0.01, 0.1, 0.3):
        want = np.asarray(keras.activations.leaky_relu(x, negative_slope=alpha))
        got = acts.apply(Activation("leaky_relu", alpha), x.copy())
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    for alpha in (0.5, 2.0):
        for name in ("elu", "celu"):
            want = np.asarray(getattr(keras.activations, name)(x, alpha=alpha))
            got = acts.apply(Activation(name, alpha), x.copy())
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6, err_msg=name)
    want = np.asarray(keras.activations.gelu(x, approximate=True))
    got = acts.apply(Activation("gelu", approximate=True), x.copy())
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


# --- version 3: activations with values --------------------------------------------------

def _gelu_tanh(x: float) -> float:
    # x/2 * (1 + tanh(u)) = x / (1 + exp(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3); x held
    # within 1e3 for the cube (the gate is 0 or 1 long before)
    t = min(max(x, -1e3), 1e3)
    u = math.sqrt(2.0 / math.pi) * (t + 0.044715 * t ** 3)
    if -2 * u > 700:  # the gate is 0: -0.0, and -inf * 0 is nan, as in every framework
        return math.nan if math.isinf(x) else 0.0 * x
    return x / (1.0 + math.exp(-2 * u))


VALUED = [
    (Activation("elu", 0.5), lambda x: x if x > 0 else 0.5 * math.expm1(x)),
    (Activation("elu", 2.5), lambda x: x if x > 0 else 2.5 * math.expm1(x)),
    (Activation("celu", 0.5), lambda x: max(x, 0.0) + 0.5 * math.expm1(min(x, 0.0) / 0.5)),
    (Activation("celu", 3.0), lambda x: max(x, 0.0) + 3.0 * math.expm1(min(x, 0.0) / 3.0)),
    (Activation("gelu", approximate=True), _gelu_tanh),
    (Activation("clip", bounds=(0.0, 6.0)), lambda x: min(max(x, 0.0), 6.0)),
    (Activation("clip", bounds=(-0.5, 2.0)), lambda x: min(max(x, -0.5), 2.0)),
]


@pytest.mark.parametrize("function, scalar", VALUED, ids=[str(f) for f, _ in VALUED])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_activations_with_values_against_math(function, scalar, dtype):
    x = GRID.astype(dtype)
    with np.errstate(invalid="ignore"):  # gelu at -inf: -inf * 0 = NaN, as Keras
        y = acts.apply(function, x.copy())
    want = np.array([NAN if math.isnan(v) else scalar(v) for v in x.astype(np.float64)])
    np.testing.assert_array_equal(np.isnan(y), np.isnan(want))
    np.testing.assert_allclose(y.astype(np.float64), want, *TOLERANCE[np.dtype(dtype)],
                               equal_nan=True, err_msg=str(function))


def test_version_3_activations_by_hand():
    def f(function, values):
        return acts.apply(function, np.array(values, np.float64)).tolist()

    # elu=0.5 at -1: 0.5 (e^-1 - 1); celu=2 at -1: 2 (e^-0.5 - 1)
    assert f(Activation("elu", 0.5), [-1.0, 2.0]) == pytest.approx([-0.3160602794, 2.0])
    assert f(Activation("celu", 2.0), [-1.0, 2.0]) == pytest.approx([-0.7869386806, 2.0])
    # gelu=tanh at 1: (1 + tanh(sqrt(2/pi) * 1.044715)) / 2
    assert f(Activation("gelu", approximate=True), [1.0]) == pytest.approx([0.8411919906])
    # mish at 1: tanh(ln(1 + e)); softsign at 3 and -1: 3/4, -1/2
    assert f(Activation("mish"), [1.0]) == pytest.approx([0.8650983882673103])
    assert f(Activation("softsign"), [3.0, -1.0]) == [0.75, -0.5]
    # log_softmax of (0, ln 3): ln(1/4), ln(3/4)
    assert f(Activation("log_softmax"), [0.0, math.log(3.0)]) == \
        pytest.approx([math.log(0.25), math.log(0.75)])
    assert f(Activation("clip", bounds=(-1.0, 1.0)), [-3.0, 0.25, 7.0]) == [-1.0, 0.25, 1.0]


def test_clip_without_bounds_is_refused():
    with pytest.raises(ValueError, match="bounds"):
        acts.apply(Activation("clip"), np.zeros(3))

"""Version 3's normalisations and PReLU in the NumPy interpreter: `groupnorm`,
`instancenorm`, `lrn` and `prelu`, against a slow and obvious oracle written here (a
float64 loop over examples, groups, channels and positions, from PyTorch's definitions:
GroupNorm's biased variance over a group's channels and positions, LocalResponseNorm's
window of N//2 channels before and (N-1)//2 after, zeros beyond the edges, alpha / N),
and against small cases worked by hand. Fused activations of version 3 after a layer
are checked too, since they run inside the convolution's tiles.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from cnndsl import compile_text
from cnndsl.backends.numpy import Interpreter

# --- the oracle ---------------------------------------------------------------------------


def ref_group_norm(x, groups, eps, gamma=None, beta=None):
    n, c = x.shape[0], x.shape[-1]
    out = np.empty_like(x, dtype=np.float64)
    per = c // groups
    for b in range(n):
        for g in range(groups):
            values = [float(v) for v in x[b, ..., g * per:(g + 1) * per].ravel()]
            mean = math.fsum(values) / len(values)
            variance = math.fsum((v - mean) ** 2 for v in values) / len(values)
            for ch in range(g * per, (g + 1) * per):
                scale = 1.0 if gamma is None else float(gamma[ch])
                shift = 0.0 if beta is None else float(beta[ch])
                out[b, ..., ch] = ((x[b, ..., ch] - mean) / math.sqrt(variance + eps)
                                   * scale + shift)
    return out


def ref_lrn(x, size, alpha, beta, k):
    c = x.shape[-1]
    out = np.empty_like(x, dtype=np.float64)
    for index in np.ndindex(x.shape[:-1]):
        row = [float(v) for v in x[index]]
        for ch in range(c):
            window = range(max(0, ch - size // 2), min(c, ch + (size - 1) // 2 + 1))
            total = math.fsum(row[j] ** 2 for j in window)
            out[index + (ch,)] = row[ch] / (k + alpha / size * total) ** beta
    return out


def ref_prelu(x, alpha):
    flat_alpha = np.broadcast_to(alpha, x.shape[1:])
    out = np.empty_like(x, dtype=np.float64)
    for index in np.ndindex(x.shape):
        v = float(x[index])
        out[index] = v if v >= 0 else float(flat_alpha[index[1:]]) * v
    return out


def run(text, weights, x, dtype=np.float64, **options):
    graph = compile_text(text)
    return Interpreter(graph, weights, dtype=dtype, **options).run(x.astype(dtype))


RNG = np.random.default_rng(21)


# --- group and instance norm -------------------------------------------------------------


@pytest.mark.parametrize("shape, groups", [((5, 4, 8), 4), ((3, 6), 3), ((7, 6), 1),
                                           ((2, 3, 2, 4), 2), ((6, 5, 6), 6)])
@pytest.mark.parametrize("affine", [True, False])
def test_groupnorm_against_the_oracle(shape, groups, affine):
    x = RNG.standard_normal((2, *shape)) * 3 + 1
    c = shape[-1]
    w = {}
    if affine:
        w = {"groupnorm_1/gamma": RNG.standard_normal(c),
             "groupnorm_1/beta": RNG.standard_normal(c)}
    text = (f"input {'x'.join(map(str, shape))} -> groupnorm {groups} eps=1e-5"
            + ("" if affine else " affine=false"))
    want = ref_group_norm(x, groups, 1e-5, w.get("groupnorm_1/gamma"),
                          w.get("groupnorm_1/beta"))
    np.testing.assert_allclose(run(text, w, x), want, rtol=1e-9, atol=1e-10)
    got32 = run(text, w, x, dtype=np.float32)
    np.testing.assert_allclose(got32, want, rtol=1e-4, atol=1e-4)


def test_instancenorm_is_one_channel_per_group():
    x = RNG.standard_normal((3, 4, 5, 6)) * 2 - 1
    w = {"instancenorm_1/gamma": RNG.standard_normal(6),
         "instancenorm_1/beta": RNG.standard_normal(6)}
    want = ref_group_norm(x, 6, 1e-3, w["instancenorm_1/gamma"], w["instancenorm_1/beta"])
    np.testing.assert_allclose(run("input 4x5x6 -> instancenorm", w, x), want, rtol=1e-9,
                               atol=1e-10)


def test_group_norm_by_hand():
    # one example, 2x1 positions, 4 channels, 2 groups: group 0 holds 1, 3 (row 1) and
    # 5, 7 (row 2): mean 4, variance (9 + 1 + 1 + 9) / 4 = 5, so (v - 4) / sqrt(5)
    x = np.array([[[[1.0, 3.0, 10.0, 10.0]], [[5.0, 7.0, 10.0, 10.0]]]])
    got = run("input 2x1x4 -> groupnorm 2 eps=1e-300 affine=false", {}, x)
    s5 = math.sqrt(5.0)
    np.testing.assert_allclose(got[0, :, 0, :2], [[-3 / s5, -1 / s5], [1 / s5, 3 / s5]])
    # group 1 is constant: (v - mean) = 0 over sqrt(0 + eps)
    got = run("input 2x1x4 -> groupnorm 2 eps=1 affine=false", {}, x)
    np.testing.assert_array_equal(got[0, :, 0, 2:], 0.0)
    # instancenorm of channel 0 over (1, 5): mean 3, variance 4: -1, 1; gamma 2, beta 1
    w = {"instancenorm_1/gamma": np.array([2.0, 1, 1, 1]),
         "instancenorm_1/beta": np.array([1.0, 0, 0, 0])}
    got = run("input 2x1x4 -> instancenorm eps=1e-300", w, x)
    np.testing.assert_allclose(got[0, :, 0, 0], [2 * -1 + 1, 2 * 1 + 1])


def test_group_norm_statistics_are_per_example():
    # the second example is the first times 100 plus 7: normalised, both are equal
    a = RNG.standard_normal((1, 3, 3, 4))
    x = np.concatenate([a, a * 100 + 7])
    got = run("input 3x3x4 -> groupnorm 2 eps=1e-300 affine=false", {}, x)
    np.testing.assert_allclose(got[0], got[1], rtol=1e-9, atol=1e-12)


def test_group_norm_leaves_a_shared_input_alone():
    # the input feeds two branches: normalising one must not change the other
    x = RNG.standard_normal((2, 3, 4))
    got = run("input 3x4 -> concat { groupnorm 2 affine=false | id }", {}, x)
    np.testing.assert_array_equal(got[..., 4:], x)


# --- local response norm -----------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8])
def test_lrn_against_the_oracle(size):
    x = RNG.standard_normal((2, 3, 4, 7)) * 4
    text = f"input 3x4x7 -> lrn {size} alpha=0.01 beta=0.6 k=2"
    want = ref_lrn(x, size, 0.01, 0.6, 2.0)
    np.testing.assert_allclose(run(text, {}, x), want, rtol=1e-12)
    np.testing.assert_allclose(run(text, {}, x, dtype=np.float32), want, rtol=1e-5)


def test_lrn_by_hand():
    # channels (1, 2, 3), lrn 3 alpha=3 beta=1 k=1: alpha/N = 1, the windows are (1, 2),
    # (1, 2, 3), (2, 3): 1/(1 + 5), 2/(1 + 14), 3/(1 + 13)
    x = np.array([[[1.0, 2.0, 3.0]]])
    got = run("input 1x3 -> lrn 3 alpha=3 beta=1 k=1", {}, x)
    np.testing.assert_allclose(got[0, 0], [1 / 6, 2 / 15, 3 / 14])
    # lrn 2: one channel before, none after: (1), (1, 2), (2, 3); alpha/N = 3/2
    got = run("input 1x3 -> lrn 2 alpha=3 beta=1 k=1", {}, x)
    np.testing.assert_allclose(got[0, 0], [1 / 2.5, 2 / 8.5, 3 / 20.5])


# --- prelu --------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(6,), (4, 5), (3, 4, 5), (2, 3, 2, 3)])
@pytest.mark.parametrize("shared", [False, True])
def test_prelu_against_the_oracle(shape, shared):
    x = RNG.standard_normal((3, *shape))
    alpha_shape = (1,) * len(shape) if shared else (*(1,) * (len(shape) - 1), shape[-1])
    w = {"prelu_1/alpha": RNG.standard_normal(alpha_shape)}
    text = f"input {'x'.join(map(str, shape))} -> prelu" + (" shared" if shared else "")
    want = ref_prelu(x, w["prelu_1/alpha"])
    np.testing.assert_allclose(run(text, w, x), want, rtol=1e-12)


def test_prelu_by_hand():
    # slopes 0.5 and -2 on channels 0 and 1: -4 -> -2, 3 -> 3; -1 -> 2, 2 -> 2
    w = {"prelu_1/alpha": np.array([[0.5, -2.0]])}
    got = run("input 2x2 -> prelu", w, np.array([[[-4.0, -1.0], [3.0, 2.0]]]))
    np.testing.assert_array_equal(got[0], [[-2.0, 2.0], [3.0, 2.0]])


def test_prelu_after_conv_is_not_folded_into_it():
    # conv -> prelu: the conv's output (identity kernel) then the slope, as two steps
    text = "input 3x1 -> conv 1 x1 bias=false -> prelu"
    w = {"conv_1/kernel": np.ones((1, 1, 1)), "prelu_1/alpha": np.array([[0.25]])}
    got = run(text, w, np.array([[[-4.0], [0.0], [8.0]]]))
    np.testing.assert_array_equal(got[0, :, 0], [-1.0, 0.0, 8.0])


# --- version 3 activations fused into a layer -------------------------------------------


@pytest.mark.parametrize("word, scalar", [
    ("elu=0.5", lambda v: v if v > 0 else 0.5 * math.expm1(v)),
    ("celu=2", lambda v: max(v, 0.0) + 2 * math.expm1(min(v, 0.0) / 2)),
    ("mish", lambda v: v * math.tanh(math.log1p(math.exp(v)))),
    ("softsign", lambda v: v / (1 + abs(v))),
    ("clip=-0.5,1.5", lambda v: min(max(v, -0.5), 1.5)),
    ("gelu=tanh", lambda v: 0.5 * v * (1 + math.tanh(math.sqrt(2 / math.pi)
                                                     * (v + 0.044715 * v ** 3)))),
])
@pytest.mark.parametrize("fuse", [True, False])
def test_fused_activation_after_a_conv(word, scalar, fuse):
    x = RNG.standard_normal((2, 5, 5, 3)) * 2
    kernel = RNG.standard_normal((3, 3, 3, 4))
    w = {"conv_1/kernel": kernel, "conv_1/bias": RNG.standard_normal(4)}
    linear = run("input 5x5x3 -> conv 3 x4", w, x, fuse=fuse)
    got = run(f"input 5x5x3 -> conv 3 x4 {word}", w, x, fuse=fuse)
    want = np.vectorize(scalar)(linear)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    # written as a step after the conv, where the plan folds it into the conv's tiles
    got = run(f"input 5x5x3 -> conv 3 x4 -> {word}", {"conv_1/kernel": kernel,
                                                    "conv_1/bias": w["conv_1/bias"]},
              x, fuse=fuse)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_log_softmax_after_dense_is_over_the_units():
    x = RNG.standard_normal((4, 6))
    w = {"dense_1/kernel": RNG.standard_normal((6, 5)), "dense_1/bias": np.zeros(5)}
    logits = x @ w["dense_1/kernel"]
    want = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    np.testing.assert_allclose(run("input 6 -> dense 5 log_softmax", w, x), want,
                               rtol=1e-12)

"""Language version 3's rearranging steps in the NumPy interpreter: `pixel_shuffle`,
`pixel_unshuffle`, `channel_shuffle`, `split`, `upsample ... bilinear`, `flatten chw`,
`sepconv ... mult=` and the merge of one branch.

Each against values worked out by hand on a tiny input, and against a slow, obvious
NumPy loop written here from the definition in docs/language.md (PyTorch's orders), on
random inputs; never against the interpreter's own output.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from cnndsl import compile_text
from cnndsl.backends.numpy import Interpreter
from cnndsl.backends.weights import init_weights


def run(text: str, x, weights=None, **kwargs) -> np.ndarray:
    graph = compile_text(text)
    x = np.asarray(x, np.float32)
    return Interpreter(graph, weights or init_weights(graph, 0), **kwargs).run(x)


def rand(*shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# ---- by hand ----------------------------------------------------------------------------------

def test_pixel_shuffle_by_hand():
    # one position, 8 channels: channel c·4 + i·2 + j goes to channel c at (i, j)
    x = np.arange(8, dtype=np.float32).reshape(1, 1, 1, 8)
    y = run("input 1x1x8 -> pixel_shuffle 2", x)
    assert y.shape == (1, 2, 2, 2)
    assert y[0, :, :, 0].tolist() == [[0, 1], [2, 3]]
    assert y[0, :, :, 1].tolist() == [[4, 5], [6, 7]]


def test_pixel_unshuffle_by_hand():
    # a 2x2 block of one channel becomes 4 channels in reading order
    x = np.array([[10, 11], [12, 13]], np.float32).reshape(1, 2, 2, 1)
    assert run("input 2x2x1 -> pixel_unshuffle 2", x).tolist() == [[[[10, 11, 12, 13]]]]


def test_channel_shuffle_by_hand():
    # 6 channels as 2 x 3 [[0, 1, 2], [3, 4, 5]], transposed and read out
    x = np.arange(6, dtype=np.float32).reshape(1, 6)
    assert run("input 6 -> channel_shuffle 2", x).tolist() == [[0, 3, 1, 4, 2, 5]]
    assert run("input 6 -> channel_shuffle 3", x).tolist() == [[0, 2, 4, 1, 3, 5]]


def test_split_by_hand():
    # parts [1] and [2, 3, 4]: the first doubled, the second as it is
    x = np.array([[1, 2, 3, 4]], np.float32)
    assert run("input 4 -> split 1,3 { rescale 2 | id }", x).tolist() == [[2, 2, 3, 4]]
    # equal parts [1, -2] and [3, -4]: relu of the first, the second negated
    x = np.array([[1, -2, 3, -4]], np.float32)
    assert run("input 4 -> split { relu | rescale -1 }", x).tolist() == [[1, 0, -3, 4]]


def test_flatten_chw_by_hand():
    # x[h, w, c] = 4h + 2w + c; channels first: c = 0 -> 0, 2, 4, 6, then c = 1
    x = np.arange(8, dtype=np.float32).reshape(1, 2, 2, 2)
    assert run("input 2x2x2 -> flatten chw", x).tolist() == [[0, 2, 4, 6, 1, 3, 5, 7]]
    assert run("input 2x2x2 -> flatten", x).tolist() == [list(range(8))]


def test_bilinear_by_hand():
    # [0, 1, 2] doubled: outputs at (o + 0.5) / 2 - 0.5 = -0.25, 0.25, ... 2.25, clamped
    # to [0, 2]: 0, 0.25, 0.75, 1.25, 1.75, 2 (PyTorch align_corners=False gives these)
    x = np.array([0, 1, 2], np.float32).reshape(1, 1, 3, 1)
    y = run("input 1x3x1 -> upsample 2 bilinear", x)
    assert y[0, 0, :, 0].tolist() == [0, 0.25, 0.75, 1.25, 1.75, 2]
    assert y[0, 1, :, 0].tolist() == y[0, 0, :, 0].tolist()  # one row: both copies of it
    # 2x2 [[0, 4], [8, 12]] by 2: the inner 2x2 reads 3/4 of its nearest value
    x = np.array([[0, 4], [8, 12]], np.float32).reshape(1, 2, 2, 1)
    y = run("input 2x2x1 -> upsample 2 bilinear", x)[0, :, :, 0]
    assert y.tolist() == [[0, 1, 3, 4], [2, 3, 5, 6], [6, 7, 9, 10], [8, 9, 11, 12]]


def test_single_branch_merges_pass_the_branch_through():
    x = np.array([[-1, 2, -3]], np.float32)
    for merge in ("add", "mul", "avg", "max", "concat"):
        assert run(f"input 3 -> {merge} {{ relu }}", x).tolist() == [[0, 2, 0]], merge
    assert run("input 3 -> add { id }", x).tolist() == x.tolist()


# ---- against slow loops -----------------------------------------------------------------------

def slow_pixel_shuffle(x, r):
    n, h, w, c = x.shape
    y = np.zeros((n, h * r, w * r, c // (r * r)), x.dtype)
    for b, p, q, k, i, j in itertools.product(range(n), range(h), range(w), range(c // (r * r)),
                                              range(r), range(r)):
        y[b, p * r + i, q * r + j, k] = x[b, p, q, k * r * r + i * r + j]
    return y


def slow_channel_shuffle(x, g):
    c = x.shape[-1]
    y = np.zeros_like(x)
    for group, k in itertools.product(range(g), range(c // g)):
        y[..., k * g + group] = x[..., group * (c // g) + k]
    return y


def slow_bilinear(x, fh, fw):
    n, h, w, c = x.shape
    y = np.zeros((n, h * fh, w * fw, c), np.float64)

    def taps(o, f, size):
        where = min(max((o + 0.5) / f - 0.5, 0), size - 1)
        low = int(np.floor(where))
        return low, min(low + 1, size - 1), where - low

    for p, q in itertools.product(range(h * fh), range(w * fw)):
        a, b, s = taps(p, fh, h)
        d, e, t = taps(q, fw, w)
        y[:, p, q] = ((1 - s) * (1 - t) * x[:, a, d] + (1 - s) * t * x[:, a, e]
                      + s * (1 - t) * x[:, b, d] + s * t * x[:, b, e])
    return y


@pytest.mark.parametrize("r, shape", [(2, (2, 3, 4, 8)), (3, (1, 2, 2, 18)), (1, (1, 2, 2, 3))])
def test_pixel_shuffle_and_unshuffle_against_loops(r, shape):
    x = rand(*shape)
    spec = f"input {shape[1]}x{shape[2]}x{shape[3]} -> pixel_shuffle {r}"
    y = run(spec, x)
    np.testing.assert_array_equal(y, slow_pixel_shuffle(x, r))
    back = run(f"input {'x'.join(map(str, y.shape[1:]))} -> pixel_unshuffle {r}", y)
    np.testing.assert_array_equal(back, x)  # the exact inverse


@pytest.mark.parametrize("spec, shape, g", [
    ("input 5x4x12 -> channel_shuffle 3", (2, 5, 4, 12), 3),
    ("input 7x8 -> channel_shuffle 4", (2, 7, 8), 4),
    ("input 2x2x2x6 -> channel_shuffle 2", (1, 2, 2, 2, 6), 2),
])
def test_channel_shuffle_against_a_loop(spec, shape, g):
    x = rand(*shape)
    np.testing.assert_array_equal(run(spec, x), slow_channel_shuffle(x, g))


@pytest.mark.parametrize("factors, shape", [((2, 2), (2, 3, 4, 3)), ((3, 2), (1, 4, 1, 2)),
                                            ((1, 4), (1, 2, 3, 1))])
def test_bilinear_against_a_loop(factors, shape):
    x = rand(*shape)
    spec = f"input {shape[1]}x{shape[2]}x{shape[3]} -> upsample {factors[0]}x{factors[1]} bilinear"
    np.testing.assert_allclose(run(spec, x), slow_bilinear(x, *factors), rtol=0, atol=1e-6)


def test_split_against_slices():
    # conv 1 and dense in the branches, weights given: each branch sees its slice only
    x = rand(2, 3, 3, 10)
    graph = compile_text("input 3x3x10 -> split 4,6 { conv 1 x2 | tanh }")
    weights = init_weights(graph, 1)
    kernel, bias = weights["conv_1/kernel"], weights["conv_1/bias"] + 0.5
    weights["conv_1/bias"] = bias
    y = Interpreter(graph, weights).run(x)
    first = np.einsum("nhwc,cf->nhwf", x[..., :4], kernel[0, 0]) + bias
    np.testing.assert_allclose(y, np.concatenate([first, np.tanh(x[..., 4:])], -1),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fuse", [True, False])
def test_sepconv_multiplier_against_a_loop(fuse):
    # depthwise: output channel c·M + m = sum over the window of x[.., c] · k[.., c, m];
    # pointwise over the Cin·M channels; then bias and relu
    x = rand(2, 5, 5, 3)
    graph = compile_text("input 5x5x3 -> sepconv 3 x4 mult=2 relu -> bn")
    weights = init_weights(graph, 0)
    weights["sepconv_1/depthwise_kernel"] = rand(3, 3, 3, 2, seed=1)
    weights["sepconv_1/pointwise_kernel"] = rand(1, 1, 6, 4, seed=2)
    weights["sepconv_1/bias"] = rand(4, seed=3)
    dk, pk, bias = (weights[f"sepconv_1/{v}"] for v in ("depthwise_kernel",
                                                          "pointwise_kernel", "bias"))
    mid = np.zeros((2, 3, 3, 6))
    for p, q, c, m in itertools.product(range(3), range(3), range(3), range(2)):
        mid[:, p, q, c * 2 + m] = (x[:, p:p + 3, q:q + 3, c] * dk[:, :, c, m]).sum((1, 2))
    expected = np.maximum(mid @ pk[0, 0] + bias, 0)
    expected = expected / np.sqrt(1 + 1e-3)  # bn at its initial statistics
    y = Interpreter(graph, weights, fuse=fuse).run(x)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(2, 5, 3), (2, 2, 3, 4, 2), (2, 7)])
def test_flatten_chw_against_a_loop(shape):
    # value at spatial position s (in reading order) and channel c goes to c·S + s
    x = rand(*shape)
    spatial = int(np.prod(shape[1:-1]))
    expected = np.zeros((shape[0], x[0].size), np.float32)
    rows = x.reshape(shape[0], spatial, shape[-1])
    for s, c in itertools.product(range(spatial), range(shape[-1])):
        expected[:, c * spatial + s] = rows[:, s, c]
    spec = f"input {'x'.join(map(str, shape[1:]))} -> flatten chw"
    np.testing.assert_array_equal(run(spec, x), expected)

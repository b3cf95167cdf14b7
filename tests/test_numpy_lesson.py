"""The CNN lesson's example, computed by hand, and the Python API around running networks.

The lesson: a 6x6 binary image, two 3x3 filters, stride 1, no bias, then 2x2 max
pooling (`input 6x6x1 -> conv 3x3/1 x2 bias=false -> maxpool 2`). Filter 1 has +1 on
its diagonal and -1 elsewhere, so each output is 2*(diagonal sum) - (patch sum); filter 2
has +1 in its middle column, so each output is 2*(middle column) - (patch sum). The
expected maps below were worked out that way on paper, one patch at a time (a convolution
layer computes a cross-correlation: the filter is not flipped), and are checked again
against a plain Python loop written here.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import cnndsl
from cnndsl import compile_text
from cnndsl.backends.numpy import Interpreter
from cnndsl.backends.weights import WeightsError, init_weights, load_npz, save_npz

IMAGE = [
    [1, 0, 0, 0, 0, 1],
    [0, 1, 0, 0, 1, 0],
    [0, 0, 1, 1, 0, 0],
    [1, 0, 0, 0, 1, 0],
    [0, 1, 0, 0, 1, 0],
    [0, 0, 1, 0, 1, 0],
]
FILTER_1 = [[1, -1, -1],
            [-1, 1, -1],
            [-1, -1, 1]]
FILTER_2 = [[-1, 1, -1],
            [-1, 1, -1],
            [-1, 1, -1]]

# By hand, stride 1: 4x4 maps.
MAP_1 = [[3, -1, -3, -1],
         [-3, 1, 0, -3],
         [-3, -3, 0, 1],
         [3, -2, -2, -1]]
MAP_2 = [[-1, -1, -1, -1],
         [-1, -1, -2, 1],
         [-1, -1, -2, 1],
         [-1, 0, -4, 3]]
# 2x2 max pooling of each 2x2 block of the maps above.
POOLED_1 = [[3, 0],
            [3, 1]]
POOLED_2 = [[-1, 1],
            [0, 3]]
# Stride 2: the maps above at rows and columns 0 and 2.
STRIDE2_1 = [[3, -3],
             [-3, 0]]
STRIDE2_2 = [[-1, -1],
             [-1, -2]]

LESSON = "input 6x6x1 -> conv 3x3/1 x2 bias=false -> maxpool 2"
SEED_NETWORK = "input 6x6x1 -> conv 3x3/1 x2 -> maxpool 2 -> flatten -> dense 10"


def image() -> np.ndarray:
    return np.array(IMAGE, dtype=np.float64).reshape(6, 6, 1)


def lesson_kernel() -> np.ndarray:
    """Keras layout (kh, kw, in, filters): filter f is kernel[:, :, 0, f]."""
    kernel = np.zeros((3, 3, 1, 2))
    kernel[:, :, 0, 0] = FILTER_1
    kernel[:, :, 0, 1] = FILTER_2
    return kernel


def slide(img, flt, stride):
    """Cross-correlation of two lists of lists, valid padding: the plainest loop."""
    n, k = len(img), len(flt)
    out = []
    for i in range(0, n - k + 1, stride):
        row = []
        for j in range(0, n - k + 1, stride):
            row.append(sum(img[i + a][j + b] * flt[a][b] for a in range(k) for b in range(k)))
        out.append(row)
    return out


def pool(fmap, size=2):
    return [[max(fmap[i + a][j + b] for a in range(size) for b in range(size))
             for j in range(0, len(fmap[0]), size)] for i in range(0, len(fmap), size)]


def test_hand_computed_maps_agree_with_a_loop():
    assert MAP_1[0][0] == 3
    assert slide(IMAGE, FILTER_1, 1) == MAP_1
    assert slide(IMAGE, FILTER_2, 1) == MAP_2
    assert pool(MAP_1) == POOLED_1
    assert pool(MAP_2) == POOLED_2
    assert slide(IMAGE, FILTER_1, 2) == STRIDE2_1
    assert slide(IMAGE, FILTER_2, 2) == STRIDE2_2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lesson_feature_maps(dtype):
    net = cnndsl.parse(LESSON)
    net.set_weights({"conv_1/kernel": lesson_kernel()})
    layers = net.run_layers(image(), dtype=dtype)
    assert layers["conv_1"].shape == (4, 4, 2)
    np.testing.assert_array_equal(layers["conv_1"][:, :, 0], MAP_1)
    np.testing.assert_array_equal(layers["conv_1"][:, :, 1], MAP_2)
    assert layers["maxpool_1"].shape == (2, 2, 2)
    np.testing.assert_array_equal(layers["maxpool_1"][:, :, 0], POOLED_1)
    np.testing.assert_array_equal(layers["maxpool_1"][:, :, 1], POOLED_2)
    out = net.run(image(), dtype=dtype)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, layers["maxpool_1"])


@pytest.mark.parametrize("fuse", [False, True])
def test_lesson_with_the_interpreter_on_a_batch(fuse):
    graph = compile_text(LESSON)
    x = np.stack([image(), 1 - image()])  # the image and its negative
    out = Interpreter(graph, {"conv_1/kernel": lesson_kernel()}, dtype=np.float64,
                      fuse=fuse).run(x)
    assert out.shape == (2, 2, 2, 2)
    np.testing.assert_array_equal(out[0, :, :, 0], POOLED_1)
    np.testing.assert_array_equal(out[0, :, :, 1], POOLED_2)
    # On 1 - image each output is (sum of the filter) - (output on the image): filter 1
    # sums to -3 and filter 2 to -3, so the max pool sees -3 - map.
    neg_1 = [[-3 - v for v in row] for row in MAP_1]
    neg_2 = [[-3 - v for v in row] for row in MAP_2]
    np.testing.assert_array_equal(out[1, :, :, 0], pool(neg_1))
    np.testing.assert_array_equal(out[1, :, :, 1], pool(neg_2))


def test_lesson_on_an_integer_image():
    """The binary image as written, integers: cast, not refused."""
    net = cnndsl.parse(LESSON)
    net.set_weights({"conv_1/kernel": lesson_kernel().astype(np.float32)})
    out = net.run(np.array(IMAGE).reshape(6, 6, 1))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[:, :, 0], POOLED_1)
    np.testing.assert_array_equal(out[:, :, 1], POOLED_2)


def test_new_weights_replace_the_old_ones():
    net = cnndsl.parse(LESSON)
    net.set_weights({"conv_1/kernel": lesson_kernel()})
    np.testing.assert_array_equal(net.run(image())[:, :, 0], POOLED_1)
    swapped = lesson_kernel()[..., ::-1].copy()  # filter 2 first, then filter 1
    np.testing.assert_array_equal(net.run(image(), weights={"conv_1/kernel": swapped})[:, :, 0],
                                  POOLED_2)
    assert net.run_layers(image())["conv_1"][0, 0, 1] == 3  # filter 1 now second
    net.set_weights({"conv_1/kernel": -lesson_kernel()})
    np.testing.assert_array_equal(net.run(image(), dtype=np.float64)[:, :, 0],
                                  pool([[-v for v in row] for row in MAP_1]))


def test_lesson_with_stride_2():
    net = cnndsl.parse("input 6x6x1 -> conv 3x3/2 x2 bias=false")
    net.set_weights({"conv_1/kernel": lesson_kernel()})
    out = net.run(image(), dtype=np.float64)
    assert out.shape == (2, 2, 2)
    np.testing.assert_array_equal(out[:, :, 0], STRIDE2_1)
    np.testing.assert_array_equal(out[:, :, 1], STRIDE2_2)


def seed_weights() -> dict[str, np.ndarray]:
    """Conv biases 1 and -1; dense: columns 0-7 copy the flattened input, column 8 sums
    it, column 9 is filter 1's values minus filter 2's; bias 0.5*j for unit j."""
    kernel = np.zeros((8, 10))
    kernel[np.arange(8), np.arange(8)] = 1.0
    kernel[:, 8] = 1.0
    kernel[:, 9] = [1, -1] * 4  # flattened (h, w, c): even entries are filter 1's
    return {"conv_1/kernel": lesson_kernel(), "conv_1/bias": np.array([1.0, -1.0]),
            "dense_1/kernel": kernel, "dense_1/bias": 0.5 * np.arange(10)}


def test_seed_network_end_to_end():
    net = cnndsl.parse(SEED_NETWORK)
    assert net.params == 110
    net.set_weights(seed_weights())
    # The pooled maps plus the conv bias: filter 1 [[4, 1], [4, 2]], filter 2
    # [[-2, 0], [-1, 2]]; flattened channels last: 4, -2, 1, 0, 4, -1, 2, 2.
    flat = [4, -2, 1, 0, 4, -1, 2, 2]
    layers = net.run_layers(image(), dtype=np.float64)
    np.testing.assert_array_equal(layers["flatten_1"], flat)
    # dense: flat[j] + 0.5j; the sum 10 + 4; filter 1's 11 minus filter 2's -1, + 4.5
    expected = [4, -1.5, 2, 1.5, 6, 1.5, 5, 5.5, 14, 16.5]
    np.testing.assert_array_equal(layers["dense_1"], expected)
    out = net.run(image(), dtype=np.float64)
    assert out.shape == (10,)
    np.testing.assert_array_equal(out, expected)
    out32 = net.run(image())
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, expected, rtol=1e-6)
    for fuse in (False, True):
        batch = Interpreter(net.graph, seed_weights(), dtype=np.float64,
                            fuse=fuse).run(image()[None])
        np.testing.assert_array_equal(batch[0], expected)


# ------------------------------------------------------------------------------------------
# Running: batch axis, dtypes, input shapes
# ------------------------------------------------------------------------------------------


def test_single_example_and_batch():
    net = cnndsl.parse(SEED_NETWORK)
    net.init_weights(seed=3)
    rng = np.random.default_rng(0)
    batch = rng.normal(size=(3, 6, 6, 1)).astype(np.float32)
    out = net.run(batch)
    assert out.shape == (3, 10)
    single = net.run(batch[1])
    assert single.shape == (10,)  # no batch axis in, none out
    np.testing.assert_allclose(single, out[1], rtol=1e-6, atol=1e-6)
    layers = net.run_layers(batch[1])
    assert layers["conv_1"].shape == (4, 4, 2)
    assert layers["input"].shape == (6, 6, 1)
    assert net.run_layers(batch)["conv_1"].shape == (3, 4, 4, 2)


def test_vector_input_single_and_batch():
    net = cnndsl.parse("input 5 -> dense 3 relu")
    assert net.run(np.ones(5)).shape == (3,)
    assert net.run(np.ones((4, 5))).shape == (4, 3)


def test_dtypes():
    net = cnndsl.parse(SEED_NETWORK)
    x = np.random.default_rng(1).normal(size=(6, 6, 1))  # float64 in
    assert net.run(x).dtype == np.float32  # float32 by default
    assert net.run(x, dtype=np.float64).dtype == np.float64
    assert net.run(x.astype(np.float32), dtype=np.float64).dtype == np.float64
    assert net.run_layers(x, dtype=np.float64)["conv_1"].dtype == np.float64
    assert net.run_layers(x)["conv_1"].dtype == np.float32
    graph = compile_text(SEED_NETWORK)
    w = init_weights(graph, seed=0)
    assert Interpreter(graph, w).run(x[None]).dtype == np.float32
    assert Interpreter(graph, w, dtype=np.float64).run(x[None]).dtype == np.float64
    np.testing.assert_allclose(net.run(x, dtype=np.float64), net.run(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", [(5, 5, 1), (6, 6), (6, 6, 2), (2, 6, 6, 3), (36,),
                                   (1, 6, 6), (2, 2, 6, 6, 1)])
def test_input_shape_mismatch_names_the_expected_shape(shape):
    net = cnndsl.parse(SEED_NETWORK)
    with pytest.raises((ValueError, cnndsl.CnnError)) as info:
        net.run(np.zeros(shape, np.float32))
    message = str(info.value)
    assert re.search(r"6, 6, 1|6x6x1", message), message
    graph = compile_text(SEED_NETWORK)
    interp = Interpreter(graph, init_weights(graph))
    with pytest.raises((ValueError, cnndsl.CnnError)) as info:
        interp.run(np.zeros(shape, np.float32))
    assert re.search(r"6, 6, 1|6x6x1", str(info.value)), str(info.value)


def test_interpreter_wants_the_batch_axis():
    graph = compile_text(SEED_NETWORK)
    with pytest.raises((ValueError, cnndsl.CnnError), match=r"6, 6, 1|6x6x1"):
        Interpreter(graph, init_weights(graph)).run(np.zeros((6, 6, 1), np.float32))


# ------------------------------------------------------------------------------------------
# Weights: checking, initialisation, files
# ------------------------------------------------------------------------------------------


def test_missing_weights_are_named():
    graph = compile_text(SEED_NETWORK)
    w = init_weights(graph)
    del w["conv_1/bias"], w["dense_1/kernel"]
    with pytest.raises(WeightsError) as info:
        Interpreter(graph, w)
    assert "conv_1/bias" in str(info.value) and "dense_1/kernel" in str(info.value)
    net = cnndsl.parse(SEED_NETWORK)
    with pytest.raises(WeightsError, match="conv_1/bias"):
        net.set_weights(w)


def test_extra_weights_are_named():
    graph = compile_text(SEED_NETWORK)
    w = init_weights(graph)
    w["conv_2/kernel"] = np.zeros((3, 3, 2, 2), np.float32)
    w["dense_1/gamma"] = np.ones(10, np.float32)
    with pytest.raises(WeightsError) as info:
        Interpreter(graph, w)
    assert "conv_2/kernel" in str(info.value) and "dense_1/gamma" in str(info.value)


def test_misshaped_weights_are_named_with_both_shapes():
    graph = compile_text(SEED_NETWORK)
    w = init_weights(graph)
    w["dense_1/kernel"] = np.zeros((10, 8), np.float32)  # transposed
    w["conv_1/kernel"] = np.zeros((3, 3, 2, 1), np.float32)
    with pytest.raises(WeightsError) as info:
        Interpreter(graph, w)
    message = str(info.value)
    assert "dense_1/kernel" in message and "conv_1/kernel" in message
    assert "(10, 8)" in message and "(8, 10)" in message
    assert "conv_1/bias" not in message  # only what is wrong
    with pytest.raises(WeightsError, match="dense_1/kernel"):
        cnndsl.parse(SEED_NETWORK).run(np.zeros((6, 6, 1)), weights=w)


def test_lesson_network_has_no_bias_variable():
    graph = compile_text(LESSON)
    with pytest.raises(WeightsError, match="conv_1/bias"):
        Interpreter(graph, {"conv_1/kernel": lesson_kernel(), "conv_1/bias": np.zeros(2)})


def test_init_weights_is_deterministic():
    graph = compile_text(SEED_NETWORK)
    a, b = init_weights(graph, seed=7), init_weights(graph, seed=7)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    c = init_weights(graph, seed=8)
    assert not np.array_equal(a["conv_1/kernel"], c["conv_1/kernel"])
    assert not np.array_equal(a["dense_1/kernel"], c["dense_1/kernel"])
    # and so are the networks' outputs
    x = np.random.default_rng(2).normal(size=(6, 6, 1))
    n1, n2 = cnndsl.parse(SEED_NETWORK), cnndsl.parse(SEED_NETWORK)
    n1.init_weights(seed=7)
    n2.init_weights(seed=7)
    np.testing.assert_array_equal(n1.run(x), n2.run(x))


GLOROT_NETWORK = ("input 8x8x3 -> conv 3x3 x4 -> dwconv 3 x2 -> deconv 2/2 x5 -> sepconv 3 x6 "
                  "-> bn -> flatten -> dense 7")
# Shapes: 8x8x3 -> conv 6x6x4 -> dwconv 4x4x8 -> deconv 8x8x5 -> sepconv 6x6x6 -> 216 -> 7.
# Fans as Keras's compute_fans: receptive field times the last two axes.
GLOROT_FANS = {
    "conv_1/kernel": ((3, 3, 3, 4), 9 * 3, 9 * 4),
    "dwconv_1/depthwise_kernel": ((3, 3, 4, 2), 9 * 4, 9 * 2),
    "deconv_1/kernel": ((2, 2, 5, 8), 4 * 5, 4 * 8),  # (kh, kw, filters, in)
    "sepconv_1/depthwise_kernel": ((3, 3, 5, 1), 9 * 5, 9 * 1),
    "sepconv_1/pointwise_kernel": ((1, 1, 5, 6), 5, 6),
    "dense_1/kernel": ((216, 7), 216, 7),
}
ZEROS = {"conv_1/bias": 4, "dwconv_1/bias": 8, "deconv_1/bias": 5, "sepconv_1/bias": 6,
         "batchnorm_1/beta": 6, "batchnorm_1/moving_mean": 6, "dense_1/bias": 7}
ONES = {"batchnorm_1/gamma": 6, "batchnorm_1/moving_variance": 6}


@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_init_weights_glorot_bounds_and_constants(seed):
    graph = compile_text(GLOROT_NETWORK)
    w = init_weights(graph, seed=seed)
    assert set(w) == set(GLOROT_FANS) | set(ZEROS) | set(ONES)
    for key, (shape, fan_in, fan_out) in GLOROT_FANS.items():
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        assert w[key].shape == shape, key
        assert w[key].dtype == np.float32, key
        assert np.abs(w[key]).max() <= limit, key
        # uniform on [-limit, limit]: the extremes come close to the bound, both signs
        assert np.abs(w[key]).max() >= 0.5 * limit, key
        assert (w[key] > 0).any() and (w[key] < 0).any(), key
    dense = w["dense_1/kernel"]  # 1512 values: a uniform's mean and spread
    limit = math.sqrt(6.0 / 223)
    assert abs(dense.mean()) < 0.1 * limit
    assert np.abs(dense).max() > 0.99 * limit
    assert abs(dense.std() - limit / math.sqrt(3)) < 0.05 * limit
    for key, n in ZEROS.items():
        np.testing.assert_array_equal(w[key], np.zeros(n), err_msg=key)
    for key, n in ONES.items():
        np.testing.assert_array_equal(w[key], np.ones(n), err_msg=key)


def test_init_weights_dtype():
    graph = compile_text(SEED_NETWORK)
    w = init_weights(graph, seed=0, dtype=np.float64)
    assert all(v.dtype == np.float64 for v in w.values())


def test_npz_round_trip(tmp_path):
    net = cnndsl.parse(SEED_NETWORK)
    path = tmp_path / "w.npz"
    save_npz(path, seed_weights())
    loaded = load_npz(path)
    assert loaded.keys() == seed_weights().keys()
    net.set_weights(str(path))
    out = net.run(image(), dtype=np.float64)
    np.testing.assert_array_equal(out, [4, -1.5, 2, 1.5, 6, 1.5, 5, 5.5, 14, 16.5])


def test_pickled_npz_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, **{"conv_1/kernel": np.array([{"not": "an array"}, None], dtype=object)})
    with pytest.raises(WeightsError, match="pickle"):
        load_npz(path)
    with pytest.raises(WeightsError):
        cnndsl.parse(SEED_NETWORK).set_weights(path)


def test_load_npz_uses_allow_pickle_false(tmp_path, monkeypatch):
    path = tmp_path / "w.npz"
    save_npz(path, seed_weights())
    calls = []
    real_load = np.load

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(np, "load", spy)
    load_npz(path)
    assert calls and all(c.get("allow_pickle") is False for c in calls)


def test_corrupt_npz_is_a_weights_error(tmp_path):
    path = tmp_path / "bad.npz"
    path.write_bytes(b"PK\x03\x04 this is not a zip file")
    with pytest.raises(WeightsError):
        load_npz(path)
    with pytest.raises(WeightsError):
        load_npz(tmp_path / "missing.npz")

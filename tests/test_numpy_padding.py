"""Version 3's padding in the NumPy interpreter, against a slow and obvious oracle written
here (float64 loops over output positions, sharing nothing with cnndsl) and against
small cases worked by hand.

The oracle follows PyTorch's definitions as LANGUAGE.md states them:
* `pad=B:A` pads B zeros before and A after; a convolution then slides over the padded
  input ("valid"); `causal` pads D*(K-1) before and nothing after;
* a pooling window starting at o*S - B reads the positions of [o*S - B, o*S - B + K);
  max pooling takes the max of those inside the input (padding is minus infinity);
  average pooling divides their sum by how many are inside the input, or with
  `include_pad` by how many are inside [-B, n + A) (a `ceil` window may overhang it);
* a transposed convolution scatters each input pixel times the kernel into a
  ((n-1)*S + K)-long buffer; output position o is buffer position o + B, or zero past
  its end (`outpad`);
* `pad` reflect maps position i < 0 to -i and i >= n to 2(n-1) - i; replicate clamps.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from cnndsl import compile_text
from cnndsl.backends.numpy import Interpreter
from cnndsl.graph.ir import Graph


def _weights(graph: Graph, rng) -> dict[str, np.ndarray]:
    """Random weights, biases included (never the zeros Keras starts them at)."""
    out = {}
    for node in graph.nodes:
        for name, var in node.layer.variables(node.in_shapes).items():
            out[f"{node.name}/{name}"] = rng.uniform(-1, 1, var.shape)
    return out


def _run(text: str, x: np.ndarray, weights=None, dtype=np.float64) -> tuple[np.ndarray, dict]:
    graph = compile_text(text)
    weights = weights if weights is not None else _weights(graph, np.random.default_rng(1))
    outs = []
    for fuse in (False, True):
        interpreter = Interpreter(graph, weights, dtype=dtype, fuse=fuse)
        for split in (True, False):
            interpreter.split_batch = split
            outs.append(interpreter.run(x))
    for other in outs[1:]:
        np.testing.assert_allclose(other, outs[0], rtol=1e-5 if dtype == np.float32 else 1e-12,
                                   atol=1e-5 if dtype == np.float32 else 1e-12)
    return outs[0], weights


# ---- the oracle ---------------------------------------------------------------------------

def _positions(out_sizes):
    return itertools.product(*(range(n) for n in out_sizes))


def ref_conv(x, kernel, bias, stride, pads, dilation=None):
    """x (N, *sizes, C), kernel (*K, C, F): cross-correlation over the zero-padded input."""
    sizes, ks = x.shape[1:-1], kernel.shape[:-2]
    dilation = dilation or (1,) * len(ks)
    out = [(n + b + a - d * (k - 1) - 1) // s + 1
           for n, k, s, d, (b, a) in zip(sizes, ks, stride, dilation, pads)]
    y = np.zeros((x.shape[0], *out, kernel.shape[-1]))
    for o in _positions(out):
        for k in _positions(ks):
            i = [oo * s - b + kk * d for oo, s, (b, _), kk, d in zip(o, stride, pads, k, dilation)]
            if all(0 <= ii < n for ii, n in zip(i, sizes)):
                y[(slice(None), *o)] += x[(slice(None), *i)] @ kernel[k]
    return y + (0 if bias is None else bias)


def ref_depthwise(x, kernel, bias, stride, pads):
    """kernel (*K, C, 1): each channel by its own kernel."""
    sizes, ks = x.shape[1:-1], kernel.shape[:-2]
    out = [(n + b + a - k) // s + 1 for n, k, s, (b, a) in zip(sizes, ks, stride, pads)]
    y = np.zeros((x.shape[0], *out, x.shape[-1]))
    for o in _positions(out):
        for k in _positions(ks):
            i = [oo * s - b + kk for oo, s, (b, _), kk in zip(o, stride, pads, k)]
            if all(0 <= ii < n for ii, n in zip(i, sizes)):
                y[(slice(None), *o)] += x[(slice(None), *i)] * kernel[k][:, 0]
    return y + (0 if bias is None else bias)


def ref_pool(kind, x, kernel, stride, pads, ceil=False, include=False):
    sizes = x.shape[1:-1]
    out = []
    for n, k, s, (b, a) in zip(sizes, kernel, stride, pads):
        span = n + b + a - k
        count = (-(-span // s) if ceil else span // s) + 1
        if ceil and (count - 1) * s >= n + b:
            count -= 1
        out.append(count)
    y = np.zeros((x.shape[0], *out, x.shape[-1]))
    for o in _positions(out):
        starts = [oo * s - b for oo, s, (b, _) in zip(o, stride, pads)]
        window = [range(st, st + k) for st, k in zip(starts, kernel)]
        inside = [i for i in itertools.product(*window)
                  if all(0 <= ii < n for ii, n in zip(i, sizes))]
        padded = [i for i in itertools.product(*window)
                  if all(-b <= ii < n + a for ii, n, (b, a) in zip(i, sizes, pads))]
        values = np.stack([x[(slice(None), *i)] for i in inside])
        if kind == "max":
            y[(slice(None), *o)] = values.max(axis=0)
        else:
            y[(slice(None), *o)] = values.sum(axis=0) / len(padded if include else inside)
    return y


def ref_deconv(x, kernel, bias, stride, pads, outpad):
    """kernel (*K, F, C) as Keras stores it."""
    sizes, ks = x.shape[1:-1], kernel.shape[:-2]
    full = [(n - 1) * s + k for n, k, s in zip(sizes, ks, stride)]
    buffer = np.zeros((x.shape[0], *full, kernel.shape[-2]))
    for i in _positions(sizes):
        for k in _positions(ks):
            at = [ii * s + kk for ii, s, kk in zip(i, stride, k)]
            buffer[(slice(None), *at)] += x[(slice(None), *i)] @ kernel[k].T
    out = [f - b - a + q for f, (b, a), q in zip(full, pads, outpad)]
    y = np.zeros((x.shape[0], *out, kernel.shape[-2]))
    for o in _positions(out):
        at = [oo + b for oo, (b, _) in zip(o, pads)]
        if all(p < f for p, f in zip(at, full)):
            y[(slice(None), *o)] = buffer[(slice(None), *at)]
    return y + (0 if bias is None else bias)


def ref_pad(x, pads, mode):
    sizes = x.shape[1:-1]
    out = [n + b + a for n, (b, a) in zip(sizes, pads)]
    y = np.zeros((x.shape[0], *out, x.shape[-1]))
    for o in _positions(out):
        i = []
        for oo, n, (b, _) in zip(o, sizes, pads):
            j = oo - b
            if mode == "reflect":
                j = -j if j < 0 else (2 * (n - 1) - j if j >= n else j)
            elif mode == "replicate":
                j = min(max(j, 0), n - 1)
            i.append(j)
        if all(0 <= j < n for j, n in zip(i, sizes)):
            y[(slice(None), *o)] = x[(slice(None), *i)]
    return y


# ---- against the oracle ---------------------------------------------------------------

def _x(*shape, seed=0):
    return np.random.default_rng(seed).uniform(-3, 3, (2, *shape))


CONVS = [  # (step, input shape, stride, pads, dilation)
    ("conv 3/2 x4 pad=1", (8, 8, 3), (2, 2), ((1, 1), (1, 1)), None),
    ("conv 3/2 x4 pad=1", (7, 7, 3), (2, 2), ((1, 1), (1, 1)), None),
    ("conv 3 x5 pad=0:1x1:2", (6, 5, 2), (1, 1), ((0, 1), (1, 2)), None),
    ("conv 3 x32 pad=1", (6, 6, 16), (1, 1), ((1, 1), (1, 1)), None),  # the row im2col
    ("conv 5 x3 pad=2", (9, 9, 1), (1, 1), ((2, 2), (2, 2)), None),  # the plane im2col
    ("conv 1 x3 pad=1", (4, 4, 2), (1, 1), ((1, 1), (1, 1)), None),  # a 1x1 on padding
    ("conv 3 x4 pad=2 dilation=2", (5, 5, 2), (1, 1), ((2, 2), (2, 2)), (2, 2)),
    ("conv 3/2 x4 pad=1", (9, 2), (2,), ((1, 1),), None),
    ("conv 5 x4 causal", (9, 2), (1,), ((4, 0),), None),
    ("conv 3 x4 causal dilation=2", (9, 2), (1,), ((4, 0),), (2,)),
    ("conv 3/2 x2 causal", (9, 2), (2,), ((2, 0),), None),
    ("conv 3 x2 pad=1x0x2", (4, 3, 3, 1), (1, 1, 1), ((1, 1), (0, 0), (2, 2)), None),
]


@pytest.mark.parametrize("step, shape, stride, pads, dilation", CONVS)
def test_conv_pads_against_the_oracle(step, shape, stride, pads, dilation):
    x = _x(*shape)
    got, w = _run(f"input {'x'.join(map(str, shape))} -> {step}", x)
    want = ref_conv(x, w["conv_1/kernel"], w["conv_1/bias"], stride, pads, dilation)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("step, shape, stride, pads", [
    ("dwconv 3/2 pad=1", (7, 7, 3), (2, 2), ((1, 1), (1, 1))),
    ("dwconv 3 pad=0:2x1", (5, 5, 2), (1, 1), ((0, 2), (1, 1))),
    ("dwconv 3 causal", (8, 3), (1,), ((2, 0),)),
])
def test_dwconv_pads_against_the_oracle(step, shape, stride, pads):
    x = _x(*shape)
    got, w = _run(f"input {'x'.join(map(str, shape))} -> {step}", x)
    want = ref_depthwise(x, w["dwconv_1/depthwise_kernel"], w["dwconv_1/bias"], stride, pads)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("step, shape, stride, pads", [
    ("sepconv 3/2 x4 pad=1", (7, 7, 3), (2, 2), ((1, 1), (1, 1))),
    ("sepconv 3 x4 causal", (8, 3), (1,), ((2, 0),)),
])
def test_sepconv_pads_against_the_oracle(step, shape, stride, pads):
    x = _x(*shape)
    got, w = _run(f"input {'x'.join(map(str, shape))} -> {step}", x)
    mid = ref_depthwise(x, w["sepconv_1/depthwise_kernel"], None, stride, pads)
    want = ref_conv(mid, w["sepconv_1/pointwise_kernel"], w["sepconv_1/bias"],
                    (1,) * len(stride), ((0, 0),) * len(stride))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-10)


POOLS = [  # (step, input shape, kernel, stride, pads, ceil, include_pad)
    ("maxpool 3/2 pad=1", (8, 8, 2), (3, 3), (2, 2), ((1, 1), (1, 1)), False, False),
    ("maxpool 3/2 pad=1", (7, 7, 2), (3, 3), (2, 2), ((1, 1), (1, 1)), False, False),
    ("maxpool 3/2 ceil", (8, 8, 2), (3, 3), (2, 2), ((0, 0), (0, 0)), True, False),
    ("maxpool 2 ceil", (5, 5, 1), (2, 2), (2, 2), ((0, 0), (0, 0)), True, False),
    ("maxpool 3/2 pad=1 ceil", (6, 6, 1), (3, 3), (2, 2), ((1, 1), (1, 1)), True, False),
    ("maxpool 2 pad=1:0x0", (5, 4, 1), (2, 2), (2, 2), ((1, 0), (0, 0)), False, False),
    ("maxpool 3/2 ceil pad=1", (8, 2), (3,), (2,), ((1, 1),), True, False),
    ("avgpool 3/2 pad=1", (7, 7, 2), (3, 3), (2, 2), ((1, 1), (1, 1)), False, False),
    ("avgpool 3/2 pad=1 include_pad", (7, 7, 2), (3, 3), (2, 2), ((1, 1), (1, 1)), False, True),
    ("avgpool 3 pad=1 include_pad", (5, 5, 3), (3, 3), (3, 3), ((1, 1), (1, 1)), False, True),
    ("avgpool 2 ceil pad=1", (5, 5, 1), (2, 2), (2, 2), ((1, 1), (1, 1)), True, False),
    ("avgpool 2 ceil pad=1 include_pad", (5, 5, 1), (2, 2), (2, 2), ((1, 1), (1, 1)), True,
     True),
    ("avgpool 3/2 ceil include_pad", (6, 6, 1), (3, 3), (2, 2), ((0, 0), (0, 0)), True, True),
    ("avgpool 3/2 ceil pad=1 include_pad", (6, 2), (3,), (2,), ((1, 1),), True, True),
    ("avgpool 2 pad=1x0x0 ceil include_pad", (3, 3, 3, 1), (2, 2, 2), (2, 2, 2),
     ((1, 1), (0, 0), (0, 0)), True, True),
]


@pytest.mark.parametrize("step, shape, kernel, stride, pads, ceil, include", POOLS)
def test_pool_pads_against_the_oracle(step, shape, kernel, stride, pads, ceil, include):
    x = _x(*shape)
    got, _ = _run(f"input {'x'.join(map(str, shape))} -> {step}", x)
    want = ref_pool(step[:3], x, kernel, stride, pads, ceil, include)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_avgpool_same_include_pad_counts_tensorflows_padding():
    # `same` on 7 with window 3 / 2 pads 1:1 (TensorFlow's total 2): include_pad divides
    # by 9 everywhere, the plain `same` by the real inputs only
    x = _x(7, 7, 2)
    got, _ = _run("input 7x7x2 -> avgpool 3/2 same include_pad", x)
    pads = ((1, 1), (1, 1))
    np.testing.assert_allclose(got, ref_pool("avg", x, (3, 3), (2, 2), pads, include=True))


@pytest.mark.parametrize("step, shape, stride, pads, outpad", [
    ("deconv 3/2 x4 pad=1 outpad=1", (4, 4, 3), (2, 2), ((1, 1), (1, 1)), (1, 1)),
    ("deconv 4/2 x2 pad=1", (3, 3, 2), (2, 2), ((1, 1), (1, 1)), (0, 0)),
    ("deconv 3/2 x2 pad=0:1x1", (3, 3, 1), (2, 2), ((0, 1), (1, 1)), (0, 0)),
    ("deconv 1/2 x2 pad=0", (3, 3, 2), (2, 2), ((0, 0), (0, 0)), (0, 0)),
    ("deconv 3/3 x2 pad=0 outpad=2", (3, 3, 2), (3, 3), ((0, 0), (0, 0)), (2, 2)),
    ("deconv 3/2x1 x1 pad=1x0 outpad=1x0", (4, 4, 1), (2, 1), ((1, 1), (0, 0)), (1, 0)),
    ("deconv 4/2 x3 pad=1 outpad=1", (5, 2), (2,), ((1, 1),), (1,)),
    ("deconv 3x3/3x2 x2 outpad=1x1", (3, 3, 1), (3, 2), ((0, 0), (0, 0)), (1, 1)),
])
def test_deconv_pads_against_the_oracle(step, shape, stride, pads, outpad):
    x = _x(*shape)
    got, w = _run(f"input {'x'.join(map(str, shape))} -> {step}", x)
    want = ref_deconv(x, w["deconv_1/kernel"], w["deconv_1/bias"], stride, pads, outpad)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("step, shape, pads, mode", [
    ("pad 2 reflect", (4, 5, 2), ((2, 2), (2, 2)), "reflect"),
    ("pad 0:1x2 reflect", (3, 3, 1), ((0, 1), (2, 2)), "reflect"),
    ("pad 3 replicate", (2, 4, 2), ((3, 3), (3, 3)), "replicate"),
    ("pad 1x0:2", (3, 3, 2), ((1, 1), (0, 2)), "zeros"),
    ("pad 2 reflect", (5, 3), ((2, 2),), "reflect"),
    ("pad 1 replicate", (2, 3, 2, 1), ((1, 1),) * 3, "replicate"),
])
def test_pad_step_against_the_oracle(step, shape, pads, mode):
    x = _x(*shape)
    got, _ = _run(f"input {'x'.join(map(str, shape))} -> {step}", x)
    np.testing.assert_array_equal(got, ref_pad(x, pads, mode))


# ---- worked by hand -----------------------------------------------------------------------

def test_explicit_pad_is_not_keras_same_on_even_sizes():
    # input 1..4, kernel [1, 10, 100], stride 2: `pad=1` pads 0 before 1 (windows start at
    # -1 and 1: 0*1 + 10*1 + 100*2 = 210, 1*2 + 10*3 + 100*4 = 432); Keras's `same` pads
    # 0:1 (windows at 0 and 2: 1 + 20 + 300 = 321, 3 + 40 + 0 = 43)
    x = np.arange(1.0, 5.0).reshape(1, 4, 1)
    w = {"conv_1/kernel": np.array([1.0, 10, 100]).reshape(3, 1, 1),
         "conv_1/bias": np.zeros(1)}
    got, _ = _run("input 4x1 -> conv 3/2 x1 pad=1", x, w)
    assert got.ravel().tolist() == [210.0, 432.0]
    got, _ = _run("input 4x1 -> conv 3/2 x1 same", x, w)
    assert got.ravel().tolist() == [321.0, 43.0]


def test_causal_sees_no_later_input():
    # kernel [1, 10, 100] on 1, 2, 3 padded 2 before: 100*1, 10*1 + 100*2, 1 + 20 + 300
    x = np.array([1.0, 2, 3]).reshape(1, 3, 1)
    w = {"conv_1/kernel": np.array([1.0, 10, 100]).reshape(3, 1, 1),
         "conv_1/bias": np.zeros(1)}
    got, _ = _run("input 3x1 -> conv 3 x1 causal", x, w)
    assert got.ravel().tolist() == [100.0, 210.0, 321.0]


def test_maxpool_padding_never_wins_over_negative_inputs():
    x = -np.arange(1.0, 5.0).reshape(1, 4, 1)  # -1 -2 -3 -4
    got, _ = _run("input 4x1 -> maxpool 3/2 pad=1", x)
    # windows [pad, -1, -2] and [-2, -3, -4]
    assert got.ravel().tolist() == [-1.0, -2.0]


def test_avgpool_divisors_by_hand():
    x = np.array([3.0, 6, 9, 12, 15]).reshape(1, 5, 1)
    # pad=1, window 2, stride 2, ceil: windows [pad 3] [6 9] [12 15] -> 3 / 1, 7.5, 13.5
    # (the 4th would start at 6 >= 5 + 1 and is not made)
    got, _ = _run("input 5x1 -> avgpool 2 ceil pad=1", x)
    assert got.ravel().tolist() == [3.0, 7.5, 13.5]
    got, _ = _run("input 5x1 -> avgpool 2 ceil pad=1 include_pad", x)  # the pad counts
    assert got.ravel().tolist() == [1.5, 7.5, 13.5]
    # no pad, ceil on 3 6 ... 18: windows [3 6 9] [9 12 15] [15 18 (past the end)]:
    # 33 / 2 either way, since the overhang is outside the padded input
    x = np.array([3.0, 6, 9, 12, 15, 18]).reshape(1, 6, 1)
    got, _ = _run("input 6x1 -> avgpool 3/2 ceil include_pad", x)
    assert got.ravel().tolist() == [6.0, 12.0, 16.5]


def test_deconv_pad_and_outpad_by_hand():
    # inputs 1, 2 through kernel [1, 10, 100] at stride 2: the full output is
    # 1, 10, 100 + 2, 20, 200 = [1, 10, 102, 20, 200]; pad=1 cuts one from each end:
    # [10, 102, 20]; outpad=1 adds a zero position after: [10, 102, 20, 200] (200 is
    # the position past the cut, PyTorch's output_padding reads it back)
    x = np.array([1.0, 2]).reshape(1, 2, 1)
    w = {"deconv_1/kernel": np.array([1.0, 10, 100]).reshape(3, 1, 1),
         "deconv_1/bias": np.zeros(1)}
    got, _ = _run("input 2x1 -> deconv 3/2 x1 pad=1", x, w)
    assert got.ravel().tolist() == [10.0, 102.0, 20.0]
    got, _ = _run("input 2x1 -> deconv 3/2 x1 pad=1 outpad=1", x, w)
    assert got.ravel().tolist() == [10.0, 102.0, 20.0, 200.0]
    got, _ = _run("input 2x1 -> deconv 3/3 x1 pad=0 outpad=2", x, w)  # zeros past the end
    assert got.ravel().tolist() == [1.0, 10.0, 100.0, 2.0, 20.0, 200.0, 0.0, 0.0]


def test_pad_modes_by_hand():
    x = np.array([1.0, 2, 3]).reshape(1, 3, 1)
    assert _run("input 3x1 -> pad 2 reflect", x)[0].ravel().tolist() == [3, 2, 1, 2, 3, 2, 1]
    assert _run("input 3x1 -> pad 2 replicate", x)[0].ravel().tolist() == [1, 1, 1, 2, 3, 3, 3]
    assert _run("input 3x1 -> pad 1:2", x)[0].ravel().tolist() == [0, 1, 2, 3, 0, 0]


def test_float32_follows_float64():
    x = _x(9, 9, 4)
    text = ("input 9x9x4 -> conv 3/2 x8 pad=1 relu -> maxpool 3/2 pad=1 ceil -> pad 1 reflect"
            " -> avgpool 2 ceil include_pad pad=1 -> deconv 3/2 x2 pad=1 outpad=1")
    want, w = _run(text, x)
    got, _ = _run(text, x.astype(np.float32), w, dtype=np.float32)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)

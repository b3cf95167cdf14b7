"""The NumPy interpreter, layer by layer, against a slow and obvious oracle written here.

The oracle shares nothing with cnndsl: every layer is a float64 loop over output
positions (and kernel offsets and channels), written from the language's contract and
Keras's definitions:

* convolution is cross-correlation; `same` pads as TensorFlow does,
  total = max((ceil(in/s) - 1)*s + (k-1)*d + 1 - in, 0), total//2 before, the rest after;
* a depthwise output channel c*M + m is input channel c under kernel[..., c, m];
* a separable convolution is a depthwise one (multiplier 1, no bias), then a 1x1;
* a transposed convolution scatters every input pixel times the kernel (stored
  (*k, filters, in)) into a ((in-1)*s + k)-long buffer, which is then cropped by
  max(full - out, 0)//2 at the start and zero-extended at the end to Keras's size
  (valid: in*s + max(k - s, 0); same: in*s);
* max pooling pads `same` with -inf, average pooling `same` averages real inputs only;
* batch norm at inference is (x - mean) / sqrt(var + eps) * gamma + beta.

A network is described here as a list of `Op`s and `Merge`s, which gives both its `.cnn`
text and the oracle's output, with weights drawn at random (random biases and batch norm
statistics, never the default initialisation) and keyed by the names and Keras layouts
the language promises. Hypothesis draws shapes, kernels, strides, dilations (never with a
stride above 1: the language forbids it), paddings, groups, multipliers and data in 1-D,
2-D and 3-D; the interpreter must match the oracle in float64 (rtol 1e-9) unfused, fused
and keeping every layer, and in float32 within 1e-4 relative.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnndsl import compile_text
from cnndsl.backends.numpy import Interpreter
from cnndsl.backends.numpy import convolution as np_convolution
from cnndsl.backends.numpy.targets import PoolAfter
from cnndsl.backends.weights import init_weights
from cnndsl.layers.shapes import conv_length

EXAMPLES = 90
SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

RTOL64, ATOL64 = 1e-9, 1e-10
RTOL32 = 1e-4

# ------------------------------------------------------------------------------------------
# The oracle
# ------------------------------------------------------------------------------------------

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _sigmoid(v: float) -> float:
    if v >= 0:
        return 1.0 / (1.0 + math.exp(-v))
    return math.exp(v) / (1.0 + math.exp(v))


def _softplus(v: float) -> float:
    return math.log1p(math.exp(v)) if v < 30 else v + math.log1p(math.exp(-v))


SCALAR_ACTIVATIONS: dict[str, Callable[[float], float]] = {
    "relu": lambda v: max(v, 0.0),
    "relu6": lambda v: min(max(v, 0.0), 6.0),
    "sigmoid": _sigmoid,
    "hard_sigmoid": lambda v: min(max(v + 3.0, 0.0), 6.0) / 6.0,  # Keras 3: relu6(x+3)/6
    "hard_swish": lambda v: v * min(max(v + 3.0, 0.0), 6.0) / 6.0,  # Keras 3's hard_silu
    "tanh": math.tanh,
    "elu": lambda v: v if v > 0 else math.expm1(v),
    "selu": lambda v: SELU_SCALE * (v if v > 0 else SELU_ALPHA * math.expm1(v)),
    "gelu": lambda v: 0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0))),
    "silu": lambda v: v * _sigmoid(v),
    "softplus": _softplus,
    "linear": lambda v: v,
}

# What is written -> (layer name stem, oracle function on a batch).
ACTIVATION_WORDS = ["relu", "relu6", "sigmoid", "hard_sigmoid", "tanh", "softmax", "elu",
                    "selu", "gelu", "silu", "swish", "softplus", "leaky_relu",
                    "leaky_relu=0.3", "leaky_relu=0.05", "linear", "hard_swish", "hard_silu"]


def ref_activation(word: str | None, x: np.ndarray) -> np.ndarray:
    if word is None:
        return x
    if word == "softmax":
        y = np.empty_like(x)
        for idx in np.ndindex(*x.shape[:-1]):
            row = [float(v) for v in x[idx]]
            top = max(row)
            exps = [math.exp(v - top) for v in row]
            total = sum(exps)
            y[idx] = [e / total for e in exps]
        return y
    if word.startswith("leaky_relu"):
        slope = float(word.split("=")[1]) if "=" in word else 0.2
        f = lambda v: v if v >= 0 else slope * v  # noqa: E731
    else:
        f = SCALAR_ACTIVATIONS[activation_stem(word)]
    y = np.empty_like(x)
    for idx in np.ndindex(*x.shape):
        y[idx] = f(float(x[idx]))
    return y


def activation_stem(word: str) -> str:
    return {"swish": "silu", "hard_silu": "hard_swish"}.get(word, word.split("=")[0])


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def tf_same_pads(n: int, k: int, s: int, d: int = 1) -> tuple[int, int]:
    total = max((ceil_div(n, s) - 1) * s + (k - 1) * d + 1 - n, 0)
    return total // 2, total - total // 2


def window_plan(sizes, kernel, stride, dilation, padding):
    """(output sizes, pads before) of a sliding window."""
    outs, befores = [], []
    for n, k, s, d in zip(sizes, kernel, stride, dilation):
        if padding == "same":
            outs.append(ceil_div(n, s))
            befores.append(tf_same_pads(n, k, s, d)[0])
        else:
            outs.append((n - (k - 1) * d - 1) // s + 1)
            befores.append(0)
    return outs, befores


def source(o, kk, stride, dilation, befores, sizes):
    """The input position read by output `o` at kernel offset `kk`, or None (padding)."""
    pos = tuple(oi * s + ki * d - b for oi, ki, s, d, b in zip(o, kk, stride, dilation, befores))
    return pos if all(0 <= p < n for p, n in zip(pos, sizes)) else None


def ref_conv(x, kernel, bias, stride, dilation, padding, groups=1):
    n_batch, *sizes, _ = x.shape
    ksize = kernel.shape[:-2]
    cin_g, filters = kernel.shape[-2], kernel.shape[-1]
    f_g = filters // groups
    outs, befores = window_plan(sizes, ksize, stride, dilation, padding)
    y = np.zeros((n_batch, *outs, filters))
    for b in range(n_batch):
        for o in itertools.product(*map(range, outs)):
            for f in range(filters):
                g = f // f_g
                acc = 0.0
                for kk in itertools.product(*map(range, ksize)):
                    pos = source(o, kk, stride, dilation, befores, sizes)
                    if pos is None:
                        continue
                    for c in range(cin_g):
                        acc += x[(b, *pos, g * cin_g + c)] * kernel[(*kk, c, f)]
                y[(b, *o, f)] = acc + (0.0 if bias is None else bias[f])
    return y


def ref_depthwise(x, kernel, bias, stride, dilation, padding):
    n_batch, *sizes, channels = x.shape
    ksize = kernel.shape[:-2]
    mult = kernel.shape[-1]
    outs, befores = window_plan(sizes, ksize, stride, dilation, padding)
    y = np.zeros((n_batch, *outs, channels * mult))
    for b in range(n_batch):
        for o in itertools.product(*map(range, outs)):
            for c in range(channels):
                for m in range(mult):
                    acc = 0.0
                    for kk in itertools.product(*map(range, ksize)):
                        pos = source(o, kk, stride, dilation, befores, sizes)
                        if pos is not None:
                            acc += x[(b, *pos, c)] * kernel[(*kk, c, m)]
                    y[(b, *o, c * mult + m)] = acc + (0.0 if bias is None else bias[c * mult + m])
    return y


def ref_separable(x, depthwise, pointwise, bias, stride, dilation, padding):
    mid = ref_depthwise(x, depthwise, None, stride, dilation, padding)
    ones = (1,) * (x.ndim - 2)
    return ref_conv(mid, pointwise, bias, ones, ones, "valid")


def ref_deconv(x, kernel, bias, stride, padding):
    n_batch, *sizes, cin = x.shape
    ksize = kernel.shape[:-2]
    filters = kernel.shape[-2]
    full = [(n - 1) * s + k for n, k, s in zip(sizes, ksize, stride)]
    buf = np.zeros((n_batch, *full, filters))
    for b in range(n_batch):
        for i in itertools.product(*map(range, sizes)):
            for kk in itertools.product(*map(range, ksize)):
                at = tuple(ii * s + ki for ii, s, ki in zip(i, stride, kk))
                for f in range(filters):
                    for c in range(cin):
                        buf[(b, *at, f)] += x[(b, *i, c)] * kernel[(*kk, f, c)]
    if padding == "same":
        outs = [n * s for n, s in zip(sizes, stride)]
    else:
        outs = [n * s + max(k - s, 0) for n, k, s in zip(sizes, ksize, stride)]
    befores = [max(fl - o, 0) // 2 for fl, o in zip(full, outs)]
    y = np.zeros((n_batch, *outs, filters))
    for b in range(n_batch):
        for o in itertools.product(*map(range, outs)):
            src = tuple(oi + bf for oi, bf in zip(o, befores))
            if all(s < fl for s, fl in zip(src, full)):
                y[(b, *o)] = buf[(b, *src)]
    if bias is not None:
        for idx in np.ndindex(*y.shape[:-1]):
            for f in range(filters):
                y[(*idx, f)] += bias[f]
    return y


def ref_pool(kind, x, kernel, stride, padding):
    n_batch, *sizes, channels = x.shape
    ones = (1,) * len(kernel)
    outs, befores = window_plan(sizes, kernel, stride, ones, padding)
    y = np.zeros((n_batch, *outs, channels))
    for b in range(n_batch):
        for o in itertools.product(*map(range, outs)):
            for c in range(channels):
                values, padded = [], 0
                for kk in itertools.product(*map(range, kernel)):
                    pos = source(o, kk, stride, ones, befores, sizes)
                    if pos is None:
                        padded += 1
                    else:
                        values.append(float(x[(b, *pos, c)]))
                if kind == "maxpool":
                    y[(b, *o, c)] = max(values + [-math.inf] * padded)
                else:  # same: the real inputs only; valid never pads
                    y[(b, *o, c)] = sum(values) / len(values)
    return y


def ref_global(kind, x):
    n_batch, *sizes, channels = x.shape
    y = np.zeros((n_batch, channels))
    for b in range(n_batch):
        for c in range(channels):
            values = [float(x[(b, *p, c)]) for p in itertools.product(*map(range, sizes))]
            y[b, c] = sum(values) / len(values) if kind == "gap" else max(values)
    return y


def ref_flatten(x):
    n_batch = x.shape[0]
    y = np.zeros((n_batch, math.prod(x.shape[1:])))
    for b in range(n_batch):
        for i, idx in enumerate(np.ndindex(*x.shape[1:])):  # row-major, channels last
            y[b, i] = x[(b, *idx)]
    return y


def ref_reshape(x, dims):
    flat = ref_flatten(x)
    y = np.zeros((x.shape[0], *dims))
    for b in range(x.shape[0]):
        for i, idx in enumerate(np.ndindex(*dims)):
            y[(b, *idx)] = flat[b, i]
    return y


def ref_dense(x, kernel, bias):
    units = kernel.shape[1]
    y = np.zeros((*x.shape[:-1], units))
    for idx in np.ndindex(*x.shape[:-1]):
        for n in range(units):
            acc = sum(float(x[(*idx, c)]) * kernel[c, n] for c in range(x.shape[-1]))
            y[(*idx, n)] = acc + (0.0 if bias is None else bias[n])
    return y


def ref_batchnorm(x, w, eps):
    y = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        c = idx[-1]
        y[idx] = ((x[idx] - w["moving_mean"][c]) / math.sqrt(w["moving_variance"][c] + eps)
                  * w["gamma"][c] + w["beta"][c])
    return y


def ref_zeropad(x, pads):
    n_batch, *sizes, channels = x.shape
    y = np.zeros((n_batch, *(n + b + a for n, (b, a) in zip(sizes, pads)), channels))
    for idx in np.ndindex(*x.shape):
        b, *pos, c = idx
        y[(b, *(p + before for p, (before, _) in zip(pos, pads)), c)] = x[idx]
    return y


def ref_upsample(x, factors):
    n_batch, *sizes, channels = x.shape
    y = np.zeros((n_batch, *(n * f for n, f in zip(sizes, factors)), channels))
    for idx in np.ndindex(*y.shape):
        b, *pos, c = idx
        y[idx] = x[(b, *(p // f for p, f in zip(pos, factors)), c)]
    return y


def ref_merge(kind, xs):
    if kind == "concat":
        shape = (*xs[0].shape[:-1], sum(x.shape[-1] for x in xs))
        y = np.zeros(shape)
        for idx in np.ndindex(*shape[:-1]):
            y[idx] = [float(v) for x in xs for v in x[idx]]
        return y
    shape = tuple(max(dims) for dims in zip(*(x.shape for x in xs)))
    y = np.zeros(shape)
    for idx in np.ndindex(*shape):
        values = [float(x[tuple(0 if d == 1 else i for i, d in zip(idx, x.shape))]) for x in xs]
        if kind == "add":
            y[idx] = sum(values)
        elif kind == "mul":
            y[idx] = math.prod(values)
        elif kind == "avg":
            y[idx] = sum(values) / len(values)
        else:
            y[idx] = max(values)
    return y


# ------------------------------------------------------------------------------------------
# Networks as lists of steps: their text, their weights and the oracle's output
# ------------------------------------------------------------------------------------------


@dataclass
class Op:
    """One step: its text, its layer-name stem, its variables' shapes from the input shape
    (batch axis excluded), and the oracle on a batch given its weights."""

    text: str
    stem: str
    fn: Callable[[np.ndarray, dict], np.ndarray]
    variables: Callable[[tuple], dict[str, tuple]] = lambda shape: {}


@dataclass
class Merge:
    kind: str  # add mul avg max concat, or residual (one branch, added to the input)
    branches: list = field(default_factory=list)  # a branch is a list of steps; [] is `id`


def chain_text(chain) -> str:
    parts = []
    for step in chain:
        if isinstance(step, Merge):
            inner = " | ".join(chain_text(b) if b else "id" for b in step.branches)
            parts.append(f"{step.kind} {{ {inner} }}")
        else:
            parts.append(step.text)
    return " -> ".join(parts)


def random_variable(rng, var: str, shape) -> np.ndarray:
    if var == "moving_variance":
        return rng.uniform(0.1, 2.0, shape)
    if var == "gamma":
        return rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)
    return rng.uniform(-1.0, 1.0, shape)


class Builder:
    """Walks a chain on the oracle: names layers as the language does, draws weights."""

    def __init__(self, rng):
        self.rng = rng
        self.counts: Counter = Counter()
        self.weights: dict[str, np.ndarray] = {}
        self.outputs: dict[str, np.ndarray] = {}

    def name(self, stem: str) -> str:
        self.counts[stem] += 1
        return f"{stem}_{self.counts[stem]}"

    def run(self, chain, x):
        for step in chain:
            if isinstance(step, Merge):
                kind = "add" if step.kind == "residual" else step.kind
                name = self.name(kind)  # merges are numbered before their branches
                branches = [[]] + step.branches if step.kind == "residual" else step.branches
                x = ref_merge(kind, [self.run(b, x) for b in branches])
            else:
                name = self.name(step.stem)
                w = {}
                for var, shape in step.variables(x.shape[1:]).items():
                    w[var] = random_variable(self.rng, var, shape)
                    self.weights[f"{name}/{var}"] = w[var]
                x = step.fn(x, w)
            self.outputs[name] = x
        return x


def dims(values) -> str:
    return "x".join(str(v) for v in values)


def size_word(values, compact: bool) -> str:
    """`3` for 3x3 when allowed and asked for, else `3x3`."""
    if compact and len(set(values)) == 1:
        return str(values[0])
    return dims(values)


@contextmanager
def tiles(rows: int | None):
    """Force the im2col tiling (and the thread split) onto tiny inputs: `rows` output
    rows per tile, and one form of convolution wherever it applies, though these tests'
    few channels would not always choose it: 1, kernel rows; 2, channel planes; 5,
    whole windows. None keeps the production sizes and choices."""
    if rows is None:
        yield
        return
    forms = {1: dict(ROW_MIN_DEPTH=1),
             2: dict(ROW_WINDOWS=False, PLANAR_MAX_DEPTH=10**9),
             5: dict(ROW_WINDOWS=False, PLANES=False)}[rows]
    with mock.patch.object(np_convolution, "TILE_BYTES", 1), \
            mock.patch.object(np_convolution, "MIN_TILE_ROWS", rows), \
            mock.patch.multiple(np_convolution, **forms):
        yield


def assert_close(got, want, rtol, atol, what):
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    if not np.allclose(got, want, rtol=rtol, atol=atol):
        err = np.abs(got.astype(np.float64) - want)
        where = tuple(int(i) for i in np.unravel_index(np.argmax(err), err.shape))
        raise AssertionError(f"{what}: max abs error {err.max():.3g} at {where} "
                             f"(got {float(got[where])!r}, expected {float(want[where])!r})")


def check(chain, in_shape, seed: int, batch: int = 2, tile_rows: int | None = None,
          low: float = -3.0, high: float = 3.0, text: str | None = None):
    """Run `input IN_SHAPE -> CHAIN` unfused, fused, keeping layers, and in float32."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(low, high, (batch, *in_shape))
    builder = Builder(rng)
    want = builder.run(chain, x)
    text = text or f"input {dims(in_shape)} -> {chain_text(chain)}"
    graph = compile_text(text)
    assert graph.output.shape == want.shape[1:], text
    x_before = x.copy()
    with tiles(tile_rows):
        for fuse in (False, True):
            interpreter = Interpreter(graph, builder.weights, dtype=np.float64, fuse=fuse)
            # Shares of the batch each run the network (split), or tiles of each layer
            # are split between the workers (not split).
            for split in (True, False):
                interpreter.split_batch = split
                got = interpreter.run(x)
                assert got.dtype == np.float64
                assert_close(got, want, RTOL64, ATOL64,
                             f"{text} [float64 fuse={fuse} split={split}]")
                assert np.array_equal(x, x_before), f"{text}: the caller's input was modified"
        keeper = Interpreter(graph, builder.weights, dtype=np.float64, keep=True)
        layers = keeper.run_all(x)
        for name, value in builder.outputs.items():
            assert_close(layers[name], value, RTOL64, ATOL64, f"{text} [layer {name}]")
        x32 = x.astype(np.float32)
        got32 = Interpreter(graph, builder.weights, dtype=np.float32).run(x32)
        assert got32.dtype == np.float32
        scale = max(1.0, float(np.abs(want).max(initial=0.0)))
        assert_close(got32, want, RTOL32, RTOL32 * scale, f"{text} [float32]")
    return graph


# ------------------------------------------------------------------------------------------
# Steps
# ------------------------------------------------------------------------------------------


def conv_op(kernel, filters, stride=None, dilation=None, padding="valid", groups=1,
            bias=True, act=None, compact=True, write_padding=True, options_order=0):
    rank = len(kernel)
    stride = stride or (1,) * rank
    dilation = dilation or (1,) * rank
    words = [f"conv {size_word(kernel, compact)}"
             + (f"/{size_word(stride, compact)}" if max(stride) > 1 or options_order % 2 else ""),
             f"x{filters}"]
    if padding == "same" or write_padding:
        words.append(padding)
    if act:
        words.append(act)
    options = []
    if max(dilation) > 1:
        options.append(f"dilation={size_word(dilation, compact)}")
    if groups > 1 or options_order % 3 == 1:
        options.append(f"groups={groups}")
    if not bias:
        options.append("bias=false")
    words += options[::-1] if options_order % 2 else options

    def fn(x, w):
        y = ref_conv(x, w["kernel"], w.get("bias"), stride, dilation, padding, groups)
        return ref_activation(act, y)

    def variables(shape):
        out = {"kernel": (*kernel, shape[-1] // groups, filters)}
        if bias:
            out["bias"] = (filters,)
        return out

    return Op(" ".join(words), "conv", fn, variables)


def dwconv_op(kernel, mult=1, stride=None, dilation=None, padding="valid", bias=True,
              act=None, compact=True, write_mult=True):
    rank = len(kernel)
    stride = stride or (1,) * rank
    dilation = dilation or (1,) * rank
    words = [f"dwconv {size_word(kernel, compact)}"
             + (f"/{size_word(stride, compact)}" if max(stride) > 1 else "")]
    if mult > 1 or write_mult:
        words.append(f"x{mult}")
    words.append(padding)
    if act:
        words.append(act)
    if max(dilation) > 1:
        words.append(f"dilation={size_word(dilation, compact)}")
    if not bias:
        words.append("bias=false")

    def fn(x, w):
        y = ref_depthwise(x, w["depthwise_kernel"], w.get("bias"), stride, dilation, padding)
        return ref_activation(act, y)

    def variables(shape):
        out = {"depthwise_kernel": (*kernel, shape[-1], mult)}
        if bias:
            out["bias"] = (shape[-1] * mult,)
        return out

    return Op(" ".join(words), "dwconv", fn, variables)


def sepconv_op(kernel, filters, stride=None, dilation=None, padding="valid", bias=True,
               act=None, compact=True):
    rank = len(kernel)
    stride = stride or (1,) * rank
    dilation = dilation or (1,) * rank
    words = [f"sepconv {size_word(kernel, compact)}"
             + (f"/{size_word(stride, compact)}" if max(stride) > 1 else ""),
             f"x{filters}", padding]
    if act:
        words.append(act)
    if max(dilation) > 1:
        words.append(f"dilation={size_word(dilation, compact)}")
    if not bias:
        words.append("bias=false")

    def fn(x, w):
        y = ref_separable(x, w["depthwise_kernel"], w["pointwise_kernel"], w.get("bias"),
                          stride, dilation, padding)
        return ref_activation(act, y)

    def variables(shape):
        out = {"depthwise_kernel": (*kernel, shape[-1], 1),
               "pointwise_kernel": (*(1,) * rank, shape[-1], filters)}
        if bias:
            out["bias"] = (filters,)
        return out

    return Op(" ".join(words), "sepconv", fn, variables)


def deconv_op(kernel, filters, stride=None, padding="valid", bias=True, act=None,
              compact=True):
    rank = len(kernel)
    stride = stride or (1,) * rank
    words = [f"deconv {size_word(kernel, compact)}"
             + (f"/{size_word(stride, compact)}" if max(stride) > 1 else ""),
             f"x{filters}", padding]
    if act:
        words.append(act)
    if not bias:
        words.append("bias=false")

    def fn(x, w):
        return ref_activation(act, ref_deconv(x, w["kernel"], w.get("bias"), stride, padding))

    def variables(shape):
        out = {"kernel": (*kernel, filters, shape[-1])}
        if bias:
            out["bias"] = (filters,)
        return out

    return Op(" ".join(words), "deconv", fn, variables)


def dense_op(units, bias=True, act=None):
    text = f"dense {units}" + (f" {act}" if act else "") + ("" if bias else " bias=false")

    def fn(x, w):
        return ref_activation(act, ref_dense(x, w["kernel"], w.get("bias")))

    def variables(shape):
        out = {"kernel": (shape[-1], units)}
        if bias:
            out["bias"] = (units,)
        return out

    return Op(text, "dense", fn, variables)


def bn_op(eps=None, word="bn", momentum=None):
    text = word + (f" eps={eps}" if eps is not None else "")
    text += f" momentum={momentum}" if momentum is not None else ""
    eps_value = 0.001 if eps is None else float(eps)

    def variables(shape):
        c = (shape[-1],)
        return {"gamma": c, "beta": c, "moving_mean": c, "moving_variance": c}

    return Op(text, "batchnorm", lambda x, w: ref_batchnorm(x, w, eps_value), variables)


def act_op(word):
    return Op(word, activation_stem(word), lambda x, w: ref_activation(word, x))


def pool_op(kind, kernel, stride=None, padding="valid", compact=True, write_padding=True):
    text = f"{kind} {size_word(kernel, compact)}"
    if stride is not None:
        text += f"/{size_word(stride, compact)}"
    if padding == "same" or write_padding:
        text += f" {padding}"
    stride = stride or kernel  # the stride defaults to the window
    return Op(text, kind, lambda x, w: ref_pool(kind, x, kernel, stride, padding))


def global_op(kind):
    return Op(kind, kind, lambda x, w: ref_global(kind, x))


def flatten_op():
    return Op("flatten", "flatten", lambda x, w: ref_flatten(x))


def dropout_op(rate):
    return Op(f"dropout {rate}", "dropout", lambda x, w: x.copy())


def reshape_op(shape):
    return Op(f"reshape {dims(shape)}", "reshape", lambda x, w: ref_reshape(x, shape))


def zeropad_op(pads, style):
    if style == "one" and len({p for pair in pads for p in pair}) == 1:
        text = f"zeropad {pads[0][0]}"
    elif style != "pairs" and all(b == a for b, a in pads):
        text = f"zeropad {dims(b for b, _ in pads)}"
    else:
        text = "zeropad " + "x".join(f"{b}:{a}" for b, a in pads)
    return Op(text, "zeropad", lambda x, w: ref_zeropad(x, pads))


def upsample_op(factors, compact=True):
    return Op(f"upsample {size_word(factors, compact)}", "upsample",
              lambda x, w: ref_upsample(x, factors))


# ------------------------------------------------------------------------------------------
# Strategies
# ------------------------------------------------------------------------------------------

SPATIAL_RANKS = [1, 2, 3]
MAX_SIZE = {1: 8, 2: 6, 3: 4}
MAX_CHANNELS = {1: 4, 2: 4, 3: 3}
seeds = st.integers(0, 2**32 - 1)
activations = st.one_of(st.none(), st.sampled_from(ACTIVATION_WORDS))
tile_rows = st.sampled_from([None, None, 1, 2, 5])


@st.composite
def windows(draw, rank, allow_dilation=True, max_kernel=3):
    """(kernel, stride, dilation, padding, sizes): never stride > 1 with dilation > 1,
    and sizes a `valid` window fits in."""
    kernel = tuple(draw(st.lists(st.integers(1, max_kernel), min_size=rank, max_size=rank)))
    mode = draw(st.sampled_from(["plain", "stride", "dilation"] if allow_dilation
                                else ["plain", "stride"]))
    ones = (1,) * rank
    stride = dilation = ones
    per_dim = st.lists(st.integers(1, 3), min_size=rank, max_size=rank)
    if mode == "stride":
        stride = tuple(draw(per_dim))
    elif mode == "dilation":
        dilation = tuple(draw(per_dim))
    padding = draw(st.sampled_from(["valid", "same"]))
    sizes = []
    for k, d in zip(kernel, dilation):
        least = (k - 1) * d + 1 if padding == "valid" else 1
        sizes.append(draw(st.integers(least, max(least, MAX_SIZE[rank]) + 1)))
    return kernel, stride, dilation, padding, tuple(sizes)


def _divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


# ------------------------------------------------------------------------------------------
# Convolutions
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rank", SPATIAL_RANKS)
@SETTINGS
@given(data=st.data(), seed=seeds)
def test_conv(rank, data, seed):
    kernel, stride, dilation, padding, sizes = data.draw(windows(rank))
    channels = data.draw(st.integers(1, MAX_CHANNELS[rank]))
    groups = data.draw(st.sampled_from(_divisors(channels)))
    filters = groups * data.draw(st.integers(1, 3))
    op = conv_op(kernel, filters, stride, dilation, padding, groups,
                 bias=data.draw(st.booleans()), act=data.draw(activations),
                 compact=data.draw(st.booleans()), write_padding=data.draw(st.booleans()),
                 options_order=data.draw(st.integers(0, 5)))
    check([op], (*sizes, channels), seed, batch=data.draw(st.integers(1, 2)),
          tile_rows=data.draw(tile_rows))


@pytest.mark.parametrize("rank", SPATIAL_RANKS)
@SETTINGS
@given(data=st.data(), seed=seeds)
def test_dwconv(rank, data, seed):
    kernel, stride, dilation, padding, sizes = data.draw(windows(rank))
    channels = data.draw(st.integers(1, MAX_CHANNELS[rank]))
    mult = data.draw(st.integers(1, 3))
    op = dwconv_op(kernel, mult, stride, dilation, padding, bias=data.draw(st.booleans()),
                   act=data.draw(activations), compact=data.draw(st.booleans()),
                   write_mult=data.draw(st.booleans()))
    check([op], (*sizes, channels), seed, batch=data.draw(st.integers(1, 2)))


@pytest.mark.parametrize("rank", SPATIAL_RANKS)
@SETTINGS
@given(data=st.data(), seed=seeds)
def test_sepconv(rank, data, seed):
    kernel, stride, dilation, padding, sizes = data.draw(windows(rank))
    channels = data.draw(st.integers(1, MAX_CHANNELS[rank]))
    op = sepconv_op(kernel, data.draw(st.integers(1, 4)), stride, dilation, padding,
                    bias=data.draw(st.booleans()), act=data.draw(activations),
                    compact=data.draw(st.booleans()))
    check([op], (*sizes, channels), seed, batch=data.draw(st.integers(1, 2)),
          tile_rows=data.draw(tile_rows))


@pytest.mark.parametrize("rank", SPATIAL_RANKS)
@SETTINGS
@given(data=st.data(), seed=seeds)
def test_deconv(rank, data, seed):
    kernel = tuple(data.draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank)))
    stride = tuple(data.draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank)))
    padding = data.draw(st.sampled_from(["valid", "same"]))
    sizes = tuple(data.draw(st.lists(st.integers(1, {1: 5, 2: 4, 3: 3}[rank]),
                                     min_size=rank, max_size=rank)))
    channels = data.draw(st.integers(1, MAX_CHANNELS[rank]))
    op = deconv_op(kernel, data.draw(st.integers(1, 3)), stride, padding,
                   bias=data.draw(st.booleans()), act=data.draw(activations),
                   compact=data.draw(st.booleans()))
    check([op], (*sizes, channels), seed, batch=data.draw(st.integers(1, 2)))


def test_deconv_sizes_by_hand():
    """Keras's transposed output sizes, including a kernel smaller than the stride."""
    cases = [  # (in, kernel, stride, padding, out)
        (7, 3, 2, "valid", 15), (7, 1, 2, "valid", 14), (7, 3, 2, "same", 14),
        (4, 2, 3, "valid", 12), (4, 5, 2, "valid", 11), (4, 5, 2, "same", 8),
        (3, 4, 1, "same", 3), (1, 1, 3, "valid", 3),
    ]
    for n, k, s, padding, out in cases:
        graph = compile_text(f"input {n}x1 -> deconv {k}/{s} x1 {padding}")
        assert graph.output.shape == (out, 1), (n, k, s, padding)
        check([deconv_op((k,), 1, (s,), padding)], (n, 2), seed=n * 100 + k * 10 + s)


def test_deconv_scatter_by_hand():
    """One input pixel per position, kernel [1, 2, 3], stride 2, 1-D: the kernel copies
    at stride spacing overlap and add; `same` crops (5-4)//2 = 0 before, 1 after."""
    graph = compile_text("input 2x1 -> deconv 3/2 x1 bias=false")
    w = {"deconv_1/kernel": np.array([1.0, 2.0, 3.0]).reshape(3, 1, 1)}
    x = np.array([10.0, 100.0]).reshape(1, 2, 1)
    got = Interpreter(graph, w, dtype=np.float64).run(x)
    np.testing.assert_array_equal(got[0, :, 0], [10, 20, 30 + 100, 200, 300])
    graph = compile_text("input 2x1 -> deconv 3/2 x1 same bias=false")
    got = Interpreter(graph, w, dtype=np.float64).run(x)
    np.testing.assert_array_equal(got[0, :, 0], [10, 20, 130, 200])
    # kernel 1 < stride 3, valid: in*s = 6 long, the full buffer (4) zero-extended
    graph = compile_text("input 2x1 -> deconv 1/3 x1 bias=false")
    got = Interpreter(graph, {"deconv_1/kernel": np.full((1, 1, 1), 2.0)},
                      dtype=np.float64).run(x)
    np.testing.assert_array_equal(got[0, :, 0], [20, 0, 0, 200, 0, 0])


def test_same_padding_puts_the_odd_pixel_after():
    """TensorFlow's `same`: a 2-wide kernel on 4 pixels pads 0 before and 1 after, so the
    last output reads the last pixel and a zero."""
    graph = compile_text("input 4x1 -> conv 2 x1 same bias=false")
    w = {"conv_1/kernel": np.array([1.0, 10.0]).reshape(2, 1, 1)}
    x = np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 4, 1)
    got = Interpreter(graph, w, dtype=np.float64).run(x)
    np.testing.assert_array_equal(got[0, :, 0], [21, 32, 43, 4])
    # stride 2 on 5 pixels, kernel 3: out 3, total pad (3-1)*2+3-5 = 2, one each side
    graph = compile_text("input 5x1 -> conv 3/2 x1 same bias=false")
    w = {"conv_1/kernel": np.array([1.0, 10.0, 100.0]).reshape(3, 1, 1)}
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0]).reshape(1, 5, 1)
    got = Interpreter(graph, w, dtype=np.float64).run(x)
    np.testing.assert_array_equal(got[0, :, 0], [0 + 10 + 200, 2 + 30 + 400, 4 + 50 + 0])


# ------------------------------------------------------------------------------------------
# Pooling, global pooling, reshaping layers
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rank", SPATIAL_RANKS)
@pytest.mark.parametrize("kind", ["maxpool", "avgpool"])
@SETTINGS
@given(data=st.data(), seed=seeds)
def test_pool(kind, rank, data, seed):
    kernel = tuple(data.draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank)))
    stride = data.draw(st.one_of(
        st.none(), st.lists(st.integers(1, 3), min_size=rank, max_size=rank).map(tuple)))
    padding = data.draw(st.sampled_from(["valid", "same"]))
    sizes = tuple(data.draw(st.integers(k if padding == "valid" else 1, MAX_SIZE[rank]))
                  for k in kernel)
    channels = data.draw(st.integers(1, MAX_CHANNELS[rank]))
    op = pool_op(kind, kernel, stride, padding, compact=data.draw(st.booleans()),
                 write_padding=data.draw(st.booleans()))
    check([op], (*sizes, channels), seed, batch=data.draw(st.integers(1, 2)))


def test_avgpool_same_averages_real_inputs_only():
    graph = compile_text("input 3x1 -> avgpool 2 same")  # out 2; pads 0 before, 1 after
    got = Interpreter(graph, {}, dtype=np.float64).run(np.array([[[2.0], [4.0], [9.0]]]))
    np.testing.assert_array_equal(got[0, :, 0], [3.0, 9.0])
    graph = compile_text("input 3x1 -> maxpool 2 same")
    got = Interpreter(graph, {}, dtype=np.float64).run(np.array([[[-2.0], [-4.0], [-9.0]]]))
    np.testing.assert_array_equal(got[0, :, 0], [-2.0, -9.0])  # never the padding's 0


@pytest.mark.parametrize("rank", SPATIAL_RANKS)
@pytest.mark.parametrize("kind", ["gap", "gmp"])
@settings(max_examples=30, deadline=None)
@given(data=st.data(), seed=seeds)
def test_global_pool(kind, rank, data, seed):
    sizes = tuple(data.draw(st.lists(st.integers(1, MAX_SIZE[rank]), min_size=rank,
                                     max_size=rank)))
    channels = data.draw(st.integers(1, 5))
    check([global_op(kind)], (*sizes, channels), seed, batch=data.draw(st.integers(1, 3)))


@st.composite
def shapes(draw, min_rank=1, max_rank=4):
    """A tensor shape (batch excluded) of rank 1 (a vector) to 4 (a volume)."""
    rank = draw(st.integers(min_rank, max_rank))
    limit = {1: 9, 2: 7, 3: 5, 4: 3}[rank]
    return tuple(draw(st.lists(st.integers(1, limit), min_size=rank, max_size=rank)))


@SETTINGS
@given(shape=shapes(), units=st.integers(1, 5), bias=st.booleans(), act=activations,
       seed=seeds)
def test_dense(shape, units, bias, act, seed):
    """On a vector, and on the last axis of any tensor, as Keras does."""
    check([dense_op(units, bias, act)], shape, seed)


@SETTINGS
@given(shape=shapes(), eps=st.sampled_from([None, "1e-5", "0.01", "0.5", "2"]),
       word=st.sampled_from(["bn", "batchnorm"]), momentum=st.sampled_from([None, "0.9"]),
       seed=seeds)
def test_batchnorm(shape, eps, word, momentum, seed):
    check([bn_op(eps, word, momentum)], shape, seed)


@SETTINGS
@given(shape=shapes(), word=st.sampled_from(ACTIVATION_WORDS), seed=seeds,
       spread=st.sampled_from([1.0, 4.0, 12.0]))
def test_activation_steps(shape, word, seed, spread):
    check([act_op(word)], shape, seed, low=-spread, high=spread)


@settings(max_examples=40, deadline=None)
@given(shape=shapes(), rate=st.sampled_from(["0", "0.1", "0.5", "0.95"]), seed=seeds)
def test_dropout_is_the_identity(shape, rate, seed):
    check([dropout_op(rate), act_op("relu")], shape, seed)
    check([dropout_op(rate)], shape, seed)


@st.composite
def reshapes(draw):
    """(input shape, a new shape of the same element count)."""
    shape = draw(shapes())
    total = math.prod(shape)
    new, left = [], total
    for _ in range(draw(st.integers(0, 3))):
        factor = draw(st.sampled_from(_divisors(left)))
        new.append(factor)
        left //= factor
    new.append(left)
    return shape, tuple(draw(st.permutations(new)))


@SETTINGS
@given(case=reshapes(), seed=seeds)
def test_flatten_and_reshape(case, seed):
    shape, new = case
    if len(shape) > 1:
        check([flatten_op()], shape, seed)
    check([reshape_op(new)], shape, seed)
    # the layout must be row-major, channels last, to feed the next layer right
    check([reshape_op(new), dense_op(2)], shape, seed)
    if len(shape) > 1:
        check([flatten_op(), dense_op(3, act="relu")], shape, seed)


@pytest.mark.parametrize("rank", SPATIAL_RANKS)
@SETTINGS
@given(data=st.data(), seed=seeds)
def test_zeropad(rank, data, seed):
    pads = tuple(tuple(data.draw(st.lists(st.integers(0, 2), min_size=2, max_size=2)))
                 for _ in range(rank))
    style = data.draw(st.sampled_from(["one", "dims", "pairs"]))
    sizes = tuple(data.draw(st.lists(st.integers(1, MAX_SIZE[rank] - 1), min_size=rank,
                                     max_size=rank)))
    op = zeropad_op(pads, style)
    check([op], (*sizes, data.draw(st.integers(1, 3))), seed)


def test_zeropad_before_after():
    graph = compile_text("input 2x2x1 -> zeropad 0:1x2:0")
    assert graph.output.shape == (3, 4, 1)
    x = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 2, 1)
    got = Interpreter(graph, {}, dtype=np.float64).run(x)[0, :, :, 0]
    np.testing.assert_array_equal(got, [[0, 0, 1, 2], [0, 0, 3, 4], [0, 0, 0, 0]])


@pytest.mark.parametrize("rank", SPATIAL_RANKS)
@SETTINGS
@given(data=st.data(), seed=seeds)
def test_upsample(rank, data, seed):
    factors = tuple(data.draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank)))
    sizes = tuple(data.draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank)))
    op = upsample_op(factors, compact=data.draw(st.booleans()))
    check([op], (*sizes, data.draw(st.integers(1, 3))), seed)


# ------------------------------------------------------------------------------------------
# Merges
# ------------------------------------------------------------------------------------------


def _branch(kind: str, rank: int, channels: int):
    """(branch steps, its output's (spatial kept?, channels)) for a merge test."""
    ones = (1,) * rank
    if kind == "id":
        return [], True, channels
    if kind == "act":
        return [act_op("tanh")], True, channels
    if kind == "conv":
        return [conv_op((3,) * rank, channels, padding="same")], True, channels
    if kind == "pointwise1":  # one channel: broadcasts over the channels
        return [conv_op(ones, 1)], True, 1
    if kind == "bn":
        return [bn_op()], True, channels
    if kind == "dropout":
        return [dropout_op("0.2")], True, channels
    if kind == "squeeze":  # (1, ..., 1, C): broadcasts over the positions
        return [global_op("gap"), dense_op(channels, act="sigmoid"),
                reshape_op((*ones, channels))], False, channels
    if kind == "gmp1":  # (1, ..., 1, 1)
        return [global_op("gmp"), dense_op(1), reshape_op((*ones, 1))], False, 1
    if kind == "widen":  # for concat: other channel counts
        return [conv_op(ones, channels + 1, act="relu")], True, channels + 1
    if kind == "dwconv":
        return [dwconv_op((3,) * rank, 2, padding="same")], True, 2 * channels
    raise AssertionError(kind)


ELEMENTWISE_BRANCHES = ["id", "act", "conv", "pointwise1", "bn", "dropout", "squeeze", "gmp1"]
CONCAT_BRANCHES = ["id", "act", "conv", "pointwise1", "bn", "dropout", "widen", "dwconv"]


@pytest.mark.parametrize("rank", SPATIAL_RANKS)
@pytest.mark.parametrize("kind", ["add", "mul", "avg", "max", "concat"])
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), seed=seeds)
def test_merges(kind, rank, data, seed):
    names = data.draw(st.lists(st.sampled_from(CONCAT_BRANCHES if kind == "concat"
                                               else ELEMENTWISE_BRANCHES),
                               min_size=2, max_size=4))
    sizes = tuple(data.draw(st.lists(st.integers(1, {1: 5, 2: 4, 3: 3}[rank]),
                                     min_size=rank, max_size=rank)))
    channels = data.draw(st.integers(1, 3))
    branches = [_branch(n, rank, channels)[0] for n in names]
    after = data.draw(st.sampled_from([[], [act_op("relu")], [bn_op()]]))
    check([Merge(kind, branches), *after], (*sizes, channels), seed)


def test_merge_broadcasts_both_ways():
    """(2, 1, C) with (1, 3, C): each side broadcasts along its size-1 axis."""
    text = ("input 2x3x2 -> add { avgpool 1x3 | avgpool 2x1 | id }")
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 2, 3, 2))
    graph = compile_text(text)
    want = x.mean(axis=2, keepdims=True) + x.mean(axis=1, keepdims=True) + x
    for fuse in (False, True):
        got = Interpreter(graph, {}, dtype=np.float64, fuse=fuse).run(x)
        np.testing.assert_allclose(got, want, rtol=RTOL64)
    text = "input 2x3x2 -> mul { avgpool 1x3 | avgpool 2x1 }"
    got = Interpreter(compile_text(text), {}, dtype=np.float64).run(x)
    np.testing.assert_allclose(got, x.mean(axis=2, keepdims=True) * x.mean(axis=1,
                                                                              keepdims=True))


# ------------------------------------------------------------------------------------------
# Fusion: folded where nothing else reads the intermediate, never where something does
# ------------------------------------------------------------------------------------------

FUSION_CHAINS = {
    "conv-bn-relu": ("conv", "relu"),
    "dense-bn-relu6": ("dense", "relu6"),
    "dwconv-bn": ("dwconv", None),
    "deconv-bn-relu": ("deconv", "relu"),
    "sepconv-bn-silu": ("sepconv", "silu"),
    "conv-bn-softmax": ("conv", "softmax"),
    "dense-bn-gelu": ("dense", "gelu"),
    "dwconv-bn-leaky": ("dwconv", "leaky_relu=0.3"),
}


def _producer(kind: str, rank: int, channels: int, act=None):
    """A layer keeping the shape (same padding, stride 1, as many outputs as inputs)."""
    kernel = (3,) * rank
    if kind == "conv":
        return conv_op(kernel, channels, padding="same", act=act)
    if kind == "dense":
        return dense_op(channels, act=act)
    if kind == "dwconv":
        return dwconv_op(kernel, 1, padding="same", act=act)
    if kind == "deconv":
        return deconv_op((2,) * rank, channels, padding="same", act=act)
    return sepconv_op(kernel, channels, padding="same", act=act)


def _contexts(kind: str, act: str | None, rank: int, channels: int):
    """name -> (chain, fusable): the chain in places where it may or may not be fused."""
    p = lambda a=None: _producer(kind, rank, channels, a)  # noqa: E731
    a = act_op(act) if act else None
    tail = [a] if a else []
    other = act_op(act or "relu")
    return {
        # nothing else reads the intermediates: fused
        "alone": ([p(), bn_op(), *tail], True),
        "then-a-layer": ([p(), bn_op(), *tail, _producer("conv", rank, channels)], True),
        "residual": ([Merge("add", [[], [p(), bn_op(), *tail]])], True),
        "in-a-branch": ([Merge("concat", [[p(), bn_op(), *tail], [p(), bn_op()]])], True),
        # the producer's output is read by the batch norm and by a concat: no folding
        "producer-shared": ([p(), Merge("concat", [[], [bn_op(), *tail]])], False),
        "producer-shared-add": ([p(), Merge("add", [[bn_op(), *tail], []])], False),
        # the batch norm's output is read twice: bn folds, the activation does not
        "bn-shared": ([p(), bn_op(), Merge("concat", [[], [other]])], True),
        "bn-shared-mul": ([p(), bn_op(), Merge("mul", [[other], [], [dropout_op("0.1")]])],
                          True),
        "bn-shared-view": ([p(), bn_op(), Merge("add", [[other], [dropout_op("0.5")]])], True),
        # an activation between the producer and the batch norm
        "producer-activation": ([p("relu"), bn_op(), *tail], False),
        "activation-then-bn": ([p(), other, bn_op()], True),
        # two batch norms in a row: only the first can fold
        "bn-bn": ([p(), bn_op(), bn_op(eps="0.01"), *tail], True),
        # the shared value is the final activation's
        "activation-shared": ([p(), bn_op(), *tail, Merge("max", [[], [act_op("tanh")]])],
                              True),
    }


CONTEXT_NAMES = list(_contexts("conv", "relu", 2, 2))


@pytest.mark.parametrize("context", CONTEXT_NAMES)
@pytest.mark.parametrize("chain", list(FUSION_CHAINS))
@settings(max_examples=12, deadline=None)
@given(rank=st.sampled_from(SPATIAL_RANKS), data=st.data(), seed=seeds)
def test_fusion_matches_the_oracle(chain, context, rank, data, seed):
    kind, act = FUSION_CHAINS[chain]
    channels = data.draw(st.integers(1, 3))
    sizes = tuple(data.draw(st.lists(st.integers(1, {1: 6, 2: 4, 3: 3}[rank]),
                                     min_size=rank, max_size=rank)))
    steps, fusable = _contexts(kind, act, rank, channels)[context]
    graph = check(steps, (*sizes, channels), seed, tile_rows=data.draw(tile_rows))
    # White-box: the fused interpreter really took the fused path where it may, and
    # never folded a batch norm into a producer whose output something else reads.
    rng = np.random.default_rng(0)
    builder = Builder(rng)
    builder.run(steps, np.zeros((1, *sizes, channels)))
    plan = getattr(Interpreter(graph, builder.weights, dtype=np.float64, fuse=True),
                   "plan", None)
    if plan is None or not hasattr(plan, "batchnorm"):
        return
    readers = Counter(i for node in graph.nodes for i in node.inputs)
    for producer, bn in plan.batchnorm.items():
        assert readers[producer] == 1 and graph.nodes[bn].inputs == (producer,), chain
    if fusable:
        assert plan.aliases, f"{chain} in {context}: nothing was fused"
    else:
        producers = [n.index for n in graph.nodes if n.kind == kind]
        assert not any(p in plan.batchnorm for p in producers[:1]), (chain, context)


@pytest.mark.parametrize("rank", SPATIAL_RANKS)
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), seed=seeds)
def test_small_networks(rank, data, seed):
    """Whole blocks: residual, squeeze-and-excitation, U-Net level, separable stacks."""
    c = data.draw(st.integers(1, 3))
    k = (3,) * rank
    ones = (1,) * rank
    sizes = tuple(data.draw(st.lists(st.sampled_from([2, 4]), min_size=rank,
                                     max_size=rank)))
    blocks = {
        "resnet": [conv_op(k, c, padding="same"), bn_op(), act_op("relu"),
                   Merge("residual", [[conv_op(k, c, padding="same"), bn_op(), act_op("relu"),
                                       conv_op(k, c, padding="same", bias=False), bn_op()]]),
                   act_op("relu")],
        "se": [conv_op(k, 4, padding="same", act="swish"),
               Merge("mul", [[], [global_op("gap"), dense_op(2, act="relu"),
                                  dense_op(4, act="hard_sigmoid"), reshape_op((*ones, 4))]])],
        "unet": [conv_op(k, 2, padding="same", act="relu"),
                 Merge("concat", [[], [pool_op("maxpool", (2,) * rank),
                                       conv_op(k, 3, padding="same"), bn_op(), act_op("relu"),
                                       upsample_op((2,) * rank)]]),
                 conv_op(ones, 2, act="softmax")],
        "mobilenet": [conv_op(ones, 2 * c), bn_op(), act_op("relu6"),
                      dwconv_op(k, padding="same"), bn_op(), act_op("relu6"),
                      conv_op(ones, c, bias=False), bn_op(),
                      Merge("residual", [[sepconv_op(k, c, padding="same"), bn_op()]])],
        "head": [deconv_op((2,) * rank, 3, (2,) * rank), bn_op(), act_op("gelu"),
                 pool_op("avgpool", (3,) * rank, (2,) * rank, "same"),
                 zeropad_op(tuple((0, 1) for _ in range(rank)), "pairs"),
                 global_op("gmp"), dense_op(4), bn_op(), act_op("softmax")],
    }
    name = data.draw(st.sampled_from(sorted(blocks)))
    check(blocks[name], (*sizes, c), seed, tile_rows=data.draw(tile_rows))


@st.composite
def producers(draw, rank: int, channels: int):
    """Any layer batch norm can fold into, with random windows, widths and options."""
    kind = draw(st.sampled_from(["conv", "dwconv", "sepconv", "deconv", "dense"]))
    bias = draw(st.booleans())
    act = draw(st.sampled_from([None, None, None, "relu", "tanh"]))  # blocks the folding
    if kind == "dense":
        sizes = tuple(draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank)))
        return dense_op(draw(st.integers(1, 4)), bias, act), sizes
    if kind == "deconv":
        kernel = tuple(draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank)))
        stride = tuple(draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank)))
        sizes = tuple(draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank)))
        padding = draw(st.sampled_from(["valid", "same"]))
        return deconv_op(kernel, draw(st.integers(1, 3)), stride, padding, bias, act), sizes
    kernel, stride, dilation, padding, sizes = draw(windows(rank))
    if kind == "dwconv":
        return dwconv_op(kernel, draw(st.integers(1, 3)), stride, dilation, padding, bias,
                         act), sizes
    if kind == "sepconv":
        return sepconv_op(kernel, draw(st.integers(1, 4)), stride, dilation, padding, bias,
                          act), sizes
    groups = draw(st.sampled_from(_divisors(channels)))
    return conv_op(kernel, groups * draw(st.integers(1, 2)), stride, dilation, padding, groups,
                   bias, act), sizes


@pytest.mark.parametrize("rank", SPATIAL_RANKS)
@SETTINGS
@given(data=st.data(), seed=seeds)
def test_fused_chains_with_random_layers(rank, data, seed):
    """PRODUCER -> bn [-> ACT] [-> more], every producer option: batch norm folded into
    grouped, dilated, strided kernels, depth multipliers and transposed kernels."""
    channels = data.draw(st.integers(1, MAX_CHANNELS[rank]))
    producer, sizes = data.draw(producers(rank, channels))
    steps = [producer, bn_op(data.draw(st.sampled_from([None, "1e-5", "0.3"])))]
    act = data.draw(st.sampled_from([None, *ACTIVATION_WORDS]))
    if act:
        steps.append(act_op(act))
    if data.draw(st.booleans()):
        steps.append(data.draw(st.sampled_from([bn_op(), act_op("sigmoid"), global_op("gap"),
                                                 dense_op(2)])))
    check(steps, (*sizes, channels), seed, batch=data.draw(st.integers(1, 2)),
          tile_rows=data.draw(tile_rows))


@pytest.mark.parametrize("rank", SPATIAL_RANKS)
@SETTINGS
@given(data=st.data(), seed=seeds)
def test_pooling_fused_into_convolutions(rank, data, seed):
    """conv [-> bn] [-> ACT] -> maxpool|avgpool [-> ACT]: where the pooling runs on the
    convolution's tiles (1-D and 2-D, windows no larger than their stride), on every
    window, stride, dilation, group and padding of the convolution."""
    channels = data.draw(st.integers(1, MAX_CHANNELS[rank]))
    kernel, stride, dilation, padding, sizes = data.draw(windows(rank))
    groups = data.draw(st.sampled_from(_divisors(channels)))
    inline = data.draw(st.sampled_from([None, None, "relu", "leaky_relu=0.5", "tanh"]))
    steps = [conv_op(kernel, groups * data.draw(st.integers(1, 3)), stride, dilation, padding,
                     groups, bias=data.draw(st.booleans()), act=inline)]
    if not inline and data.draw(st.booleans()):
        steps.append(bn_op())
    if not inline and data.draw(st.booleans()):
        steps.append(act_op(data.draw(st.sampled_from(ACTIVATION_WORDS))))
    conv_out = [conv_length(n, k, s, padding, d)
                for n, k, s, d in zip(sizes, kernel, stride, dilation)]
    pool_kernel = tuple(data.draw(st.integers(1, min(3, n))) for n in conv_out)
    overlap = data.draw(st.integers(0, 4)) == 0
    pool_stride = tuple(max(1, k - 1) if overlap else k + data.draw(st.integers(0, 1))
                        for k in pool_kernel)
    pool_padding = data.draw(st.sampled_from(["valid", "valid", "same"]))
    kind = data.draw(st.sampled_from(["maxpool", "avgpool"]))
    steps.append(pool_op(kind, pool_kernel, pool_stride, pool_padding, compact=False))
    if data.draw(st.booleans()):
        steps.append(act_op(data.draw(st.sampled_from(["relu", "sigmoid", "leaky_relu"]))))
    graph = check(steps, (*sizes, channels), seed, batch=data.draw(st.integers(1, 3)),
                  tile_rows=data.draw(tile_rows))
    # White-box: the clear cases really took (or really avoided) the fused path.
    builder = Builder(np.random.default_rng(0))
    builder.run(steps, np.zeros((1, *sizes, channels)))
    plan = Interpreter(graph, builder.weights, dtype=np.float64).plan
    windowed = any(k > 1 for k in kernel)
    disjoint = all(k <= s for k, s in zip(pool_kernel, pool_stride))
    if rank <= 2 and windowed and disjoint and pool_padding == "valid":
        assert plan.pool, f"{steps}: the pooling was not fused"
    if rank == 3 or not windowed or not disjoint:
        assert not plan.pool, f"{steps}: fused where it must not be"


@pytest.mark.parametrize("pool", [
    ("maxpool", (2, 2), (2, 2)), ("avgpool", (2, 2), (2, 2)), ("maxpool", (3, 3), (3, 3)),
    ("avgpool", (2, 3), (2, 3)), ("maxpool", (1, 2), (1, 2)), ("maxpool", (2, 1), (2, 1)),
    ("maxpool", (1, 1), (2, 2)), ("avgpool", (2, 2), (3, 3)), ("maxpool", (3, 2), (3, 2)),
])
@pytest.mark.parametrize("act", [None, "relu", "tanh"])
@pytest.mark.parametrize("rows", [None, 1])
def test_pooling_on_kernel_row_tiles(pool, act, rows):
    """The kernel-row convolution (12 channels: production picks it) with the pooling
    run on its tiles, the columns computed grouped by place in the window: every shape
    of window, odd sizes that leave lines and columns unread, an activation before."""
    kind, kernel, stride = pool
    steps = [conv_op((3, 3), 5, padding="same", act=act), pool_op(kind, kernel, stride)]
    graph = check(steps, (11, 10, 12), seed=7, batch=3, tile_rows=rows)
    builder = Builder(np.random.default_rng(0))
    builder.run(steps, np.zeros((1, 11, 10, 12)))
    assert Interpreter(graph, builder.weights).plan.pool, "the pooling was not fused"


@pytest.mark.parametrize("kernel", [(1, 1), (3, 3, 3)])
def test_pooling_is_never_put_on_tiles_it_cannot_take(kernel):
    """1x1 convolutions are tiled by rows and 3-D ones by planes, not by whole lines: a
    pooling handed to them anyway is refused, not run on tiles it would straddle."""
    x = np.zeros((1, *(4,) * len(kernel), 2), np.float32)
    w = np.zeros((*kernel, 2, 3), np.float32)
    then = PoolAfter((2,) * len(kernel), (2,) * len(kernel))
    with pytest.raises(ValueError, match="tile_poolable"):
        np_convolution.conv(x, w, (1,) * len(kernel), (1,) * len(kernel), "valid", then=then)


@pytest.mark.parametrize("layout", ["reversed", "fortran", "strided", "int", "float32"])
@pytest.mark.parametrize("text", [
    "conv 3 x3 same relu", "conv 1 x2", "conv 1/2 x2 groups=2", "dwconv 3 x2",
    "sepconv 2 x3 same", "deconv 3/2 x2", "maxpool 2", "avgpool 3/1 same", "gap", "flatten",
    "dense 3", "bn", "relu", "zeropad 1", "upsample 2", "reshape 2x5x4x2",
    "add { id | relu }", "concat { id | id }", "dropout 0.5 -> bn",
])
def test_any_input_layout(text, layout):
    """Non-contiguous, Fortran-ordered, integer or float32 inputs give the same answer as
    the contiguous float64 array, and are never written to."""
    graph = compile_text(f"input 4x5x4 -> {text}")
    rng = np.random.default_rng(11)
    weights = {k: rng.uniform(-1, 1, np.shape(v)) + (2.0 if "variance" in k else 0.0)
               for k, v in init_weights(graph, seed=0).items()}
    base = rng.integers(-3, 4, (2, 4, 5, 4)).astype(np.float64)
    if layout == "reversed":
        x = np.flip(np.flip(base, 2).copy(), 2)  # a negative-stride view of a copy
    elif layout == "fortran":
        x = np.asfortranarray(base)
    elif layout == "strided":
        big = np.zeros((2, 8, 5, 12))
        big[:, ::2, :, ::3] = base
        x = big[:, ::2, :, ::3]
    elif layout == "int":
        x = base.astype(np.int64)
    else:
        x = base.astype(np.float32)
    before = x.copy()
    want = Interpreter(graph, weights, dtype=np.float64, fuse=False).run(base)
    for fuse in (False, True):
        got = Interpreter(graph, weights, dtype=np.float64, fuse=fuse).run(x)
        assert_close(got, want, RTOL64, ATOL64, f"{text} on a {layout} input fuse={fuse}")
        assert np.array_equal(x, before)

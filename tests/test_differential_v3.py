"""Language version 3 in the differential tests: PyTorch's padding, normalisation,
activations and rearranging, against three backends.

Hypothesis draws chains that mix version 3's steps with every step of version 1 (from
test_differential's strategy): convolutions and pools with explicit `pad=`, `include_pad`
and `ceil`; transposed convolutions with `pad=` and `outpad=`; 1-D `causal`
convolutions; the `pad` step with zeros, `reflect` and `replicate`; `groupnorm`,
`instancenorm`, `lrn`, `prelu` (per channel and `shared`) and the new activations,
fused and alone; `pixel_shuffle`, `pixel_unshuffle`, `channel_shuffle`, `split` (equal
parts or sizes written), `upsample K bilinear`, `flatten chw`, `sepconv mult=` and merges
of one branch. The strategy tracks every shape with PyTorch's arithmetic, independently of
cnndsl, and cnndsl must agree. Each network, on random weights and a random batch:

- the NumPy interpreter (fused and unfused) against onnxruntime on the ONNX model cnndsl
  writes, every output, to max|ort - numpy| <= 1e-5 * max(1, max|numpy|), with ONNX's
  shape inference agreeing with cnndsl on every layer;
- the Keras model, where the Keras backend builds one: every layer named as a node gives
  that node's output to 1e-4 (relative, as in test_differential), and the parameter counts
  agree. Where Keras has no exact layer (`lrn`, `reflect`/`replicate`, max pooling padded
  unlike TensorFlow's `same`, some `ceil` and `include_pad` windows) the backend must refuse
  with an error located in the spec, on a step that is one of those: never build it wrong.
"""

from __future__ import annotations

from math import prod

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st
from onnx_check import ort
from test_differential import (
    PROFILE,
    RTOL,
    Ctx,
    _activation,
    _dims,
    _tail,
    _width,
    _window,
    _xla,
    chain,
    check_onnxruntime_agrees,
    fix,
    keras,
    needs_xla,
    random_weights,
    relative_error,
)

from cnndsl import CnnError, analyse, compile_text
from cnndsl.backends.keras.builder import build_model
from cnndsl.backends.numpy.interpreter import Interpreter

Shape = tuple[int, ...]
MAX_SIDE = 18
MAX_CHANNELS = 24
V3_ACTIVATIONS = ("elu=0.5", "elu=2", "celu", "celu=0.7", "gelu=tanh", "mish", "softsign",
                  "log_softmax", "clip=-1,1", "clip=0,6", "clip=-0.5,2.5")
# What the Keras backend may refuse, as the step is written.
REFUSABLE = ("lrn", "reflect", "replicate", "maxpool", "avgpool", "gelu=tanh", "celu=",
             "clip=")


def _pads(draw, sp: int, most: list[int]) -> tuple[list[tuple[int, int]], str]:
    """Padding per spatial dimension, each side at most `most[i]`: written `P`, `PxQ` or
    `B:AxB:A` as a reader would."""
    how = draw(st.sampled_from(("same", "each", "sides")))
    if how == "same" and sp > 0:
        p = draw(st.integers(0, min(most)))
        return [(p, p)] * sp, str(p)
    if how == "each":
        ps = [draw(st.integers(0, m)) for m in most]
        return [(p, p) for p in ps], _dims(ps)
    pairs = [(draw(st.integers(0, m)), draw(st.integers(0, m))) for m in most]
    return pairs, "x".join(f"{b}:{a}" for b, a in pairs)


# -- padding ------------------------------------------------------------------------------------

def s_conv_pad(draw, s, ctx):
    """conv, dwconv or sepconv with `pad=`: floor((n + B + A - D(K-1) - 1) / S) + 1."""
    n, sp = s[:-1], len(s) - 1
    kind = draw(st.sampled_from(("conv", "dwconv", "sepconv") if sp <= 2 else ("conv",)))
    kernel = [draw(st.integers(1, 4)) for _ in n]
    dilation = [1] * sp
    if kind != "sepconv" and draw(st.integers(0, 3)) == 0:
        dilation = [draw(st.integers(1, 2)) for _ in n]
    stride = [draw(st.integers(1, 3)) for _ in n] if dilation == [1] * sp else [1] * sp
    pads, p_text = _pads(draw, sp, [3] * sp)
    out = []
    for m, k, d, t, (b, a) in zip(n, kernel, dilation, stride, pads):
        size = (m + b + a - d * (k - 1) - 1) // t + 1
        if size < 1:  # too small: no padding cuts it, a smaller kernel fits
            return "relu", s
        out.append(size)
    words = [f"pad={p_text}", _activation(draw)]
    if dilation != [1] * sp:
        words.append(f"dilation={_dims(dilation)}")
    if kind == "dwconv":
        mult = draw(st.integers(1, 2))
        head, width = f"dwconv {_dims(kernel)}/{_dims(stride)} x{mult}", s[-1] * mult
    else:
        width = _width(draw)
        head = f"{kind} {_dims(kernel)}/{_dims(stride)} x{width}"
    return head + _tail(draw, words), (*out, width)


def s_pool_pad(draw, s, ctx):
    """maxpool / avgpool with `pad=` (at most half the window, as PyTorch), `include_pad`
    and `ceil`: ceil((n + B + A - K) / S) + 1, less one where the last window would start
    at or past n + B."""
    n, sp = s[:-1], len(s) - 1
    kind = draw(st.sampled_from(("maxpool", "avgpool")))
    kernel = [draw(st.integers(1, min(3, m + 2))) for m in n]
    stride = [draw(st.integers(1, 3)) for _ in n]
    pads, p_text = _pads(draw, sp, [k // 2 for k in kernel])
    rounding = draw(st.booleans())
    out = []
    for m, k, t, (b, a) in zip(n, kernel, stride, pads):
        span = m + b + a - k
        if span < 0:
            return "relu", s
        size = (-(-span // t) if rounding else span // t) + 1
        if rounding and (size - 1) * t >= m + b:
            size -= 1
        out.append(size)
    words = [f"pad={p_text}" if any(b or a for b, a in pads) or draw(st.booleans()) else "",
             "ceil" if rounding else ""]
    if kind == "avgpool" and draw(st.booleans()):
        words.append("include_pad")
    return f"{kind} {_dims(kernel)}/{_dims(stride)}" + _tail(draw, words), (*out, s[-1])


def s_deconv_pad(draw, s, ctx):
    """deconv with `pad=` and `outpad=` (below the stride): (n - 1)·S - B - A + K + Q."""
    n, sp = s[:-1], len(s) - 1
    kernel = [draw(st.integers(1, 4)) for _ in n]
    stride = [draw(st.integers(1, max(1, min(3, MAX_SIDE // m)))) for m in n]
    pads, p_text = _pads(draw, sp, [1] * sp)
    outpad = [draw(st.integers(0, t - 1)) for t in stride]
    out = [(m - 1) * t - b - a + k + q
           for m, k, t, (b, a), q in zip(n, kernel, stride, pads, outpad)]
    if min(out) < 1:
        return "relu", s
    width = _width(draw)
    words = [f"pad={p_text}", f"outpad={_dims(outpad)}" if any(outpad) else "",
             _activation(draw)]
    return f"deconv {_dims(kernel)}/{_dims(stride)} x{width}" + _tail(draw, words), \
        (*out, width)


def s_causal(draw, s, ctx):
    """A 1-D conv padded D·(K-1) before: ceil(n / S)."""
    k, d = draw(st.integers(1, 4)), draw(st.integers(1, 2))
    t = draw(st.integers(1, 2)) if d == 1 else 1
    width = _width(draw)
    words = ["causal", f"dilation={d}" if d > 1 else "", _activation(draw)]
    return f"conv {k}/{t} x{width}" + _tail(draw, words), (-(-s[0] // t), width)


def s_pad_step(draw, s, ctx):
    """`pad P [reflect|replicate]`: n + B + A (a reflection stays inside the input)."""
    n, sp = s[:-1], len(s) - 1
    mode = draw(st.sampled_from(("", "reflect", "replicate")))
    most = [min(3, m - 1) if mode == "reflect" else 3 for m in n]
    if min(most) < 0:
        return "relu", s
    pads, p_text = _pads(draw, sp, most)
    out = tuple(m + b + a for m, (b, a) in zip(n, pads))
    return f"pad {p_text}" + (f" {mode}" if mode else ""), (*out, s[-1])


# -- normalisation and activations -----------------------------------------------------------

def s_groupnorm(draw, s, ctx):
    c = s[-1]
    groups = draw(st.sampled_from([g for g in range(1, c + 1) if c % g == 0]))
    words = [draw(st.sampled_from(("", "eps=1e-5", "eps=0.01"))),
             draw(st.sampled_from(("", "", "affine=false")))]
    return f"groupnorm {groups}" + _tail(draw, words), s


def s_instancenorm(draw, s, ctx):
    words = [draw(st.sampled_from(("", "eps=1e-5"))),
             draw(st.sampled_from(("", "affine=false")))]
    return "instancenorm" + _tail(draw, words), s


def s_lrn(draw, s, ctx):
    size = draw(st.integers(1, 5))
    words = [draw(st.sampled_from(("", "alpha=0.001", "alpha=0.5"))),
             draw(st.sampled_from(("", "beta=0.5", "beta=1"))),
             draw(st.sampled_from(("", "k=2", "k=0.5")))]
    return f"lrn {size}" + _tail(draw, words), s


def s_prelu(draw, s, ctx):
    return "prelu" + (" shared" if draw(st.booleans()) else ""), s


def s_v3_activation(draw, s, ctx):
    return draw(st.sampled_from(V3_ACTIVATIONS)), s


def s_fused_v3_activation(draw, s, ctx):
    """A conv of stride 1, `same`, with a version 3 activation fused."""
    width = _width(draw)
    return f"conv 1 x{width} {draw(st.sampled_from(V3_ACTIVATIONS))}", (*s[:-1], width)


# -- rearranging --------------------------------------------------------------------------------

def s_pixel_shuffle(draw, s, ctx):
    """2-D: (H, W, C·R²) -> (H·R, W·R, C); a 1x1 conv first makes the channels fit."""
    h, w, c = s
    r = draw(st.integers(1, 3))
    if h * r > MAX_SIDE or w * r > MAX_SIDE:
        r = 1
    steps = []
    if c % (r * r):
        c = r * r * draw(st.integers(1, 2))
        steps.append(f"conv 1 x{c}")
    steps.append(f"pixel_shuffle {r}")
    return " -> ".join(steps), (h * r, w * r, c // (r * r))


def s_pixel_unshuffle(draw, s, ctx):
    """2-D: (H·R, W·R, C) -> (H, W, C·R²); zero padding first makes the sides fit."""
    h, w, c = s
    r = draw(st.integers(1, 2 if c <= 6 else 1))
    steps = []
    if h % r or w % r:
        steps.append(f"zeropad 0:{-h % r}x0:{-w % r}")
        h, w = h + (-h % r), w + (-w % r)
    steps.append(f"pixel_unshuffle {r}")
    return " -> ".join(steps), (h // r, w // r, c * r * r)


def s_channel_shuffle(draw, s, ctx):
    c = s[-1]
    groups = draw(st.sampled_from([g for g in range(1, c + 1) if c % g == 0]))
    return f"channel_shuffle {groups}", s


def s_split(draw, s, ctx):
    """Channels cut into parts, one per branch, the branches' results concatenated."""
    c = s[-1]
    count = draw(st.integers(1, min(3, c)))
    if c % count == 0 and draw(st.booleans()):
        sizes, head = [c // count] * count, "split"
    else:
        cuts = sorted(draw(st.lists(st.integers(1, c - 1), min_size=count - 1,
                                    max_size=count - 1, unique=True))) if count > 1 else []
        sizes = [b - a for a, b in zip([0, *cuts], [*cuts, c])]
        head = "split " + ",".join(map(str, sizes)) if count > 1 else "split"
    texts, channels = [], 0
    ctx.depth += 1
    for size in sizes:
        part = (*s[:-1], size)
        if draw(st.integers(0, 2)) == 0:
            texts.append("id")
            channels += size
            continue
        steps, t = chain(draw, part, ctx, max_steps=2, keep_rank=True)
        steps += fix(draw, t, s[:-1], t[-1])  # back to the split's sizes, as concat needs
        texts.append(" -> ".join(steps))
        channels += t[-1]
    ctx.depth -= 1
    return f"{head} {{ {' | '.join(texts)} }}", (*s[:-1], channels)


def s_bilinear(draw, s, ctx):
    h, w, c = s
    fh = draw(st.integers(1, max(1, min(3, MAX_SIDE // h))))
    fw = draw(st.integers(1, max(1, min(3, MAX_SIDE // w))))
    size = str(fh) if fh == fw else f"{fh}x{fw}"
    return f"upsample {size} bilinear", (h * fh, w * fw, c)


def s_flatten_chw(draw, s, ctx):
    return "flatten chw", (prod(s),)


def s_sepconv_mult(draw, s, ctx):
    k_text, out, words = _window(draw, s, "sepconv", ctx)
    mult = draw(st.integers(1, 3))
    width = _width(draw)
    return f"sepconv {k_text} x{width} mult={mult}" + _tail(draw, [*words, _activation(draw)]), \
        (*out, width)


def s_one_branch(draw, s, ctx):
    op = draw(st.sampled_from(("add", "mul", "avg", "max", "concat")))
    ctx.depth += 1
    steps, t = chain(draw, s, ctx, max_steps=2, keep_rank=True)
    ctx.depth -= 1
    return f"{op} {{ {' -> '.join(steps)} }}", t


def v3_steps(s: Shape) -> list:
    """The version 3 steps that can follow shape `s`."""
    rank = len(s) - 1
    steps = [s_v3_activation, s_fused_v3_activation if rank else s_v3_activation, s_prelu,
             s_channel_shuffle, s_one_branch, s_split]
    if rank >= 1:
        steps += [s_conv_pad, s_pool_pad, s_deconv_pad, s_pad_step, s_groupnorm,
                  s_instancenorm, s_lrn, s_flatten_chw]
    if rank == 1:
        steps.append(s_causal)
    if rank in (1, 2):
        steps.append(s_sepconv_mult)
    if rank == 2:
        steps += [s_pixel_shuffle, s_pixel_unshuffle, s_bilinear]
    return steps


@st.composite
def v3_networks(draw):
    """(program text, the output shape the strategy expects)."""
    kind = draw(st.sampled_from(("2-D", "2-D", "1-D", "3-D", "vector")))
    if kind == "vector":
        s: Shape = (draw(st.integers(2, 12)),)
    elif kind == "1-D":
        s = (draw(st.integers(3, MAX_SIDE)), draw(st.integers(1, 4)))
    elif kind == "2-D":
        s = (draw(st.integers(3, 10)), draw(st.integers(3, 10)), draw(st.integers(1, 4)))
    else:
        s = tuple(draw(st.integers(2, 6)) for _ in range(3)) + (draw(st.integers(1, 3)),)
    first = s
    ctx = Ctx(budget=draw(st.integers(3, 8)))
    steps: list[str] = []
    for _ in range(draw(st.integers(2, 6))):
        if draw(st.integers(0, 2)) == 0 and ctx.budget > 0:  # a version 1 step or two
            more, s = chain(draw, s, ctx, max_steps=2, keep_rank=len(s) > 1)
            steps += more
        else:
            text, s = draw(st.sampled_from(v3_steps(s)))(draw, s, ctx)
            steps.append(text)
        if prod(s) > 4096 or max(s) > 64:
            break
    text = " ".join([*ctx.defs.values(), f"input {_dims(first)}", *("-> " + t for t in steps)])
    return text, s


# -- the checks ---------------------------------------------------------------------------------

def check_v3(spec: str, seed: int, batch: int) -> None:
    graph = compile_text(spec, name="differential")
    rng = np.random.default_rng(seed)
    weights = random_weights(graph, rng)
    xs = [rng.normal(0.0, 1.0, (batch, *n.shape)).astype(np.float32) for n in graph.input_nodes]
    kept = Interpreter(graph, weights, fuse=False, keep=True).run_all(xs)
    outputs = [kept[n.name] for n in graph.output_nodes]
    for fuse in (True, False):
        ours = Interpreter(graph, weights, fuse=fuse).run_many(xs)
        assert max(relative_error(o, e) for o, e in zip(ours, outputs)) <= 1e-5, \
            f"the {'fused' if fuse else 'unfused'} run differs from the layers kept apart"
    if ort is not None:
        check_onnxruntime_agrees(graph, weights, xs, outputs)
    try:
        model = build_model(graph, weights)
    except CnnError as e:
        note(f"Keras refused: {e}")
        line, col = e.span.line, e.span.column
        assert line >= 1 and col >= 1, f"the refusal is not located: {e}"
        step = spec.splitlines()[line - 1][col - 1:].split("->")[0]
        assert any(word in step for word in REFUSABLE), f"refused a step Keras builds: {step!r}"
        return
    assert model.count_params() == analyse(graph).params
    x = xs if len(xs) > 1 else xs[0]
    run = _xla if needs_xla(graph) else (lambda m: (lambda a: m(a, training=False)))
    expected = run(model)(x)
    expected = expected if isinstance(expected, (list, tuple)) else [expected]
    for ours, theirs in zip(outputs, expected):
        err = relative_error(ours, np.asarray(theirs))
        assert err <= RTOL, f"the output differs from Keras's by {err:.3g}"
    # Layer by layer: a step built as several Keras layers is compared at its last one
    # (a transposed convolution's `_crop`), the layers named after the node.
    inputs = {n.index for n in graph.input_nodes}
    checked, layers = [], []
    for node in graph.nodes:
        for name in (f"{node.name}_crop", node.name):
            if (node.index not in inputs and name in {layer.name for layer in model.layers}
                    and tuple(model.get_layer(name).output.shape[1:]) == node.shape):
                checked.append(node)
                layers.append(model.get_layer(name).output)
                break
    if not checked:
        return
    values = run(keras.Model(model.input, layers))(x)
    values = values if isinstance(values, (list, tuple)) else [values]
    for node, value in zip(checked, values):
        err = relative_error(kept[node.name], np.asarray(value))
        assert err <= RTOL, (f"first disagreement with Keras at {node.name} ({node.text}): "
                             f"{err:.3g}")


@pytest.mark.filterwarnings("ignore:You are using a softmax over axis -1")
@settings(PROFILE, max_examples=200)
@given(v3_networks(), st.integers(0, 2**32 - 1), st.integers(1, 2))
def test_backends_agree_on_random_v3_networks(network, seed, batch):
    spec, shape = network
    note(f"spec: {spec}")
    graph = compile_text(spec, name="differential")
    assert graph.output.shape == shape, "the strategy and cnndsl disagree on the shape"
    check_v3(spec, seed, batch)


def test_strategy_draws_every_v3_construct():
    """Every version 3 construct is drawn, and the strategy's shapes are cnndsl's (no
    Keras needed)."""
    seen: set[str] = set()

    @settings(PROFILE, max_examples=600, derandomize=True, database=None)
    @given(v3_networks())
    def draw_one(network):
        spec, shape = network
        assert compile_text(spec, name="differential").output.shape == shape, spec
        seen.update(word for word in WORDS if word in spec)

    draw_one()
    assert set(WORDS) <= seen, f"never drawn: {sorted(set(WORDS) - seen)}"


WORDS = ("pad=", "include_pad", "ceil", "outpad=", "causal", " reflect", " replicate",
         "-> pad ", "groupnorm", "instancenorm", "lrn", "prelu", "prelu shared", "elu=",
         "celu", "gelu=tanh", "mish", "softsign", "log_softmax", "clip=", "pixel_shuffle",
         "pixel_unshuffle", "channel_shuffle", "split {", "split ", "bilinear",
         "flatten chw", "mult=", "add {", "concat {")

"""Hypothesis properties: output sizes and parameter counts of random valid chains and of
random nested merges, the `{expr}` evaluator against Python's exact arithmetic, and
per-kind layer numbering (nested merges numbered where their word is written).

The formulas below are written from LANGUAGE.md, independently of cnndsl/layers/shapes.py:
valid: floor((in - D*(K-1) - 1) / S) + 1; same: ceil(in / S); deconv valid (Keras):
in*S + max(K-S, 0), same: in*S; pools default their stride to the window.
"""

from __future__ import annotations

import re
from collections import defaultdict
from fractions import Fraction
from math import ceil, floor, prod

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnndsl import CnnError, analyse, compile_text

SETTINGS = settings(max_examples=150, deadline=None)
ACTS = ["relu", "tanh", "sigmoid", "swish", "gelu", "leaky_relu=0.1", "linear"]
MAX_GROWTH = 24  # grow a dimension (deconv, upsample, zeropad) only while it is this small


def fmt(draw, values) -> str:
    """`3x3` or, when all equal and the draw allows, the one-number shorthand `3`."""
    if len(set(values)) == 1 and draw(st.booleans()):
        return str(values[0])
    return "x".join(str(v) for v in values)


def valid_size(n: int, k: int, s: int, d: int = 1) -> int:
    return floor(Fraction(n - d * (k - 1) - 1, s)) + 1


def same_size(n: int, s: int) -> int:
    return ceil(Fraction(n, s))


def deconv_size(n: int, k: int, s: int, padding: str) -> int:
    return n * s if padding == "same" else n * s + max(k - s, 0)


def tail(draw, options: list[str]) -> str:
    """Options in a random order, as the language allows."""
    return "".join(" " + o for o in draw(st.permutations(options)))


def window(draw, sizes, *, dilate: bool):
    """Kernel, stride, dilation and padding that fit `sizes`."""
    padding = draw(st.sampled_from(["valid", "same", None]))
    use_dilation = dilate and draw(st.booleans())
    kernels, strides, dilations = [], [], []
    for n in sizes:
        d = draw(st.integers(1, 3)) if use_dilation else 1
        s = 1 if use_dilation else draw(st.integers(1, 3))
        biggest = 5 if padding == "same" else min(5, (n - 1) // d + 1)
        kernels.append(draw(st.integers(1, biggest)))
        strides.append(s)
        dilations.append(d)
    return kernels, strides, dilations, padding or "valid", padding


def out_sizes(sizes, kernels, strides, dilations, padding):
    if padding == "same":
        return [same_size(n, s) for n, s in zip(sizes, strides)]
    return [valid_size(n, k, s, d) for n, k, s, d in zip(sizes, kernels, strides, dilations)]


def conv_like(draw, shape, kind):
    """conv / dwconv / sepconv: text, output shape and hand-counted parameters."""
    sizes, cin = list(shape[:-1]), shape[-1]
    kernels, strides, dilations, padding, written = window(draw, sizes, dilate=True)
    text = f"{kind} {fmt(draw, kernels)}"
    if max(strides) > 1 or draw(st.booleans()):
        text += f"/{fmt(draw, strides)}"
    bias = draw(st.booleans())
    options = [] if bias and draw(st.booleans()) else [f"bias={str(bias).lower()}"]
    options += [written] if written else []
    options += [draw(st.sampled_from(ACTS))] if draw(st.booleans()) else []
    if max(dilations) > 1:
        options.append(f"dilation={fmt(draw, dilations)}")
    k = prod(kernels)
    if kind == "conv":
        groups = draw(st.sampled_from([g for g in range(1, cin + 1) if cin % g == 0]))
        filters = groups * draw(st.integers(1, 6 // groups + 1))
        text += f" x{filters}"
        if groups > 1 or draw(st.booleans()):
            options.append(f"groups={groups}")
        cout, params = filters, k * (cin // groups) * filters + filters * bias
    elif kind == "dwconv":
        mult = draw(st.integers(1, 3)) if cin <= 6 else 1
        if mult > 1 or draw(st.booleans()):
            text += f" x{mult}"
        cout, params = cin * mult, k * cin * mult + cin * mult * bias
    else:
        filters = draw(st.integers(1, 6))
        text += f" x{filters}"
        cout, params = filters, k * cin + cin * filters + filters * bias
    out = out_sizes(sizes, kernels, strides, dilations, padding)
    return text + tail(draw, options), (*out, cout), params


def deconv(draw, shape):
    sizes, cin = list(shape[:-1]), shape[-1]
    grow = max(sizes) <= MAX_GROWTH
    kernels = [draw(st.integers(1, 4)) for _ in sizes]
    strides = [draw(st.integers(1, 3)) if grow else 1 for _ in sizes]
    padding = draw(st.sampled_from(["valid", "same", None]))
    if not grow:
        padding = "same"
    filters, bias = draw(st.integers(1, 6)), draw(st.booleans())
    text = f"deconv {fmt(draw, kernels)}"
    if max(strides) > 1 or draw(st.booleans()):
        text += f"/{fmt(draw, strides)}"
    text += f" x{filters}"
    options = ([padding] if padding else []) + ([] if bias else ["bias=false"])
    out = [deconv_size(n, k, s, padding or "valid")
           for n, k, s in zip(sizes, kernels, strides)]
    return text + tail(draw, options), (*out, filters), prod(kernels) * filters * cin \
        + filters * bias


def pool(draw, shape):
    sizes = list(shape[:-1])
    kind = draw(st.sampled_from(["maxpool", "avgpool"]))
    kernels, strides, _, padding, written = window(draw, sizes, dilate=False)
    text = f"{kind} {fmt(draw, kernels)}"
    if draw(st.booleans()):
        text += f"/{fmt(draw, strides)}"
    else:
        strides = kernels  # the stride defaults to the window
    out = out_sizes(sizes, kernels, strides, [1] * len(sizes), padding)
    return text + (f" {written}" if written else ""), (*out, shape[-1]), 0


def zeropad(draw, shape):
    sizes = list(shape[:-1])
    top = 2 if max(sizes) <= MAX_GROWTH else 0
    pads = [(draw(st.integers(0, top)), draw(st.integers(0, top))) for _ in sizes]
    if draw(st.booleans()):
        pads = [(b, b) for b, _ in pads]
        written = fmt(draw, [b for b, _ in pads])
    else:
        written = "x".join(f"{b}:{a}" for b, a in pads)
    out = [n + b + a for n, (b, a) in zip(sizes, pads)]
    return f"zeropad {written}", (*out, shape[-1]), 0


def upsample(draw, shape):
    sizes = list(shape[:-1])
    top = 3 if max(sizes) <= MAX_GROWTH else 1
    factors = [draw(st.integers(1, top)) for _ in sizes]
    return f"upsample {fmt(draw, factors)}", (*(n * f for n, f in zip(sizes, factors)),
                                             shape[-1]), 0


STEPS = {
    "conv": lambda d, s: conv_like(d, s, "conv"),
    "dwconv": lambda d, s: conv_like(d, s, "dwconv"),
    "sepconv": lambda d, s: conv_like(d, s, "sepconv"),
    "deconv": deconv, "pool": pool, "zeropad": zeropad, "upsample": upsample,
}


def shape_text(shape) -> str:
    return "x".join(map(str, shape))


@st.composite
def networks(draw):
    rank = draw(st.integers(1, 3))
    start = (*draw(st.lists(st.integers(1, 20), min_size=rank, max_size=rank)),
             draw(st.integers(1, 4)))
    shape, steps = start, []
    for _ in range(draw(st.integers(1, 6))):
        text, out, params = STEPS[draw(st.sampled_from(sorted(STEPS)))](draw, shape)
        steps.append((text, out, params))
        shape = out
    return start, steps


@SETTINGS
@given(networks())
def test_random_chains_follow_the_size_and_parameter_formulas(net):
    start, steps = net
    text = f"input {shape_text(start)} -> " + " -> ".join(t for t, _, _ in steps)
    stats = analyse(compile_text(text))
    assert len(stats.layers) == 1 + len(steps), text
    for (step, out, params), layer in zip(steps, stats.layers[1:]):
        assert layer.node.shape == out, f"{step} in {text}"
        assert (layer.params, layer.non_trainable) == (params, 0), f"{step} in {text}"
    assert stats.params == sum(p for _, _, p in steps), text


# ---- the {expr} evaluator --------------------------------------------------------------

LEAVES = (st.integers(0, 12).map(lambda n: ("num", str(n), Fraction(n)))
          | st.sampled_from(["0.5", "1.5", "2.25", "0.1", "3.0"]).map(
              lambda t: ("num", t, Fraction(t)))
          | st.sampled_from(["a", "b", "C"]).map(lambda n: ("name", n)))


def compound(children):
    return (st.tuples(st.sampled_from(["+", "-", "*", "/", "//"]), children, children)
            | st.tuples(st.just("neg"), children)
            | st.tuples(st.just("paren"), children))


EXPRS = st.recursive(LEAVES, compound, max_leaves=10)
PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "//": 2}


def render(tree) -> tuple[str, int]:
    """Source text and precedence (4 atom, 3 unary minus), parenthesised only as needed."""
    if tree[0] in ("num", "name"):
        return tree[1], 4
    if tree[0] == "paren":
        return f"({render(tree[1])[0]})", 4
    if tree[0] == "neg":
        text, prec = render(tree[1])
        return ("-" + (text if prec >= 3 else f"({text})")), 3
    op, left, right = tree
    p = PRECEDENCE[op]
    (lt, lp), (rt, rp) = render(left), render(right)
    lt = lt if lp >= p else f"({lt})"
    rt = rt if rp > p else f"({rt})"  # all operators associate to the left
    return f"{lt} {op} {rt}", p


def value(tree, env) -> Fraction:
    """Python's own exact arithmetic on the tree (ZeroDivisionError on a zero divisor)."""
    if tree[0] == "num":
        return tree[2]
    if tree[0] == "name":
        return Fraction(env[tree[1]])
    if tree[0] == "paren":
        return value(tree[1], env)
    if tree[0] == "neg":
        return -value(tree[1], env)
    op, left, right = tree
    x, y = value(left, env), value(right, env)
    return {"+": lambda: x + y, "-": lambda: x - y, "*": lambda: x * y,
            "/": lambda: x / y, "//": lambda: Fraction(x // y)}[op]()


@SETTINGS
@given(EXPRS, st.integers(-5, 12), st.integers(-5, 12), st.integers(1, 6))
def test_expression_width_is_python_arithmetic(tree, a, b, channels):
    expr = render(tree)[0]
    text = f"def blk(a, b) = conv 1 x{{{expr}}}\ninput 1x{channels} -> blk({a}, {b})"
    try:
        expected = value(tree, {"a": a, "b": b, "C": channels})
    except ZeroDivisionError:
        expected = None
    if expected is not None and expected.denominator == 1 and 1 <= expected <= 2**31:
        assert compile_text(text).output.shape == (1, int(expected)), expr
    else:
        with pytest.raises(CnnError):
            compile_text(text)


# ---- naming ----------------------------------------------------------------------------

# A step that keeps a 6x6x4 tensor 6x6x4, and the stem its layer is named from.
SIMPLE = {
    "relu": "relu", "tanh": "tanh", "swish": "silu", "silu": "silu", "gelu": "gelu",
    "leaky_relu=0.1": "leaky_relu", "bn": "batchnorm", "batchnorm": "batchnorm",
    "dropout 0.1": "dropout", "conv 3 x4 same": "conv", "conv 1 x4": "conv",
    "dwconv 3 same": "dwconv", "sepconv 3 x4 same": "sepconv", "deconv 1 x4": "deconv",
    "maxpool 1": "maxpool", "avgpool 3/1 same": "avgpool", "zeropad 0": "zeropad",
    "upsample 1": "upsample", "dense 4": "dense", "blk": None,
}
BLOCK = "def blk = conv 1 x4 -> relu\n"
BLOCK_STEMS = ["conv", "relu"]


def simple_stems(step: str) -> list[str]:
    return BLOCK_STEMS if step == "blk" else [SIMPLE[step]]


BRANCH = st.lists(st.sampled_from(sorted(SIMPLE)), min_size=1, max_size=3)


@st.composite
def merge_item(draw):
    """`OP { ... }` with its stems in the order the graph lists its nodes."""
    op = draw(st.sampled_from(["add", "mul", "max", "avg", "concat", "residual"]))
    count = 1 if op == "residual" else draw(st.integers(2, 3))
    branches = [draw(st.none() | BRANCH) if op != "residual" else draw(BRANCH)
                for _ in range(count)]
    written = [" -> ".join(b) if b else "id" for b in branches]
    stems = [s for b in branches if b for step in b for s in simple_stems(step)]
    text = f"{op} {{ {' | '.join(written)} }}"
    stems.append("add" if op == "residual" else op)
    if op == "concat":  # back to 4 channels for the next step
        text += " -> conv 1 x4"
        stems.append("conv")
    return text, stems


@st.composite
def item(draw):
    kind = draw(st.sampled_from(["simple", "merge", "repeat"]))
    if kind == "simple":
        step = draw(st.sampled_from(sorted(SIMPLE)))
        return step, simple_stems(step)
    if kind == "merge":
        return draw(merge_item())
    body = draw(st.lists(st.sampled_from(sorted(SIMPLE)).map(lambda s: (s, simple_stems(s)))
                         | merge_item(), min_size=1, max_size=2))
    times = draw(st.integers(1, 3))
    text = f"({' -> '.join(t for t, _ in body)}) * {times}"
    return text, [s for _ in range(times) for _, stems in body for s in stems]


@SETTINGS
@given(st.lists(item(), min_size=1, max_size=6))
def test_names_number_each_kind_from_one(items):
    text = BLOCK + "input 6x6x4 -> " + " -> ".join(t for t, _ in items)
    got = [n.name for n in compile_text(text).nodes]
    counters: dict[str, int] = defaultdict(int)
    expected = ["input"]
    for stem in (s for _, stems in items for s in stems):
        counters[stem] += 1
        expected.append(f"{stem}_{counters[stem]}")
    assert got == expected, text
    numbers = defaultdict(list)
    for name in got[1:]:
        stem, number = re.fullmatch(r"(.+)_(\d+)", name).groups()
        numbers[stem].append(int(number))
    assert all(ns == list(range(1, len(ns) + 1)) for ns in numbers.values()), got


# ---- nested merges: shapes, parameters and names -----------------------------------------

# Steps that keep the spatial sizes, as (text, stem, output channels, trainable params,
# non-trainable params) for C channels in, F channels out and r spatial dimensions.
MERGE_DEPTH = 3  # merges inside merges inside merges, no deeper
ACT_STEMS = {"relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid", "swish": "silu",
             "gelu": "gelu", "leaky_relu=0.1": "leaky_relu", "linear": "linear"}


def keeping_step(draw, c: int, r: int, f: int):
    kind = draw(st.sampled_from(["act", "bn", "dropout", "conv1", "conv3", "dwconv",
                                 "sepconv", "pool", "deconv", "dense", "zeropad",
                                 "upsample"]))
    fused = draw(st.sampled_from(["", " relu", " swish"]))
    if kind == "act":
        word = draw(st.sampled_from(sorted(ACT_STEMS)))
        return word, ACT_STEMS[word], c, 0, 0
    return {
        "bn": ("bn", "batchnorm", c, 2 * c, 2 * c),  # gamma, beta; moving mean, variance
        "dropout": ("dropout 0.2", "dropout", c, 0, 0),
        "conv1": (f"conv 1 x{f}{fused}", "conv", f, c * f + f, 0),
        "conv3": (f"conv 3 x{f} same{fused}", "conv", f, 3**r * c * f + f, 0),
        "dwconv": ("dwconv 3 same", "dwconv", c, 3**r * c + c, 0),
        "sepconv": (f"sepconv 3 x{f} same", "sepconv", f, 3**r * c + c * f + f, 0),
        "pool": (draw(st.sampled_from(["maxpool", "avgpool"])) + " 3/1 same",
                 None, c, 0, 0),
        "deconv": (f"deconv 1 x{f}", "deconv", f, f * c + f, 0),
        "dense": (f"dense {f}", "dense", f, c * f + f, 0),
        "zeropad": ("zeropad 0", "zeropad", c, 0, 0),
        "upsample": ("upsample 1", "upsample", c, 0, 0),
    }[kind]


# A drawn network is a list of items; an item is a layer ("layer", stem, shape, params,
# non-trainable) or a merge ("merge", kind, branches, shape), a branch being a list of
# items (empty for `id`). Each drawing function returns (text, items, output shape).

def keeping_chain(draw, shape, depth: int, keep: bool):
    """One to three steps and merges; with `keep` the shape comes out unchanged."""
    texts, items = [], []
    for _ in range(draw(st.integers(1, 3))):
        if depth < MERGE_DEPTH and draw(st.integers(0, 3)) == 0:
            text, new, shape = merge(draw, shape, depth + 1, keep)
        else:
            c = shape[-1]
            f = c if keep else draw(st.integers(1, 4))
            text, stem, cout, params, frozen = keeping_step(draw, c, len(shape) - 1, f)
            stem = stem or text.split()[0]
            shape = (*shape[:-1], cout)
            new = [("layer", stem, shape, params + frozen, frozen)]
        texts.append(text)
        items += new
    return " -> ".join(texts), items, shape


def merge(draw, shape, depth: int, keep: bool):
    kind = draw(st.sampled_from(["add", "mul", "max", "avg", "concat", "residual"]))
    if kind == "residual":
        text, chain, _ = keeping_chain(draw, shape, depth, keep=True)
        return f"residual {{ {text} }}", [("merge", "add", [[], chain], shape)], shape
    texts, branches, channels = [], [], 0
    for _ in range(draw(st.integers(2, 3))):
        if draw(st.booleans()):
            texts.append("id")
            branches.append([])
            channels += shape[-1]
        else:
            text, chain, out = keeping_chain(draw, shape, depth, keep=kind != "concat")
            texts.append(text)
            branches.append(chain)
            channels += out[-1]
    text = f"{kind} {{ {' | '.join(texts)} }}"
    if kind != "concat":  # element-wise: every branch kept the shape
        return text, [("merge", kind, branches, shape)], shape
    joined = (*shape[:-1], channels)  # concat: the branches' channels add up
    items = [("merge", "concat", branches, joined)]
    if keep:  # back to the channels of the input, so an element-wise parent can merge it
        c = shape[-1]
        text += f" -> conv 1 x{c}"
        items.append(("layer", "conv", shape, channels * c + c, 0))
        return text, items, shape
    return text, items, joined


@st.composite
def merged_networks(draw):
    rank = draw(st.integers(1, 3))
    shape = (*draw(st.lists(st.integers(1, 8), min_size=rank, max_size=rank)),
             draw(st.integers(1, 4)))
    start, texts, items = shape, [], []
    for _ in range(draw(st.integers(1, 4))):
        what = draw(st.sampled_from(["step", "merge", "merge", "repeat"]))
        if what == "step":  # any step of the chains above, which may change the sizes
            text, out, params = STEPS[draw(st.sampled_from(sorted(STEPS)))](draw, shape)
            new = [("layer", text.split()[0], out, params, 0)]
        elif what == "merge":
            text, new, out = merge(draw, shape, 1, keep=False)
        else:  # a repeated merge that keeps the shape, so every round counts the same
            times = draw(st.integers(1, 3))
            body, once, out = merge(draw, shape, 1, keep=True)
            text, new = f"({body}) * {times}", once * times
        texts.append(text)
        items += new
        shape = out
    return f"input {shape_text(start)} -> " + " -> ".join(texts), start, items


def expected_nodes(items, counters) -> list[tuple]:
    """(name, shape, params, non-trainable, inputs) in graph order. Each kind is numbered
    in written order, and a merge's word comes before its branches; its node comes after
    them, and it has one input per branch."""
    out = []
    for item in items:
        if item[0] == "layer":
            _, stem, shape, params, frozen = item
            counters[stem] += 1
            out.append((f"{stem}_{counters[stem]}", shape, params, frozen, 1))
            continue
        _, kind, branches, shape = item
        counters[kind] += 1
        name = f"{kind}_{counters[kind]}"
        for branch in branches:
            out += expected_nodes(branch, counters)
        out.append((name, shape, 0, 0, len(branches)))
    return out


@SETTINGS
@given(merged_networks())
def test_nested_merges_follow_the_shape_parameter_and_naming_rules(net):
    text, start, items = net
    stats = analyse(compile_text(text))
    expected = [("input", start, 0, 0, 0), *expected_nodes(items, defaultdict(int))]
    got = [(s.node.name, s.node.shape, s.params, s.non_trainable, len(s.node.inputs))
           for s in stats.layers]
    assert got == expected, text
    assert len({g[0] for g in got}) == len(got), text
    assert stats.params == sum(e[2] for e in expected), text

"""ONNX's own operator test cases, each written as a `.cnn` network, or the reason it cannot be.

ONNX ships a test case per operator and attribute combination
(`onnx.backend.test.case.node`): a one-node model, its inputs and the outputs ONNX's
reference implementation computes. `collect_testcases()` builds all 1,900 of them by
importing every module of that package (each module's cases are made when it is imported),
which takes half a minute; `cases(module)` imports only one module, the same way, so each
test here pays for its own operator alone.

`translate(case)` writes the case's node as a `.cnn` spec with the weights it takes (a
conv's `W` and `B`, batch norm's statistics), and says how its arrays map to cnndsl's:
ONNX is channels-first with the batch axis first, cnndsl channels-last without a batch
axis, so an image (N, C, H, W) is given as (N, H, W, C) and the result moved back; an
operator that works along one axis (Softmax, Concat) has that axis moved last, where
cnndsl's channels are. A case the language cannot express is `Inexpressible(reason)`,
with the reason in words; nothing is approximated. The test (tests/test_onnx_cases.py)
runs each translated case in the NumPy interpreter and compares with ONNX's outputs.

    python tests/onnx_cases.py      # the table: per operator, expressed / agreeing / why not
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from cnndsl import CnnError, parse

KERAS_SELU = (1.6732632423543772, 1.0507009873554805)
# The modules of onnx.backend.test.case.node whose cases are CNN operators: convolution,
# pooling, normalisation, activations, resizing, depth-to-space, merges, padding, and the
# dense head (Gemm, Flatten, Dropout), with Concat and Split.
MODULES = (
    "conv convtranspose maxpool averagepool globalaveragepool globalmaxpool "
    "batch_normalization instance_normalization groupnormalization lrn layernormalization "
    "relu leakyrelu prelu elu celu selu sigmoid hardsigmoid hardswish tanh softmax logsoftmax "
    "softplus softsign mish gelu clip add mul sum mean max min concat flatten gemm pad resize "
    "upsample depthtospace spacetodepth split dropout").split()


@dataclass
class Written:
    """A case as a spec: `inputs` are the arrays cnndsl takes (by input name), `back`
    turns cnndsl's output into ONNX's layout."""

    text: str
    inputs: dict[str, np.ndarray]
    weights: dict[str, np.ndarray] = field(default_factory=dict)
    back: Callable[[np.ndarray], np.ndarray] = lambda y: y


@dataclass
class Inexpressible:
    reason: str


def cases(module: str) -> list:
    """The single-node test cases one module of ONNX's node tests makes.

    Importing the module makes its cases (its classes' `export` functions run then, and
    append to the package's list): the list grows by exactly that module's cases. A module
    already imported made its cases before; they are found by its operators' names."""
    import onnx.backend.test.case.node as node

    name = f"{node.__name__}.{module}"
    import sys

    if name in sys.modules:
        raise RuntimeError(f"{name} was imported before; its cases cannot be told apart")
    before = len(node._NodeTestCases)
    # Only the module's own operator: a case of a function expanded into other
    # operators (`test_clip_default_inbounds_expanded` is one Identity) tests those.
    importlib.import_module(name)
    return [c for c in node._NodeTestCases[before:] if len(c.model.graph.node) == 1
            and c.model.graph.node[0].op_type in OPERATORS]


def attributes(case) -> dict:
    from onnx import helper

    n = case.model.graph.node[0]
    out = {}
    for a in n.attribute:
        v = helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


def translate(case) -> Written | Inexpressible:
    """The case as a spec, or why the language cannot say it."""
    node = case.model.graph.node[0]
    inputs, outputs = case.data_sets[0]
    inputs = [np.asarray(a) if isinstance(a, np.generic) else a for a in inputs]
    if any(not isinstance(a, np.ndarray) for a in inputs):
        return Inexpressible("an input is a sequence or an optional value, not a tensor")
    present = [name for name in node.input if name]
    given = dict(zip(present, inputs))
    arrays = [given.get(name) for name in node.input]
    if len([o for o in node.output if o]) != 1 and node.op_type not in EXTRA_OUTPUTS:
        return Inexpressible(MULTIPLE_OUTPUTS.get(node.op_type, "more than one output"))
    data = [a for a in (arrays[0], outputs[0]) if a.size]
    if any(a.dtype != np.float32 for a in data):
        return Inexpressible(f"{'/'.join(sorted({str(a.dtype) for a in data}))} data: cnndsl "
                             "computes in float32")
    if arrays[0].size == 0:
        return Inexpressible("an empty tensor: every size in cnndsl is at least 1")
    return OPERATORS[node.op_type](arrays, attributes(case))


# Operators whose further outputs are by-products: only the first is compared. Layer
# norm's mean and inverse standard deviation are kept for training; dropout's mask at
# inference is all true.
EXTRA_OUTPUTS = {"LayerNormalization", "Dropout"}
MULTIPLE_OUTPUTS = {
    "MaxPool": "the indices of the maxima as a second output (MaxUnpool's input): a step "
               "has one output",
    "BatchNormalization": "training mode's running statistics as further outputs",
    "Split": "the parts as separate outputs: the language's split concatenates its "
             "branches' results again",
}


def run(written: Written) -> np.ndarray:
    net = parse(written.text, "case")
    if written.weights:
        net.set_weights({k: np.asarray(v, np.float32) for k, v in written.weights.items()})
    else:
        net.init_weights(0)
    inputs = {k: np.asarray(v, np.float32) for k, v in written.inputs.items()}
    out = net.run(inputs if len(inputs) > 1 else next(iter(inputs.values())))
    if isinstance(out, dict):  # several inputs: outputs by name, here the one output
        (out,) = out.values()
    return written.back(np.asarray(out))


def outcome(case) -> tuple[str, str]:
    """('agrees' | 'differs' | 'inexpressible', detail) for one case."""
    written = translate(case)
    if isinstance(written, Inexpressible):
        return "inexpressible", written.reason
    try:
        ours = run(written)
    except CnnError as e:
        raise AssertionError(f"{case.name}: {written.text!r}\n{e}") from None
    expected = case.data_sets[0][1][0]
    if ours.shape != expected.shape:
        return "differs", f"shape {ours.shape}, ONNX {expected.shape}: {written.text!r}"
    # ONNX's own tolerances for its node cases (rtol 1e-3; its runner's atol 1e-7 is below
    # float32's resolution of sums of a few values, so at least 1e-5): some expected
    # outputs are written by hand to four decimals (0.1511 for 1.3595 / 9).
    if not np.allclose(ours, expected, rtol=case.rtol, atol=max(case.atol, 1e-5)):
        worst = float(np.max(np.abs(ours - expected)))
        return "differs", f"off by {worst:.3g}: {written.text!r}"
    return "agrees", written.text


def table() -> str:
    """Per operator: its cases, how many agree with ONNX, how many differ, how many cannot
    be expressed; then each reason and its count."""
    from collections import Counter

    rows, reasons = [], Counter()
    for module in MODULES:
        results = [outcome(case) for case in cases(module)]
        count = Counter(kind for kind, _ in results)
        reasons.update(detail for kind, detail in results if kind == "inexpressible")
        rows.append(f"| {module} | {len(results)} | {count['agrees']} | {count['differs']} | "
                    f"{count['inexpressible']} |")
    head = ["| module | cases | agree | differ | inexpressible |",
            "|---|---:|---:|---:|---:|"]
    lines = [*head, *rows, "", "| why not | cases |", "|---|---:|"]
    lines += [f"| {reason} | {n} |" for reason, n in reasons.most_common()]
    return "\n".join(lines)



# -- layouts ---------------------------------------------------------------------------------

def dims(shape) -> str:
    return "x".join(str(int(d)) for d in shape)


def as_is(x: np.ndarray) -> tuple[str, np.ndarray]:
    """A tensor whose layout does not matter (element-wise): one example of its shape."""
    return dims(x.shape), x[None]


def channels_last(x: np.ndarray) -> tuple[str, np.ndarray]:
    """(N, C, *spatial) as cnndsl's (N, *spatial, C)."""
    moved = np.moveaxis(x, 1, -1)
    return dims(moved.shape[1:]), moved


def channels_first(y: np.ndarray) -> np.ndarray:
    return np.moveaxis(y, -1, 1)


def rank_ok(x: np.ndarray) -> Inexpressible | None:
    if not 2 <= x.ndim <= 5:
        return Inexpressible(f"a rank-{x.ndim} tensor where cnndsl takes a batch of rank "
                             "1 to 4")
    return None


# -- activations -----------------------------------------------------------------------------

def activation(word: Callable[[dict], str | Inexpressible]):
    def read(arrays, attrs):
        x = arrays[0]
        if x.ndim > 4:
            return Inexpressible("a rank-5 tensor: an example of rank 1 to 4 only")
        act = word(attrs)
        if isinstance(act, Inexpressible):
            return act
        shape, data = as_is(x)
        return Written(f"input {shape} -> {act}", {"input": data}, back=lambda y: y[0])
    return read


def fixed(word: str):
    return activation(lambda attrs: word)


def _leaky(attrs):
    return f"leaky_relu={attrs.get('alpha', 0.01)!r}"


def _elu(attrs):
    alpha = attrs.get("alpha", 1.0)
    return "elu" if alpha == 1.0 else f"elu={alpha!r}"


def _celu(attrs):
    alpha = attrs.get("alpha", 1.0)
    return "celu" if alpha == 1.0 else f"celu={alpha!r}"


def _selu(attrs):
    alpha = attrs.get("alpha", 1.67326319217681884765625)
    gamma = attrs.get("gamma", 1.05070102214813232421875)
    if not (math.isclose(alpha, KERAS_SELU[0], rel_tol=1e-6)
            and math.isclose(gamma, KERAS_SELU[1], rel_tol=1e-6)):
        return Inexpressible(f"selu with alpha={alpha}, gamma={gamma}: the language's selu "
                             "has the standard constants only")
    return "selu"


def _hard_sigmoid(attrs):
    alpha, beta = attrs.get("alpha", 0.2), attrs.get("beta", 0.5)
    if math.isclose(alpha, 1 / 6, rel_tol=1e-6) and beta == 0.5:
        return "hard_sigmoid"
    return Inexpressible(f"hard sigmoid with alpha={alpha:g}, beta={beta:g}: the language's "
                         "is Keras 3's, relu6(x + 3) / 6 (alpha 1/6, beta 0.5)")


def _gelu(attrs):
    return "gelu=tanh" if attrs.get("approximate", "none") == "tanh" else "gelu"


def _softmax(word: str):
    def read(arrays, attrs):
        x = arrays[0]
        axis = attrs.get("axis", -1) % x.ndim
        if x.ndim > 4:
            return Inexpressible("a tensor of rank over 4")
        moved = np.moveaxis(x, axis, -1)[None]  # one example; the axis as its channels
        return Written(f"input {dims(moved.shape[1:])} -> {word}", {"input": moved},
                       back=lambda y: np.moveaxis(y[0], -1, axis))
    return read


def _clip(arrays, attrs):
    lo = arrays[1] if len(arrays) > 1 and arrays[1] is not None else None
    hi = arrays[2] if len(arrays) > 2 and arrays[2] is not None else None
    if hi is None and (lo is None or float(lo) == 0.0):
        word = "linear" if lo is None else "relu"  # no bounds: identity; min 0 alone: relu
        shape, data = as_is(arrays[0])
        return Written(f"input {shape} -> {word}", {"input": data}, back=lambda y: y[0])
    if lo is None or hi is None:
        return Inexpressible("clip with one bound other than min 0 (relu): the language's "
                             "clip=LO,HI takes both")
    lo, hi = float(lo), float(hi)
    if lo > hi:
        return Inexpressible(f"clip with min {lo:g} above max {hi:g} (ONNX gives max "
                             "everywhere); clip=LO,HI needs LO <= HI")
    x = arrays[0]
    shape, data = as_is(x)
    return Written(f"input {shape} -> clip={lo!r},{hi!r}", {"input": data},
                   back=lambda y: y[0])


def _prelu(arrays, attrs):
    x, slope = arrays
    if x.ndim < 2:
        return Inexpressible("a rank-1 tensor")
    rest = x.shape[1:]
    # The slope broadcasts against x; cnndsl's prelu has one slope per channel (the last
    # axis here), or one for everything.
    full = np.broadcast_to(slope, x.shape)
    if slope.size == 1:
        return Written(f"input {dims(rest)} -> prelu shared name=p", {"input": x},
                       {"p/alpha": slope.reshape(1).astype(np.float32)})
    per_channel = full[(0,) * (x.ndim - 1)]
    if np.array_equal(full, np.broadcast_to(per_channel, x.shape)):
        return Written(f"input {dims(rest)} -> prelu name=p", {"input": x},
                       {"p/alpha": per_channel.reshape((1,) * (len(rest) - 1) + (-1,))})
    return Inexpressible("a slope that varies along more than the channel axis")


# -- merges ----------------------------------------------------------------------------------

def merge(word: str | None):
    def read(arrays, attrs):
        if word is None:
            return Inexpressible("no `min` merge (add, mul, avg, max and concat)")
        rank = max(a.ndim for a in arrays)
        if rank > 4:
            return Inexpressible("a tensor of rank over 4")
        # Each tensor as one example; a lower-rank one gets ONNX's (NumPy's) leading size-1
        # axes by a reshape, and broadcasts where cnndsl's merges do: a size 1 against any.
        shapes = [(1,) * (rank - a.ndim) + a.shape for a in arrays]
        for sizes in zip(*shapes):
            if len(set(sizes) - {1}) > 1:
                return Inexpressible(f"shapes {[a.shape for a in arrays]} do not broadcast")
        names = [f"x{i}" for i in range(len(arrays))]
        lines, inputs = [], {}
        for n, a, shape in zip(names, arrays, shapes):
            if a.shape == shape:
                lines.append(f"input {dims(a.shape)} as {n}")
                inputs[n] = a[None]
            else:
                lines.append(f"input {dims(a.shape or (1,))} as {n}_in -> reshape "
                             f"{dims(shape)} as {n}")
                inputs[f"{n}_in"] = a.reshape((1, *(a.shape or (1,))))
        lines.append(f"{word} {{ {' | '.join('@' + n for n in names)} }}")
        return Written("\n".join(lines), inputs, back=lambda y: y[0])
    return read


def _concat(arrays, attrs):
    x = arrays[0]
    axis = attrs["axis"] % x.ndim
    if x.ndim > 4:
        return Inexpressible("a tensor of rank over 4")
    names = [f"x{i}" for i in range(len(arrays))]
    # Each tensor as one example, the axis moved last, where cnndsl concatenates.
    moved = [np.moveaxis(a, axis, -1)[None] for a in arrays]
    lines = [f"input {dims(m.shape[1:])} as {n}" for n, m in zip(names, moved)]
    lines.append(f"concat {{ {' | '.join('@' + n for n in names)} }}")
    return Written("\n".join(lines), dict(zip(names, moved)),
                   back=lambda y: np.moveaxis(y[0], -1, axis))


# -- convolution and pooling -----------------------------------------------------------------

@dataclass
class Window:
    """A conv or pool node's window: kernel, strides, dilations and its padding, written
    the language's way (`same`, nothing for valid, or `pad=B:A...`)."""

    kernel: tuple[int, ...]
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    padding: str


def window(attrs: dict, spatial: tuple[int, ...], kernel: tuple[int, ...]) -> Window:
    d = len(spatial)
    strides = tuple(attrs.get("strides", [1] * d))
    dilations = tuple(attrs.get("dilations", [1] * d))
    auto = attrs.get("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = []
        for n, k, s, dl in zip(spatial, kernel, strides, dilations):
            total = max((math.ceil(n / s) - 1) * s + (k - 1) * dl + 1 - n, 0)
            small, large = total // 2, total - total // 2
            pads.append((small, large) if auto == "SAME_UPPER" else (large, small))
    elif auto == "VALID":
        pads = [(0, 0)] * d
    else:
        flat = list(attrs.get("pads", [0] * 2 * d))
        pads = list(zip(flat[:d], flat[d:]))
    return Window(kernel, strides, dilations, padding_words(pads, spatial, kernel, strides,
                                                             dilations))


def padding_words(pads, spatial, kernel, strides, dilations) -> str:
    """`` (valid), `same` where Keras's same pads exactly so, else `pad=B:A x ...`."""
    if all(p == (0, 0) for p in pads):
        return ""
    keras_same = []
    for n, k, s, dl in zip(spatial, kernel, strides, dilations):
        total = max((math.ceil(n / s) - 1) * s + (k - 1) * dl + 1 - n, 0)
        keras_same.append((total // 2, total - total // 2))
    if list(pads) == keras_same:
        return " same"
    if all(b == a for b, a in pads):
        return " pad=" + "x".join(str(b) for b, _ in pads)
    return " pad=" + "x".join(f"{b}:{a}" for b, a in pads)


def _conv(arrays, attrs):
    x, w = arrays[0], arrays[1]
    bias = arrays[2] if len(arrays) > 2 else None
    if (bad := rank_ok(x)) or x.ndim < 3:
        return bad or Inexpressible("a convolution needs spatial axes")
    shape, data = channels_last(x)
    kernel = tuple(w.shape[2:])
    win = window(attrs, x.shape[2:], kernel)
    groups = attrs.get("group", 1)
    text = (f"input {shape} -> conv {dims(kernel)}/{dims(win.strides)} x{w.shape[0]}"
            f"{win.padding}")
    if any(dl != 1 for dl in win.dilations):
        text += f" dilation={dims(win.dilations)}"
    if groups != 1:
        text += f" groups={groups}"
    weights = {"c/kernel": np.moveaxis(w, (0, 1), (-1, -2))}
    if bias is None:
        text += " bias=false"
    else:
        weights["c/bias"] = bias
    return Written(text + " name=c", {"input": data}, weights, channels_first)


def _conv_transpose(arrays, attrs):
    x, w = arrays[0], arrays[1]
    bias = arrays[2] if len(arrays) > 2 else None
    if (bad := rank_ok(x)) or x.ndim < 3:
        return bad or Inexpressible("a convolution needs spatial axes")
    d = x.ndim - 2
    kernel = tuple(w.shape[2:])
    strides = tuple(attrs.get("strides", [1] * d))
    if attrs.get("group", 1) != 1:
        return Inexpressible("a grouped transposed convolution: deconv has no groups=")
    if any(dl != 1 for dl in attrs.get("dilations", [1] * d)):
        return Inexpressible("a dilated transposed convolution: deconv has no dilation=")
    if "output_shape" in attrs:
        return Inexpressible("output_shape (ONNX works out the padding from it): write the "
                             "padding as pad= and outpad= instead")
    auto = attrs.get("auto_pad", "NOTSET")
    outpad = tuple(attrs.get("output_padding", [0] * d))
    flat = list(attrs.get("pads", [0] * 2 * d))
    pads = list(zip(flat[:d], flat[d:]))
    if auto == "SAME_UPPER" and not any(outpad):
        padding = " same"  # n·S outputs, the extra cut at the end as Keras's `same`
    elif auto != "NOTSET" and auto != "VALID":
        return Inexpressible(f"auto_pad {auto} on a transposed convolution")
    elif not any(p for pair in pads for p in pair):
        padding = ""
    elif all(b == a for b, a in pads):
        padding = " pad=" + "x".join(str(b) for b, _ in pads)
    else:
        padding = " pad=" + "x".join(f"{b}:{a}" for b, a in pads)
    if any(outpad):
        padding += " outpad=" + dims(outpad)
    shape, data = channels_last(x)
    text = f"input {shape} -> deconv {dims(kernel)}/{dims(strides)} x{w.shape[1]}{padding}"
    weights = {"d/kernel": np.moveaxis(w, (0, 1), (-1, -2))}
    if bias is None:
        text += " bias=false"
    else:
        weights["d/bias"] = bias
    return Written(text + " name=d", {"input": data}, weights, channels_first)


def _pool(word: str):
    def read(arrays, attrs):
        x = arrays[0]
        if (bad := rank_ok(x)) or x.ndim < 3:
            return bad or Inexpressible("pooling needs spatial axes")
        kernel = tuple(attrs["kernel_shape"])
        win = window(attrs, x.shape[2:], kernel)
        if any(dl != 1 for dl in win.dilations):
            return Inexpressible("dilated pooling: the pools have no dilation=")
        if attrs.get("storage_order", 0):
            return Inexpressible("storage_order (of the indices output)")
        options = win.padding
        if word == "avgpool" and attrs.get("count_include_pad", 0):
            if options == " same":  # Keras's same leaves the padding out of the average
                options = " pad=" + options_pad(win, x.shape[2:])
            if options:
                options += " include_pad"
        if attrs.get("ceil_mode", 0):
            options += " ceil"
        shape, data = channels_last(x)
        return Written(f"input {shape} -> {word} {dims(kernel)}/{dims(win.strides)}{options}",
                       {"input": data}, back=channels_first)
    return read


def options_pad(win: Window, spatial) -> str:
    pads = []
    for n, k, s in zip(spatial, win.kernel, win.strides):
        total = max((math.ceil(n / s) - 1) * s + k - n, 0)
        pads.append(f"{total // 2}:{total - total // 2}")
    return "x".join(pads)


def _global(word: str):
    def read(arrays, attrs):
        x = arrays[0]
        if (bad := rank_ok(x)) or x.ndim < 3:
            return bad or Inexpressible("global pooling needs spatial axes")
        shape, data = channels_last(x)
        return Written(f"input {shape} -> {word} keepdims", {"input": data},
                       back=channels_first)
    return read


# -- normalisation ---------------------------------------------------------------------------

def _batchnorm(arrays, attrs):
    x, scale, bias, mean, var = arrays
    if attrs.get("training_mode", 0):
        return Inexpressible("batch norm in training mode (statistics of the batch)")
    if (bad := rank_ok(x)):
        return bad
    shape, data = channels_last(x) if x.ndim > 2 else (dims(x.shape[1:]), x)
    eps = attrs.get("epsilon", 1e-5)
    weights = {"b/gamma": scale, "b/beta": bias, "b/moving_mean": mean,
               "b/moving_variance": var}
    return Written(f"input {shape} -> batchnorm eps={eps!r} name=b", {"input": data}, weights,
                   back=channels_first if x.ndim > 2 else (lambda y: y))


def _instancenorm(arrays, attrs):
    x, scale, bias = arrays
    if (bad := rank_ok(x)) or x.ndim < 3:
        return bad or Inexpressible("instance norm needs spatial axes")
    shape, data = channels_last(x)
    eps = attrs.get("epsilon", 1e-5)
    return Written(f"input {shape} -> instancenorm eps={eps!r} name=n", {"input": data},
                   {"n/gamma": scale, "n/beta": bias}, channels_first)


def _groupnorm(arrays, attrs):
    x, scale, bias = arrays
    if (bad := rank_ok(x)) or x.ndim < 3:
        return bad or Inexpressible("group norm needs spatial axes")
    groups = attrs["num_groups"]
    if scale.shape != (x.shape[1],):
        return Inexpressible("scale and bias per group (opset 18): the language's are per "
                             "channel (opset 21's)")
    shape, data = channels_last(x)
    eps = attrs.get("epsilon", 1e-5)
    return Written(f"input {shape} -> groupnorm {groups} eps={eps!r} name=n", {"input": data},
                   {"n/gamma": scale, "n/beta": bias}, channels_first)


def _lrn(arrays, attrs):
    x = arrays[0]
    if x.ndim != 4:
        return Inexpressible("local response norm of a tensor that is not an image batch")
    shape, data = channels_last(x)
    text = (f"input {shape} -> lrn {attrs['size']} alpha={attrs.get('alpha', 1e-4)!r} "
            f"beta={attrs.get('beta', 0.75)!r} k={attrs.get('bias', 1.0)!r}")
    return Written(text, {"input": data}, back=channels_first)


def _layernorm(arrays, attrs):
    x, scale = arrays[0], arrays[1]
    bias = arrays[2] if len(arrays) > 2 else None
    axis = attrs.get("axis", -1) % x.ndim
    if x.ndim > 4:
        return Inexpressible(f"a rank-{x.ndim} tensor")
    eps = attrs.get("epsilon", 1e-5)
    # The tensor as one example; the axes normalised together, from `axis` to the last,
    # made one channel axis by a reshape (the language's layernorm normalises the
    # channels), and the shape given back after.
    kept, merged = x.shape[:axis], math.prod(x.shape[axis:])
    weights = {"n/gamma": scale.reshape(-1)}
    steps = [f"input {dims(x.shape)}"]
    if axis != x.ndim - 1:
        steps.append(f"reshape {dims((*kept, merged))}")
    steps.append(f"layernorm eps={eps!r} name=n")
    if bias is None:
        steps[-1] += " center=false"
    else:
        weights["n/beta"] = bias.reshape(-1)
    if axis != x.ndim - 1:
        steps.append(f"reshape {dims(x.shape)}")
    return Written(" -> ".join(steps), {"input": x[None]}, weights, back=lambda y: y[0])


# -- reshaping, resizing, padding, dense -----------------------------------------------------

def _flatten(arrays, attrs):
    x = arrays[0]
    axis = attrs.get("axis", 1) % x.ndim if x.ndim else 0
    if axis == 1:  # each example flattened, row-major as ONNX: the layout kept as written
        return Written(f"input {dims(x.shape[1:])} -> flatten", {"input": x})
    if x.ndim > 4:
        return Inexpressible("a tensor of rank over 4")
    # Any other axis: the tensor as one example, reshaped to the two sizes ONNX makes.
    rows, cols = math.prod(x.shape[:axis]), math.prod(x.shape[axis:])
    return Written(f"input {dims(x.shape)} -> reshape {rows}x{cols}", {"input": x[None]},
                   back=lambda y: y[0])


def _gemm(arrays, attrs):
    a, b = arrays[0], arrays[1]
    c = arrays[2] if len(arrays) > 2 else None
    if attrs.get("transA", 0):
        return Inexpressible("transA: the data transposed across the batch")
    kernel = b.T if attrs.get("transB", 0) else b
    kernel = (attrs.get("alpha", 1.0) * kernel).astype(np.float32)
    units = kernel.shape[1]
    weights = {"f/kernel": kernel}
    text = f"input {a.shape[1]} -> dense {units}"
    if c is None:
        text += " bias=false"
    elif c.ndim == 2 and c.shape[0] != 1:
        return Inexpressible("a bias that differs per example of the batch")
    else:
        weights["f/bias"] = np.broadcast_to(attrs.get("beta", 1.0) * c.reshape(-1),
                                            (units,)).astype(np.float32)
    return Written(text + " name=f", {"input": a}, weights)


def _pad(arrays, attrs):
    x, pads = arrays[0], arrays[1]
    value = arrays[2] if len(arrays) > 2 and arrays[2] is not None else None
    axes = arrays[3] if len(arrays) > 3 and arrays[3] is not None else range(x.ndim)
    mode = attrs.get("mode", "constant")
    axes = [int(a) % x.ndim for a in axes]
    n = len(axes)
    full = {a: (int(pads[i]), int(pads[i + n])) for i, a in enumerate(axes)}
    if any(full.get(a, (0, 0)) != (0, 0) for a in (0, 1)):
        return Inexpressible("padding of the batch or channel axis")
    if any(p < 0 for pair in full.values() for p in pair):
        return Inexpressible("negative padding (cropping): write `crop`")
    if x.ndim < 3:
        return Inexpressible("padding a tensor without spatial axes")
    spatial = [full.get(a, (0, 0)) for a in range(2, x.ndim)]
    size = "x".join(f"{b}:{e}" for b, e in spatial)
    if mode == "constant":
        if value is not None and float(value) != 0.0:
            return Inexpressible(f"padding with {float(value):g}: the language pads with "
                                 "zeros, or reflects or repeats the edge")
        step = f"zeropad {size}"
    elif mode in ("reflect", "edge"):
        step = f"pad {size} {'reflect' if mode == 'reflect' else 'replicate'}"
    else:
        return Inexpressible(f"{mode} padding: the language pads with zeros, reflects or "
                             "repeats the edge")
    shape, data = channels_last(x)
    return Written(f"input {shape} -> {step}", {"input": data}, back=channels_first)


def _dropout(arrays, attrs):
    x = arrays[0]
    training = arrays[2] if len(arrays) > 2 and arrays[2] is not None else None
    if training is not None and bool(training):
        return Inexpressible("dropout in training mode: cnndsl runs inference")
    ratio = arrays[1] if len(arrays) > 1 and arrays[1] is not None else None
    rate = float(ratio) if ratio is not None else attrs.get("ratio", 0.5)
    shape, data = as_is(x)
    return Written(f"input {shape} -> dropout {rate!r}", {"input": data}, back=lambda y: y[0])


# Nearest resizing by a whole factor f copies each pixel f times (output i takes input
# i // f) exactly when the coordinate transform and the rounding agree: with half-pixel
# centres output i = q·f + r maps to q + (r + 0.5)/f - 0.5, within half a pixel of q and
# never on a tie, so both round-to-nearest modes give q (floor and ceil do not); with
# asymmetric coordinates it maps to q + r/f, which floor always takes to q and
# round-prefer-floor only while r/f <= 0.5 for every r, that is f <= 2.
NEAREST_EXACT = {("half_pixel", "round_prefer_floor"), ("half_pixel", "round_prefer_ceil"),
                 ("pytorch_half_pixel", "round_prefer_floor"),
                 ("pytorch_half_pixel", "round_prefer_ceil"),
                 ("half_pixel_symmetric", "round_prefer_floor"),
                 ("half_pixel_symmetric", "round_prefer_ceil"), ("asymmetric", "floor")}


def _resize(arrays, attrs, old: bool = False):
    x = arrays[0]
    if x.ndim < 3:
        return Inexpressible("a resize of a tensor without spatial axes")
    factors = resize_factors(x, arrays, attrs, old)
    if isinstance(factors, Inexpressible):
        return factors
    if any(f != int(f) or f < 1 for f in factors[2:]) or any(f != 1 for f in factors[:2]):
        return Inexpressible(f"scales {[float(f) for f in factors]}: the language upsamples "
                             "the spatial axes by whole factors")
    spatial = [int(f) for f in factors[2:]]
    mode = attrs.get("mode", "nearest")
    transform = "asymmetric" if old else attrs.get("coordinate_transformation_mode",
                                                    "half_pixel")
    shape, data = channels_last(x)
    size = dims(spatial)
    if mode == "nearest":
        rounding = "floor" if old else attrs.get("nearest_mode", "round_prefer_floor")
        exact = (transform, rounding) in NEAREST_EXACT or (
            (transform, rounding) == ("asymmetric", "round_prefer_floor") and max(spatial) <= 2)
        if not exact:
            return Inexpressible(f"nearest resize with {transform} coordinates and {rounding} "
                                 "rounding: not the copy of each pixel that upsample makes")
        return Written(f"input {shape} -> upsample {size}", {"input": data},
                       back=channels_first)
    if mode == "linear" and x.ndim == 4 and not attrs.get("antialias", 0) and transform in (
            "half_pixel", "pytorch_half_pixel", "half_pixel_symmetric"):
        return Written(f"input {shape} -> upsample {size} bilinear", {"input": data},
                       back=channels_first)
    return Inexpressible(f"{mode} resize with {transform} coordinates: the language's "
                         "resizes are nearest, and bilinear with half-pixel centres in 2-D")


def resize_factors(x, arrays, attrs, old: bool):
    """The scale per axis of x, from `scales` or from `sizes` (with `axes` and the aspect
    ratio policy), as ONNX's Resize works them out."""
    if old:
        return [float(f) for f in arrays[1]]
    if attrs.get("coordinate_transformation_mode") == "tf_crop_and_resize":
        return Inexpressible("tf_crop_and_resize: a crop of a region of interest, resized")
    axes = [int(a) % x.ndim for a in attrs.get("axes", range(x.ndim))]
    scales = arrays[2] if len(arrays) > 2 and arrays[2] is not None and arrays[2].size else None
    sizes = arrays[3] if len(arrays) > 3 and arrays[3] is not None else None
    out = [1.0] * x.ndim
    if scales is not None:
        for a, f in zip(axes, scales):
            out[a] = float(f)
        return out
    ratios = [int(n) / x.shape[a] for a, n in zip(axes, sizes)]
    policy = attrs.get("keep_aspect_ratio_policy", "stretch")
    if policy != "stretch":
        scale = min(ratios) if policy == "not_larger" else max(ratios)
        ratios = [scale] * len(axes)
    for a, f in zip(axes, ratios):
        out[a] = f
    return out


def _depth_to_space(arrays, attrs):
    x = arrays[0]
    if attrs.get("mode", "DCR") != "CRD":
        return Inexpressible("DepthToSpace in DCR order: pixel_shuffle is PyTorch's (CRD)")
    shape, data = channels_last(x)
    return Written(f"input {shape} -> pixel_shuffle {attrs['blocksize']}", {"input": data},
                   back=channels_first)


def _space_to_depth(arrays, attrs):
    x = arrays[0]
    mode = attrs.get("mode", "DCR")
    if mode != "CRD" and x.shape[1] != 1:
        return Inexpressible("SpaceToDepth in DCR order on several channels: "
                             "pixel_unshuffle is PyTorch's order (CRD)")
    shape, data = channels_last(x)
    return Written(f"input {shape} -> pixel_unshuffle {attrs['blocksize']}", {"input": data},
                   back=channels_first)


OPERATORS: dict[str, Callable] = {
    "Relu": fixed("relu"), "Sigmoid": fixed("sigmoid"), "Tanh": fixed("tanh"),
    "Softplus": fixed("softplus"), "Softsign": fixed("softsign"),
    "Mish": fixed("mish"), "HardSwish": fixed("hard_swish"),
    "LeakyRelu": activation(_leaky), "Elu": activation(_elu),
    "Celu": activation(_celu), "Selu": activation(_selu),
    "HardSigmoid": activation(_hard_sigmoid), "Gelu": activation(_gelu),
    "Softmax": _softmax("softmax"), "LogSoftmax": _softmax("log_softmax"),
    "Clip": _clip, "PRelu": _prelu,
    "Add": merge("add"), "Sum": merge("add"), "Mul": merge("mul"), "Mean": merge("avg"),
    "Max": merge("max"), "Min": merge(None), "Concat": _concat,
    "Conv": _conv, "ConvTranspose": _conv_transpose,
    "MaxPool": _pool("maxpool"), "AveragePool": _pool("avgpool"),
    "GlobalAveragePool": _global("gap"), "GlobalMaxPool": _global("gmp"),
    "BatchNormalization": _batchnorm, "InstanceNormalization": _instancenorm,
    "GroupNormalization": _groupnorm, "LRN": _lrn, "LayerNormalization": _layernorm,
    "Flatten": _flatten, "Gemm": _gemm, "Pad": _pad, "Dropout": _dropout,
    "Resize": _resize, "Upsample": lambda a, t: _resize(a, t, old=True),
    "DepthToSpace": _depth_to_space, "SpaceToDepth": _space_to_depth,
    "Split": lambda arrays, attrs: Inexpressible(MULTIPLE_OUTPUTS["Split"]),
}


if __name__ == "__main__":
    import warnings

    warnings.simplefilter("ignore")  # ONNX's case generators warn about their own casts
    print(table())

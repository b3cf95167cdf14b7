"""One method per layer kind: the PyTorch modules a node owns, their weights in PyTorch's
layouts, and the operations its forward applies (`ops`), channels first.

Each layer computes exactly the spec's function, as the NumPy interpreter does: Keras's
`same` pads the odd extra position after, so where that padding is not symmetric an
`F.pad` comes first (and a plain `padding=` otherwise); `flatten` is in channels-last
order unless `flatten chw`; a dense layer on a tensor of rank above 1 acts on the
channels; batch norm's momentum is PyTorch's (1 - Keras's); an average that counts no
padding divides by the positions inside the input.

Imports: `graph`, `layers`, `backends.onnx.geometry` (the kernels' layouts, shared with
the ONNX backend, whose layouts are PyTorch's), `support.escaping`; torch only when a
built module runs.
The ways a method adds to its step are `writer.StepWriter`'s.
"""

from __future__ import annotations

import math

from ...layers.padding import explicit_pads, pool_pads
from ..onnx.geometry import deconv_pads, depthwise_kernel, onnx_kernel
from .functions import (
    activation_op,
    joined,
    nested,
    pad_op,
    slices_op,
    torch_max,
    torch_min,
    window_mean,
)
from .ops import Fn, ModuleSpec, one_size, torch_functions
from .writer import StepWriter

INSTALL = "pip install 'cnndsl[torch]'"
KERAS_EPSILON = 1e-7  # keras.backend.epsilon(): Normalization's floor of a deviation


class TorchSteps(StepWriter):
    """One method per layer kind (`node.kind`), each adding to the node's `Step`."""

    # -- convolutions ----------------------------------------------------------------------
    def conv(self, node, layer, step):
        self._window(node, layer, step, layer.filters, layer.groups,
                     onnx_kernel(self.w(node, "kernel")))

    def dwconv(self, node, layer, step):
        channels = node.in_shapes[0][-1]
        self._window(node, layer, step, channels * layer.multiplier, channels,
                     depthwise_kernel(self.w(node, "depthwise_kernel")))

    def _window(self, node, layer, step, filters: int, groups: int, kernel) -> None:
        """A convolution (`groups` of them: one per channel for a depthwise one) with its
        kernel in PyTorch's layout, Keras's padding, the bias and a fused activation."""
        padding = self.pad_first(step, node, explicit_pads(layer, node.in_shapes[0][:-1]))
        spec = ModuleSpec(f"Conv{self.rank(node)}d",
                          (node.in_shapes[0][-1], filters, one_size(layer.kernel)),
                          _options(stride=one_size(layer.stride), padding=one_size(padding),
                                   dilation=one_size(layer.dilation), groups=groups,
                                   bias=layer.bias))
        state = {"weight": kernel}
        if layer.bias:
            state["bias"] = self.w(node, "bias")
        self.module(step, node, spec, **state)
        self.fused(step, layer.activation)

    def sepconv(self, node, layer, step):
        channels = node.in_shapes[0][-1]
        mid = channels * layer.multiplier
        padding = self.pad_first(step, node, explicit_pads(layer, node.in_shapes[0][:-1]))
        rank = self.rank(node)
        depthwise = ModuleSpec(f"Conv{rank}d", (channels, mid, one_size(layer.kernel)),
                               _options(stride=one_size(layer.stride), padding=one_size(padding),
                                        dilation=one_size(layer.dilation), groups=channels,
                                        bias=False))
        self.module(step, node, depthwise, "depthwise",
                    weight=depthwise_kernel(self.w(node, "depthwise_kernel")))
        pointwise = ModuleSpec(f"Conv{rank}d", (mid, layer.filters, 1),
                               _options(bias=layer.bias))
        state = {"weight": onnx_kernel(self.w(node, "pointwise_kernel"))}
        if layer.bias:
            state["bias"] = self.w(node, "bias")
        self.module(step, node, pointwise, "pointwise", **state)
        self.fused(step, layer.activation)

    # -- dense, normalisation ----------------------------------------------------------------
    def dense(self, node, layer, step):
        spec = ModuleSpec("Linear", (node.in_shapes[0][-1], layer.units),
                          _options(bias=layer.bias))
        state = {"weight": self.w(node, "kernel").T}
        if layer.bias:
            state["bias"] = self.w(node, "bias")
        self.on_channels(step, node, spec, state)
        self.fused(step, layer.activation)

    def batchnorm(self, node, layer, step):
        """`nn.BatchNormNd`; with only one of `scale` and `center` (Keras's Inception),
        one without its own affine, then the layer's own `gamma` or `beta`."""
        channels = node.in_shapes[0][-1]
        rank = max(self.rank(node), 1)
        both = layer.scale and layer.center
        spec = ModuleSpec(f"BatchNorm{rank}d", (channels,),
                          _options(eps=float(layer.eps), momentum=_momentum(layer.momentum),
                                   affine=both))
        state = {"running_mean": self.w(node, "moving_mean"),
                 "running_var": self.w(node, "moving_variance")}
        if both:
            state["weight"], state["bias"] = self.w(node, "gamma"), self.w(node, "beta")
        self.module(step, node, spec, **state)
        if layer.scale and not both:
            self.per_channel(step, node, "{x} * {t1}", lambda x, t: x * t, "gamma")
        if layer.center and not both:
            self.per_channel(step, node, "{x} + {t1}", lambda x, t: x + t, "beta")

    def rescale(self, node, layer, step):
        scale, offset = float(layer.scale), float(layer.offset)
        text = f"{{x}} * {scale!r}" + (f" + {offset!r}" if offset else "")
        step.ops.append(Fn(text, lambda x: x * scale + offset if offset else x * scale))

    # -- activations, dropout --------------------------------------------------------------
    def activation(self, node, layer, step):
        step.ops.append(activation_op(layer.function))

    def dropout(self, node, layer, step):
        self.module(step, node, ModuleSpec("Dropout", (float(layer.rate),)))

    # -- pooling ---------------------------------------------------------------------------
    def maxpool(self, node, layer, step):
        """`nn.MaxPoolNd` with its own `padding` and `ceil_mode` where PyTorch can say the
        padding (alike on both sides, at most half the window); else padded first with
        minus infinity, never the maximum."""
        native = self._pool_padding(node, layer)
        if native is not None:
            self.module(step, node, ModuleSpec(f"MaxPool{self.rank(node)}d", (
                one_size(layer.kernel),), {**_pool_stride(layer), **native}))
            return
        pads, _ = pool_pads(layer, node.in_shapes[0][:-1])
        step.ops.append(pad_op(pads, -math.inf))
        self.module(step, node, ModuleSpec(f"MaxPool{self.rank(node)}d", (
            one_size(layer.kernel),), _pool_stride(layer)))

    def avgpool(self, node, layer, step):
        """`nn.AvgPoolNd`, counting the padding or not, where PyTorch can say the padding;
        else the mean over what the spec counts (`window_mean`)."""
        native = self._pool_padding(node, layer)
        rank, kernel = self.rank(node), one_size(layer.kernel)
        if native is not None:
            if native.get("padding"):
                native.update(_options(count_include_pad=layer.include_pad))
            self.module(step, node, ModuleSpec(f"AvgPool{rank}d", (kernel,),
                                               {**_pool_stride(layer), **native}))
            return
        # The sum over the window divided by the positions inside what counts: the input
        # and its explicit padding (`include_pad`), or the input alone; never the overhang
        # a `ceil` window adds past the padded input.
        sizes = node.in_shapes[0][:-1]
        pads, include = pool_pads(layer, sizes)
        counted = explicit_pads(layer, sizes) if include else ((0, 0),) * rank
        step.ops.append(window_mean(pads, counted, layer.kernel, layer.stride))

    def _pool_padding(self, node, layer) -> dict | None:
        """A pooling's `padding` and `ceil_mode` for PyTorch's own module, whose rounding
        up drops a last window that would start in the padding, as the spec's does; None
        where its padding differs before and after, passes half the window, or leaves the
        padded input shorter than the window (a `ceil` window overhanging it all)."""
        sizes = node.in_shapes[0][:-1]
        pads = explicit_pads(layer, sizes)
        # PyTorch's 3-D average also wants the input, unpadded, at least the window.
        least = 0 if node.kind == "avgpool" and len(sizes) == 3 else 2
        if any(b != a or 2 * b > k or n + least * b < k
               for (b, a), k, n in zip(pads, layer.kernel, sizes)):
            return None
        return _options(padding=one_size(tuple(b for b, _ in pads)), ceil_mode=layer.ceil)

    def gap(self, node, layer, step):
        self._global(node, layer, step, "mean")

    def gmp(self, node, layer, step):
        self._global(node, layer, step, "amax")

    def _global(self, node, layer, step, how: str):
        dims = tuple(range(2, self.rank(node) + 2))
        keep = bool(layer.keepdims)
        step.ops.append(Fn(f"{{x}}.{how}(dim={dims}, keepdim={keep})",
                           lambda x: getattr(x, how)(dim=dims, keepdim=keep)))

    # -- shapes ----------------------------------------------------------------------------
    def flatten(self, node, layer, step):
        if getattr(layer, "chw", False) or not self.rank(node):
            step.ops.append(Fn("{x}.flatten(1)", lambda x: x.flatten(1)))
            return
        step.ops.append(Fn("{x}.movedim(1, -1).flatten(1)",
                           lambda x: x.movedim(1, -1).flatten(1)))

    def reshape(self, node, layer, step):
        shape = tuple(layer.shape)
        back = len(shape) > 1
        text = f"{{x}}.movedim(1, -1).reshape(-1, {', '.join(map(str, shape))})" if \
            self.rank(node) else f"{{x}}.reshape(-1, {', '.join(map(str, shape))})"
        text += ".movedim(-1, 1)" if back else ""

        def call(x):
            x = x.movedim(1, -1) if x.dim() > 2 else x
            x = x.reshape(-1, *shape)
            return x.movedim(-1, 1) if back else x
        step.ops.append(Fn(text, call))

    def zeropad(self, node, layer, step):
        step.ops.append(pad_op(layer.pads))

    def crop(self, node, layer, step):
        sizes = node.in_shapes[0][:-1]
        step.ops.append(slices_op(tuple(slice(b, n - a)
                                        for n, (b, a) in zip(sizes, layer.pads))))

    def pad(self, node, layer, step):
        zeros = layer.mode == "zeros"  # else reflect, replicate: PyTorch's own words
        step.ops.append(pad_op(layer.pads) if zeros else pad_op(layer.pads, mode=layer.mode))

    def upsample(self, node, layer, step):
        factors = tuple(float(f) for f in layer.factors)
        mode = ("linear", "bilinear", "trilinear")[len(factors) - 1] if layer.bilinear \
            else "nearest"
        options = {"scale_factor": one_size(factors), "mode": mode}
        if layer.bilinear:
            options["align_corners"] = False  # half-pixel centres, as Keras's
        self.module(step, node, ModuleSpec("Upsample", (), options))

    def deconv(self, node, layer, step):
        """`nn.ConvTransposeNd`: the output is the full transposed convolution less `cut`
        before and after, plus `extra` positions (output padding) at the end. PyTorch cuts
        alike on both sides, so the module cuts the smaller of the two and adds what output
        padding reaches the end wanted; a slice takes the rest where they differ."""
        channels = node.in_shapes[0][-1]
        sizes = node.in_shapes[0][:-1]
        if layer.pads:  # PyTorch's own padding and output_padding
            cut, extra = list(layer.pads), list(layer.outpad or (0,) * len(sizes))
        else:
            flat, extra = deconv_pads(sizes, layer.kernel, layer.stride, node.shape[:-1],
                                      layer.padding)
            cut = list(zip(flat[:len(sizes)], flat[len(sizes):]))
        both = tuple(min(b, a) for b, a in cut)
        padded = tuple(max(0, e - a + p) for (_, a), e, p in zip(cut, extra, both))
        spec = ModuleSpec(f"ConvTranspose{self.rank(node)}d",
                          (channels, layer.filters, one_size(layer.kernel)),
                          _options(stride=one_size(layer.stride), padding=one_size(both),
                                   output_padding=one_size(padded), bias=layer.bias))
        state = {"weight": onnx_kernel(self.w(node, "kernel"))}
        if layer.bias:
            state["bias"] = self.w(node, "bias")
        self.module(step, node, spec, **state)
        if any(b != a for b, a in cut):  # the rest of the cut, from the module's output
            full = tuple((n - 1) * s + k for n, s, k in zip(sizes, layer.stride, layer.kernel))
            step.ops.append(slices_op(tuple(slice(b - p, f - a + e - p) for f, (b, a), e, p
                                            in zip(full, cut, extra, both))))
        self.fused(step, layer.activation)

    def layernorm(self, node, layer, step):
        """`nn.LayerNorm` over the channels; `center` without `scale`, which it cannot
        say, is one without affine and the layer's own `beta` added."""
        channels = node.in_shapes[0][-1]
        alone = layer.center and not layer.scale
        spec = ModuleSpec("LayerNorm", (channels,), _options(
            eps=float(layer.eps), elementwise_affine=layer.scale,
            bias=layer.center and not alone))
        state = {"weight": self.w(node, "gamma")} if layer.scale else {}
        if layer.center and not alone:
            state["bias"] = self.w(node, "beta")
        self.on_channels(step, node, spec, state, shift="beta" if alone else "")

    def groupnorm(self, node, layer, step):
        self._groups(node, layer, step, layer.groups)

    def instancenorm(self, node, layer, step):
        self._groups(node, layer, step, node.in_shapes[0][-1])

    def _groups(self, node, layer, step, groups: int):
        channels = node.in_shapes[0][-1]
        spec = ModuleSpec("GroupNorm", (groups, channels),
                          _options(eps=float(layer.eps), affine=layer.affine))
        state = {"weight": self.w(node, "gamma"), "bias": self.w(node, "beta")} \
            if layer.affine else {}
        self.module(step, node, spec, **state)

    def lrn(self, node, layer, step):
        self.module(step, node, ModuleSpec("LocalResponseNorm", (layer.size,), _options(
            alpha=float(layer.alpha), beta=float(layer.beta), k=float(layer.k))))

    def prelu(self, node, layer, step):
        channels = 1 if layer.shared else node.in_shapes[0][-1]
        self.module(step, node, ModuleSpec("PReLU", (channels,) if channels > 1 else ()),
                    weight=self.w(node, "alpha").reshape(-1))

    def normalize(self, node, layer, step):
        """Keras's `(x - mean) / max(sqrt(variance), epsilon)`: adapted, the statistics
        are buffers (and the count Keras keeps); given, constants in the text."""
        if layer.mean is None:
            self.per_channel(step, node, "{x} - {t1}", lambda x, m: x - m, "mean", buffer=True)
            self.per_channel(step, node, f"{{x}} / {{t1}}.sqrt().clamp(min={KERAS_EPSILON!r})",
                             lambda x, v: x / v.sqrt().clamp(min=KERAS_EPSILON), "variance",
                             buffer=True)
            self.tensor(step, node, "count", buffer=True)
            return
        mean = [float(m) for m in layer.mean]
        deviation = [max(math.sqrt(float(v)), KERAS_EPSILON) for v in layer.variance]
        rank = self.rank(node)
        view = (1, -1, *(1,) * rank)

        def per_channel(values):
            if len(values) == 1:
                return repr(values[0]), lambda x: values[0]
            return (f"torch.tensor({values!r}).view{view}",
                    lambda x: torch_functions()[0].tensor(values, dtype=x.dtype).view(view))
        m_text, m = per_channel(mean)
        d_text, d = per_channel(deviation)
        step.ops.append(Fn(f"({{x}} - {m_text}) / {d_text}", lambda x: (x - m(x)) / d(x)))

    def pixel_shuffle(self, node, layer, step):
        self.module(step, node, ModuleSpec("PixelShuffle", (layer.factor,)))

    def pixel_unshuffle(self, node, layer, step):
        self.module(step, node, ModuleSpec("PixelUnshuffle", (layer.factor,)))

    def channel_shuffle(self, node, layer, step):
        """(N, G, C/G, ...) transposed to (N, C/G, G, ...): nn.ChannelShuffle's order, for
        a vector too (which nn.ChannelShuffle refuses)."""
        g, c = layer.groups, node.in_shapes[0][-1]
        step.ops.append(Fn(f"{{x}}.unflatten(1, ({g}, {c // g})).transpose(1, 2).flatten(1, 2)",
                           lambda x: x.unflatten(1, (g, c // g)).transpose(1, 2).flatten(1, 2)))

    def part(self, node, layer, step):
        start, stop = layer.start, layer.start + layer.size
        step.ops.append(Fn(f"{{x}}[:, {start}:{stop}]", lambda x: x[:, start:stop]))

    def split(self, node, layer, step):
        self.concat(node, layer, step)

    # -- merges ----------------------------------------------------------------------------
    def add(self, node, layer, step):
        step.ops.append(joined(len(node.inputs), " + ", lambda a, b: a + b))

    def mul(self, node, layer, step):
        step.ops.append(joined(len(node.inputs), " * ", lambda a, b: a * b))

    def avg(self, node, layer, step):
        n = len(node.inputs)
        total = joined(n, " + ", lambda a, b: a + b)
        step.ops.append(Fn(f"({total.template}) / {n}" if n > 1 else "{x}",
                           lambda *xs: total.call(*xs) / len(xs)))

    def max(self, node, layer, step):
        step.ops.append(nested(len(node.inputs), "torch.maximum", torch_max))

    def min(self, node, layer, step):
        step.ops.append(nested(len(node.inputs), "torch.minimum", torch_min))

    def concat(self, node, layer, step):
        step.ops.append(Fn("torch.cat({xs}, dim=1)",
                           lambda *xs: torch_functions()[0].cat(xs, dim=1)))


def _pool_stride(layer) -> dict:
    """A pooling's stride, unless it is its kernel: PyTorch's default (not 1)."""
    return {} if layer.stride == layer.kernel else {"stride": one_size(layer.stride)}


def _options(**given) -> dict:
    """Keyword arguments without PyTorch's defaults, so the source reads short."""
    defaults = {"stride": 1, "padding": 0, "dilation": 1, "groups": 1, "bias": True,
                "eps": 1e-5, "momentum": 0.1, "affine": True, "output_padding": 0,
                "elementwise_affine": True, "alpha": 1e-4, "beta": 0.75, "k": 1.0,
                "ceil_mode": False, "count_include_pad": True}
    return {k: v for k, v in given.items() if v != defaults.get(k, object())}


def _momentum(keras: float) -> float:
    """PyTorch's momentum weighs the new batch (Keras's, the old average): 1 - Keras's."""
    return float(round(1.0 - float(keras), 12))



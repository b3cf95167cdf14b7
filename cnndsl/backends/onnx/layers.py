"""One method per layer kind: the ONNX operators that compute the node.

Each method takes the node and its layer, adds its operators to the graph and returns
(the name of its output, the layout it is in). Convolutions and windowed poolings
compute channels-first, as ONNX defines them; flatten, reshape, dense and layernorm
channels-last, as cnndsl defines them; everything else (activations, batch norm,
merges, padding, cropping, upsampling, global pooling) in the layout its input is
already in, so it never adds a transpose.

Padding is explicit: Keras's `same` pads the extra position at the end, as the NumPy
backend does; a transposed convolution gets `output_padding` where Keras's output is
longer than ONNX's formula gives (see `geometry`).
"""

from __future__ import annotations

import numpy as np

from ...errors import CnnError
from ...graph.ir import Node
from ...layers.padding import explicit_pads, pool_pads
from . import norm_layers
from .activations import activate
from .emitter import FIRST, LAST, Emitter, channel_axis, in_layout, spatial_axes
from .geometry import conv_pads, deconv_pads, depthwise_kernel, onnx_kernel
from .rearrange import RearrangeOps

KERAS_EPSILON = 1e-7  # keras.backend.epsilon(): Normalization's floor of a deviation
NOISE = "cnndsl noise shape: "  # a Dropout's doc_string, `dropout 0.2 noise=1x1x1`


class OnnxLayers(RearrangeOps, Emitter):
    """The ONNX graph of a cnndsl network, built one IR node at a time."""

    def __init__(self, graph, weights, opset: int) -> None:
        super().__init__(graph, opset)
        self.weights = weights

    def emit(self, node: Node) -> None:
        method = getattr(self, node.kind, None)
        if method is None:
            raise CnnError(f"the ONNX backend cannot write `{node.kind}`", node.span,
                           "`cnndsl run` runs it with NumPy, and `cnndsl compile` to "
                           ".keras builds it in Keras")
        name, layout = method(node, node.layer)
        self.record(node, name, layout)

    # -- helpers ------------------------------------------------------------------------------
    def w(self, node: Node, variable: str) -> np.ndarray:
        return np.asarray(self.weights[f"{node.name}/{variable}"], np.float32)

    def x(self, node: Node, layout: str, k: int = 0) -> str:
        return self.value(node.inputs[k], layout)

    def home_of(self, node: Node) -> str:
        return self.layout_of(node.inputs[0])

    def before(self, node: Node, layout: str, activation) -> str:
        """Where a layer's main operator writes: its output, or with a fused activation
        the activation's input."""
        return self.name(node, layout) if activation is None else f"{node.name}/linear"

    def finish(self, node: Node, y: str, layout: str, activation=None) -> tuple[str, str]:
        """The node's output: `y`, through its fused activation if it has one."""
        if activation is None:
            return y, layout
        return activate(self, activation, y, self.name(node, layout), node.name,
                        channel_axis(layout)), layout

    def per_channel(self, node: Node, name: str, values: np.ndarray, layout: str) -> str:
        """A (C,) constant shaped to broadcast along the channel axis of `layout`."""
        values = np.asarray(values, np.float32)
        if values.size > 1 and layout == FIRST:
            values = values.reshape(-1, *(1,) * (len(node.shape) - 1))
        return self.const(f"{node.name}/{name}", values)

    @staticmethod
    def pads(node: Node, layer, dilation=None) -> list[int]:
        if getattr(layer, "pads", ()):  # version 3: `pad=` and `causal` say them
            return [b for b, _ in layer.pads] + [a for _, a in layer.pads]
        sizes = node.in_shapes[0][:-1]
        return conv_pads(sizes, layer.kernel, layer.stride, dilation or (1,) * len(sizes),
                         layer.padding)

    def padding(self, node: Node, layer, dilation=None) -> dict:
        """The padding attributes of a window: Keras's `same` as ONNX's own word for it,
        `auto_pad=SAME_UPPER` (the same arithmetic, the odd one after), so that an import
        reads `same` back; else the explicit `pads` (`valid`: none)."""
        sizes = node.in_shapes[0][:-1]
        # onnxruntime pads a dilated SAME_UPPER otherwise, and refuses a pooling's whose
        # padding comes out negative (a window narrower than its stride; Keras pads none)
        if layer.padding == "same" and not getattr(layer, "pads", ()) and \
                max(dilation or (1,)) == 1 and (node.kind not in ("maxpool", "avgpool") or all(
                    (-(-n // s) - 1) * s + k >= n
                    for n, k, s in zip(sizes, layer.kernel, layer.stride))):
            return {"auto_pad": "SAME_UPPER"}
        return {"pads": self.pads(node, layer, dilation)}

    # -- convolutions -------------------------------------------------------------------------
    def conv(self, node, layer):
        inputs = [self.x(node, FIRST), self.const(f"{node.name}/kernel",
                                                  onnx_kernel(self.w(node, "kernel")))]
        if layer.bias:
            inputs.append(self.const(f"{node.name}/bias", self.w(node, "bias")))
        y = self.op("Conv", inputs, self.before(node, FIRST, layer.activation), node.name,
                    group=layer.groups, kernel_shape=list(layer.kernel), strides=list(layer.stride),
                    dilations=list(layer.dilation), **self.padding(node, layer, layer.dilation))
        return self.finish(node, y, FIRST, layer.activation)

    def dwconv(self, node, layer):
        out = self.before(node, FIRST, layer.activation)
        y = self._depthwise(node, layer, out, node.name, layer.bias)
        return self.finish(node, y, FIRST, layer.activation)

    def _depthwise(self, node, layer, out: str, name: str, bias: bool) -> str:
        """A grouped Conv with one group per input channel (Keras's depthwise)."""
        kernel = depthwise_kernel(self.w(node, "depthwise_kernel"))
        inputs = [self.x(node, FIRST), self.const(f"{node.name}/depthwise_kernel", kernel)]
        if bias:
            inputs.append(self.const(f"{node.name}/bias", self.w(node, "bias")))
        return self.op("Conv", inputs, out, name, group=node.in_shapes[0][-1],
                       kernel_shape=list(layer.kernel), strides=list(layer.stride),
                       dilations=list(layer.dilation),
                       **self.padding(node, layer, layer.dilation))

    def sepconv(self, node, layer):
        mid = self._depthwise(node, layer, f"{node.name}/depthwise", f"{node.name}/depthwise",
                              False)
        inputs = [mid, self.const(f"{node.name}/pointwise_kernel",
                                  onnx_kernel(self.w(node, "pointwise_kernel")))]
        if layer.bias:
            inputs.append(self.const(f"{node.name}/bias", self.w(node, "bias")))
        y = self.op("Conv", inputs, self.before(node, FIRST, layer.activation), node.name,
                    kernel_shape=[1] * len(layer.kernel))
        return self.finish(node, y, FIRST, layer.activation)

    def deconv(self, node, layer):
        inputs = [self.x(node, FIRST), self.const(f"{node.name}/kernel",
                                                  onnx_kernel(self.w(node, "kernel")))]
        if layer.bias:
            inputs.append(self.const(f"{node.name}/bias", self.w(node, "bias")))
        if layer.pads:  # version 3: PyTorch's padding and output_padding, as ONNX's
            pads, extra = self.pads(node, layer), list(layer.outpad)
        else:
            pads, extra = deconv_pads(node.in_shapes[0][:-1], layer.kernel, layer.stride,
                                      node.shape[:-1], layer.padding)
        y = self.op("ConvTranspose", inputs, self.before(node, FIRST, layer.activation),
                    node.name, kernel_shape=list(layer.kernel), strides=list(layer.stride),
                    pads=pads, output_padding=extra)
        return self.finish(node, y, FIRST, layer.activation)

    def dense(self, node, layer):
        x = self.x(node, LAST)
        kernel = self.const(f"{node.name}/kernel", self.w(node, "kernel"))
        bias = [self.const(f"{node.name}/bias", self.w(node, "bias"))] if layer.bias else []
        out = self.before(node, LAST, layer.activation)
        if len(node.in_shapes[0]) == 1:  # (N, C): one Gemm, bias included
            y = self.op("Gemm", [x, kernel, *bias], out, node.name)
        elif not bias:  # acting on the last axis of a longer tensor
            y = self.op("MatMul", [x, kernel], out, node.name)
        else:
            y = self.op("MatMul", [x, kernel], f"{node.name}/matmul", node.name)
            y = self.op("Add", [y, *bias], out, f"{node.name}/bias")
        return self.finish(node, y, LAST, layer.activation)

    # -- pooling --------------------------------------------------------------------------------
    def maxpool(self, node, layer):
        return self._pool("MaxPool", node, layer)

    def avgpool(self, node, layer):
        # Keras's `same` average leaves the padding out of the count: ONNX's default.
        return self._pool("AveragePool", node, layer, count_include_pad=0)

    def _pool(self, op_type: str, node, layer, **attrs):
        x, padding = self.x(node, FIRST), self.padding(node, layer)
        if layer.ceil and not (layer.pads or layer.include_pad) and all(
                s <= k for s, k in zip(layer.stride, layer.kernel)):
            # unpadded, with windows no farther apart than wide: no window can start past
            # the input, the case where runtimes place ceil_mode's last window differently
            padding = {"pads": [0] * 2 * len(layer.kernel), "ceil_mode": 1}
        elif layer.pads or layer.ceil or layer.include_pad:  # version 3: padding
            x, pads = self._pool_padding(node, layer, x)
            padding = {"pads": pads}
        y = self.op(op_type, [x], self.name(node, FIRST), node.name,
                    kernel_shape=list(layer.kernel), strides=list(layer.stride),
                    **padding, **attrs)
        return y, FIRST

    def gap(self, node, layer):
        return self._global("ReduceMean", node, layer)

    def gmp(self, node, layer):
        return self._global("ReduceMax", node, layer)

    def _global(self, op_type: str, node, layer):
        layout = self.home_of(node)
        axes = spatial_axes(node.in_shapes[0], layout)
        y = self.reduce(op_type, self.x(node, layout), axes, layer.keepdims,
                        self.name(node, layout), node.name)
        return y, layout

    # -- shapes ---------------------------------------------------------------------------------
    def flatten(self, node, layer):
        """ONNX's own Flatten (channels-last, as cnndsl flattens), so that an import tells
        `flatten` from `reshape N`, which is a Reshape."""
        if layer.chw:
            return self.flatten_chw(node, layer)
        return self.op("Flatten", [self.x(node, LAST)], node.name, node.name, axis=1), LAST

    def reshape(self, node, layer):
        return self._reshape(node, layer.shape)

    def _reshape(self, node, shape):
        target = self.ints(f"{node.name}/shape", [0, *shape])  # 0: the batch axis, as it is
        return self.op("Reshape", [self.x(node, LAST), target], node.name, node.name), LAST

    def dropout(self, node, layer):
        """ONNX's Dropout, which at inference (no `training_mode`) passes its input
        through, as Keras's does: written with its rate so that an import reads it back."""
        layout = self.home_of(node)
        rate = self.const(f"{node.name}/rate", np.float32(layer.rate))
        out = self.op("Dropout", [self.x(node, layout), rate], self.name(node, layout),
                      node.name)
        if layer.noise is not None:  # ONNX's Dropout has none: said in its documentation
            self.nodes[-1].doc_string = NOISE + "x".join(map(str, layer.noise))
        return out, layout

    def zeropad(self, node, layer, **mode):
        layout = self.home_of(node)
        width = len(node.shape) + 1
        begins, ends = [0] * width, [0] * width
        for axis, (b, e) in zip(spatial_axes(node.shape, layout), layer.pads):
            begins[axis], ends[axis] = b, e
        pads = self.ints(f"{node.name}/pads", begins + ends)
        return self.op("Pad", [self.x(node, layout), pads], self.name(node, layout),
                       node.name, **mode), layout

    def crop(self, node, layer):
        layout = self.home_of(node)
        axes = spatial_axes(node.shape, layout)
        sizes = node.in_shapes[0][:-1]
        starts = self.ints(f"{node.name}/starts", [b for b, _ in layer.pads])
        ends = self.ints(f"{node.name}/ends", [n - e for n, (_, e) in zip(sizes, layer.pads)])
        return self.op("Slice", [self.x(node, layout), starts, ends,
                                 self.ints(f"{node.name}/axes", axes)],
                       self.name(node, layout), node.name), layout

    def upsample(self, node, layer):
        """Nearest neighbour by whole factors: each axis of size n reshaped to (n, 1),
        broadcast to (n, f) and merged back to n*f, so in either layout and exactly."""
        if layer.bilinear:
            return self.upsample_bilinear(node, layer)
        layout = self.home_of(node)
        dims = in_layout(node.in_shapes[0], layout)
        spatial = [a - 1 for a in spatial_axes(node.shape, layout)]
        factors = dict(zip(spatial, layer.factors))
        split, expand = [0], [1]
        for axis, n in enumerate(dims):
            split += [n, 1] if axis in factors else [n]
            expand += [n, factors[axis]] if axis in factors else [n]
        merged = [0, *in_layout(node.shape, layout)]
        name = node.name
        y = self.op("Reshape", [self.x(node, layout), self.ints(f"{name}/split_shape", split)],
                    f"{name}/split", f"{name}/split")
        y = self.op("Expand", [y, self.ints(f"{name}/repeat_shape", expand)], f"{name}/repeat",
                    f"{name}/repeat")
        return self.op("Reshape", [y, self.ints(f"{name}/merged_shape", merged)],
                       self.name(node, layout), name), layout

    # -- values ---------------------------------------------------------------------------------
    def activation(self, node, layer):
        layout = self.home_of(node)
        return activate(self, layer.function, self.x(node, layout), self.name(node, layout),
                        node.name, channel_axis(layout)), layout

    def batchnorm(self, node, layer):
        """ONNX's BatchNormalization at inference, on the channels-first value: the
        statistics, eps and momentum as the spec has them, so an import reads back the
        same step (`bn eps=1.001e-5 scale=false`). Without `scale` or `center`, gamma or
        beta is a Constant node (ones, zeros), not a weight: a stored initializer is one."""
        layout = FIRST if len(node.shape) > 1 else LAST
        channels = node.shape[-1]
        gamma = self.const(f"{node.name}/gamma", self.w(node, "gamma")) if layer.scale \
            else self.fixed(f"{node.name}/no_gamma", np.ones(channels, np.float32))
        beta = self.const(f"{node.name}/beta", self.w(node, "beta")) if layer.center \
            else self.fixed(f"{node.name}/no_beta", np.zeros(channels, np.float32))
        inputs = [self.x(node, layout), gamma, beta,
                  self.const(f"{node.name}/moving_mean", self.w(node, "moving_mean")),
                  self.const(f"{node.name}/moving_variance", self.w(node, "moving_variance"))]
        return self.op("BatchNormalization", inputs, self.name(node, layout), node.name,
                       epsilon=float(layer.eps), momentum=float(layer.momentum)), layout

    def rescale(self, node, layer):
        return self._affine(node, np.float32(layer.scale), np.float32(layer.offset))

    def _affine(self, node, scale, shift):
        layout = self.home_of(node)
        y = self.op("Mul", [self.x(node, layout), self.per_channel(node, "scale", scale,
                                                                    layout)],
                    f"{node.name}/scaled", f"{node.name}/scale")
        return self.op("Add", [y, self.per_channel(node, "shift", shift, layout)],
                       self.name(node, layout), f"{node.name}/shift"), layout

    def normalize(self, node, layer):
        """(x - mean) / max(sqrt(variance), 1e-7), as Keras's Normalization. An adapted
        layer's statistics are weights, so they are initializers `LAYER/mean` and
        `LAYER/variance` as in the `.npz` (the deviation computed from the variance in
        the graph: an import reads the layer back as adapted, its statistics exact);
        `mean=M variance=V` are constants, the deviation computed here."""
        layout = self.home_of(node)
        if layer.mean is None:
            mean = self.w(node, "mean")
            variance = self.per_channel(node, "variance", self.w(node, "variance"), layout)
            root = self.op("Sqrt", [variance], f"{node.name}/root", f"{node.name}/root")
            floor = self.const(f"{node.name}/floor", np.float32(KERAS_EPSILON))
            deviation = self.op("Max", [root, floor], f"{node.name}/deviation",
                                f"{node.name}/deviation")
        else:
            mean = np.asarray(layer.mean, np.float32)
            variance = np.asarray(layer.variance, np.float32)
            deviation = self.per_channel(
                node, "deviation", np.maximum(np.sqrt(variance), np.float32(KERAS_EPSILON)),
                layout)
        y = self.op("Sub", [self.x(node, layout), self.per_channel(node, "mean", mean, layout)],
                    f"{node.name}/centered", f"{node.name}/center")
        return self.op("Div", [y, deviation], self.name(node, layout), node.name), layout

    def layernorm(self, node, layer):
        self.needs(node, 17, "LayerNormalization")
        channels = node.shape[-1]
        gamma = self.const(f"{node.name}/gamma", self.w(node, "gamma")) if layer.scale \
            else self.fixed(f"{node.name}/no_gamma", np.ones(channels, np.float32))
        inputs = [self.x(node, LAST), gamma]
        if layer.center:
            inputs.append(self.const(f"{node.name}/beta", self.w(node, "beta")))
        return self.op("LayerNormalization", inputs, node.name, node.name, axis=-1,
                       epsilon=float(layer.eps)), LAST

    # -- merges ---------------------------------------------------------------------------------
    def _merge_layout(self, node) -> str:
        """The layout most branches are in already (the first branch's on a tie)."""
        homes = [self.layout_of(i) for i in node.inputs]
        return max(dict.fromkeys(homes), key=homes.count)

    def _variadic(self, op_type: str, node):
        layout = self._merge_layout(node)
        xs = [self.value(i, layout) for i in node.inputs]
        return self.op(op_type, xs, self.name(node, layout), node.name), layout

    def add(self, node, layer):
        return self._variadic("Sum", node)

    def avg(self, node, layer):
        return self._variadic("Mean", node)

    def max(self, node, layer):
        return self._variadic("Max", node)

    def mul(self, node, layer):
        layout = self._merge_layout(node)
        xs = [self.value(i, layout) for i in node.inputs]
        if len(xs) == 1:  # a product of one branch is that branch
            return self.op("Identity", xs, self.name(node, layout), node.name), layout
        y = xs[0]
        for k, x in enumerate(xs[1:], 1):
            last = k == len(xs) - 1
            y = self.op("Mul", [y, x], self.name(node, layout) if last else f"{node.name}/{k}",
                        node.name if last else f"{node.name}/{k}")
        return y, layout

    def concat(self, node, layer):
        layout = self._merge_layout(node)
        xs = [self.value(i, layout) for i in node.inputs]
        return self.op("Concat", xs, self.name(node, layout), node.name,
                       axis=channel_axis(layout)), layout

    # -- version 3: padding ----------------------------------------------------------------
    def pad(self, node, layer):
        if layer.mode == "zeros":
            return self.zeropad(node, layer)
        return self.zeropad(node, layer, mode=ONNX_PAD_MODES[layer.mode])

    def _pool_padding(self, node, layer, x: str) -> tuple[str, list[int]]:
        """(input, `pads`) of a pooling with `pad=`, `ceil` or `include_pad`: the pads
        widened after for a `ceil` window's overhang (explicit, rather than `ceil_mode`,
        whose last window runtimes place differently); for `include_pad`, the padding
        as zeros by a Pad first, so that the average counts it and never the overhang."""
        sizes = node.in_shapes[0][:-1]
        widened, include = pool_pads(layer, sizes)
        if include:
            pads = explicit_pads(layer, sizes)
            padding = [0, 0, *(b for b, _ in pads), 0, 0, *(a for _, a in pads)]
            x = self.op("Pad", [x, self.ints(f"{node.name}/zeros", padding)],
                        f"{node.name}/padded", f"{node.name}/pad")
            widened = tuple((0, w - a) for (_, w), (_, a) in zip(widened, pads))
        return x, [b for b, _ in widened] + [a for _, a in widened]

    # version 3: normalisation and activations
    groupnorm = norm_layers.groupnorm
    instancenorm = norm_layers.instancenorm
    lrn = norm_layers.lrn
    prelu = norm_layers.prelu


ONNX_PAD_MODES = {"reflect": "reflect", "replicate": "edge"}

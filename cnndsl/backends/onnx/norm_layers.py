"""Version 3's normalisations and PReLU as ONNX operators.

`groupnorm` is composed of standard operators at every opset: the input reshaped to
(N, G, rest), the mean and the biased variance of each group (ReduceMean of the squared
deviations), the deviation divided by sqrt(variance + eps), reshaped back and scaled per
channel. ONNX's GroupNormalization is not used: before opset 21 its scale and bias are
per group (not per channel, as Keras's and PyTorch's), and at opset 21 `onnx` 1.23's
strict shape inference leaves its output untyped, so the model would not pass the full
check. `instancenorm` is InstanceNormalization, `prelu` PRelu with its slopes shaped to
broadcast along the channel axis.

`lrn` is ONNX's LRN for an odd window. ONNX's window is floor((N-1)/2) channels before
and ceil((N-1)/2) after, PyTorch's (and cnndsl's) N//2 before and (N-1)//2 after, and
onnxruntime refuses an even N anyway; so an even window is composed as PyTorch computes
it: the squares averaged over N channels by an AveragePool padded with N//2 zeros before
and (N-1)//2 after (the zeros counted), times alpha, plus k, to the power beta, the
input divided by that.
"""

from __future__ import annotations

import numpy as np

from .emitter import FIRST


def groupnorm(self, node, layer):
    return _group_norm(self, node, layer, layer.groups)


def instancenorm(self, node, layer):
    scale, shift = _scale_and_shift(self, node, layer)
    return self.op("InstanceNormalization", [self.x(node, FIRST), scale, shift],
                   self.name(node, FIRST), node.name, epsilon=float(layer.eps)), FIRST


def _scale_and_shift(self, node, layer) -> tuple[str, str]:
    """gamma and beta as (C,) constants; ones and zeros without affine."""
    channels = node.shape[-1]
    if layer.affine:
        gamma, beta = self.w(node, "gamma"), self.w(node, "beta")
    else:
        gamma, beta = np.ones(channels, np.float32), np.zeros(channels, np.float32)
    return (self.const(f"{node.name}/gamma", gamma), self.const(f"{node.name}/beta", beta))


def _group_norm(self, node, layer, groups: int):
    x = self.x(node, FIRST)
    out = self.name(node, FIRST)
    name = node.name

    def step(op: str, inputs: list[str], label: str) -> str:
        return self.op(op, inputs, f"{name}/{label}", f"{name}/{label}")

    grouped = step("Reshape", [x, self.ints(f"{name}/grouped_shape", [0, groups, -1])],
                   "grouped")
    mean = self.reduce("ReduceMean", grouped, [2], True, f"{name}/mean", f"{name}/mean")
    deviation = step("Sub", [grouped, mean], "deviation")
    square = step("Mul", [deviation, deviation], "square")
    variance = self.reduce("ReduceMean", square, [2], True, f"{name}/variance",
                           f"{name}/variance")
    variance = step("Add", [variance, self.const(f"{name}/eps", float(layer.eps))],
                    "variance_eps")
    root = step("Sqrt", [variance], "root")
    normal = step("Div", [deviation, root], "normal")
    shape = [0, node.shape[-1], *node.shape[:-1]] if len(node.shape) > 1 else [0, -1]
    if not layer.affine:
        return self.op("Reshape", [normal, self.ints(f"{name}/shape", shape)], out,
                       name), FIRST
    y = step("Reshape", [normal, self.ints(f"{name}/shape", shape)], "normalised")
    y = step("Mul", [y, self.per_channel(node, "gamma", self.w(node, "gamma"), FIRST)],
             "scaled")
    return self.op("Add", [y, self.per_channel(node, "beta", self.w(node, "beta"), FIRST)],
                   out, f"{name}/shift"), FIRST


def lrn(self, node, layer):
    x, out, name = self.x(node, FIRST), self.name(node, FIRST), node.name
    # ONNX's LRN centres an odd window only, and onnxruntime runs it on images only (4-D):
    # elsewhere, the same sum of squares written out.
    if layer.size % 2 and len(node.shape) == 3:
        return self.op("LRN", [x], out, name, size=layer.size, alpha=float(layer.alpha),
                       beta=float(layer.beta), bias=float(layer.k)), FIRST

    def step(op: str, inputs: list[str], label: str, **attrs) -> str:
        return self.op(op, inputs, f"{name}/{label}", f"{name}/{label}", **attrs)

    channels = node.shape[-1]
    square = step("Mul", [x, x], "square")
    rows = step("Reshape", [square, self.ints(f"{name}/rows_shape", [0, 1, channels, -1])],
                "rows")
    size = layer.size
    mean = step("AveragePool", [rows], "window", kernel_shape=[size, 1],
                pads=[size // 2, 0, (size - 1) // 2, 0], count_include_pad=1)
    mean = step("Reshape", [mean, self.ints(f"{name}/shape", [0, channels,
                                                              *node.shape[:-1]])], "mean")
    scaled = step("Mul", [mean, self.const(f"{name}/alpha", float(layer.alpha))], "scaled")
    base = step("Add", [scaled, self.const(f"{name}/k", float(layer.k))], "base")
    power = step("Pow", [base, self.const(f"{name}/beta", float(layer.beta))], "power")
    return self.op("Div", [x, power], out, name), FIRST


def prelu(self, node, layer):
    layout = self.home_of(node)
    alpha = self.w(node, "alpha").reshape(-1)
    slope = (self.const(f"{node.name}/alpha", alpha) if layer.shared
             else self.per_channel(node, "alpha", alpha, layout))
    return self.op("PRelu", [self.x(node, layout), slope], self.name(node, layout),
                   node.name), layout

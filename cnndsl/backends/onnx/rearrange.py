"""The ONNX backend's steps of language version 3 that rearrange or resize values:
`pixel_shuffle` is DepthToSpace in mode CRD (PyTorch's order) and `pixel_unshuffle`
its inverse (SpaceToDepth's own order is DCR's, so it is written as Reshape and
Transpose), channels-first; `channel_shuffle` Reshape-Transpose-Reshape and a split's
parts Slice, in the layout their input is in; `split` Concat; `flatten chw` a Reshape
of the channels-first value; bilinear upsampling two MatMuls by its interpolation
matrices (see `upsample_bilinear` for why not Resize).

A mixin of `OnnxLayers`, which supplies `op`, `x`, `ints`, `home_of` and the names.
"""

from __future__ import annotations

import numpy as np

from ..numpy.rearrange import bilinear_taps
from .emitter import FIRST, channel_axis, in_layout


class RearrangeOps:
    """One method per kind, as `OnnxLayers`'s."""

    def pixel_shuffle(self, node, layer):
        y = self.op("DepthToSpace", [self.x(node, FIRST)], self.name(node, FIRST),
                    node.name, blocksize=layer.factor, mode="CRD")
        return y, FIRST

    def pixel_unshuffle(self, node, layer):
        # (N, C, H·R, W·R) as (N, C, H, i, W, j), to (N, C, i, j, H, W), merged.
        c, h, w = in_layout(node.shape, FIRST)
        r, name = layer.factor, node.name
        blocks = self.ints(f"{name}/blocks_shape", [0, c // (r * r), h, r, w, r])
        y = self.op("Reshape", [self.x(node, FIRST), blocks], f"{name}/blocks",
                    f"{name}/blocks")
        y = self.op("Transpose", [y], f"{name}/order", f"{name}/order",
                    perm=[0, 1, 3, 5, 2, 4])
        shape = self.ints(f"{name}/shape", [0, c, h, w])
        return self.op("Reshape", [y, shape], self.name(node, FIRST), name), FIRST

    def channel_shuffle(self, node, layer):
        layout = self.home_of(node)
        dims = list(in_layout(node.shape, layout))
        axis = len(dims) - 1 if channel_axis(layout) == -1 else 0  # without the batch
        g, name = layer.groups, node.name
        grouped = [0, *dims[:axis], g, dims[axis] // g, *dims[axis + 1:]]
        y = self.op("Reshape", [self.x(node, layout), self.ints(f"{name}/groups_shape",
                                                                 grouped)],
                    f"{name}/groups", f"{name}/groups")
        perm = list(range(len(grouped)))
        perm[axis + 1], perm[axis + 2] = axis + 2, axis + 1
        y = self.op("Transpose", [y], f"{name}/order", f"{name}/order", perm=perm)
        return self.op("Reshape", [y, self.ints(f"{name}/shape", [0, *dims])],
                       self.name(node, layout), name), layout

    def part(self, node, layer):
        layout = self.home_of(node)
        axis = channel_axis(layout) % (len(node.shape) + 1)
        name = node.name
        return self.op("Slice", [self.x(node, layout),
                                 self.ints(f"{name}/starts", [layer.start]),
                                 self.ints(f"{name}/ends", [layer.start + layer.size]),
                                 self.ints(f"{name}/axes", [axis])],
                       self.name(node, layout), name), layout

    def split(self, node, layer):
        return self.concat(node, layer)

    def flatten_chw(self, node, layer):
        target = self.ints(f"{node.name}/shape", [0, *node.shape])
        return self.op("Reshape", [self.x(node, FIRST), target], node.name,
                       node.name), FIRST

    def upsample_bilinear(self, node, layer):
        """Two MatMuls by the interpolation matrices (two weights a row, NumPy's taps):
        the same function as Resize (linear, half_pixel), which ONNX's shape inference
        leaves without the batch axis's name (its scales cover every axis, and even
        opset 18's `axes` does not keep it)."""
        name, x = node.name, self.x(node, FIRST)
        (h, w), (fh, fw) = node.in_shapes[0][:2], layer.factors
        rows = self.const(f"{name}/rows", interpolation(h, fh))  # (H·f, H) @ x
        y = self.op("MatMul", [rows, x], f"{name}/rows_resized", f"{name}/rows")
        columns = self.const(f"{name}/columns", interpolation(w, fw).T)  # x @ (W, W·f)
        return self.op("MatMul", [y, columns], self.name(node, FIRST), name), FIRST


def interpolation(size: int, factor: int) -> np.ndarray:
    """The (size·factor, size) matrix of half-pixel linear interpolation along an axis."""
    lower, upper, frac = bilinear_taps(size, factor, np.float32)
    matrix = np.zeros((size * factor, size), np.float32)
    rows = np.arange(size * factor)
    np.add.at(matrix, (rows, lower), 1 - frac)
    np.add.at(matrix, (rows, upper), frac)
    return matrix

"""The ONNX backend's steps of language version 3 that rearrange or resize values:
`pixel_shuffle` is DepthToSpace in mode CRD (PyTorch's order) and `pixel_unshuffle`
its inverse (SpaceToDepth's own order is DCR's, so it is written as Reshape and
Transpose), channels-first; `channel_shuffle` Reshape-Transpose-Reshape and a split's
parts Slice, in the layout their input is in; `split` Concat; `flatten chw` a Reshape
of the channels-first value; bilinear upsampling Resize (linear, half_pixel).

A mixin of `OnnxLayers`, which supplies `op`, `x`, `ints`, `home_of` and the names.
"""

from __future__ import annotations

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
        name = node.name
        scales = [1.0, 1.0, *map(float, layer.factors)]
        y = self.op("Resize", [self.x(node, FIRST), "", self.const(f"{name}/scales", scales)],
                    self.name(node, FIRST), name, mode="linear",
                    coordinate_transformation_mode="half_pixel")
        return y, FIRST

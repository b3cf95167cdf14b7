"""The NumPy interpreter: the reference semantics of the language, and fast.

Like torch.fx's `Interpreter`, it walks the graph in order and dispatches each node to
the method named after its kind (`conv`, `maxpool`, `add`, ...). Weights are prepared
once per interpreter (cast, reshaped, batch norm folded in); each `run` then reuses a
buffer in place when the value in it has no later reader, and drops every value after
its last use, so memory stays near the largest few activations.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ...errors import CnnError
from ...graph.ir import Graph, Node
from ...layers.activations import Activation
from ..weights import check_weights
from . import activations, convolution, fusion, norm_groups, pooling
from .memory import BufferPool
from .rearrange import RearrangeSteps
from .targets import PoolAfter
from .threads import batch_shares, map_shares, parallel_slices, quietly

EXTERNAL = -1  # the buffer of the caller's input array, never written to


class Interpreter(RearrangeSteps):
    """Runs `graph` forward on batches, with `weights` keyed `LAYER/VARIABLE`.

    Args:
        graph: a typed network (`cnndsl.compile_text`).
        weights: arrays by `LAYER/VARIABLE` (see `cnndsl.backends.weights`); checked here.
        dtype: float32 (default) or float64; weights and inputs are cast once.
        fuse: fold batch norm and activations into the layer before them.
        keep: keep every layer's output (for `--layers`); turns fusion and in-place
            updates off, since both reuse the memory of intermediate outputs.
    """

    def __init__(self, graph: Graph, weights: Mapping[str, np.ndarray], dtype=np.float32,
                 fuse: bool = True, keep: bool = False) -> None:
        check_weights(graph, weights)
        self.graph, self.dtype, self.keep = graph, np.dtype(dtype), keep
        self.plan = fusion.plan(graph) if fuse and not keep else fusion.Plan()
        self.params = [self._prepare(node, weights) for node in graph.nodes]
        self._buffers, self._last_use = self._liveness()
        self.split_batch = True
        self._pools: dict[int, BufferPool] = {}  # by share of the batch
        self._share = threading.local()

    @property
    def pool(self) -> BufferPool:
        """The buffers of the share of the batch this thread is running."""
        return self.pool_of(getattr(self._share, "index", 0))

    def pool_of(self, share: int) -> BufferPool:
        pool = self._pools.get(share)
        if pool is None:
            pool = self._pools[share] = BufferPool()
        return pool

    # -- set-up ---------------------------------------------------------------------------
    def _weights(self, node: Node, weights) -> dict[str, np.ndarray]:
        names = node.layer.variables(node.in_shapes)
        return {v: np.asarray(weights[f"{node.name}/{v}"], dtype=self.dtype) for v in names}

    def _prepare(self, node: Node, weights) -> dict[str, Any]:
        """Weights in the form the kind's method wants, batch norm folded in if planned."""
        w: dict[str, Any] = self._weights(node, weights)
        bn_index = self.plan.batchnorm.get(node.index)
        if bn_index is not None:
            bn_node = self.graph.nodes[bn_index]
            scale, bias = fusion.fold_batchnorm(w.get("bias"), self._weights(bn_node, weights),
                                                bn_node.layer.eps)  # type: ignore[attr-defined]
            w = fusion.scaled(node.kind, w, scale)
            w["bias"] = bias
        activation = self.plan.activation.get(node.index) or getattr(node.layer, "activation",
                                                                     None)
        w["epilogue"] = fusion.epilogue(w.get("bias"), activation)
        pool_index = self.plan.pool.get(node.index)
        if pool_index is not None:
            pool = self.graph.nodes[pool_index].layer
            w["then"] = PoolAfter(
                pool.kernel, pool.stride,  # type: ignore[attr-defined]
                fusion.epilogue(None, self.plan.activation.get(pool_index)),
                first=pool.kind == "maxpool" and fusion.commutes_with_max(activation),
                average=pool.kind == "avgpool")
        return w

    def _liveness(self) -> tuple[list[int], dict[int, int]]:
        """Which buffer each value lives in, and the last node that reads each buffer."""
        buffers: list[int] = []
        last: dict[int, int] = {}
        for node in self.graph.nodes:
            if node.kind == "input":
                buffers.append(EXTERNAL)
            elif node.index in self.plan.aliases or node.kind in VIEWS:
                buffers.append(buffers[self.plan.aliases.get(node.index, node.inputs[0])])
            else:
                buffers.append(node.index)
            for i in node.inputs:
                last[buffers[i]] = node.index
        for out in self.graph.outputs:
            last[buffers[out]] = len(buffers)  # the outputs are read by the caller
        return buffers, last

    # -- running --------------------------------------------------------------------------
    def run(self, x: np.ndarray) -> np.ndarray:
        """The output for a batch `x` of shape (N, *input shape), for a network of one
        input and one output; `run_many` takes and gives one array per input/output."""
        if not self.graph.single:
            raise ValueError(f"the network has {len(self.graph.inputs)} inputs and "
                             f"{len(self.graph.outputs)} outputs: use run_many")
        return self.run_many([x])[0]

    def run_many(self, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The outputs (in `graph.outputs` order) for batches `xs`, one per input in
        `graph.inputs` order, all with the same batch size.

        A batch that divides evenly enough between the workers is run as shares, each
        share through the whole network in a worker of its own (see `threads`). NaN and
        infinity propagate without warnings, in every thread (`threads.quietly`)."""
        self._check_inputs(xs)
        batch = len(xs[0])
        shares = batch_shares(batch) if self.split_batch else [slice(0, batch)]
        if len(shares) == 1:
            return quietly(self._run, xs)[0]

        def run_share(number: int) -> list[np.ndarray]:
            self._share.index = number
            try:
                return self._run([x[shares[number]] for x in xs])[0]
            finally:
                self._share.index = 0

        parts = map_shares(run_share, list(range(len(shares))))
        outs = [np.concatenate([part[k] for part in parts]) for k in range(len(parts[0]))]
        for number, part in enumerate(parts):
            for array in {id(a): a for a in part}.values():  # an output listed once
                self.pool_of(number).release(array)
        return outs

    def run_all(self, x: np.ndarray | Sequence[np.ndarray]) -> dict[str, np.ndarray]:
        """Every layer's output by layer name (needs `keep=True`); `x` is the batch of
        the one input, or a list with one per input."""
        if not self.keep:
            raise ValueError("run_all needs an Interpreter made with keep=True")
        xs = [x] if isinstance(x, np.ndarray) else list(x)
        self._check_inputs(xs)
        values = quietly(self._run, xs)[1]
        return {n.name: values[n.index] for n in self.graph.nodes}

    def _check_inputs(self, xs: Sequence[np.ndarray]) -> None:
        if len(xs) != len(self.graph.inputs):
            raise ValueError(f"{len(xs)} input arrays for {len(self.graph.inputs)} inputs")
        for x, node in zip(xs, self.graph.input_nodes):
            expected = node.shape
            if x.ndim != len(expected) + 1 or tuple(x.shape[1:]) != expected:
                what = "input" if self.graph.single else f"input `{node.name}`"
                raise ValueError(f"{what} has shape {tuple(x.shape)}, expected (batch, "
                                 f"{', '.join(map(str, expected))})")
        if len({len(x) for x in xs}) > 1:
            raise ValueError(f"the inputs have different batch sizes: "
                             f"{', '.join(str(len(x)) for x in xs)}")

    def _run(self, xs: Sequence[np.ndarray]):
        """Every node in order on the inputs `xs` (checked by the caller: `run_many`
        checks once, not once per share of the batch)."""
        values: dict[int, np.ndarray] = {
            i: np.asarray(x, dtype=self.dtype) for i, x in zip(self.graph.inputs, xs)}
        for node in self.graph.nodes:
            if node.kind == "input":
                continue
            if node.index in self.plan.aliases:
                values[node.index] = values[self.plan.aliases[node.index]]
            else:
                values[node.index] = self._call(node, values)
                after = self.plan.activation.get(node.index)
                if after is not None and node.kind not in fusion.FOLDABLE:
                    _activate(after, values[node.index])
            if not self.keep:
                for i in set(node.inputs):
                    if self._last_use[self._buffers[i]] <= node.index:
                        dead = values.pop(i, None)
                        # An in-place layer hands its input on as its own output.
                        if (dead is not None and self._buffers[i] == i
                                and dead is not values[node.index]):
                            self.pool.release(dead)
        return [values[o] for o in self.graph.outputs], values

    def _call(self, node: Node, values) -> np.ndarray:
        method = getattr(self, node.kind, None)
        if method is None:
            raise CnnError(f"the NumPy backend cannot run `{node.kind}`", node.span,
                           "`cnndsl compile` builds it in Keras, which can")
        inputs = [values[i] for i in node.inputs]
        buffers = [self._buffers[i] for i in node.inputs]
        # A buffer read twice by this node (`add { id | id }`, or `id` and a view of it)
        # must not be written while the other read is still to come.
        owned = [not self.keep and b != EXTERNAL and self._last_use[b] == node.index
                 and buffers.count(b) == 1 for b in buffers]
        return method(node, inputs, owned, self.params[node.index])

    def _out(self, node: Node, batch: int) -> np.ndarray:
        """An output buffer for `node`, recycled from the pool when possible."""
        return self.pool.empty((batch, *node.shape), self.dtype)

    # -- one method per layer kind ----------------------------------------------------------
    def conv(self, node, xs, owned, w):
        layer = node.layer
        return convolution.conv(xs[0], w["kernel"], layer.stride, layer.dilation,
                                layer.pads or layer.padding, layer.groups, w["epilogue"], self.pool,
                                w.get("then"))

    def dwconv(self, node, xs, owned, w):
        layer = node.layer
        return convolution.depthwise(xs[0], w["depthwise_kernel"], layer.stride,
                                     layer.dilation, layer.pads or layer.padding,
                                     w["epilogue"])

    def sepconv(self, node, xs, owned, w):
        layer = node.layer
        mid = convolution.depthwise(xs[0], w["depthwise_kernel"], layer.stride,
                                    layer.dilation, layer.pads or layer.padding)
        return convolution.conv(mid, w["pointwise_kernel"], (1,) * len(layer.stride),
                                (1,) * len(layer.stride), "valid", 1, w["epilogue"])

    def deconv(self, node, xs, owned, w):
        return convolution.transposed(xs[0], w["kernel"], node.layer.stride,
                                      node.layer.pads or node.layer.padding, w["epilogue"],
                                      node.layer.outpad)

    def dense(self, node, xs, owned, w):
        x = xs[0]
        y = self._out(node, len(x))
        convolution.gemm_rows(x.reshape(-1, x.shape[-1]), w["kernel"],
                              y.reshape(-1, y.shape[-1]), w["epilogue"])
        return y

    def maxpool(self, node, xs, owned, w):
        return self._per_batch(pooling.max_pool, node, xs[0])

    def avgpool(self, node, xs, owned, w):
        return self._per_batch(pooling.avg_pool, node, xs[0])

    def _per_batch(self, pool_fn, node, x):
        """A pooling over slices of the batch, one per worker."""
        y = self._out(node, len(x))
        layer = node.layer
        padding, counted = pooling.pool_padding(layer, x.shape[1:-1])
        more = {} if counted is None else {"counted": counted}

        def part(s: slice) -> None:
            pool_fn(x[s], layer.kernel, layer.stride, padding, y[s], **more)

        parallel_slices(part, len(x))
        return y

    def gap(self, node, xs, owned, w):
        x = xs[0]
        return x.mean(axis=tuple(range(1, x.ndim - 1)), dtype=x.dtype,
                      keepdims=node.layer.keepdims)

    def gmp(self, node, xs, owned, w):
        x = xs[0]
        return x.max(axis=tuple(range(1, x.ndim - 1)), keepdims=node.layer.keepdims)

    def flatten(self, node, xs, owned, w):
        if node.layer.chw:
            return self.flatten_chw(node, xs, owned, w)
        return xs[0].reshape(xs[0].shape[0], -1)

    def reshape(self, node, xs, owned, w):
        return xs[0].reshape(xs[0].shape[0], *node.layer.shape)

    def dropout(self, node, xs, owned, w):
        return xs[0]  # identity at inference

    def batchnorm(self, node, xs, owned, w):
        scale, shift = fusion.fold_batchnorm(None, w, node.layer.eps)
        x = xs[0]
        y = x if owned[0] else self._out(node, len(x))
        x2, y2 = x.reshape(-1, x.shape[-1]), y.reshape(-1, y.shape[-1])

        def part(s: slice) -> None:
            np.multiply(x2[s], scale, out=y2[s])
            y2[s] += shift

        parallel_slices(part, len(y2), ROWS_PER_SLICE)
        return y

    def layernorm(self, node, xs, owned, w):
        # As Keras: inv = gamma / sqrt(var + eps), then x * inv + (beta - mean * inv).
        x = xs[0]
        mean = x.mean(axis=-1, keepdims=True, dtype=x.dtype)
        centered = x - mean
        np.square(centered, out=centered)
        inv = centered.mean(axis=-1, keepdims=True, dtype=x.dtype)
        del centered
        inv += self.dtype.type(node.layer.eps)
        np.sqrt(inv, out=inv)
        np.reciprocal(inv, out=inv)
        if "gamma" in w:
            inv = inv * w["gamma"]
        shift = -mean * inv
        if "beta" in w:
            shift = shift + w["beta"]
        y = x if owned[0] else self._out(node, len(x))
        np.multiply(x, inv, out=y)
        y += shift
        return y

    def rescale(self, node, xs, owned, w):
        x = xs[0]
        y = x if owned[0] else self._out(node, len(x))
        np.multiply(x, self.dtype.type(node.layer.scale), out=y)
        y += self.dtype.type(node.layer.offset)
        return y

    def normalize(self, node, xs, owned, w):
        # As Keras: (x - mean) / max(sqrt(variance), 1e-7), the statistics constants written
        # in the spec or weights of the layer.
        layer = node.layer
        mean = np.asarray(w["mean"] if layer.mean is None else layer.mean, self.dtype)
        variance = np.asarray(w["variance"] if layer.mean is None else layer.variance,
                              self.dtype)
        x = xs[0]
        y = x if owned[0] else self._out(node, len(x))
        np.subtract(x, mean, out=y)
        y /= np.maximum(np.sqrt(variance), self.dtype.type(KERAS_EPSILON))
        return y

    def crop(self, node, xs, owned, w):
        x = xs[0]
        y = self._out(node, len(x))
        y[...] = x[(slice(None), *(slice(b, n - e) for (b, e), n in
                                   zip(node.layer.pads, x.shape[1:-1])))]
        return y

    def zeropad(self, node, xs, owned, w):
        y = self._out(node, len(xs[0]))
        inner = (slice(None), *(slice(b, b + n) for (b, _), n in
                                zip(node.layer.pads, xs[0].shape[1:-1])))
        y.fill(0)
        y[inner] = xs[0]
        return y

    def upsample(self, node, xs, owned, w):
        if node.layer.bilinear:
            return self.upsample_bilinear(node, xs, owned, w)
        y = xs[0]
        for axis, factor in enumerate(node.layer.factors, start=1):
            if factor > 1:
                y = np.repeat(y, factor, axis=axis)
        return y if y is not xs[0] else y.copy()  # `upsample 1`: a buffer of its own

    def activation(self, node, xs, owned, w):
        y = xs[0] if owned[0] else xs[0].copy()
        _activate(node.layer.function, y)
        return y

    def add(self, node, xs, owned, w):
        return self._fold(np.add, node, xs, owned)

    def mul(self, node, xs, owned, w):
        return self._fold(np.multiply, node, xs, owned)

    def max(self, node, xs, owned, w):
        return self._fold(np.maximum, node, xs, owned)

    def avg(self, node, xs, owned, w):
        y = self._fold(np.add, node, xs, owned)
        y *= self.dtype.type(1.0 / len(xs))
        return y

    def concat(self, node, xs, owned, w):
        return np.concatenate(xs, axis=-1, out=self._out(node, len(xs[0])))

    def _fold(self, ufunc, node: Node, xs, owned) -> np.ndarray:
        """Combine the branches pairwise, into a buffer nobody else reads if there is one."""
        if len(xs) == 1:  # a merge of one branch is that branch
            return xs[0] if owned[0] else xs[0].copy()
        shape = (len(xs[0]), *node.shape)
        target = next((i for i, x in enumerate(xs) if owned[i] and x.shape == shape), None)
        if target is None:
            y = self._out(node, len(xs[0]))
            first, rest = xs[0], xs[1:]
        else:
            y = xs[target]
            first, rest = y, xs[:target] + xs[target + 1:]

        def part(s: slice) -> None:  # every branch has the batch axis first
            ufunc(first[s], rest[0][s], out=y[s])
            for x in rest[1:]:
                ufunc(y[s], x[s], out=y[s])

        parallel_slices(part, len(y))
        return y

    # version 3: padding
    def pad(self, node, xs, owned, w):
        if node.layer.mode == "zeros":
            return self.zeropad(node, xs, owned, w)
        pads = ((0, 0), *node.layer.pads, (0, 0))
        return np.pad(xs[0], pads, mode=NUMPY_PAD_MODES[node.layer.mode])

    # version 3: normalisation and activations
    def groupnorm(self, node, xs, owned, w):
        return self._group_norm(node, xs, owned, w, node.layer.groups)

    def instancenorm(self, node, xs, owned, w):
        return self._group_norm(node, xs, owned, w, node.shape[-1])

    def _group_norm(self, node, xs, owned, w, groups: int):
        y = xs[0] if owned[0] else self._out(node, len(xs[0]))
        return norm_groups.group_norm(xs[0], groups, node.layer.eps, w.get("gamma"),
                                      w.get("beta"), y)

    def lrn(self, node, xs, owned, w):
        layer = node.layer
        y = xs[0] if owned[0] else self._out(node, len(xs[0]))
        return norm_groups.local_response_norm(xs[0], layer.size, layer.alpha, layer.beta,
                                               layer.k, y)

    def prelu(self, node, xs, owned, w):
        y = xs[0] if owned[0] else self._out(node, len(xs[0]))
        return norm_groups.prelu(xs[0], w["alpha"], y)


# Kinds whose output may share memory with their input.
VIEWS = ("flatten", "reshape", "dropout")
ROWS_PER_SLICE = 4096  # element-wise work is split between workers above this many rows
NUMPY_PAD_MODES = {"reflect": "reflect", "replicate": "edge"}  # version 3: padding
KERAS_EPSILON = 1e-7  # keras.backend.epsilon(), Normalization's floor of a deviation


def _activate(function: Activation, y: np.ndarray) -> None:
    """Apply an activation in place, the rows shared between the workers."""
    y2 = y.reshape(-1, y.shape[-1]) if y.ndim > 1 else y.reshape(1, -1)

    def part(s: slice) -> None:
        result = activations.apply(function, y2[s])
        if result is not y2[s] and not np.shares_memory(result, y2[s]):
            y2[s] = result

    parallel_slices(part, len(y2), ROWS_PER_SLICE // 8)

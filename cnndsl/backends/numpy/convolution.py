"""Convolutions on BLAS: im2col in cache-sized tiles, and plain GEMMs for 1x1 kernels.

A convolution is a matrix product once every output position's input window is laid out
as a row (im2col). Laying out the whole batch at once costs K times the input in memory
and in memory traffic, so the windows are copied a tile of output rows at a time into a
buffer that stays in the L2 cache, multiplied into the output in place (`matmul(out=)`),
and the bias and activation are applied while that tile of output is still in cache.
1x1 convolutions need no windows at all: they are one GEMM over the input as it lies.

All functions take channels-last arrays with the batch first and at least one spatial
dimension; 1-D is computed as 2-D with a height of 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from math import prod

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ...layers.shapes import deconv_length
from .geometry import Pads, output_sizes, pad_input, windows
from .memory import BufferPool, thread_buffer
from .targets import Direct, Epilogue, PoolAfter, Pooled
from .threads import run_split, workers

# Bytes of im2col buffer per tile: half of a 1 MiB L2, leaving room for the output tile.
TILE_BYTES = 512 * 1024
# But never fewer output rows per GEMM than this: with deep kernels (3x3x512) a tile of
# a few dozen rows would re-read the whole weight matrix for very little work.
MIN_TILE_ROWS = 256



def _as_2d(x, kernel, stride, dilation):
    """1-D inputs become 2-D with height 1, so one code path serves both."""
    if x.ndim != 3:
        return x, tuple(kernel), tuple(stride), tuple(dilation), False
    return x[:, None], (1, *kernel), (1, *stride), (1, *dilation), True


def _tiles(view: np.ndarray, row_bytes: int, target) -> Iterator[tuple]:
    """(index into `view`, first output row, rows, span) for tiles of about `TILE_BYTES`.

    `view` is (N, *out, ...window). A tile is several whole images when an image fits,
    else a run of output lines (the second-to-last output axis) of one image; `target`
    may round the lines per tile and stop short of the last lines. `span` is
    (n0, n1, h0, h1) for 2-D outputs, else None.
    """
    n, *out = view.shape[: view.ndim // 2]
    width = out[-1]
    rows = max(MIN_TILE_ROWS, TILE_BYTES // max(row_bytes, 1))
    lines = target.lines(max(1, rows // width))
    per_image = prod(out)
    if len(out) == 2:
        height = target.height(out[0])
        if lines >= height:
            images = max(1, lines // height)
            for n0 in range(0, n, images):
                n1 = min(n, n0 + images)
                yield ((slice(n0, n1), slice(0, height)), n0 * per_image,
                       (n1 - n0) * height * width, (n0, n1, 0, height))
            return
    height = target.height(out[-2])  # 1-D runs as 2-D, so there are always two axes
    for lead in np.ndindex(n, *out[:-2]):
        base = int(np.ravel_multi_index(lead, (n, *out[:-2]))) * out[-2] * width
        for h0 in range(0, height, lines):
            h1 = min(height, h0 + lines)
            span = (lead[0], lead[0] + 1, h0, h1) if len(out) == 2 else None
            yield (*lead, slice(h0, h1)), base + h0 * width, (h1 - h0) * width, span


def conv(x: np.ndarray, kernel: np.ndarray, stride, dilation, padding: str | Pads,
         groups: int = 1, epilogue: Epilogue | None = None,
         pool: BufferPool | None = None, then: PoolAfter | None = None) -> np.ndarray:
    """Grouped, strided, dilated convolution; `kernel` is (*k, C/groups, F) like Keras.

    With a `pool`, the output and the padded input come from it (and the padded input
    goes back to it). With `then` (1-D and 2-D windowed convolutions, which
    `fusion.tile_poolable` checks), the pooling is applied to each tile as it is made
    and its output is returned (see `targets`).
    """
    ksize = kernel.shape[:-2]
    x, ksize, stride, dilation, squeeze = _as_2d(x, ksize, stride, dilation)
    kernel = kernel.reshape(*ksize, *kernel.shape[-2:])
    xp = pad_input(x, ksize, stride, dilation, padding, pool=pool, parallel=True)
    out_sizes = output_sizes(xp.shape[1:-1], ksize, stride, dilation, "valid")
    filters = kernel.shape[-1]
    pointwise = all(k == 1 for k in ksize)
    if then is not None and (pointwise or len(out_sizes) != 2):
        raise ValueError("a pooling runs on the tiles of 1-D and 2-D windowed "
                         "convolutions only (fusion.tile_poolable)")
    if then is not None:
        then = then.as_2d() if squeeze else then
        y_sizes = tuple(then.out_size(n, axis) for axis, n in enumerate(out_sizes))
    else:
        y_sizes = out_sizes
    shape = (x.shape[0], *y_sizes, filters)
    y = pool.empty(shape, x.dtype) if pool else np.empty(shape, x.dtype)
    target = Direct(y, epilogue) if then is None else Pooled(
        y, then, epilogue, out_sizes[1], lambda name, size: thread_buffer(size, x.dtype, name))
    if pointwise:
        _pointwise(xp, kernel, stride, out_sizes, groups, y.reshape(-1, filters), epilogue)
    elif ROW_WINDOWS and _rows_reusable(ksize, stride, dilation, groups, kernel.shape[-2]):
        _row_im2col(xp, kernel, stride, dilation, out_sizes, target)
    elif PLANES and _planar(ksize, groups, kernel.shape[-2]):
        _planar_im2col(xp, kernel, stride, dilation, out_sizes, target)
    else:
        _im2col(xp, kernel, stride, dilation, out_sizes, groups, target)
    if pool and xp is not x and xp.base is None:
        pool.release(xp)
    return y[:, 0] if squeeze else y


def _pointwise(xp, kernel, stride, out_sizes, groups, y2, epilogue) -> None:
    """1x1 kernels: the input (subsampled if strided) is already the GEMM's matrix."""
    if any(s > 1 for s in stride):
        index = (slice(None), *(slice(0, o * s, s) for o, s in zip(out_sizes, stride)))
        xp = np.ascontiguousarray(xp[index])
    rows = xp.reshape(-1, xp.shape[-1])
    w = kernel.reshape(kernel.shape[-2], kernel.shape[-1])
    gemm_rows(rows, w, y2, epilogue, groups)


def gemm_rows(a: np.ndarray, w: np.ndarray, out: np.ndarray, epilogue: Epilogue | None,
              groups: int = 1) -> None:
    """out = a @ w, then the epilogue, in row tiles shared between the workers: two
    single-threaded GEMMs ran at nearly twice the speed of OpenBLAS's own two-threaded
    one on the same rows here. With `groups`, w is (C/groups, F) as Keras stores it and
    group g maps input channels g*C/groups... to output channels g*F/groups...."""
    cin, fout = w.shape[0], w.shape[1] // groups
    step = max(MIN_TILE_ROWS, TILE_BYTES // max(a.shape[1] * a.itemsize, 1))
    if len(a) <= step and groups == 1 and w.shape[1] >= 2 * MIN_COLUMNS:
        _gemm_columns(a, w, out, epilogue)
        return

    def work(chunk) -> None:
        for r0 in chunk:
            r1 = min(r0 + step, len(a))
            if groups == 1:
                np.matmul(a[r0:r1], w, out=out[r0:r1])
            else:
                for g in range(groups):
                    out[r0:r1, g * fout:(g + 1) * fout] = (
                        a[r0:r1, g * cin:(g + 1) * cin] @ w[:, g * fout:(g + 1) * fout])
            if epilogue:
                epilogue(out[r0:r1])

    run_split(work, range(0, len(a), step))


# A GEMM with too few rows to split (a dense layer on a small batch) is split by output
# columns when it has at least this many per worker: each reads its own weights, once.
MIN_COLUMNS = 64


def _gemm_columns(a: np.ndarray, w: np.ndarray, out: np.ndarray,
                  epilogue: Epilogue | None) -> None:
    """out = a @ w with the output columns split between the workers, then the epilogue
    (over whole rows, as it adds a whole bias row)."""
    parts = max(1, min(workers(), w.shape[1] // MIN_COLUMNS))
    bounds = [w.shape[1] * i // parts // 16 * 16 for i in range(parts)] + [w.shape[1]]

    def work(chunk) -> None:
        for c0, c1 in chunk:
            np.matmul(a, w[:, c0:c1], out=out[:, c0:c1])

    run_split(work, list(zip(bounds, bounds[1:])))
    if epilogue:
        epilogue(out)


ROW_WINDOWS = True  # the kernel-row form below; False falls back to full im2col
# Below this many values per kernel row (kw * C), one GEMM over full windows wins: with
# 3 input channels, three GEMMs of depth 9 and the sums between them cost twice as much
# as one GEMM of depth 27 here, while from 16 channels up the row form is the faster.
ROW_MIN_DEPTH = 32


def _rows_reusable(ksize, stride, dilation, groups, cin: int) -> bool:
    """2-D, stride and dilation 1 down the height, no groups: windows of one input row
    serve every kernel row, so only a row's windows need copying."""
    return len(ksize) == 2 and ksize[0] > 1 and stride[0] == 1 and dilation[0] == 1 \
        and groups == 1 and ksize[1] * cin >= ROW_MIN_DEPTH


def _row_im2col(xp, kernel, stride, dilation, out_sizes, target) -> None:
    """im2col of one kernel row at a time: copy each input row's horizontal windows once
    (kw*C values per output column, a third of full im2col for 3x3), then add one GEMM
    per kernel row, each reading a contiguous slice of that copy.

    A target that pools may ask for the output columns in phase order (`columns`): all
    first columns of the pooling windows, then all second ones..., so its column
    reduction reads long contiguous runs instead of one pixel's channels at a time."""
    kh, kw = kernel.shape[:2]
    cin, filters = kernel.shape[-2:]
    oh, ow = out_sizes
    depth = kw * cin
    sn, sh, sw, sc = xp.strides
    step = sw * stride[1]
    phases = target.columns(ow)
    # (N, input rows, *output columns, kw, C): each input row's horizontal windows.
    if phases is None:
        columns: tuple[int, ...] = (ow,)
        column_strides: tuple[int, ...] = (step,)
    else:
        count, every, groups = phases
        columns, column_strides = (count, groups), (step, step * every)
    rows_view = as_strided(xp, (xp.shape[0], xp.shape[1], *columns, kw, cin),
                           (sn, sh, *column_strides, sw * dilation[1], sc), writeable=False)
    line = prod(columns)  # output columns computed per line
    weights = [kernel[i].reshape(depth, filters) for i in range(kh)]
    lines = target.lines(max(1, max(MIN_TILE_ROWS, TILE_BYTES // (depth * xp.itemsize))
                             // line))
    height = target.height(oh)
    if lines >= height:  # whole images per tile: fewer, larger NumPy calls
        images = max(1, lines // height)
        tiles = [(n0, min(n0 + images, xp.shape[0]), 0, height)
                 for n0 in range(0, xp.shape[0], images)]
    else:
        tiles = [(n, n + 1, h0, min(height, h0 + lines)) for n in range(xp.shape[0])
                 for h0 in range(0, height, lines)]

    def work(chunk) -> None:
        for span in chunk:
            n0, n1, h0, h1 = span
            count, rows = n1 - n0, (h1 - h0) * line  # images, and output rows of each
            windows_ = _buffer(count * (h1 - h0 + kh - 1) * line * depth, xp.dtype)
            windows_ = windows_.reshape(count, h1 - h0 + kh - 1, *columns, kw, cin)
            np.copyto(windows_, rows_view[n0:n1, h0:h1 + kh - 1])
            flat = windows_.reshape(count, -1, depth)
            out = target.buffer((n0 * oh + h0) * ow, count * rows, span)
            out3 = out.reshape(count, rows, filters)
            np.matmul(flat[:, :rows], weights[0], out=out3)
            term = _scratch(count * rows * filters, xp.dtype).reshape(count, rows, filters)
            for i in range(1, kh):
                np.matmul(flat[:, i * line:i * line + rows], weights[i], out=term)
                out3 += term
            target.finish(out, span, phased=phases is not None)

    run_split(work, tiles)


def _im2col(xp, kernel, stride, dilation, out_sizes, groups, target) -> None:
    ksize = kernel.shape[:-2]
    view = windows(xp, out_sizes, ksize, stride, dilation)
    cin = kernel.shape[-2]
    depth = prod(ksize) * cin
    fout = kernel.shape[-1] // groups
    weights = [kernel[..., g * fout:(g + 1) * fout].reshape(depth, fout) for g in range(groups)]
    tiles = list(_tiles(view, depth * xp.itemsize, target))

    def work(chunk) -> None:
        for index, row0, rows, span in chunk:
            tile = view[index]
            out = target.buffer(row0, rows, span)
            cols = _buffer(rows * depth, xp.dtype).reshape(*tile.shape[:-1], cin)
            for g, w in enumerate(weights):
                np.copyto(cols, tile[..., g * cin:(g + 1) * cin] if groups > 1 else tile)
                if groups == 1:
                    np.matmul(cols.reshape(rows, depth), w, out=out)
                else:
                    out[:, g * fout:(g + 1) * fout] = cols.reshape(rows, depth) @ w
            target.finish(out, span)

    run_split(work, tiles)


PLANES = True  # the channel-plane form below for few channels; False: plain im2col
# At most this many values per kernel row (kw * C) make a window's runs too short to
# copy fast: 5 values for a 5x5 kernel on a grey image, a copy loop per 20 bytes. The
# first layers of LeNet-5 (5) and of a VGG on RGB (9) ran 30-45% and 10% faster in
# planes; LeNet's second (30) ran slower.
PLANAR_MAX_DEPTH = 16


def _planar(ksize, groups, cin: int) -> bool:
    return len(ksize) == 2 and groups == 1 and ksize[1] * cin <= PLANAR_MAX_DEPTH


def _planar_im2col(xp, kernel, stride, dilation, out_sizes, target) -> None:
    """im2col with the windows matrix stored transposed, one row per kernel offset and
    channel: each row is a shifted copy of one input plane, copied a whole output line
    (tens of values) at a time instead of one kernel row of one pixel (kw * C values,
    5 for a 5x5 kernel on a grey image). BLAS reads the transposed matrix as it lies."""
    kh, kw, cin, filters = kernel.shape
    oh, ow = out_sizes
    (sh, sw), (dh, dw) = stride, dilation
    planes = np.ascontiguousarray(xp.transpose(0, 3, 1, 2))  # (N, C, H, W); free for C=1
    pn, pc, ph, pw = planes.strides
    # (kh, kw, C, N, oh, ow): for each kernel offset and channel, the shifted plane.
    shifted = as_strided(planes, (kh, kw, cin, planes.shape[0], oh, ow),
                         (ph * dh, pw * dw, pc, pn, ph * sh, pw * sw), writeable=False)
    w = kernel.reshape(kh * kw * cin, filters)
    view = windows(xp, out_sizes, kernel.shape[:2], stride, dilation)
    tiles = list(_tiles(view, kh * kw * cin * xp.itemsize, target))

    def work(chunk) -> None:
        for _, row0, rows, span in chunk:
            n0, n1, h0, h1 = span
            cols = _buffer(kh * kw * cin * rows, xp.dtype)
            cols = cols.reshape(kh, kw, cin, n1 - n0, h1 - h0, ow)
            np.copyto(cols, shifted[:, :, :, n0:n1, h0:h1])
            out = target.buffer(row0, rows, span)
            np.matmul(cols.reshape(-1, rows).T, w, out=out)
            target.finish(out, span)

    run_split(work, tiles)


def _buffer(size: int, dtype, name: str = "windows") -> np.ndarray:
    """This thread's im2col buffer, grown as needed and kept for the next call."""
    return thread_buffer(size, dtype, name)


def _scratch(size: int, dtype) -> np.ndarray:
    """This thread's second buffer, for partial GEMM results."""
    return thread_buffer(size, dtype, "scratch")


def depthwise(x: np.ndarray, kernel: np.ndarray, stride, dilation, padding: str | Pads,
              epilogue: Epilogue | None = None) -> np.ndarray:
    """Depthwise convolution; `kernel` is (*k, C, M), output channel c*M + m as Keras."""
    ksize = kernel.shape[:-2]
    x, ksize, stride, dilation, squeeze = _as_2d(x, ksize, stride, dilation)
    kernel = kernel.reshape(*ksize, *kernel.shape[-2:])
    xp = pad_input(x, ksize, stride, dilation, padding)
    out_sizes = output_sizes(xp.shape[1:-1], ksize, stride, dilation, "valid")
    view = windows(xp, out_sizes, ksize, stride, dilation)
    channels, mult = kernel.shape[-2:]
    y = np.zeros((x.shape[0], *out_sizes, channels, mult), dtype=x.dtype)
    term = np.empty_like(y)
    lead = (slice(None),) * (1 + len(out_sizes))
    for k in np.ndindex(*ksize):
        np.multiply(view[(*lead, *k)][..., None], kernel[k], out=term)
        y += term
    y = y.reshape(*y.shape[:-2], channels * mult)
    if epilogue:
        epilogue(y.reshape(-1, channels * mult))
    return y[:, 0] if squeeze else y


def transposed(x: np.ndarray, kernel: np.ndarray, stride, padding: str | Pads,
               epilogue: Epilogue | None = None, outpad: tuple[int, ...] = ()) -> np.ndarray:
    """Transposed convolution; `kernel` is (*k, F, C) as Keras stores it.

    One GEMM gives every input position's contribution to a k-sized patch of every
    filter; the patches are then added into the output at stride spacing (col2im), and
    the result is cropped or zero-extended to Keras's output size, or, for (before,
    after) pairs (version 3's `pad=`), to PyTorch's: `before` cut from the start,
    `after` from the end, then `outpad` zeros added after.
    """
    ksize = kernel.shape[:-2]
    x, ksize, stride, _, squeeze = _as_2d(x, ksize, stride, (1,) * len(ksize))
    kernel = kernel.reshape(*ksize, *kernel.shape[-2:])
    n, *sizes, cin = x.shape
    filters = kernel.shape[-2]
    w = np.moveaxis(kernel, -1, 0).reshape(cin, -1)  # (C, k... * F)
    cols = (x.reshape(-1, cin) @ w).reshape(n, *sizes, *ksize, filters)
    full = [(i - 1) * s + k for i, k, s in zip(sizes, ksize, stride)]
    y_full = np.zeros((n, *full, filters), dtype=x.dtype)
    lead = (slice(None),) * (1 + len(sizes))
    for k in np.ndindex(*ksize):
        target = (slice(None), *(slice(o, o + s * (i - 1) + 1, s)
                                 for o, s, i in zip(k, stride, sizes)))
        y_full[target] += cols[(*lead, *k)]
    if isinstance(padding, tuple):
        pads = [(0, 0)] * (len(sizes) - len(padding)) + list(padding)  # 1-D as 2-D
        extra = [0] * (len(sizes) - len(outpad)) + list(outpad)
        out = [f - b - a + q for f, (b, a), q in zip(full, pads, extra)]
        cuts = [b for b, _ in pads]
    else:
        out = [deconv_length(i, kk, s, padding) for i, kk, s in zip(sizes, ksize, stride)]
        cuts = [max(f - o, 0) // 2 for f, o in zip(full, out)]
    y = np.zeros((n, *out, filters), dtype=x.dtype)
    src, dst = [slice(None)], [slice(None)]
    for f, o, before in zip(full, out, cuts):
        length = min(o, f - before)
        src.append(slice(before, before + length))
        dst.append(slice(0, length))
    y[tuple(dst)] = y_full[tuple(src)]
    if epilogue:
        epilogue(y.reshape(-1, filters))
    return y[:, 0] if squeeze else y

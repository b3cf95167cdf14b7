"""Keras's padding and kernel layouts in ONNX's terms: pure functions, doctested.

>>> conv_pads((7, 7), (3, 3), (2, 2), (1, 1), "same")  # Keras pads the odd one at the end
[1, 1, 1, 1]
>>> conv_pads((6,), (3,), (2,), (1,), "same")
[0, 1]
>>> deconv_pads((5,), (3,), (2,), (10,), "same")  # (pads, output_padding): 2*4 + 3 - 1
([0, 1], [0])
>>> deconv_pads((5,), (1,), (2,), (10,), "valid")  # Keras: 5*2, ONNX's formula: 9
([0, 0], [1])
"""

from __future__ import annotations

import numpy as np

from ...layers.shapes import Shape, same_padding


def conv_pads(sizes: Shape, kernel: Shape, stride: Shape, dilation: Shape,
              padding: str) -> list[int]:
    """ONNX `pads` (all begins, then all ends) for Keras's `same` or `valid`."""
    if padding != "same":
        return [0] * (2 * len(sizes))
    pairs = [same_padding(n, k, s, d) for n, k, s, d in zip(sizes, kernel, stride, dilation)]
    return [b for b, _ in pairs] + [e for _, e in pairs]


def deconv_pads(sizes: Shape, kernel: Shape, stride: Shape, out: Shape,
                padding: str) -> tuple[list[int], list[int]]:
    """(`pads`, `output_padding`) of a ConvTranspose giving Keras's output size `out`:
    TensorFlow crops max(k - s, 0) for `same`, the odd one at the end, and its output is
    longer than ONNX's s*(n-1) + k - pads when the kernel is smaller than the stride."""
    begins, ends, extra = [], [], []
    for n, k, s, o in zip(sizes, kernel, stride, out):
        total = max(k - s, 0) if padding == "same" else 0
        begins.append(total // 2)
        ends.append(total - total // 2)
        extra.append(o - (s * (n - 1) + k - total))
    return begins + ends, extra


def onnx_kernel(kernel: np.ndarray) -> np.ndarray:
    """Keras's (*k, A, B) to ONNX's (B, A, *k) (conv: B the filters; deconv: A).

    >>> onnx_kernel(np.zeros((3, 5, 2, 8))).shape
    (8, 2, 3, 5)
    """
    r = kernel.ndim - 2
    return np.ascontiguousarray(np.transpose(kernel, (r + 1, r, *range(r))))


def keras_kernel(kernel: np.ndarray) -> np.ndarray:
    """The inverse of `onnx_kernel`: ONNX's (B, A, *k) to Keras's (*k, A, B) (the ONNX
    importer's).

    >>> k = np.arange(3 * 5 * 2 * 8).reshape(3, 5, 2, 8)
    >>> bool((keras_kernel(onnx_kernel(k)) == k).all())
    True
    """
    r = kernel.ndim - 2
    return np.transpose(kernel, (*range(2, r + 2), 1, 0))


def keras_depthwise_kernel(kernel: np.ndarray, multiplier: int) -> np.ndarray:
    """The inverse of `depthwise_kernel`: ONNX's (C*M, 1, *k) to Keras's (*k, C, M).

    >>> k = np.arange(2 * 3 * 2).reshape(1, 2, 3, 2)
    >>> bool((keras_depthwise_kernel(depthwise_kernel(k), 2) == k).all())
    True
    """
    r = kernel.ndim - 2
    return np.transpose(kernel.reshape(-1, multiplier, *kernel.shape[2:]),
                        (*range(2, r + 2), 0, 1))


def depthwise_kernel(kernel: np.ndarray) -> np.ndarray:
    """Keras's (*k, C, M) to ONNX's (C*M, 1, *k): output channel c*M + m, as in Keras.

    >>> k = np.arange(2 * 3 * 2).reshape(1, 2, 3, 2)  # 1x2 kernel, C=3, M=2
    >>> depthwise_kernel(k)[:, 0, 0, 1].tolist() == k[0, 1].reshape(-1).tolist()
    True
    """
    flat = kernel.reshape(*kernel.shape[:-2], -1)
    return np.ascontiguousarray(np.moveaxis(flat, -1, 0)[:, None])

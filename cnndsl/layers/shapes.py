"""Output-size arithmetic, exactly as Keras computes it (pure functions, no layers).

These are the formulas of `keras/src/ops/operation_utils.py`, one spatial dimension at a
time, so that reports, the NumPy interpreter and the Keras model can never disagree.
"""

from __future__ import annotations

from math import prod

Shape = tuple[int, ...]


def effective_kernel(kernel: int, dilation: int = 1) -> int:
    """The extent a dilated kernel covers.

    >>> effective_kernel(3, 2)
    5
    """
    return dilation * (kernel - 1) + 1


def conv_length(size: int, kernel: int, stride: int, padding: str, dilation: int = 1) -> int:
    """Output length of a convolution or pooling window along one dimension.

    A result below 1 means the window does not fit; callers turn that into an error.

    >>> conv_length(6, 3, 1, "valid")
    4
    >>> conv_length(224, 7, 2, "same")
    112
    >>> conv_length(7, 3, 2, "valid", dilation=2)
    2
    """
    if padding == "same":
        return -(-size // stride)
    return (size - effective_kernel(kernel, dilation)) // stride + 1


def deconv_length(size: int, kernel: int, stride: int, padding: str) -> int:
    """Output length of a transposed convolution (Keras `deconv_output_length`).

    With `valid` padding Keras gives `size*stride + max(kernel - stride, 0)`, which is
    `(size-1)*stride + kernel` whenever the kernel is at least the stride.

    >>> deconv_length(7, 3, 2, "valid")
    15
    >>> deconv_length(7, 1, 2, "valid")
    14
    >>> deconv_length(7, 3, 2, "same")
    14
    """
    if padding == "same":
        return size * stride
    return size * stride + max(kernel - stride, 0)


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's `same` padding (before, after): the odd extra goes after.

    >>> same_padding(224, 7, 2)
    (2, 3)
    >>> same_padding(5, 3, 1)
    (1, 1)
    """
    out = -(-size // stride)
    total = max((out - 1) * stride + effective_kernel(kernel, dilation) - size, 0)
    return total // 2, total - total // 2


def elements(shape: Shape) -> int:
    """Number of elements of a tensor (batch axis excluded).

    >>> elements((4, 4, 2))
    32
    """
    return prod(shape)


def spatial(shape: Shape) -> Shape:
    """The spatial dimensions of a channels-last tensor.

    >>> spatial((28, 28, 1))
    (28, 28)
    """
    return shape[:-1]


def format_shape(shape: Shape) -> str:
    """The DSL's way of writing a shape.

    >>> format_shape((4, 4, 2))
    '4x4x2'
    """
    return "x".join(str(d) for d in shape)


# version 3: padding
def padded_length(size: int, kernel: int, stride: int, before: int, after: int,
                  dilation: int = 1, ceil: bool = False) -> int:
    """Output length of a window over an input padded `before` and `after` (PyTorch's
    and ONNX's rule); with `ceil` rounded up, but never a window that would start in the
    padding after the input (PyTorch's `ceil_mode`). Below 1: the window does not fit.

    >>> padded_length(224, 7, 2, 3, 3)  # ResNet's stem, `conv 7/2 pad=3`
    112
    >>> padded_length(112, 3, 2, 1, 1)  # and its `maxpool 3/2 pad=1`
    56
    >>> padded_length(55, 3, 2, 0, 0, ceil=True)  # SqueezeNet's `maxpool 3/2 ceil`: 26.5
    27
    >>> padded_length(5, 2, 2, 1, 1, ceil=True)  # the 4th window would start at 6 >= 5 + 1
    3
    """
    span = size + before + after - effective_kernel(kernel, dilation)
    out = (-(-span // stride) if ceil else span // stride) + 1
    if ceil and (out - 1) * stride >= size + before:
        out -= 1
    return out


def transposed_length(size: int, kernel: int, stride: int, before: int, after: int,
                      extra: int = 0, dilation: int = 1) -> int:
    """Output length of a transposed convolution with PyTorch's `padding` cut from each
    end (`before`, `after`) and `output_padding` (`extra`) added after.

    >>> transposed_length(7, 3, 2, 1, 1, 1)  # `deconv 3/2 pad=1 outpad=1`: doubles
    14
    >>> transposed_length(7, 3, 2, 0, 0)  # pad=0: Keras's `valid`
    15
    """
    return (size - 1) * stride - before - after + effective_kernel(kernel, dilation) + extra

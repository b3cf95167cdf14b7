"""The interpreter's memory reuse (in-place layers, recycled buffers, folding) must never
change a result: every optimised run equals the plain run that keeps every output."""

from pathlib import Path

import numpy as np
import pytest

import cnndsl
from cnndsl.backends.numpy import Interpreter
from cnndsl.backends.weights import init_weights

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

RESIDUAL = """
def block(f) = residual { conv 3 x{f} same -> bn -> relu -> conv 3 x{f} same -> bn } -> relu
input 12x12x3 -> conv 3 x8 same -> bn -> relu -> (block(8)) * 3
  -> add { id | relu | conv 1 x8 -> bn } -> relu -> max { id | avgpool 3/1 same }
  -> concat { id | maxpool 3/1 same | conv 1 x4 } -> mul { id | gap -> dense 20 sigmoid
  -> reshape 1x1x20 } -> avg { id | relu } -> zeropad 1 -> conv 3/2 x6 -> gap -> dense 5
"""


def _random_weights(graph, seed):
    rng = np.random.default_rng(seed)
    weights = init_weights(graph, seed)
    for key, value in weights.items():
        if key.endswith(("/bias", "/beta", "/moving_mean")):
            weights[key] = rng.normal(0, 0.3, value.shape)
        elif key.endswith(("/gamma", "/moving_variance")):
            weights[key] = rng.uniform(0.5, 1.5, value.shape)
    return weights


@pytest.mark.parametrize("source", [RESIDUAL, (EXAMPLES / "se_resnet_small.cnn").read_text(),
                                    (EXAMPLES / "inception_block.cnn").read_text()])
def test_optimised_runs_equal_the_plain_run(source):
    graph = cnndsl.compile_text(source)
    weights = _random_weights(graph, 1)
    plain = Interpreter(graph, weights, np.float64, keep=True)
    fast = Interpreter(graph, weights, np.float64)
    rng = np.random.default_rng(0)
    for _ in range(3):  # later runs take their buffers from the pool
        x = rng.standard_normal((2, *graph.input.shape))
        x_before = x.copy()
        expected = plain.run(x)
        np.testing.assert_allclose(fast.run(x), expected, rtol=1e-10, atol=1e-12)
        np.testing.assert_array_equal(x, x_before)  # the caller's input is never written


def test_result_is_not_recycled_by_the_next_run():
    net = cnndsl.parse("input 8x8x2 -> conv 3 x4 same relu -> add { id | relu }")
    net.init_weights(3)
    x = np.random.default_rng(0).standard_normal((2, 8, 8, 2)).astype(np.float32)
    first = net.run(x)
    kept = first.copy()
    net.run(x * 2)
    np.testing.assert_array_equal(first, kept)

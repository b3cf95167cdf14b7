"""Every layer kind and option, in 1-D, 2-D, 3-D and on vectors, checked against formulas
written out by hand; then naming, blocks, `{expr}`, repetition and receptive fields.

Each row of `ROWS` goes through one helper, `check_layer(spec, in_shape, out_shape,
params, flops=, trainable=, macs=)` (tests/conftest.py). Every row states its FLOPs, and
its MACs when the step has weights. Counts are spelled as the formula they come from
(`3*3*16*32 + 32`, `2*(26*26*32 * 3*3*16) + 26*26*32`), worked out by hand from the
conventions of docs/report.md, never copied from cnndsl's output.
"""

from __future__ import annotations

from fractions import Fraction
from math import prod

import pytest

from cnndsl import CnnError, analyse, compile_text
from cnndsl.layers import KINDS
from cnndsl.layers.activations import ACTIVATIONS, VALUE_NEEDED, canonical_activation


def row(spec, in_shape, out_shape, params, *, flops, trainable=None, macs=None):
    """One case of `test_layer`: FLOPs always, MACs whenever the step has weights."""
    if macs is None:
        if params:
            raise TypeError(f"row {spec!r} has weights: write out its MACs")
        macs = 0  # only layers with weights have MACs (docs/report.md)
    shape = "x".join(map(str, in_shape))
    return pytest.param(spec, in_shape, out_shape, params, flops, trainable, macs,
                        id=f"{spec} @ {shape}")


ACTIVATION_WORDS = ["relu", "relu6", "sigmoid", "hard_sigmoid", "tanh", "softmax", "elu",
                    "selu", "gelu", "silu", "swish", "softplus", "leaky_relu", "linear",
                    "leaky_relu=0.1", "hard_swish", "hard_silu",
                    # version 3: normalisation and activations
                    "elu=0.5", "celu", "celu=0.5", "gelu=tanh", "mish", "softsign",
                    "log_softmax", "clip=-1,1", "clip=0,6"]

# FLOPs per element of each activation word: the table of docs/report.md.
COST = {"linear": 0, "relu": 1, "tanh": 1, "relu6": 2, "leaky_relu": 2, "leaky_relu=0.1": 2,
        "sigmoid": 3, "softplus": 3, "elu": 3, "hard_sigmoid": 4, "silu": 4, "swish": 4,
        "softmax": 4, "selu": 5, "gelu": 5,
        # x * hard_sigmoid(x): hard_sigmoid's 4 and a multiply
        "hard_swish": 5, "hard_silu": 5,
        # version 3. elu=0.5: compare, exp, subtract, and the multiply by alpha;
        # celu: x if x > 0 else a*(exp(x/a) - 1): compare, divide, exp, subtract, multiply
        # (alpha 1 or not); gelu=tanh: x*x*x (2), *0.044715, + x, *sqrt(2/pi), tanh, + 1,
        # x/2, the last multiply; mish: softplus's 3, tanh, multiply; softsign: abs, add,
        # divide; log_softmax: softmax's 4 with a subtract for the divide; clip: max, min
        "elu=0.5": 3 + 1, "celu": 5, "celu=0.5": 5, "gelu=tanh": 2 + 1 + 1 + 1 + 1 + 1 + 1 + 1,
        "mish": 3 + 1 + 1, "softsign": 3, "log_softmax": 4, "clip=-1,1": 2, "clip=0,6": 2}

ROWS = [
    # ---- conv, 2-D ------------------------------------------------------------------
    # FLOPs: 2 per MAC, then one bias add and the activation's cost per output value
    row("conv 3x3 x32", (28, 28, 16), (26, 26, 32), 3*3*16*32 + 32,
        macs=26*26*32 * 3*3*16, flops=2*(26*26*32 * 3*3*16) + 26*26*32),
    row("conv 3x3/1 x2", (6, 6, 1), (4, 4, 2), 3*3*1*2 + 2, macs=4*4*2 * 3*3*1,
        flops=2*(4*4*2 * 3*3*1) + 4*4*2),
    row("conv 3 x2", (6, 6, 1), (4, 4, 2), 3*3*1*2 + 2, macs=4*4*2 * 3*3*1,
        flops=2*(4*4*2 * 3*3*1) + 4*4*2),
    row("conv 3x3/2 x8", (7, 7, 3), (3, 3, 8), 3*3*3*8 + 8, macs=3*3*8 * 3*3*3,
        flops=2*(3*3*8 * 3*3*3) + 3*3*8),
    row("conv 3/2 x8 same", (7, 7, 3), (4, 4, 8), 3*3*3*8 + 8, macs=4*4*8 * 3*3*3,
        flops=2*(4*4*8 * 3*3*3) + 4*4*8),
    row("conv 3x3/2x1 x4", (9, 9, 1), (4, 7, 4), 3*3*1*4 + 4, macs=4*7*4 * 3*3*1,
        flops=2*(4*7*4 * 3*3*1) + 4*7*4),
    row("conv 3/3 x2 same", (10, 10, 1), (4, 4, 2), 3*3*1*2 + 2, macs=4*4*2 * 3*3*1,
        flops=2*(4*4*2 * 3*3*1) + 4*4*2),
    row("conv 4x3/3 x5", (15, 11, 3), (4, 3, 5), 4*3*3*5 + 5, macs=4*3*5 * 4*3*3,
        flops=2*(4*3*5 * 4*3*3) + 4*3*5),
    row("conv 5x5 x6 tanh", (32, 32, 1), (28, 28, 6), 5*5*1*6 + 6, macs=28*28*6 * 5*5*1,
        flops=2*(28*28*6 * 5*5*1) + 28*28*6*(1 + 1)),
    row("conv 7x7/2 x64 same relu", (224, 224, 3), (112, 112, 64), 7*7*3*64 + 64,
        macs=112*112*64 * 7*7*3, flops=2*(112*112*64 * 7*7*3) + 112*112*64*(1 + 1)),
    row("conv 1x7 x64", (17, 17, 32), (17, 11, 64), 1*7*32*64 + 64,
        macs=17*11*64 * 1*7*32, flops=2*(17*11*64 * 1*7*32) + 17*11*64),
    row("conv 1x7 x64 same", (17, 17, 32), (17, 17, 64), 1*7*32*64 + 64,
        macs=17*17*64 * 1*7*32, flops=2*(17*17*64 * 1*7*32) + 17*17*64),
    row("conv 7x1 x8 same", (9, 9, 4), (9, 9, 8), 7*1*4*8 + 8, macs=9*9*8 * 7*1*4,
        flops=2*(9*9*8 * 7*1*4) + 9*9*8),
    row("conv 1 x96", (8, 8, 16), (8, 8, 96), 1*1*16*96 + 96, macs=8*8*96 * 16,
        flops=2*(8*8*96 * 16) + 8*8*96),
    # dilation widens the window, not the kernel: K stays 3*3
    row("conv 3x3 x4 dilation=2", (9, 9, 2), (5, 5, 4), 3*3*2*4 + 4, macs=5*5*4 * 3*3*2,
        flops=2*(5*5*4 * 3*3*2) + 5*5*4),
    row("conv 3x3 x4 dilation=2x1", (9, 9, 2), (5, 7, 4), 3*3*2*4 + 4, macs=5*7*4 * 3*3*2,
        flops=2*(5*7*4 * 3*3*2) + 5*7*4),
    row("conv 3x3 x4 same dilation=3", (9, 9, 2), (9, 9, 4), 3*3*2*4 + 4,
        macs=9*9*4 * 3*3*2, flops=2*(9*9*4 * 3*3*2) + 9*9*4),
    row("conv 3x3 x8 groups=2", (10, 10, 4), (8, 8, 8), 3*3*(4//2)*8 + 8,
        macs=8*8*8 * 3*3*(4//2), flops=2*(8*8*8 * 3*3*(4//2)) + 8*8*8),
    row("conv 1 x6 groups=3", (5, 5, 6), (5, 5, 6), 1*1*(6//3)*6 + 6, macs=5*5*6 * (6//3),
        flops=2*(5*5*6 * (6//3)) + 5*5*6),
    row("conv 3x3 x8 bias=false", (5, 5, 2), (3, 3, 8), 3*3*2*8, macs=3*3*8 * 3*3*2,
        flops=2*(3*3*8 * 3*3*2)),
    row("conv 3x3 x8 bias=true", (5, 5, 2), (3, 3, 8), 3*3*2*8 + 8, macs=3*3*8 * 3*3*2,
        flops=2*(3*3*8 * 3*3*2) + 3*3*8),
    # options in any order after the positional arguments
    row("conv 3x3/2 x4 bias=false relu same", (8, 8, 2), (4, 4, 4), 3*3*2*4,
        macs=4*4*4 * 3*3*2, flops=2*(4*4*4 * 3*3*2) + 4*4*4*1),
    row("conv 3 x4 groups=2 leaky_relu=0.1 same bias=false", (6, 6, 2), (6, 6, 4),
        3*3*(2//2)*4, macs=6*6*4 * 3*3*(2//2), flops=2*(6*6*4 * 3*3*(2//2)) + 6*6*4*2),
    # ---- conv, 1-D and 3-D --------------------------------------------------------------
    row("conv 5 x16", (100, 3), (96, 16), 5*3*16 + 16, macs=96*16 * 5*3,
        flops=2*(96*16 * 5*3) + 96*16),
    row("conv 3/2 x4 same", (9, 2), (5, 4), 3*2*4 + 4, macs=5*4 * 3*2,
        flops=2*(5*4 * 3*2) + 5*4),
    row("conv 3/2 x4", (9, 2), (4, 4), 3*2*4 + 4, macs=4*4 * 3*2, flops=2*(4*4 * 3*2) + 4*4),
    row("conv 3 x4 dilation=4", (20, 1), (12, 4), 3*1*4 + 4, macs=12*4 * 3*1,
        flops=2*(12*4 * 3*1) + 12*4),
    row("conv 3 x4 groups=2 bias=false", (10, 6), (8, 4), 3*(6//2)*4, macs=8*4 * 3*(6//2),
        flops=2*(8*4 * 3*(6//2))),
    row("conv 3 x8", (16, 32, 32, 1), (14, 30, 30, 8), 3*3*3*1*8 + 8,
        macs=14*30*30*8 * 3*3*3*1, flops=2*(14*30*30*8 * 3*3*3*1) + 14*30*30*8),
    row("conv 3x3x3/2 x4 same", (7, 8, 9, 2), (4, 4, 5, 4), 3*3*3*2*4 + 4,
        macs=4*4*5*4 * 3*3*3*2, flops=2*(4*4*5*4 * 3*3*3*2) + 4*4*5*4),
    row("conv 1x3x3 x2", (4, 5, 6, 3), (4, 3, 4, 2), 1*3*3*3*2 + 2, macs=4*3*4*2 * 1*3*3*3,
        flops=2*(4*3*4*2 * 1*3*3*3) + 4*3*4*2),
    row("conv 3 x2 dilation=2x1x1", (9, 9, 9, 1), (5, 7, 7, 2), 3*3*3*1*2 + 2,
        macs=5*7*7*2 * 3*3*3*1, flops=2*(5*7*7*2 * 3*3*3*1) + 5*7*7*2),
    # ---- dwconv -------------------------------------------------------------------------
    row("dwconv 3x3", (8, 8, 16), (6, 6, 16), 3*3*16 + 16, macs=6*6*16 * 3*3,
        flops=2*(6*6*16 * 3*3) + 6*6*16),
    row("dwconv 3x3 x2", (8, 8, 4), (6, 6, 8), 3*3*4*2 + 4*2, macs=6*6*(4*2) * 3*3,
        flops=2*(6*6*(4*2) * 3*3) + 6*6*(4*2)),
    row("dwconv 3/2 same", (7, 7, 3), (4, 4, 3), 3*3*3 + 3, macs=4*4*3 * 3*3,
        flops=2*(4*4*3 * 3*3) + 4*4*3),
    row("dwconv 3 bias=false relu6", (5, 5, 8), (3, 3, 8), 3*3*8, macs=3*3*8 * 3*3,
        flops=2*(3*3*8 * 3*3) + 3*3*8*2),
    row("dwconv 3 x3 same bias=false", (5, 5, 2), (5, 5, 6), 3*3*2*3, macs=5*5*(2*3) * 3*3,
        flops=2*(5*5*(2*3) * 3*3)),
    row("dwconv 5 x3", (20, 2), (16, 6), 5*2*3 + 2*3, macs=16*(2*3) * 5,
        flops=2*(16*(2*3) * 5) + 16*(2*3)),
    row("dwconv 3", (5, 5, 5, 2), (3, 3, 3, 2), 3*3*3*2 + 2, macs=3*3*3*2 * 3*3*3,
        flops=2*(3*3*3*2 * 3*3*3) + 3*3*3*2),
    # ---- sepconv ------------------------------------------------------------------------
    # one bias, on the pointwise output only
    row("sepconv 3x3 x32", (10, 10, 16), (8, 8, 32), 3*3*16 + 16*32 + 32,
        macs=8*8*16 * 3*3 + 8*8*16*32, flops=2*(8*8*16 * 3*3 + 8*8*16*32) + 8*8*32),
    row("sepconv 3/2 x8 same relu", (7, 7, 4), (4, 4, 8), 3*3*4 + 4*8 + 8,
        macs=4*4*4 * 3*3 + 4*4*4*8, flops=2*(4*4*4 * 3*3 + 4*4*4*8) + 4*4*8*(1 + 1)),
    row("sepconv 3 x8 bias=false", (5, 5, 4), (3, 3, 8), 3*3*4 + 4*8,
        macs=3*3*4 * 3*3 + 3*3*4*8, flops=2*(3*3*4 * 3*3 + 3*3*4*8)),
    row("sepconv 3 x8", (10, 4), (8, 8), 3*4 + 4*8 + 8, macs=8*4 * 3 + 8*4*8,
        flops=2*(8*4 * 3 + 8*4*8) + 8*8),
    row("sepconv 3 x2", (4, 4, 4, 3), (2, 2, 2, 2), 3*3*3*3 + 3*2 + 2,
        macs=2*2*2*3 * 3*3*3 + 2*2*2*3*2, flops=2*(2*2*2*3 * 3*3*3 + 2*2*2*3*2) + 2*2*2*2),
    # ---- deconv: valid (in-1)*S + K, same in*S; K < S gives in*S + max(K-S, 0) ---------
    # MACs count input positions (each scatters a kernel into every filter); the bias
    # and the activation work on the output
    row("deconv 2x2/2 x64", (7, 7, 128), (14, 14, 64), 2*2*64*128 + 64,
        macs=7*7 * 2*2 * 128*64, flops=2*(7*7 * 2*2 * 128*64) + 14*14*64),
    row("deconv 3x3/2 x4", (7, 7, 2), (15, 15, 4), 3*3*4*2 + 4, macs=7*7 * 3*3 * 2*4,
        flops=2*(7*7 * 3*3 * 2*4) + 15*15*4),
    row("deconv 3x3/2 x4 same", (7, 7, 2), (14, 14, 4), 3*3*4*2 + 4, macs=7*7 * 3*3 * 2*4,
        flops=2*(7*7 * 3*3 * 2*4) + 14*14*4),
    row("deconv 1/2 x4", (7, 7, 2), (14, 14, 4), 1*1*4*2 + 4, macs=7*7 * 1*1 * 2*4,
        flops=2*(7*7 * 1*1 * 2*4) + 14*14*4),
    row("deconv 2/3 x1", (5, 5, 1), (15, 15, 1), 2*2*1*1 + 1, macs=5*5 * 2*2 * 1*1,
        flops=2*(5*5 * 2*2 * 1*1) + 15*15*1),
    row("deconv 3 x4", (5, 5, 1), (7, 7, 4), 3*3*4*1 + 4, macs=5*5 * 3*3 * 1*4,
        flops=2*(5*5 * 3*3 * 1*4) + 7*7*4),
    row("deconv 3x3/2x1 x1 bias=false", (4, 4, 1), (9, 6, 1), 3*3*1*1, macs=4*4 * 3*3 * 1*1,
        flops=2*(4*4 * 3*3 * 1*1)),
    row("deconv 4/2 x3 relu", (10, 2), (22, 3), 4*3*2 + 3, macs=10 * 4 * 2*3,
        flops=2*(10 * 4 * 2*3) + 22*3*(1 + 1)),
    row("deconv 2/2 x2", (3, 4, 5, 1), (6, 8, 10, 2), 2*2*2*2*1 + 2,
        macs=3*4*5 * 2*2*2 * 1*2, flops=2*(3*4*5 * 2*2*2 * 1*2) + 6*8*10*2),
    # ---- pooling: stride defaults to the window -----------------------------------------
    # FLOPs per output value: maxpool K-1 comparisons, avgpool K-1 adds and one divide
    # (a full window even where `same` padding cuts it)
    row("maxpool 2", (6, 6, 2), (3, 3, 2), 0, flops=(2*2 - 1) * 3*3*2),
    row("maxpool 2", (7, 7, 2), (3, 3, 2), 0, flops=(2*2 - 1) * 3*3*2),
    row("maxpool 3/2", (7, 7, 4), (3, 3, 4), 0, flops=(3*3 - 1) * 3*3*4),
    row("maxpool 2 same", (7, 7, 1), (4, 4, 1), 0, flops=(2*2 - 1) * 4*4*1),
    row("maxpool 3/1 same", (7, 7, 1), (7, 7, 1), 0, flops=(3*3 - 1) * 7*7*1),
    row("maxpool 2x1", (6, 6, 1), (3, 6, 1), 0, flops=(2*1 - 1) * 3*6*1),
    row("maxpool 2x2/1", (6, 6, 1), (5, 5, 1), 0, flops=(2*2 - 1) * 5*5*1),
    row("avgpool 2", (28, 28, 6), (14, 14, 6), 0, flops=2*2 * 14*14*6),
    row("avgpool 3/2 same", (9, 9, 3), (5, 5, 3), 0, flops=3*3 * 5*5*3),
    row("avgpool 3 valid", (10, 10, 3), (3, 3, 3), 0, flops=3*3 * 3*3*3),
    row("maxpool 2", (9, 3), (4, 3), 0, flops=(2 - 1) * 4*3),
    row("avgpool 4/2", (10, 1), (4, 1), 0, flops=4 * 4*1),
    row("avgpool 3 same", (10, 1), (4, 1), 0, flops=3 * 4*1),
    row("maxpool 2", (4, 6, 6, 2), (2, 3, 3, 2), 0, flops=(2*2*2 - 1) * 2*3*3*2),
    row("maxpool 1x2x2", (4, 6, 6, 2), (4, 3, 3, 2), 0, flops=(1*2*2 - 1) * 4*3*3*2),
    row("avgpool 2 same", (3, 3, 3, 1), (2, 2, 2, 1), 0, flops=2*2*2 * 2*2*2*1),
    # ---- global pooling and flatten ----------------------------------------------------
    # gap: P-1 adds and one divide per channel; gmp: P-1 comparisons per channel
    row("gap", (7, 7, 512), (512,), 0, flops=7*7 * 512),
    row("gmp", (7, 7, 512), (512,), 0, flops=(7*7 - 1) * 512),
    row("gap", (100, 8), (8,), 0, flops=100 * 8),
    row("gmp", (2, 3, 4, 5), (5,), 0, flops=(2*3*4 - 1) * 5),
    row("flatten", (3, 3, 64), (3*3*64,), 0, flops=0),
    row("flatten", (10, 4), (10*4,), 0, flops=0),
    row("flatten", (2, 2, 2, 3), (2*2*2*3,), 0, flops=0),
    row("flatten", (5,), (5,), 0, flops=0),
    # ---- dense: Cin*N + N, on the last axis of a tensor --------------------------------
    row("dense 10", (784,), (10,), 784*10 + 10, macs=784*10, flops=2*(784*10) + 10),
    row("dense 10 softmax", (8,), (10,), 8*10 + 10, macs=8*10, flops=2*(8*10) + 10*(1 + 4)),
    row("dense 4 bias=false", (8,), (4,), 8*4, macs=8*4, flops=2*(8*4)),
    row("dense 3 leaky_relu=0.1", (5,), (3,), 5*3 + 3, macs=5*3, flops=2*(5*3) + 3*(1 + 2)),
    row("dense 16", (5, 5, 8), (5, 5, 16), 8*16 + 16, macs=5*5 * 8*16,
        flops=2*(5*5 * 8*16) + 5*5*16),
    row("dense 4 relu", (10, 3), (10, 4), 3*4 + 4, macs=10 * 3*4,
        flops=2*(10 * 3*4) + 10*4*(1 + 1)),
    row("dense 2", (2, 3, 4, 5), (2, 3, 4, 2), 5*2 + 2, macs=2*3*4 * 5*2,
        flops=2*(2*3*4 * 5*2) + 2*3*4*2),
    # ---- dropout ------------------------------------------------------------------------
    row("dropout 0.5", (10,), (10,), 0, flops=0),
    row("dropout 0", (4, 4, 2), (4, 4, 2), 0, flops=0),
    row("dropout 0.25", (10, 3), (10, 3), 0, flops=0),
    row("dropout .1", (2, 2, 2, 2), (2, 2, 2, 2), 0, flops=0),
    # ---- batchnorm: 4C params, 2C trainable; folded into a multiply-add at inference ----
    row("batchnorm", (8, 8, 16), (8, 8, 16), 4*16, trainable=2*16, macs=0,
        flops=2 * 8*8*16),
    row("bn", (8, 8, 16), (8, 8, 16), 4*16, trainable=2*16, macs=0, flops=2 * 8*8*16),
    row("batchnorm eps=1e-5 momentum=0.9", (8, 8, 16), (8, 8, 16), 4*16, trainable=2*16,
        macs=0, flops=2 * 8*8*16),
    row("bn momentum=0.5 eps=0.01", (3, 3, 5), (3, 3, 5), 4*5, trainable=2*5, macs=0,
        flops=2 * 3*3*5),
    row("bn", (10,), (10,), 4*10, trainable=2*10, macs=0, flops=2 * 10),
    row("batchnorm", (100, 3), (100, 3), 4*3, trainable=2*3, macs=0, flops=2 * 100*3),
    row("bn", (2, 4, 4, 7), (2, 4, 4, 7), 4*7, trainable=2*7, macs=0, flops=2 * 2*4*4*7),
    # ---- zeropad: P both sides, B:A before:after ----------------------------------------
    row("zeropad 1", (4, 4, 2), (6, 6, 2), 0, flops=0),
    row("zeropad 0x1", (4, 4, 2), (4, 6, 2), 0, flops=0),
    row("zeropad 0:1x0:1", (4, 4, 2), (5, 5, 2), 0, flops=0),
    row("zeropad 2:0x1:3", (4, 4, 2), (6, 8, 2), 0, flops=0),
    row("zeropad 0", (4, 4, 2), (4, 4, 2), 0, flops=0),
    row("zeropad 2", (10, 1), (14, 1), 0, flops=0),
    row("zeropad 1:0", (10, 1), (11, 1), 0, flops=0),
    row("zeropad 1", (2, 2, 2, 1), (4, 4, 4, 1), 0, flops=0),
    row("zeropad 0x1x2", (2, 2, 2, 1), (2, 4, 6, 1), 0, flops=0),
    # ---- upsample -----------------------------------------------------------------------
    row("upsample 2", (7, 7, 3), (14, 14, 3), 0, flops=0),
    row("upsample 2x3", (7, 7, 3), (14, 21, 3), 0, flops=0),
    row("upsample 3", (5, 2), (15, 2), 0, flops=0),
    row("upsample 2", (2, 3, 4, 1), (4, 6, 8, 1), 0, flops=0),
    # ---- reshape ------------------------------------------------------------------------
    row("reshape 1x1x64", (64,), (1, 1, 64), 0, flops=0),
    row("reshape 7x7x64", (7*7*64,), (7, 7, 64), 0, flops=0),
    row("reshape 16", (4, 4, 1), (16,), 0, flops=0),
    row("reshape 4x2", (2, 2, 2), (4, 2), 0, flops=0),
    row("reshape 2x2x2x1", (8,), (2, 2, 2, 1), 0, flops=0),
    # ---- activation steps, every word, every rank: its cost per output value ------------
    *[row(word, shape, shape, 0, flops=COST[word] * prod(shape)) for word in ACTIVATION_WORDS
      for shape in [(4, 4, 3), (10,), (6, 2), (2, 2, 2, 2)]],
    # ---- every word fused into conv and dense: a bias add and its cost per output value -
    *[row(f"conv 1 x2 {word}", (3, 3, 1), (3, 3, 2), 1*1*1*2 + 2, macs=3*3*2 * 1*1*1,
          flops=2*(3*3*2 * 1*1*1) + 3*3*2*(1 + COST[word])) for word in ACTIVATION_WORDS],
    *[row(f"dense 3 {word}", (4,), (3,), 4*3 + 3, macs=4*3, flops=2*(4*3) + 3*(1 + COST[word]))
      for word in ACTIVATION_WORDS],
    # ---- merges: elementwise (equal or broadcast 1s) and concat -------------------------
    # FLOPs of the merge itself, per output value: add, mul, max n-1; avg n (n-1 adds and
    # a multiply); concat 0. The branches' own layers are added term by term.
    row("add { id | conv 1 x4 }", (3, 3, 4), (3, 3, 4), 1*1*4*4 + 4, macs=3*3*4 * 1*1*4,
        flops=(2*(3*3*4 * 1*1*4) + 3*3*4) + (2 - 1) * 3*3*4),
    row("add { id | conv 3 x4 same }", (5, 5, 4), (5, 5, 4), 3*3*4*4 + 4,
        macs=5*5*4 * 3*3*4, flops=(2*(5*5*4 * 3*3*4) + 5*5*4) + (2 - 1) * 5*5*4),
    row("add { id | relu | tanh }", (5, 5, 4), (5, 5, 4), 0,
        flops=5*5*4*1 + 5*5*4*1 + (3 - 1) * 5*5*4),
    row("mul { id | gap -> dense 2 relu -> dense 8 sigmoid -> reshape 1x1x8 }", (6, 6, 8),
        (6, 6, 8), (8*2 + 2) + (2*8 + 8), macs=8*2 + 2*8,
        flops=6*6*8 + (2*(8*2) + 2*(1 + 1)) + (2*(2*8) + 8*(1 + 3)) + 0 + (2 - 1) * 6*6*8),
    row("mul { id | tanh | sigmoid }", (6,), (6,), 0, flops=6*1 + 6*3 + (3 - 1) * 6),
    row("avg { id | relu }", (5, 5, 4), (5, 5, 4), 0, flops=5*5*4*1 + 2 * 5*5*4),
    row("avg { id | id | id }", (5, 5, 4), (5, 5, 4), 0, flops=3 * 5*5*4),
    row("max { conv 1 x4 | conv 3 x4 same }", (5, 5, 2), (5, 5, 4),
        (1*1*2*4 + 4) + (3*3*2*4 + 4), macs=5*5*4 * 1*1*2 + 5*5*4 * 3*3*2,
        flops=(2*(5*5*4 * 1*1*2) + 5*5*4) + (2*(5*5*4 * 3*3*2) + 5*5*4) + (2 - 1) * 5*5*4),
    row("max { id | id | id }", (2, 3), (2, 3), 0, flops=(3 - 1) * 2*3),
    # broadcasting: the merge's cost is on its output, the larger shape
    row("add { id | gap -> reshape 1x1x4 }", (3, 3, 4), (3, 3, 4), 0,
        flops=3*3*4 + (2 - 1) * 3*3*4),
    row("max { gap -> reshape 1x1x4 | id }", (3, 3, 4), (3, 3, 4), 0,
        flops=3*3*4 + (2 - 1) * 3*3*4),
    row("avg { id | gap -> reshape 1x4 }", (6, 4), (6, 4), 0, flops=6*4 + 2 * 6*4),
    row("mul { id | gmp -> reshape 1x1x1x2 }", (2, 3, 3, 2), (2, 3, 3, 2), 0,
        flops=(2*3*3 - 1) * 2 + (2 - 1) * 2*3*3*2),
    row("add { id | conv 3 x3 same }", (10, 3), (10, 3), 3*3*3 + 3, macs=10*3 * 3*3,
        flops=(2*(10*3 * 3*3) + 10*3) + (2 - 1) * 10*3),
    row("add { dense 4 | dense 4 relu }", (8,), (4,), 2 * (8*4 + 4), macs=2 * 8*4,
        flops=(2*(8*4) + 4) + (2*(8*4) + 4*(1 + 1)) + (2 - 1) * 4),
    row("concat { conv 1 x3 | conv 3 x5 same | maxpool 3/1 same }", (8, 8, 4), (8, 8, 3+5+4),
        (1*1*4*3 + 3) + (3*3*4*5 + 5), macs=8*8*3 * 1*1*4 + 8*8*5 * 3*3*4,
        flops=(2*(8*8*3 * 1*1*4) + 8*8*3) + (2*(8*8*5 * 3*3*4) + 8*8*5)
        + (3*3 - 1) * 8*8*4 + 0),
    row("concat { id | id }", (4, 4, 3), (4, 4, 6), 0, flops=0),
    row("concat { id | id | id }", (5, 2), (5, 6), 0, flops=0),
    row("concat { id | conv 3 x2 same }", (10, 3), (10, 5), 3*3*2 + 2, macs=10*2 * 3*3,
        flops=2*(10*2 * 3*3) + 10*2),
    row("concat { id | conv 1 x2 }", (2, 2, 2, 1), (2, 2, 2, 3), 1*1*1*1*2 + 2,
        macs=2*2*2*2 * 1*1*1*1, flops=2*(2*2*2*2 * 1*1*1*1) + 2*2*2*2),
    row("concat { dense 3 | dense 5 }", (4,), (8,), (4*3 + 3) + (4*5 + 5), macs=4*3 + 4*5,
        flops=(2*(4*3) + 3) + (2*(4*5) + 5)),
    row("residual { conv 3 x4 same -> bn }", (6, 6, 4), (6, 6, 4),
        (3*3*4*4 + 4) + 4*4, trainable=(3*3*4*4 + 4) + 2*4, macs=6*6*4 * 3*3*4,
        flops=(2*(6*6*4 * 3*3*4) + 6*6*4) + 2 * 6*6*4 + (2 - 1) * 6*6*4),
    row("residual { relu }", (10,), (10,), 0, flops=10*1 + (2 - 1) * 10),
    # a U-Net of two levels: merges nest
    row("concat { id | maxpool 2 -> conv 3 x8 same "
        "-> concat { id | maxpool 2 -> conv 3 x16 same -> upsample 2 } "
        "-> conv 3 x8 same -> upsample 2 }", (8, 8, 4), (8, 8, 4 + 8),
        (3*3*4*8 + 8) + (3*3*8*16 + 16) + (3*3*(8 + 16)*8 + 8),
        macs=4*4*8 * 3*3*4 + 2*2*16 * 3*3*8 + 4*4*8 * 3*3*(8 + 16),
        flops=(2*2 - 1) * 4*4*4 + (2*(4*4*8 * 3*3*4) + 4*4*8)
        + (2*2 - 1) * 2*2*8 + (2*(2*2*16 * 3*3*8) + 2*2*16)
        + (2*(4*4*8 * 3*3*(8 + 16)) + 4*4*8)),
    # ==== version 2 ====================================================================
    # ---- batchnorm without gamma (scale=false) or beta (center=false): C less for each --
    row("batchnorm scale=false", (8, 8, 16), (8, 8, 16), 4*16 - 16, trainable=2*16 - 16,
        macs=0, flops=2 * 8*8*16),
    row("bn center=false", (8, 8, 16), (8, 8, 16), 4*16 - 16, trainable=2*16 - 16, macs=0,
        flops=2 * 8*8*16),
    row("bn scale=false center=false", (10,), (10,), 4*10 - 2*10, trainable=0, macs=0,
        flops=2 * 10),
    row("batchnorm center=false eps=1e-5", (100, 3), (100, 3), 4*3 - 3, trainable=2*3 - 3,
        macs=0, flops=2 * 100*3),
    row("bn scale=true center=true", (3, 3, 5), (3, 3, 5), 4*5, trainable=2*5, macs=0,
        flops=2 * 3*3*5),
    # ---- layernorm: gamma and beta over C, trainable; FLOPs 5 per value and 5 per
    # position for the statistics, then one per value each for gamma and beta
    row("layernorm", (8, 8, 16), (8, 8, 16), 2*16, macs=0,
        flops=5 * 8*8*16 + 5 * 8*8 + 2 * 8*8*16),
    row("layernorm eps=1e-6", (10,), (10,), 2*10, macs=0, flops=5 * 10 + 5 * 1 + 2 * 10),
    row("layernorm scale=false", (6, 4), (6, 4), 4, macs=0, flops=5 * 6*4 + 5 * 6 + 6*4),
    row("layernorm center=false", (5, 5, 3), (5, 5, 3), 3, macs=0,
        flops=5 * 5*5*3 + 5 * 5*5 + 5*5*3),
    row("layernorm center=false scale=false", (2, 3, 4, 5), (2, 3, 4, 5), 0,
        flops=5 * 2*3*4*5 + 5 * 2*3*4),
    # ---- rescale: a multiply and an add per value, no weights ---------------------------
    row("rescale {1/255}", (32, 32, 3), (32, 32, 3), 0, flops=2 * 32*32*3),
    row("rescale 2 offset=-1", (10,), (10,), 0, flops=2 * 10),
    row("rescale 0.5", (10, 3), (10, 3), 0, flops=2 * 10*3),
    row("rescale {1/127.5} offset=-1", (2, 2, 2, 1), (2, 2, 2, 1), 0, flops=2 * 2*2*2*1),
    # ---- normalize: adapted, mean and variance per channel and a count, none trainable;
    # with constants, no weights. A subtract and a divide per value --------------------
    row("normalize", (8, 8, 3), (8, 8, 3), 2*3 + 1, trainable=0, macs=0, flops=2 * 8*8*3),
    row("normalize", (10,), (10,), 2*10 + 1, trainable=0, macs=0, flops=2 * 10),
    row("normalize", (20, 4), (20, 4), 2*4 + 1, trainable=0, macs=0, flops=2 * 20*4),
    row("normalize", (2, 3, 3, 2), (2, 3, 3, 2), 2*2 + 1, trainable=0, macs=0,
        flops=2 * 2*3*3*2),
    row("normalize mean=0.485,0.456,0.406 variance=0.052,0.050,0.051", (8, 8, 3), (8, 8, 3),
        0, flops=2 * 8*8*3),
    row("normalize mean=0.5 variance=0.25", (10,), (10,), 0, flops=2 * 10),
    row("normalize variance=1,2 mean=0,1", (5, 2), (5, 2), 0, flops=2 * 5*2),
    # ---- crop: P off both sides of each spatial dim, B:A before:after -------------------
    row("crop 1", (6, 6, 2), (4, 4, 2), 0, flops=0),
    row("crop 0x1", (4, 4, 2), (4, 2, 2), 0, flops=0),
    row("crop 0:1x2:0", (4, 4, 2), (3, 2, 2), 0, flops=0),
    row("crop 2:1", (10, 1), (7, 1), 0, flops=0),
    row("crop 1", (4, 4, 4, 1), (2, 2, 2, 1), 0, flops=0),
    row("crop 0x1x1:2", (3, 4, 5, 1), (3, 2, 2, 1), 0, flops=0),
    # ---- global pooling that keeps size-1 spatial axes: the same FLOPs ------------------
    row("gap keepdims", (7, 7, 512), (1, 1, 512), 0, flops=7*7 * 512),
    row("gmp keepdims", (7, 7, 512), (1, 1, 512), 0, flops=(7*7 - 1) * 512),
    row("gap keepdims", (100, 8), (1, 8), 0, flops=100 * 8),
    row("gmp keepdims", (2, 3, 4, 5), (1, 1, 1, 5), 0, flops=(2*3*4 - 1) * 5),
    # ---- dropout with a noise shape: identity at inference ------------------------------
    row("dropout 0.2 noise=1x1x1", (4, 4, 8), (4, 4, 8), 0, flops=0),
    row("dropout 0.5 noise=1x1x8", (4, 4, 8), (4, 4, 8), 0, flops=0),
    row("dropout 0.1 noise=10", (10,), (10,), 0, flops=0),
    row("dropout 0.3 noise=1x3", (6, 3), (6, 3), 0, flops=0),
    row("dropout 0.2 noise=1x2x1x1", (2, 2, 2, 2), (2, 2, 2, 2), 0, flops=0),
    # ---- together: MobileNetV3's squeeze-excite, stochastic depth ----------------------
    # gap 8*8*8; conv 1 x2 relu: 2*(2 * 1*1*8) + 2*(1 + 1); conv 1 x8 hard_sigmoid:
    # 2*(8 * 1*1*2) + 8*(1 + 4); mul (2-1)*8*8*8
    row("mul { id | gap keepdims -> conv 1 x2 relu -> conv 1 x8 hard_sigmoid }", (8, 8, 8),
        (8, 8, 8), (1*1*8*2 + 2) + (1*1*2*8 + 8), macs=2 * 1*1*8 + 8 * 1*1*2,
        flops=8*8*8 + (2*(2 * 1*1*8) + 2*(1 + 1)) + (2*(8 * 1*1*2) + 8*(1 + 4))
        + (2 - 1) * 8*8*8),
    row("add { id | conv 3 x4 same -> dropout 0.2 noise=1x1x1 }", (5, 5, 4), (5, 5, 4),
        3*3*4*4 + 4, macs=5*5*4 * 3*3*4, flops=(2*(5*5*4 * 3*3*4) + 5*5*4) + 0
        + (2 - 1) * 5*5*4),
    row("rescale {1/255} -> conv 3 x4 same hard_swish -> crop 1 -> layernorm", (6, 6, 1),
        (4, 4, 4), (3*3*1*4 + 4) + 2*4, macs=6*6*4 * 3*3*1,
        flops=2 * 6*6*1 + (2*(6*6*4 * 3*3*1) + 6*6*4*(1 + 5)) + 0
        + (5 * 4*4*4 + 5 * 4*4 + 2 * 4*4*4)),
    # ==== version 3: normalisation and activations ======================================
    # ---- groupnorm G: gamma and beta per channel (trainable), none with affine=false.
    # FLOPs as layernorm's, the statistics per group instead of per position: 5 per value,
    # 5 per group, then gamma's multiply and beta's add per value --------------------------
    row("groupnorm 4", (8, 8, 16), (8, 8, 16), 2*16, macs=0,
        flops=5 * 8*8*16 + 5 * 4 + 2 * 8*8*16),
    row("groupnorm 2 eps=1e-5 affine=false", (10, 6), (10, 6), 0, flops=5 * 10*6 + 5 * 2),
    row("groupnorm 3", (12,), (12,), 2*12, macs=0, flops=5 * 12 + 5 * 3 + 2 * 12),
    row("groupnorm 1", (2, 3, 4, 8), (2, 3, 4, 8), 2*8, macs=0,
        flops=5 * 2*3*4*8 + 5 * 1 + 2 * 2*3*4*8),
    row("groupnorm 16 affine=true", (5, 5, 16), (5, 5, 16), 2*16, macs=0,
        flops=5 * 5*5*16 + 5 * 16 + 2 * 5*5*16),
    # ---- instancenorm: one group per channel ------------------------------------------
    row("instancenorm", (8, 8, 3), (8, 8, 3), 2*3, macs=0,
        flops=5 * 8*8*3 + 5 * 3 + 2 * 8*8*3),
    row("instancenorm eps=1e-5 affine=false", (20, 4), (20, 4), 0, flops=5 * 20*4 + 5 * 4),
    row("instancenorm", (2, 4, 4, 2), (2, 4, 4, 2), 2*2, macs=0,
        flops=5 * 2*4*4*2 + 5 * 2 + 2 * 2*4*4*2),
    # ---- lrn N: no weights; per value the square, N - 1 adds, the multiply by alpha/N,
    # the add of k, the power (log, multiply, exp) and the divide: N + 6 -------------------
    row("lrn 5", (8, 8, 16), (8, 8, 16), 0, flops=(1 + 4 + 1 + 1 + 3 + 1) * 8*8*16),
    row("lrn 2 alpha=1e-3 beta=0.5 k=2", (10, 3), (10, 3), 0,
        flops=(1 + 1 + 1 + 1 + 3 + 1) * 10*3),
    row("lrn 3", (2, 2, 2, 4), (2, 2, 2, 4), 0, flops=(1 + 2 + 1 + 1 + 3 + 1) * 2*2*2*4),
    # ---- prelu: one slope per channel, or one shared; a compare and a multiply ----------
    row("prelu", (8, 8, 16), (8, 8, 16), 16, macs=0, flops=2 * 8*8*16),
    row("prelu shared", (8, 8, 16), (8, 8, 16), 1, macs=0, flops=2 * 8*8*16),
    row("prelu", (10,), (10,), 10, macs=0, flops=2 * 10),
    row("prelu", (20, 3), (20, 3), 3, macs=0, flops=2 * 20*3),
    row("prelu shared", (2, 2, 2, 3), (2, 2, 2, 3), 1, macs=0, flops=2 * 2*2*2*3),
    # ---- activations with values: elu=1 is plain elu (3), clip in a block --------------
    row("elu=1", (4, 4, 2), (4, 4, 2), 0, flops=3 * 4*4*2),
    row("elu=2 -> celu=2", (10,), (10,), 0, flops=(3 + 1) * 10 + 5 * 10),
    row("conv 3 x4 same clip=0,6 -> prelu -> groupnorm 2", (6, 6, 2), (6, 6, 4),
        (3*3*2*4 + 4) + 4 + 2*4, macs=6*6*4 * 3*3*2,
        flops=(2*(6*6*4 * 3*3*2) + 6*6*4*(1 + 2)) + 2 * 6*6*4
        + (5 * 6*6*4 + 5 * 2 + 2 * 6*6*4)),
    # a small chain as one unit: the seed's layers after the input
    row("conv 3x3/1 x2 -> maxpool 2 -> flatten -> dense 10", (6, 6, 1), (10,),
        (3*3*1*2 + 2) + (2*2*2*10 + 10), macs=4*4*2 * 3*3*1 + 2*2*2 * 10,
        flops=(2*(4*4*2 * 3*3*1) + 4*4*2) + (2*2 - 1) * 2*2*2 + (2*(2*2*2 * 10) + 10)),
    # ==== version 3: rearranging ======================================================
    # ---- pixel_shuffle R: HxWx(C*R*R) -> (H*R)x(W*R)xC; pixel_unshuffle the inverse;
    # channel_shuffle keeps the shape. Values move, none is computed: 0 FLOPs ---------
    row("pixel_shuffle 2", (4, 4, 8), (4*2, 4*2, 8 // (2*2)), 0, flops=0),
    row("pixel_shuffle 3", (2, 3, 18), (2*3, 3*3, 18 // (3*3)), 0, flops=0),
    row("pixel_shuffle 1", (5, 5, 3), (5, 5, 3), 0, flops=0),
    row("pixel_unshuffle 2", (4, 6, 3), (4 // 2, 6 // 2, 3 * 2*2), 0, flops=0),
    row("pixel_unshuffle 3", (6, 6, 1), (6 // 3, 6 // 3, 1 * 3*3), 0, flops=0),
    row("pixel_unshuffle 2 -> pixel_shuffle 2", (8, 4, 5), (8, 4, 5), 0, flops=0),
    row("channel_shuffle 2", (28, 28, 116), (28, 28, 116), 0, flops=0),
    row("channel_shuffle 3", (12,), (12,), 0, flops=0),
    row("channel_shuffle 4", (10, 8), (10, 8), 0, flops=0),
    row("channel_shuffle 2", (2, 2, 2, 6), (2, 2, 2, 6), 0, flops=0),
    # ---- split: each branch its part of the channels, then concat: the parts and the
    # concat cost 0, the branches their own. ShuffleNet v2's unit: 116 = 58 + 58 -----
    row("split { id | conv 1 x58 -> relu } -> channel_shuffle 2", (28, 28, 116),
        (28, 28, 58 + 58), 1*1*58*58 + 58, macs=28*28*58 * 1*1*58,
        flops=2*(28*28*58 * 1*1*58) + 28*28*58 + 28*28*58*1),
    row("split 24,40 { relu | conv 1 x8 }", (4, 4, 64), (4, 4, 24 + 8), 1*1*40*8 + 8,
        macs=4*4*8 * 1*1*40, flops=4*4*24*1 + 2*(4*4*8 * 1*1*40) + 4*4*8),
    row("split { id | id | id }", (5, 6), (5, 2 + 2 + 2), 0, flops=0),
    row("split 1,3 { dense 2 | id }", (4,), (2 + 3,), 1*2 + 2, macs=1*2, flops=2*(1*2) + 2),
    row("split { conv 1 x4 }", (3, 3, 2), (3, 3, 4), 1*1*2*4 + 4, macs=3*3*4 * 1*1*2,
        flops=2*(3*3*4 * 1*1*2) + 3*3*4),
    row("split { maxpool 2 | avgpool 2 }", (2, 4, 4, 2), (1, 2, 2, 1 + 1), 0,
        flops=(2*2*2 - 1) * 1*2*2*1 + 2*2*2 * 1*2*2*1),
    # ---- upsample bilinear: a weighted sum of 4 input values per output value, 4
    # multiplies and 3 adds (the weights depend on the position only, as batchnorm's) --
    row("upsample 2 bilinear", (4, 4, 6), (8, 8, 6), 0, flops=7 * 8*8*6),
    row("upsample 2x3 bilinear", (3, 2, 1), (6, 6, 1), 0, flops=7 * 6*6*1),
    # ---- flatten chw: another order, the same count ------------------------------------
    row("flatten chw", (4, 4, 6), (4*4*6,), 0, flops=0),
    row("flatten chw", (10, 3), (10*3,), 0, flops=0),
    row("flatten chw", (2, 2, 2, 2), (2*2*2*2,), 0, flops=0),
    # ---- sepconv mult=M: depthwise K*Cin*M, pointwise Cin*M*F, bias F ------------------
    row("sepconv 3 x16 mult=2", (8, 8, 6), (6, 6, 16), 3*3*6*2 + 6*2*16 + 16,
        macs=6*6 * 6*2 * 3*3 + 6*6 * 6*2 * 16, flops=2*(6*6*6*2*3*3 + 6*6*6*2*16) + 6*6*16),
    row("sepconv 3 x4 mult=3 same relu", (10, 2), (10, 4), 3*2*3 + 2*3*4 + 4,
        macs=10 * 2*3 * 3 + 10 * 2*3 * 4, flops=2*(10*2*3*3 + 10*2*3*4) + 10*4*(1 + 1)),
    row("sepconv 3/2 x8 mult=1 bias=false", (9, 9, 4), (4, 4, 8), 3*3*4 + 4*8,
        macs=4*4 * 4 * 3*3 + 4*4 * 4 * 8, flops=2*(4*4*4*3*3 + 4*4*4*8)),
    # ---- a merge of one branch is that branch: (1 - 1) * E_out, and avg of one 0 -------
    row("add { relu }", (4, 4, 6), (4, 4, 6), 0, flops=4*4*6*1 + (1 - 1) * 4*4*6),
    row("mul { conv 1 x6 }", (4, 4, 6), (4, 4, 6), 1*1*6*6 + 6, macs=4*4*6 * 1*1*6,
        flops=2*(4*4*6 * 1*1*6) + 4*4*6),
    row("avg { tanh }", (10,), (10,), 0, flops=10*1),
    row("max { id }", (5, 3), (5, 3), 0, flops=0),
    row("concat { conv 1 x3 }", (4, 4, 6), (4, 4, 3), 1*1*6*3 + 3, macs=4*4*3 * 1*1*6,
        flops=2*(4*4*3 * 1*1*6) + 4*4*3),

    # ==== version 3: padding ===========================================================
    # ---- conv, dwconv, sepconv with pad=: floor((n + B + A - D*(K-1) - 1) / S) + 1 ------
    # floor((7 + 1+1 - 2 - 1) / 2) + 1 = 4: PyTorch's padding=1 (Keras's `same` pads 1:1
    # here too, but not on 8: see the next rows)
    row("conv 3/2 x64 pad=1", (7, 7, 3), (4, 4, 64), 3*3*3*64 + 64, macs=4*4*64 * 3*3*3,
        flops=2*(4*4*64 * 3*3*3) + 4*4*64),
    # floor((8 + 2 - 3) / 2) + 1 = 4 (`same` would pad 0:1 and give 4 too, shifted)
    row("conv 3/2 x4 pad=1", (8, 8, 2), (4, 4, 4), 3*3*2*4 + 4, macs=4*4*4 * 3*3*2,
        flops=2*(4*4*4 * 3*3*2) + 4*4*4),
    # ResNet's stem: floor((224 + 3+3 - 6 - 1) / 2) + 1 = 112
    row("conv 7/2 x8 pad=3", (224, 224, 3), (112, 112, 8), 7*7*3*8 + 8,
        macs=112*112*8 * 7*7*3, flops=2*(112*112*8 * 7*7*3) + 112*112*8),
    # per dimension: 6 + 2 - 2 = 6 rows, 6 + 4 - 2 = 8 columns
    row("conv 3 x4 pad=1x2", (6, 6, 2), (6, 8, 4), 3*3*2*4 + 4, macs=6*8*4 * 3*3*2,
        flops=2*(6*8*4 * 3*3*2) + 6*8*4),
    # rows floor((7 + 0+1 - 3) / 2) + 1 = 3, columns floor((7 + 1+2 - 3) / 2) + 1 = 4
    row("conv 3/2 x4 pad=0:1x1:2", (7, 7, 1), (3, 4, 4), 3*3*1*4 + 4, macs=3*4*4 * 3*3*1,
        flops=2*(3*4*4 * 3*3*1) + 3*4*4),
    # dilated: 5 + 2+2 - 2*2 - 1 + 1 = 5
    row("conv 3 x4 pad=2 dilation=2", (5, 5, 1), (5, 5, 4), 3*3*1*4 + 4, macs=5*5*4 * 3*3*1,
        flops=2*(5*5*4 * 3*3*1) + 5*5*4),
    row("conv 3 x2 pad=0 relu", (5, 5, 1), (3, 3, 2), 3*3*1*2 + 2, macs=3*3*2 * 3*3*1,
        flops=2*(3*3*2 * 3*3*1) + 3*3*2*(1 + 1)),
    # 1-D: floor((9 + 2 - 3) / 2) + 1 = 5; 3-D: (4 + 2 - 2, 5 - 2, 6 - 2)
    row("conv 3/2 x4 pad=1", (9, 2), (5, 4), 3*2*4 + 4, macs=5*4 * 3*2,
        flops=2*(5*4 * 3*2) + 5*4),
    row("conv 3 x2 pad=1x0x0", (4, 5, 6, 1), (4, 3, 4, 2), 3*3*3*1*2 + 2,
        macs=4*3*4*2 * 3*3*3*1, flops=2*(4*3*4*2 * 3*3*3*1) + 4*3*4*2),
    row("dwconv 3/2 pad=1", (8, 8, 4), (4, 4, 4), 3*3*4 + 4, macs=4*4*4 * 3*3,
        flops=2*(4*4*4 * 3*3) + 4*4*4),
    row("sepconv 3 x8 pad=1", (5, 5, 4), (5, 5, 8), 3*3*4 + 4*8 + 8,
        macs=5*5*4 * 3*3 + 5*5*4*8, flops=2*(5*5*4 * 3*3 + 5*5*4*8) + 5*5*8),
    # ---- causal (1-D): D*(K-1) before, none after; n/S rounded up ------------------------
    row("conv 5 x16 causal", (100, 3), (100, 16), 5*3*16 + 16, macs=100*16 * 5*3,
        flops=2*(100*16 * 5*3) + 100*16),
    # pads 2 before: floor((9 + 2 - 3) / 2) + 1 = 5 = ceil(9 / 2)
    row("conv 3/2 x4 causal", (9, 2), (5, 4), 3*2*4 + 4, macs=5*4 * 3*2,
        flops=2*(5*4 * 3*2) + 5*4),
    # pads 3*(2-1) = 3 before: 10 + 3 - 3 = 10
    row("conv 2 x4 causal dilation=3", (10, 1), (10, 4), 2*1*4 + 4, macs=10*4 * 2*1,
        flops=2*(10*4 * 2*1) + 10*4),
    row("dwconv 3 x2 causal", (10, 3), (10, 6), 3*3*2 + 3*2, macs=10*(3*2) * 3,
        flops=2*(10*(3*2) * 3) + 10*(3*2)),
    row("sepconv 3 x8 causal", (10, 4), (10, 8), 3*4 + 4*8 + 8, macs=10*4 * 3 + 10*4*8,
        flops=2*(10*4 * 3 + 10*4*8) + 10*8),
    # ---- pooling with pad=: floor((n + B + A - K) / S) + 1; FLOPs as ever, a full window
    # per output value (maxpool K-1 comparisons, avgpool K-1 adds and a divide)
    # ResNet's: floor((112 + 2 - 3) / 2) + 1 = 56
    row("maxpool 3/2 pad=1", (112, 112, 64), (56, 56, 64), 0, flops=(3*3 - 1) * 56*56*64),
    row("maxpool 3/2 pad=1", (7, 7, 1), (4, 4, 1), 0, flops=(3*3 - 1) * 4*4*1),
    row("avgpool 3/2 pad=1", (7, 7, 2), (4, 4, 2), 0, flops=3*3 * 4*4*2),
    row("avgpool 3/2 pad=1 include_pad", (7, 7, 2), (4, 4, 2), 0, flops=3*3 * 4*4*2),
    # stride 3 (the window): floor((5 + 2 - 3) / 3) + 1 = 2
    row("avgpool 3 pad=1 include_pad", (5, 5, 3), (2, 2, 3), 0, flops=3*3 * 2*2*3),
    row("avgpool 3/2 pad=1 include_pad", (10, 2), (5, 2), 0, flops=3 * 5*2),
    row("maxpool 2 pad=1:0x0", (5, 4, 1), (3, 2, 1), 0, flops=(2*2 - 1) * 3*2*1),
    # `same` counted in the average: as `same`, (7 / 2 rounded up) = 4
    row("avgpool 3/2 same include_pad", (7, 7, 1), (4, 4, 1), 0, flops=3*3 * 4*4*1),
    # ---- ceil: ceil((n + B + A - K) / S) + 1, one less where that window would start at
    # or past n + B
    # SqueezeNet's: ceil((55 - 3) / 2) + 1 = 27; the last starts at 52 < 55
    row("maxpool 3/2 ceil", (55, 55, 64), (27, 27, 64), 0, flops=(3*3 - 1) * 27*27*64),
    # ceil(3 / 2) + 1 = 3, starting at 4 < 5 (floor: 2)
    row("maxpool 2 ceil", (5, 5, 1), (3, 3, 1), 0, flops=(2*2 - 1) * 3*3*1),
    # ceil((5 + 2 - 2) / 2) + 1 = 4, but the 4th would start at 6 >= 5 + 1: 3
    row("avgpool 2 ceil pad=1", (5, 5, 1), (3, 3, 1), 0, flops=2*2 * 3*3*1),
    row("avgpool 2 ceil pad=1 include_pad", (5, 5, 1), (3, 3, 1), 0, flops=2*2 * 3*3*1),
    # ceil((6 + 2 - 3) / 2) + 1 = 4, the last starting at 6 < 6 + 1
    row("maxpool 3/2 pad=1 ceil", (6, 6, 1), (4, 4, 1), 0, flops=(3*3 - 1) * 4*4*1),
    # a window larger than the input: ceil((2 - 3) / 3) + 1 = 1
    row("maxpool 3 ceil", (2, 2, 1), (1, 1, 1), 0, flops=(3*3 - 1) * 1*1*1),
    # 1-D: ceil((8 + 2 - 3) / 2) + 1 = 5; 3-D per axis: ceil(3/2)+1 = 3, ceil(2/2)+1 = 2,
    # ceil(1/2)+1 = 2
    row("maxpool 3/2 ceil pad=1", (8, 1), (5, 1), 0, flops=(3 - 1) * 5*1),
    row("maxpool 2 ceil", (5, 4, 3, 1), (3, 2, 2, 1), 0, flops=(2*2*2 - 1) * 3*2*2*1),
    # ---- deconv pad= outpad=: (n - 1)*S - B - A + K + Q; MACs as ever, every input
    # value scattered through the whole kernel
    # (7 - 1)*2 - 2 + 3 + 1 = 14
    row("deconv 3/2 x32 pad=1 outpad=1", (7, 7, 64), (14, 14, 32), 3*3*32*64 + 32,
        macs=7*7 * 3*3 * 64*32, flops=2*(7*7 * 3*3 * 64*32) + 14*14*32),
    # DCGAN's: 7*2 - 2 + 4 = 16
    row("deconv 4/2 x4 pad=1", (8, 8, 2), (16, 16, 4), 4*4*4*2 + 4, macs=8*8 * 4*4 * 2*4,
        flops=2*(8*8 * 4*4 * 2*4) + 16*16*4),
    # rows 4*2 - 1 + 3 = 10, columns 4*2 - 2 + 3 = 9
    row("deconv 3/2 x2 pad=0:1x1", (5, 5, 1), (10, 9, 2), 3*3*2*1 + 2, macs=5*5 * 3*3 * 1*2,
        flops=2*(5*5 * 3*3 * 1*2) + 10*9*2),
    # PyTorch's formula even where K < S: 6*2 + 1 = 13 (Keras's `valid`: 14)
    row("deconv 1/2 x4 pad=0", (7, 7, 2), (13, 13, 4), 1*1*4*2 + 4, macs=7*7 * 1*1 * 2*4,
        flops=2*(7*7 * 1*1 * 2*4) + 13*13*4),
    # rows 3*2 - 2 + 3 + 1 = 8, columns 3*1 + 3 = 6
    row("deconv 3/2x1 x1 pad=1x0 outpad=1x0 bias=false", (4, 4, 1), (8, 6, 1), 3*3*1*1,
        macs=4*4 * 3*3 * 1*1, flops=2*(4*4 * 3*3 * 1*1)),
    row("deconv 4/2 x3 pad=1", (10, 2), (20, 3), 4*3*2 + 3, macs=10 * 4 * 2*3,
        flops=2*(10 * 4 * 2*3) + 20*3),
    # outpad= alone (or with `valid`) adds to pad=0's size: (3-1)*3 + 3 + 1 = 10 rows,
    # (3-1)*2 + 3 + 1 = 8 columns (ONNX's test_convtranspose_pad)
    row("deconv 3x3/3x2 x2 outpad=1x1", (3, 3, 1), (10, 8, 2), 3*3*2*1 + 2,
        macs=3*3 * 3*3 * 1*2, flops=2*(3*3 * 3*3 * 1*2) + 10*8*2),
    # Keras's `valid` with output_padding is PyTorch's pad=0: (4-1)*2 + 1 + 1 = 8, where
    # plain `valid` gives 4*2 = 8 too, and `deconv 1/2 pad=0` 7
    row("deconv 1/2 x2 valid outpad=1", (4, 1), (8, 2), 1*2*1 + 2, macs=4 * 1 * 1*2,
        flops=2*(4 * 1 * 1*2) + 8*2),
    # ---- pad: n + B + A, any mode, no arithmetic ---------------------------------------
    row("pad 2 reflect", (7, 7, 3), (11, 11, 3), 0, flops=0),
    row("pad 1 replicate", (4, 4, 2), (6, 6, 2), 0, flops=0),
    row("pad 1", (4, 4, 2), (6, 6, 2), 0, flops=0),
    row("pad 0:1x2 reflect", (3, 3, 1), (4, 7, 1), 0, flops=0),
    row("pad 3 replicate", (10, 1), (16, 1), 0, flops=0),
    row("pad 1 reflect", (2, 3, 4, 1), (4, 5, 6, 1), 0, flops=0),
    # ---- together: ResNet's stem; conv 2*MACs, bn 2 per value, relu 1, maxpool 8 --------
    row("conv 7/2 x64 pad=3 bias=false -> bn -> relu -> maxpool 3/2 pad=1", (224, 224, 3),
        (56, 56, 64), 7*7*3*64 + 4*64, trainable=7*7*3*64 + 2*64,
        macs=112*112*64 * 7*7*3, flops=2*(112*112*64 * 7*7*3) + 2 * 112*112*64
        + 112*112*64 + (3*3 - 1) * 56*56*64),
]


@pytest.mark.parametrize("spec, in_shape, out_shape, params, flops, trainable, macs", ROWS)
def test_layer(check_layer, spec, in_shape, out_shape, params, flops, trainable, macs):
    check_layer(spec, in_shape, out_shape, params, flops=flops, trainable=trainable, macs=macs)


def test_rows_cover_every_kind_and_activation():
    """No layer kind, and no activation as a step or fused into conv and dense, escapes
    the table's hand-worked counts."""
    nodes = [n for p in ROWS for n in compile_text(
        f"input {'x'.join(map(str, p.values[1]))} -> {p.values[0]}").nodes]
    assert {k.kind for k in KINDS} <= {n.kind for n in nodes}
    functions = {canonical_activation(word).name for word in ACTIVATIONS}
    assert functions <= {n.layer.function.name for n in nodes if n.kind == "activation"}
    for kind in ("conv", "dense"):
        fused = {n.layer.activation.name for n in nodes if n.kind == kind and n.layer.activation}
        assert functions <= fused, f"activations fused into {kind}"
    # `clip` is written with its bounds only (`clip=-1,1`)
    assert set(ACTIVATIONS) - set(VALUE_NEEDED) <= set(ACTIVATION_WORDS) == set(COST)
    assert all(any(w.startswith(f"{v}=") for w in ACTIVATION_WORDS) for v in VALUE_NEEDED)


# ---- attributes the table cannot see -------------------------------------------------

def last(text: str):
    return compile_text(text).output


def test_batchnorm_defaults_are_keras():
    bn = last("input 4x4x2 -> bn").layer
    assert (bn.eps, bn.momentum) == (0.001, 0.99)


def test_batchnorm_options_are_read():
    bn = last("input 4x4x2 -> batchnorm eps=1e-5 momentum=0.9").layer
    assert (bn.eps, bn.momentum) == (1e-5, 0.9)


@pytest.mark.parametrize("text, slope", [("leaky_relu", 0.2), ("leaky_relu=0.1", 0.1)])
def test_leaky_relu_slope(text, slope):
    assert last(f"input 4 -> {text}").layer.function.alpha == slope
    assert last(f"input 4x4x1 -> conv 1 x1 {text}").layer.activation.alpha == slope


def test_swish_is_silu():
    assert last("input 4 -> swish").layer.function.name == "silu"


def test_dense_on_a_tensor_warns_but_on_a_vector_does_not():
    assert compile_text("input 5x5x8 -> dense 16").warnings
    assert not compile_text("input 200 -> dense 16").warnings


def test_dropout_rate_is_read():
    assert last("input 10 -> dropout 0.25").layer.rate == 0.25


def test_zeropad_pairs_are_before_after():
    assert last("input 4x4x1 -> zeropad 2:0x1:3").layer.pads == ((2, 0), (1, 3))


def test_conv_attributes_are_normalised():
    conv = last("input 9x9x4 -> conv 3/2 x8 same relu bias=false groups=2").layer
    assert (conv.kernel, conv.stride, conv.padding, conv.bias, conv.groups) == \
        ((3, 3), (2, 2), "same", False, 2)
    assert conv.activation.name == "relu"


def test_pool_stride_defaults_to_window():
    pool = last("input 9x9x1 -> maxpool 3").layer
    assert pool.kernel == pool.stride == (3, 3)


def test_version_2_defaults_are_keras():
    assert last("input 4x4x2 -> layernorm").layer.eps == 0.001
    bn = last("input 4x4x2 -> bn").layer
    assert (bn.scale, bn.center) == (True, True)
    assert last("input 4 -> rescale 2").layer.offset == 0
    assert last("input 4x4x2 -> gap").layer.keepdims is False
    assert last("input 4x4x2 -> dropout 0.5").layer.noise is None


def test_version_2_options_are_read():
    bn = last("input 4x4x2 -> bn center=false scale=false").layer
    assert (bn.scale, bn.center) == (False, False)
    ln = last("input 4x4x2 -> layernorm eps=1e-6 scale=false").layer
    assert (ln.eps, ln.scale, ln.center) == (1e-6, False, True)
    assert last("input 4x4x2 -> rescale {1/255} offset=-1").layer.scale == 1 / 255
    assert last("input 4x4x2 -> rescale {1/255} offset=-1").layer.offset == -1
    assert last("input 4x4x2 -> dropout 0.2 noise=1x1x2").layer.noise == (1, 1, 2)
    assert last("input 4x4x2 -> gmp keepdims").layer.keepdims is True
    assert last("input 4x4x2 -> crop 1:0x0:2").layer.pads == ((1, 0), (0, 2))


def test_normalize_constants_are_kept_as_written():
    norm = last("input 4x4x3 -> normalize mean=0.485,0.456,0.406 "
                "variance=0.052,0.050,0.051").layer
    assert norm.mean == (0.485, 0.456, 0.406) and norm.variance == (0.052, 0.05, 0.051)
    norm = last("def n(m) = normalize mean={m} variance={m*m}\ninput 4x4x3 -> n(0.5)").layer
    assert (norm.mean, norm.variance) == ((0.5,), (0.25,))
    assert last("input 4x4x3 -> normalize").layer.mean is None


def test_hard_silu_is_hard_swish():
    assert last("input 4 -> hard_silu").layer.function.name == "hard_swish"
    assert last("input 4x4x1 -> conv 1 x1 hard_silu").layer.activation.name == "hard_swish"


def test_version_2_layers_describe_themselves_as_written():
    texts = {"bn scale=false center=false":
             "batchnorm eps=0.001 momentum=0.99 scale=false center=false",
             "layernorm center=false": "layernorm eps=0.001 center=false",
             "rescale {1/255} offset=-1": "rescale 0.00392156862745098 offset=-1",
             "rescale 2": "rescale 2", "normalize": "normalize",
             "normalize mean=0.5,1 variance=2,0.25": "normalize mean=0.5,1 variance=2,0.25",
             "crop 1": "crop 1:1x1:1", "gap keepdims": "gap keepdims", "gmp": "gmp",
             "dropout 0.5 noise=1x1x2": "dropout 0.5 noise=1x1x2", "hard_silu": "hard_swish"}
    for text, described in texts.items():
        assert last(f"input 4x4x2 -> {text}").layer.describe() == described, text


def test_version_2_variables_are_keras_names_and_dtypes():
    graph = compile_text("input 4x4x3 -> normalize -> layernorm -> bn scale=false")
    variables = {n.name: n.layer.variables(n.in_shapes) for n in graph.nodes[1:]}
    assert list(variables["normalize_1"]) == ["mean", "variance", "count"]
    assert variables["normalize_1"]["count"].shape == ()
    assert variables["normalize_1"]["count"].dtype == "int"
    assert not any(v.trainable for v in variables["normalize_1"].values())
    assert list(variables["layernorm_1"]) == ["gamma", "beta"]
    assert list(variables["batchnorm_1"]) == ["beta", "moving_mean", "moving_variance"]


# ---- naming --------------------------------------------------------------------------

def names(text: str) -> list[str]:
    return [n.name for n in compile_text(text).nodes]


# ---- version 3: padding ---------------------------------------------------------------

def _last(text: str):
    return compile_text(text).nodes[-1].layer


def test_explicit_pads_are_normalised_per_dimension():
    conv = _last("input 8x8x3 -> conv 3/2 x4 pad=1")
    assert (conv.padding, conv.pads) == ("explicit", ((1, 1), (1, 1)))
    conv = _last("input 8x8x3 -> conv 3 x4 pad=0:1x2")
    assert conv.pads == ((0, 1), (2, 2))
    # causal pads D*(K-1) before, none after: 2*(5-1) = 8
    conv = _last("input 20x3 -> conv 5 x4 causal dilation=2")
    assert (conv.padding, conv.pads) == ("causal", ((8, 0),))
    # `same` and `valid` keep no pads of their own: their sizes follow from the input
    assert _last("input 8x8x3 -> conv 3 x4 same").pads == ()
    assert _last("input 8x8x3 -> conv 3 x4").pads == ()


def test_pooling_and_deconv_padding_attributes():
    pool = _last("input 8x8x3 -> avgpool 3/2 pad=1 ceil include_pad")
    assert (pool.pads, pool.ceil, pool.include_pad) == (((1, 1), (1, 1)), True, True)
    pool = _last("input 8x8x3 -> maxpool 2")
    assert (pool.pads, pool.ceil, pool.include_pad) == ((), False, False)
    deconv = _last("input 8x8x3 -> deconv 3/2 x4 pad=1 outpad=1x0")
    assert (deconv.pads, deconv.outpad) == (((1, 1), (1, 1)), (1, 0))
    assert _last("input 8x8x3 -> deconv 3/2 x4").outpad == (0, 0)
    assert _last("input 8x8x3 -> pad 1 reflect").mode == "reflect"
    assert _last("input 8x8x3 -> pad 0:1").mode == "zeros"


@pytest.mark.parametrize("text, described", [
    ("conv 3/2 x4 pad=1 relu", "conv 3x3/2x2 x4 pad=1 relu"),
    ("conv 3 x4 pad=0:1x2", "conv 3x3 x4 pad=0:1x2"),
    ("maxpool 3/2 pad=1 ceil", "maxpool 3x3/2x2 pad=1 ceil"),
    ("avgpool 3 same include_pad", "avgpool 3x3 same include_pad"),
    ("deconv 3/2 x4 pad=1 outpad=1", "deconv 3x3/2x2 x4 pad=1 outpad=1"),
    ("pad 1x2 replicate", "pad 1:1x2:2 replicate"),
    ("pad 1", "pad 1:1x1:1"),
])
def test_version_3_padding_describes_itself(text, described):
    assert _last(f"input 8x8x3 -> {text}").describe() == described


def test_include_pad_without_padding_warns():
    for text in ("avgpool 2 include_pad", "avgpool 2 ceil include_pad", "avgpool 2 same "
                 "include_pad"):  # 8 / 2: `same` pads nothing
        warnings = compile_text(f"input 8x8x3 -> {text}\n").warnings
        assert [w.message for w in warnings] == [
            "`include_pad` changes nothing here: no window reaches any padding"], text
    assert not compile_text("input 7x7x3 -> avgpool 2 same include_pad\n").warnings



@pytest.mark.parametrize("text, expected", [
    ("input 6x6x1 -> conv 3 x2 -> conv 3 x2 -> maxpool 2 -> flatten -> dense 10 -> dense 2",
     ["input", "conv_1", "conv_2", "maxpool_1", "flatten_1", "dense_1", "dense_2"]),
    ("input 4x4x2 -> bn -> batchnorm -> bn",
     ["input", "batchnorm_1", "batchnorm_2", "batchnorm_3"]),
    ("input 4 -> swish -> silu -> swish", ["input", "silu_1", "silu_2", "silu_3"]),
    ("input 6x6x1 -> conv 3 x2 same relu -> relu -> tanh -> relu -> relu",
     ["input", "conv_1", "relu_1", "tanh_1", "relu_2", "relu_3"]),
    ("input 4 -> leaky_relu=0.1 -> leaky_relu", ["input", "leaky_relu_1", "leaky_relu_2"]),
])
def test_automatic_names(text, expected):
    assert names(text) == expected


def test_merges_are_named_after_the_merge():
    got = names("input 4x4x2 -> add { id | relu } -> mul { id | relu } -> add { id | tanh }"
                " -> concat { id | id } -> max { id | id } -> avg { id | id }")
    assert [n for n in got if not n.startswith(("relu", "tanh"))] == \
        ["input", "add_1", "mul_1", "add_2", "concat_1", "max_1", "avg_1"]


def test_residual_is_named_add():
    got = names("input 4x4x2 -> add { id | relu } -> residual { tanh } -> residual { relu }")
    assert got == ["input", "relu_1", "add_1", "tanh_1", "add_2", "relu_2", "add_3"]


def test_every_kind_is_named_after_its_canonical_word():
    got = names("input 8x8x2 -> conv 3 x2 same -> dwconv 3 same -> sepconv 3 x2 same "
                "-> deconv 1 x2 -> maxpool 1 -> avgpool 1 -> zeropad 0 -> upsample 1 "
                "-> dropout 0.1 -> bn -> gelu -> gap -> reshape 2 -> dense 2 -> flatten")
    assert got == ["input", "conv_1", "dwconv_1", "sepconv_1", "deconv_1", "maxpool_1",
                   "avgpool_1", "zeropad_1", "upsample_1", "dropout_1", "batchnorm_1",
                   "gelu_1", "gap_1", "reshape_1", "dense_1", "flatten_1"]
    assert names("input 2x2x1 -> gmp")[-1] == "gmp_1"


def test_version_2_kinds_are_named_after_their_word():
    got = names("input 8x8x3 -> rescale {1/255} -> normalize -> crop 1 -> layernorm "
                "-> hard_swish -> hard_silu -> normalize mean=0 variance=1 -> gap keepdims "
                "-> dropout 0.1 noise=1x1x3 -> bn center=false")
    assert got == ["input", "rescale_1", "normalize_1", "crop_1", "layernorm_1",
                   "hard_swish_1", "hard_swish_2", "normalize_2", "gap_1", "dropout_1",
                   "batchnorm_1"]


def test_name_option_overrides():
    got = names("input 6x6x1 -> conv 3 x2 -> conv 3 x2 name=last")
    assert got == ["input", "conv_1", "last"]
    assert names("input 4x4x2 -> bn name=norm -> relu name=act")[1:] == ["norm", "act"]
    assert names("input 4x4x2 -> add { id | relu } name=join")[-1] == "join"


def test_name_option_may_come_anywhere_among_options():
    graph = compile_text("input 6x6x1 -> conv 3 x2 name=stem same relu")
    assert graph.output.name == "stem"
    assert graph.output.shape == (6, 6, 2)


def test_named_and_automatic_names_stay_unique():
    got = names("input 6x6x1 -> conv 3 x2 same name=stem -> conv 3 x2 same "
                "-> conv 3 x2 same")
    assert got[1] == "stem"
    assert len(set(got)) == len(got)
    assert all(n.startswith("conv_") for n in got[2:])


def test_input_is_named_input():
    assert compile_text("input 784").input.name == "input"
    assert compile_text("input 784 -> dense 10").nodes[0].name == "input"


def test_duplicate_name_is_an_error():
    with pytest.raises(CnnError, match="duplicate"):
        compile_text("input 6x6x1 -> conv 3 x2 same name=a -> conv 3 x2 same name=a")


def test_names_number_through_blocks_and_repeats():
    got = names("def b = conv 3 x2 same -> relu\n"
                "input 6x6x1 -> b -> b -> (conv 1 x2 -> bn) * 2")
    assert got == ["input", "conv_1", "relu_1", "conv_2", "relu_2",
                   "conv_3", "batchnorm_1", "conv_4", "batchnorm_2"]


# Nested merges. The rule (LANGUAGE.md, docs/language.md "Naming"): each kind is numbered
# from 1 in the order the words occur after expansion, and a merge takes its number where
# its word is written, before the layers of its branches; the graph lists the merge node
# after its branches. Each row: the text, then the node names in graph order.
NESTED_NAMES = [
    # outer add written first: add_1; inner add: add_2; nodes relu, inner, outer
    ("input 4x4x2 -> add { id | add { id | relu } }",
     ["input", "relu_1", "add_2", "add_1"]),
    # three levels: add_1 { add_2 { add_3 { relu } } }, listed innermost first
    ("input 4x4x2 -> add { id | add { id | add { id | relu } } }",
     ["input", "relu_1", "add_3", "add_2", "add_1"]),
    # concat_1 { conv_1 | concat_2 { id | id } }
    ("input 4x4x2 -> concat { conv 1 x2 | concat { id | id } }",
     ["input", "conv_1", "concat_2", "concat_1"]),
    # a merge after a nested one goes on counting: add_1 { add_2 { relu_1 } } then add_3
    ("input 4x4x2 -> add { id | add { id | relu } } -> add { id | tanh }",
     ["input", "relu_1", "add_2", "add_1", "tanh_1", "add_3"]),
    # repeated: round 1 add_1 { add_2 { relu_1 } }, round 2 add_3 { add_4 { relu_2 } }
    ("input 4x4x2 -> (add { id | add { id | relu } }) * 2",
     ["input", "relu_1", "add_2", "add_1", "relu_2", "add_4", "add_3"]),
    # a block used twice: add_1 { relu_1 -> add_2 { tanh_1 } }, conv_1,
    # add_3 { relu_2 -> add_4 { tanh_2 } }
    ("def blk = add { id | relu -> add { id | tanh } }\n"
     "input 4x4x2 -> blk -> conv 1 x2 -> blk",
     ["input", "relu_1", "tanh_1", "add_2", "add_1", "conv_1",
      "relu_2", "tanh_2", "add_4", "add_3"]),
    # residual is an add: add_1 { id | conv_1 -> add_2 { relu_1 } | add_3 { tanh_1 } }
    ("input 4x4x2 -> add { id | conv 1 x2 -> residual { relu } | residual { tanh } }",
     ["input", "conv_1", "relu_1", "add_2", "tanh_1", "add_3", "add_1"]),
    # residual around an add: add_1 (residual) { add_2 { relu_1 } -> conv_1 }
    ("input 4x4x2 -> residual { add { id | relu } -> conv 1 x2 }",
     ["input", "relu_1", "add_2", "conv_1", "add_1"]),
    # kinds counted apart: add_1 { concat_1 { relu_1 } -> conv_1 | max_1 { add_2 { relu_2 } } }
    ("input 4x4x2 -> add { concat { id | relu } -> conv 1 x2 | max { id | add { id | relu } } }",
     ["input", "relu_1", "concat_1", "conv_1", "relu_2", "add_2", "max_1", "add_1"]),
    # a named merge takes no number: the inner add is add_1
    ("input 4x4x2 -> add { id | add { id | relu } } name=outer",
     ["input", "relu_1", "add_1", "outer"]),
    ("input 4x4x2 -> add { id | add { id | relu } name=inner } -> add { id | tanh }",
     ["input", "relu_1", "inner", "add_1", "tanh_1", "add_2"]),
    # repeated merges inside a block inside a repeat: (blk) * 2 with blk = 2 adds per use
    ("def blk = (add { id | relu }) * 2\ninput 4x4x2 -> (mul { id | blk }) * 2",
     ["input", "relu_1", "add_1", "relu_2", "add_2", "mul_1",
      "relu_3", "add_3", "relu_4", "add_4", "mul_2"]),
    # the example of docs/language.md
    ("input 8x8x3 name=image -> conv 3 x8 same name=stem -> add { id | conv 3 x8 same "
     "-> residual { bn -> relu } } -> relu -> conv 1 x8",
     ["image", "stem", "conv_1", "batchnorm_1", "relu_1", "add_2", "add_1", "relu_2",
      "conv_2"]),
]


@pytest.mark.parametrize("text, expected", NESTED_NAMES)
def test_nested_merges_are_numbered_where_written(text, expected):
    assert names(text) == expected


def test_nested_merge_nodes_come_after_their_branches():
    graph = compile_text("input 4x4x2 -> concat { conv 1 x2 | concat { id | id } }")
    by_name = {n.name: n for n in graph.nodes}
    # concat_2 joins input and input (2+2 channels), concat_1 joins conv_1 and concat_2
    assert [graph.nodes[i].name for i in by_name["concat_2"].inputs] == ["input", "input"]
    assert [graph.nodes[i].name for i in by_name["concat_1"].inputs] == ["conv_1", "concat_2"]
    assert by_name["concat_2"].shape == (4, 4, 2 + 2)
    assert by_name["concat_1"].shape == (4, 4, 2 + 4)


def test_model_name():
    assert compile_text("input 4 -> dense 2", name="m").name == "m"


# ---- def blocks ----------------------------------------------------------------------

BLOCK = "def block(n, k=3) = conv {k}x{k} x{n} same relu -> conv {k} x{n} same relu -> maxpool 2\n"


def test_block_with_default_and_keyword_argument():
    graph = compile_text(BLOCK + "input 32x32x3 -> block(8) -> block(16, k=5)")
    convs = [n for n in graph.nodes if n.kind == "conv"]
    assert [c.layer.kernel for c in convs] == [(3, 3), (3, 3), (5, 5), (5, 5)]
    assert [n.shape for n in graph.nodes] == [
        (32, 32, 3), (32, 32, 8), (32, 32, 8), (16, 16, 8),
        (16, 16, 16), (16, 16, 16), (8, 8, 16)]
    assert analyse(graph).params == ((3*3*3*8 + 8) + (3*3*8*8 + 8)
                                     + (5*5*8*16 + 16) + (5*5*16*16 + 16))


@pytest.mark.parametrize("call", ["block(4)", "block(n=4)", "block(4, k=3)",
                                  "block(k=3, n=4)", "block(n=4, k=3)"])
def test_block_call_forms_agree(call):
    graph = compile_text(BLOCK + f"input 8x8x1 -> {call}")
    assert graph.output.shape == (4, 4, 4)
    assert analyse(graph).params == (3*3*1*4 + 4) + (3*3*4*4 + 4)


def test_block_with_a_float_default():
    text = "def head(p=0.5) = dropout {p} -> dense 10\n"
    assert compile_text(text + "input 8 -> head").nodes[1].layer.rate == 0.5
    assert compile_text(text + "input 8 -> head(0.25)").nodes[1].layer.rate == 0.25
    assert compile_text(text + "input 8 -> head(p=0.1)").nodes[1].layer.rate == 0.1


def test_block_without_parameters():
    text = "def stem = conv 3 x4 same -> relu\n"
    for use in ["stem", "stem()"]:
        graph = compile_text(text + f"input 6x6x1 -> {use}")
        assert [n.kind for n in graph.nodes] == ["input", "conv", "activation"]


def test_blocks_use_blocks_defined_above():
    text = ("def a(n) = conv 3 x{n} same\n"
            "def b(n) = a({2*n}) -> a(n)\n"
            "input 5x5x1 -> b(3)")
    graph = compile_text(text)
    assert [n.shape for n in graph.nodes] == [(5, 5, 1), (5, 5, 6), (5, 5, 3)]
    assert analyse(graph).params == (3*3*1*6 + 6) + (3*3*6*3 + 3)


def test_c_is_the_channels_entering_the_step():
    check = compile_text("input 8x8x16 -> conv 1 x{C*6}").output
    assert check.shape == (8, 8, 96)
    assert check.layer.params(check.in_shapes) == (1*1*16*96 + 96, 0)


def test_c_in_a_block_follows_the_chain():
    text = "def expand(t) = conv 1 x{C*t} -> bn -> relu6\n"
    graph = compile_text(text + "input 8x8x16 -> expand(6) -> expand(2)")
    assert [n.shape[-1] for n in graph.nodes] == [16, 96, 96, 96, 192, 192, 192]


def test_c_changes_along_a_chain():
    graph = compile_text("input 4x4x3 -> conv 1 x{C*2} -> conv 1 x{C*2} -> conv 1 x{C//4}")
    assert [n.shape[-1] for n in graph.nodes] == [3, 6, 12, 3]


# ---- {expr} arithmetic ---------------------------------------------------------------

@pytest.mark.parametrize("expr, value", [
    ("7//2", 7 // 2), ("6/2", 6 // 2), ("(1+2)*3", (1 + 2) * 3), ("2*3-1", 2 * 3 - 1),
    ("10-2-3", 10 - 2 - 3), ("12/2/3", 12 // 2 // 3), ("-2+5", -2 + 5),
    ("7//2*2", 7 // 2 * 2), ("1.5*2", 3), ("0.1*30", 3), ("2+3*4", 2 + 3 * 4),
    ("(2+3)*4", (2 + 3) * 4), ("-(-4)", 4), ("9//4*4+1", 9 // 4 * 4 + 1),
    ("-7//2+6", -7 // 2 + 6), ("7/2*2", 7), ("1/3*3", 1), (" 4 + 4 ", 8),
    ("((((5))))", 5), ("100//7//2", 100 // 7 // 2),
])
def test_expression_as_width(expr, value):
    assert last(f"input 2x2x1 -> conv 1 x{{{expr}}}").shape == (2, 2, value)


def test_expressions_in_sizes_and_strides():
    node = last("def k(a) = conv {a}x{a+2}/{a//2} x{a*2}\ninput 9x9x1 -> k(4)")
    assert node.layer.kernel == (4, 6) and node.layer.stride == (2, 2)
    assert node.shape == ((9 - 4) // 2 + 1, (9 - 6) // 2 + 1, 8)
    assert last("input 9x9x1 -> conv {9//2} x1").layer.kernel == (4, 4)


def test_expression_as_rate():
    assert last("input 10 -> dropout {1/4}").layer.rate == 0.25


@pytest.mark.parametrize("expr", ["7/2", "1/3", "0.5", "5//2/4"])
def test_fractional_width_is_an_error(expr):
    with pytest.raises(CnnError):
        compile_text(f"input 2x2x1 -> conv 1 x{{{expr}}}")


def test_c_divided_inexactly_is_an_error():
    with pytest.raises(CnnError):
        compile_text("input 4x4x9 -> conv 1 x{C/2}")
    assert last("input 4x4x10 -> conv 1 x{C/2}").shape == (4, 4, 5)


# ---- repetition ----------------------------------------------------------------------

def test_repeat_chain():
    graph = compile_text("input 32x32x3 -> (conv 3 x8 same relu -> maxpool 2) * 3")
    assert graph.output.shape == (4, 4, 8)
    assert [n.kind for n in graph.nodes].count("conv") == 3
    assert analyse(graph).params == (3*3*3*8 + 8) + 2 * (3*3*8*8 + 8)


def test_repeat_once_and_with_expr_count():
    assert len(compile_text("input 4x4x1 -> (conv 3 x4 same) * 1")) == 2
    graph = compile_text("def rep(n) = (relu -> bn) * {n}\ninput 4 -> rep(3)")
    assert len(graph) == 1 + 2 * 3


def test_repeat_relative_to_c():
    assert last("input 2x2x1 -> (conv 1 x{C*2}) * 3").shape == (2, 2, 8)


def test_repeat_of_a_merge():
    graph = compile_text("input 6x6x4 -> (residual { conv 3 x4 same -> bn -> relu }) * 2")
    assert graph.output.shape == (6, 6, 4)
    assert analyse(graph).params == 2 * ((3*3*4*4 + 4) + 4*4)
    assert [n.name for n in graph.nodes if n.kind == "add"] == ["add_1", "add_2"]


# ---- receptive field and dense equivalent --------------------------------------------

def fields(text: str):
    return [s.receptive_field for s in analyse(compile_text(text)).layers]


def test_receptive_field_of_a_chain():
    rf = fields("input 16x16x1 -> conv 3 x1 -> conv 3 x1 -> maxpool 2 -> conv 3 x1")
    assert [f.size for f in rf] == [(1, 1), (3, 3), (5, 5), (6, 6), (10, 10)]
    assert [f.jump for f in rf] == [(1, 1), (1, 1), (1, 1), (2, 2), (2, 2)]
    assert not any(f.whole for f in rf)


def test_receptive_field_with_stride_and_dilation_in_1d():
    # conv 3/2: 3, jump 2; conv 3 dilation=2 sees 5 positions: 3 + (5-1)*2 = 11
    rf = fields("input 40x1 -> conv 3/2 x1 -> conv 3 x1 dilation=2")
    assert [f.size for f in rf] == [(1,), (3,), (11,)]
    assert [f.jump for f in rf] == [(1,), (2,), (2,)]


def test_receptive_field_of_a_merge_is_the_widest_branch():
    rf = fields("input 16x16x1 -> concat { conv 3 x1 same -> conv 3 x1 same "
                "| conv 7 x1 same } -> conv 3 x1 same")
    # nodes: input, conv3, conv3 (5), conv7 (7), concat (max 7), conv3 (9)
    assert [f.size for f in rf] == [(1, 1), (3, 3), (5, 5), (7, 7), (7, 7), (9, 9)]


def test_receptive_field_of_global_pooling_is_whole():
    rf = fields("input 8x8x1 -> conv 3 x1 -> gap")
    assert rf[-1].whole


def test_receptive_field_of_version_2_steps():
    # crop, layernorm, rescale, normalize see one position each: conv 3, then conv 3 -> 5
    rf = fields("input 9x9x1 -> conv 3 x1 -> crop 1 -> layernorm -> rescale 2 -> normalize "
                "-> conv 3 x1")
    assert [f.size for f in rf] == [(1, 1), (3, 3), (3, 3), (3, 3), (3, 3), (3, 3), (5, 5)]
    # gap keepdims keeps the rank, but every value sees the whole input, and so does
    # everything after it
    rf = fields("input 8x8x1 -> conv 3 x1 -> gap keepdims -> conv 1 x1")
    assert rf[-2].whole and rf[-1].whole


def test_seed_dense_equivalent_and_totals():
    stats = analyse(compile_text("input 6x6x1 -> conv 3x3/1 x2 -> maxpool 2 -> flatten "
                                 "-> dense 10", name="seed"))
    conv = stats.layers[1]
    assert conv.params == 3*3*1*2 + 2
    assert conv.dense_equivalent == (6*6*1) * (4*4*2) + 4*4*2 == 1184
    assert stats.layers[4].params == 8*10 + 10
    assert stats.params == 20 + 90 == 110
    assert [s.node.shape for s in stats.layers] == [(6, 6, 1), (4, 4, 2), (2, 2, 2), (8,),
                                                     (10,)]


def test_jump_is_exact():
    rf = fields("input 16x16x1 -> conv 2/2 x1 -> upsample 2")
    assert rf[-1].jump == (Fraction(1), Fraction(1))


# The rule of docs/report.md, applied by hand below: a window of extent k and stride s
# takes (size, jump) to (ceil(size + (k-1)*jump), jump*s); conv, dwconv and sepconv have
# k = D*(K-1)+1, s = S; pools k = K, s = S; deconv k = ceil(K/S), s = 1/S; upsample by f
# k = 1, s = 1/f. Every row lists (size, jump) per layer, the input's (1, 1) included.
H, T, Q = Fraction(1, 2), Fraction(1, 3), Fraction(1, 4)

RF_ROWS = [
    # deconv 3/2 (K not a multiple of S): k = ceil(3/2) = 2 -> 1 + 1*1 = 2, jump 1/2;
    # conv 3: 2 + 2*(1/2) = 3, jump 1/2
    ("input 5x5x1 -> deconv 3/2 x1 -> conv 3 x1",
     [(1, 1), (2, 2), (3, 3)], [(1, 1), (H, H), (H, H)]),
    # deconv 4/2: k = 2 -> 2, jump 1/2; conv 2: 2 + 1*(1/2) = 2.5, rounded up to 3
    ("input 5x5x1 -> deconv 4/2 x1 -> conv 2 x1",
     [(1, 1), (2, 2), (3, 3)], [(1, 1), (H, H), (H, H)]),
    # deconv 2/3 (K < S): k = ceil(2/3) = 1 -> 1, jump 1/3; conv 4: 1 + 3*(1/3) = 2;
    # maxpool 3: 2 + 2*(1/3) = 2.67, rounded up to 3, jump 1/3*3 = 1
    ("input 5x5x1 -> deconv 2/3 x1 -> conv 4 x1 -> maxpool 3",
     [(1, 1), (1, 1), (2, 2), (3, 3)], [(1, 1), (T, T), (T, T), (1, 1)]),
    # deconv 3x3/2x1, per axis: k = (ceil(3/2), ceil(3/1)) = (2, 3) -> (2, 3), jump
    # (1/2, 1); conv 3: (2 + 2*(1/2), 3 + 2*1) = (3, 5)
    ("input 5x5x1 -> deconv 3x3/2x1 x1 -> conv 3 x1",
     [(1, 1), (2, 3), (3, 5)], [(1, 1), (H, 1), (H, 1)]),
    # conv 3/2: 3, jump 2; deconv 5/2: k = 3 -> 3 + 2*2 = 7, jump 2/2 = 1; conv 3: 9
    ("input 16x16x1 -> conv 3/2 x1 -> deconv 5/2 x1 -> conv 3 x1",
     [(1, 1), (3, 3), (7, 7), (9, 9)], [(1, 1), (2, 2), (1, 1), (1, 1)]),
    # 1-D deconv 5/3: k = ceil(5/3) = 2 -> 2, jump 1/3; conv 4: 2 + 3*(1/3) = 3
    ("input 6x1 -> deconv 5/3 x1 -> conv 4 x1", [(1,), (2,), (3,)], [(1,), (T,), (T,)]),
    # 3-D deconv 2x3x4/2: k = (1, 2, 2), jump 1/2 each; conv 3: (1+1, 2+1, 2+1)
    ("input 4x4x4x1 -> deconv 2x3x4/2 x1 -> conv 3 x1",
     [(1, 1, 1), (1, 2, 2), (2, 3, 3)], [(1, 1, 1), (H, H, H), (H, H, H)]),
    # upsample 2: 1, jump 1/2; conv 3: 1 + 2*(1/2) = 2, jump 1/2
    ("input 8x8x1 -> upsample 2 -> conv 3 x1",
     [(1, 1), (1, 1), (2, 2)], [(1, 1), (H, H), (H, H)]),
    # upsample 3: jump 1/3; conv 2: 1 + 1/3, rounded up to 2 (a partly covered position)
    ("input 8x8x1 -> upsample 3 -> conv 2 x1",
     [(1, 1), (1, 1), (2, 2)], [(1, 1), (T, T), (T, T)]),
    # conv 3/2: 3, jump 2; upsample 2x3: jump (1, 2/3); conv 3: (3 + 2*1, 3 + 2*(2/3))
    # = (5, 4.33), rounded up to (5, 5)
    ("input 8x8x1 -> conv 3/2 x1 -> upsample 2x3 -> conv 3 x1",
     [(1, 1), (3, 3), (3, 3), (5, 5)], [(1, 1), (2, 2), (1, 2*T), (1, 2*T)]),
    # 1-D upsample 4: jump 1/4; conv 5: 1 + 4/4 = 2; maxpool 2: 2 + 1/4, up to 3, jump 1/2
    ("input 10x1 -> upsample 4 -> conv 5 x1 -> maxpool 2",
     [(1,), (1,), (2,), (3,)], [(1,), (Q,), (Q,), (H,)]),
    # 3-D upsample 1x2x4: jump (1, 1/2, 1/4); conv 3: (1+2, 1+1, 1+0.5 -> 2)
    ("input 4x4x4x1 -> upsample 1x2x4 -> conv 3 x1",
     [(1, 1, 1), (1, 1, 1), (3, 2, 2)], [(1, 1, 1), (1, H, Q), (1, H, Q)]),
    # conv 3 dilation=2: extent 2*2+1 = 5; conv 3 dilation=1x3: extents (3, 7) -> (7, 11)
    ("input 20x20x1 -> conv 3 x1 dilation=2 -> conv 3 x1 dilation=1x3",
     [(1, 1), (5, 5), (7, 11)], [(1, 1), (1, 1), (1, 1)]),
    # conv 2/2: 2, jump 2; conv 3 dilation=2 (extent 5): 2 + 4*2 = 10
    ("input 20x20x1 -> conv 2/2 x1 -> conv 3 x1 dilation=2",
     [(1, 1), (2, 2), (10, 10)], [(1, 1), (2, 2), (2, 2)]),
    # 3-D: dilation 1x2x3 gives extents (3, 5, 7); conv 2/2: +1, jump 2; conv 2
    # dilation=2 (extent 3): +2*2 -> (8, 10, 12)
    ("input 16x16x16x1 -> conv 3 x1 dilation=1x2x3 -> conv 2/2 x1 -> conv 2 x1 dilation=2",
     [(1, 1, 1), (3, 5, 7), (4, 6, 8), (8, 10, 12)],
     [(1, 1, 1), (1, 1, 1), (2, 2, 2), (2, 2, 2)]),
    # dwconv 3 dilation=3: extent 7; sepconv 2 dilation=2: extent 3 -> 7 + 2 = 9
    ("input 20x20x2 -> dwconv 3 dilation=3 -> sepconv 2 x2 dilation=2",
     [(1, 1), (7, 7), (9, 9)], [(1, 1), (1, 1), (1, 1)]),
    # dwconv 3/2: 3, jump 2; sepconv 3/2: 3 + 2*2 = 7, jump 4; conv 1: 7, jump 4
    ("input 17x17x3 -> dwconv 3/2 -> sepconv 3/2 x4 -> conv 1 x4",
     [(1, 1), (3, 3), (7, 7), (7, 7)], [(1, 1), (2, 2), (4, 4), (4, 4)]),
    # 1-D strides: conv 3/2: 3, jump 2; maxpool 3 (stride 3): 3 + 2*2 = 7, jump 6;
    # conv 2/2: 7 + 6 = 13, jump 12; avgpool 2: 13 + 12 = 25, jump 24
    ("input 64x1 -> conv 3/2 x1 -> maxpool 3 -> conv 2/2 x1 -> avgpool 2",
     [(1,), (3,), (7,), (13,), (25,)], [(1,), (2,), (6,), (12,), (24,)]),
    # 3-D, strides differing per axis: conv 3/1x2x3: 3 each, jump (1, 2, 3);
    # maxpool 2x2x1/2x1x1: (3+1*1, 3+1*2, 3+0) = (4, 5, 3), jump (2, 2, 3);
    # conv 3/2: (4+2*2, 5+2*2, 3+2*3) = (8, 9, 9), jump (4, 4, 6)
    ("input 32x32x32x1 -> conv 3/1x2x3 x1 -> maxpool 2x2x1/2x1x1 -> conv 3/2 x1",
     [(1, 1, 1), (3, 3, 3), (4, 5, 3), (8, 9, 9)],
     [(1, 1, 1), (1, 2, 3), (2, 2, 3), (4, 4, 6)]),
    # 2-D, strides differing per axis: conv 3x3/2x1: 3, jump (2, 1); avgpool 2x2/1x2:
    # (3+2, 3+1) = (5, 4), jump (2, 2)
    ("input 16x16x1 -> conv 3x3/2x1 x1 -> avgpool 2x2/1x2",
     [(1, 1), (3, 3), (5, 4)], [(1, 1), (2, 1), (2, 2)]),
    # activations, bn, dropout, zeropad, flatten change nothing: conv 3 -> 3
    ("input 8x8x2 -> conv 3 x2 -> relu -> bn -> dropout 0.5 -> zeropad 1 -> flatten",
     [(1, 1)] + [(3, 3)] * 6, [(1, 1)] * 7),
    # ---- version 3: rearranging ---------------------------------------------------------
    # pixel_shuffle 2 reads one input position per output, jump 1/2 (as upsample 2);
    # conv 3: 1 + 2*(1/2) = 2; pixel_unshuffle 2 sees a 2x2 block, jump 2: 2 + 1*(1/2),
    # up to 3, jump 1
    ("input 8x8x4 -> pixel_shuffle 2 -> conv 3 x4 -> pixel_unshuffle 2",
     [(1, 1), (1, 1), (2, 2), (3, 3)], [(1, 1), (H, H), (H, H), (1, 1)]),
    # upsample 2 bilinear reads 2 positions per axis: 1 + 1*1 = 2, jump 1/2; conv 3:
    # 2 + 2*(1/2) = 3
    ("input 8x8x1 -> upsample 2 bilinear -> conv 3 x1",
     [(1, 1), (2, 2), (3, 3)], [(1, 1), (H, H), (H, H)]),
    # channel_shuffle and the parts of a split move channels only: conv 3 -> 3; the
    # split's branches (3 and 3 + 2 = 5) merge to the larger
    ("input 8x8x4 -> conv 3 x4 -> channel_shuffle 2 -> split { id | conv 3 x2 same }",
     [(1, 1), (3, 3), (3, 3), (3, 3), (3, 3), (5, 5), (5, 5)], [(1, 1)] * 7),

    # version 3: explicit pads move no window's extent or stride (offsets are ignored):
    # conv 7/2: 7, jump 2; maxpool 3/2: 7 + 2*2 = 11, jump 4; pad: 11; conv 3: 11 + 2*4
    ("input 32x32x3 -> conv 7/2 x4 pad=3 -> maxpool 3/2 pad=1 -> pad 1 reflect -> conv 3 x4",
     [(1, 1), (7, 7), (11, 11), (11, 11), (19, 19)], [(1, 1), (2, 2), (4, 4), (4, 4), (4, 4)]),
    # nor does ceil: maxpool 3/2: 3, jump 2; avgpool 2: 3 + 1*2 = 5, jump 4
    ("input 9x9x1 -> maxpool 3/2 ceil -> avgpool 2 ceil pad=1 include_pad",
     [(1, 1), (3, 3), (5, 5)], [(1, 1), (2, 2), (4, 4)]),
    # causal: extent 2*(3-1) + 1 = 5, then 5 + 1 = 6
    ("input 20x1 -> conv 3 x1 causal dilation=2 -> conv 2 x1 causal",
     [(1,), (5,), (6,)], [(1,), (1,), (1,)]),
    # deconv 3/2 pad=1 outpad=1: k = ceil(3/2) = 2, jump 1/2; conv 3: 2 + 2*(1/2) = 3
    ("input 5x5x1 -> deconv 3/2 x1 pad=1 outpad=1 -> conv 3 x1",
     [(1, 1), (2, 2), (3, 3)], [(1, 1), (H, H), (H, H)]),
]


@pytest.mark.parametrize("text, sizes, jumps", RF_ROWS)
def test_receptive_field_by_hand(text, sizes, jumps):
    rf = fields(text)
    assert [f.size for f in rf] == sizes
    assert [f.jump for f in rf] == jumps
    assert not any(f.whole for f in rf)


def test_merge_takes_the_largest_size_per_dimension():
    # branches (3, 1) and (1, 5): the merge is (max(3, 1), max(1, 5)) = (3, 5), not the
    # larger tuple; conv 3 after it: (3+2, 5+2)
    for merge in ("concat", "add", "max"):
        rf = fields(f"input 16x16x1 -> {merge} {{ conv 3x1 x1 same | conv 1x5 x1 same }} "
                    "-> conv 3 x1 same")
        assert [f.size for f in rf] == [(1, 1), (3, 1), (1, 5), (3, 5), (5, 7)], merge


def test_merge_takes_the_largest_jump():
    # id: 1, jump 1; conv 8/8 makes 1x1x2 (broadcast by mul): 8, jump 8; the merge takes
    # size 8 and jump 8, so conv 3 after it sees 8 + 2*8 = 24
    rf = fields("input 8x8x2 -> mul { id | conv 8/8 x2 } -> conv 3 x2 same")
    assert [f.size for f in rf] == [(1, 1), (8, 8), (8, 8), (24, 24)]
    assert [f.jump for f in rf] == [(1, 1), (8, 8), (8, 8), (8, 8)]


def test_merge_of_branches_that_differ_in_depth_and_kind():
    # branch 1: maxpool 2x1: (2, 1), jump (2, 1); upsample 2x1: (2, 1), jump (1, 1).
    # branch 2: conv 1x3 same: (1, 3). add: (2, 3), jump (1, 1); conv 3: (4, 5).
    rf = fields("input 8x8x2 -> add { maxpool 2x1 -> upsample 2x1 | conv 1x3 x2 same } "
                "-> conv 3 x2")
    assert [f.size for f in rf] == [(1, 1), (2, 1), (2, 1), (1, 3), (2, 3), (4, 5)]
    assert [f.jump for f in rf] == [(1, 1), (2, 1), (1, 1), (1, 1), (1, 1), (1, 1)]


def test_nested_merges_and_residual_fields():
    # inner add: max(3x3 conv, 5x1 conv) = (5, 3); outer concat with id: (5, 3);
    # residual of two 3x3 convs: max(id 5x3, 5x3 + 2 + 2 = 9x7) = (9, 7)
    rf = fields("input 16x16x2 -> concat { id | add { conv 3 x2 same | conv 5x1 x2 same } }"
                " -> residual { conv 3 x4 same -> conv 3 x4 same }")
    assert [f.size for f in rf] == [(1, 1), (3, 3), (5, 1), (5, 3), (5, 3), (7, 5), (9, 7),
                                    (9, 7)]


@pytest.mark.parametrize("text, index", [
    ("input 8x6x1 -> conv 3 x1 -> gap", 2),
    ("input 8x6x1 -> conv 3 x1 -> gmp -> dense 2", 2),
    ("input 8x6x1 -> conv 3 x1 -> flatten -> dense 4 -> dense 2", 3),
    ("input 8x6x1 -> conv 3 x2 -> reshape 24x2 -> conv 1 x2", 2),
    # nodes: input, gap, dense, reshape, mul (one branch global), conv
    ("input 8x6x4 -> mul { id | gap -> dense 4 sigmoid -> reshape 1x1x4 } -> conv 3 x4", 1),
])
def test_global_layers_and_every_layer_after_them_see_the_whole_input(text, index):
    rf = fields(text)
    assert not any(f.whole for f in rf[:index])
    for f in rf[index:]:
        assert f.whole and str(f) == "global"
        assert (f.size, f.jump) == ((8, 6), (0, 0))


def test_global_in_1d_and_3d_and_dense_that_keeps_the_rank():
    assert fields("input 9x2 -> conv 3 x2 -> gap")[-1] == \
        fields("input 9x2 -> gmp")[-1]
    rf = fields("input 9x2 -> conv 3 x2 -> gap")
    assert (rf[-1].whole, rf[-1].size, rf[-1].jump) == (True, (9,), (0,))
    rf = fields("input 5x6x7x1 -> conv 3 x1 -> gmp")
    assert (rf[-1].whole, rf[-1].size, rf[-1].jump) == (True, (5, 6, 7), (0, 0, 0))
    # dense on a 6x6x2 tensor acts per position: the conv's 3x3 is kept
    rf = fields("input 8x8x2 -> conv 3 x2 -> dense 4")
    assert (rf[-1].whole, rf[-1].size) == (False, (3, 3))


def test_vector_input_has_no_field():
    assert fields("input 10 -> dense 4 -> relu") == [None, None, None]


# ---- issue 9: behaviour the baseline mutation run found untested ------------------------

@pytest.mark.parametrize("momentum", [0, 1])
def test_batchnorm_momentum_bounds_are_allowed(momentum):
    # LANGUAGE.md: momentum in [0, 1], both ends included
    assert last(f"input 4x4x2 -> batchnorm momentum={momentum}").layer.momentum == momentum


def test_merge_axis_of_size_1_everywhere_stays_1():
    # a size of 1 stretches to match; when every branch has 1 there, the result has 1
    assert last("input 1x4x3 -> add { id | relu }").shape == (1, 4, 3)
    assert last("input 1x4x3 -> mul { id | gap -> reshape 1x1x3 }").shape == (1, 4, 3)


def test_conv_params_and_sharing_factor_count_only_convolutions():
    stats = analyse(compile_text("input 6x6x1 -> conv 3x3/1 x2 -> maxpool 2 -> flatten "
                                 "-> dense 10"))
    assert [s.dense_equivalent for s in stats.layers] == [None, 36*32 + 32, None, None, None]
    assert stats.conv_params == 3*3*1*2 + 2 == 20
    assert stats.dense_equivalent == 1184
    assert stats.sharing_factor == 1184 / 20


def test_c_in_a_repeat_count_is_the_channels_entering_it():
    graph = compile_text("input 4x4x32 -> ( relu ) * {C/16}")
    assert [n.kind for n in graph.nodes] == ["input", "activation", "activation"]


def test_block_default_may_use_c():
    # LANGUAGE.md: `C` in a default means the channels entering the call
    assert last("def widen(w={C*2}) = conv 1 x{w}\ninput 4x4x3 -> widen").shape == (4, 4, 6)
    assert last("def widen(w={C*2}) = conv 1 x{w}\ninput 4x4x3 -> conv 1 x5 -> widen"
                ).shape == (4, 4, 10)


def test_keyword_arguments_are_evaluated_where_the_call_is_written():
    text = "def inner(f) = dense {f}\ndef outer(g) = inner(f={g*2})\ninput 6 -> outer(5)"
    assert last(text).shape == (10,)


def test_each_warning_is_reported_once_per_place():
    # two dropouts above 0.9 at two places: two warnings
    graph = compile_text("input 10 -> dropout 0.95 -> dropout 0.95 -> dense 3")
    assert len(graph.warnings) == 2
    # one block used twice: the same place and message, one warning
    graph = compile_text("def d = dropout 0.95\ninput 10 -> d -> d -> dense 3")
    assert len(graph.warnings) == 1


# ---- version 3: rearranging ---------------------------------------------------------

def test_split_parts_are_named_after_the_split_and_read_in_order():
    graph = compile_text("input 4x4x64 -> split 24,40 { relu | conv 1 x8 } "
                         "-> split { id | id } name=unit")
    parts = [(n.name, n.layer.start, n.layer.size, n.layer.index) for n in graph.nodes
             if n.kind == "part"]
    assert parts == [("split_1_1", 0, 24, 1), ("split_1_2", 24, 40, 2),
                     ("unit_1", 0, 16, 1), ("unit_2", 16, 16, 2)]
    split = graph.nodes[-1]
    assert split.kind == "split" and [graph.nodes[i].name for i in split.inputs] == \
        ["unit_1", "unit_2"]  # `id` branches read their part


def test_split_sizes_may_be_expressions_of_c_and_parameters():
    graph = compile_text("def unit(a) = split {a},{C-a} { id | relu }\ninput 2x2x10 -> unit(3)")
    assert [n.layer.size for n in graph.nodes if n.kind == "part"] == [3, 7]
    assert graph.nodes[-1].text == "split 3,7 {...}"


def test_version_3_layers_describe_themselves_as_written():
    for text in ("pixel_shuffle 2", "pixel_unshuffle 3", "channel_shuffle 4", "flatten chw",
                 "upsample 2x2 bilinear", "sepconv 3x3 x8 mult=2"):
        assert last(f"input 6x6x36 -> {text}").layer.describe() == text
    assert last("input 6x6x4 -> flatten").layer.describe() == "flatten"
    assert last("input 6x6x4 -> sepconv 3 x8 mult=1").layer.multiplier == 1


def test_sepconv_multiplier_shapes_its_two_kernels():
    node = last("input 8x8x6 -> sepconv 3 x16 mult=2")
    shapes = {k: v.shape for k, v in node.layer.variables(node.in_shapes).items()}
    assert shapes == {"depthwise_kernel": (3, 3, 6, 2), "pointwise_kernel": (1, 1, 12, 16),
                      "bias": (16,)}


# ---- version 3: normalisation and activations ---------------------------------------------

def test_version_3_defaults_are_keras_and_pytorch():
    # Keras's GroupNormalization epsilon is 1e-3, as every cnndsl eps; LRN's defaults are
    # PyTorch's LocalResponseNorm's (alpha 1e-4, beta 0.75, k 1)
    gn = last("input 4x4x8 -> groupnorm 2").layer
    assert (gn.groups, gn.eps, gn.affine) == (2, 0.001, True)
    inorm = last("input 4x4x8 -> instancenorm").layer
    assert (inorm.eps, inorm.affine) == (0.001, True)
    lrn = last("input 4x4x8 -> lrn 5").layer
    assert (lrn.size, lrn.alpha, lrn.beta, lrn.k) == (5, 1e-4, 0.75, 1.0)
    assert last("input 4x4x8 -> prelu").layer.shared is False
    assert last("input 4x4x8 -> prelu shared").layer.shared is True


def test_version_3_activations_keep_their_values():
    def fn(text):
        return last(f"input 4x4x2 -> {text}").layer.function

    assert (fn("elu=0.5").name, fn("elu=0.5").alpha) == ("elu", 0.5)
    assert fn("elu=1") == fn("elu")  # alpha 1 is elu's default: the same activation
    assert (fn("celu=2").name, fn("celu=2").alpha_or_one) == ("celu", 2.0)
    assert fn("gelu=tanh").approximate and not fn("gelu").approximate
    assert fn("clip=-1,1").bounds == (-1.0, 1.0)
    assert fn("clip={-1/2},{3*2}").bounds == (-0.5, 6.0)
    fused = last("input 4x4x2 -> conv 1 x2 clip=0,6").layer.activation
    assert (fused.name, fused.bounds) == ("clip", (0.0, 6.0))


def test_version_3_steps_describe_themselves_as_written():
    texts = {"groupnorm 4": "groupnorm 4 eps=0.001",
             "groupnorm 2 eps=1e-5 affine=false": "groupnorm 2 eps=1e-05 affine=false",
             "instancenorm affine=false": "instancenorm eps=0.001 affine=false",
             "lrn 5": "lrn 5 alpha=0.0001 beta=0.75 k=1",
             "lrn 4 alpha=0.001 beta=0.5 k=2": "lrn 4 alpha=0.001 beta=0.5 k=2",
             "prelu": "prelu", "prelu shared": "prelu shared",
             "elu=0.5": "elu=0.5", "elu=1": "elu", "celu": "celu", "celu=0.25": "celu=0.25",
             "gelu=tanh": "gelu=tanh", "mish": "mish", "softsign": "softsign",
             "log_softmax": "log_softmax", "clip=-1,1": "clip=-1,1",
             "clip=0,{1/3}": "clip=0,0.3333333333333333"}
    for text, described in texts.items():
        assert last(f"input 4x4x8 -> {text}").layer.describe() == described, text


def test_version_3_kinds_are_named_after_their_word():
    # as `leaky_relu=0.1` is `leaky_relu_1`: an activation with a value is named after it
    got = names("input 8x8x4 -> groupnorm 2 -> instancenorm -> lrn 3 -> prelu -> prelu shared "
                "-> elu=0.5 -> celu -> gelu=tanh -> mish -> softsign -> clip=-1,1 "
                "-> log_softmax -> elu")
    assert got == ["input", "groupnorm_1", "instancenorm_1", "lrn_1", "prelu_1", "prelu_2",
                   "elu_1", "celu_1", "gelu_1", "mish_1", "softsign_1", "clip_1",
                   "log_softmax_1", "elu_2"]


def test_version_3_variables_are_keras_names_and_layouts():
    graph = compile_text("input 4x4x3 -> groupnorm 3 -> instancenorm affine=false -> prelu "
                         "-> prelu shared -> lrn 3")
    variables = {n.name: n.layer.variables(n.in_shapes) for n in graph.nodes[1:]}
    assert list(variables["groupnorm_1"]) == ["gamma", "beta"]
    assert variables["groupnorm_1"]["gamma"].shape == (3,)
    assert variables["instancenorm_1"] == {} and variables["lrn_1"] == {}
    # Keras's PReLU: the input's shape with its shared axes 1; alpha starts at 0
    assert variables["prelu_1"]["alpha"].shape == (1, 1, 3)
    assert variables["prelu_2"]["alpha"].shape == (1, 1, 1)
    assert variables["prelu_1"]["alpha"].init == "zeros"
    vector = compile_text("input 5 -> prelu -> prelu shared")
    assert [n.layer.variables(n.in_shapes)["alpha"].shape for n in vector.nodes[1:]] == \
        [(5,), (1,)]


def test_group_and_instance_norm_see_the_whole_input_lrn_and_prelu_one_position():
    # their mean and variance are taken over every position of the example
    rf = fields("input 8x8x4 -> conv 3 x4 -> lrn 3 -> prelu -> groupnorm 2 -> conv 1 x4")
    assert [f.size for f in rf[:4]] == [(1, 1), (3, 3), (3, 3), (3, 3)]
    assert rf[4].whole and rf[5].whole
    assert fields("input 8x8x4 -> instancenorm")[-1].whole

"""Version 3's rearranging steps through the whole Keras path, as test_compile_v2 does
for version 2: `cnndsl compile` to a `.keras` file that Keras loads in safe mode in a
process where cnndsl cannot be imported (built-in layers only: the steps Keras has no
layer for are chains of Reshape, Permute, Cropping1D and Flatten), computing the NumPy
backend's numbers on the same weights; the emitted Python source building the same
model. One network of two inputs holds every step, so Keras is loaded once."""

from __future__ import annotations

import numpy as np
import pytest
from plain_keras import run_without_cnndsl

import cnndsl
from cnndsl.backends.numpy import Interpreter
from cnndsl.backends.weights import init_weights
from cnndsl.cli import main

V3_STEPS = """\
# every version-3 rearranging step, in 2-D and 1-D
input 6x6x8 as image
input 10x6 as seq
@image -> pixel_shuffle 2 -> conv 3 x12 same -> pixel_unshuffle 2
  -> channel_shuffle 4
  -> split 16,32 { id | conv 1 x8 relu }
  -> split { relu | sepconv 3 x6 same mult=2 | add { tanh } }
  -> upsample 2x3 bilinear -> conv 1 x5 -> flatten chw -> dense 3 as a
@seq -> channel_shuffle 3 -> split { sepconv 3 x4 mult=3 same | concat { id } }
  -> flatten chw -> split 2,3,65 { dense 2 | id | max { relu } } as b
output @a, @b
"""
# By hand (docs/report.md): conv_1 3*3*2*12+12; conv_2 1*1*32*8+8; sepconv_1
# 3*3*8*2 + 8*2*6 + 6; conv_3 1*1*22*5+5; dense_1 (12*18*5)*3+3; sepconv_2 (1-D, on 3
# of the 6 channels) 3*3*3 + 3*3*4 + 4; dense_2 2*2+2
PARAMS = (3*3*2*12 + 12) + (1*1*32*8 + 8) + (3*3*8*2 + 8*2*6 + 6) + (1*1*22*5 + 5) \
    + (12*18*5*3 + 3) + (3*3*3 + 3*3*4 + 4) + (2*2 + 2)

@pytest.fixture(scope="module")
def compiled(keras, tmp_path_factory):
    """The network compiled with seed 3, an input batch, and the loaded network."""
    work = tmp_path_factory.mktemp("v3")
    spec = work / "v3.cnn"
    spec.write_text(V3_STEPS, encoding="utf-8")
    assert main(["compile", str(spec), "--seed", "3", "-o", str(work / "v3.keras")]) == 0
    rng = np.random.default_rng(7)
    xs = {"image": rng.standard_normal((3, 6, 6, 8)).astype(np.float32),
          "seq": rng.standard_normal((3, 10, 6)).astype(np.float32)}
    return work, cnndsl.load(spec), xs


def test_report_counts_by_hand():
    graph = cnndsl.compile_text(V3_STEPS, name="v3")
    assert [n.shape for n in graph.output_nodes] == [(3,), (2 + 3 + 65,)]
    assert cnndsl.analyse(graph).params == PARAMS


def test_the_keras_file_loads_without_cnndsl_and_computes_the_numpy_numbers(compiled):
    work, net, xs = compiled
    outs, loaded = run_without_cnndsl(work / "v3.keras", [xs["image"], xs["seq"]])
    assert loaded == {"params": PARAMS, "classes": ["keras"]}
    expected = Interpreter(net.graph, init_weights(net.graph, 3)).run_many(
        [xs["image"], xs["seq"]])
    for name, got, value in zip("ab", outs, expected):
        np.testing.assert_allclose(got, value, rtol=0, atol=1e-5, err_msg=name)


def test_python_source_builds_the_same_model(keras, compiled):
    work, net, xs = compiled
    assert main(["compile", str(work / "v3.cnn"), "--emit", "python", "-o",
                 str(work / "v3.py")]) == 0
    namespace: dict = {"__name__": "generated"}
    exec((work / "v3.py").read_text(encoding="utf-8"), namespace)
    built = namespace["build_v3"]()
    model = keras.saving.load_model(work / "v3.keras", compile=False)
    assert [(type(a).__name__, a.name, a.count_params()) for a in built.layers] == \
        [(type(b).__name__, b.name, b.count_params()) for b in model.layers]
    model.save_weights(work / "v3.weights.h5")
    built.load_weights(work / "v3.weights.h5")
    for ours, theirs in zip(built([xs["image"], xs["seq"]]), model([xs["image"], xs["seq"]])):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=0, atol=1e-6)

"""Version 2's steps through the whole Keras path: `cnndsl compile` to a `.keras` file that
Keras loads in safe mode in a process where cnndsl cannot be imported (built-in layers
only), the same numbers as the NumPy backend, `cnndsl weights` exporting the adapted
normalisation's statistics (its count an integer) for `cnndsl run`, and the emitted Python
source building the same model. One network holds every new step and option, so Keras
is loaded once per module and the whole file runs in seconds."""

from __future__ import annotations

import numpy as np
import pytest
from plain_keras import run_without_cnndsl

import cnndsl
from cnndsl.backends.weights import declared, init_weights, load_npz
from cnndsl.cli import main

V2_STEPS = """\
# every version-2 step and option, as MobileNetV3 and ConvNeXt use them
def se(c) = mul { id | gap keepdims -> conv 1 x{max(2, c // 4)} relu -> conv 1 x{c} hard_sigmoid }
input 16x16x3
  -> rescale {1/255} offset=-0.5
  -> normalize mean=0.485,0.456,0.406 variance=0.052,0.050,0.051
  -> normalize
  -> conv 3 x8 same hard_swish
  -> bn scale=false
  -> se(8)
  -> add { id | conv 3 x8 same -> bn center=false scale=false -> dropout 0.2 noise=1x1x1 }
  -> crop 1:0x0:1
  -> layernorm eps=1e-6
  -> conv 3 x6 hard_silu
  -> crop 1
  -> gmp keepdims
  -> layernorm scale=false center=false
  -> flatten -> dropout 0.3 noise=6
  -> dense {round(2.5) + 1} softmax
"""
# By hand (docs/report.md): normalize 2*3+1; conv_1 3*3*3*8+8; bn without gamma 3*8;
# se: conv 1 x2 8*2+2, conv 1 x8 2*8+8; conv_4 3*3*8*8+8; bn without both 2*8;
# layernorm 2*8; conv_5 3*3*8*6+6; layernorm without both 0; dense 6*3+3
PARAMS = (2*3 + 1) + (3*3*3*8 + 8) + 3*8 + (8*2 + 2) + (2*8 + 8) + (3*3*8*8 + 8) + 2*8 \
    + 2*8 + (3*3*8*6 + 6) + 0 + (6*3 + 3)
NON_TRAINABLE = (2*3 + 1) + 2*8 + 2*8

@pytest.fixture(scope="module")
def compiled(keras, tmp_path_factory):
    """The network compiled with seed 3, an input batch, and its graph."""
    work = tmp_path_factory.mktemp("v2")
    spec = work / "v2.cnn"
    spec.write_text(V2_STEPS, encoding="utf-8")
    assert main(["compile", str(spec), "--seed", "3", "-o", str(work / "v2.keras")]) == 0
    x = np.random.default_rng(7).uniform(0, 255, (3, 16, 16, 3)).astype(np.float32)
    np.save(work / "x.npy", x)
    return work, cnndsl.load(spec), x


def test_report_counts_by_hand():
    graph = cnndsl.compile_text(V2_STEPS, name="v2")
    stats = cnndsl.analyse(graph)
    assert graph.output.shape == (3,)
    assert (stats.params, stats.total("non_trainable")) == (PARAMS, NON_TRAINABLE)


def test_the_keras_file_loads_without_cnndsl_and_computes_the_numpy_numbers(compiled):
    work, net, x = compiled
    (out,), loaded = run_without_cnndsl(work / "v2.keras", [x])
    assert loaded == {"params": PARAMS, "classes": ["keras"]}
    expected = net.run(x, init_weights(net.graph, 3))
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-5)


def test_exported_weights_run_in_numpy_as_in_keras(keras, compiled):
    """`cnndsl weights` writes the normalisation's statistics under Keras's names, the
    count as an integer; `cnndsl run` with them gives Keras's output."""
    work, net, x = compiled
    model = keras.saving.load_model(work / "v2.keras", compile=False)
    normalize = model.get_layer("normalize_2")
    normalize.set_weights([np.array([100.0, 120, 140], np.float32),
                           np.array([3000.0, 2500, 2000], np.float32), np.array(50)])
    normalize.finalize_state()
    model.save(work / "trained.keras")
    assert main(["weights", str(work / "trained.keras"), "-o", str(work / "w.npz")]) == 0
    weights = load_npz(work / "w.npz")
    assert set(weights) == set(declared(net.graph))
    assert weights["normalize_2/count"].dtype == np.int64 and weights["normalize_2/count"] == 50
    np.testing.assert_array_equal(weights["normalize_2/mean"], [100, 120, 140])
    assert main(["run", str(work / "v2.cnn"), "-i", str(work / "x.npy"), "-o",
                 str(work / "y.npy"), "--weights", str(work / "w.npz")]) == 0
    np.testing.assert_allclose(np.load(work / "y.npy"), model(x, training=False).numpy(),
                               rtol=0, atol=1e-5)


def test_python_source_builds_the_same_model(keras, compiled):
    work, net, x = compiled
    assert main(["compile", str(work / "v2.cnn"), "--emit", "python", "-o",
                 str(work / "v2.py")]) == 0
    namespace: dict = {"__name__": "generated"}
    exec((work / "v2.py").read_text(encoding="utf-8"), namespace)
    built = namespace["build_v2"]()
    model = keras.saving.load_model(work / "v2.keras", compile=False)
    assert [(type(a).__name__, a.name, a.count_params()) for a in built.layers] == \
        [(type(b).__name__, b.name, b.count_params()) for b in model.layers]
    model.save_weights(work / "v2.weights.h5")
    built.load_weights(work / "v2.weights.h5")  # Normalization reads its statistics here
    np.testing.assert_allclose(built(x, training=False).numpy(),
                               model(x, training=False).numpy(), rtol=0, atol=1e-6)

"""Version 3's normalisations and activations through the Keras path: one network holding
every step and activation Keras builds exactly (GroupNormalization, PReLU with its shared
axes, ELU and ReLU layers for `elu=A` and `clip=0,HI`, and Keras's own mish, softsign,
log_softmax, celu, hard_tanh, relu6), saved as a `.keras` file that loads where cnndsl
cannot be imported and computes the NumPy backend's numbers on weights drawn away from
their initial values; the Python source builds the same model; and each step Keras has no
exact layer for is refused at the step, with the backends that run it. Keras is loaded
once for the module."""

from __future__ import annotations

import numpy as np
import pytest
from plain_keras import run_without_cnndsl
from zoo import lively_weights

import cnndsl
from cnndsl.backends.numpy import Interpreter
from cnndsl.cli import main

V3_NORM = """\
input 8x8x3
  -> conv 3 x8 same elu=0.5
  -> groupnorm 4
  -> prelu
  -> conv 3 x6 same clip=0,4
  -> instancenorm eps=1e-5
  -> prelu shared
  -> mish -> softsign -> celu -> clip=-1,1 -> clip=0,6 -> elu=2
  -> instancenorm affine=false
  -> groupnorm 2 affine=false
  -> gap
  -> dense 6 -> prelu
  -> dense 5 log_softmax
"""
# By hand: conv 3*3*3*8 + 8 = 224; groupnorm 2*8; prelu 8 (one slope per channel);
# conv 3*3*8*6 + 6 = 438; instancenorm 2*6; prelu shared 1; dense 6*6 + 6 = 42;
# prelu 6; dense 6*5 + 5 = 35
PARAMS = 224 + 16 + 8 + 438 + 12 + 1 + 42 + 6 + 35


@pytest.fixture(scope="module")
def compiled(keras, tmp_path_factory):
    """The network as a `.keras` file with lively weights, an input batch, its graph."""
    from cnndsl.backends.keras.builder import build_model, save_model

    work = tmp_path_factory.mktemp("v3norm")
    (work / "v3.cnn").write_text(V3_NORM, encoding="utf-8")
    graph = cnndsl.compile_text(V3_NORM, "v3")
    weights = lively_weights(graph, 3)
    model = build_model(graph, weights)
    save_model(model, work / "v3.keras")
    x = np.random.default_rng(7).normal(0, 2, (3, 8, 8, 3)).astype(np.float32)
    np.save(work / "x.npy", x)
    return work, graph, weights, model, x


def test_params_by_hand():
    assert cnndsl.analyse(cnndsl.compile_text(V3_NORM, "v3")).params == PARAMS


def test_the_keras_file_loads_without_cnndsl_and_computes_the_numpy_numbers(compiled):
    work, graph, weights, model, x = compiled
    (out,), loaded = run_without_cnndsl(work / "v3.keras", [x])
    assert loaded == {"params": PARAMS, "classes": ["keras"]}
    expected = Interpreter(graph, weights).run(x)
    np.testing.assert_allclose(out, expected, rtol=0, atol=2e-5)


def test_keras_layers_are_keras_own(compiled):
    work, graph, weights, model, x = compiled
    kinds = {type(layer).__name__ for layer in model.layers}
    assert {"GroupNormalization", "PReLU", "ELU"} <= kinds
    fused = model.get_layer("conv_2").activation  # clip=0,4, fused
    assert type(fused).__name__ == "ReLU" and fused.max_value == 4
    assert model.get_layer("prelu_1").get_weights()[0].shape == (1, 1, 8)
    assert model.get_layer("prelu_2").get_weights()[0].shape == (1, 1, 1)
    assert model.get_layer("prelu_3").get_weights()[0].shape == (6,)
    assert model.get_layer("instancenorm_1").groups == 6


def test_python_source_builds_the_same_model(keras, compiled):
    work, graph, weights, model, x = compiled
    assert main(["compile", str(work / "v3.cnn"), "--emit", "python", "-o",
                 str(work / "v3.py")]) == 0
    namespace: dict = {"__name__": "generated"}
    exec((work / "v3.py").read_text(encoding="utf-8"), namespace)
    built = namespace["build_v3"]()
    assert [(type(a).__name__, a.name, a.count_params()) for a in built.layers] == \
        [(type(b).__name__, b.name, b.count_params()) for b in model.layers]
    built.set_weights(model.get_weights())
    np.testing.assert_allclose(built(x, training=False).numpy(),
                               model(x, training=False).numpy(), rtol=0, atol=1e-6)


@pytest.mark.parametrize("line, step, words", [
    ("input 4x4x6 -> lrn 5", "lrn 5", "local response"),
    ("input 4x4x6 -> gelu=tanh", "gelu=tanh", "gelu=tanh"),
    ("input 4x4x6 -> conv 3 x4 gelu=tanh", "conv 3 x4 gelu=tanh", "gelu=tanh"),
    ("input 4x4x6 -> celu=0.5", "celu=0.5", "celu=0.5"),
    ("input 4x4x6 -> dense 3 clip=-0.5,1", "dense 3 clip=-0.5,1", "clip=-0.5,1"),
])
def test_what_keras_cannot_build_exactly_is_refused_at_the_step(tmp_path, capsys, line,
                                                                 step, words):
    spec = tmp_path / "net.cnn"
    spec.write_text(line + "\n", encoding="utf-8")
    for how in (["-o", str(tmp_path / "net.keras")], ["--emit", "python", "-o",
                                                      str(tmp_path / "net.py")]):
        assert main(["compile", str(spec), *how]) == 1
        err = capsys.readouterr().err
        column = line.index(step) + 1
        assert f"net.cnn:1:{column}: error: " in err and words in err, err
        assert "hint: `cnndsl run` computes it with NumPy" in err and "ONNX" in err
    assert not (tmp_path / "net.keras").exists() and not (tmp_path / "net.py").exists()

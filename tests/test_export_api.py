"""`Network.to_keras()` and `Network.to_onnx()` (issue 19 item 27): from Python, the same
models `cnndsl compile` writes, by the same code.

The oracle is the command: a model made from Python must be the one the command writes
for the same spec and the same weights (seeded, a `.npz` file, or a mapping): equal
weights, and equal outputs on an input in Keras or onnxruntime. `import cnndsl` and
everything but these two methods leave TensorFlow and onnx unimported, which a fresh
interpreter shows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cnndsl
from cnndsl.cli import main
from cnndsl.errors import MissingExtra
from cnndsl.support.files import FileError

ROOT = Path(__file__).resolve().parent.parent
# 3*3*2*4 + 4 = 76 and 4*4*4*3 + 3 = 195 params: 271
SPEC = "input 8x8x2 -> conv 3 x4 same relu -> maxpool 2 -> flatten -> dense 3\n"


def spec(tmp_path: Path) -> Path:
    path = tmp_path / "net.cnn"
    path.write_text(SPEC, encoding="utf-8")
    return path


def example(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((2, 8, 8, 2)).astype(np.float32)


def trained(net: cnndsl.Network) -> dict[str, np.ndarray]:
    """Weights unlike any initial ones: every variable drawn from a normal distribution."""
    rng = np.random.default_rng(7)
    return {key: rng.standard_normal(value.shape).astype(np.float32)
            for key, value in net.init_weights(0).items()}


# ---- ONNX ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def onnx():
    onnx = pytest.importorskip("onnx", reason="pip install 'cnndsl[onnx]'")
    pytest.importorskip("onnxruntime", reason="pip install 'cnndsl[onnx]'")
    return onnx


def initializers(onnx, model) -> dict[str, np.ndarray]:
    return {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}


def test_to_onnx_writes_the_file_compile_writes(tmp_path, capsys, onnx):
    from onnx_check import run_onnx

    assert main(["compile", str(spec(tmp_path)), "-o", str(tmp_path / "cli.onnx"),
                 "--seed", "3"]) == 0
    capsys.readouterr()
    net = cnndsl.load(spec(tmp_path))
    model = net.to_onnx(tmp_path / "api.onnx", seed=3)
    assert (tmp_path / "api.onnx").read_bytes() == (tmp_path / "cli.onnx").read_bytes()
    assert model.SerializeToString() == (tmp_path / "cli.onnx").read_bytes()
    cli = onnx.load(str(tmp_path / "cli.onnx"))
    # the seeded weights are those `init_weights(3)` draws, and run as NumPy runs them
    weights = net.init_weights(3)
    assert initializers(onnx, model)["conv_1/kernel"].shape == (4, 2, 3, 3)  # ONNX's layout
    np.testing.assert_array_equal(initializers(onnx, model)["dense_1/kernel"],
                                  weights["dense_1/kernel"])
    x = example()
    (ours,), (theirs,) = run_onnx(net.graph, model, [x]), run_onnx(net.graph, cli, [x])
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_allclose(ours, net.run(x), rtol=1e-5, atol=1e-6)


def test_to_onnx_with_weights_as_a_mapping_or_a_file(tmp_path, capsys, onnx):
    net = cnndsl.load(spec(tmp_path))
    weights = trained(net)
    np.savez(tmp_path / "w.npz", **weights)
    assert main(["compile", str(spec(tmp_path)), "-o", str(tmp_path / "cli.onnx"),
                 "--weights", str(tmp_path / "w.npz"), "--opset", "18"]) == 0
    capsys.readouterr()
    cli = (tmp_path / "cli.onnx").read_bytes()
    from_mapping = net.to_onnx(weights=weights, opset=18)  # no path: nothing written
    from_file = net.to_onnx(tmp_path / "file.onnx", opset=18, weights=str(tmp_path / "w.npz"))
    assert from_mapping.SerializeToString() == from_file.SerializeToString() == cli
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cli.onnx", "file.onnx", "net.cnn",
                                                          "w.npz"]


def test_to_onnx_errors_are_the_commands(tmp_path, onnx):
    net = cnndsl.load(spec(tmp_path))
    with pytest.raises(FileError, match="--opset must be between 13 and"):
        net.to_onnx(opset=12)
    with pytest.raises(FileError, match="path must name a .onnx file"):
        net.to_onnx(tmp_path / "net.keras")
    with pytest.raises(FileError, match=r"missing: .*dense_1/kernel"):
        net.to_onnx(weights={k: v for k, v in trained(net).items() if k != "dense_1/kernel"})
    assert not list(tmp_path.glob("*.onnx")) and not list(tmp_path.glob(".*"))


def test_missing_onnx_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` raises ImportError
    with pytest.raises(ImportError, match=r"needs the onnx package.*pip install "
                       r"'cnndsl\[onnx\]'") as info:
        cnndsl.load(spec(tmp_path)).to_onnx(tmp_path / "n.onnx")
    assert isinstance(info.value, MissingExtra) and info.value.extra == "onnx"
    assert not (tmp_path / "n.onnx").exists()


# ---- Keras ---------------------------------------------------------------------------------

def keras_weights(model) -> dict[str, np.ndarray]:
    return {v.path: np.asarray(v.numpy()) for v in model.weights}


def test_to_keras_is_the_model_compile_writes(tmp_path, capsys, keras):
    net = cnndsl.load(spec(tmp_path))
    weights = trained(net)
    np.savez(tmp_path / "w.npz", **weights)
    for how, api in ((["--seed", "3"], {"seed": 3}),
                     (["--weights", str(tmp_path / "w.npz")], {"weights": weights})):
        out = tmp_path / "cli.keras"
        assert main(["compile", str(spec(tmp_path)), "-o", str(out), *how]) == 0
        capsys.readouterr()
        cli = keras.models.load_model(out)
        model = net.to_keras(**api)
        assert isinstance(model, keras.Model) and model.name == cli.name == "net"
        ours, theirs = keras_weights(model), keras_weights(cli)
        assert sorted(ours) == sorted(theirs)
        for key in ours:
            np.testing.assert_array_equal(ours[key], theirs[key], err_msg=key)
        x = example()
        np.testing.assert_array_equal(model.predict(x, verbose=0), cli.predict(x, verbose=0))
        # the weights are those NumPy runs with: `init_weights(3)`, or the mapping
        net.set_weights(weights if "weights" in api else net.init_weights(3))
        np.testing.assert_allclose(model.predict(x, verbose=0), net.run(x), rtol=1e-5,
                                   atol=1e-6)


def test_without_weights_or_seed_the_networks_own_weights_are_exported(tmp_path, keras, onnx):
    """A user who set (or trained) weights and calls `to_keras()` / `to_onnx()` gets those,
    not fresh initial ones; with neither set, seed 0's, as `compile` without --seed."""
    import onnxruntime

    net = cnndsl.load(spec(tmp_path))
    x = example(1)
    fresh = net.to_keras()  # nothing set yet: seed 0, the command's default
    np.testing.assert_allclose(fresh.predict(x, verbose=0),
                               cnndsl.load(spec(tmp_path)).run(x), rtol=1e-5, atol=1e-6)
    weights = trained(net)
    net.set_weights(weights)
    expected = net.run(x)
    np.testing.assert_allclose(net.to_keras().predict(x, verbose=0), expected, rtol=1e-5,
                               atol=1e-6)
    session = onnxruntime.InferenceSession(net.to_onnx().SerializeToString())
    [got] = session.run(None, {session.get_inputs()[0].name: x})
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="not both"):
        net.to_keras(weights=weights, seed=1)


def test_missing_tensorflow_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "keras", None)  # `import keras` raises ImportError
    with pytest.raises(ImportError, match=r"needs TensorFlow.*pip install "
                       r"'cnndsl\[keras\]'") as info:
        cnndsl.load(spec(tmp_path)).to_keras()
    assert isinstance(info.value, MissingExtra) and info.value.extra == "keras"


# ---- what is imported when -----------------------------------------------------------------

IMPORTS = r"""
import json, sys
import numpy as np
import cnndsl

def loaded():
    return sorted({m.split(".")[0] for m in sys.modules} & {"tensorflow", "keras", "onnx"})

seen = [loaded()]
net = cnndsl.parse("input 4 -> dense 3", name="n")
net.run(np.ones((1, 4), np.float32)); net.summary(file=open("/dev/null", "w"))
net._repr_html_()
seen.append(loaded())
net.to_onnx()
seen.append(loaded())
print(json.dumps(seen))
"""


def test_tensorflow_and_onnx_are_imported_only_when_asked_for(onnx):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", IMPORTS], capture_output=True, text=True,
                         check=True, cwd=ROOT, env=env).stdout
    # `import cnndsl`, parse, run, summary and the notebook's HTML import neither;
    # to_onnx imports onnx and never TensorFlow
    assert json.loads(out.strip().splitlines()[-1]) == [[], [], ["onnx"]]

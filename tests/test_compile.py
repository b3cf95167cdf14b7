"""`cnndsl compile`, `cnndsl weights` and `cnndsl run --weights MODEL.keras`.

Without TensorFlow, the tests that need Keras skip (with the pip command as the reason);
the rest run everywhere: every mistake caught before Keras is imported (destinations,
weights that do not fit, files that are not `.keras` models), the missing-TensorFlow
message, and `--emit python`, which needs no Keras (tests/test_plain_keras.py has more).

With TensorFlow: LeNet-5 compiled, loaded back and run equals the NumPy interpreter;
the emitted Python source, run in a fresh interpreter, builds the same model as
`build_model` (layers, shapes, parameters, activations and outputs) for LeNet-5, ResNet-50
and a network using every step kind; weights trained in Keras come back through
`cnndsl weights` and `run --weights MODEL.keras` exactly; failed writes leave old files.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from outcomes import cli

import cnndsl
from cnndsl.backends.weights import init_weights, load_npz

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
NO_KERAS = "TensorFlow/Keras not installed: pip install 'cnndsl[keras]'"
MISSING_TF = ("error: the Keras backend needs TensorFlow, which is not installed or cannot "
              "be imported")
OLD = b"an existing good file, which no failure may touch"
DENSE_NET = "input 4 -> dense 3 relu -> dense 2\n"
CONV_NET = "input 8x8x1 -> conv 3 x4 relu -> bn -> maxpool 2 -> flatten -> dense 3 softmax\n"
# Every step kind, fused and stand-alone activations (leaky_relu=0.1 both ways, swish),
# dilation, groups, bias=false, a depth multiplier, and the five merges nested.
ALL_KINDS = """
input 16x16x4
  -> conv 3 x8 same relu dilation=2
  -> conv 3 x8 same groups=2 bias=false
  -> bn
  -> leaky_relu=0.1
  -> dwconv 3 x2 same leaky_relu=0.1
  -> sepconv 3 x8 same swish
  -> add { id
         | conv 1 x8 -> mul { id | gap -> dense 8 sigmoid -> reshape 1x1x8 }
         | max { id | avg { id | conv 1 x8 tanh } } }
  -> concat { maxpool 2 same | avgpool 3/2 same | zeropad 0:1x0:1 -> dwconv 3/2 valid bias=false }
  -> deconv 3/2 x6 same elu
  -> maxpool 2 valid -> upsample 2 -> relu6
  -> dropout 0.3 -> gelu -> leaky_relu
  -> conv 3/2 x4 valid
  -> gmp -> dense 12 leaky_relu -> dense 8 -> reshape 2x4 -> flatten -> dense 5 softmax
"""


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def fake_keras_file(path: Path, config: str = "{}") -> None:
    """A zip with a `config.json`: passes the container check, so Keras itself is asked."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", config)
        archive.writestr("metadata.json", "{}")


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A directory with small networks, an input for each, and old outputs to protect."""
    monkeypatch.chdir(tmp_path)
    Path("dense.cnn").write_text(DENSE_NET, encoding="utf-8")
    Path("conv.cnn").write_text(CONV_NET, encoding="utf-8")
    Path("bad.cnn").write_text("input 6x6x1 -> conv 7x7 x2\n", encoding="utf-8")
    np.save("x.npy", np.ones((3, 4), np.float32))
    for name in ("dense.keras", "dense.py", "dense.npz", "out.keras", "out.py", "w.npz"):
        Path(name).write_bytes(OLD)
    return tmp_path


# ---- everywhere: errors found before Keras is imported ----------------------------------------

def write_bad_files() -> None:
    np.savez("short.npz", **{"dense_1/kernel": np.zeros((4, 3), np.float32)})
    np.savez("wrong.npz", **{"dense_1/kernel": np.zeros((3, 4), np.float32),
                             "dense_1/bias": np.zeros(4, np.float32),
                             "dense_2/kernel": np.zeros((3, 2), np.float32),
                             "dense_2/bias": np.zeros(2, np.float32),
                             "dense_9/bias": np.zeros(2, np.float32)})
    Path("junk.keras").write_text("not a model\n", encoding="utf-8")
    Path("model.h5").write_bytes(b"\x89HDF\r\n\x1a\n")
    Path("adir.keras").mkdir()
    fake_keras_file(Path("model.keras"))
    Path("spec.py").write_text(DENSE_NET, encoding="utf-8")


USER_ERRORS = [
    # (argv, the stderr's first line starts with, and contains)
    (("compile", "dense.cnn", "-o", "nodir/m.keras"),
     "nodir/m.keras: error: the directory nodir does not exist", ""),
    (("compile", "dense.cnn", "-o", "m.h5"), "m.h5: error: -o must name a .keras file",
     "-o m.keras"),
    (("compile", "dense.cnn", "--emit", "python", "-o", "m.keras"),
     "m.keras: error: -o must name a .py file", ""),
    (("compile", "dense.cnn", "-o", "adir.keras"), "adir.keras: error: is a directory", ""),
    (("compile", "spec.py", "--emit", "python"),
     "spec.py: error: the output would overwrite the spec itself", "-o"),
    (("compile", "dense.cnn", "--weights", "nope.npz"),
     "nope.npz: error: cannot read weights (No such file", ""),
    (("compile", "dense.cnn", "--weights", "x.npy"),
     "x.npy: error: it is a single .npy array, not an .npz archive", ""),
    (("compile", "dense.cnn", "--weights", "short.npz"),
     "short.npz: error: the weights do not fit the network:", "missing: dense_1/bias, "
     "dense_2/kernel, dense_2/bias"),
    (("compile", "dense.cnn", "--weights", "wrong.npz", "-o", "out.keras"),
     "wrong.npz: error: the weights do not fit the network:", "dense_1/kernel has shape "
     "(3, 4), expected (4, 3)\n  dense_1/bias has shape (4,), expected (3,)\n  not in the "
     "network: dense_9/bias"),
    (("compile", "dense.cnn", "--weights", "junk.keras"),
     "junk.keras: error: the file is not a Keras model", ""),
    (("compile", "dense.cnn", "--emit", "python", "--seed", "1"),
     "cnndsl compile: error: --emit python writes code without weights", ""),
    (("compile", "dense.cnn", "--emit", "python", "--weights", "w.npz"),
     "cnndsl compile: error: --emit python writes code without weights", ""),
    (("compile", "dense.cnn", "--seed", "-1"),
     "cnndsl compile: error: --seed must be 0 or more, got -1", ""),
    (("weights", "nope.keras"), "nope.keras: error: no such file", ""),
    (("weights", "adir.keras"), "adir.keras: error: is a directory, not a file", ""),
    (("weights", "w.npz"), "w.npz: error: not a .keras file", "model.save('model.keras')"),
    (("weights", "model.h5"), "model.h5: error: legacy HDF5 models are not supported", ""),
    (("weights", "junk.keras"), "junk.keras: error: the file is not a Keras model", ""),
    (("weights", "model.keras", "-o", "w.npy"), "w.npy: error: -o must name a .npz file", ""),
    (("weights", "model.keras", "-o", "nodir/w.npz"),
     "nodir/w.npz: error: the directory nodir does not exist", ""),
    (("run", "dense.cnn", "-i", "x.npy", "-o", "out.npy", "--weights", "junk.keras"),
     "junk.keras: error: the file is not a Keras model", ""),
    (("run", "dense.cnn", "-i", "x.npy", "-o", "out.npy", "--weights", "model.h5"),
     "model.h5: error: legacy HDF5 models are not supported", ""),
    (("run", "dense.cnn", "-i", "x.npy", "-o", "out.npy", "--weights", "nope.keras"),
     "nope.keras: error: no such file", ""),
]


@pytest.mark.parametrize("argv, first, contains", USER_ERRORS,
                         ids=[" ".join(e[0]) for e in USER_ERRORS])
def test_user_error(work, argv, first, contains):
    write_bad_files()
    before = {p.name: p.read_bytes() for p in work.iterdir() if p.is_file()}
    rc, out, err = cli(*argv)
    assert rc == 1
    assert out == ""
    assert err.startswith(first), err
    assert contains in err
    assert "\nhint: " in err
    assert {p.name: p.read_bytes() for p in work.iterdir() if p.is_file()} == before
    assert leftovers(work) == []


def test_spec_error_is_located(work):
    rc, out, err = cli("compile", "bad.cnn")
    assert rc == 1 and out == ""
    assert err.startswith("bad.cnn:1:16: error: kernel 7x7 is larger")
    assert not Path("bad.keras").exists()


def test_standard_input_needs_an_output(work, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(DENSE_NET.encode())))
    rc, _, err = cli("compile", "-")
    assert rc == 1
    assert err.startswith("cnndsl compile: error: -o is needed when the spec is read from "
                          "standard input\nhint: e.g. -o model.keras")


def test_python_source_beside_the_spec(work):
    """Writing source needs no Keras, so this runs without TensorFlow too."""
    Path("nets").mkdir()
    shutil.copy("dense.cnn", "nets/tiny.cnn")
    rc, out, err = cli("compile", "nets/tiny.cnn", "--emit", "python")
    assert rc == 0, err
    assert out == f"ok: {Path('nets/tiny.py')} (Keras source, 23 params)\n"
    source = Path("nets/tiny.py").read_text(encoding="utf-8")
    assert "from tiny.cnn" in source and "def build_tiny():" in source
    assert 'layers.Dense(3, activation="relu", name="dense_1")(inputs)' in source
    compile(source, "tiny.py", "exec")  # valid Python
    rc, _, _ = cli("compile", "nets/tiny.cnn", "--emit", "python", "--name", "small",
                   "-o", "named.py")
    assert rc == 0
    assert "def build_small():" in Path("named.py").read_text(encoding="utf-8")
    assert leftovers(work) == [] and leftovers(work / "nets") == []


# Issue 19, item 13: a layer named `__debug__`, which Python refuses as a target as it
# refuses a keyword; the test below also builds it in Keras.
DEBUG_NET = "input 8x8x3 -> conv 3 x4 name=__debug__ -> flatten -> dense 2 name=class\n"


def test_python_source_never_assigns_a_name_python_refuses(work):
    Path("debug.cnn").write_text(DEBUG_NET, encoding="utf-8")
    rc, _, err = cli("compile", "debug.cnn", "--emit", "python", "-o", "debug.py")
    assert rc == 0, err
    source = Path("debug.py").read_text(encoding="utf-8")
    compile(source, "debug.py", "exec")  # our output: a SyntaxError before the fix
    assert '__debug___ = layers.Conv2D(4, (3, 3), name="__debug__")(inputs)' in source
    assert 'class_ = layers.Dense(2, name="class")(flatten_1)' in source


MISSING_TF_SCRIPT = r"""
import json, sys
from cnndsl.cli import main
codes = [main(argv) for argv in ARGVS]
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
print(json.dumps({"codes": codes, "loaded": loaded}))
"""


def test_missing_tensorflow_is_a_clear_error(work):
    """A `keras` that fails to import, as without TensorFlow: exit 1, the pip command;
    `--emit python` writes its source all the same."""
    fake = work / "fake" / "keras"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named "
                                      "'tensorflow'\", name='tensorflow')\n", encoding="utf-8")
    fake_keras_file(work / "model.keras")
    argvs = [["compile", "conv.cnn", "-o", "out.keras"],
             ["compile", "conv.cnn", "--emit", "python", "-o", "out.py"],
             ["weights", "model.keras", "-o", "w.npz"],
             ["run", "dense.cnn", "-i", "x.npy", "-o", "y.npy", "--weights", "model.keras"],
             ["compile", "dense.cnn", "--emit", "python", "-o", "dense2.py"]]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(work / "fake"), str(ROOT)])}
    result = subprocess.run([sys.executable, "-c",
                             MISSING_TF_SCRIPT.replace("ARGVS", repr(argvs))],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {"codes": [1, 0, 1, 1, 0],
                                                          "loaded": []}
    message = (f"cnndsl: {MISSING_TF} (No module named 'tensorflow')\n"
               "hint: pip install 'cnndsl[keras]'\n")
    assert result.stderr == message * 3
    assert Path("out.keras").read_bytes() == OLD and Path("w.npz").read_bytes() == OLD
    assert not Path("y.npy").exists()
    assert b"layers.Conv2D(" in Path("out.py").read_bytes()  # source needs no Keras
    assert Path("dense2.py").exists()
    assert leftovers(work) == []


# ---- with Keras: LeNet-5 ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def lenet(keras, tmp_path_factory):
    """LeNet-5 compiled with the default output path: (spec, model file, stdout)."""
    spec = tmp_path_factory.mktemp("lenet") / "lenet5.cnn"
    shutil.copy(EXAMPLES / "lenet5.cnn", spec)
    rc, out, err = cli("compile", spec)
    assert rc == 0, err
    return spec, spec.with_suffix(".keras"), out


def test_lenet5_keras_equals_numpy(keras, lenet):
    spec, model_path, out = lenet
    assert out == f"ok: {model_path} (61,706 params)\n"  # beside the spec, same stem
    assert leftovers(spec.parent) == []
    model = keras.saving.load_model(model_path)  # safe mode: no custom code needed
    net = cnndsl.load(spec)
    assert model.name == "lenet5"
    assert model.count_params() == 61706
    assert [layer.name for layer in model.layers] == [n.name for n in net.graph.nodes]
    x = np.random.default_rng(1).normal(size=(4, 32, 32, 1)).astype(np.float32)
    expected = net.run(x, init_weights(net.graph, 0))
    np.testing.assert_allclose(model(x, training=False).numpy(), expected, rtol=0, atol=1e-5)


def test_weights_of_a_different_network_are_listed(keras, lenet, work):
    _, model_path, _ = lenet
    rc, out, err = cli("run", "dense.cnn", "-i", "x.npy", "-o", "out.npy",
                       "--weights", model_path)
    assert rc == 1 and out == ""
    assert err.startswith(f"{model_path}: error: the weights do not fit the network:\n"
                          "  dense_1/kernel has shape (400, 120), expected (4, 3)\n")
    assert "not in the network: conv_1/kernel, conv_1/bias, conv_2/kernel" in err
    assert "\nhint: " in err
    assert not Path("out.npy").exists()


@pytest.mark.parametrize("spec, cls", [("input 8x8x8x3 -> dwconv 3", "DepthwiseConv3D"),
                                       ("input 8x8x8x3 -> sepconv 3 x4", "SeparableConv3D")])
@pytest.mark.parametrize("emit", ["keras", "python"])
def test_a_layer_keras_lacks_is_located(keras, work, spec, cls, emit):
    Path("vol.cnn").write_text(spec + "\n", encoding="utf-8")
    rc, out, err = cli("compile", "vol.cnn", "--emit", emit)
    kind = spec.split("-> ")[1].split()[0]
    assert rc == 1 and out == ""
    assert err.splitlines() == [
        f"vol.cnn:1:18: error: Keras has no {cls} layer for this 3-D `{kind}`",
        f"    {spec}", "    " + " " * 17 + "^" + "~" * (len(spec) - 18),
        "hint: the NumPy backend can run it (`cnndsl run`); Keras cannot build it"]
    assert not Path("vol.keras").exists() and not Path("vol.py").exists()


def test_failed_save_leaves_the_old_model(keras, work, monkeypatch):
    def full_disk(self, path, *args, **kwargs):
        Path(path).write_bytes(b"half a model")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(keras.Model, "save", full_disk)
    rc, out, err = cli("compile", "dense.cnn", "-o", "out.keras")
    assert rc == 1 and out == ""
    assert err.startswith("out.keras: error: cannot write the file: No space left on device")
    assert Path("out.keras").read_bytes() == OLD
    assert leftovers(work) == []


def test_unsafe_model_is_refused(keras, work):
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda t: t * 2, name="double")(inputs))
    model.save("lambda.keras")
    rc, out, err = cli("weights", "lambda.keras", "-o", "w.npz")
    assert rc == 1 and out == ""
    assert err.startswith("lambda.keras: error: Keras cannot load the model: ")
    assert "safe" in err.lower()
    assert Path("w.npz").read_bytes() == OLD


def test_corrupt_model_archive(keras, work):
    fake_keras_file(Path("broken.keras"), config="{not json")
    rc, _, err = cli("weights", "broken.keras")
    assert rc == 1
    assert err.startswith("broken.keras: error: Keras cannot load the model: ")
    assert not Path("broken.npz").exists()


def test_fused_leaky_slope_round_trip(keras, work):
    Path("leaky.cnn").write_text("input 4 -> dense 3 leaky_relu=0.1\n", encoding="utf-8")
    assert cli("compile", "leaky.cnn")[0] == 0
    rc, _, err = cli("weights", "leaky.keras")
    assert rc == 0, err


# ---- with Keras: the emitted Python source --------------------------------------------------

SUMMARY = r"""
def summary(model):
    # Layers, output shapes, parameters, and each activation's values on a probe, so a
    # wrong function or leaky slope shows.
    probe = keras.ops.convert_to_tensor(np.linspace(-3, 3, 7, dtype="float32"))
    rows = []
    for layer in model.layers:
        fn = getattr(layer, "activation", None)
        rows.append([layer.name, type(layer).__name__, list(layer.output.shape),
                     layer.count_params(),
                     None if fn is None else np.round(np.asarray(fn(probe)), 6).tolist()])
    return {"name": model.name, "layers": rows, "params": model.count_params()}
"""

SOURCE_SCRIPT = "import importlib.util, json, sys\nimport keras, numpy as np\n" + SUMMARY + r"""
out = {}
for path, weights, x in json.loads(sys.argv[1]):
    spec = importlib.util.spec_from_file_location("generated", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = next(v for k, v in vars(module).items() if k.startswith("build_"))()
    with np.load(weights) as w:  # in the model's own variable order, layer by layer
        for layer in model.layers:
            arrays = [w[k] for k in w.files if k.split("/")[0] == layer.name]
            if arrays:
                layer.set_weights(arrays)
    np.save(x + ".out.npy", model(np.load(x), training=False).numpy())
    out[path] = summary(model)
print(json.dumps(out))
"""


def summary(keras, model) -> dict:
    """What SOURCE_SCRIPT prints for a model, here (JSON-normalised)."""
    namespace: dict = {"keras": keras, "np": np}
    exec(SUMMARY, namespace)
    return json.loads(json.dumps(namespace["summary"](model)))


def test_python_source_builds_the_same_model(keras, tmp_path):
    from cnndsl.backends.keras.builder import build_model, get_weights
    from cnndsl.support.files import write_npz

    (tmp_path / "all_kinds.cnn").write_text(ALL_KINDS, encoding="utf-8")
    (tmp_path / "debug.cnn").write_text(DEBUG_NET, encoding="utf-8")
    specs = [EXAMPLES / "lenet5.cnn", EXAMPLES / "resnet50.cnn", tmp_path / "all_kinds.cnn",
             tmp_path / "debug.cnn"]
    jobs, expected = [], {}
    for i, spec in enumerate(specs):
        source = tmp_path / f"{spec.stem}.py"
        rc, _, err = cli("compile", spec, "--emit", "python", "-o", source)
        assert rc == 0, err
        net = cnndsl.load(spec)
        model = build_model(net.graph, init_weights(net.graph, seed=i))
        weights, x = tmp_path / f"{spec.stem}.npz", tmp_path / f"{spec.stem}.x.npy"
        write_npz(weights, get_weights(model))
        batch = np.random.default_rng(i).normal(size=(2, *net.input_shape))
        np.save(x, batch.astype(np.float32))
        expected[str(source)] = (summary(keras, model), model(np.load(x), training=False))
        jobs.append([str(source), str(weights), str(x)])
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run([sys.executable, "-c", SOURCE_SCRIPT, json.dumps(jobs)], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    built = json.loads(result.stdout.splitlines()[-1])
    for (source, _, x), params in zip(jobs, (61_706, 25_636_712, 3_075, 402),
                                      strict=True):
        want, outputs = expected[source]
        assert built[source] == want, source
        assert built[source]["params"] == params
        np.testing.assert_allclose(np.load(x + ".out.npy"), outputs.numpy(), rtol=0,
                                   atol=1e-6)


# ---- with Keras: trained weights both ways ---------------------------------------------------

def test_trained_weights_round_trip(keras, work):
    from cnndsl.backends.keras.builder import build_model, save_model

    keras.utils.set_random_seed(0)
    net = cnndsl.load("conv.cnn")
    model = build_model(net.graph, init_weights(net.graph, seed=3))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 8, 8, 1)).astype(np.float32)
    y = keras.utils.to_categorical(rng.integers(0, 3, 48), 3)
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert not np.allclose(model.get_layer("batchnorm_1").moving_mean.numpy(), 0)  # trained
    save_model(model, "trained.keras")
    np.save("x8.npy", x[:10])
    expected = model.predict(x[:10], verbose=0)

    assert cli("weights", "trained.keras", "-o", "trained.npz") == (
        0, "ok: trained.npz (8 arrays, 167 values)\n", "")
    for weights in ("trained.npz", "trained.keras"):
        rc, _, err = cli("run", "conv.cnn", "-i", "x8.npy", "-o", "y.npy",
                         "--weights", weights)
        assert rc == 0, err
        np.testing.assert_allclose(np.load("y.npy"), expected, rtol=0, atol=1e-5)

    # npz -> keras -> npz, and keras -> keras -> npz: bit for bit.
    first = load_npz("trained.npz")
    for source in ("trained.npz", "trained.keras"):
        assert cli("compile", "conv.cnn", "--weights", source, "-o", "again.keras")[0] == 0
        assert cli("weights", "again.keras", "-o", "again.npz")[0] == 0
        again = load_npz("again.npz")
        assert list(again) == list(first)
        for key in first:
            assert again[key].dtype == first[key].dtype
            np.testing.assert_array_equal(again[key], first[key])
    assert leftovers(work) == []


# ---- memory: refused before TensorFlow when it cannot fit, a clear error when it runs out ----

GIB = 2**30


def refuse_keras(monkeypatch) -> None:
    """A refusal must come before TensorFlow is imported."""
    from cnndsl.backends.keras import runtime

    def reached(*args, **kwargs):
        raise AssertionError("Keras was reached")

    monkeypatch.setattr(runtime, "keras_backend", reached)


def test_compile_memory_is_the_weights_held_four_times_plus_tensorflow():
    from cnndsl.backends.keras.model import TENSORFLOW_BYTES, compile_memory

    graph = cnndsl.compile_text("input 4 -> dense 2\n", "t")  # 10 weights
    assert TENSORFLOW_BYTES == 600 * 2**20
    assert compile_memory(graph) == TENSORFLOW_BYTES + 10 * 4 * 4
    assert compile_memory(graph, Path("w.npz")) == TENSORFLOW_BYTES + 10 * 4 * 4
    assert compile_memory(graph, Path("w.keras")) == TENSORFLOW_BYTES + 10 * 4 * 5


@pytest.mark.parametrize("spec, weights, message, hint", [
    # 400,020,000 weights: 600 MiB + 400,020,000 * 16 bytes = 6.5 GiB; the hint's figure
    # is (2 GiB - 600 MiB) / 16.
    ("input 20000 -> dense 20000", None,
     "wide.cnn:1:16: error: compiling this network needs about 6.5 GiB of memory, more than "
     "the 2.0 GiB available (400,020,000 weights of 4 bytes, held about 4 times while Keras "
     "builds and saves the model); this layer has 400,020,000 of them",
     "hint: a compile here can take about 94,896,128 weights (`cnndsl shapes` lists each "
     "layer's); free some memory or make the network smaller"),
    # The case: 2 * 10^12 weights, held five times with a .keras model's weights.
    ("input 2000000000 -> dense 1000", "w.keras",
     "wide.cnn:1:21: error: compiling this network needs about 37,253.5 GiB of memory, more "
     "than the 2.0 GiB available (2,000,000,001,000 weights of 4 bytes, held about 5 times "
     "while Keras builds and saves the model); this layer has 2,000,000,001,000 of them",
     "hint: a compile here can take about 75,916,902 weights (`cnndsl shapes` lists each "
     "layer's); free some memory or make the network smaller"),
], ids=["400M", "2T-from-keras"])
def test_a_compile_that_cannot_fit_in_memory_is_refused(work, monkeypatch, spec,
                                                        weights, message, hint):
    """It passes `check`, and TensorFlow used to fail part way through (exit 3,
    ResourceExhaustedError, after 7 s): now a located error at the biggest layer, before
    TensorFlow is imported, and nothing written."""
    from cnndsl.support import files

    monkeypatch.setattr(files, "available_memory", lambda: 2 * GIB)
    refuse_keras(monkeypatch)
    Path("wide.cnn").write_text(spec + "\n", encoding="utf-8")
    assert cli("check", "wide.cnn")[0] == 0
    extra = ["--weights", weights] if weights else []
    rc, out, err = cli("compile", "wide.cnn", "-o", "out.keras", *extra)
    assert rc == 1 and out == ""
    lines = err.splitlines()
    assert lines[0] == message
    assert lines[1] == f"    {spec}" and lines[2].strip().startswith("^~")
    assert lines[3] == hint
    assert Path("out.keras").read_bytes() == OLD
    assert leftovers(work) == []


def test_a_compile_that_fits_is_not_refused(work, monkeypatch):
    from cnndsl.backends.keras import model
    from cnndsl.support import files

    monkeypatch.setattr(files, "available_memory", lambda: 600 * 2**20 + 10 * 16)
    model.check_memory(cnndsl.compile_text("input 4 -> dense 2\n", "t"))  # exactly fits
    monkeypatch.setattr(files, "available_memory", lambda: None)  # unknown: not refused
    model.check_memory(cnndsl.compile_text("input 2000000000 -> dense 1000\n", "t"))


OOM = ("OOM when allocating tensor with shape[100000,100000] and type float on "
       "/job:localhost/replica:0/task:0/device:CPU:0 by allocator cpu")


@pytest.mark.parametrize("error, said", [
    ("tensorflow", "TensorFlow could not allocate a tensor of shape (100000, 100000)"),
    (MemoryError(), "Python could not allocate memory"),
    (RuntimeError("std::bad_alloc"),
     "a C++ library could not allocate memory (std::bad_alloc)"),
], ids=["ResourceExhaustedError", "MemoryError", "bad_alloc"])
def test_out_of_memory_while_building_is_a_clear_error(keras, work, monkeypatch,
                                                       error, said):
    """What the estimate lets through and still runs out (other programs took the memory
    meanwhile) is an error about the output, not exit 3."""
    import tensorflow as tf

    from cnndsl.backends.keras import builder as backend

    if error == "tensorflow":
        error = tf.errors.ResourceExhaustedError(None, None, OOM)

    def exhausted(graph, seed=0):
        raise error

    monkeypatch.setattr(backend, "build_seeded", exhausted)
    rc, out, err = cli("compile", "dense.cnn", "-o", "out.keras")
    assert (rc, out) == (1, "")
    assert err == (f"out.keras: error: out of memory while building and saving the model: "
                   f"{said}\nhint: close other programs, or make the network smaller "
                   "(`cnndsl shapes` lists each layer's weights)\n")
    assert Path("out.keras").read_bytes() == OLD
    assert leftovers(work) == []


def test_out_of_memory_while_loading_a_model_is_a_clear_error(keras, work,
                                                              monkeypatch):
    from cnndsl.backends.keras import builder as backend

    assert cli("compile", "dense.cnn", "-o", "model.keras")[0] == 0

    def exhausted(path):
        raise MemoryError()

    monkeypatch.setattr(backend, "load_model", exhausted)
    rc, out, err = cli("weights", "model.keras", "-o", "w.npz")
    assert (rc, out) == (1, "")
    assert err.startswith("model.keras: error: out of memory while loading the model: Python "
                          "could not allocate memory\nhint: ")
    assert Path("w.npz").read_bytes() == OLD


# ---- Keras's own warnings on an odd archive: one clear line ---------------------------------

def hostile_model(good: Path, path: Path, key: str) -> None:
    """`good` with its model's inputs given as a dict under `key`, a name that does not
    match the input: Keras loads it and warns, quoting `key`."""
    with zipfile.ZipFile(good) as source:
        members = {name: source.read(name) for name in source.namelist()}
    config = json.loads(members["config.json"])
    config["config"]["input_layers"] = {key: ["input", 0, 0]}
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


@pytest.mark.parametrize("command", ["weights", "run", "compile"])
def test_keras_warnings_on_a_hostile_model_are_one_clear_line(keras, work, command):
    """Keras printed its `UserWarning` raw: the file and line of Keras's source, an escape
    sequence from the archive (which recolours the terminal), and 9 KB of the key."""
    import warnings

    assert cli("compile", "dense.cnn", "-o", "good.keras")[0] == 0
    hostile_model(Path("good.keras"), Path("evil.keras"), "evil\x1b[31m\nline2" + "A" * 3000)
    argv = {"weights": ["weights", "evil.keras", "-o", "w.npz"],
            "run": ["run", "dense.cnn", "-i", "x.npy", "-o", "out.npy", "--weights",
                    "evil.keras"],
            "compile": ["compile", "dense.cnn", "-o", "out.keras", "--weights", "evil.keras"]}
    with warnings.catch_warnings(record=True) as leaked:
        warnings.simplefilter("always")
        rc, out, err = cli(*argv[command])
    assert rc == 0, err
    assert out.startswith("ok: ")
    [line] = err.splitlines()
    assert line.startswith("evil.keras: warning: Keras says: When providing `inputs` as a "
                           "dict, all keys in the dict must match the names of the "
                           "corresponding tensors. Received key 'evil\\x1b[31m\\nline2AAA")
    assert line.endswith("characters)") and len(line) < 400
    assert "\x1b" not in err and "UserWarning" not in err
    assert [w for w in leaked if not issubclass(w.category, DeprecationWarning)] == []

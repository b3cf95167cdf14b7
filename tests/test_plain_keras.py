"""A compiled model is plain Keras: what `cnndsl compile` writes needs nothing of cnndsl.

- Every `.keras` file loads with `keras.models.load_model` in a Python where `import
  cnndsl` fails (a `sys.meta_path` finder refuses it), and computes what the NumPy
  interpreter computes (`cnndsl run --dtype float64`, the reference) to a relative error
  of 1e-5, for networks that use every layer kind, every activation fused and as a step,
  leaky slopes of their own fused into every kind that takes one, in 1-D, 2-D, 3-D and
  on vectors, with random weights loaded through `--weights` (batch norm's statistics
  too). No class in the saved configs is anyone's but Keras's.
- The `--emit python` source of each runs in that same Python and builds the same
  layers (names, classes, output shapes, parameter counts) as the `.keras` file; given
  the file's weights it computes the same outputs.
- `--emit python` is written where TensorFlow and Keras cannot be imported, and tries to
  import neither; `-o -` writes either output to standard output, refuses a `.keras`
  model for a terminal, and writes nothing when the compile fails.

One subprocess loads every file (TensorFlow's import is most of its time); the ones
without TensorFlow take a fraction of a second each.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import zipfile
from math import prod
from pathlib import Path

import numpy as np
import pytest
from outcomes import cli

from cnndsl import compile_text
from cnndsl.backends.weights import declared
from cnndsl.cli import main
from cnndsl.layers import KINDS
from cnndsl.layers.activations import (
    ACTIVATIONS,
    LEAKY_RELU_DEFAULT_SLOPE,
    VALUE_NEEDED,
    canonical_activation,
)

ROOT = Path(__file__).resolve().parent.parent
NO_KERAS = "TensorFlow/Keras not installed: pip install 'cnndsl[keras]'"

# Vectors: every activation word as a step and fused into dense, the five merges with
# broadcasting operands, batch norm's options, a leaky slope of its own in a 1-D conv.
VECTORS = """
input 12
  -> dense 16 relu -> relu6 -> dense 16 relu6 -> sigmoid -> dense 16 sigmoid
  -> hard_sigmoid -> dense 16 hard_sigmoid -> tanh -> dense 16 tanh -> elu
  -> dense 16 elu -> selu -> dense 16 selu -> gelu -> dense 16 gelu -> silu
  -> dense 16 silu -> swish -> dense 16 swish -> softplus -> dense 16 softplus
  -> leaky_relu -> dense 16 leaky_relu -> linear -> dense 16 linear -> relu
  -> leaky_relu=0.1 -> dense 16 leaky_relu=0.05 bias=false
  -> hard_swish -> dense 16 hard_swish -> layernorm eps=0.01 -> rescale {1/2} offset=0.5
  -> normalize -> normalize mean=0.5 variance=2 -> bn scale=false center=false
  -> bn eps=0.01 momentum=0.9 -> dropout 0.5
  -> add { id | dense 1 } -> mul { id | dense 16 tanh } -> avg { id | dense 16 }
  -> max { id | dense 1 sigmoid } -> concat { dense 4 leaky_relu=0.1 | id }
  -> reshape 4x5 -> conv 3 x2 leaky_relu=0.1 -> flatten -> dense 5 softmax
"""
# 2-D: every convolution with its options and a slope of its own, pooling both ways,
# asymmetric strides and pads, merges of maps and of a map with a broadcast vector.
IMAGES = """
input 16x16x4
  -> conv 3 x8 same leaky_relu=0.1 dilation=2
  -> conv 3x3/2x1 x8 same groups=2 bias=false relu6
  -> bn eps=0.001 momentum=0.9
  -> dwconv 3 x2 same leaky_relu=0.3 bias=false
  -> sepconv 3 x8 same leaky_relu=0.1 dilation=2
  -> sepconv 3/2 x8 same swish bias=false
  -> add { id
         | conv 1 x8 -> mul { id | gap -> dense 8 sigmoid -> reshape 1x1x8 }
         | mul { id | gmp keepdims -> conv 1 x8 hard_swish }
         | add { id | gap keepdims }
         | max { id | avg { id | conv 1 x8 tanh } } }
  -> concat { maxpool 2 same | avgpool 3/2 same | zeropad 0:1x0:1 -> dwconv 3/2 valid bias=false }
  -> deconv 3/2 x6 same leaky_relu=0.1
  -> deconv 2/2 x4 valid bias=false elu
  -> maxpool 3/2 valid -> avgpool 2x1 -> upsample 2x3 -> leaky_relu=0.25
  -> dropout 0.3 -> zeropad 1 -> crop 1:0x0:1 -> layernorm scale=false center=false
  -> dropout 0.2 noise=1x1x{C} -> dwconv 3/2 x2 relu
  -> concat { gap | gmp } -> dense 5 softmax
"""
# 1-D, and a softmax step; leaky_relu=0.2 is Keras's default, written out.
SEQUENCES = """
input 32x3
  -> normalize mean=0.1,0.2,0.3 variance=1,2,0.5
  -> conv 5 x8 same leaky_relu=0.1
  -> conv 3/2 x8 groups=4 bias=false gelu
  -> dwconv 3 x2 leaky_relu=0.2 dilation=2 -> dwconv 1 leaky_relu=0.15
  -> sepconv 3 x8 same leaky_relu=0.1
  -> deconv 3/2 x4 leaky_relu=0.1
  -> zeropad 1:2 -> maxpool 3/2 same -> avgpool 2 -> upsample 3 -> bn
  -> concat { gap | gmp } -> reshape 2x4 -> flatten -> dense 3 leaky_relu=0.1 -> softmax
"""
# 3-D (Keras has no depthwise or separable 3-D convolution).
VOLUMES = """
input 6x8x8x2
  -> conv 3 x4 same leaky_relu=0.1
  -> conv 3x1x1/1x2x2 x4 groups=2 selu
  -> deconv 2/2 x3 same leaky_relu=0.1
  -> zeropad 0:1x1x1 -> maxpool 2 -> avgpool 3/2 same -> upsample 2x1x1
  -> add { gap | gmp } -> dense 2
"""
NETS = {"vectors": VECTORS, "images": IMAGES, "sequences": SEQUENCES, "volumes": VOLUMES}
# version 3: rearranging (built from Reshape, Permute, Cropping1D and Flatten in Keras)
NETS["rearranging"] = """
input 6x6x8
  -> pixel_shuffle 2 -> conv 3 x12 same -> pixel_unshuffle 2 -> channel_shuffle 4
  -> split 16,32 { id | conv 1 x8 relu }
  -> split { relu | sepconv 3 x6 same mult=2 | add { tanh } }
  -> upsample 2 bilinear -> conv 1 x5 leaky_relu=0.1 -> flatten chw -> dense 3
"""
# version 3: normalisation and activations, each as Keras builds it (`lrn` is refused:
# tests/test_compile_v3norm.py), the new activation words fused into dense and as steps
NETS["normalisation_v3"] = """
input 8x8x4
  -> conv 3 x8 same elu=0.5 -> groupnorm 4 -> prelu -> instancenorm eps=1e-5
  -> prelu shared -> conv 3 x8 same clip=0,4 -> groupnorm 2 affine=false
  -> instancenorm affine=false -> elu=2 -> leaky_relu=0.1 -> clip=-1,1 -> clip=0,6 -> gap
  -> dense 16 celu -> celu -> dense 16 mish -> mish -> dense 16 softsign -> softsign
  -> dense 16 clip=-1,1 -> prelu -> dense 16 log_softmax -> log_softmax
"""

# version 3: padding, as Keras builds it (ZeroPadding, valid windows, Cropping)
PADDING = """
input 9x9x3
  -> conv 3/2 x4 pad=1 leaky_relu=0.1 -> dwconv 3 pad=0:1x2 -> sepconv 3 x4 pad=1 -> pad 1
  -> avgpool 3/2 pad=1 include_pad -> deconv 3/2 x4 pad=1 outpad=1 -> maxpool 2 ceil
  -> flatten -> dense 3
"""
NETS["padding"] = PADDING

# A sitecustomize.py (put first on PYTHONPATH) that refuses the packages named in
# $BLOCKED_PACKAGES as if they were not installed, and notes each attempt in $BLOCKED_LOG.
BLOCKER = '''
import os, sys


class Blocked:
    names = set(os.environ["BLOCKED_PACKAGES"].split(","))

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in self.names:
            with open(os.environ["BLOCKED_LOG"], "a", encoding="utf-8") as log:
                log.write(name + "\\n")
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
        return None


sys.meta_path.insert(0, Blocked())
'''


def blocked_env(tmp: Path, packages: str) -> tuple[dict[str, str], Path]:
    """An environment where `packages` (comma-separated) cannot be imported, and the file
    that lists every attempt to import them."""
    site = tmp / "blocker"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(BLOCKER, encoding="utf-8")
    log = tmp / f"attempts-{packages.replace(',', '-')}.txt"
    log.write_text("", encoding="utf-8")
    env = {**os.environ, "BLOCKED_PACKAGES": packages, "BLOCKED_LOG": str(log),
           "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    return env, log


def random_weights(text: str, seed: int) -> dict[str, np.ndarray]:
    """Random float32 weights of every variable: kernels scaled by their fan-in, biases,
    betas and moving means about 0, gammas and moving variances about 1, so that every
    number the file carries matters."""
    rng = np.random.default_rng(seed)
    out = {}
    for key, var in declared(compile_text(text, "t")).items():
        if var.init == "ones":
            value = rng.uniform(0.5, 1.5, var.shape)
        elif var.init == "zeros":
            value = rng.normal(0, 0.1, var.shape)
        else:
            value = rng.normal(0, 1, var.shape) / np.sqrt(prod(var.shape[:-1]) or 1)
        # `normalize`'s count of examples seen is an integer variable.
        out[key] = value.astype(np.int64 if var.dtype == "int" else np.float32)
    return out


# ---- without Keras: the networks cover the catalogue ----------------------------------------

def test_networks_cover_every_kind_activation_and_slope():
    nodes = [n for text in NETS.values() for n in compile_text(text, "t").nodes]
    assert {k.kind for k in KINDS} - {"lrn"} <= {n.kind for n in nodes}  # Keras has no lrn
    # `clip` is written with its bounds only (`clip=-1,1`, in NORMALISATION_V3)
    every = {canonical_activation(word) for word in ACTIVATIONS if word not in VALUE_NEEDED}
    steps = {n.layer.function for n in nodes if n.kind == "activation"}
    assert every <= steps, "activations as steps"
    assert every <= {n.layer.activation for n in nodes if n.kind == "dense"}, "fused in dense"
    # A slope of its own, fused into every kind that takes one, in every rank it has.
    fusing = {k.kind for k in KINDS if "leaky_relu" in k.options}
    assert fusing == {"conv", "dwconv", "sepconv", "deconv", "dense"}
    slopes = {(n.kind, len(n.in_shapes[0])) for n in nodes
              if n.kind in fusing and n.layer.activation is not None
              and n.layer.activation.name == "leaky_relu"
              and n.layer.activation.alpha != LEAKY_RELU_DEFAULT_SLOPE}
    assert slopes >= {("conv", 2), ("conv", 3), ("conv", 4), ("dwconv", 2), ("dwconv", 3),
                      ("sepconv", 2),
                      ("sepconv", 3), ("deconv", 2), ("deconv", 3), ("deconv", 4),
                      ("dense", 1)}
    assert any(n.kind == "activation" and n.layer.function.alpha not in
               (None, LEAKY_RELU_DEFAULT_SLOPE) for n in nodes), "a slope of its own as a step"


# ---- with Keras: the files load and run without cnndsl --------------------------------------

LOAD_SCRIPT = r"""
import importlib.util, json, sys
try:
    import cnndsl
except ImportError:
    pass
else:
    raise SystemExit("cnndsl was importable: the test proves nothing")
import keras
import numpy as np


def layers(model):
    return [[layer.name, type(layer).__name__, list(layer.output.shape), layer.count_params()]
            for layer in model.layers]


def counts(model):
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    return [model.count_params(), trainable, model.count_params() - trainable]


out = {}
for job in json.loads(sys.argv[1]):
    model = keras.models.load_model(job["keras"])
    x = np.load(job["x"])
    np.save(job["keras"] + ".out.npy", model(x, training=False).numpy())
    result = {"layers": layers(model), "counts": counts(model)}
    if job.get("source"):
        spec = importlib.util.spec_from_file_location("generated", job["source"])
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        built = next(v for k, v in vars(module).items() if k.startswith("build_"))()
        for layer in built.layers:
            layer.set_weights(model.get_layer(layer.name).get_weights())
            if hasattr(layer, "finalize_state"):  # Normalization reads its weights here
                layer.finalize_state()
        np.save(job["source"] + ".out.npy", built(x, training=False).numpy())
        result["source"] = {"layers": layers(built), "counts": counts(built)}
    out[job["keras"]] = result
out["cnndsl loaded"] = "cnndsl" in sys.modules
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def plain(keras, tmp_path_factory):
    """Each network compiled with random weights (and `images` once more with `-o -`),
    its source emitted, its float64 NumPy outputs; then all loaded in one subprocess
    without cnndsl. Returns (directory, what the subprocess said, jobs)."""
    tmp = tmp_path_factory.mktemp("plain")
    jobs = []
    for i, (name, text) in enumerate(NETS.items()):
        spec = tmp / f"{name}.cnn"
        spec.write_text(text, encoding="utf-8")
        weights = tmp / f"{name}.npz"
        np.savez(weights, **random_weights(text, seed=i))
        graph = compile_text(text, name)
        x = np.random.default_rng(10 + i).normal(size=(3, *graph.input.shape))
        np.save(tmp / f"{name}.x.npy", x.astype(np.float32))
        assert cli("compile", spec, "--weights", weights, "-o", tmp / f"{name}.keras")[0] == 0
        assert cli("compile", spec, "--emit", "python", "-o", tmp / f"{name}.py")[0] == 0
        assert cli("run", spec, "--weights", weights, "-i", tmp / f"{name}.x.npy",
                   "-o", tmp / f"{name}.y.npy", "--dtype", "float64")[0] == 0
        jobs.append({"keras": str(tmp / f"{name}.keras"), "x": str(tmp / f"{name}.x.npy"),
                     "source": str(tmp / f"{name}.py"), "y": str(tmp / f"{name}.y.npy")})
    # `-o -`: the model alone on standard output (not a terminal here), binary: not `cli`'s
    # text.
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with contextlib.redirect_stdout(stdout):
        assert main(["compile", str(tmp / "images.cnn"), "--weights", str(tmp / "images.npz"),
                     "-o", "-"]) == 0
    stdout.flush()
    (tmp / "images.stdout.keras").write_bytes(stdout.buffer.getvalue())
    jobs.append({**jobs[1], "keras": str(tmp / "images.stdout.keras"), "source": None})
    env, _ = blocked_env(tmp, "cnndsl")
    result = subprocess.run([sys.executable, "-c", LOAD_SCRIPT, json.dumps(jobs)], env=env,
                            capture_output=True, text=True, timeout=300, cwd=tmp)
    assert result.returncode == 0, result.stderr[-3000:]
    return tmp, json.loads(result.stdout.splitlines()[-1]), jobs


def relative_error(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-30))


def test_compiled_models_load_and_run_without_cnndsl(plain):
    _, said, jobs = plain
    assert said.pop("cnndsl loaded") is False
    assert sorted(said) == sorted(job["keras"] for job in jobs)
    for job in jobs:
        got, want = np.load(job["keras"] + ".out.npy"), np.load(job["y"])
        assert got.shape == want.shape, job["keras"]
        assert relative_error(got, want) <= 1e-5, job["keras"]


def test_compiled_models_name_only_keras_classes(plain):
    """No class of cnndsl (nor a Lambda) in any saved config: every object names a Keras
    module and no registered name of its own."""
    _, _, jobs = plain
    for job in jobs:
        with zipfile.ZipFile(job["keras"]) as archive:
            config = json.loads(archive.read("config.json"))
        objects = list(_objects(config))
        assert {"LeakyReLU", "Dense"} <= {o["class_name"] for o in objects}
        for o in objects:
            if o["class_name"] != "__keras_tensor__":
                assert str(o.get("module")).split(".")[0] == "keras", (job["keras"], o)
                assert o.get("registered_name") in (None, o["class_name"]), (job["keras"], o)
            assert o["class_name"] != "Lambda"


def _objects(config):
    """Every serialised object (a dict with a `class_name`) in a Keras config."""
    if isinstance(config, dict):
        if "class_name" in config:
            yield config
        for value in config.values():
            yield from _objects(value)
    elif isinstance(config, list):
        for value in config:
            yield from _objects(value)


def test_fused_slopes_are_keras_leaky_relu_layers(plain):
    """`conv 3 x8 same leaky_relu=0.1` is Conv2D(activation=LeakyReLU(negative_slope=0.1)),
    one layer named as the spec names it; Keras's default slope stays the name."""
    tmp, _, _ = plain
    with zipfile.ZipFile(tmp / "images.keras") as archive:
        layers = {layer["config"]["name"]: layer["config"] for layer
                  in json.loads(archive.read("config.json"))["config"]["layers"]}
    conv = layers["conv_1"]["activation"]
    assert (conv["class_name"], conv["config"]["negative_slope"]) == ("LeakyReLU", 0.1)
    assert layers["dwconv_1"]["activation"]["config"]["negative_slope"] == 0.3
    assert layers["leaky_relu_1"]["negative_slope"] == 0.25  # the step: a layer itself
    with zipfile.ZipFile(tmp / "sequences.keras") as archive:
        layers = {layer["config"]["name"]: layer["config"] for layer
                  in json.loads(archive.read("config.json"))["config"]["layers"]}
    assert layers["dwconv_1"]["activation"] == "leaky_relu"


def test_python_source_runs_without_cnndsl(plain):
    """The same layers as the compiled file, and with its weights the same outputs."""
    _, said, jobs = plain
    for job in jobs:
        if job["source"] is None:
            continue
        built, loaded = said[job["keras"]]["source"], said[job["keras"]]
        assert built == {"layers": loaded["layers"], "counts": loaded["counts"]}, job["source"]
        got, want = np.load(job["source"] + ".out.npy"), np.load(job["keras"] + ".out.npy")
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6 * np.max(np.abs(want)))


def test_counts_and_shapes_are_keras_own(plain):
    """Hand-counted: `volumes` has 220 + 28 + 99 + 8 weights, all trainable, and ends in
    2 values; `sequences` has 8 non-trainable batch-norm statistics (4 channels)."""
    _, said, jobs = plain
    volumes, sequences = said[jobs[3]["keras"]], said[jobs[2]["keras"]]
    assert volumes["counts"] == [(3*3*3*2*4 + 4) + (3*1*1*(4//2)*4 + 4) + (2*2*2*3*4 + 3)
                                 + (3*2 + 2), 355, 0]
    assert volumes["layers"][-1][1:3] == ["Dense", [None, 2]]
    assert sequences["counts"][2] == 2 * 4


def test_keras_classes_table_is_keras(keras):
    """The table that names classes without importing Keras agrees with Keras."""
    from cnndsl.backends.keras.builder import KERAS_CLASSES

    families = ["Conv{}D", "Conv{}DTranspose", "DepthwiseConv{}D", "SeparableConv{}D",
                "MaxPooling{}D", "AveragePooling{}D", "GlobalAveragePooling{}D",
                "GlobalMaxPooling{}D", "ZeroPadding{}D", "Cropping{}D", "UpSampling{}D"]
    for family in families:
        for dims in (1, 2, 3, 4):
            name = family.format(dims)
            assert (name in KERAS_CLASSES) == hasattr(keras.layers, name), name


def test_models_of_earlier_versions_still_read(keras, tmp_path):
    """A `.keras` written before this change named `cnndsl>LeakyReLUActivation` for a
    fused slope: `cnndsl weights` still reads it (the class is given to that load only)."""
    spec = tmp_path / "leaky.cnn"
    spec.write_text("input 4 -> dense 3 leaky_relu=0.1\n", encoding="utf-8")
    assert cli("compile", spec, "-o", tmp_path / "new.keras")[0] == 0
    with zipfile.ZipFile(tmp_path / "new.keras") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    config["config"]["layers"][1]["config"]["activation"] = {
        "module": None, "class_name": "LeakyReLUActivation",
        "config": {"negative_slope": 0.1}, "registered_name": "cnndsl>LeakyReLUActivation"}
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(tmp_path / "old.keras", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    rc, out, _ = cli("weights", tmp_path / "old.keras", "-o", tmp_path / "w.npz")
    assert rc == 0 and out.endswith("(2 arrays, 15 values)\n")


# ---- `-o -` and `--emit python` without TensorFlow ---------------------------------------

def test_python_source_is_written_without_tensorflow(tmp_path):
    """Keras and TensorFlow cannot be imported, and nothing tries to: the source comes
    out on standard output (the spec from standard input) and into a file, the same text
    as the file's; a spec with 3-D depthwise convolution is a located error all the same."""
    env, log = blocked_env(tmp_path, "tensorflow,keras")
    (tmp_path / "images.cnn").write_text(IMAGES, encoding="utf-8")
    (tmp_path / "vol.cnn").write_text("input 8x8x8x3 -> dwconv 3\n", encoding="utf-8")
    run = [sys.executable, "-m", "cnndsl", "compile"]
    piped = subprocess.run(run + ["-", "--emit", "python", "-o", "-", "--name", "images"],
                           input=IMAGES, capture_output=True, text=True, env=env,
                           cwd=tmp_path, timeout=60)
    to_file = subprocess.run(run + ["images.cnn", "--emit", "python"], capture_output=True,
                             text=True, env=env, cwd=tmp_path, timeout=60)
    refused = subprocess.run(run + ["vol.cnn", "--emit", "python", "-o", "-"],
                             capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert log.read_text(encoding="utf-8") == ""
    assert (piped.returncode, piped.stderr) == (0, "")
    assert (to_file.returncode, to_file.stderr) == (0, "")
    assert to_file.stdout == "ok: images.py (Keras source, 3,099 params)\n"  # +72: conv 1 x8
    source = (tmp_path / "images.py").read_text(encoding="utf-8")
    assert piped.stdout == source.replace(" from images.cnn", "")
    assert "activation=layers.LeakyReLU(negative_slope=0.1)" in source
    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr.startswith("vol.cnn:1:18: error: Keras has no DepthwiseConv3D layer")


def test_a_keras_model_is_not_written_to_a_terminal(tmp_path):
    """Refused before TensorFlow is imported, with a hint; nothing written."""
    pty = pytest.importorskip("pty")
    env, log = blocked_env(tmp_path, "tensorflow,keras")
    (tmp_path / "net.cnn").write_text("input 4 -> dense 2\n", encoding="utf-8")
    controller, terminal = pty.openpty()
    try:
        result = subprocess.run([sys.executable, "-m", "cnndsl", "compile", "net.cnn",
                                 "-o", "-"], stdout=terminal, stderr=subprocess.PIPE,
                                text=True, env=env, cwd=tmp_path, timeout=60)
        os.set_blocking(controller, False)
        try:
            written = os.read(controller, 4096)
        except (BlockingIOError, OSError):
            written = b""
    finally:
        os.close(controller)
        os.close(terminal)
    assert (result.returncode, written) == (1, b"")
    assert result.stderr == (
        "cnndsl compile: error: -o - would write the .keras model, binary data, to the "
        "terminal\nhint: redirect standard output to a file or a pipe (cnndsl compile "
        "NET.cnn -o - > model.keras), or write text with --emit python\n")
    assert log.read_text(encoding="utf-8") == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["attempts-tensorflow-keras.txt",
                                                          "blocker", "net.cnn"]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_standard_output_is_an_error(tmp_path):
    env, _ = blocked_env(tmp_path, "tensorflow,keras")
    (tmp_path / "net.cnn").write_text("input 4 -> dense 2\n", encoding="utf-8")
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "cnndsl", "compile", "net.cnn",
                                 "--emit", "python", "-o", "-"], stdout=full,
                                stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
                                timeout=60)
    assert result.returncode == 1
    assert result.stderr == ("cnndsl compile: error: cannot write to standard output: No "
                             "space left on device\nhint: is the disk full, or standard "
                             "output closed?\n")


def test_a_failed_keras_compile_writes_nothing_to_standard_output(keras, tmp_path):
    (tmp_path / "vol.cnn").write_text("input 8x8x8x3 -> sepconv 3 x4\n", encoding="utf-8")
    rc, out, err = cli("compile", tmp_path / "vol.cnn", "-o", "-")
    assert (rc, out) == (1, "")
    assert "error: Keras has no SeparableConv3D layer" in err

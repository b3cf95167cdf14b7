"""PyTorch's files both ways, and `cnndsl run --backend`: weights written as a `.pt2`
program or a `.pt` state_dict come back by `cnndsl weights` bit for bit; a state_dict
changed by a PyTorch optimiser, read back, runs in the NumPy interpreter with PyTorch's
output; every backend `cnndsl run` offers gives NumPy's output on the same file; and
every mistake is a one-line error with a hint.

The commands that export or load a program run in a process of their own, which must
import neither cnndsl's Keras backend nor TensorFlow (torch.export where TensorFlow is
loaded crashed the process here: torch 2.14, TensorFlow 2.21). Needs the `torch` extra.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="needs the torch extra: pip install -e '.[torch]'")
from onnx_check import small  # noqa: E402
from zoo import lively_weights  # noqa: E402

from cnndsl import compile_text  # noqa: E402
from cnndsl.backends.numpy import Interpreter  # noqa: E402
from cnndsl.cli import main  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
THOROUGH = os.environ.get("CNNDSL_HYPOTHESIS_PROFILE") == "thorough"
# Each kind of state: convolutions and dense layers, an adapted normalize's buffers and
# integer count (efficientnet), batch norms with only a shift (inception_v3), several
# inputs and outputs, 1-D and 3-D.
ROUND_TRIP = ["lenet5", "efficientnet_b0", "inception_v3", "image_and_meta", "ecg1d",
              "c3d_small", "shufflenet_v2", "mobilenet_v3_small"]
if THOROUGH:
    ROUND_TRIP = sorted(p.stem for p in EXAMPLES.glob("*.cnn"))

# Runs `cnndsl` commands (argv lists, JSON on the command line) in one fresh process and
# prints their exit statuses; fails if cnndsl's Keras backend or TensorFlow was loaded.
COMMANDS = """
import json, sys
from cnndsl.cli import main
statuses = [main(argv) for argv in json.loads(sys.argv[1])]
loaded = {m.split(".")[0] for m in sys.modules} & {"tensorflow", "keras"}
assert not loaded, f"imported {sorted(loaded)}"
print(json.dumps(statuses))
"""


def commands(*argvs: list[str]) -> list[int]:
    done = subprocess.run([sys.executable, "-c", COMMANDS, json.dumps(argvs)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def spec_file(stem: str, folder: Path) -> tuple[Path, object]:
    path = folder / f"{stem}.cnn"
    path.write_text(small((EXAMPLES / f"{stem}.cnn").read_text(encoding="utf-8")),
                    encoding="utf-8")
    return path, compile_text(path.read_text(encoding="utf-8"), stem)


def test_weights_come_back_from_a_pt2_and_a_pt_bit_for_bit(tmp_path):
    """`.npz` -> `compile -o NET.pt2` -> `weights NET.pt2` (no spec: the program carries
    it) and -> `compile -o NET.pt` -> `weights NET.pt --spec NET.cnn`: the same keys,
    dtypes (an integer count stays one) and bytes."""
    argvs, expected = [], {}
    for stem in ROUND_TRIP:
        spec, graph = spec_file(stem, tmp_path)
        weights = lively_weights(graph, 7)
        np.savez(tmp_path / f"{stem}.npz", **weights)
        expected[stem] = weights
        given = str(tmp_path / f"{stem}.npz")
        at = str(tmp_path / stem)
        argvs += [["compile", str(spec), "-o", f"{at}.pt2", "--weights", given],
                  ["weights", f"{at}.pt2", "-o", f"{at}_a.npz"],
                  ["compile", str(spec), "-o", f"{at}.pt", "--weights", given],
                  ["weights", f"{at}.pt", "--spec", str(spec), "-o", f"{at}_b.npz"]]
    assert commands(*argvs) == [0] * len(argvs)
    for stem, weights in expected.items():
        for back in ("a", "b"):
            with np.load(tmp_path / f"{stem}_{back}.npz", allow_pickle=False) as read:
                assert set(read.files) == set(weights), stem
                for key, value in weights.items():
                    assert read[key].dtype == np.asarray(value).dtype, (stem, key)
                    assert np.array_equal(read[key], value), (stem, key)


# In a fresh process: the `--emit torch` module loads the .pt, Adam changes its weights
# on a batch, and the new state_dict and the module's output on another batch are saved.
TRAIN = """
import importlib.util, sys
import numpy as np, torch
spec = importlib.util.spec_from_file_location("net", sys.argv[1])
net = importlib.util.module_from_spec(spec)
spec.loader.exec_module(net)
module = net.build_shufflenet_v2()
module.load_state_dict(torch.load(sys.argv[2]))
torch.manual_seed(0)
optimiser = torch.optim.Adam(module.parameters(), lr=1e-2)
x = torch.from_numpy(np.load(sys.argv[3]))
module.train()
for _ in range(3):
    optimiser.zero_grad()
    module(x).square().mean().backward()
    optimiser.step()
module.eval()
torch.save(module.state_dict(), sys.argv[4])
with torch.no_grad():
    np.save(sys.argv[5], module(x[:2]).numpy())
"""


def test_a_state_dict_trained_in_pytorch_runs_in_numpy(tmp_path):
    """The weights Adam changed (and the running statistics training mode moved) read
    back with `cnndsl weights`: the NumPy interpreter gives PyTorch's output."""
    from cnndsl.backends.torch.source import torch_source

    spec, graph = spec_file("shufflenet_v2", tmp_path)
    (tmp_path / "net.py").write_text(torch_source(graph, spec.name), encoding="utf-8")
    assert commands(["compile", str(spec), "-o", str(tmp_path / "start.pt"), "--seed", "1"]) \
        == [0]
    x = np.random.default_rng(8).normal(0, 1, (4, *graph.input.shape)).astype(np.float32)
    np.save(tmp_path / "x.npy", np.moveaxis(x, -1, 1))
    done = subprocess.run([sys.executable, "-c", TRAIN, str(tmp_path / "net.py"),
                           str(tmp_path / "start.pt"), str(tmp_path / "x.npy"),
                           str(tmp_path / "trained.pt"), str(tmp_path / "y.npy")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert main(["weights", str(tmp_path / "trained.pt"), "--spec", str(spec), "-o",
                 str(tmp_path / "trained.npz")]) == 0
    with np.load(tmp_path / "trained.npz", allow_pickle=False) as read:
        trained = dict(read)
    assert main(["weights", str(tmp_path / "start.pt"), "--spec", str(spec), "-o",
                 str(tmp_path / "start.npz")]) == 0
    with np.load(tmp_path / "start.npz", allow_pickle=False) as read:
        start = dict(read)
    assert any(not np.array_equal(start[k], trained[k]) for k in start if "kernel" in k)
    assert any(not np.array_equal(start[k], trained[k]) for k in start if "moving_mean" in k)
    ours = Interpreter(graph, trained).run(x[:2])
    theirs = np.load(tmp_path / "y.npy")
    assert np.max(np.abs(ours - theirs)) <= 1e-4 * max(1.0, float(np.max(np.abs(theirs))))


BACKENDS = {"onnxruntime": "onnxruntime", "torch": "torch", "keras": "tensorflow"}


@pytest.mark.parametrize("backend", sorted(BACKENDS))
@pytest.mark.parametrize("stem", ["lenet5", "image_and_meta", "ecg1d"])
def test_every_backend_runs_the_file_as_numpy_does(backend, stem, tmp_path, capsys):
    """`cnndsl run --backend B`: on the same file of examples and the same weights (a
    `.pt` state_dict here), each backend writes NumPy's outputs (one `.npy`, or an
    `.npz` by output name for several), within 1e-4 of the largest."""
    pytest.importorskip(BACKENDS[backend], reason=f"--backend {backend} needs it installed")
    spec, graph = spec_file(stem, tmp_path)
    np.savez(tmp_path / "w.npz", **lively_weights(graph, 2))
    assert main(["compile", str(spec), "-o", str(tmp_path / "w.pt"), "--weights",
                 str(tmp_path / "w.npz")]) == 0
    rng = np.random.default_rng(5)
    xs = {name: rng.normal(0, 1, (5, *n.shape)).astype(np.float32)
          for name, n in zip(graph.input_names, graph.input_nodes)}
    if graph.single:
        np.save(tmp_path / "x.npy", next(iter(xs.values())))
        source, suffix = tmp_path / "x.npy", ".npy"
    else:
        np.savez(tmp_path / "x.npz", **xs)
        source, suffix = tmp_path / "x.npz", ".npz"
    outputs = {}
    for which, weights in (("numpy", "w.npz"), (backend, "w.pt")):
        out = tmp_path / f"{which}{suffix}"
        assert main(["run", str(spec), "-i", str(source), "-o", str(out), "--weights",
                     str(tmp_path / weights), "--backend", which, "--batch-size", "2"]) == 0
        if suffix == ".npz":
            with np.load(out, allow_pickle=False) as read:
                outputs[which] = dict(read)
        else:
            outputs[which] = {"y": np.load(out, allow_pickle=False)}
    assert f"float32, {backend}\n" in capsys.readouterr().out
    for name, expected in outputs["numpy"].items():
        ours = outputs[backend][name]
        assert ours.shape == expected.shape
        assert np.max(np.abs(ours - expected)) <= 1e-4 * max(1.0, float(np.max(np.abs(expected))))


def error_of(argv: list[str], capsys) -> str:
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "\nhint: " in err, err
    return err


def test_mistakes_are_errors_with_a_hint(tmp_path, capsys):
    spec, graph = spec_file("lenet5", tmp_path)
    other, _ = spec_file("ecg1d", tmp_path)
    assert main(["compile", str(spec), "-o", str(tmp_path / "l.pt")]) == 0
    capsys.readouterr()
    assert "does not say which network" in error_of(
        ["weights", str(tmp_path / "l.pt"), "-o", str(tmp_path / "w.npz")], capsys)
    assert "does not fit the network" in error_of(
        ["weights", str(tmp_path / "l.pt"), "--spec", str(other)], capsys)
    (tmp_path / "junk.pt").write_bytes(b"not a zip, not a pickle")
    assert "that PyTorch can read safely" in error_of(
        ["weights", str(tmp_path / "junk.pt"), "--spec", str(spec)], capsys)
    # A pickle of something else than tensors is refused unread (weights_only).
    torch.save({"conv_1.weight": [1, 2, 3]}, tmp_path / "list.pt")
    assert "no state_dict" in error_of(
        ["weights", str(tmp_path / "list.pt"), "--spec", str(spec)], capsys)
    assert "--spec is for PyTorch" in error_of(
        ["weights", str(tmp_path / "m.keras"), "--spec", str(spec)], capsys)
    np.save(tmp_path / "x.npy", np.zeros((2, *graph.input.shape), np.float32))
    run = ["run", str(spec), "-i", str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.npy"),
           "--backend", "torch"]
    assert "--layers keeps every layer" in error_of(
        [*run, "--layers", str(tmp_path / "l.npz")], capsys)
    assert "--dtype float64 runs in the NumPy" in error_of([*run, "--dtype", "float64"], capsys)
    assert not (tmp_path / "y.npy").exists() and not (tmp_path / "w.npz").exists()


# Without torch: the command names the extra to install.
NO_TORCH = """
import sys
sys.modules["torch"] = None  # import torch fails, as where it is not installed
from cnndsl.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("argv", [["run", "{spec}", "-i", "{x}", "-o", "{y}", "--backend",
                                   "torch"],
                                  ["compile", "{spec}", "-o", "{dir}/n.pt"],
                                  ["weights", "{dir}/n.pt2", "-o", "{dir}/w.npz"]])
def test_without_torch_each_command_names_the_extra(argv, tmp_path):
    spec, graph = spec_file("lenet5", tmp_path)
    np.save(tmp_path / "x.npy", np.zeros((1, *graph.input.shape), np.float32))
    (tmp_path / "n.pt2").write_bytes(b"")
    filled = [a.format(spec=spec, x=tmp_path / "x.npy", y=tmp_path / "y.npy", dir=tmp_path)
              for a in argv]
    done = subprocess.run([sys.executable, "-c", NO_TORCH, *filled], capture_output=True,
                          text=True)
    assert done.returncode == 1, done.stderr
    assert "pip install 'cnndsl[torch]'" in done.stderr and "Traceback" not in done.stderr

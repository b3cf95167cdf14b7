"""The PyTorch backend (issue 23, in progress): the module `cnndsl.backends.torch` builds
computes what the NumPy interpreter computes, on the same weights, in PyTorch's layout.

Hypothesis draws networks with the differential tests' strategy (every step of the
language, 1-D to 3-D); those whose steps the PyTorch backend writes so far are built as a
`torch.nn.Module` with lively weights (biases and batch-norm statistics moved off their
initial values), run on a batch transposed to channels first, and compared with NumPy
(max|torch - numpy| <= 1e-4 * max(1, max|numpy|)); the others must be refused with a
located error naming the step, never built wrong. Needs the `torch` extra and Keras (the
strategy's module imports it): skipped without them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, reject, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch", reason="needs the torch extra: pip install -e '.[torch]'")
from onnx_check import small  # noqa: E402
from test_differential import networks  # noqa: E402 - needs Keras, as that file does
from test_differential_v3 import v3_networks  # noqa: E402
from zoo import lively_weights  # noqa: E402

from cnndsl import CnnError, analyse, compile_text  # noqa: E402
from cnndsl.backends.numpy import Interpreter  # noqa: E402
from cnndsl.backends.torch.module import build_module  # noqa: E402

THOROUGH = os.environ.get("CNNDSL_HYPOTHESIS_PROFILE") == "thorough"
RTOL = 1e-4


def first(x: np.ndarray) -> np.ndarray:
    return np.moveaxis(x, -1, 1) if x.ndim > 2 else x


def last(x: np.ndarray) -> np.ndarray:
    return np.moveaxis(x, 1, -1) if x.ndim > 2 else x


def constant_groups(graph, kept: dict, xs: list[np.ndarray]) -> bool:
    """Whether a normalisation reads a group of equal values, where its output is rounding
    divided by sqrt(eps), no function two backends can agree on: a group or instance norm
    (a layernorm over one channel gives one), or a layernorm whose channels are equal at
    some position (one channel, most often: Keras's formula, which NumPy follows,
    x * inv + (beta - mean * inv), gives beta plus the rounding of x * inv, about
    2e-5 * |x| with eps=1e-5, where onnxruntime and PyTorch, (x - mean) * inv, give beta)."""
    values = {**kept, **{n.name: x for n, x in zip(graph.input_nodes, xs)}}
    for node in graph.nodes:
        if node.kind == "layernorm":
            if np.min(values[graph.nodes[node.inputs[0]].name].var(axis=-1)) < 1e-6:
                return True
            continue
        if node.kind not in ("groupnorm", "instancenorm"):
            continue
        x = values[graph.nodes[node.inputs[0]].name]
        groups = node.layer.groups if node.kind == "groupnorm" else x.shape[-1]
        grouped = np.moveaxis(x, -1, 1).reshape(x.shape[0], groups, -1)
        if np.min(grouped.var(axis=-1)) < 1e-6:
            return True
    return False


def torch_outputs(graph, weights, xs: list[np.ndarray]) -> list[np.ndarray]:
    module = build_module(graph, weights)
    with torch.no_grad():
        out = module(*(torch.from_numpy(np.ascontiguousarray(first(x))) for x in xs))
    outs = out if isinstance(out, tuple) else (out,)
    return [last(o.numpy()) for o in outs]


DRAWN = settings(max_examples=1000 if THOROUGH else 200, derandomize=not THOROUGH,
                 deadline=None, database=None, suppress_health_check=list(HealthCheck))


@DRAWN
@given(networks, st.integers(1, 3))
def test_a_drawn_network_computes_in_pytorch_what_numpy_computes(spec, batch):
    check_against_numpy(spec, batch)


@DRAWN
@given(v3_networks(), st.integers(1, 3))
def test_a_drawn_version_3_network_computes_in_pytorch_what_numpy_computes(network, batch):
    """PyTorch's own padding, pooling, normalisation and rearranging steps."""
    check_against_numpy(network[0], batch)


def check_against_numpy(spec: str, batch: int) -> None:
    note(f"spec: {spec}")
    graph = compile_text(spec, "net")
    weights = lively_weights(graph, 0)
    rng = np.random.default_rng(batch)
    xs = [rng.normal(0, 1, (batch, *n.shape)).astype(np.float32) for n in graph.input_nodes]
    kept = Interpreter(graph, weights, fuse=False, keep=True).run_all(xs)
    if constant_groups(graph, kept, xs):
        reject()  # (x - mean) / sqrt(eps) of equal values: rounding, amplified 300 times
    try:
        ours = torch_outputs(graph, weights, xs)
    except CnnError as e:
        assert "cannot write" in e.message and e.span is not None
        return
    expected = [kept[n.name] for n in graph.output_nodes]
    for o, e in zip(ours, expected):
        assert o.shape == e.shape
        err = np.max(np.abs(o - e)) / max(1.0, float(np.max(np.abs(e))))
        assert err <= RTOL, f"relative error {err:.3g}"


def test_padding_pooling_and_layout_cases_by_hand():
    """Keras's `same` with an odd total (an `F.pad` first), PyTorch's `pad=` and ceil,
    an average that counts the padding or not, flatten in both orders, a dense layer on
    the channels of an image: each against NumPy."""
    for spec in ("input 9x9x3 -> conv 3/2 x4 same relu -> bn -> maxpool 2 same -> dwconv 3 "
                 "same -> sepconv 3 x5 same gelu -> avgpool 3/2 same -> flatten -> dense 7 "
                 "softmax",
                 "input 8x8x2 -> add { conv 3 x2 same | id } -> concat { gap keepdims -> "
                 "reshape 2 -> dense 3 | gmp } -> dense 4",
                 "input 10x3 -> conv 3 x4 pad=1 -> avgpool 3/2 pad=1 ceil include_pad -> "
                 "zeropad 1:2 -> maxpool 2 ceil -> flatten chw -> dense 2 hard_swish",
                 "input 6x6x4 -> dense 3 leaky_relu -> conv 1 x2 elu=0.5 -> flatten"):
        graph = compile_text(spec, "t")
        weights = lively_weights(graph, 1)
        x = np.random.default_rng(2).normal(0, 1, (2, *graph.input.shape)).astype(np.float32)
        ours = torch_outputs(graph, weights, [x])[0]
        expected = Interpreter(graph, weights).run(x)
        assert ours.shape == expected.shape, spec
        np.testing.assert_allclose(ours, expected, rtol=RTOL, atol=RTOL, err_msg=spec)


EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.cnn"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_computes_in_pytorch_what_numpy_computes(path):
    """At full size, the module's parameters and buffers (num_batches_tracked aside) are
    the spec's trainable and non-trainable counts (built on PyTorch's meta device: shapes
    without memory); at the small size the ONNX tests use, on lively weights, the module
    built in this process gives NumPy's output."""
    from cnndsl.backends.torch.module import empty_module

    text = path.read_text(encoding="utf-8")
    full = compile_text(text, path.stem)
    with torch.device("meta"):
        module = empty_module(full)
    stats = analyse(full)
    assert sum(p.numel() for p in module.parameters()) == stats.total("trainable")
    assert sum(b.numel() for name, b in module.named_buffers()
               if not name.endswith("num_batches_tracked")) == stats.total("non_trainable")
    graph = compile_text(small(text), path.stem)
    weights = lively_weights(graph, 0)
    rng = np.random.default_rng(3)
    xs = [rng.normal(0, 1, (2, *n.shape)).astype(np.float32) for n in graph.input_nodes]
    for ours, theirs in zip(torch_outputs(graph, weights, xs),
                            Interpreter(graph, weights).run_many(xs)):
        assert ours.shape == theirs.shape
        err = np.max(np.abs(ours - theirs)) / max(1.0, float(np.max(np.abs(theirs))))
        assert err <= RTOL, f"relative error {err:.3g}"


# Run in a fresh Python, given jobs as JSON: first each example's emitted source, built
# and given the state_dict the backend built (saved by torch.save), run on its batch,
# while neither cnndsl nor TensorFlow nor Keras is imported (the source needs torch
# alone); then each example compiled by `cnndsl compile -o NET.pt2 --weights W.npz`,
# loaded by torch.export.load and run on a batch of 3 (it was exported on 2).
RUN_EXAMPLES = """
import importlib.util, json, sys
import numpy as np, torch
jobs = json.loads(sys.argv[1])
for job in jobs:
    spec = importlib.util.spec_from_file_location(job["stem"], job["source"])
    net = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(net)
    module = getattr(net, "build_" + job["stem"])()
    module.load_state_dict(torch.load(job["state"]))
    module.eval()
    xs = [torch.from_numpy(np.load(x)) for x in job["xs"]]
    with torch.no_grad():
        ys = module(*xs)
    ys = ys if isinstance(ys, tuple) else (ys,)
    np.savez(job["by_source"], *[y.numpy() for y in ys])
loaded = {m.split(".")[0] for m in sys.modules} & {"cnndsl", "tensorflow", "keras"}
assert not loaded, f"imported {sorted(loaded)}"
from cnndsl.cli import main
for job in jobs:
    if not job["pt2"]:
        continue
    assert main(["compile", job["spec"], "-o", job["pt2"], "--weights", job["npz"]]) == 0
    program = torch.export.load(job["pt2"])
    xs = [torch.from_numpy(np.load(x)) for x in job["xs3"]]
    with torch.no_grad():
        ys = program.module()(*xs)
    ys = ys if isinstance(ys, tuple) else (ys,)
    np.savez(job["by_program"], *[y.numpy() for y in ys])
"""
CHUNKS = 4  # subprocesses, so that pytest-xdist can share them between workers
# torch.export takes seconds an example: by default the .pt2 of one example of each kind
# of step (normalize's buffers, batch norms with a shift only, several inputs and
# outputs, 1-D, 3-D, grouped and transposed convolutions, squeeze-excite); of every
# example with the thorough profile.
PT2_EXAMPLES = {"lenet5", "efficientnet_b0", "inception_v3", "image_and_meta", "ecg1d",
                "c3d_small", "shufflenet_v2", "unet", "mobilenet_v3_small"}


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_every_example_as_emitted_source_and_as_pt2_computes_the_spec(chunk, tmp_path):
    """Every example (at the small size in the default run, as written with the thorough
    profile), on lively weights (batch-norm statistics moved so they matter): the module
    `cnndsl compile --emit torch` writes, given the built module's state_dict (the same
    keys), in a process that imports neither cnndsl nor TensorFlow; and the `.pt2` that
    `cnndsl compile -o NET.pt2 --weights W.npz` writes (PT2_EXAMPLES; every example with
    the thorough profile), run on another batch size than it was exported with: both
    give NumPy's output."""
    import json
    import subprocess
    import sys

    from cnndsl.backends.torch.source import torch_source

    jobs, expected = [], {}
    for path in EXAMPLES[chunk::CHUNKS]:
        stem = path.stem
        text = path.read_text(encoding="utf-8")
        text = text if THOROUGH else small(text)
        (tmp_path / f"{stem}.cnn").write_text(text, encoding="utf-8")
        graph = compile_text(text, stem)
        weights = lively_weights(graph, 0)
        np.savez(tmp_path / f"{stem}.npz", **weights)
        (tmp_path / f"{stem}.py").write_text(torch_source(graph, path.name), encoding="utf-8")
        torch.save(build_module(graph, weights).state_dict(), tmp_path / f"{stem}.pt")
        rng = np.random.default_rng(4)
        job = {"stem": stem, "source": str(tmp_path / f"{stem}.py"),
               "state": str(tmp_path / f"{stem}.pt"), "spec": str(tmp_path / f"{stem}.cnn"),
               "npz": str(tmp_path / f"{stem}.npz"),
               "pt2": str(tmp_path / f"{stem}.pt2") if THOROUGH or stem in PT2_EXAMPLES
               else "",
               "by_source": str(tmp_path / f"{stem}_source.npz"),
               "by_program": str(tmp_path / f"{stem}_program.npz"), "xs": [], "xs3": []}
        for batch, key in ((2, "xs"), (3, "xs3")):
            xs = [rng.normal(0, 1, (batch, *n.shape)).astype(np.float32)
                  for n in graph.input_nodes]
            for k, x in enumerate(xs):
                np.save(tmp_path / f"{stem}_{key}{k}.npy", first(x))
                job[key].append(str(tmp_path / f"{stem}_{key}{k}.npy"))
            expected[stem, key] = Interpreter(graph, weights).run_many(xs)
        jobs.append(job)
    done = subprocess.run([sys.executable, "-c", RUN_EXAMPLES, json.dumps(jobs)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    for job in jobs:
        for key, made in (("xs", "by_source"), ("xs3", "by_program"))[:2 if job["pt2"] else 1]:
            with np.load(job[made], allow_pickle=False) as read:
                ours = [last(read[f"arr_{k}"]) for k in range(len(read.files))]
            for o, e in zip(ours, expected[job["stem"], key], strict=True):
                assert o.shape == e.shape, (job["stem"], made)
                err = np.max(np.abs(o - e)) / max(1.0, float(np.max(np.abs(e))))
                assert err <= RTOL, f"{job['stem']} {made}: relative error {err:.3g}"


def test_no_layer_attribute_shadows_a_name_of_nn_module():
    from cnndsl.backends.torch.ops import MODULE_NAMES

    public = {n for n in dir(torch.nn.Module) if not n.startswith("_")}
    assert public <= MODULE_NAMES | {"T_destination"}, sorted(public - MODULE_NAMES)
    graph = compile_text("input 4 -> dense 2 name=eval -> relu name=forward -> "
                         "dense 2 name=training", "t")
    module = build_module(graph, lively_weights(graph, 0))
    assert {n for n, _ in module.named_children()} == {"eval_", "training_"}


RUN_PROGRAM = """
import sys
import numpy as np, torch
program = torch.export.load(sys.argv[1])
with torch.no_grad():
    y = program.module()(torch.from_numpy(np.load(sys.argv[2])))
np.save(sys.argv[3], y.numpy())
loaded = {m.split(".")[0] for m in sys.modules} & {"cnndsl", "tensorflow", "keras"}
assert not loaded, f"imported {sorted(loaded)}"
print(" ".join(sorted(program.state_dict)))
"""


@pytest.mark.parametrize("stem", ("shufflenet_v2",))
def test_a_pt2_program_carries_the_weights_and_the_source_modules_keys(stem, tmp_path):
    """`cnndsl compile NET.cnn -o NET.pt2 --weights W.npz`: `torch.export.load` alone (a
    process that imports neither cnndsl nor TensorFlow) runs it on a batch of 3 (it was
    exported on 2: the batch axis is open) and gives NumPy's output on those weights;
    its state_dict has the keys of the module `--emit torch` writes."""
    import subprocess
    import sys

    from cnndsl.backends.torch.source import torch_source

    spec = tmp_path / f"{stem}.cnn"
    spec.write_text(small((EXAMPLES[0].parent / f"{stem}.cnn").read_text(encoding="utf-8")),
                    encoding="utf-8")
    graph = compile_text(spec.read_text(encoding="utf-8"), stem)
    weights = lively_weights(graph, 5)
    np.savez(tmp_path / "w.npz", **weights)
    # In a process of its own: torch.export where TensorFlow is loaded (this module's
    # strategies import Keras) crashed the process here (torch 2.14, TensorFlow 2.21).
    compiled = subprocess.run([sys.executable, "-m", "cnndsl", "compile", str(spec), "-o",
                               str(tmp_path / "net.pt2"), "--weights", str(tmp_path / "w.npz")],
                              capture_output=True, text=True)
    assert compiled.returncode == 0, compiled.stderr
    x = np.random.default_rng(6).normal(0, 1, (3, *graph.input.shape)).astype(np.float32)
    np.save(tmp_path / "x.npy", first(x))
    done = subprocess.run([sys.executable, "-c", RUN_PROGRAM, str(tmp_path / "net.pt2"),
                           str(tmp_path / "x.npy"), str(tmp_path / "y.npy")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    expected = Interpreter(graph, weights).run(x)
    ours = last(np.load(tmp_path / "y.npy"))
    err = np.max(np.abs(ours - expected)) / max(1.0, float(np.max(np.abs(expected))))
    assert ours.shape == expected.shape and err <= RTOL
    namespace: dict = {}
    source = compile_source(torch_source(graph, spec.name), namespace)
    assert source is not None
    keys = set(namespace[f"build_{stem}"]().state_dict())
    assert set(done.stdout.split()) == keys


def compile_source(text: str, namespace: dict):
    """The emitted source run as a module (the test's own code, from cnndsl's output)."""
    code = compile(text, "<emitted>", "exec")
    exec(code, namespace)  # noqa: S102 - cnndsl's generated source, in a test
    return code

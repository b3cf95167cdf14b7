"""PyTorch as the fourth backend of the differential tests: every network Hypothesis draws
(language versions 1 to 3) computes the same in NumPy, onnxruntime, Keras where it builds,
and PyTorch twice: the module `cnndsl compile --emit torch` writes, and the `.pt2`
program `cnndsl compile -o NET.pt2` writes.

The networks are test_differential's (`networks`: every step kind of version 1, 1-D to
3-D and vectors, merges, blocks), test_differential_v2's (`v2_networks`: named tensors,
one or two inputs, several outputs) and test_differential_v3's (`v3_networks`: PyTorch's
padding, normalisation, activations and rearranging). Each runs on lively weights
(`zoo.lively_weights`: biases and statistics moved off their initial values) and a random
batch of 1 or 3 (never the 2 the program is exported with, so its batch axis must be
open), and NumPy's output (the interpreter, unfused) is the reference:

- onnxruntime, on the ONNX model cnndsl writes: max|ort - numpy| <= 1e-5 * max(1,
  max|numpy|) (onnx_check's ORT_RTOL), ONNX's shape inference agreeing with cnndsl;
- Keras, where the backend builds the network (always for versions 1 and 2; for version 3
  a refusal must be located on a step Keras has no exact layer for, as
  test_differential_v3 says), eager or through XLA as `needs_xla` decides: 1e-4 relative;
- the emitted source, compiled and run as a module with the state_dict of the module
  `build_module` builds (loaded strictly: the same keys): 1e-4 relative, as
  test_torch_backend;
- the `.pt2`: `exported_program` with the weights, `torch.export.save`, then
  `torch.export.load` and `.module()` on the batch: 1e-4 relative, its state_dict keyed
  as the source's module.

A network the PyTorch backend does not write must be refused by both the source writer
and the module builder with a CnnError saying "cannot write" and located in the spec (none is
refused today). Draws where a group, instance or layer norm reads a group of equal values
are rejected, as in test_torch_backend (`constant_groups`).

Why the `.pt2` is made in another process: a process that has loaded TensorFlow crashes
(SIGSEGV) in `torch.export.export` and in `torch.export.load` (torch 2.14.1, TensorFlow
2.21, triton 3.8; checked 2026-12-07 with a few lines each way, the native stack read in
gdb). Both import `torch._dynamo`, which imports triton, and the static initialisers of
the LLVM inside triton's `libtriton.so` (LLVM's `DebugCounter` registry, from
`PassBuilder.cpp`) bind to the LLVM symbols TensorFlow loaded before and free a pointer
that is not theirs. So `import tensorflow; import triton` alone crashes, and so does
`torch.compile`, whichever of torch and TensorFlow was imported first; what counts is
whether triton is loaded before TensorFlow: `import torch._dynamo` before TensorFlow, then
an export, works, as does a process where triton cannot be imported (`sys.modules["triton"]
= None`). Eager PyTorch (the source module here, test_torch_backend's built module) and
`torch.jit.trace` are unaffected. A test session cannot choose its import order
(test_differential imports Keras when it is collected), so the `.pt2` part runs in one
worker process per test module that never imports TensorFlow (tests/torch_programs.py),
started at the first network and sent one network at a time; it exports while this
process runs the other backends, so it costs little more than its own time (about 0.3 s a
network, the slowest backend). The same crash hits `cnndsl compile NET.cnn -o NET.pt2
--weights NET.keras` (reading the .keras loads TensorFlow before the export).

Profiles: by default (deterministic) 80 version 1, 30 version 2 and 60 version 3 networks,
under a minute on 2 cores; `CNNDSL_HYPOTHESIS_PROFILE=thorough` draws ten times as many,
fresh each run (about ten minutes). How many networks each backend ran, the refusals and
the worst errors are printed when the module finishes.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from contextlib import nullcontext

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, reject, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch", reason="needs the torch extra: pip install -e '.[torch]'")
from onnx_check import ORT_RTOL, check_inferred_shapes, ort, run_onnx  # noqa: E402
from test_differential import (  # noqa: E402 - needs Keras, as that file does
    RTOL,
    _xla,
    keras,
    needs_xla,
    networks,
    relative_error,
)
from test_differential_v2 import v2_networks  # noqa: E402
from test_differential_v3 import REFUSABLE, v3_networks  # noqa: E402
from test_torch_backend import constant_groups, first, last  # noqa: E402
from torch_programs import ProgramWorker  # noqa: E402
from zoo import lively_weights  # noqa: E402

from cnndsl import CnnError, compile_text  # noqa: E402
from cnndsl.backends.keras.builder import build_model  # noqa: E402
from cnndsl.backends.numpy import Interpreter  # noqa: E402
from cnndsl.backends.torch.module import build_module  # noqa: E402
from cnndsl.backends.torch.source import torch_source  # noqa: E402

THOROUGH = os.environ.get("CNNDSL_HYPOTHESIS_PROFILE") == "thorough"
TORCH_RTOL = 1e-4  # max|torch - numpy| <= TORCH_RTOL * max(1, max|numpy|), test_torch_backend's
NAME = "net"  # the graph's name: the emitted source's builder is build_net
CLEAR_EVERY = 20  # Keras models built between `clear_session` calls


def drawn(examples: int):
    """`examples` networks by default, ten times as many fresh ones when thorough."""
    return settings(max_examples=examples * 10 if THOROUGH else examples,
                    derandomize=not THOROUGH, database=None, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


# ---- what ran, and how close ------------------------------------------------------------------

BACKENDS = ("degenerate", "numpy", "onnxruntime", "keras", "keras refused", "torch source",
            ".pt2", "torch refused")
RAN: Counter = Counter()  # (language version, backend or outcome) -> networks
REFUSED: Counter = Counter()  # the PyTorch backend's refusals, by message
WORST: dict[str, float] = {}  # the worst relative error per backend
KERAS_MODELS = Counter()  # built since the start, for `clear_session`


def tally(version: int, backend: str, err: float | None = None) -> None:
    RAN[version, backend] += 1
    if err is not None:
        WORST[backend] = max(WORST.get(backend, 0.0), err)


@pytest.fixture(scope="module", autouse=True)
def report(request):
    yield
    if not RAN:
        return
    lines = ["", "differential torch: networks per backend, language versions 1 / 2 / 3"]
    for backend in BACKENDS:
        counts = " / ".join(str(RAN[v, backend]) for v in (1, 2, 3))
        worst = f", worst relative error {WORST[backend]:.3g}" if backend in WORST else ""
        lines.append(f"  {backend:14} {counts}{worst}")
    lines += [f"  PyTorch refused {n}: {message}" for message, n in REFUSED.most_common()]
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else nullcontext():
        print("\n".join(lines))


@pytest.fixture(scope="module")
def programs(tmp_path_factory):
    """The `.pt2` worker of this module (started at its first network)."""
    worker = ProgramWorker(tmp_path_factory.mktemp("pt2"))
    yield worker
    worker.close()


# ---- the backends -----------------------------------------------------------------------------

def onnxruntime_outputs(graph, weights, xs) -> list[np.ndarray]:
    from cnndsl.backends.onnx import build_model as build_onnx

    model = build_onnx(graph, weights)
    check_inferred_shapes(graph, model)
    return run_onnx(graph, model, xs)


def keras_outputs(spec: str, graph, weights, xs, may_refuse: bool) -> list | None:
    """Keras's outputs, or None where it may refuse and does, on a step it has no exact
    layer for (test_differential_v3's rule)."""
    KERAS_MODELS["built"] += 1
    if KERAS_MODELS["built"] % CLEAR_EVERY == 0:
        keras.backend.clear_session()
    try:
        model = build_model(graph, weights)
    except CnnError as e:
        if not may_refuse:
            raise
        line, col = e.span.line, e.span.column
        assert line >= 1 and col >= 1, f"Keras's refusal is not located: {e}"
        step = spec.splitlines()[line - 1][col - 1:].split("->")[0]
        assert any(word in step for word in REFUSABLE), f"Keras refused {step!r}"
        return None
    x = xs if len(xs) > 1 else xs[0]
    out = _xla(model)(x) if needs_xla(graph) else model(x, training=False)
    return [np.asarray(v) for v in (out if isinstance(out, (list, tuple)) else [out])]


def written_module(graph, weights):
    """The emitted source's module with the built module's state_dict, or None where the
    PyTorch backend refuses the network (the source writer and the builder alike)."""
    refusals: dict[str, CnnError] = {}
    try:
        text = torch_source(graph, f"{NAME}.cnn")
    except CnnError as e:
        refusals["source writer"] = e
    try:
        built = build_module(graph, weights)
    except CnnError as e:
        refusals["module builder"] = e
    if refusals:
        assert len(refusals) == 2, f"only the {', '.join(refusals)} refused: {refusals}"
        for e in refusals.values():
            assert "cannot write" in e.message and e.span is not None and e.span.line >= 1, e
        REFUSED[e.message] += 1
        return None
    namespace: dict = {}
    exec(compile(text, "<emitted>", "exec"), namespace)  # noqa: S102 - cnndsl's output
    module = namespace[f"build_{NAME}"]()
    module.load_state_dict(built.state_dict())  # strict: the same keys
    return module.eval()


def run_module(module, xs) -> list[np.ndarray]:
    with torch.no_grad():
        out = module(*(torch.from_numpy(np.ascontiguousarray(first(x))) for x in xs))
    return [last(o.numpy()) for o in (out if isinstance(out, tuple) else (out,))]


# ---- the check --------------------------------------------------------------------------------

def check_four_backends(spec: str, seed: int, batch: int, programs: ProgramWorker,
                        version: int) -> bool:
    """NumPy's outputs against onnxruntime's, Keras's (which may refuse a version 3
    step), the emitted module's and the `.pt2`'s, on lively weights and a random batch of
    `batch`; False (nothing compared) where a normalisation reads a group of equal
    values."""
    graph = compile_text(spec, NAME)
    weights = lively_weights(graph, seed)
    rng = np.random.default_rng(seed)
    xs = [rng.normal(0, 1, (batch, *n.shape)).astype(np.float32) for n in graph.input_nodes]
    kept = Interpreter(graph, weights, fuse=False, keep=True).run_all(xs)
    if constant_groups(graph, kept, xs):
        tally(version, "degenerate")
        return False
    expected = [kept[n.name] for n in graph.output_nodes]
    tally(version, "numpy")
    module = written_module(graph, weights)
    job = None
    if module is not None:  # the worker exports while this process runs the rest
        job = programs.submit(spec, weights, [np.ascontiguousarray(first(x)) for x in xs],
                              NAME)
    if ort is not None:
        agree(version, "onnxruntime", onnxruntime_outputs(graph, weights, xs), expected,
              ORT_RTOL)
    theirs = keras_outputs(spec, graph, weights, xs, may_refuse=version == 3)
    if theirs is None:
        tally(version, "keras refused")
    else:
        agree(version, "keras", theirs, expected, RTOL)
    if module is None:
        tally(version, "torch refused")
        return True
    agree(version, "torch source", run_module(module, xs), expected, TORCH_RTOL)
    program = job.result()
    agree(version, ".pt2", [last(y) for y in program.outputs], expected, TORCH_RTOL)
    assert program.keys == sorted(module.state_dict()), "the .pt2's keys are not the source's"
    shutil.rmtree(job.folder)
    return True


def agree(version: int, backend: str, outputs: list[np.ndarray], expected: list[np.ndarray],
          rtol: float) -> None:
    assert len(outputs) == len(expected), f"{backend}: {len(outputs)} outputs"
    errors = []
    for i, (o, e) in enumerate(zip(outputs, expected)):
        assert o.shape == e.shape, f"{backend}, output {i}: shape {o.shape}, numpy {e.shape}"
        errors.append(relative_error(o, e))
        assert errors[-1] <= rtol, (f"{backend}, output {i}: max|{backend} - numpy| / "
                                    f"max(1, max|numpy|) = {errors[-1]:.3g} > {rtol:g}")
    tally(version, backend, max(errors, default=0.0))


# ---- the tests --------------------------------------------------------------------------------

SEEDS = st.integers(0, 2**32 - 1)
BATCHES = st.sampled_from((1, 3))  # never the export's 2


@pytest.mark.filterwarnings("ignore:You are using a softmax over axis -1")
@drawn(80)
@given(networks, SEEDS, BATCHES)
def test_a_version_1_network_computes_the_same_in_four_backends(programs, spec, seed, batch):
    note(f"spec: {spec}")
    if not check_four_backends(spec, seed, batch, programs, version=1):
        reject()


@pytest.mark.filterwarnings("ignore:You are using a softmax over axis -1")
@drawn(30)
@given(v2_networks(), SEEDS, BATCHES)
def test_a_version_2_network_computes_the_same_in_four_backends(programs, network, seed,
                                                                 batch):
    """Named tensors, one or two inputs, several outputs."""
    note(f"spec:\n{network[0]}")
    if not check_four_backends(network[0], seed, batch, programs, version=2):
        reject()


@pytest.mark.filterwarnings("ignore:You are using a softmax over axis -1")
@drawn(60)
@given(v3_networks(), SEEDS, BATCHES)
def test_a_version_3_network_computes_the_same_in_four_backends(programs, network, seed,
                                                                 batch):
    """PyTorch's padding, normalisation and rearranging; Keras may refuse some steps."""
    note(f"spec: {network[0]}")
    if not check_four_backends(network[0], seed, batch, programs, version=3):
        reject()


# Networks the drawn tests found disagreeing, shrunk, checked on every run the same way.
FOUND = [
    # onnxruntime's LRN kernel takes 4-D tensors only (X_shape.NumDimensions() == 4), and
    # the ONNX backend writes an odd-sized lrn as one LRN node on 1-D and 3-D inputs too.
    pytest.param("input 5x2 -> lrn 3", id="onnx-lrn-1d"),
    pytest.param("input 3x3x3x2 -> lrn 3", id="onnx-lrn-3d"),
    # Refused by the PyTorch backend until 508c357: padding cut after, output padding.
    pytest.param("input 5x2 -> deconv 3/2 x2 pad=1:0 outpad=1", id="deconv-cut-after"),
]


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("spec", FOUND)
def test_a_network_once_found_disagreeing_computes_the_same(programs, spec, batch):
    assert check_four_backends(spec, 0, batch, programs, version=3)

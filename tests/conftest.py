"""Shared helpers for the test suite: build a one-step network and check it.

`check_layer("conv 3x3 x32", (28, 28, 16), (26, 26, 32), 3*3*16*32 + 32,
flops=2*(26*26*32 * 3*3*16) + 26*26*32)` compiles `input 28x28x16 -> conv 3x3 x32` and
checks the last layer's shape, then the sums over every layer the step made of the
parameters, their split into trainable and non-trainable (all trainable unless
`trainable=` says otherwise), the FLOPs and, when given, the MACs; so a merge or a small
chain is checked as one unit. Expected numbers come from the caller, worked out by hand,
never from cnndsl.
"""

from __future__ import annotations

import os
import signal
import sys

import pytest
from hypothesis import settings

# With the torch extra: torch.export, torch.compile and torch.onnx load triton, whose LLVM
# crashes the process where TensorFlow's is already loaded (torch 2.14, TensorFlow 2.21,
# triton 3.8); loaded before TensorFlow, both work. A pytest worker collects every test
# module, and test_differential_torch.py brings Keras in at collection, so this is done
# here, before any test module is imported. Without torch, nothing is loaded.
try:
    import torch._dynamo  # noqa: F401
except ImportError:
    pass

from cnndsl import analyse, compile_text

# Mutation testing (docs/testing.md): mutmut puts every call of a mutated function through
# a trampoline, 2 more Python frames, so the 400-deep nesting test in test_errors.py would
# hit RecursionError before the located "nested too deep" error. mutmut 3.8 sets
# MUTANT_UNDER_TEST in every phase (stats, clean run, each mutant); only then is the limit
# raised, so the ordinary suite keeps Python's default.
if "MUTANT_UNDER_TEST" in os.environ:
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 4000))

# In mutmut's selection, the printer's and the ONNX backend's tests are there for their own
# modules' mutants. They reach the front end too (every test does), and a front-end mutant
# that survives runs every test that reaches it: with these it would take minutes, not
# seconds, and the front end is held to the core tests as in its earlier scores.
OWN_TESTS = {"test_printer.py": "cnndsl.views.printing.",
             "test_printer_cells.py": "cnndsl.views.printing.",
             "test_onnx.py": "cnndsl.backends.onnx.",
             "test_onnx_norm_v3.py": "cnndsl.backends.onnx."}


def pytest_collection_modifyitems(config, items):
    mutant = os.environ.get("MUTANT_UNDER_TEST", "")
    if "__mutmut_" not in mutant:  # not a mutant's run (stats, clean run, ordinary tests)
        return
    others = [item for item in items if not mutant.startswith(
        OWN_TESTS.get(item.path.name, mutant))]
    if others:
        config.hook.pytest_deselected(items=others)
        dropped = set(others)
        items[:] = [item for item in items if item not in dropped]

# The tests that interrupt a command send its process SIGINT. A shell without job control
# starts a background job (`pytest ... &` in a script, a CI runner, nohup) with SIGINT
# ignored, and ignored signals stay ignored across exec: the command would then never see
# the SIGINT, as cnndsl rightly leaves an ignored signal alone. Handled signals are reset
# to their default at exec, so installing Python's own handler here gives every child a
# default SIGINT, as in an interactive terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# Every Hypothesis test draws the same examples on every run and machine (derandomized,
# no example database), so a red run is a reproducible one; the suites with profiles of
# their own (fuzz, differential) still choose per test. CNNDSL_HYPOTHESIS_PROFILE=thorough
# draws fresh random examples everywhere, for a search before a release.
# No deadline: it is a timing assertion, which fails a correct test on a loaded machine or
# under mutmut's trampolines (a printer test took 275 ms of its 200 there).
settings.register_profile("cnndsl-reproducible", derandomize=True, database=None,
                          deadline=None)
settings.register_profile("cnndsl-random", derandomize=False, deadline=None)
settings.load_profile("cnndsl-random" if os.environ.get("CNNDSL_HYPOTHESIS_PROFILE")
                      == "thorough" else "cnndsl-reproducible")


def dims(shape: tuple[int, ...]) -> str:
    """`(6, 6, 1)` -> `6x6x1`, as the language writes a shape."""
    return "x".join(str(d) for d in shape)


def step_stats(spec: str, in_shape: tuple[int, ...]):
    """The graph of `input IN_SHAPE -> SPEC` and the statistics of the layers SPEC made."""
    graph = compile_text(f"input {dims(in_shape)} -> {spec}", name="t")
    return graph, analyse(graph).layers[1:]


def _check_layer(spec: str, in_shape: tuple[int, ...], out_shape: tuple[int, ...],
                 params: int, *, flops: int, trainable: int | None = None,
                 macs: int | None = None):
    graph, stats = step_stats(spec, in_shape)
    where = f"{spec} on {dims(in_shape)}"
    assert graph.nodes[0].shape == tuple(in_shape)
    assert graph.output.shape == tuple(out_shape), where
    assert sum(s.params for s in stats) == params, f"params of {where}"
    trainable = params if trainable is None else trainable
    assert sum(s.trainable for s in stats) == trainable, f"trainable params of {where}"
    assert sum(s.non_trainable for s in stats) == params - trainable, \
        f"non-trainable params of {where}"
    assert sum(s.flops for s in stats) == flops, f"FLOPs of {where}"
    if macs is not None:
        assert sum(s.macs for s in stats) == macs, f"MACs of {where}"
    return graph


@pytest.fixture(scope="session")
def check_layer():
    """`check_layer(spec, in_shape, out_shape, params, flops=, [trainable=, macs=])`."""
    return _check_layer


@pytest.fixture(scope="session")
def keras():
    """Keras, for the tests that compare with it; without TensorFlow they are skipped,
    saying which extra to install. TensorFlow's start-up chatter is silenced and its
    oneDNN kernels switched off before it loads: whether oneDNN is on depends on the CPU,
    and it was seen to compute some convolutions wrong (see tests/test_differential.py)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    return pytest.importorskip("keras", reason="TensorFlow/Keras not installed: "
                               "pip install 'cnndsl[keras]'")

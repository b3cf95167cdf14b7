"""ONNX's own operator tests, run by cnndsl: a peer's expected outputs, not ours.

For each CNN operator module of `onnx.backend.test.case.node` (tests/onnx_cases.py says
which and how), every case the language can express is written as `.cnn` with its
weights, run in the NumPy interpreter, and compared with the outputs ONNX's reference
implementation gave, to ONNX's own tolerances for them (relative 1e-3; absolute 1e-5). Every case it
cannot express must say why, in words (docs/onnx.md lists them).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from onnx_cases import MODULES, cases, outcome

ROOT = Path(__file__).resolve().parent.parent

pytest.importorskip("onnx", reason="the onnx extra: pip install 'cnndsl[onnx]'")


# Modules none of whose cases the language can express, and why.
NONE_EXPRESSIBLE = {
    "hardsigmoid": "alpha 0.2 or 0.5, where Keras 3's hard sigmoid (the language's) has 1/6",
    "min": "no `min` merge",
    "pad": "a constant other than 0, wrap mode, or int32 data (reflect and edge)",
    "split": "the parts leave as separate outputs",
}


@pytest.mark.parametrize("module", MODULES)
def test_every_case_cnndsl_can_express_agrees_with_onnx(module):
    found = cases(module)
    assert found, f"ONNX made no single-node cases in {module}"
    results = {case.name: outcome(case) for case in found}
    differing = {k: v[1] for k, v in results.items() if v[0] == "differs"}
    assert differing == {}  # (a spec cnndsl refuses fails in outcome, with the spec)
    kinds = {kind for kind, _ in results.values()}
    # A translator that gave up on a whole operator would pass the rest of this test: the
    # modules of which no case can be expressed are named, with why.
    assert (kinds <= {"inexpressible"}) == (module in NONE_EXPRESSIBLE), results


@pytest.mark.skipif(os.environ.get("CNNDSL_HYPOTHESIS_PROFILE") != "thorough",
                    reason="collect_testcases() builds all 1,900 cases: thorough profile only")
def test_the_modules_hold_every_case_of_these_operators():
    """ONNX may move or add cases: all that collect_testcases() makes for the operators
    translated here must come from MODULES (each process imports ONNX's cases afresh)."""
    script = ("import sys, warnings; warnings.simplefilter('ignore'); sys.path.insert(0, 'tests')\n"
              "from onnx_cases import MODULES, OPERATORS, cases\n"
              "if sys.argv[1] == 'all':\n"
              "    from onnx.backend.test.case.node import collect_testcases\n"
              "    found = [c for c in collect_testcases() if len(c.model.graph.node) == 1\n"
              "             and c.model.graph.node[0].op_type in OPERATORS]\n"
              "else:\n"
              "    found = [c for m in MODULES for c in cases(m)]\n"
              "print('\\n'.join(sorted(c.name for c in found)))\n")
    names = [subprocess.run([sys.executable, "-c", script, which], capture_output=True,
                            text=True, check=True, cwd=ROOT).stdout.split()
             for which in ("all", "modules")]
    assert names[0] == names[1] and len(names[0]) > 250

"""Run a `.keras` file the way a user without cnndsl has it: in a child Python where
`import cnndsl` fails (a None in sys.modules), loaded in Keras's safe mode."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

LOAD_WITHOUT_CNNDSL = r"""
import sys
sys.modules["cnndsl"] = None
import json, keras, numpy as np
model = keras.saving.load_model(sys.argv[1], safe_mode=True, compile=False)
given = np.load(sys.argv[2])
xs = [given[f"x{i}"] for i in range(len(given.files))]
outs = model(xs[0] if len(xs) == 1 else xs, training=False)
outs = outs if isinstance(outs, (list, tuple)) else [outs]
np.savez(sys.argv[3], **{f"y{i}": np.asarray(y) for i, y in enumerate(outs)})
print(json.dumps({"params": model.count_params(),
                  "classes": sorted({type(layer).__module__.split(".")[0]
                                     for layer in model.layers})}))
"""


def run_without_cnndsl(model: Path, xs: list[np.ndarray]) -> tuple[list[np.ndarray], dict]:
    """The model's outputs on `xs` (one array per input), and what the child saw: the
    parameter count and the packages its layers' classes come from."""
    work = model.parent
    np.savez(work / "plain_x.npz", **{f"x{i}": x for i, x in enumerate(xs)})
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    result = subprocess.run([sys.executable, "-c", LOAD_WITHOUT_CNNDSL, str(model),
                             str(work / "plain_x.npz"), str(work / "plain_y.npz")], cwd=work,
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    got = np.load(work / "plain_y.npz")
    return [got[f"y{i}"] for i in range(len(got.files))], \
        json.loads(result.stdout.splitlines()[-1])

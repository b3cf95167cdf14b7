"""The 23 keras.applications CNNs through `cnndsl import`: counts, outputs, lines, time.

Run from the repository root with TensorFlow installed:
`python benchmarks/applications_table.py [MODEL ...]`.
Prints one table; asserts nothing (tests/test_applications.py does, on the same rows).

For each model of tests/zoo.py: Keras's parameter count at its default size and the
imported text's, whether trainable and non-trainable agree too, the worst relative
output error of `cnndsl run` (the NumPy interpreter) and of the text compiled back to
Keras against the Keras model on randomised weights (a batch of two at the default
size), the lines of the imported text and of the hand-written example, and the seconds
taken to build and randomise the model, to import it, and to run both and build the
compiled model. A model that does not import says why.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402
import zoo  # noqa: E402

HEADER = ("model", "Keras params", "cnndsl params", "equal", "run error", "compiled error",
          "lines", "example", "build s", "import s", "outputs s")


def measure(keras, row: zoo.Row) -> tuple:
    """One row of the table, and why the model does not import ("" if it does)."""
    from cnndsl import Network
    from cnndsl.backends.keras.builder import build_model
    from cnndsl.importers.keras import Unsupported

    start = time.perf_counter()
    model = zoo.randomised(row.build(keras), seed=3)
    built = time.perf_counter() - start
    theirs = zoo.counts(model)
    example = len((ROOT / "examples" / f"{row.example}.cnn").read_text().splitlines())
    try:
        start = time.perf_counter()
        imported = zoo.import_in_memory(model, row.example)
        took = time.perf_counter() - start
    except Unsupported as e:
        return (row.name, f"{sum(theirs):,}", "-", "-", "-", "-", "-", str(example),
                f"{built:.1f}", "-", "-", e.message)
    ours = zoo.split(imported.graph)
    start = time.perf_counter()
    x = zoo.batch(model)
    expected = np.asarray(model(x, training=False))
    run = zoo.relative_error(Network(imported.graph).run(x, weights=imported.weights),
                             expected)
    compiled = build_model(imported.graph, imported.weights)
    back = zoo.relative_error(np.asarray(compiled(x, training=False)), expected)
    outputs = time.perf_counter() - start
    keras.backend.clear_session()
    return (row.name, f"{sum(theirs):,}", f"{sum(ours):,}", "yes" if ours == theirs else "NO",
            f"{run:.1e}", f"{back:.1e}", str(len(imported.text.splitlines())), str(example),
            f"{built:.1f}", f"{took:.1f}", f"{outputs:.1f}", "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="default: all 23")
    args = parser.parse_args()
    try:
        import keras
    except ImportError:
        print("TensorFlow is not installed: pip install 'cnndsl[keras]'")
        return
    rows = [zoo.BY_NAME[name] for name in args.models] if args.models else zoo.ROWS
    print(f"keras {keras.__version__}; outputs at the default size, batch of 2\n")
    print("| " + " | ".join(HEADER) + " |")
    print("|" + "|".join("-" * (len(h) + 2) for h in HEADER) + "|")
    failures = []
    for row in rows:
        *cells, why = measure(keras, row)
        print("| " + " | ".join(cells) + " |", flush=True)
        if why:
            failures.append(f"{row.name}: {why}")
    if failures:
        print("\nnot imported:\n" + "\n".join(failures))


if __name__ == "__main__":
    main()

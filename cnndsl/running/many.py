"""`cnndsl run` for a network of several inputs or outputs: `.npz` in, `.npz` out.

    cnndsl run two.cnn --input xy.npz -o out.npz     # xy.npz: image=(N,32,32,3), meta=(N,4)

The input archive holds one array per input, keyed by the input's name (`image` for
`input 32x32x3 as image`; a lone input's layer name, `input`, is accepted too); the
output archive one per output, keyed by the name the spec gives it (`label` and `box` for
`output @label, @box`), or by its layer's name (`dense_3`) where it has none. Every
array of one run has the same batch size, or none of them has the batch axis (one
example). The archive is read whole (zip members cannot be read a batch at a time) and
the outputs are kept until all are computed, then written atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

import numpy as np

from ..errors import shown
from ..network import Network
from ..support import files
from ..support.files import ArchiveError, FileError
from ..support.signals import sigterm_interrupts
from .backends import forward
from .inputs import NUMERIC_KINDS, sniff
from .runner import Progress, channel_hint, check_options, check_outputs, use_weights, write_layers


def run_many(network: Network, source: Path, output: Path, *, weights: Path | None = None,
             seed: int = 0, batch_size: int = 32, dtype: str = "float32",
             layers: Path | None = None, progress: TextIO | None = None,
             spec: Path | None = None, backend: str = "numpy") -> str:
    """Run `network` on the arrays of `source` and write its outputs to `output`; returns
    a summary of what was written (`label (10, 10), box (10, 4)`)."""
    check_options(batch_size, seed)
    if output.suffix.lower() != ".npz":
        raise FileError(output, "a network of several inputs or outputs writes an .npz, "
                        "one array per output", f"e.g. -o {shown(output.with_suffix('.npz').name)}")
    check_outputs(output, layers, {"the input": source, "the weights file": weights,
                                   "the spec": spec})
    xs, single = read_inputs(network, source)
    use_weights(network, weights, seed)
    kind = np.dtype(dtype)
    interpreter = forward(network, backend, kind, keep=layers is not None)
    rows = 1 if single else len(xs[0])
    batches = [x[None] for x in xs] if single else xs
    bar = Progress(0 if single else rows, progress)
    outs: list[list[np.ndarray]] = [[] for _ in network.graph.outputs]
    kept: dict[str, list[np.ndarray]] = {}
    layer_names = [n.name for n in network.graph.output_nodes]
    with sigterm_interrupts():
        try:
            for start in range(0, rows, batch_size):
                part = [x[start:start + batch_size] for x in batches]
                if interpreter.keep:
                    values = interpreter.run_all(part)
                    for name, value in values.items():
                        kept.setdefault(name, []).append(value)
                    results = [values[name] for name in layer_names]
                else:
                    results = interpreter.run_many(part)
                for collected, value in zip(outs, results):
                    collected.append(np.array(value, dtype=kind))  # a copy: buffers are reused
                bar.update(min(start + batch_size, rows))
        finally:
            bar.close()
        arrays = {name: (np.concatenate(o)[0] if single else np.concatenate(o))
                  for name, o in zip(network.graph.output_names, outs)}
        try:
            files.write_npz(output, arrays)
        except OSError as e:
            raise FileError(output, f"cannot write the output: {shown(e.strerror or e)}",
                            "check the free space and permissions of its directory") from None
        if layers is not None:
            write_layers(layers, network, kept, single, kind)
    return ", ".join(f"{name} {tuple(a.shape)}" for name, a in arrays.items())


def read_inputs(network: Network, path: Path) -> tuple[list[np.ndarray], bool]:
    """One array per input, in the graph's order, and whether they are single examples.
    `FileError` for a missing or extra key, a shape that fits neither way, or batches of
    different sizes."""
    nodes = network.graph.input_nodes
    names = network.graph.input_names
    wanted = ", ".join(f"{name}=(N, {', '.join(map(str, n.shape))})"
                       for name, n in zip(names, nodes))
    hint = f"save one array per input: numpy.savez(path, {wanted})"
    if sniff(path) != "npz":
        raise FileError(path, f"the network has {len(nodes)} inputs, so its input is an "
                        ".npz archive with one array for each", hint)
    try:
        arrays = files.read_npz(path)
    except ArchiveError as e:
        raise FileError(path, str(e), hint) from None
    except OSError as e:
        raise FileError(path, f"cannot read the input: {shown(e.strerror or e)}", hint) from None
    # A lone input bound `as x` is `x`; its layer's name, `input`, was its key before.
    keys = [name if name in arrays or node.name not in arrays else node.name
            for name, node in zip(names, nodes)]
    missing = [name for name, key in zip(names, keys) if key not in arrays]
    extra = [k for k in arrays if k not in keys]
    if missing or extra:
        problem = (f"no array for input {', '.join(f'`{shown(m)}`' for m in missing)}"
                   if missing else
                   f"array {', '.join(f'`{shown(k)}`' for k in extra[:5])} is no input")
        raise FileError(path, problem, hint)
    xs, singles = [], set()
    for node, name, key in zip(nodes, names, keys):
        x = arrays[key]
        if x.dtype.kind not in NUMERIC_KINDS:
            raise FileError(path, f"array `{shown(key)}` holds dtype {x.dtype}, not "
                            "numbers", hint)
        if tuple(x.shape) == node.shape:
            singles.add(True)
        elif x.ndim == len(node.shape) + 1 and tuple(x.shape[1:]) == node.shape:
            singles.add(False)
        else:
            raise FileError(path, f"array `{shown(key)}` has shape {tuple(x.shape)}; "
                            f"input `{shown(name)}` takes (N, "
                            f"{', '.join(map(str, node.shape))}) or one example "
                            f"{node.shape}",
                            channel_hint(tuple(x.shape), node.shape, name) or hint)
        xs.append(x)
    batched = singles == {False}
    if len(singles) > 1 or (batched and len({len(x) for x in xs}) > 1):
        sizes = ", ".join(f"{k} {tuple(x.shape)}" for k, x in zip(keys, xs))
        raise FileError(path, f"the inputs' batch sizes differ: {sizes}",
                        "give every input the same number of examples")
    return xs, not batched

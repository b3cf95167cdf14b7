"""Weights read from PyTorch's files, for `cnndsl weights NET.pt2 -o W.npz` and for
`--weights` anywhere: a `torch.export` program (`.pt2`, whose `state_dict` it carries) or
a plain `state_dict` saved by `torch.save` (`.pt`, `.pth`), of the module
`cnndsl compile --emit torch` writes.

A `.pt2` that cnndsl wrote also carries its spec (the extra file `cnndsl.cnn`), so it
says which network it is; a `.pt` holds tensors alone. Nothing in either file is run:
`torch.load` reads with `weights_only=True` (tensors and containers, no pickled code),
and a program's graph is deserialised, never executed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ...errors import MissingExtra, shown
from ...graph.ir import Graph
from ...support.files import FileError
from ..weights import Weights, WeightsError
from .state import spec_weights

SPEC_FILE = "cnndsl.cnn"  # the spec, inside a .pt2 cnndsl writes
KEYS_HINT = ("a state_dict of the module `cnndsl compile NET.cnn --emit torch` writes, keyed "
             "by its attributes (conv_1.weight, batchnorm_1.running_mean, ...)")


def torch_weights(graph: Graph, path: Path) -> Weights:
    """cnndsl's weights (LAYER/VARIABLE) from a `.pt2` or `.pt` file for `graph`;
    `FileError` for a file torch cannot read or a state that does not fit."""
    state, _ = read_state(path)
    try:
        return spec_weights(graph, state)
    except WeightsError as e:
        raise FileError(path, str(e), KEYS_HINT) from None


def read_state(path: Path) -> tuple[dict[str, np.ndarray], str | None]:
    """(the state_dict as NumPy arrays, the spec the file carries or None)."""
    try:
        import torch
    except ImportError:
        raise FileError(path, "reading PyTorch's files needs PyTorch, which is not installed",
                        MissingExtra("", "torch").hint) from None
    carried = {SPEC_FILE: ""}
    try:
        if path.suffix.lower() == ".pt2":
            state = torch.export.load(str(path), extra_files=carried).state_dict
        else:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except OSError as e:
        raise FileError(path, f"cannot read it: {shown(e.strerror or e)}",
                        "check the path and its permissions") from None
    except Exception as e:  # noqa: BLE001 - torch's many errors for a file not its own
        kind = "torch.export program" if path.suffix.lower() == ".pt2" else \
            "state_dict saved by torch.save"
        raise FileError(path, f"not a {kind} that PyTorch can read safely "
                        f"({type(e).__name__})", KEYS_HINT) from None
    if not isinstance(state, Mapping) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise FileError(path, "the file holds no state_dict (a mapping of names to tensors)",
                        "save `module.state_dict()`, not the module: torch.save(module."
                        "state_dict(), 'net.pt')")
    arrays = {k: (v.detach().cpu().to(torch.float32) if v.is_floating_point()
                  else v.detach().cpu()).numpy() for k, v in state.items()}
    text = carried[SPEC_FILE]
    return arrays, (text.decode("utf-8") if isinstance(text, bytes) else text) or None

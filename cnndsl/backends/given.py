"""Weights a user gives: an `.npz` keyed LAYER/VARIABLE, a `.keras` model, a PyTorch
`.pt2` or `.pt` of the module `--emit torch` writes, or arrays from Python, each checked
to fit the network before any backend builds with them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..graph.ir import Graph
from ..support.files import FileError
from .weights import Weights, WeightsError, check_weights, load_npz

GivenWeights = Path | Mapping[str, np.ndarray] | None  # a file, or arrays from Python
TORCH_SUFFIXES = (".pt", ".pth", ".pt2")  # PyTorch's files, read by `torch.files`


def given_weights(graph: Graph, weights: Path | Mapping[str, np.ndarray]) -> Weights:
    """Weights from a file (`--weights`: `.npz` or `.keras`) or a mapping, checked to fit
    the network: a `FileError` lists every missing, extra or mis-shaped variable."""
    if isinstance(weights, Mapping):
        values = {key: np.asarray(value) for key, value in weights.items()}
        fit(graph, values, "weights")
        return values
    if weights.suffix.lower() in TORCH_SUFFIXES:
        from .torch.files import torch_weights  # a PyTorch state_dict, keyed as the module's

        return torch_weights(graph, weights)
    values = read_weights(weights)
    fit(graph, values, weights)
    return values


def read_weights(path: Path) -> Weights:
    """Weights from an `.npz` archive or a `.keras` model, by the file's ending."""
    if path.suffix.lower() == ".keras":
        from .keras.loading import keras_weights  # TensorFlow, only for a .keras model

        return keras_weights(path)
    try:
        return load_npz(path)
    except WeightsError as e:
        raise FileError(path, str(e).removeprefix(f"{path}: "),
                       "weights are an .npz keyed LAYER/VARIABLE, or a .keras model") from None


def fit(graph: Graph, weights: Weights, path: str | Path) -> None:
    """`FileError` listing every missing, extra or mis-shaped variable."""
    try:
        check_weights(graph, weights)
    except WeightsError as e:
        raise FileError(path, str(e), "keys are LAYER/VARIABLE with Keras's shapes, e.g. "
                       "dense_1/kernel (in, units); `cnndsl shapes` lists the layers") from None

"""The 23 keras.applications CNNs as one table, and how each is imported and compared.

Shared by tests/test_applications.py and benchmarks/applications_table.py, so the test
and the table printed for the issue are the same rows (pytest puts tests/ on the path,
the benchmark does it itself); tests/test_import.py takes the comparison helpers, and
tests and benchmarks alike the weights moved off their initial values (`moved`).
Every expected number comes from the Keras model: `count_params` over its trainable and
non-trainable weights, its layers' output shapes, `model.predict`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

TOLERANCE = 1e-5


@dataclass(frozen=True)
class Row:
    """One keras.applications model: its class, its default input size (the size of its
    ImageNet weights, at which everything is compared) and the hand-written example that
    reproduces it."""

    name: str
    size: int
    example: str

    def build(self, keras, seed: int = 0):
        """The model with weights=None, 1000 classes, at its default size. Keras's initial
        draws are seeded: unseeded, NASNetMobile's output differed from the NumPy
        interpreter's by 1.6e-5 on one draw in several (1e-6 on most), so a run would not
        repeat."""
        keras.utils.set_random_seed(seed)
        return getattr(keras.applications, self.name)(
            weights=None, input_shape=(self.size, self.size, 3))


# Outputs are compared at the default size, not the smallest Keras accepts (32, or 75 for
# the Inception family): building the model takes most of the time at either size, and the
# same model then serves every check.
ROWS = [
    Row("VGG16", 224, "vgg16"),
    Row("VGG19", 224, "vgg19"),
    Row("ResNet50", 224, "resnet50"),
    Row("ResNet101", 224, "resnet101"),
    Row("ResNet152", 224, "resnet152"),
    Row("ResNet50V2", 224, "resnet50_v2"),
    Row("ResNet101V2", 224, "resnet101_v2"),
    Row("ResNet152V2", 224, "resnet152_v2"),
    Row("InceptionV3", 299, "inception_v3"),
    Row("InceptionResNetV2", 299, "inception_resnet_v2"),
    Row("Xception", 299, "xception"),
    Row("MobileNet", 224, "mobilenet"),
    Row("MobileNetV2", 224, "mobilenet_v2"),
    Row("MobileNetV3Small", 224, "mobilenet_v3_small"),
    Row("MobileNetV3Large", 224, "mobilenet_v3_large"),
    Row("DenseNet121", 224, "densenet121"),
    Row("DenseNet169", 224, "densenet169"),
    Row("DenseNet201", 224, "densenet201"),
    Row("NASNetMobile", 224, "nasnet_mobile"),
    Row("EfficientNetB0", 224, "efficientnet_b0"),
    Row("EfficientNetB3", 300, "efficientnet_b3"),
    Row("EfficientNetV2B0", 224, "efficientnet_v2_b0"),
    Row("ConvNeXtTiny", 224, "convnext_tiny"),
]
BY_NAME = {row.name: row for row in ROWS}


def randomised(model, seed: int = 0):
    """The Keras model with its biases and batch-norm variables moved off their initial
    values (`moved`); kernels keep Keras's random draws."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        values = []
        for var in layer.weights:
            value = moved(var.path.split("/")[-1], tuple(var.shape), rng)
            values.append(np.asarray(var.numpy()) if value is None else value)
        if values:
            layer.set_weights([v.astype(np.float32) for v in values])
    return model


Spread = tuple[float, float]


def lively(weights: dict[str, np.ndarray], rng: np.random.Generator,
           gamma: Spread = (0.8, 1.2), variance: Spread = (0.8, 1.5)) -> dict[str, np.ndarray]:
    """`weights` keyed LAYER/VARIABLE (`init_weights`'s) with their biases and batch-norm
    variables moved off their initial values (`moved`), in place; returned."""
    for key, value in weights.items():
        new = moved(key.rsplit("/", 1)[-1], value.shape, rng, gamma, variance)
        if new is not None:
            weights[key] = new
    return weights


def moved(name: str, shape: tuple[int, ...], rng: np.random.Generator,
          gamma: Spread = (0.8, 1.2), variance: Spread = (0.8, 1.5)) -> np.ndarray | None:
    """A new float32 value for a variable that starts at a constant, drawn from `rng`
    (biases, beta, moving means and PReLU's slopes about 0; gamma and moving variances
    uniform in their spread), or None for one that does not (a kernel). Zeros and ones would hide a
    variable put in the wrong place, and in a deep network make the activations fade
    (EfficientNet-B0's last layer is 1e-19 at Keras's initial values), which a constant
    output would hide too. Shared by tests and benchmarks/bench_numpy.py."""
    if name in ("bias", "beta", "moving_mean"):
        value = rng.normal(0, 0.1, shape)
    elif name == "alpha":  # PReLU's slopes, 0 at first: negative ones too
        value = rng.normal(0, 0.5, shape)
    elif name == "gamma":
        value = rng.uniform(*gamma, shape)
    elif name == "moving_variance":
        value = rng.uniform(*variance, shape)
    else:
        return None
    return value.astype(np.float32)


def lively_weights(graph, seed: int = 0) -> dict[str, np.ndarray]:
    """cnndsl's initial weights for `graph`, every variable that starts at a constant
    (biases, betas, PReLU slopes, gammas, statistics) moved off it (`lively`)."""
    from cnndsl.backends.weights import init_weights

    return lively(init_weights(graph, seed), np.random.default_rng(seed), gamma=(0.5, 1.5))


def relative_error(ours: np.ndarray, theirs: np.ndarray) -> float:
    """The largest difference, relative to the largest magnitude Keras gives."""
    return float(np.max(np.abs(ours - theirs)) / max(1e-12, float(np.max(np.abs(theirs)))))


def counts(model) -> tuple[int, int]:
    """(trainable, non-trainable) parameters of a Keras model, as Keras counts them."""
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    return trainable, int(model.count_params()) - trainable


def split(graph) -> tuple[int, int]:
    """(trainable, non-trainable) parameters of a cnndsl graph, from its report."""
    from cnndsl.graph.analysis import analyse

    stats = analyse(graph)
    return stats.total("trainable"), stats.total("non_trainable")


def keras_layers(model) -> dict[str, Any]:
    """Keras's layers by name, nested models inlined, the inputs left out."""
    out: dict[str, Any] = {}
    for layer in model.layers:
        if hasattr(layer, "layers"):
            out.update(keras_layers(layer))
        elif type(layer).__name__ != "InputLayer":
            out[layer.name] = layer
    return out


@dataclass
class Imported:
    """A Keras model through `cnndsl import`'s own steps (the importer, the printer, the
    text read back), kept in memory: the text, its compiled graph, its weights by the
    text's names, and for each of the text's layers the Keras layer it came from."""

    text: str
    graph: Any
    weights: dict[str, np.ndarray]
    origin: dict[str, str]  # the text's layer name -> the Keras layer's name
    raw: Any  # what the importer made: the graph with Keras's names, and their weights


def import_in_memory(model, stem: str, auto_names: bool = False) -> Imported:
    """What `cnndsl import MODEL.keras [--auto-names]` does after loading the file
    (`import_model` less `load`): saving and loading a 60M-parameter model would only
    test Keras."""
    from cnndsl.commands.import_ import write_out
    from cnndsl.importers.keras import from_keras
    from cnndsl.language.frontend import compile_text
    from cnndsl.views.printing.check import match

    raw = from_keras(model)
    if auto_names:
        raw.kept = frozenset()
    result = write_out(raw, Path(f"{stem}.keras"), False, True, stem)
    graph = compile_text(result.text, stem)
    twin = match(raw.graph, graph)
    origin = {graph.nodes[twin[node.index]].name: raw.origins[node.name][0]
              for node in raw.graph.nodes}
    return Imported(result.text, graph, result.weights, origin, raw)


def batch(model, n: int = 2, seed: int = 7) -> np.ndarray:
    """A reproducible random batch of the model's input shape."""
    rng = np.random.default_rng(seed)
    return rng.normal(0, 2, (n, *model.input_shape[1:])).astype(np.float32)


# ---- a hand-written example given a Keras model's weights -----------------------------------

class NoPairing(AssertionError):
    """The example's weighted layers cannot be paired with the Keras model's one to one."""


def example_weights(example, raw) -> dict[str, np.ndarray]:
    """Weights for the example's graph, taken from a Keras model's layers as the importer
    read them (`raw`, from `from_keras`).

    The example's weighted layers are taken in the order written, and each is paired with
    the one layer of Keras's that has the same variables of the same shapes and reads
    from the partners of the layers it reads from (the nearest weighted layers, or the
    input, above it): equal shapes alone do not make a pairing (ResNet's shortcut and its
    block's last conv are both 1x1, 64 to 256). Where several layers still fit (two 1x1
    convs of an Inception block read the same input), what is computed from each down to
    the output decides. No such layer, or more than one, is a `NoPairing` naming the
    example's layer, never a guess."""
    theirs = [n.index for n in raw.graph.nodes if _variables(n)]
    ours = [n.index for n in example.nodes if _variables(n)]
    if len(ours) != len(theirs):
        raise NoPairing(f"{len(ours)} weighted layers in the example, {len(theirs)} in Keras")
    feeds_ours, feeds_theirs = _feeds(example), _feeds(raw.graph)
    below_ours, below_theirs = _below(example), _below(raw.graph)
    twin = dict(zip(example.inputs, raw.graph.inputs))
    free, weights = set(theirs), {}
    for a in ours:
        mine = example.nodes[a]
        above = {twin[i] for i in feeds_ours[a]}
        found = [b for b in theirs if b in free and feeds_theirs[b] == above
                 and _variables(raw.graph.nodes[b]) == _variables(mine)]
        if len(found) > 1:
            found = [b for b in found if below_theirs[b] == below_ours[a]]
        if len(found) != 1:
            names = ", ".join(f"`{raw.origins[raw.graph.nodes[b].name][0]}`" for b in found)
            raise NoPairing(f"`{mine.name}` {_variables(mine)} fits {len(found)} layers of "
                            f"Keras's{': ' + names if names else ''}")
        twin[a] = found[0]
        free.discard(found[0])
        other = raw.graph.nodes[found[0]]
        for var in _variables(mine):
            weights[f"{mine.name}/{var}"] = raw.weights[f"{other.name}/{var}"]
    return weights


def _variables(node) -> dict[str, tuple[int, ...]]:
    return {k: v.shape for k, v in node.layer.variables(node.in_shapes).items()}


def _feeds(graph) -> list[frozenset[int]]:
    """For each node, the nearest weighted layers or inputs above it."""
    out: list[frozenset[int]] = []
    for node in graph.nodes:  # in topological order: every input's entry is made
        above: set[int] = set()
        for i in node.inputs:
            stop = graph.nodes[i].kind == "input" or _variables(graph.nodes[i])
            above |= {i} if stop else out[i]
        out.append(frozenset(above))
    return out


# Merges whose result does not depend on the order of their inputs.
COMMUTATIVE = {"add", "mul", "avg", "max"}


def _below(graph) -> list[int]:
    """For each node, a hash of what is computed from it down to the outputs: each
    reader's kind, variables and own hash, and where it is read in a concatenation."""
    readers: list[list[tuple[int, int]]] = [[] for _ in graph.nodes]
    for node in graph.nodes:
        for place, i in enumerate(node.inputs):
            readers[i].append((node.index, 0 if node.kind in COMMUTATIVE else place))
    out = [0] * len(graph.nodes)
    for node in reversed(graph.nodes):
        mine = (node.kind, tuple(_variables(node).items()))
        out[node.index] = hash((mine, tuple(sorted((out[r], place)
                                                   for r, place in readers[node.index]))))
    return out

"""The module `cnndsl compile NET.cnn --emit torch` writes, taken by PyTorch's own tools:
`torch.compile` and `torch.export` run it, `torch.onnx.export` writes it to an ONNX file
that `cnndsl import` reads back as the spec's text, and a `torch.optim` loop trains it.

The emitted source is used as a user gets it: written to a file and imported as a module
(`build_NAME()`), the weights loaded as the `state_dict` that
`backends.torch.module.build_module` builds (the same keys). The references are
independent of the code under test: the NumPy interpreter on the spec and the same
weights (the spec's meaning), the spec's own text as the printer writes it, and the loss
of the training loop itself on scikit-learn's 8x8 digits.

`torch.export` (and `torch.compile`) in a process where TensorFlow is loaded crashed the
process here (torch 2.14, TensorFlow 2.21), and a pytest-xdist worker may have it loaded
by another test module: so whatever goes through torch.export (`torch.export`,
`torch.compile`, the dynamo ONNX exporter) runs in a fresh Python, as this module imports
neither TensorFlow nor Keras; the TorchScript ONNX exporter and the training run here.

The default run takes about a minute on 2 cores (inductor's C++ compiler adds 15 to 20 s
where its cache is cold); CNNDSL_HYPOTHESIS_PROFILE=thorough also compiles ResNet-50
with inductor and exports every example both ways. Needs the `torch` extra (the ONNX
tests also onnx, the dynamo exporter onnxscript, the training test scikit-learn):
skipped without them.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import warnings
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from onnx_check import relative_error, small
from zoo import lively_weights

from cnndsl import compile_text
from cnndsl.backends.numpy import Interpreter
from cnndsl.graph.ir import Graph, Node
from cnndsl.layers.conv import Conv, Deconv, DWConv, Sliding
from cnndsl.layers.core import Flatten
from cnndsl.layers.padding import EXPLICIT, explicit_pads
from cnndsl.layers.pooling import Pool
from cnndsl.support.files import FileError
from cnndsl.views.printing.printer import to_text

torch = pytest.importorskip("torch", reason="needs the torch extra: pip install -e '.[torch]'")
from cnndsl.backends.torch.module import build_module  # noqa: E402
from cnndsl.backends.torch.source import torch_source  # noqa: E402

THOROUGH = os.environ.get("CNNDSL_HYPOTHESIS_PROFILE") == "thorough"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
RTOL = 1e-4  # max|ours - numpy| <= RTOL * max(1, max|numpy|), as tests/test_torch_backend.py


def first(x: np.ndarray) -> np.ndarray:
    """A channels-last batch as PyTorch takes it, channels first."""
    return np.ascontiguousarray(np.moveaxis(x, -1, 1)) if x.ndim > 2 else x


def last(x: np.ndarray) -> np.ndarray:
    return np.moveaxis(x, 1, -1) if x.ndim > 2 else x


def spec_graph(stem: str):
    """The example at the small size the ONNX tests run it at."""
    return compile_text(small((EXAMPLES / f"{stem}.cnn").read_text(encoding="utf-8")), stem)


def write_source(graph, stem: str, folder: Path) -> Path:
    """`cnndsl compile STEM.cnn --emit torch -o STEM.py`, as the command writes it."""
    path = folder / f"{stem}.py"
    path.write_text(torch_source(graph, f"{stem}.cnn"), encoding="utf-8")
    return path


def load_emitted(path: Path, stem: str):
    """The emitted file imported as a module: its `build_STEM`."""
    spec = importlib.util.spec_from_file_location(f"emitted_{stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, f"build_{stem}")


def emitted_module(graph, weights, stem: str, folder: Path):
    """The emitted module in eval mode, holding `weights` (cnndsl's, keyed LAYER/VAR)."""
    module = load_emitted(write_source(graph, stem, folder), stem)()
    module.load_state_dict(build_module(graph, weights).state_dict())
    return module.eval()


def batch(graph, seed: int, n: int = 2) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(0, 1, (n, *node.shape)).astype(np.float32) for node in graph.input_nodes]


def assert_close(ours: np.ndarray, expected: np.ndarray, what: str, rtol: float = RTOL):
    assert ours.shape == expected.shape, what
    err = relative_error(ours, expected)
    assert err <= rtol, f"{what}: relative error {err:.3g}"


# -- 1. torch.compile and torch.export ------------------------------------------------------

NO_COMPILER = 3  # the script's exit status when inductor finds no C++ compiler
# The scripts' common part: the emitted file `source` imported, `builder` called, the
# `state` file loaded into it, eval mode.
LOAD_MODULE = """
spec = importlib.util.spec_from_file_location("net", source)
net = importlib.util.module_from_spec(spec)
spec.loader.exec_module(net)
module = getattr(net, builder)()
module.load_state_dict(torch.load(state))
module.eval()
"""
COMPILE = """
import importlib.util, sys
import numpy as np, torch
source, builder, state, inputs, out, backend = sys.argv[1:7]
if backend == "inductor":  # ask inductor which compiler it would use, not the PATH
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler
        get_cpp_compiler()
    except Exception as e:
        print(f"inductor finds no C++ compiler: {type(e).__name__} {e}")
        sys.exit(NO_COMPILER)
LOAD_MODULE
x = torch.from_numpy(np.load(inputs))
with torch.no_grad():
    eager = module(x)
    exported = torch.export.export(module, (x,)).module()(x)
    compiled = torch.compile(module, backend=backend, fullgraph=True)(x)
np.savez(out, eager=eager.numpy(), exported=exported.numpy(), compiled=compiled.numpy())
loaded = {m.split(".")[0] for m in sys.modules} & {"cnndsl", "tensorflow", "keras"}
assert not loaded, f"imported {sorted(loaded)}"
""".replace("NO_COMPILER", str(NO_COMPILER)).replace("LOAD_MODULE\n", LOAD_MODULE.lstrip())
# Inductor compiles C++ for each kernel: about 20 s for LeNet-5 and 45 s for ResNet-50 on
# 2 cores with a cold cache (6 s warm). ResNet-50 gets it in the thorough run; by default
# `aot_eager`: the same Dynamo capture of the whole forward and AOTAutograd's traced
# graph that inductor compiles, run by PyTorch's own kernels.
COMPILED = {"lenet5": "inductor", "resnet50": "inductor" if THOROUGH else "aot_eager"}


@pytest.mark.parametrize("stem", sorted(COMPILED))
def test_compile_and_export_run_the_emitted_module_as_numpy_does(stem, tmp_path):
    """`torch.export.export` and `torch.compile` (fullgraph: no graph break anywhere in
    the emitted forward; inductor on LeNet-5, on ResNet-50 in the thorough run and
    `aot_eager` by default) of the emitted module on the spec's weights: the exported
    program, the compiled module and the eager one all give what the NumPy interpreter
    gives on the same weights and batch; the other two within float rounding of eager."""
    graph = spec_graph(stem)
    weights = lively_weights(graph, 0)
    source = write_source(graph, stem, tmp_path)
    torch.save(build_module(graph, weights).state_dict(), tmp_path / "state.pt")
    [x] = batch(graph, 1)
    np.save(tmp_path / "x.npy", first(x))
    done = subprocess.run([sys.executable, "-c", COMPILE, str(source), f"build_{stem}",
                           str(tmp_path / "state.pt"), str(tmp_path / "x.npy"),
                           str(tmp_path / "y.npz"), COMPILED[stem]],
                          capture_output=True, text=True)
    if done.returncode == NO_COMPILER:
        pytest.skip(done.stdout.strip())
    assert done.returncode == 0, done.stderr[-3000:]
    runs = {k: last(v) for k, v in np.load(tmp_path / "y.npz").items()}
    expected = Interpreter(graph, weights).run(x)
    for how, y in runs.items():
        assert_close(y, expected, f"{how} against NumPy")
    for how in ("exported", "compiled"):
        assert_close(runs[how], runs["eager"], f"{how} against eager", rtol=1e-5)


# -- 2. torch.onnx.export, then cnndsl import -----------------------------------------------

def as_onnx_says(graph: Graph) -> Graph:
    """The spec as an ONNX file of its emitted module can say it, every step computing the
    same: padding as the pads it adds (ONNX's Conv and pools hold pads, not Keras's
    `same`; a `zeropad` before a convolution is one Pad then the Conv, as the emitted
    `same` is), no `dropout` (an eval-mode export computes none) nor `linear` step, an
    activation step after a convolution or dense layer fused into it (PyTorch code
    calls `F.relu` on the module's output either way), a convolution with a group per
    channel a `dwconv`, a reshape to a vector a `flatten` (the same channels-last order)."""
    readers = Counter(i for node in graph.nodes for i in node.inputs)
    outputs = set(graph.outputs)
    index: dict[int, int] = {}
    nodes: list[Node] = []
    padded: dict[int, tuple] = {}  # a convolution's index -> (its zeropad's input, pads)
    for node in graph.nodes:
        layer, ins = node.layer, list(node.inputs)
        reader = _sole_reader(graph, node, readers, outputs)
        if node.kind == "dropout" or node.kind == "activation" and \
                layer.function.name == "linear":
            index[node.index] = index[ins[0]]
            continue
        if node.kind == "zeropad" and isinstance(getattr(reader, "layer", None), Sliding) \
                and not isinstance(reader.layer, Deconv):
            padded[reader.index] = (ins[0], layer.pads)
            continue
        if node.kind == "activation" and _fusable(graph, graph.nodes[ins[0]], readers, outputs):
            fused = nodes[index[ins[0]]]
            merged = replace(fused.layer, activation=layer.function)
            nodes[fused.index] = replace(fused, layer=merged, text=merged.describe())
            index[node.index] = fused.index
            continue
        in_shapes = node.in_shapes
        if node.index in padded:
            ins[0], extra = padded[node.index]
            in_shapes = (graph.nodes[ins[0]].shape,)
            layer = _explicit(layer, node.in_shapes[0][:-1], extra)
        elif isinstance(layer, Sliding | Pool) and not isinstance(layer, Deconv):
            layer = _explicit(layer, node.in_shapes[0][:-1], None)
        if isinstance(layer, Conv) and layer.groups == node.in_shapes[0][-1] > 1:
            layer = _depthwise(layer)
        if node.kind == "reshape" and len(node.shape) == 1:
            layer = Flatten()
        inputs = tuple(index[i] for i in ins)
        index[node.index] = len(nodes)
        nodes.append(Node(len(nodes), node.name, layer, inputs, in_shapes, node.shape,
                          node.span, layer.describe()))
    return Graph(graph.name, tuple(nodes), (), tuple(index[i] for i in graph.inputs),
                 tuple(index[o] for o in graph.outputs))


def _sole_reader(graph: Graph, node: Node, readers: Counter, outputs: set[int]):
    if readers[node.index] != 1 or node.index in outputs:
        return None
    return next(n for n in graph.nodes if node.index in n.inputs)


def _fusable(graph: Graph, node: Node, readers: Counter, outputs: set[int]) -> bool:
    """A convolution or dense layer with no activation, read by one step alone."""
    return node.kind in ("conv", "dwconv", "sepconv", "deconv", "dense") and \
        node.layer.activation is None and readers[node.index] == 1 and node.index not in outputs


def _depthwise(conv: Conv) -> DWConv:
    """A convolution with a group per channel as the `dwconv` ONNX cannot tell it from."""
    same = {k: getattr(conv, k) for k in ("kernel", "stride", "padding", "activation", "bias",
                                          "dilation", "pads")}
    return DWConv(**same, multiplier=conv.filters // conv.groups)


def _explicit(layer, sizes, extra):
    """`layer` with the pads it adds to an input of spatial `sizes` written out, and a
    zeropad's before it (`extra`) added; `valid` where it adds none."""
    pads = explicit_pads(layer, sizes)
    if extra is not None:
        pads = tuple((b + eb, a + ea) for (b, a), (eb, ea) in zip(pads, extra))
    if not any(b or a for b, a in pads):
        return replace(layer, padding="valid", pads=())
    return replace(layer, padding=EXPLICIT, pads=pads)


def body(text: str) -> str:
    """The text without its comment lines (the header, the list of renamed layers)."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("#")).strip()


def expected_text(graph: Graph) -> str:
    """What `cnndsl import` must write: the spec as ONNX says it, printed with automatic
    names (the emitted module's layers are the spec's, so no `name=` comes back), its
    inputs named as the spec names them."""
    spelled = as_onnx_says(graph)
    named = frozenset(i for i in spelled.inputs if spelled.nodes[i].name != "input")
    return body(to_text(spelled, kept=named))


# Examples whose steps a smaller or shallower sibling has, each a few seconds to export
# and import: the thorough run takes them, the default run their sibling.
SIBLINGS = {"resnet101": "resnet50", "resnet152": "resnet50", "resnet50_v2": "resnet50",
            "resnet101_v2": "resnet50", "resnet152_v2": "resnet50",
            "densenet121": "inception_block", "densenet169": "inception_block",
            "densenet201": "inception_block", "vgg16": "c3d_small", "vgg19": "c3d_small",
            "efficientnet_b3": "efficientnet_b0", "mobilenet_v2": "mobilenet",
            "mobilenet_v3_large": "mobilenet_v3_small"}
# What does not come back as the spec's text, and why: the backend's way of writing a
# step, not a limit of ONNX. The function still must come back.
OTHER_TEXT = {
    **{name: "a batch norm with `center` alone is BatchNorm(affine=False) and the layer's "
             "own `beta` added, which the import reads as `bn scale=false center=false` and "
             "a per-channel shift" for name in ("inception_v3", "inception_resnet_v2")},
    "nasnet_mobile": "the exporter merges equal subexpressions (the `relu` two branches "
                     "each start with is computed once), so the graph comes back another "
                     "shape, computing the same",
}
NOT_READ: dict[str, str] = {}  # the import refuses the file, at the node it cannot read
STEMS = sorted(p.stem for p in EXAMPLES.glob("*.cnn"))


def torchscript_onnx(module, xs: list[np.ndarray], names: list[str], path: Path) -> None:
    """The TorchScript-based exporter at opset 17, the batch norms kept as they are
    (TrainingMode.PRESERVE on a module in eval mode: EVAL would fold them into the
    convolution before, which the spec's text cannot say) and the inputs named as the
    spec names them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, tuple(torch.from_numpy(first(x)) for x in xs), str(path),
                          dynamo=False, opset_version=17, input_names=names,
                          training=torch.onnx.TrainingMode.PRESERVE)


def check_import(graph, weights, xs, path: Path, stem: str, text: bool = True) -> None:
    """`cnndsl import` of the file: the spec's text (as ONNX says it), and the imported
    text on the imported weights computes what the spec does on its own."""
    from cnndsl.commands.import_ import import_model

    result = import_model(path, stem=stem)
    if text:
        assert "name=" not in body(result.text), result.text
        assert body(result.text) == expected_text(graph), result.text
    imported = compile_text(result.text, stem)
    got = Interpreter(imported, result.weights).run_many(xs)
    for ours, theirs, node in zip(got, Interpreter(graph, weights).run_many(xs),
                                  graph.output_nodes):
        assert_close(ours, theirs, f"output {node.name}")


def skip_by_default(stem: str) -> None:
    if THOROUGH:
        return
    if stem in SIBLINGS:
        pytest.skip(f"{SIBLINGS[stem]} has its steps (the thorough profile runs it)")
    if stem in NOT_READ:
        pytest.skip(f"{NOT_READ[stem]} (the thorough profile runs it, as an expected failure)")


@pytest.mark.parametrize("stem", [
    pytest.param(s, marks=pytest.mark.xfail(reason=NOT_READ[s], raises=FileError))
    if s in NOT_READ else s for s in STEMS])
def test_an_onnx_export_of_the_emitted_module_imports_as_the_spec(stem, tmp_path):
    """`torch.onnx.export(dynamo=False)` of the emitted module on lively weights: `cnndsl
    import` writes the spec's own text (padding, dropout, fused activations spelled as
    ONNX can say them: `as_onnx_says`), and NumPy on the imported text and weights gives
    NumPy's output on the spec and its weights. Every example the import reads in the
    thorough run; by default one of each family of steps."""
    pytest.importorskip("onnx", reason="needs the onnx extra: pip install -e '.[onnx]'")
    skip_by_default(stem)
    graph = spec_graph(stem)
    weights = lively_weights(graph, 0)
    module = emitted_module(graph, weights, stem, tmp_path)
    xs = batch(graph, 2)
    path = tmp_path / f"{stem}.onnx"
    torchscript_onnx(module, xs, [n.name for n in graph.input_nodes], path)
    check_import(graph, weights, xs, path, stem, text=stem not in OTHER_TEXT)


DYNAMO = """
import importlib.util, sys, warnings
import numpy as np, torch
source, builder, state, inputs, names, out = sys.argv[1:7]
LOAD_MODULE
xs = tuple(torch.from_numpy(x) for x in np.load(inputs).values())
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    torch.onnx.export(module, xs, out, dynamo=True, optimize=False, external_data=False,
                      input_names=names.split(","), verbose=False)
""".replace("LOAD_MODULE\n", LOAD_MODULE.lstrip())
# By default one of each way the dynamo exporter writes differently from the TorchScript
# one: its names, the zero bias of `bias=False`, a hard_swish, a channel shuffle, 1-D.
DYNAMO_STEMS = ("lenet5", "mobilenet_v3_small", "shufflenet_v2", "ecg1d")


@pytest.mark.parametrize("stem", STEMS if THOROUGH else DYNAMO_STEMS)
def test_the_dynamo_exporter_writes_what_imports_as_the_spec(stem, tmp_path):
    """`torch.onnx.export(dynamo=True)` of the emitted module, in a fresh Python
    (torch.export inside), without the exporter's optimiser (which folds each batch norm
    into the convolution before it): the same text and function as the TorchScript
    exporter's file. Four examples by default, every one the import reads in the
    thorough run."""
    pytest.importorskip("onnx", reason="needs the onnx extra: pip install -e '.[onnx]'")
    pytest.importorskip("onnxscript", reason="the dynamo exporter needs onnxscript")
    skip_by_default(stem)
    if stem in NOT_READ:
        pytest.skip(NOT_READ[stem])
    graph = spec_graph(stem)
    weights = lively_weights(graph, 0)
    xs = batch(graph, 3)
    torch.save(build_module(graph, weights).state_dict(), tmp_path / "state.pt")
    np.savez(tmp_path / "x.npz", *[first(x) for x in xs])
    path = tmp_path / f"{stem}.onnx"
    done = subprocess.run([sys.executable, "-c", DYNAMO, str(write_source(graph, stem, tmp_path)),
                           f"build_{stem}", str(tmp_path / "state.pt"), str(tmp_path / "x.npz"),
                           ",".join(n.name for n in graph.input_nodes), str(path)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    check_import(graph, weights, xs, path, stem, text=stem not in OTHER_TEXT)


# -- 3. training ----------------------------------------------------------------------------

# The training, in a fresh process (autograd where TensorFlow is loaded, as in a pytest
# worker that ran the Keras tests, crashed it: torch 2.14, TensorFlow 2.21): the emitted
# module with the given state, its output on the first 64 digits before training, then
# 60 Adam steps; the losses, whether every parameter moved, and held-out accuracy.
TRAIN = """
import importlib.util, json, sys
import numpy as np, torch
source, state, images, labels, before_out = sys.argv[1:6]
spec = importlib.util.spec_from_file_location("digits", source)
net = importlib.util.module_from_spec(spec)
spec.loader.exec_module(net)
module = net.build_digits()
module.load_state_dict(torch.load(state))
module.eval()
x, labels = torch.from_numpy(np.load(images)), torch.from_numpy(np.load(labels))
with torch.no_grad():
    np.save(before_out, module(x[:64]).numpy())
torch.manual_seed(0)
before = {k: v.clone() for k, v in module.state_dict().items()}
train, held = torch.arange(0, 1500), torch.arange(1500, len(x))
optimizer = torch.optim.Adam(module.parameters(), lr=3e-3)
module.train()
losses = []
for _ in range(60):
    chosen = train[torch.randperm(len(train))[:64]]
    probabilities = module(x[chosen])
    loss = torch.nn.functional.nll_loss(torch.log(probabilities.clamp_min(1e-12)),
                                        labels[chosen])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
module.eval()
after = module.state_dict()
moved = all(not torch.equal(before[k], after[k]) for k, _ in module.named_parameters())
with torch.no_grad():
    accuracy = (module(x[held]).argmax(1) == labels[held]).float().mean().item()
print(json.dumps({"losses": losses, "moved": moved, "accuracy": accuracy}))
"""


def test_the_emitted_digits_network_trains_with_torch_optim(tmp_path):
    """examples/digits.cnn's module, trained as a PyTorch user would (in a process of its
    own): Adam on the negative log-likelihood of its output (the spec ends in softmax: the
    module gives probabilities), mini-batches of scikit-learn's 8x8 digits (N, 1, 8, 8),
    fixed seeds. Before training it computes the spec (NumPy on the same weights); every
    parameter moves, the loss of the last steps is well below the first's, and it
    classifies held-out digits far above chance."""
    import json

    datasets = pytest.importorskip("sklearn.datasets", reason="needs scikit-learn")
    from cnndsl.backends.weights import init_weights

    digits = datasets.load_digits()
    images = digits.images.astype(np.float32)[:, None]  # (N, 1, 8, 8), values 0 to 16
    graph = compile_text((EXAMPLES / "digits.cnn").read_text(encoding="utf-8"), "digits")
    weights = init_weights(graph, 0)
    source = write_source(graph, "digits", tmp_path)
    torch.save(build_module(graph, weights).state_dict(), tmp_path / "start.pt")
    np.save(tmp_path / "x.npy", images)
    np.save(tmp_path / "y.npy", digits.target.astype(np.int64))
    done = subprocess.run([sys.executable, "-c", TRAIN, str(source), str(tmp_path / "start.pt"),
                           str(tmp_path / "x.npy"), str(tmp_path / "y.npy"),
                           str(tmp_path / "before.npy")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert_close(np.load(tmp_path / "before.npy"),
                 Interpreter(graph, weights).run(last(images[:64])), "before training")
    trained = json.loads(done.stdout.splitlines()[-1])
    losses = trained["losses"]
    assert trained["moved"]
    assert np.isfinite(losses).all()
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:5]), losses
    assert trained["accuracy"] > 0.6, trained["accuracy"]

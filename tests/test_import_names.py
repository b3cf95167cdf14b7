"""The names `cnndsl import` gives layers: the model's own where they say something (a
PyTorch module's path, a Keras layer's name such as `conv5_block3_add`), valid and unique,
and a comment that lists every layer the text names otherwise, with the model's name, so
that weights and activations can be matched back to the model.

The ONNX models are built by hand with the node names PyTorch's two exporters write (the
TorchScript exporter's `/layer1/layer1.0/conv1/Conv`; the dynamo exporter's `node_Conv_3`
with the module path in the node's `namespace` metadata), and each import is run against
onnxruntime, so a name can never change what is computed.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from onnx_check import ORT_RTOL, session
from outcomes import cli

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from cnndsl import compile_text  # noqa: E402
from cnndsl.backends.numpy import Interpreter  # noqa: E402
from cnndsl.backends.onnx import build_model  # noqa: E402
from cnndsl.backends.weights import init_weights  # noqa: E402
from cnndsl.commands.import_ import import_model  # noqa: E402
from cnndsl.support.escaping import NAME_LIMIT  # noqa: E402
from cnndsl.views.printing.printer import to_text  # noqa: E402


def random(shape, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 0.5, shape).astype(np.float32)


def residual_block(names: dict[str, str], metadata: dict[str, str] | None = None,
                   input_name: str = "x") -> onnx.ModelProto:
    """conv -> relu -> conv, added to the input, relu: one ResNet basic block (4 channels,
    6x6), the nodes named by `names` (role -> node name), each with its `namespace`
    metadata where `metadata` gives one."""
    w = {f"w{k}": random((4, 4, 3, 3), k) for k in (1, 2)}
    w |= {f"b{k}": random((4,), 10 + k) for k in (1, 2)}
    nodes = [
        helper.make_node("Conv", [input_name, "w1", "b1"], ["c1"], name=names["conv1"],
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name=names["relu"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], name=names["conv2"],
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c2", input_name], ["a"], name=names["add"]),
        helper.make_node("Relu", ["a"], ["y"], name=names["out"]),
    ]
    for n in nodes:
        role = next(r for r, v in names.items() if v == n.name)
        if metadata and role in metadata:
            helper.set_metadata_props(n, {"namespace": metadata[role]})
    graph = helper.make_graph(
        nodes, "block", [helper.make_tensor_value_info(input_name, TensorProto.FLOAT,
                                                       [2, 4, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(v, k) for k, v in w.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def imported(model: onnx.ModelProto, folder: Path, **options):
    path = folder / "m.onnx"
    onnx.save(model, path)
    result = import_model(path, **options)
    x = random((2, 4, 6, 6), 7)
    graph = compile_text(result.text, "m")
    ours = Interpreter(graph, result.weights).run_many([np.moveaxis(x, 1, -1)])[0]
    theirs = session(model).run(["y"], {model.graph.input[0].name: x})[0]
    np.testing.assert_allclose(np.moveaxis(ours, -1, 1), theirs, rtol=ORT_RTOL, atol=ORT_RTOL)
    return result, graph


def listed(text: str) -> dict[str, str]:
    """The comment's pairs: this text's name -> the model's."""
    _, _, comment = text.partition("# Layers named otherwise in the model")
    return dict(re.findall(r"^#   (\S+) +(.+)$", comment, flags=re.M))


TORCHSCRIPT = {"conv1": "/layer1/layer1.0/conv1/Conv", "relu": "/layer1/layer1.0/relu/Relu",
               "conv2": "/layer1/layer1.0/conv2/Conv", "add": "/layer1/layer1.0/Add",
               "out": "/layer1/layer1.0/relu_1/Relu"}


def test_torchscript_scopes_become_module_paths(tmp_path):
    """`/layer1/layer1.0/conv1/Conv` is module `layer1.0.conv1` (its state_dict keys
    `layer1.0.conv1.weight`): the layer `layer1_0_conv1`, its weights keyed so; the Add
    in the block's own scope keeps its operator, `layer1_0_add`."""
    result, graph = imported(residual_block(TORCHSCRIPT), tmp_path)
    names = [n.name for n in graph.nodes]
    assert names == ["input", "layer1_0_conv1", "layer1_0_relu", "layer1_0_conv2",
                     "layer1_0_add", "layer1_0_relu_1"]
    assert "conv 3 x4 pad=1 name=layer1_0_conv1" in result.text
    assert {"layer1_0_conv1/kernel", "layer1_0_conv2/bias"} <= set(result.weights)
    # Each listed with the module path PyTorch knows it by, to match back.
    assert listed(result.text)["layer1_0_conv1"] == "layer1.0.conv1"
    assert listed(result.text)["layer1_0_add"] == "layer1.0.add"


def test_dynamo_namespace_metadata_names_the_module(tmp_path):
    """The dynamo exporter's `node_Conv_12` says nothing; its `namespace` metadata holds
    the module path (`layer1.0.conv1: torch.nn.modules.conv.Conv2d`)."""
    names = {"conv1": "node_Conv_12", "relu": "node_relu_3", "conv2": "node_Conv_13",
             "add": "node_add", "out": "node_relu_4"}
    block = ": torchvision.models.resnet.ResNet/layer1: torch.nn.modules.container." \
            "Sequential/layer1.0: torchvision.models.resnet.BasicBlock"
    meta = {"conv1": f"{block}/layer1.0.conv1: torch.nn.modules.conv.Conv2d/conv2d: "
                     "aten.conv2d.default",
            "conv2": f"{block}/layer1.0.conv2: torch.nn.modules.conv.Conv2d/conv2d_1: "
                     "aten.conv2d.default",
            "add": f"{block}/add: aten.add.Tensor"}
    result, graph = imported(residual_block(names, meta), tmp_path)
    got = {n.name for n in graph.nodes}
    assert {"layer1_0_conv1", "layer1_0_conv2", "layer1_0_add"} <= got
    # Without metadata, a dynamo name says no more than the kind: an automatic name.
    assert "relu_1" in got and "name=relu" not in result.text
    assert listed(result.text)["relu_1"] == "node_relu_3"


def test_invalid_and_repeated_names_are_made_valid_and_unique(tmp_path):
    """A name the grammar cannot read (`block 1/conv!`) and two that read as one (`a.b`,
    `a b`) become valid, unique names; `add` (a word of the language, and no more than
    the kind) an automatic one; the comment gives the model's name for each."""
    names = {"conv1": "block 1/conv!", "relu": "a.b", "conv2": "a b", "add": "add",
             "out": "last relu"}
    result, graph = imported(residual_block(names), tmp_path)
    assert [n.name for n in graph.nodes[1:]] == ["block_1_conv_", "a_b", "a_b_2", "add_1",
                                                "last_relu"]
    assert listed(result.text) == {"input": "x", "block_1_conv_": "block 1/conv!", "a_b": "a.b",
                                   "a_b_2": "a b", "add_1": "add", "last_relu": "last relu"}


def test_the_input_keeps_its_name_unless_a_framework_gave_it(tmp_path):
    result, graph = imported(residual_block(TORCHSCRIPT, input_name="image"), tmp_path)
    assert graph.nodes[0].name == "image" and "input 6x6x4 name=image" in result.text
    result, graph = imported(residual_block(TORCHSCRIPT, input_name="x"), tmp_path)
    assert graph.nodes[0].name == "input" and listed(result.text)["input"] == "x"


def test_auto_names_folds_and_lists_the_model_names(tmp_path):
    """`--auto-names`: KIND_N names throughout (nothing to keep a block from folding),
    each model's name in the comment."""
    result, graph = imported(residual_block(TORCHSCRIPT), tmp_path, auto_names=True)
    assert [n.name for n in graph.nodes[1:]] == ["conv_1", "relu_1", "conv_2", "add_1",
                                                "relu_2"]
    assert "name=" not in result.text.split("# Layers named")[0]
    assert listed(result.text)["conv_1"] == "layer1.0.conv1"


def test_names_given_in_cnndsl_text_come_back_through_its_onnx_export(tmp_path):
    """`name=` written in the source survives `compile -o NET.onnx` and `import`, and
    the automatic names around it come back without one."""
    text = ("input 8x8x3 -> conv 3 x4 same name=stem -> relu -> "
            "residual { conv 3 x4 same -> relu name=inner } -> gap -> dense 5 name=logits\n")
    graph = compile_text(text, "net")
    path = tmp_path / "net.onnx"
    onnx.save(build_model(graph, init_weights(graph, 0)), path)
    result = import_model(path, stem="net")
    body = result.text.split("\n\n", 1)[1]
    assert body == to_text(graph)
    assert "name=stem" in body and "name=inner" in body and "name=logits" in body
    reparsed = compile_text(result.text, "net")
    assert [n.name for n in reparsed.nodes] == [n.name for n in graph.nodes]
    assert "# Layers named otherwise" not in result.text


def test_keras_names_are_kept_and_framework_names_give_way(keras, tmp_path):
    """`conv5_block3_add` stays `conv5_block3_add` (it was `add_16` before); Keras's own
    `conv2d_7` gives way to `conv_1`, listed in the comment."""
    L = keras.layers
    x = keras.Input((6, 6, 4), name="image")
    y = L.Conv2D(4, 3, padding="same", name="conv5_block3_1_conv")(x)
    y = L.Conv2D(4, 3, padding="same", name="conv2d_7")(y)
    y = L.Add(name="conv5_block3_add")([x, y])
    model = keras.Model(x, L.Activation("relu", name="activation_3")(y))
    model.save(tmp_path / "m.keras")
    rc, _, err = cli("import", tmp_path / "m.keras", "-o", tmp_path / "m.cnn",
                     "--weights-out", tmp_path / "m.npz")
    assert rc == 0, err
    text = (tmp_path / "m.cnn").read_text(encoding="utf-8")
    graph = compile_text(text, "m")
    assert [n.name for n in graph.nodes] == ["image", "conv5_block3_1_conv", "conv_1",
                                             "conv5_block3_add", "relu_1"]
    assert listed(text) == {"conv_1": "conv2d_7", "relu_1": "activation_3"}
    with np.load(tmp_path / "m.npz", allow_pickle=False) as w:
        assert "conv5_block3_1_conv/kernel" in w.files and "conv_1/kernel" in w.files


def test_names_that_need_escaping_stay_inside_names_and_comments(tmp_path):
    """Node names are the file's text: a line break followed by a `def`, a right-to-left
    override, a name of 300 characters, each comes out as a valid name and a one-line
    comment, never as text the parser would read."""
    names = {"conv1": "c\ndef evil = relu", "relu": "\u202eulér", "conv2": "k" * 300,
             "add": "x # y", "out": "->"}
    path = tmp_path / "m.onnx"
    onnx.save(residual_block(names, input_name="in put\n"), path)
    rc, out, err = cli("import", path, "-o", tmp_path / "m.cnn")
    assert (rc, err) == (0, ""), err
    text = (tmp_path / "m.cnn").read_text(encoding="utf-8")
    code = [line for line in text.splitlines() if not line.startswith("#")]
    assert not any(line.lstrip().startswith("def") for line in code)
    assert "\u202e" not in text and "\ndef evil" not in text
    graph = compile_text(text, "m")
    assert len(graph.nodes) == 6 and all(len(n.name) <= NAME_LIMIT for n in graph.nodes)
    comment = text.partition("# Layers named otherwise")[2]
    assert "def evil = relu" in comment and "\\n" in comment  # escaped, on one line


def renamed_output(model: onnx.ModelProto, old: str, new: str) -> onnx.ModelProto:
    for n in model.graph.node:
        n.output[:] = [new if o == old else o for o in n.output]
        n.input[:] = [new if i == old else i for i in n.input]
    for o in model.graph.output:
        o.name = new if o.name == old else o.name
    return model


def test_the_outputs_keep_the_names_the_model_gives_them(tmp_path):
    """`output_names=["logits"]` in torch.onnx.export: the text binds the output `as
    logits` (so `cnndsl run` writes `logits`, as onnxruntime names it); the TorchScript
    exporter's own `191` is no name."""
    model = renamed_output(residual_block(TORCHSCRIPT), "y", "logits")
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    result = import_model(path)
    code = [line.split("#")[0].rstrip() for line in result.text.splitlines()
            if line.strip() and not line.startswith("#")]
    assert code[-1].endswith("} name=layer1_0_add -> relu name=layer1_0_relu_1 as logits")
    assert compile_text(result.text, "m").output_names == ("logits",)
    onnx.save(renamed_output(residual_block(TORCHSCRIPT), "y", "191"), path)
    assert " as " not in import_model(path).text


def test_several_outputs_are_listed_by_their_model_names(tmp_path):
    """Two outputs, `features` (the block's) and `pooled` (its global average): written
    with named tensors and `output @features, @pooled`, in the model's order."""
    model = renamed_output(residual_block(TORCHSCRIPT), "y", "features")
    model.graph.node.append(helper.make_node("GlobalAveragePool", ["features"], ["pooled"],
                                             name="/pool/GlobalAveragePool"))
    model.graph.output.append(helper.make_tensor_value_info("pooled", TensorProto.FLOAT, None))
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    result = import_model(path)
    assert "output @features, @pooled" in result.text
    graph = compile_text(result.text, "m")
    assert graph.output_names == ("features", "pooled")
    x = random((2, 4, 6, 6), 3)
    theirs = session(model).run(["features", "pooled"], {"x": x})
    ours = Interpreter(graph, result.weights).run_many([np.moveaxis(x, 1, -1)])
    np.testing.assert_allclose(np.moveaxis(ours[0], -1, 1), theirs[0], rtol=ORT_RTOL,
                               atol=ORT_RTOL)
    np.testing.assert_allclose(ours[1].reshape(theirs[1].shape), theirs[1], rtol=ORT_RTOL,
                               atol=ORT_RTOL)

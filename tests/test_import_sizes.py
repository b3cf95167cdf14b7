"""`cnndsl import --input-shape`: a Keras model whose input leaves sizes open, given them.

keras.applications.MobileNetV3Small() as built by default takes `(None, None, 3)`. With
`--input-shape` it is rebuilt at that size and imported; the expected values are Keras's
own: its parameter count and `predict` on the same batch at that size. The option's
mistakes (a size that contradicts the model's, an input it does not have, a size Keras
cannot build) are `MODEL.keras: error: ...` with a hint, exit 1, nothing written; a
malformed size is a usage error before anything is loaded (no TensorFlow needed).
"""

from __future__ import annotations

import numpy as np
import pytest
from outcomes import cli
from test_import import OLD, leftovers
from zoo import TOLERANCE, counts, randomised, relative_error, split

from cnndsl import compile_file
from cnndsl.backends.keras.input_sizes import parse


@pytest.mark.parametrize("text, expected", [
    ("224x224x3", (None, (224, 224, 3))),
    ("image=32x32x1", ("image", (32, 32, 1))),
    ("100", (None, (100,))),
])
def test_a_size_is_read(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize("text", ["abc", "224x224x", "0x4x3", "2x2x2x2x2", "=4x4",
                                  "70000x70000x3"])
def test_a_malformed_size_is_a_usage_error_before_anything_loads(text, tmp_path):
    rc, out, err = cli("import", tmp_path / "absent.keras", "--input-shape", text)
    assert (rc, out) == (2, "")
    assert "argument --input-shape:" in err and "absent.keras" not in err.splitlines()[-1]


def test_mobilenet_v3_small_as_built_by_default_imports_at_a_given_size(keras, tmp_path):
    model = randomised(keras.applications.MobileNetV3Small(weights=None))
    assert tuple(model.input_shape) == (None, None, None, 3)
    source, cnn, npz = tmp_path / "m.keras", tmp_path / "m.cnn", tmp_path / "m.npz"
    model.save(source)
    rc, out, err = cli("import", source, "-o", cnn, "--weights-out", npz,
                       "--input-shape", "96x96x3")
    assert rc == 0, err
    graph, _ = compile_file(cnn)
    assert graph.nodes[0].shape == (96, 96, 3) and graph.output.shape == (1000,)
    assert split(graph) == counts(model) and sum(counts(model)) == 2_554_968
    x = np.random.default_rng(3).uniform(0, 255, (2, 96, 96, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    rc, _, err = cli("run", cnn, "--weights", npz, "-i", tmp_path / "x.npy",
                     "-o", tmp_path / "y.npy")
    assert rc == 0, err
    expected = model.predict(x, verbose=0)  # the open-size model itself, at 96x96
    assert relative_error(np.load(tmp_path / "y.npy"), expected) <= TOLERANCE


def _two_inputs(keras):
    L = keras.layers
    image, meta = keras.Input((None, None, 3), name="image"), keras.Input((5,), name="meta")
    pooled = L.GlobalAveragePooling2D()(L.Conv2D(4, 3, name="conv")(image))
    return keras.Model([image, meta], L.Concatenate()([pooled, meta]), name="two")


def test_one_of_several_inputs_is_given_by_name(keras, tmp_path):
    model = randomised(_two_inputs(keras))
    source, cnn = tmp_path / "two.keras", tmp_path / "two.cnn"
    model.save(source)
    rc, _, err = cli("import", source, "-o", cnn, "--input-shape", "image=10x12x3")
    assert rc == 0, err
    graph, _ = compile_file(cnn)
    assert [n.shape for n in graph.nodes if n.layer.kind == "input"] == [(10, 12, 3), (5,)]
    assert graph.output.shape == (9,)  # 4 pooled channels and the 5 meta values
    assert split(graph) == counts(model) == (4 * 3 * 3 * 3 + 4, 0)


@pytest.mark.parametrize("option, phrases, hint", [
    (["--input-shape", "10x10x3"], ["2 inputs (image, meta)", "must say which"],
     "image=SIZES"),
    (["--input-shape", "picture=10x10x3"], ["no input named `picture`"], "image, meta"),
    (["--input-shape", "image=10x10x4"], ["`image` is ?x?x3", "gives 10x10x4"],
     "--input-shape 224x224x3"),
    (["--input-shape", "meta=6"], ["`meta` is 5", "gives 6"], "--input-shape 5"),
    (["--input-shape", "image=2x2x3"], ["Keras cannot build the model at that size",
                                        "Conv2D"], "the size the model was designed for"),
])
def test_a_size_that_does_not_fit_is_refused(keras, tmp_path, option, phrases, hint):
    source = tmp_path / "two.keras"
    _two_inputs(keras).save(source)
    (tmp_path / "two.cnn").write_bytes(OLD)
    rc, out, err = cli("import", source, "-o", tmp_path / "two.cnn", *option)
    assert (rc, out) == (1, "")
    first, *rest = err.splitlines()
    assert first.startswith(f"{source}: error: "), err
    assert all(p in first for p in phrases), err
    assert rest[-1].startswith("hint: ") and hint in rest[-1], err
    assert (tmp_path / "two.cnn").read_bytes() == OLD and leftovers(tmp_path) == []

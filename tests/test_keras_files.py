"""Hostile `.keras` files (issue 19, items 10, 12, 15, 19): refused before Keras reads them
when they declare more than they hold, and said in one clear line when Keras refuses them;
names from them written into `.cnn` text only inside comments or as plain names.

Without Keras: a 1.6 MB archive whose config.json inflates to 1.6 GB, and HDF5 weights whose
kernel declares 1.6 GB and stores nothing, are refused by every command that reads a
`.keras` file (import, weights, run/compile/evaluate/train --weights, train --resume),
Keras's loader replaced by one that fails the test if reached. Genuine files pass (stored,
or deflated by another tool). With Keras: the issue's model names (a newline; a newline
then `def evil(k) = ...`; a right-to-left override) import into comments, and a Dense of 5
units with weights for 3 is refused with the reason Keras gives.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from bombs import (
    CHUNK,
    DEFLATED,
    DENSE_CONFIG,
    config_bomb,
    deflated,
    h5_bomb,
    h5_plain,
    keras_archive,
    make_keras_unreachable,
    member,
    npz_bomb,
)
from outcomes import cli

from cnndsl.support.escaping import UNSAFE

h5py = pytest.importorskip("h5py", reason="h5py comes with cnndsl[keras]")
NO_KERAS = "TensorFlow/Keras not installed: pip install 'cnndsl[keras]'"
CONFIG = member("config.json", json.dumps(DENSE_CONFIG).encode())
WEIGHTS = {"layers/dense/vars/0": [[0.5] * 3] * 4, "layers/dense/vars/1": [0.0] * 3}
HINT = "hint: a model saved by Keras is not like this: save it again"


@pytest.fixture
def no_keras(monkeypatch):
    make_keras_unreachable(monkeypatch)


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A network, data and an input beside the hostile files."""
    monkeypatch.chdir(tmp_path)
    Path("net.cnn").write_text("input 4 -> dense 3 softmax name=dense\n", encoding="utf-8")
    rng = np.random.default_rng(0)
    np.save("x.npy", rng.normal(size=(5, 4)).astype(np.float32))
    np.savez("data.npz", x=rng.normal(size=(12, 4)).astype(np.float32), y=np.arange(12) % 3)
    return tmp_path


def _everything(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*")
            if p.is_file()}


def refused(directory: Path, argv: list, *phrases: str, where: str = "bomb.keras") -> str:
    """`argv` exits 1 with `WHERE: error: ...` naming `phrases`, the hint, and nothing
    written or changed."""
    before = _everything(directory)
    rc, out, err = cli(*argv)
    assert (rc, out) == (1, ""), err
    # Keras may also warn (once per process, so only when no earlier test made it warn),
    # each warning one line of ours; the error and its hint end the output.
    *warned, first, hint = err.rstrip("\n").split("\n")
    assert all(line.startswith("bomb.keras: warning: Keras says: ") for line in warned), err
    assert first.startswith(f"{where}: error: "), err
    for phrase in phrases:
        assert phrase in first, err
    assert hint.startswith(HINT), err
    assert _everything(directory) == before
    return first


COMMANDS = {
    "import": ["import", "bomb.keras", "-o", "out.cnn", "--weights-out", "out.npz"],
    "weights": ["weights", "bomb.keras", "-o", "out.npz"],
    "run": ["run", "net.cnn", "--weights", "bomb.keras", "--input", "x.npy", "-o", "y.npy"],
    "compile": ["compile", "net.cnn", "--weights", "bomb.keras", "-o", "out.keras"],
    "compile-onnx": ["compile", "net.cnn", "--weights", "bomb.keras", "-o", "out.onnx"],
    "evaluate": ["evaluate", "net.cnn", "--weights", "bomb.keras", "--data", "data.npz"],
    "train": ["train", "net.cnn", "--data", "data.npz", "--weights", "bomb.keras", "-o",
              "out.keras", "--epochs", "1"],
    "resume": ["train", "net.cnn", "--data", "data.npz", "--resume", "--checkpoint-dir",
               "ck", "-o", "out.keras", "--epochs", "2"],
}


def _place(command: str, archive: bytes) -> str:
    """The hostile file where `command` reads it; its path as the error names it."""
    if command == "resume":  # a checkpoint of an earlier run, replaced by the bomb
        Path("ck").mkdir()
        Path("ck/epoch-001.keras").write_bytes(archive)
        return str(Path("ck/epoch-001.keras"))
    Path("bomb.keras").write_bytes(archive)
    return "bomb.keras"


# ---- item 15: sizes declared ----------------------------------------------------------------

def test_the_config_bomb_of_the_issue_is_refused_at_once(work, no_keras):
    """1.6 MB whose config.json inflates to 1.6 GB: 43 s, 3.8 GB and exit 0 before."""
    archive = keras_archive(config_bomb(100), member("model.weights.h5", h5_plain(WEIGHTS)))
    assert len(archive) < 2 * 2**20
    for command in ("import", "weights"):
        _place(command, archive)
        refused(work, COMMANDS[command], "its config.json declares 1.6 GiB, over the limit "
                "of 128.0 MiB")


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_the_h5_bomb_is_refused_by_every_command_that_reads_a_keras_file(work, no_keras,
                                                                        command):
    """A kernel declaring 1.6 GB, never written: 4.8 GB in import and evaluate before."""
    where = _place(command, keras_archive(CONFIG, member("model.weights.h5",
                                                         h5_bomb("unwritten"))))
    refused(work, COMMANDS[command], "weights dataset `layers/dense/vars/0` declares "
            "1.5 GiB but stores 0 bytes", "100-fold", where=where)


@pytest.mark.parametrize("kind, phrase", [
    ("gzip", "declares 1.5 GiB but stores"),  # one chunk of zeros written, compressed
    ("contiguous", "declares 1.5 GiB but stores 0 bytes"),
    ("many", "(and 39 more like it)"),  # 40 of 4 MB: each under the floor, not all
])
def test_weights_datasets_that_declare_what_they_do_not_store(work, no_keras, kind, phrase):
    h5 = h5_bomb(kind, 40, 1_000_000) if kind == "many" else h5_bomb(kind)
    _place("import", keras_archive(CONFIG, member("model.weights.h5", h5)))
    refused(work, COMMANDS["import"], "weights dataset `layers/dense", phrase)


def test_archive_members_that_declare_what_they_do_not_store(work, no_keras):
    stream, size, crc = deflated(b"\x89HDF\r\n\x1a\n", 100, byte=b"\0")
    _place("weights", keras_archive(CONFIG, ("model.weights.h5", stream, DEFLATED, size, crc)))
    refused(work, COMMANDS["weights"], "archive member `model.weights.h5` declares 1.6 GiB")
    # Keras reads weights saved as an .npz inside the archive too
    _place("weights", keras_archive(CONFIG, member("model.weights.npz", npz_bomb(5, 2))))
    refused(work, COMMANDS["weights"], "weights array `layers/dense/vars/",
            "(and 4 more like it)")


def test_weights_that_are_not_hdf5_are_refused(work, no_keras):
    _place("weights", keras_archive(CONFIG, member("model.weights.h5", b"not HDF5" * 99)))
    refused(work, COMMANDS["weights"], "its weights (model.weights.h5) cannot be read as HDF5")


def test_genuine_files_are_let_through(tmp_path):
    """Stored as Keras stores them, or deflated by another tool, zeros and all: their
    declared weights are what the datasets hold. A little under the floor passes."""
    from cnndsl.backends.keras.files import check_declared

    weights = {"layers/dense/vars/0": np.random.default_rng(0).normal(size=(512, 1024)),
               "layers/dense/vars/1": np.zeros(2**20)}
    h5 = h5_plain(weights)
    for method in (0, DEFLATED):
        path = tmp_path / f"m{method}.keras"
        path.write_bytes(keras_archive(CONFIG, member("model.weights.h5", h5, method)))
        assert check_declared(path) == max(len(h5), 8 * (512 * 1024 + 2**20))
    zeros = h5_plain({"layers/dense/vars/0": np.zeros((4, CHUNK // 16), np.float32)})
    path.write_bytes(keras_archive(CONFIG, member("model.weights.h5", zeros, DEFLATED)))
    assert check_declared(path) >= CHUNK  # a thousandfold, but 16 MiB in all: under the floor


# ---- with Keras: names (items 10, 12) and Keras's reason (item 19) -------------------------------

def _small(keras, name: str, layer: str = "dense"):
    x = keras.Input((4,), name="input")
    return keras.Model(x, keras.layers.Dense(3, name=layer)(x), name=name)


def _imported(tmp_path: Path, model, *options: str) -> str:
    model.save(tmp_path / "m.keras")
    rc, _, err = cli("import", tmp_path / "m.keras", "-o", tmp_path / "m.cnn", *options)
    assert rc == 0, err
    return (tmp_path / "m.cnn").read_text(encoding="utf-8")


def test_a_model_name_with_a_newline_imports(keras, tmp_path):
    """Item 10: exit 3 before ("unexpected character ':'" reading its own text back)."""
    text = _imported(tmp_path, _small(keras, "a\nb"))
    assert text.startswith("# a\\nb: imported from m.keras by `cnndsl import`.\n")


@pytest.mark.parametrize("keep", [False, True])
def test_names_from_the_file_cannot_write_outside_a_comment(keras, tmp_path, keep):
    """Item 12: `def evil(k) = ...` was written as a line of its own; U+202E raw."""
    model = _small(keras, "x\ndef evil(k) = conv 3 x{k}\n# ", "d\ndef evil2(k) = relu\u202e")
    text = _imported(tmp_path, model, *(["--keep-names"] if keep else []))
    assert not any(UNSAFE.search(line) for line in text.split("\n"))
    assert [line for line in text.splitlines() if line and not line.startswith(
        ("#", "input", "  -> "))] == []
    assert text.splitlines()[0] == ("# x\\ndef evil(k) = conv 3 x{k}\\n# : imported from "
                                    "m.keras by `cnndsl import`.")
    if keep:
        assert "name=d_def_evil2_k____relu_" in text
    rtl = _imported(tmp_path, _small(keras, "safe\u202egpj.cnn", "rtl\u202elayer"),
                    "--keep-names")
    assert rtl.startswith("# safe\\u202egpj.cnn: imported") and "name=rtl_layer" in rtl


def test_keras_s_reason_is_said_when_the_weights_do_not_fit(keras, tmp_path):
    """Item 19: a config's Dense of 5 units, its weights for 3; the message ended at
    'Example error message for object <Dense name=dense, built=True>:'."""
    _small(keras, "m").save(tmp_path / "m3.keras")
    with zipfile.ZipFile(tmp_path / "m3.keras") as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    config = json.loads(members["config.json"])
    for layer in config["config"]["layers"]:
        if layer["class_name"] == "Dense":
            layer["config"]["units"] = 5
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(tmp_path / "bomb.keras", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    os.chdir(tmp_path)
    rc, out, err = cli("import", "bomb.keras", "-o", "out.cnn")
    assert (rc, out) == (1, "")
    # Keras may also warn (once per process, so only when no earlier test made it warn),
    # each warning one line of ours; the error and its hint end the output.
    *warned, first, hint = err.rstrip("\n").split("\n")
    assert all(line.startswith("bomb.keras: warning: Keras says: ") for line in warned), err
    assert first.startswith("bomb.keras: error: Keras cannot load the model: layer `dense` "
                            "(Dense): The shape of the target variable"), err
    assert "variable.shape=(4, 5), Received: value.shape=(4, 3)" in first
    assert "value=[" not in first and len(first) < 400
    assert hint == ("hint: the weights it holds do not fit the layers its config.json "
                    "describes: save the model again with model.save('model.keras')")


def test_keras_s_temporary_files_are_removed_when_it_fails(keras, tmp_path, monkeypatch):
    """Found by tests/test_fuzz_keras_files.py: an archive of more than three members is
    extracted by Keras into a temporary directory, which it left behind when a member's
    name was too long for the file system."""
    _small(keras, "m").save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras", "a") as archive:
        archive.writestr("x" * 300, b"junk")
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(temporary))
    rc, _, err = cli("weights", tmp_path / "m.keras", "-o", tmp_path / "w.npz")
    assert rc == 1 and "File name too long" in err
    assert list(temporary.iterdir()) == [] and not (tmp_path / "w.npz").exists()


def test_a_file_name_that_is_not_utf8_is_escaped_in_the_header(keras, tmp_path):
    """The file's name goes into the header as the model's does: a byte that is not
    UTF-8 (`x\\xe9.keras`) was written raw, a UnicodeEncodeError (exit 3)."""
    model = tmp_path / "x\udce9.keras"
    try:
        _small(keras, "m").save(tmp_path / "plain.keras")
        os.rename(tmp_path / "plain.keras", model)
    except (OSError, UnicodeError):
        pytest.skip("this file system refuses names that are not UTF-8")
    rc, _, err = cli("import", model, "-o", tmp_path / "m.cnn")
    assert rc == 0, err
    text = (tmp_path / "m.cnn").read_text(encoding="utf-8")
    assert text.startswith("# m: imported from x\\xe9.keras by `cnndsl import`.\n")

"""`cnndsl train` and `evaluate` on data and options that used to crash them or get
advice that made no sense (issue 19, items 5, 6, 8, 14, 20), each on the input of the
issue.

- An image folder with a truncated PNG, a text file named `.png` or a name that is not
  UTF-8 is refused before TensorFlow starts, naming the file (exit 1); damage only
  decoding finds is named when TensorFlow meets it.
- `--batch-size 99999999999999999999` is the data's size, as Keras's `fit` takes a batch
  larger than its arrays; a batch that cannot fit in memory is refused.
- Labels of all ones are not one-hot; hints name a last layer only when it makes sense.
- `--plot` without validation data plots the training curves.

Most run `cnndsl.cli.main` in this process (the mistakes are found before TensorFlow);
evaluate runs Keras here, as tests/test_train.py's evaluation does.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from outcomes import cli

from cnndsl import compile_text
from cnndsl.support.files import FileError

TINY = "input 8x8x1 -> flatten -> dense 10 softmax\n"
RNG = np.random.default_rng(0)
X = RNG.integers(0, 16, (40, 8, 8, 1)).astype(np.float32)
Y = np.arange(40) % 10


def png(image: np.ndarray) -> bytes:
    """An 8-bit grey PNG, by Pillow (the test extra)."""
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(image[..., 0].astype(np.uint8), mode="L").save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def work(tmp_path, monkeypatch) -> Path:
    """tiny.cnn, d.npz (40 examples, 10 classes) and img/ (10 classes of 3 PNGs)."""
    monkeypatch.chdir(tmp_path)
    Path("tiny.cnn").write_text(TINY, encoding="utf-8")
    np.savez("d.npz", x=X, y=Y)
    for c in range(10):
        (tmp_path / "img" / f"c{c}").mkdir(parents=True)
        for i in range(3):
            (tmp_path / "img" / f"c{c}" / f"{i}.png").write_bytes(png(X[3 * c + i]))
    Path("w.npz").write_bytes(b"")  # reached only after the data is checked
    return tmp_path


# ---- item 6: image folders --------------------------------------------------------------------

HALF = "img/c3/1.png"
BAD_FILES = {  # the two files, and a name TensorFlow could not take
    "truncated": (HALF, lambda good: good[:len(good) // 2],
                  "is a truncated PNG: the file ends before the image does"),
    "text": ("img/c5/2.png", lambda good: b"hello, I am text\n",
             "is not an image: it does not start as a PNG, JPEG, GIF, BMP or WebP file "
             "does (it starts with `hello, I`)"),
}


@pytest.mark.parametrize("command", ["train", "evaluate"])
@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_an_image_that_cannot_be_read_is_named_before_tensorflow(work, command,
                                                                 case):
    """Before: exit 3, `internal error: InvalidArgumentError: ... Invalid PNG data, size
    61` (or `Unknown image file format`), after TensorFlow's start-up, naming no file."""
    name, damage, said = BAD_FILES[case]
    Path(name).write_bytes(damage(Path(name).read_bytes()))
    argv = (["train", "tiny.cnn", "--data", "img", "-o", "out.keras"] if command == "train"
            else ["evaluate", "tiny.cnn", "--weights", "w.npz", "--data", "img"])
    status, out, err = cli(*argv)
    assert (status, out) == (1, "")
    assert err == (f"{name}: error: {said}\n"
                   "hint: remove the file from the folder, or replace it with a readable "
                   "image\n")
    assert not Path("out.keras").exists() and not Path("out.checkpoints").exists()


def test_a_file_name_tensorflow_cannot_take_is_named(work):
    """Keras passes the names to TensorFlow as text: a Latin-1 name was exit 3."""
    os.rename(b"img/c4/0.png", b"img/c4/\xe9.png")
    status, _, err = cli("train", "tiny.cnn", "--data", "img", "-o", "out.keras")
    assert status == 1
    assert err.startswith("img/c4/\\xe9.png: error: the name is not valid UTF-8"), err


@pytest.mark.parametrize("contents, said", [
    (b"", "the image file is empty"),
    (b"GIF89a" + bytes(20), None),  # a GIF's start: passes, TensorFlow judges the rest
    (b"RIFF\x10\x00\x00\x00WEBPVP8 ", None),
    (b"\xff\xd8\xff\xe0" + bytes(100), "is a truncated JPEG"),
    (b"\xff\xd8\xff\xe0" + bytes(100) + b"\xff\xd9" + b"padding", None),
])
def test_what_the_first_and_last_bytes_tell(tmp_path, contents, said):
    from cnndsl.training.images import check

    path = tmp_path / "a.png"
    path.write_bytes(contents)
    if said is None:
        check(path)
        return
    with pytest.raises(FileError) as caught:
        check(path)
    assert caught.value.message.startswith(said)


def test_a_png_with_bytes_after_its_end_passes(tmp_path):
    from cnndsl.training.images import check

    (tmp_path / "a.png").write_bytes(png(X[0]) + b"trailing bytes TensorFlow ignores")
    check(tmp_path / "a.png")


def test_a_fifo_among_the_images_is_refused_without_waiting(work):
    os.mkfifo("img/c1/fifo.png")
    status, _, err = cli("train", "tiny.cnn", "--data", "img", "-o", "out.keras")
    assert status == 1
    assert err.startswith("img/c1/fifo.png: error: is a named pipe (FIFO), not a regular "
                          "file"), err


def test_the_images_are_listed_as_keras_lists_them(work):
    """Keras leaves out sub-directories named `.x`, reads images at any depth and by any
    case of the ending; a file named `.png` is an image to it."""
    from cnndsl.training.folders import classes, files

    (work / "img" / ".ipynb_checkpoints").mkdir()
    (work / "img" / "c2" / "deeper").mkdir()
    for name in ("deeper/x.PNG", ".png", "notes.txt"):
        (work / "img" / "c2" / name).write_bytes(png(X[0]))
    names = classes(work / "img")
    assert names == [f"c{c}" for c in range(10)]
    found = [str(p.relative_to(work / "img")) for p in files(work / "img", names)]
    assert found[6:11] == ["c2/.png", "c2/0.png", "c2/1.png", "c2/2.png", "c2/deeper/x.PNG"]
    assert len(found) == 32


@pytest.fixture(scope="module")
def keras():
    pytest.importorskip("tensorflow", reason="pip install 'cnndsl[keras]'")
    import keras

    return keras


def seeded_weights(path: Path) -> None:
    """The tiny network's weights, seeded as `cnndsl compile --seed 0` makes them."""
    from cnndsl.backends.weights import init_weights
    from cnndsl.support.files import write_npz

    write_npz(path, init_weights(compile_text(TINY, "tiny"), 0))


def test_damage_only_decoding_finds_is_named_when_tensorflow_meets_it(work, keras):
    """A PNG whose header and end are whole but whose pixel data is damaged passes the
    first check; TensorFlow's refusal inside Keras's pipeline names no file. Before: exit
    3, `InvalidArgumentError: ... Invalid PNG data`."""
    seeded_weights(work / "w.npz")
    damaged = bytearray(Path(HALF).read_bytes())
    damaged[damaged.index(b"IDAT") + 10] ^= 0xFF
    Path(HALF).write_bytes(bytes(damaged))
    status, out, err = cli("evaluate", "tiny.cnn", "--weights", "w.npz", "--data",
                           "img")
    assert (status, out) == (1, "")
    assert err.startswith(f"{HALF}: error: TensorFlow cannot decode the image: "), err
    assert "function_node" not in err and "[Op:" not in err


# ---- item 8: --batch-size 99999999999999999999 ----------------------------------------------

def test_a_batch_larger_than_the_data_is_the_data(tmp_path, monkeypatch):
    from cnndsl.training import pipeline

    assert pipeline.batch_size(99999999999999999999, 40, (8, 8, 1)) == 40
    assert pipeline.batch_size(32, 40, (8, 8, 1)) == 32
    monkeypatch.setattr(pipeline, "available_memory", lambda: 8 * 2**30)
    with pytest.raises(FileError) as caught:
        pipeline.batch_size(99999999999999999999, 10**9, (8, 8, 1))
    # 10**9 examples of 64 float32 values: 238.4 GiB; half of 8 GiB holds 16,777,216.
    assert caught.value.message == ("a batch of 1,000,000,000 examples takes 238.4 GiB as "
                                    "float32, more than half the 8.0 GiB of memory available")
    assert "at most 16,777,216 fit" in caught.value.hint


def test_evaluate_takes_a_batch_larger_than_the_data(work, keras):
    """Before: exit 3, `ValueError: Can't convert Python sequence with out-of-range
    integer to Tensor`. Now one batch of the 40 examples: what batches of 32 give."""
    seeded_weights(work / "w.npz")
    base = ["evaluate", "tiny.cnn", "--weights", "w.npz", "--data", "d.npz", "--format",
            "json"]
    status, whole, err = cli(*base, "--batch-size", "99999999999999999999")
    assert status == 0, err
    status, batched, _ = cli(*base, "--batch-size", "32")
    import json

    whole, batched = json.loads(whole), json.loads(batched)
    assert whole["examples"] == 40
    assert whole["confusion_matrix"] == batched["confusion_matrix"]
    assert whole["metrics"] == pytest.approx(batched["metrics"], rel=1e-5)


def test_evaluate_refuses_a_batch_of_none(work):
    status, _, err = cli("evaluate", "tiny.cnn", "--weights", "w.npz", "--data",
                         "d.npz", "--batch-size", "0")
    assert status == 1
    assert err.startswith("--batch-size: error: must be 1 or more, got 0\nhint: "), err


# ---- items 14 and 20: labels and the hints they get -------------------------------------------

def test_a_single_class_folder_is_not_told_to_end_in_one_softmax_unit(work):
    """Before: `make the last layer dense 1 softmax`, a softmax that is always 1."""
    Path("three.cnn").write_text("input 8x8x1 -> flatten -> dense 3 softmax\n")
    (work / "one" / "cats").mkdir(parents=True)
    (work / "one" / "cats" / "a.png").write_bytes(png(X[0]))
    status, _, err = cli("train", "three.cnn", "--data", "one", "-o", "out.keras")
    assert status == 1
    assert err == ("one: error: the directory has one class (cats); a classifier needs two "
                   "or more\nhint: add a sub-directory of images for each class: "
                   "DATA/CLASS_NAME/IMAGE.png, one sub-directory per class\n")


def test_a_softmax_over_one_unit_is_refused(work):
    Path("one.cnn").write_text("input 8x8x1 -> flatten -> dense 1 softmax\n")
    np.savez("zeros.npz", x=X, y=np.zeros(40, int))
    status, _, err = cli("train", "one.cnn", "--data", "zeros.npz", "-o",
                         "out.keras")
    assert status == 1
    assert err == ("zeros.npz: error: the network ends in a softmax over one unit, which is "
                   "always 1: it cannot learn\nhint: for two classes, `dense 1 sigmoid` "
                   "with labels 0 and 1, or `dense 2 softmax`\n")


def test_class_indices_for_an_output_that_is_not_a_vector(work):
    Path("map.cnn").write_text("input 8x8x1 -> conv 1x1 x10 softmax\n")
    status, _, err = cli("train", "map.cnn", "--data", "d.npz", "-o", "out.keras")
    assert status == 1
    assert err.startswith("d.npz: error: y holds class indices but the network's output is "
                          "not a vector of class scores\nhint: end the network with `gap "
                          "-> dense K softmax`"), err


# ---- item 5: --plot without validation data ---------------------------------------------------

# The history Keras's CSVLogger wrote for `train tiny.cnn --data d.npz --epochs 2 --plot
# out.png`: no validation data, so `NA` in the val_ columns (it adds them anyway).
HISTORY = """epoch,accuracy,loss,val_accuracy,val_loss
0,0.10000000149011612,18.58892250061035,NA,NA
1,0.07500000298023224,17.582504272460938,NA,NA
"""


@pytest.mark.parametrize("history, curves", [
    (HISTORY, {"training"}),
    (HISTORY.replace("NA,NA", "0.25,3.5"), {"training", "validation"}),
])
def test_the_plot_draws_the_curves_there_are(tmp_path, history, curves):
    """Before: `internal error: ValueError: could not convert string to float: 'NA'`,
    exit 3, after the whole training."""
    import matplotlib

    from cnndsl.training.plot import plot

    (tmp_path / "h.csv").write_text(history, encoding="utf-8")
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # text as text, to be read
        plot(tmp_path / "h.csv", tmp_path / "p.svg")
    svg = (tmp_path / "p.svg").read_text(encoding="utf-8")
    assert {c for c in ("training", "validation") if f">{c}<" in svg} == curves
    assert ">accuracy<" in svg and ">loss<" in svg


def test_class_names_from_a_folder_reach_the_table_escaped():
    """Found by tests/test_fuzz_training.py: a class sub-directory named with an escape
    sequence recoloured the terminal in `evaluate`'s confusion matrix."""
    from cnndsl.training.evaluation import Evaluation, table

    text = table(Evaluation(2, {"loss": 1.0}, ["esc\x1b[31m", "new\nline"],
                            [[1, 0], [0, 1]]))
    assert "\x1b" not in text and "new\nline" not in text
    assert text.splitlines()[-2:] == ["esc\\x1b[31m            1           0",
                                      "  new\\nline            0           1"]


def test_a_validation_split_of_a_folder_keeps_images_on_both_sides(work):
    """Keras holds out int(0.05 x 10) = 0 images, and then trains on none (its split
    takes `paths[:-0]`): `internal error: ValueError: No images found`, exit 3. Found by
    tests/test_fuzz_training.py."""
    for c in range(10):
        for i in (1, 2):
            (work / "img" / f"c{c}" / f"{i}.png").unlink()
    for fraction, said in (("0.05", "img: error: --val-split 0.05 of 10 images leaves one "
                             "side empty"), ("1.5", "--val-split: error: must be between 0 "
                                            "and 1, got 1.5")):
        status, _, err = cli("train", "tiny.cnn", "--data", "img", "-o",
                             "out.keras", "--val-split", fraction)
        assert status == 1
        assert err.startswith(said), err


def test_several_yes_no_outputs_are_evaluated_without_a_confusion_matrix(work,
                                                                        keras):
    """`dense 3 sigmoid` with rows of 0 and 1: one matrix of classes cannot be made (the
    truth had three times the predictions' length: exit 3). Found by the fuzz tests."""
    text = "input 8x8x1 -> flatten -> dense 3 sigmoid\n"
    Path("multi.cnn").write_text(text)
    np.savez("multi.npz", x=X, y=(np.arange(120).reshape(40, 3) % 2).astype(np.float32))
    from cnndsl.backends.weights import init_weights
    from cnndsl.support.files import write_npz

    write_npz(Path("wm.npz"), init_weights(compile_text(text, "multi"), 0))
    status, out, err = cli("evaluate", "multi.cnn", "--weights", "wm.npz",
                           "--data", "multi.npz", "--format", "json")
    assert status == 0, err
    import json

    report = json.loads(out)
    assert report["examples"] == 40 and report["confusion_matrix"] is None
    assert set(report["metrics"]) == {"loss", "accuracy"}


def test_a_folder_trains_a_log_softmax_classifier_on_its_logits(work):
    """Version 3: log-probabilities are logits (their softmax is the probabilities); the
    folder was refused before, as if the network did not end in a classifier."""
    from cnndsl.training.folders import image_task

    for name in ("cats", "dogs"):
        (work / "two" / name).mkdir(parents=True)
        (work / "two" / name / "a.png").write_bytes(png(X[0]))
    graph = compile_text("input 8x8x1 -> flatten -> dense 2 log_softmax")
    task = image_task(graph, work / "two")
    assert (task.loss, task.from_logits) == ("sparse_categorical_crossentropy", True)

"""A directory of images, one sub-directory per class, checked without TensorFlow.

The classes and files are listed as Keras's `image_dataset_from_directory` lists them
(its `index_directory`): the sub-directories whose names do not start with `.`, sorted;
under each, at any depth (symbolic links to directories not followed), the files whose
names end in .bmp, .gif, .jpeg, .jpg or .png in any case, sorted. Each is checked
(`images.check`) before TensorFlow starts.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from ..errors import shown
from ..graph.ir import Graph
from ..support.files import FileError
from . import arrays, images
from .defaults import Task, dims, output_activation

IMAGES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")  # what Keras's loader reads
LAYOUT = "DATA/CLASS_NAME/IMAGE.png, one sub-directory per class"


def classes(directory: Path) -> list[str]:
    """The class names: the sub-directories, in Keras's (sorted) order."""
    try:
        names = sorted(os.listdir(directory))
    except OSError as e:
        raise FileError(directory, f"cannot list the directory: {e.strerror or e}",
                        "check its permissions") from None
    return [n for n in names if not n.startswith(".") and (directory / n).is_dir()]


def files(directory: Path, names: list[str]) -> list[Path]:
    """Every image of the classes `names`, class by class, in Keras's order."""
    found = []
    for name in names:
        for root, _, entries in sorted(os.walk(directory / name, onerror=_unlistable)):
            found += [Path(root) / f for f in sorted(entries) if f.lower().endswith(IMAGES)]
    return found


@contextlib.contextmanager
def named_bad_image(directory: Path | None, channels: int) -> Iterator[None]:
    """TensorFlow's failure to decode an image of the folder `directory` (inside Keras's
    pipeline, where it names no file) said as a `FileError` naming the first file its
    decoder refuses; `images.check` lets through what only decoding finds."""
    try:
        yield
    except Exception as e:
        tf = sys.modules.get("tensorflow")
        if directory is None or tf is None or not isinstance(
                e, tf.errors.InvalidArgumentError):
            raise
        bad = images.first_undecodable(files(directory, classes(directory)), channels)
        if bad is None:
            raise
        raise FileError(bad[0], f"TensorFlow cannot decode the image: {shown(bad[1])}",
                        images.HINT) from None


def _unlistable(error: OSError):
    """A sub-directory that cannot be listed (Keras would leave its images out)."""
    raise FileError(error.filename or "", f"cannot list the directory: "
                    f"{error.strerror or error}", "check its permissions")


def image_task(graph: Graph, directory: Path, val_split: float | None = None) -> Task:
    """Sparse categorical labels, one class per sub-directory, against the output; then
    every image checked, so that none stops the training half way, and `val_split` as
    Keras will split the images (it holds out int(fraction x images), the last ones of
    its shuffled list: none held out would leave it none to train on)."""
    shape = tuple(graph.input.shape)
    if len(shape) != 3 or shape[-1] not in (1, 3, 4):
        raise FileError(directory, f"images need an input of height x width x 1, 3 or 4 "
                        f"channels; the network takes {dims(shape)}", "e.g. `input 64x64x3`")
    names = classes(directory)
    found = files(directory, names)
    if not found:
        raise FileError(directory, "holds no images in sub-directories", LAYOUT)
    if len(names) == 1:
        raise FileError(directory, f"the directory has one class ({shown(names[0])}); a "
                        "classifier needs two or more", f"add a sub-directory of images for "
                        f"each class: {LAYOUT}")
    units = graph.output.shape[0] if len(graph.output.shape) == 1 else 0
    activation = output_activation(graph)
    if activation not in ("softmax", "log_softmax", "linear") or len(names) != units:
        shown_names = ", ".join(shown(n) for n in names[:5]) + (", ..." if len(names) > 5
                                                                 else "")
        raise FileError(directory, f"the directory has {len(names)} classes ({shown_names}) "
                        f"but the network outputs {dims(graph.output.shape)} "
                        f"{activation}", f"make the last layer `dense {len(names)} softmax`")
    if val_split is not None:
        arrays.check_fraction(val_split)
        arrays.check_sides(directory, val_split, len(found), int(val_split * len(found)),
                           "images")
    for path in found:
        images.check(path)
    return Task("indices", units, "sparse_categorical_crossentropy",
                activation != "softmax", ("accuracy",))

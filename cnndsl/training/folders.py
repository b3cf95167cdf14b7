"""A directory of images, one sub-directory per class, checked without TensorFlow."""

from __future__ import annotations

from pathlib import Path

from ..errors import shown
from ..files import FileError
from ..ir import Graph
from .defaults import Task, dims, output_activation

IMAGES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")  # what Keras's loader reads
LAYOUT = "DATA/CLASS_NAME/IMAGE.png, one sub-directory per class"


def classes(directory: Path) -> list[str]:
    """The class names: sub-directories that hold images, in Keras's (sorted) order."""
    try:
        subs = sorted(p for p in directory.iterdir() if p.is_dir())
    except OSError as e:
        raise FileError(directory, f"cannot list the directory: {e.strerror or e}",
                        "check its permissions") from None
    if not any(f.suffix.lower() in IMAGES for sub in subs for f in sub.iterdir()):
        raise FileError(directory, "holds no images in sub-directories", LAYOUT)
    return [p.name for p in subs]


def image_task(graph: Graph, directory: Path) -> Task:
    """Sparse categorical labels, one class per sub-directory, against the output."""
    shape = tuple(graph.input.shape)
    if len(shape) != 3 or shape[-1] not in (1, 3, 4):
        raise FileError(directory, f"images need an input of height x width x 1, 3 or 4 "
                        f"channels; the network takes {dims(shape)}", "e.g. `input 64x64x3`")
    names = classes(directory)
    units = graph.output.shape[0] if len(graph.output.shape) == 1 else 0
    activation = output_activation(graph)
    if activation not in ("softmax", "linear") or len(names) != units:
        shown_names = ", ".join(shown(n) for n in names[:5]) + (", ..." if len(names) > 5
                                                                 else "")
        raise FileError(directory, f"the directory has {len(names)} classes ({shown_names}) "
                        f"but the network outputs {dims(graph.output.shape)} "
                        f"{activation}", f"make the last layer `dense {len(names)} softmax`")
    return Task("indices", units, "sparse_categorical_crossentropy",
                activation != "softmax", ("accuracy",))

"""An `.onnx` file read safely: its size checked before it is parsed, and its external
data (`model.onnx.data`, what PyTorch's dynamo exporter writes beside the model) read
only from regular files inside the model's own folder, within the limits.

A model names its external files itself, so a hostile one could point at `/etc/passwd`,
`../../secret` or a link out of the folder, or declare a terabyte: each of those is a
`FileError` before a byte of the data is read.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ...support import files, limits
from ...support.files import FileError, unreadable

INSTALL = "pip install 'cnndsl[onnx]'"


def onnx_package(path: Path) -> Any:
    try:
        import onnx
    except ImportError:
        raise FileError(path, "reading ONNX needs the onnx package", INSTALL) from None
    return onnx


def read_model(path: Path) -> Any:
    """The model in `path` with its external data loaded, or a `FileError` saying why not."""
    onnx = onnx_package(path)
    try:
        with files.open_regular(path) as file:
            size = os.fstat(file.fileno()).st_size
            if size > limits.MAX_ONNX_BYTES:
                raise FileError(path, f"the file is {size:,} bytes; an ONNX model holds at "
                                f"most {limits.MAX_ONNX_BYTES:,} (protobuf's limit)",
                                "save larger weights as external data")
            data = file.read()
    except OSError as e:
        raise unreadable(path, e, "an .onnx file") from None
    try:
        model = onnx.load_model_from_string(data)
    except Exception:  # noqa: BLE001 - protobuf raises DecodeError and others
        model = None
    if model is None or not model.HasField("graph"):
        raise FileError(path, "the file is not an ONNX model (or a truncated or corrupt one)",
                        "export it again, e.g. torch.onnx.export(model.eval(), x, "
                        "'model.onnx')")
    _load_external_data(onnx, model, path)
    return model


def _external_tensors(onnx: Any, model: Any) -> list[Any]:
    from onnx.external_data_helper import _get_all_tensors, uses_external_data

    return [t for t in _get_all_tensors(model) if uses_external_data(t)]


def _load_external_data(onnx: Any, model: Any, path: Path) -> None:
    tensors = _external_tensors(onnx, model)
    if not tensors:
        return
    folder = path.resolve().parent
    total = 0
    for tensor in tensors:
        info = {e.key: e.value for e in tensor.external_data}
        location = info.get("location", "")
        where = _inside(path, folder, location, tensor.name)
        try:
            with files.open_regular(where) as file:
                available = os.fstat(file.fileno()).st_size
        except OSError as e:
            raise FileError(path, f"the external data of `{tensor.name}` ({location}) "
                            f"cannot be read: {unreadable(where, e, 'a file').message}",
                            "keep the .onnx file and its data file together") from None
        offset, length = int(info.get("offset", 0) or 0), info.get("length")
        length = available - offset if length in (None, "") else int(length)
        if offset < 0 or length < 0 or offset + length > available:
            raise FileError(path, f"the external data of `{tensor.name}` lies past the end "
                            f"of {location} ({offset:,} + {length:,} > {available:,} bytes)",
                            "the data file is truncated: export the model again")
        total += length
        if total > limits.MAX_ONNX_EXTERNAL_BYTES:
            raise FileError(path, f"the external data adds up to more than "
                            f"{limits.MAX_ONNX_EXTERNAL_BYTES:,} bytes", "cnndsl reads CNNs "
                            "of at most a few billion weights")
    from onnx.external_data_helper import load_external_data_for_model

    try:
        load_external_data_for_model(model, str(folder))
    except Exception as e:  # noqa: BLE001 - the checks above leave only I/O trouble
        raise FileError(path, f"its external data cannot be read: {e}",
                        "keep the .onnx file and its data file together") from None


def _inside(path: Path, folder: Path, location: str, tensor: str) -> Path:
    """The external file `location` names, refused unless it is in the model's folder
    (or below it) once every link is followed."""
    if not location or os.path.isabs(location) or "\0" in location:
        raise FileError(path, f"the external data of `{tensor}` is at {location!r}, not a "
                        "path relative to the model", "keep the data file beside the model")
    where = (folder / location).resolve()
    if folder != where and folder not in where.parents:
        raise FileError(path, f"the external data of `{tensor}` is outside the model's "
                        f"folder ({location!r})", "cnndsl reads a model's data only from "
                        "its own folder: move the data file beside the model")
    return where

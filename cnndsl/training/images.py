"""The images of an image folder, each checked before training, and named if TensorFlow
cannot decode it.

A file Keras's loader cannot decode (a truncated PNG, a text file named `.png`) stops
training with TensorFlow's `Invalid PNG data, size 61`, which names no file. So every
image is checked before TensorFlow starts, cheaply: it is a regular file (a FIFO would
block the loader, `/dev/zero` fill the memory), it is not empty nor over the 2 GiB that
TensorFlow decodes, it starts with the magic bytes of a format TensorFlow decodes (its
`ClassifyFileFormat`), and a PNG or a JPEG has its end marker (a file cut short has
not; TensorFlow refuses it). That is a few small reads per file, no decoding. What only
decoding finds (damage in the middle of a file) is named when TensorFlow meets it:
`first_undecodable` decodes the images one by one, with TensorFlow's decoder, to find it.

A bad file is refused, not skipped: a data set silently smaller than the folder hides
the mistake, and an evaluation of fewer examples than there are misreports.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import shown
from ..support.files import FileError, open_regular, unreadable

FORMATS = "PNG, JPEG, GIF, BMP or WebP"
HINT = "remove the file from the folder, or replace it with a readable image"

# TensorFlow's decode_image_op.cc tells formats apart by these first bytes.
_MAGIC = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"GIF8", "GIF"),
          (b"BM", "BMP"), (b"\xff\x0a", "JPEG XL"),
          (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "JPEG XL"))
# A PNG ends with its IEND chunk, a JPEG with the EOI marker; TensorFlow decodes a file
# with bytes after them, so they are looked for near the end, not only at it.
_END = {"PNG": b"IEND\xaeB`\x82", "JPEG": b"\xff\xd9"}
_TAIL = 64 * 1024
MAX_BYTES = 2**31 - 1  # TensorFlow's decoder refuses more ("too large for int")


def check(path: Path) -> None:
    """`FileError` naming `path` if it is not an image TensorFlow can decode, as far as
    its name and its first and last bytes tell."""
    try:
        os.fsencode(path).decode("utf-8")
    except UnicodeDecodeError:  # Keras's loader passes the names to TensorFlow as text
        raise FileError(path, "the name is not valid UTF-8, which Keras's image loader "
                        "cannot pass to TensorFlow", "rename the file (or its folder) "
                        "in UTF-8") from None
    try:
        with open_regular(path) as file:
            size = os.fstat(file.fileno()).st_size
            head = file.read(16)
            kind = _kind(head)
            end = _END.get(kind or "")
            tail = b""
            if end is not None and size <= MAX_BYTES:
                file.seek(max(0, size - _TAIL))
                tail = file.read(_TAIL)
    except OSError as e:
        raise unreadable(path, e, f"an image file ({FORMATS})") from None
    if size == 0:
        raise FileError(path, "the image file is empty", HINT)
    if size > MAX_BYTES:
        raise FileError(path, f"the image file is {size:,} bytes, more than TensorFlow "
                        f"decodes ({MAX_BYTES:,})", HINT)
    if kind is None:
        start = shown(head[:8].decode("ascii", "surrogateescape"))
        raise FileError(path, f"is not an image: it does not start as a {FORMATS} file "
                        f"does (it starts with `{start}`)", HINT)
    if end is not None and end not in tail:
        raise FileError(path, f"is a truncated {kind}: the file ends before the image does",
                        HINT)


def _kind(head: bytes) -> str | None:
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "WebP"
    return None


def first_undecodable(files: list[Path], channels: int) -> tuple[Path, str] | None:
    """(path, TensorFlow's reason) of the first of `files` its decoder refuses, decoded
    as Keras's loader does (`decode_image`, first frame of a GIF)."""
    import tensorflow as tf

    for path in files:
        try:
            tf.io.decode_image(tf.io.read_file(os.fsencode(path)), channels=channels,
                               expand_animations=False)
        except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError) as e:
            return path, _reason(e.message)
    return None


def _reason(message: str) -> str:
    """`{{function_node ...}} Invalid PNG data, size 61 [Op:DecodeImage]` -> the middle."""
    message = re.sub(r"^\{\{[^}]*\}\}\s*", "", message)
    return re.sub(r"\s*\[(Op|\[).*", "", message, flags=re.S).strip() or "invalid data"

"""Hostile `.keras` files, made in a moment: archives whose members declare gigabytes and
store kilobytes, and HDF5 weights whose datasets do.

A deflate stream of 1.6 GB is not compressed here (14 s): a 16 MiB run of one byte is
compressed once, flushed so that the compressor forgets it, and that block repeated; the
zip around it is written by hand, with the sizes and the CRC-32 it declares true, so
that Keras, were a bomb let through, would inflate it for real.
"""

from __future__ import annotations

import functools
import io
import json
import struct
import zlib

CHUNK = 16 * 2**20
STORED, DEFLATED = 0, 8


@functools.cache
def _block(data: bytes) -> bytes:
    """`data` as raw deflate blocks that end byte-aligned with the dictionary reset."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(zlib.Z_FULL_FLUSH)


@functools.cache
def deflated(head: bytes, repeats: int, tail: bytes = b"", byte: bytes = b"a"
             ) -> tuple[bytes, int, int]:
    """(raw deflate stream, inflated size, CRC-32) of head + CHUNK*repeats bytes + tail."""
    chunk = byte * CHUNK
    stream = _block(head) + _block(chunk) * repeats + _block(tail) \
        + zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    crc = zlib.crc32(head)
    for _ in range(repeats):
        crc = zlib.crc32(chunk, crc)
    crc = zlib.crc32(tail, crc)
    return stream, len(head) + CHUNK * repeats + len(tail), crc


def member(name: str, data: bytes, method: int = STORED) -> tuple:
    """A zip member holding `data` (deflated here when `method` says so)."""
    if method == DEFLATED:
        stream, size, crc = deflated(data, 0)
        return name, stream, DEFLATED, size, crc
    return name, data, STORED, len(data), zlib.crc32(data)


def raw_zip(members: list[tuple]) -> bytes:
    """A zip of (name, stored bytes, method, declared size, CRC-32) members, without zip64
    (sizes under 4 GiB), every date 1980-01-01."""
    out, central = bytearray(), bytearray()
    for name, data, method, size, crc in members:
        encoded = name.encode("utf-8", "surrogateescape")
        flags = 0x800  # names in UTF-8
        offset = len(out)
        out += struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, flags, method, 0, 33, crc,
                           len(data), size, len(encoded), 0) + encoded + data
        central += struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, flags, method, 0, 33,
                               crc, len(data), size, len(encoded), 0, 0, 0, 0, 0o600 << 16,
                               offset) + encoded
    end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, len(members), len(members),
                      len(central), len(out), 0)
    return bytes(out + central + end)


def config_bomb(repeats: int = 100, config: dict | None = None) -> tuple:
    """A config.json member: a model's config whose one string inflates to
    CHUNK*repeats bytes (100: 1.6 GB from 1.6 MB, issue 19's item 15)."""
    text = json.dumps(config or {"class_name": "Functional", "config": {"layers": []}})
    head = text[:-1].encode() + b', "padding": "'
    stream, size, crc = deflated(head, repeats, b'"}')
    return "config.json", stream, DEFLATED, size, crc


@functools.cache
def h5_bomb(kind: str = "unwritten", datasets: int = 1, values: int = 400_000_000) -> bytes:
    """HDF5 weights laid out as Keras lays them (`layers/dense/vars/0`), the kernel
    declaring `values` float32 values and storing (almost) none: chunked and never written
    ('unwritten'), one gzip chunk of zeros written ('gzip'), contiguous and never written
    ('contiguous'); `datasets` such kernels."""
    import h5py

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        for i in range(datasets):
            group = h5.require_group(f"layers/dense{'_' + str(i) if i else ''}/vars")
            shape = (4, values // 4)
            if kind == "contiguous":
                group.create_dataset("0", shape=shape, dtype="float32")
            else:
                kernel = group.create_dataset("0", shape=shape, dtype="float32",
                                              chunks=(1, min(shape[1], 2**20)),
                                              compression="gzip")
                if kind == "gzip":
                    kernel[0, :min(shape[1], 2**20)] = 0.0
            group.create_dataset("1", data=[0.0, 0.0, 0.0])
    return buffer.getvalue()


def h5_plain(arrays: dict[str, list]) -> bytes:
    """HDF5 weights with these datasets, stored as Keras stores them."""
    import h5py

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        for name, values in arrays.items():
            h5.create_dataset(name, data=values)
    return buffer.getvalue()


def npz_bomb(arrays: int, repeats: int = 5) -> bytes:
    """Weights saved as an `.npz` (a zip in the zip) whose `arrays` members each inflate to
    CHUNK*repeats zero bytes."""
    stream, size, crc = deflated(b"", repeats, byte=b"\0")
    return raw_zip([(f"layers/dense/vars/{i}.npy", stream, DEFLATED, size, crc)
                    for i in range(arrays)])


METADATA = member("metadata.json", b'{"keras_version": "3.15.1", "date_saved": "1980"}')
DENSE_CONFIG = {"module": "keras", "class_name": "Sequential", "config": {
    "name": "m", "layers": [
        {"module": "keras.layers", "class_name": "InputLayer",
         "config": {"batch_shape": [None, 4], "dtype": "float32", "name": "input"}},
        {"module": "keras.layers", "class_name": "Dense",
         "config": {"name": "dense", "units": 3, "dtype": "float32"}}]}}


def keras_archive(*members: tuple) -> bytes:
    """A `.keras` file of the metadata and these members (from `member`, `config_bomb`)."""
    return raw_zip([METADATA, *members])


def make_keras_unreachable(monkeypatch) -> None:
    """Keras's import and loader fail the test if reached: a bomb is refused before them."""
    from cnndsl.backends.keras import builder as backend

    def reached(*_args, **_kwargs):
        raise AssertionError("Keras was reached")

    monkeypatch.setattr(backend, "keras_module", reached)
    monkeypatch.setattr(backend, "load_model", reached)

"""`--resume` refuses a checkpoint of another network than the spec's.

A checkpoint is a whole Keras model: loading it trains the network it holds, whatever
the spec now says. After the spec was edited (`x16` became `x32`), or with another
spec, `--resume` trained and wrote the checkpoint's network (exit 0), or failed deep in
Keras when the classes differed (exit 3). So the checkpoint's `config.json` is compared
with what Keras would save for the spec, layer by layer (kind, name, every setting both
name, inputs, input shape), before the checkpoint is loaded or anything trained; the
model's own name (the spec file's stem) is not part of the network.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from ..errors import shown
from ..graph.ir import Graph
from ..support.files import FileError, open_regular, unreadable

SHOWN = 3  # differences said; the others are counted


def check(graph: Graph, spec: str, checkpoint: Path, backend) -> None:
    """A `FileError` naming the first differences if `checkpoint` holds another network
    than `graph` (the spec `spec`)."""
    built = backend.saved_config(graph)
    saved = _saved(checkpoint, 4 * len(json.dumps(built)) + 2**20)
    found = differences(_layers(_plain(saved)), _layers(_plain(built)))
    if found:
        more = f"; and {len(found) - SHOWN} more" if len(found) > SHOWN else ""
        raise FileError(checkpoint, f"the checkpoint holds another network than "
                        f"{shown(spec)}: " + "; ".join(found[:SHOWN]) + more,
                        "resume with the spec the checkpoints were trained with, or start "
                        "afresh: remove the checkpoint directory or give another "
                        "--checkpoint-dir")


def _saved(checkpoint: Path, limit: int) -> dict:
    """The checkpoint's `config.json`; one over `limit` bytes is another network's."""
    from ..backends.keras.loading import check_keras_file

    check_keras_file(checkpoint)
    try:
        with open_regular(checkpoint) as file, zipfile.ZipFile(file) as archive:
            info = archive.getinfo("config.json")
            if info.file_size > limit:
                raise FileError(checkpoint, "the checkpoint holds another network than the "
                                f"spec: its config is {info.file_size:,} bytes, the spec's "
                                f"would be about {limit // 4:,}", "resume with the spec the "
                                "checkpoints were trained with, or start afresh")
            with archive.open(info) as member:
                config = json.loads(member.read(limit + 1))
    except OSError as e:
        raise unreadable(checkpoint, e, "a checkpoint written by cnndsl train") from None
    except (zipfile.BadZipFile, KeyError, ValueError, NotImplementedError, EOFError):
        config = None
    if not isinstance(config, dict):
        raise FileError(checkpoint, "the checkpoint's config.json cannot be read", "remove "
                        "the damaged checkpoint to resume from the one before")
    return config


def _plain(value: Any) -> Any:
    """Without Keras's `shared_object_id`s: a Python `id()` of the saving process (a
    dtype policy object shared by layers), never the same twice."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != "shared_object_id"}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _layers(config: dict) -> list[dict]:
    layers = config.get("config", {}).get("layers") if isinstance(config.get("config"),
                                                                    dict) else None
    return [layer for layer in layers if isinstance(layer, dict)] \
        if isinstance(layers, list) else []


def differences(saved: list[dict], built: list[dict]) -> list[str]:
    """What differs between the checkpoint's layers and the spec's, in order."""
    found = []
    for index, (was, now) in enumerate(zip(saved, built)):
        name, kind = now.get("name"), now.get("class_name")
        if (was.get("name"), was.get("class_name")) != (name, kind):
            found.append(f"layer {index} is {_named(was)} in the checkpoint, {_named(now)} "
                         "in the spec")
            continue
        settings_were, settings_are = was.get("config") or {}, now.get("config") or {}
        for key in settings_are:
            if key in settings_were and settings_were[key] != settings_are[key]:
                found.append(f"{_named(now)} has {key} {_value(settings_were[key])} in the "
                             f"checkpoint, {_value(settings_are[key])} in the spec")
        if _inputs(was) != _inputs(now):
            found.append(f"{_named(now)} takes {_value(_inputs(was))} in the checkpoint, "
                         f"{_value(_inputs(now))} in the spec")
        shape_was, shape_is = (_input_shape(layer) for layer in (was, now))
        if shape_was is not None and shape_is is not None and shape_was != shape_is:
            found.append(f"{_named(now)} takes shape {_value(shape_was)} in the checkpoint, "
                         f"{_value(shape_is)} in the spec")
    if len(saved) != len(built):
        found.append(f"the checkpoint has {len(saved)} layers, the spec {len(built)}")
    return found


def _named(layer: dict) -> str:
    return f"`{shown(layer.get('name'), limit=60)}` ({shown(layer.get('class_name'), limit=40)})"


def _value(value: Any) -> str:
    return shown(json.dumps(value, separators=(",", ":")), limit=60)


def _inputs(layer: dict) -> list[str]:
    """The names of the layers whose outputs `layer` takes."""
    names: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            history = value.get("config", {}).get("keras_history") \
                if isinstance(value.get("config"), dict) else None
            if isinstance(history, list) and history:
                names.append(str(history[0]))
                return
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(layer.get("inbound_nodes"))
    return names


def _input_shape(layer: dict) -> Any:
    build = layer.get("build_config")
    return build.get("input_shape") if isinstance(build, dict) else None

"""A Keras model whose inputs leave sizes open (`None`), rebuilt with those sizes given.

keras.applications' MobileNetV3 is built with an input of `(None, None, 3)` by default: it
runs at any image size, but a `.cnn` file states every size, so `cnndsl import` needs one
(`--input-shape 224x224x3`). Keras rebuilds a functional or Sequential model from its own
configuration (`Model.from_config`, the route `keras.models.clone_model` takes), so the
input layers' `batch_shape` is filled in there, the model rebuilt, and its weights copied
over with `set_weights` (same layers, same order): the same function, every size known.
"""

from __future__ import annotations

import re
from math import prod
from typing import Any

from ...support.limits import MAX_ELEMENTS, MAX_RANK
from .files import keras_reason

Sizes = tuple[int, ...]
# `224x224x3` for the model's one input, `image=224x224x3` for the input named `image`.
_SPEC = re.compile(r"(?:(?P<name>[^=]+)=)?(?P<dims>[0-9]+(?:x[0-9]+)*)")


class InputSizeError(Exception):
    """`--input-shape` does not fit the model: said in the model's terms, with a hint."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


def parse(text: str) -> tuple[str | None, Sizes]:
    """`[NAME=]HxWxC` as (name or None, sizes); `ValueError` saying what is wrong."""
    found = _SPEC.fullmatch(text.strip())
    if found is None:
        raise ValueError(f"`{text}` is not a shape: write sizes joined by x, e.g. 224x224x3, "
                         "or NAME=224x224x3 for one of several inputs")
    sizes = tuple(int(d) for d in found["dims"].split("x"))
    if len(sizes) > MAX_RANK or min(sizes) < 1 or prod(sizes) > MAX_ELEMENTS:
        raise ValueError(f"`{text}`: an input has 1 to {MAX_RANK} sizes of at least 1, and "
                         f"at most {MAX_ELEMENTS:,} elements")
    return found["name"], sizes


def input_names(model: Any) -> list[str]:
    """The model's inputs by their Keras names, in the model's order."""
    return [str(getattr(t, "_keras_history", [None])[0].name) for t in model.inputs]


def has_open_sizes(model: Any) -> bool:
    return any(d is None for t in model.inputs for d in tuple(t.shape)[1:])


def with_input_sizes(model: Any, given: dict[str | None, Sizes]) -> Any:
    """The model rebuilt with the given inputs' sizes (the rest as they are); the model
    itself when nothing changes. `InputSizeError` when a size contradicts the model's."""
    names = input_names(model)
    shapes = {name: tuple(t.shape)[1:] for name, t in zip(names, model.inputs)}
    wanted = _by_name(given, names)
    changed = False
    for name, sizes in wanted.items():
        own = shapes[name]
        if len(own) != len(sizes) or any(d is not None and d != s for d, s in zip(own, sizes)):
            raise InputSizeError(
                f"the model's input `{name}` is {_written(own)}; --input-shape gives "
                f"{'x'.join(map(str, sizes))}",
                f"only the open sizes (?) can be given, e.g. --input-shape "
                f"{example_sizes(own)}")
        changed |= own != sizes
    if not changed:
        return model
    return _rebuilt(model, wanted)


def _by_name(given: dict[str | None, Sizes], names: list[str]) -> dict[str, Sizes]:
    wanted: dict[str, Sizes] = {}
    for name, sizes in given.items():
        if name is None:
            if len(names) != 1:
                raise InputSizeError(
                    f"the model has {len(names)} inputs ({', '.join(names)}); "
                    "--input-shape must say which", f"--input-shape {names[0]}=SIZES for each")
            name = names[0]
        if name not in names:
            raise InputSizeError(f"the model has no input named `{name}`",
                                 f"its inputs: {', '.join(names)}")
        wanted[name] = sizes
    return wanted


def _rebuilt(model: Any, wanted: dict[str, Sizes]) -> Any:
    config = model.get_config()
    for layer in config.get("layers", []):
        name = layer.get("config", {}).get("name")
        if layer.get("class_name") == "InputLayer" and name in wanted:
            layer["config"]["batch_shape"] = [None, *wanted[name]]
    try:
        rebuilt = type(model).from_config(config)
        rebuilt.set_weights(model.get_weights())
    except Exception as e:  # noqa: BLE001 - Keras's own words on why it cannot be built
        raise InputSizeError(
            f"Keras cannot build the model at that size: {keras_reason(e)}",
            "give the size the model was designed for (e.g. 224x224x3 for an ImageNet "
            "classifier)") from None
    return rebuilt


def _written(shape: tuple) -> str:
    return "x".join("?" if d is None else str(d) for d in shape)


def example_sizes(shape: tuple) -> str:
    """An `--input-shape` for `shape`: its known sizes, 224 for each open one."""
    return "x".join("224" if d is None else str(d) for d in shape)

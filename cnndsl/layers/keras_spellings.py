"""Keras's spellings of a step's arguments, answered in the language's: `filters=32` is
`x32`, `kernel_size=3` is `3x3` in 2-D, `padding=1` is `pad=1` where the layer takes one.

A mix-in of `ArgReader` (cnndsl.layers.arguments): the reader finds an option no layer
asked for, and these methods say whether it is a Keras name for something the layer does
take, and what to write instead, from the requests the layer made (`self.asked`).
"""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import CnnError
from ..syntax import ast


class KerasSpellings:
    """What `ArgReader` has that these methods read: the step's word and written
    arguments, the forms the layer asked for (`asked`) and the options it read."""

    step: str
    args: list
    asked: dict
    options_read: set

    def _keras_form(self, opt: ast.Option) -> str | None:
        """The form an option in Keras's spelling is written in here: `padding=1` (Keras's
        ZeroPadding2D) is a size, for a layer that takes no padding word."""
        form = KERAS_FORMS.get(opt.key)
        if opt.key == "depth_multiplier" and "mult" in self.options_read:
            return "multiplier"  # sepconv's `mult=`, where `dwconv` writes a width
        if form == "padding" and not isinstance(opt.value, ast.Word):
            return "pad" if "padding" in self.asked else "size"  # PyTorch's `padding=1`
        return form

    def _keras_known(self, arg: ast.Option, known_options: Iterable[str]) -> bool:
        """Whether `arg` is a Keras argument this layer has a form for."""
        form = self._keras_form(arg)
        if form == "stride":
            return bool(self.asked.get("size", (0, False))[1])
        if form == "activation":
            return True  # fused, or a step of its own
        if form in KERAS_OPTIONS:
            return KERAS_OPTIONS[form] in known_options
        return form in self.asked

    def _keras_spelling(self, opt: ast.Option, what: str) -> CnnError:
        """`filters=32` -> `x32`: what to write instead, in this layer's own syntax."""
        form, value = self._keras_form(opt) or "", _written_value(opt.value)
        if form == "activation" and "activation" not in self.asked:
            return CnnError(f"`{self.step}` cannot take an activation", opt.span,
                            f"write it as a step of its own: `-> {value}`")
        given = self._given(form)
        if given is not None:
            return CnnError(f"`{opt.key}=` is Keras's spelling of what `{written(given)}` "
                            "already says", opt.span, "remove it")
        rank, size = self.asked.get("size", (1, False, None))[0::2]
        if form == "size" and rank > 1 and value.isdigit():
            new = "x".join([value] * rank)  # Keras's `kernel_size=3` is 3x3 in 2-D
        elif form == "stride":
            new = f"{size.text if size is not None else 'K'}/{value}"
            return CnnError(f"`{opt.key}=` is Keras's spelling: a stride follows the size "
                            f"after `/`", opt.span,
                            f"write `{self._rewritten(opt, '', size, new)}`")
        else:
            new = {"width": "x" + value, "padding": value.lower(), "activation": value,
                   }.get(form, f"{KERAS_OPTIONS[form]}={value.lower()}"
                         if form in KERAS_OPTIONS else value)
        said = f"the {what}" if what else {
            "activation": "its activation as a word after the arguments",
            "padding": "the padding"}.get(form, "it")
        joint = ":" if form == "activation" else " as"
        return CnnError(f"`{opt.key}=` is Keras's spelling; `{self.step}` writes {said}"
                        f"{joint} `{new}`", opt.span,
                        f"write `{self._rewritten(opt, new, front=form == 'size')}`")

    def _given(self, form: str) -> ast.Arg | None:
        """What the layer already took for `form` (`x2` for `filters=`), if anything."""
        if form in KERAS_OPTIONS:
            return next((a for a in self.args if isinstance(a, ast.Option)
                         and a.key == KERAS_OPTIONS[form]), None)
        if form == "stride":
            size = self.asked.get("size", (0, False, None))[2]
            return size if size is not None and "/" in size.text else None
        return self.asked.get(form, (0, False, None))[2]

    def _rewritten(self, old: ast.Arg, new: str, also: ast.Arg | None = None,
                   also_new: str = "", front: bool = False) -> str:
        """The step as written, with `old` replaced by `new` (and `also` by `also_new`)."""
        words = []
        for arg in self.args:
            text = (new if arg is old else also_new if arg is also and also is not None
                    else written(arg))
            if text:
                words.append(text)
        if front and new in words:
            words.remove(new)
            words.insert(0, new)
        if also is None and also_new:
            words.insert(0, also_new)
        return " ".join([self.step, *words])


# Keras's argument names, by the form cnndsl writes them in: `kernel_size=3` is a size
# (`3x3`), `filters=32` a width (`x32`), `activation=relu` the word `relu`. The forms are
# the reader's requests, so this holds for every layer kind that asks for them.
KERAS_FORMS = {
    "kernel_size": "size", "pool_size": "size", "size": "size", "cropping": "size",
    "target_shape": "size", "shape": "size", "strides": "stride", "stride": "stride",
    "filters": "width", "depth_multiplier": "width", "units": "count", "rate": "scalar",
    "padding": "padding", "activation": "activation", "use_bias": "use_bias",
    "dilation_rate": "dilation_rate", "epsilon": "epsilon",
}
KERAS_OPTIONS = {"use_bias": "bias", "dilation_rate": "dilation", "epsilon": "eps",
                 "multiplier": "mult", "pad": "pad"}


def _written_value(value: ast.Value | ast.Values) -> str:
    if isinstance(value, ast.Values):
        return "x".join(_written_value(v) for v in value.items)
    return value.name if isinstance(value, ast.Word) else value.text


def written(arg: ast.Arg) -> str:
    """An argument as written (whitespace aside)."""
    if isinstance(arg, ast.Option):
        return f"{arg.key}={_written_value(arg.value)}"
    if isinstance(arg, ast.Width):
        return "x" + arg.text
    return arg.name if isinstance(arg, ast.Word) else arg.text

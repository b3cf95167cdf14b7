"""Reading an activation as written: a word (`relu`, fused or a step of its own) or a
word with a value (`leaky_relu=0.1`, `elu=0.5`, `celu=2`, `gelu=tanh`, `clip=-1,1`).

Each value is checked where it is written: a negative leaky_relu slope, a celu alpha of
0 (celu divides by it), a `gelu=` other than `tanh`, a clip whose bounds are not in
order; `clip` alone has no meaning and says what to write.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from ..errors import CnnError, Span
from ..syntax import ast
from .activations import VALUE_NEEDED, VALUED, Activation, canonical_activation
from .values import exact, show, to_float

Number = Callable[[ast.Arg | ast.Values], "int | Fraction"]
WITH_VALUES = ("`leaky_relu=SLOPE`, `elu=ALPHA`, `celu=ALPHA`, `gelu=tanh` and "
               "`clip=LO,HI`")


def bare_activation(word: str, span: Span) -> Activation:
    """The activation a word names alone (`relu`; `clip` needs its bounds)."""
    if word in VALUE_NEEDED:
        raise CnnError(f"`{word}` needs its bounds", span,
                       "write `clip=LO,HI`, e.g. `clip=-1,1` (hardtanh) or `clip=0,6`")
    return canonical_activation(word)


def written_activation(arg: ast.Word | ast.Option, number: Number) -> Activation:
    """The activation of a word or `key=value` argument; `number` reads a number."""
    if isinstance(arg, ast.Word):
        return bare_activation(arg.name, arg.span)
    name = canonical_activation(arg.key).name
    if name not in VALUED:
        raise CnnError(f"`{arg.key}` takes no value", arg.span,
                       f"write `{arg.key}` alone; only {WITH_VALUES} have a value")
    items = arg.value.items if isinstance(arg.value, ast.Values) else (arg.value,)
    if name == "clip":
        return _clip(arg, items, number)
    if len(items) != 1:
        raise CnnError(f"`{arg.key}=` takes one value, got {len(items)}", arg.value.span,
                       f"e.g. `{_EXAMPLES[name]}`")
    if name == "gelu":
        return _gelu(items[0])
    value = number(items[0])
    if name == "leaky_relu":
        if value < 0:
            raise CnnError(f"the negative slope of leaky_relu must be >= 0, got "
                           f"{show(value)}", items[0].span,
                           "Keras refuses negative slopes; 0.2 is the default")
        return Activation("leaky_relu", to_float(value, "the slope", items[0].span))
    if name == "celu" and value == 0:
        raise CnnError("celu's alpha must not be 0", items[0].span,
                       "celu computes alpha * (exp(x / alpha) - 1) below 0; the default "
                       "is 1 (`celu`)")
    alpha = to_float(value, "alpha", items[0].span)
    return Activation(name, None if alpha == 1.0 else alpha)


_EXAMPLES = {"leaky_relu": "leaky_relu=0.1", "elu": "elu=0.5", "celu": "celu=0.5",
             "gelu": "gelu=tanh"}


def _gelu(value: ast.Arg) -> Activation:
    if isinstance(value, ast.Word) and value.name == "tanh":
        return Activation("gelu", approximate=True)
    written = value.name if isinstance(value, ast.Word) else getattr(value, "text", "")
    raise CnnError(f"`gelu={written}`: gelu's only value is `tanh`", value.span,
                   "`gelu=tanh` is the tanh approximation; `gelu` alone is the exact "
                   "form with erf")


def _clip(arg: ast.Option, items, number: Number) -> Activation:
    if len(items) != 2:
        raise CnnError(f"`clip=` takes two numbers, the lower and the upper bound, got "
                       f"{len(items)}", arg.value.span, "e.g. `clip=-1,1` or `clip=0,6`")
    low, high = (to_float(number(v), "a bound", v.span) for v in items)
    if not low < high:
        hint = (f"write the lower bound first: `clip={exact(high)},{exact(low)}`"
                if low > high else "the bounds must differ, e.g. `clip=-1,1`")
        raise CnnError(f"clip's lower bound must be below its upper bound, got "
                       f"`clip={exact(low)},{exact(high)}`", arg.value.span, hint)
    return Activation("clip", bounds=(low, high))

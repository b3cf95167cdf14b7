"""The numbers a step's arguments write: `3x3/2` split into its parts, `64` and `{2*n}`
read, checked to be whole, shown in messages however large.

Shared by the argument reader and the block binder, which read the same forms.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from fractions import Fraction
from functools import lru_cache

from ..errors import CnnError, Span
from ..support.limits import MAX_WHOLE
from ..syntax.expr import evaluate, number

Env = Mapping[str, "int | Fraction"]


def split_top(text: str, sep: str) -> list[tuple[str, int]]:
    """Split on `sep` outside braces, keeping each part's offset.

    >>> split_top("{k}x{k*2}/2", "/")
    [('{k}x{k*2}', 0), ('2', 10)]
    """
    parts, start = [], 0
    for piece in (masked_braces(text) if "{" in text else text).split(sep):
        parts.append((text[start:start + len(piece)], start))
        start += len(piece) + 1
    return parts


_BRACED = re.compile(r"\{[^{}]*\}")  # an `{expr}`: braces never nest (grammar/cnn.lark)


@lru_cache(maxsize=4096)
def masked_braces(text: str) -> str:
    """`text` with the inside of its braces blanked (same length, so offsets hold): split
    without a Python loop over a 1,000-character `{expr}`, once per text, not per use."""
    return _BRACED.sub(lambda m: "{" + " " * (len(m.group()) - 2) + "}", text)


def atom_value(text: str, span: Span, env: Env) -> int | Fraction:
    """The value of `64`, `-1` or `{2*n}` (span covers exactly `text`)."""
    if text.startswith("{"):
        return evaluate(text[1:-1], env, span)
    return number(text, span)


def whole(value: int | Fraction, what: str, span: Span, minimum: int | None = 1) -> int:
    """`value` as an int, or an error if it is fractional, huge or below `minimum`."""
    if isinstance(value, Fraction) and value.denominator != 1:
        raise CnnError(f"{what} must be a whole number, got {show(value)}", span,
                       "use `//` for floor division inside `{expr}`")
    number = int(value)
    if abs(number) > MAX_WHOLE:
        raise CnnError(f"{what} is too large ({show(number)})", span,
                       "sizes and counts are limited to 2^40")
    if minimum is not None and number < minimum:
        kind = "positive" if minimum == 1 else f"at least {minimum}"
        hint = ("sizes, widths and counts are whole numbers of at least 1" if minimum == 1
                else f"{what} is a whole number of at least {minimum}")
        raise CnnError(f"{what} must be {kind}, got {number}", span, hint)
    return number


def show(value: int | Fraction) -> str:
    """A number for a message, even an enormous one: `0.25`, `1e+400`-ish, `7`."""
    if isinstance(value, Fraction) and value.denominator != 1:
        try:
            return f"{float(value):g}"
        except OverflowError:
            return "a number beyond floating point"
    number = int(value)
    if abs(number) >= 10**30:  # str() of a 5000-digit integer is refused by Python
        return f"about 10^{int(abs(number).bit_length() * 0.30103)}"
    return str(number)


def to_float(value: int | Fraction, what: str, span: Span) -> float:
    """`value` as a float, or an error if it is beyond floating point."""
    try:
        result = float(value)
    except OverflowError:
        result = float("inf")
    if result in (float("inf"), float("-inf")):
        raise CnnError(f"{what} is too large for floating point", span,
                       "floating-point values stay below about 1.8e308")
    return result


def exact(value: float) -> str:
    """`0.5`, `1e-05`, and `0.00392156862745098` (not `0.00392157`) for 1/255."""
    short = f"{value:g}"
    return short if float(short) == value else repr(value)

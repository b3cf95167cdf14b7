"""The `{expr}` evaluator: numbers, names, `+ - * / //` and parentheses, nothing else.

User text never reaches Python's `eval`. Expressions are parsed with the shunting-yard
algorithm (no recursion, so no nesting depth can overflow the stack) into reverse Polish
notation and evaluated over exact fractions, so `{C/3}` on 96 channels is exactly 32 and
`{0.1*3}` is exactly 0.3.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from fractions import Fraction
from functools import lru_cache

from .errors import CnnError, Span
from .limits import MAX_EXPONENT, MAX_EXPRESSION_CHARS, MAX_NUMBER_CHARS

_TOKEN = re.compile(r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)|(?P<name>[A-Za-z_]\w*)"
                    r"|(?P<op>//|[-+*/()]))")
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "//": 2, "neg": 3}
_EXPRESSION_HINT = ("an `{expr}` holds numbers, names, + - * / // and parentheses; "
                    "there is no power operator")

# An RPN item: ("num", Fraction) | ("name", str) | ("op", str); with its column offset.
Rpn = tuple[tuple[str, object, int], ...]


def _fail(message: str, span: Span, offset: int, length: int = 1, hint: str | None = None):
    raise CnnError(message, span.shifted(offset, length), hint)


def number(text: str, span: Span) -> int | Fraction:
    """An exact number from a literal like `64`, `0.5` or `1.001e-5`."""
    if len(text) > MAX_NUMBER_CHARS:  # before int(): Python refuses over 4,300 digits
        raise CnnError(f"number literal of {len(text):,} characters is too long", span,
                       f"number literals are limited to {MAX_NUMBER_CHARS} characters; "
                       "sizes and counts to 2^40")
    if text.lstrip("-").isdigit():
        return int(text)  # the common case, and much cheaper than a Fraction
    mantissa, _, exponent = text.lower().partition("e")
    if exponent and abs(int(exponent)) > MAX_EXPONENT:
        raise CnnError(f"number `{text}` is out of range", span,
                       f"exponents are limited to +-{MAX_EXPONENT}")
    return Fraction(text)


@lru_cache(maxsize=4096)
def _compile(body: str) -> tuple[Rpn, tuple[str, int] | None]:
    """RPN of `body`, or the (message, offset) of its first syntax error."""
    out: list[tuple[str, object, int]] = []
    ops: list[tuple[str, int]] = []
    pos, expect_operand = 0, True
    stripped = body.rstrip()
    while pos < len(stripped):
        m = _TOKEN.match(stripped, pos)
        if not m:
            return (), (f"unexpected `{stripped[pos:].strip()[:1]}` in expression",
                        len(stripped[:pos]) + len(stripped[pos:]) - len(stripped[pos:].lstrip()))
        at = m.start(m.lastgroup or "op")
        tok = m.group(m.lastgroup or "op")
        pos = m.end()
        if m.lastgroup in ("num", "name"):
            if not expect_operand:
                return (), (f"missing operator before `{tok}`", at)
            out.append(("num", tok, at) if m.lastgroup == "num" else ("name", tok, at))
            expect_operand = False
        elif tok == "(":
            if not expect_operand:
                return (), ("missing operator before `(`", at)
            ops.append(("(", at))
        elif tok == ")":
            while ops and ops[-1][0] != "(":
                out.append(("op", *ops.pop()))
            if not ops or expect_operand:
                return (), ("unbalanced `)`" if not ops else "missing operand before `)`", at)
            ops.pop()
        elif expect_operand:
            if tok == "-":
                ops.append(("neg", at))
            elif tok != "+":
                return (), (f"missing operand before `{tok}`", at)
        else:
            while ops and ops[-1][0] != "(" and _PRECEDENCE[ops[-1][0]] >= _PRECEDENCE[tok]:
                out.append(("op", *ops.pop()))
            ops.append((tok, at))
            expect_operand = True
    if expect_operand:
        return (), ("expression is incomplete", len(stripped))
    while ops:
        op, at = ops.pop()
        if op == "(":
            return (), ("unbalanced `(`", at)
        out.append(("op", op, at))
    return tuple(out), None


def evaluate(body: str, env: Mapping[str, int | Fraction], span: Span) -> int | Fraction:
    """Value of the expression `body` (the text between braces) under `env`.

    `span` covers the braces; errors point at the offending character inside them.
    """
    if len(body) > MAX_EXPRESSION_CHARS:
        _fail(f"expression is longer than {MAX_EXPRESSION_CHARS:,} characters", span, 0,
              len(body) + 2, "split the arithmetic into block parameters")
    rpn, error = _compile(body)
    if error:
        _fail(error[0], span, error[1] + 1, hint=_EXPRESSION_HINT)
    stack: list[int | Fraction] = []
    for kind, value, at in rpn:
        if kind == "num":
            stack.append(number(str(value), span.shifted(at + 1, len(str(value)))))
        elif kind == "name":
            if value not in env:
                known = ", ".join(f"`{n}`" for n in sorted(env)) or "none"
                hint = ("`C` is the number of channels entering a step" if value == "C"
                        else f"names defined here: {known}")
                _fail(f"unknown name `{value}` in expression", span, at + 1,
                      len(str(value)), hint)
            stack.append(env[str(value)])
        elif value == "neg":
            stack.append(-stack.pop())
        else:
            right, left = stack.pop(), stack.pop()
            if value in ("/", "//") and right == 0:
                _fail("division by zero", span, at + 1, len(str(value)),
                      "the divisor evaluates to 0 here")
            stack.append(_apply(str(value), left, right))
    return stack[0]


def _apply(op: str, left: int | Fraction, right: int | Fraction) -> int | Fraction:
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if op == "/":
        return Fraction(left) / right
    return left // right

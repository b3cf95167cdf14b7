"""The `{expr}` evaluator: numbers, names, `+ - * / //` and parentheses, nothing else.

User text never reaches Python's `eval`. Expressions are parsed with the shunting-yard
algorithm (no recursion, so no nesting depth can overflow the stack) into reverse Polish
notation and evaluated over exact fractions, so `{C/3}` on 96 channels is exactly 32 and
`{0.1*3}` is exactly 0.3.

An expression in a block is evaluated at every use of the block, so the values are kept
(the same expression under the same values is evaluated once), and the arithmetic of one
expansion is bounded by `MAX_EXPRESSION_STEPS` (see `budget`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from fractions import Fraction
from functools import lru_cache

from .errors import NOWHERE, CnnError, Span
from .limits import MAX_EXPONENT, MAX_EXPRESSION_CHARS, MAX_EXPRESSION_STEPS, MAX_NUMBER_CHARS

_TOKEN = re.compile(r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)|(?P<name>[A-Za-z_]\w*)"
                    r"|(?P<op>//|[-+*/()]))")
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "//": 2, "neg": 3}
_EXPRESSION_HINT = ("an `{expr}` holds numbers, names, + - * / // and parentheses; "
                    "there is no power operator")

# An RPN item: ("num", value) | ("name", str) | ("op", str); with its column offset.
Rpn = tuple[tuple[str, object, int], ...]
# A problem found in an expression: message, column offset, length, hint.
Problem = tuple[str, int, int, "str | None"]
Result = tuple["int | Fraction | None", "Problem | None"]

_MISSING = object()  # a name the environment does not define
_RESULTS: dict[tuple, Result] = {}  # (body, values of its names) -> result; see evaluate
_MAX_RESULTS = 4096
_steps = threading.local()  # `left`: the arithmetic the expansion in this thread may still do


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


@contextmanager
def budget(steps: int = MAX_EXPRESSION_STEPS) -> Iterator[None]:
    """Let the expressions evaluated in this thread, inside the block, take at most `steps`
    numbers, names and operators in all (a value kept from before costs nothing)."""
    saved = getattr(_steps, "left", None)
    _steps.left = steps
    try:
        yield
    finally:
        _steps.left = saved


@lru_cache(maxsize=4096)
def _compile(body: str) -> tuple[Rpn, tuple[str, ...], Problem | None]:
    """RPN of `body` and the names it uses, or its first syntax error."""
    out: list[tuple[str, object, int]] = []
    ops: list[tuple[str, int]] = []
    pos, expect_operand = 0, True
    stripped = body.rstrip()
    while pos < len(stripped):
        m = _TOKEN.match(stripped, pos)
        if not m:
            at = len(stripped[:pos]) + len(stripped[pos:]) - len(stripped[pos:].lstrip())
            return (), (), (f"unexpected `{stripped[pos:].strip()[:1]}` in expression", at, 1,
                            _EXPRESSION_HINT)
        at = m.start(m.lastgroup or "op")
        tok = m.group(m.lastgroup or "op")
        pos = m.end()
        if m.lastgroup in ("num", "name"):
            if not expect_operand:
                return (), (), _syntax(f"missing operator before `{tok}`", at)
            if m.lastgroup == "num":
                try:  # read once here, not at every evaluation
                    out.append(("num", number(tok, NOWHERE), at))
                except CnnError as e:
                    return (), (), (e.message, at, len(tok), e.hint)
            else:
                out.append(("name", tok, at))
            expect_operand = False
        elif tok == "(":
            if not expect_operand:
                return (), (), _syntax("missing operator before `(`", at)
            ops.append(("(", at))
        elif tok == ")":
            while ops and ops[-1][0] != "(":
                out.append(("op", *ops.pop()))
            if not ops or expect_operand:
                return (), (), _syntax("unbalanced `)`" if not ops
                                       else "missing operand before `)`", at)
            ops.pop()
        elif expect_operand:
            if tok == "-":
                ops.append(("neg", at))
            elif tok != "+":
                return (), (), _syntax(f"missing operand before `{tok}`", at)
        else:
            while ops and ops[-1][0] != "(" and _PRECEDENCE[ops[-1][0]] >= _PRECEDENCE[tok]:
                out.append(("op", *ops.pop()))
            ops.append((tok, at))
            expect_operand = True
    if expect_operand:
        return (), (), _syntax("expression is incomplete", len(stripped))
    while ops:
        op, at = ops.pop()
        if op == "(":
            return (), (), _syntax("unbalanced `(`", at)
        out.append(("op", op, at))
    names = tuple(dict.fromkeys(str(v) for kind, v, _ in out if kind == "name"))
    return tuple(out), names, None


def _syntax(message: str, at: int) -> Problem:
    return message, at, 1, _EXPRESSION_HINT


def evaluate(body: str, env: Mapping[str, int | Fraction], span: Span) -> int | Fraction:
    """Value of the expression `body` (the text between braces) under `env`.

    `span` covers the braces; errors point at the offending character inside them.
    """
    if len(body) > MAX_EXPRESSION_CHARS:
        _fail(f"expression is longer than {MAX_EXPRESSION_CHARS:,} characters", span, 0,
              len(body) + 2, "split the arithmetic into block parameters")
    rpn, names, problem = _compile(body)
    if problem is None:
        values = tuple(env.get(name, _MISSING) for name in names)
        key = (body, values)
        found = _RESULTS.get(key)
        if found is None:
            _spend(len(rpn), span)
            found = _run(rpn, dict(zip(names, values)), env)
            if not any(v is _MISSING for v in values):  # a hint lists env's names
                if len(_RESULTS) >= _MAX_RESULTS:
                    _RESULTS.clear()
                _RESULTS[key] = found
        value, problem = found
    if problem is not None:
        message, at, length, hint = problem
        _fail(message, span, at + 1, length, hint)
    assert value is not None
    return value


def _spend(steps: int, span: Span) -> None:
    left = getattr(_steps, "left", None)
    if left is None:
        return
    if left < steps:
        raise CnnError(f"the expressions of this network take more than "
                       f"{MAX_EXPRESSION_STEPS:,} steps to evaluate", span,
                       "an `{expr}` in a block is evaluated at each use that gives it new "
                       "values; pass the result to the block as a parameter instead")
    _steps.left = left - steps


def _run(rpn: Rpn, values: dict, env: Mapping[str, int | Fraction]) -> Result:
    stack: list[int | Fraction] = []
    for kind, value, at in rpn:
        if kind == "num":
            stack.append(value)  # type: ignore[arg-type]
        elif kind == "name":
            found = values[value]
            if found is _MISSING:
                known = ", ".join(f"`{n}`" for n in sorted(env)) or "none"
                hint = ("`C` is the number of channels entering a step" if value == "C"
                        else f"names defined here: {known}")
                return None, (f"unknown name `{value}` in expression", at, len(str(value)),
                              hint)
            stack.append(found)
        elif value == "neg":
            stack.append(-stack.pop())
        else:
            right, left = stack.pop(), stack.pop()
            if value in ("/", "//") and right == 0:
                return None, ("division by zero", at, len(str(value)),
                              "the divisor evaluates to 0 here")
            stack.append(_apply(str(value), left, right))
    return stack[0], None


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

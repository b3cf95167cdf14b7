"""The `{expr}` evaluator: numbers, names, `+ - * / //`, parentheses and five functions
(`min`, `max`, `floor`, `ceil`, `round`), nothing else.

User text never reaches Python's `eval`. Expressions are parsed with the shunting-yard
algorithm (no recursion, so no nesting depth can overflow the stack) into reverse Polish
notation and evaluated over exact fractions, so `{C/3}` on 96 channels is exactly 32 and
`{0.1*3}` is exactly 0.3.

An expression in a block is evaluated at every use of the block, so the values are kept
(the same expression under the same values is evaluated once), and the arithmetic of one
expansion is bounded by `MAX_EXPRESSION_STEPS` (see `budget`).
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from fractions import Fraction
from functools import lru_cache
from typing import cast

from ..errors import NOWHERE, CnnError, Span
from ..support.limits import (
    MAX_EXPONENT,
    MAX_EXPRESSION_CHARS,
    MAX_EXPRESSION_STEPS,
    MAX_NUMBER_CHARS,
)

_TOKEN = re.compile(r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
                    r"|(?P<func>[A-Za-z_]\w*)\s*\(|(?P<name>[A-Za-z_]\w*)"
                    r"|(?P<op>//|[-+*/(),]))")
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "//": 2, "neg": 3}
_EXPRESSION_HINT = ("an `{expr}` holds numbers, names, + - * / // and parentheses, and "
                    "min, max, floor, ceil and round; there is no power operator")

# The functions of `{expr}`, with their fewest and most arguments (None: no most). They
# are Python 3's, applied to exact numbers: `round` halves to even (round(2.5) == 2), and
# floor, ceil and round of a Fraction are exact ints.
FUNCTIONS: dict[str, tuple[Callable[..., int | Fraction], int, int | None]] = {
    "min": (min, 2, None), "max": (max, 2, None), "floor": (math.floor, 1, 1),
    "ceil": (math.ceil, 1, 1), "round": (round, 1, 1)}
_FUNCTIONS_HINT = "the functions are min(a, b, ...), max(a, b, ...), floor(x), ceil(x), round(x)"

# An RPN item: ("num", value) | ("name", str) | ("op", str) | ("call", (name, count));
# with its column offset.
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
    try:
        rpn = _Compiler(body.rstrip()).run()
    except _Bad as e:
        return (), (), e.problem
    names = tuple(dict.fromkeys(str(v) for kind, v, _ in rpn if kind == "name"))
    return rpn, names, None


class _Bad(Exception):
    """A syntax error found while compiling; carries its `Problem`."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem


class _Compiler:
    """Shunting-yard over the tokens of one expression. `(` and a function's `name(`
    both open a group on the operator stack; a function's group counts its arguments,
    so `min(a, b, c)` becomes `a b c call(min, 3)`."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.out: list[tuple[str, object, int]] = []
        self.ops: list[tuple[str, int]] = []  # operators, "(" and "call" (a function's "(")
        self.calls: list[list] = []  # per open function: [name, at, commas so far]
        self.expect_operand = True

    def run(self) -> Rpn:
        pos = 0
        while pos < len(self.text):
            m = _TOKEN.match(self.text, pos)
            if not m:
                rest = self.text[pos:]
                at = pos + len(rest) - len(rest.lstrip())
                raise _Bad((f"unexpected `{rest.strip()[:1]}` in expression", at, 1,
                            _EXPRESSION_HINT))
            kind = m.lastgroup or "op"
            self.token(kind, m.group(kind), m.start(kind))
            pos = m.end()
        if self.expect_operand:
            raise _syntax_error("expression is incomplete", len(self.text))
        while self.ops:
            op, at = self.ops.pop()
            if op in ("(", "call"):
                raise _syntax_error("unbalanced `(`", at)
            self.out.append(("op", op, at))
        return tuple(self.out)

    def token(self, kind: str, tok: str, at: int) -> None:
        if kind in ("num", "name", "func"):
            if not self.expect_operand:
                raise _syntax_error(f"missing operator before `{tok}`", at)
            if kind == "func":
                return self.open_call(tok, at)
            self.out.append(("num", _literal(tok, at), at) if kind == "num"
                            else ("name", tok, at))
            self.expect_operand = False
        elif tok == "(":
            if not self.expect_operand:
                raise _syntax_error("missing operator before `(`", at)
            self.ops.append(("(", at))
        elif tok in (")", ","):
            self.close(tok, at)
        elif self.expect_operand:
            if tok == "-":
                self.ops.append(("neg", at))
            elif tok != "+":
                raise _syntax_error(f"missing operand before `{tok}`", at)
        else:
            while (self.ops and self.ops[-1][0] not in ("(", "call")
                   and _PRECEDENCE[self.ops[-1][0]] >= _PRECEDENCE[tok]):
                self.out.append(("op", *self.ops.pop()))
            self.ops.append((tok, at))
            self.expect_operand = True

    def open_call(self, name: str, at: int) -> None:
        if name not in FUNCTIONS:
            raise _Bad((f"unknown function `{name}`", at, len(name), _FUNCTIONS_HINT))
        self.ops.append(("call", at))
        self.calls.append([name, at, 0])

    def close(self, tok: str, at: int) -> None:
        """`)` ends a group; `,` ends one argument of a function's group."""
        empty_call = self.expect_operand and self.ops and self.ops[-1][0] == "call" \
            and tok == ")" and self.calls[-1][2] == 0
        if self.expect_operand and not empty_call:
            raise _syntax_error(f"missing operand before `{tok}`", at)
        while self.ops and self.ops[-1][0] not in ("(", "call"):
            self.out.append(("op", *self.ops.pop()))
        if not self.ops or (tok == "," and self.ops[-1][0] != "call"):
            raise _syntax_error("unbalanced `)`" if tok == ")" else
                                "`,` separates a function's arguments: `max(a, b)`", at)
        if tok == ",":
            self.calls[-1][2] += 1
            self.expect_operand = True
            return
        if self.ops.pop()[0] == "call":
            name, start, commas = self.calls.pop()
            count = 0 if empty_call else commas + 1
            _check_arity(name, count, start)
            self.out.append(("call", (name, count), start))
        self.expect_operand = False


def _literal(tok: str, at: int) -> int | Fraction:
    """A number token, read once here, not at every evaluation."""
    try:
        return number(tok, NOWHERE)
    except CnnError as e:
        raise _Bad((e.message, at, len(tok), e.hint)) from None


def _check_arity(name: str, count: int, at: int) -> None:
    _, low, high = FUNCTIONS[name]
    if count >= low and (high is None or count <= high):
        return
    wanted = f"exactly {low}" if low == high else f"at least {low}"
    plural = "" if low == 1 else "s"
    example = f"{name}(x)" if high == 1 else f"{name}(a, b)"
    raise _Bad((f"`{name}` takes {wanted} argument{plural}, got {count}", at, len(name),
                f"write `{example}`"))


def _syntax_error(message: str, at: int) -> _Bad:
    return _Bad(_syntax(message, at))


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
        elif kind == "call":
            name, count = cast("tuple[str, int]", value)
            args = stack[-count:]
            del stack[-count:]
            stack.append(FUNCTIONS[name][0](*args))
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

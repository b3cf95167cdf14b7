"""The functions of `{expr}` (LANGUAGE.md, version 2): min, max, floor, ceil and round, on
exact numbers, as Python 3 defines them. Every expected value is worked out by hand;
round is half-to-even (round(2.5) == 2), floor goes down for negatives (floor(-2.5) == -3).
Errors are located inside the braces (tests/test_errors.py checks their rendering)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from cnndsl import CnnError, compile_text
from cnndsl.errors import Span
from cnndsl.syntax.expr import budget, evaluate

WHERE = Span(1, 20, 19, 40)  # the `{` of an expression at column 20


@pytest.mark.parametrize("expr, value", [
    # round: to the nearest, halves to the even neighbour
    ("round(2.5)", 2), ("round(3.5)", 4), ("round(0.5)", 0), ("round(1.5)", 2),
    ("round(-2.5)", -2), ("round(-0.5)", 0), ("round(2.6)", 3), ("round(7/3)", 2),
    ("round(8)", 8),
    # floor and ceil: towards -inf and +inf, negatives included
    ("floor(-2.5)", -3), ("floor(-3)", -3), ("floor(-0.1)", -1), ("floor(7/2)", 3),
    ("ceil(-2.5)", -2), ("ceil(2.1)", 3), ("ceil(-0.9)", 0), ("ceil(5)", 5),
    # min and max: two or more arguments, any mix of whole and fractional
    ("min(3, 1, 2)", 1), ("max(3, 1, 2, 7)", 7), ("min(2, 2)", 2), ("max(-1, -5)", -1),
    ("max(1/2, 1/3)", Fraction(1, 2)), ("min(0.25, 1)", Fraction(1, 4)),
    ("min(9, 8, 7, 6, 5, 4, 3, 2, 1, 0)", 0),
    # inside arithmetic, nested, with unary minus and spaces
    ("-min(1, 2)", -1), ("2*floor(7/2) + 1", 7), ("max(min(4, 9), ceil(0.1))", 4),
    ("min (1, 2)", 1), ("floor( 9 / 2 )*2", 8), ("max(8, (32 + 4) // 8 * 8)", 32),
    ("ceil(max(1, 2)/4)", 1), ("round(min(5, 9)/2)", 2),
    # exact arithmetic: 0.1*3*10 is 3 exactly (in floats 3.0000000000000004, ceil 4)
    ("ceil(0.1*3*10)", 3), ("floor(0.7*10)", 7),
])
def test_function_values(expr, value):
    assert evaluate(expr, {}, WHERE) == value


def test_results_of_floor_ceil_round_are_whole():
    for expr in ("floor(7/2)", "ceil(7/2)", "round(7/2)"):
        assert type(evaluate(expr, {}, WHERE)) is int


def test_functions_see_parameters_and_c():
    assert evaluate("round(C/4)", {"C": 18}, WHERE) == 4  # 4.5, half to even
    assert evaluate("max(n, C//2)", {"C": 18, "n": 3}, WHERE) == 9


def test_a_parameter_may_be_called_like_a_function():
    """`max` not followed by `(` is a name: a block parameter may be called `max`."""
    graph = compile_text("def b(max) = dense {max}\ninput 4 -> b(3)")
    assert graph.output.shape == (3,)


def test_round_in_a_width_is_half_to_even():
    # 18 channels / 4 = 4.5 -> 4 (a naive round half up would make 5)
    assert compile_text("input 4x4x18 -> conv 1 x{round(C/4)}").output.shape == (4, 4, 4)
    assert compile_text("input 4x4x22 -> conv 1 x{round(C/4)}").output.shape == (4, 4, 6)


# MobileNet's _make_divisible(v, 8): max(8, int(v + 4) // 8 * 8), plus 8 if that is below
# 0.9 * v. The `if` is written with min/max/ceil: 8 * min(1, max(0, ceil((0.9v - r) / 8))).
DIVISIBLE = ("def divisible(v) = conv 1 x{max(8, floor(v + 4) // 8 * 8 "
             "+ 8 * min(1, max(0, ceil((0.9*v - floor(v + 4) // 8 * 8) / 8))))}\n")


@pytest.mark.parametrize("v, width", [
    (24, 24),    # int(28) // 8 * 8 = 24 >= 21.6
    (19, 24),    # int(23) // 8 * 8 = 16 < 17.1: plus 8
    (5.6, 8),    # int(9.6) // 8 * 8 = 8
    (100, 104),  # int(104) // 8 * 8 = 104
    (3, 8),      # int(7) // 8 * 8 = 0, at least 8
    (36, 40),    # int(40) // 8 * 8 = 40
])
def test_make_divisible_can_be_written(v, width):
    graph = compile_text(DIVISIBLE + f"input 4x4x3 -> divisible({v})")
    assert graph.output.shape == (4, 4, width)


def test_function_steps_count_against_the_budget():
    evaluate("min(1, 2, 3)", {}, WHERE)  # kept: a second evaluation would cost nothing
    with budget(3), pytest.raises(CnnError, match="steps"):
        evaluate("max(1, 2, 3, 4)", {}, WHERE)  # four numbers and the call: 5 steps
    with budget(5):
        assert evaluate("max(1, 2, 3, 5)", {}, WHERE) == 5


def error_of(expr: str) -> CnnError:
    with pytest.raises(CnnError) as info:
        evaluate(expr, {"k": 1}, WHERE)
    return info.value


@pytest.mark.parametrize("expr, message, at, length, hint", [
    ("foo(1)", "unknown function `foo`", 0, 3, "min(a, b, ...)"),
    ("__import__(1)", "unknown function `__import__`", 0, 10, "round(x)"),
    ("k(2)", "unknown function `k`", 0, 1, "floor(x)"),
    ("2 + pow(2, 3)", "unknown function `pow`", 4, 3, "ceil(x)"),
    ("min(1)", "`min` takes at least 2 arguments, got 1", 0, 3, "`min(a, b)`"),
    ("max()", "`max` takes at least 2 arguments, got 0", 0, 3, "`max(a, b)`"),
    ("floor(1, 2)", "`floor` takes exactly 1 argument, got 2", 0, 5, "`floor(x)`"),
    ("1 + round()", "`round` takes exactly 1 argument, got 0", 4, 5, "`round(x)`"),
    ("ceil(1, 2, 3)", "`ceil` takes exactly 1 argument, got 3", 0, 4, "`ceil(x)`"),
    ("1, 2", "`,` separates a function's arguments", 1, 1, None),
    ("(1, 2)", "`,` separates a function's arguments", 2, 1, None),
    ("min(1,)", "missing operand before `)`", 6, 1, None),
    ("min(, 1)", "missing operand before `,`", 4, 1, None),
    ("min(1, 2", "unbalanced `(`", 0, 1, None),
    ("2 min(1, 2)", "missing operator before `min`", 2, 1, None),
])
def test_function_errors_point_into_the_braces(expr, message, at, length, hint):
    e = error_of(expr)
    assert message in e.message
    # the span starts after the `{` at column 20, so offset `at` is column 21 + at
    assert (e.span.column, e.span.end - e.span.start) == (21 + at, length), e.message
    if hint:
        assert hint in e.hint


def test_function_errors_are_located_in_a_program():
    with pytest.raises(CnnError) as info:
        compile_text("input 8x8x3 -> conv 1 x{maxi(C, 8)}")
    assert (info.value.span.line, info.value.span.column) == (1, 25)
    with pytest.raises(CnnError) as info:
        compile_text("def b(n) = dense {floor(n, 2)}\ninput 4 -> b(3)")
    assert (info.value.span.line, info.value.span.column) == (1, 19)
    assert "exactly 1 argument" in info.value.message

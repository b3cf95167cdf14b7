"""Blocks (`def name(params) body`): their definitions checked, and a use's arguments bound.

    def cell(@prev, f=32) conv 1x1 x{f} -> add { id | @prev }
    ... -> cell(@stem, 64)

A use binds number parameters to values (by position, by name, or from defaults
evaluated with the `C` entering the use) and tensor parameters to the named tensors visible
where the block is used. The walk that expands a block's body lives in `expand`; this
module only says what a use means, so the rules of parameters are read in one place.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from ..errors import CnnError, Span, did_you_mean
from ..layers import MERGES, lookup
from ..layers.values import atom_value, whole
from ..syntax import ast
from ..syntax.expr import evaluate, number
from .scopes import Scope

Env = dict[str, "int | Fraction"]


@dataclass
class Definition:
    """A block and its place in the file: a block may use only blocks defined above it."""

    index: int
    node: ast.Definition


def definitions(module: ast.Module) -> dict[str, Definition]:
    """The module's blocks by name, each checked: a new name, parameters listed once."""
    found: dict[str, Definition] = {}
    for i, d in enumerate(module.definitions):
        if d.name in found:
            raise CnnError(f"block `{d.name}` is defined twice", d.name_span,
                           f"first defined on line {found[d.name].node.span.line}")
        if lookup(d.name) or d.name in MERGES or d.name in ("id", "residual"):
            raise CnnError(f"`{d.name}` is a step of the language, not a block name",
                           d.name_span, "choose another name")
        seen: set[str] = set()
        for p in d.params:
            if p.name == "C":
                raise CnnError("a block parameter may not be called `C`", p.span,
                               "`C` always means the channels entering a step")
            if p.name in seen:
                raise CnnError(f"parameter `{p.name}` is listed twice", p.span,
                               "give each parameter a different name")
            seen.add(p.name)
        found[d.name] = Definition(i, d)
    return found


def bind(definition: ast.Definition, call: ast.Call, env: Env,
         scope: Scope) -> tuple[Env, Scope]:
    """The values of a block use's number parameters, and a new scope holding its
    tensor parameters (`@prev`), looked up in `scope`, where the block is used."""
    params = definition.params
    if len(call.args) > len(params):
        raise CnnError(f"block `{definition.name}` takes {len(params)} argument"
                       f"{'s' if len(params) != 1 else ''}, got {len(call.args)}",
                       call.args[len(params)].span, signature(definition))
    bound: Env = {}
    tensors = Scope(block=definition.name)
    for param, arg in zip(params, call.args):
        if param.tensor != isinstance(arg, ast.Ref):
            raise CnnError(f"parameter `{'@' * param.tensor}{param.name}` of block "
                           f"`{definition.name}` takes "
                           + ("a tensor like `@x`" if param.tensor else "a number"),
                           arg.span, signature(definition))
        if isinstance(arg, ast.Ref):
            tensors.bind(param.name, scope.lookup(arg), param.span)
        else:
            bound[param.name] = value(arg, env)
    _bind_keywords(definition, call, env, bound)
    for param in params:
        if param.tensor and param.name not in tensors.tensors:
            raise CnnError(f"block `{definition.name}` needs a tensor for "
                           f"`@{param.name}`", call.span, signature(definition))
        if not param.tensor and param.name not in bound:
            if param.default is None:
                raise CnnError(f"block `{definition.name}` needs a value for "
                               f"`{param.name}`", call.span, signature(definition))
            bound[param.name] = value(param.default, {"C": env["C"]})
    return bound, tensors


def _bind_keywords(definition: ast.Definition, call: ast.Call, env: Env, bound: Env) -> None:
    """`block(f=64)`: number parameters by name, each once; tensors go by position."""
    params = definition.params
    names = [p.name for p in params]
    for kw in call.kwargs:
        if kw.key in names and next(p for p in params if p.name == kw.key).tensor:
            raise CnnError(f"tensor parameter `@{kw.key}` is given by position only",
                           kw.key_span, signature(definition))
        if kw.key not in names:
            guess = did_you_mean(kw.key, names)
            raise CnnError(f"block `{definition.name}` has no parameter `{kw.key}`",
                           kw.key_span, f"did you mean `{guess}`?" if guess
                           else signature(definition))
        if kw.key in bound:
            raise CnnError(f"parameter `{kw.key}` is given twice", kw.key_span,
                           "give each parameter once, by position or by name")
        bound[kw.key] = value(kw.value, env)


def value(arg: ast.Value | ast.Values, env: Mapping[str, int | Fraction]) -> int | Fraction:
    """A block argument or repeat count: a number, a parameter's name, or an `{expr}`."""
    if isinstance(arg, ast.Number):
        return number(arg.text, arg.span)
    if isinstance(arg, ast.Size) and re.fullmatch(r"-?\d+|\{[^{}]*\}", arg.text):
        return atom_value(arg.text, arg.span, env)
    if isinstance(arg, ast.Word):  # `block(n)` passes a parameter on, as `block({n})`
        return evaluate(arg.name, env, arg.span.shifted(-1, len(arg.name)))
    raise CnnError("a block argument must be a number, a name or an `{expr}`", arg.span,
                   "e.g. `block(64)`, `block(n)` or `block({2*n})`")


def integer(arg: ast.Value, env: Env, what: str) -> int:
    """A value that must be a whole number (a repeat count)."""
    return whole(value(arg, env), what, arg.span)


def signature(definition: ast.Definition) -> str:
    """The hint that shows how a block is defined: `it is defined as `cell(@prev, f=...)``."""
    params = ", ".join("@" * p.tensor + p.name + ("=..." if p.default is not None else "")
                       for p in definition.params)
    return f"it is defined as `{definition.name}({params})`"


def use_span(source: str, span: Span) -> Span:
    """A block use's span through its `)`: the parser's ends at the last argument."""
    after = source[span.end:span.end + 200]
    stripped = after.lstrip()
    if "(" in source[span.start:span.end] and stripped.startswith(")"):
        return Span(span.line, span.column, span.start,
                    span.end + len(after) - len(stripped) + 1)
    return span

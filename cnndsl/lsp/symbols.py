"""The outline: the file's blocks and statements, each with its steps nested inside.

    def project(f, s=2)              block      (f, s=2)
      add                            merge      56x56x256 | 28x28x512 | …
        branch 1                     branch
          conv 1/{s} x{4*f}          step
    input 224x224x3                  statement  1000
      zeropad 3                      step       230x230x3
      project(64, s=1)               block use  56x56x256

Read from the syntax tree, so the outline follows the text even where the network does
not compile; each step's detail is its output shape when there is a graph to say it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..language.blocks import use_span
from ..layers.shapes import format_shape
from ..syntax import ast
from .document import Analysis

MAX_NAME = 60  # characters of a step's text in the outline
MAX_SHAPES = 3


@dataclass
class Symbol:
    """One entry of the outline: `region` is all of it (its children's included),
    `selection` its name."""

    name: str
    kind: str  # block, statement, step, merge, branch, use, repeat, tensor, outputs
    region: tuple[int, int]
    selection: tuple[int, int]
    detail: str = ""
    children: list[Symbol] = field(default_factory=list)

    def __post_init__(self) -> None:
        for child in self.children:
            self.region = (min(self.region[0], child.region[0]),
                           max(self.region[1], child.region[1]))


def symbols(analysis: Analysis) -> list[Symbol]:
    """The outline of the analysed text (empty if it did not parse)."""
    module = analysis.module
    if module is None:
        return []
    out = [_block(analysis, d) for d in module.definitions]
    for statement in module.statements:
        out.append(_statement(analysis, statement))
    if module.outputs and module.outputs_span is not None:
        span = module.outputs_span
        names = ", ".join("@" + r.name for r in module.outputs)
        out.append(Symbol(_short(f"output {names}"), "outputs", (span.start, span.end),
                          (span.start, span.end)))
    return out


def _block(analysis: Analysis, d: ast.Definition) -> Symbol:
    text = analysis.text
    start = text.rfind("def", 0, d.name_span.start)
    params = ", ".join("@" * p.tensor + text[p.span.start:p.span.end].lstrip("@")
                       for p in d.params)
    return Symbol(d.name, "block", (start if start >= 0 else d.span.start, d.span.end),
                  (d.name_span.start, d.name_span.end), f"({params})" if d.params else "",
                  _chain(analysis, d.body))


def _statement(analysis: Analysis, statement: ast.Statement) -> Symbol:
    span = statement.span
    children = []
    if statement.input is not None:
        head = statement.input
        name = _text(analysis, head.span.start, head.span.end)
        if statement.binding is not None:
            name += f" as {statement.binding.name}"
        children.append(_step(analysis, head))
        selection = (head.span.start, head.span.end)
    else:
        first = statement.body.steps[0] if statement.body else None
        name = _text(analysis, first.span.start, first.span.end) if first else "statement"
        selection = (first.span.start, first.span.end) if first else (span.start, span.end)
    if statement.body is not None:
        children += _chain(analysis, statement.body)
    detail = children[-1].detail if children else ""
    return Symbol(name, "statement", (span.start, span.end), selection, detail, children)


def _chain(analysis: Analysis, chain: ast.Chain) -> list[Symbol]:
    return [_step(analysis, step) for step in chain.steps]


def _step(analysis: Analysis, step: ast.Step) -> Symbol:
    if isinstance(step, ast.Bound):
        inner = _step(analysis, step.step)
        inner.name = _short(f"{inner.name} as {step.name}")
        inner.region = (min(inner.region[0], step.span.start), max(inner.region[1],
                                                                   step.span.end))
        return inner
    region = (step.span.start, step.span.end)
    if isinstance(step, ast.Ref):
        return Symbol("@" + step.name, "tensor", region, region)
    if isinstance(step, ast.Merge):
        region = analysis.closed(step.span.start, step.span.end)
        head = (step.op_span.start, step.op_span.end)
        branches = [Symbol(f"branch {i + 1}", "branch", (b.span.start, b.span.end),
                           (b.span.start, b.span.end), "", _chain(analysis, b))
                    for i, b in enumerate(step.branches)]
        return Symbol(step.op, "merge", region, head, _made(analysis, region), branches)
    if isinstance(step, ast.Repeat):
        count = _text(analysis, step.count.span.start, step.count.span.end)
        return Symbol(_short(f"( … ) * {count}"), "repeat", region, region,
                      _used(analysis, region), _chain(analysis, step.body))
    if isinstance(step, ast.Call):
        span = use_span(analysis.text, step.span)
        region = (span.start, span.end)
        return Symbol(_text(analysis, *region), "use", region, region,
                      _used(analysis, region))
    names = analysis.names
    if names is not None and step.word in names.definitions:
        return Symbol(step.word, "use", region, region, _used(analysis, region))
    return Symbol(_text(analysis, *region), "step", region, region, _made(analysis, region))


def _made(analysis: Analysis, region: tuple[int, int]) -> str:
    """The output shapes of the layers a step made (one per use of its block)."""
    if analysis.graph is None:
        return ""
    nodes = analysis.graph.nodes
    return _shapes([nodes[i].shape for i in analysis.steps.get(region)])


def _used(analysis: Analysis, region: tuple[int, int]) -> str:
    """The output shapes of a block use or repetition (one per time it was expanded)."""
    if analysis.graph is None:
        return ""
    nodes = analysis.graph.nodes
    return _shapes([nodes[g.stop - 1].shape for g in analysis.uses.get(region)])


def _shapes(shapes) -> str:
    distinct = list(dict.fromkeys(shapes))
    shown = " | ".join(format_shape(s) for s in distinct[:MAX_SHAPES])
    return shown + (" | …" if len(distinct) > MAX_SHAPES else "")


def _text(analysis: Analysis, start: int, end: int) -> str:
    return _short(analysis.text[start:end]) or "step"


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_NAME else text[:MAX_NAME - 1] + "…"

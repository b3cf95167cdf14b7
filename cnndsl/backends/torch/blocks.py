"""The spec's `def` blocks as helper methods of the readable source, so that `forward`
reads as the spec does: `relu_7 = self.identity(relu_4, self.conv_6, ...)`, a line a
block, where the spec says `identity(64)`.

    def identity(self, x, conv1, batchnorm1, conv2, batchnorm2, conv3, batchnorm3):
        h1 = F.relu(batchnorm1(conv1(x)))
        ...

A block's modules stay attributes of the network, named after the spec's layers (so the
`state_dict`, the `.pt2` and `cnndsl weights` are those of the flat module, and an ONNX
export keeps the spec's names), and each use passes its own: the helper is the block's
computation, the modules are arguments. A block becomes a helper only where that is
true of every use: the same computation written the same way (a padding that differs
between uses, say, keeps the block inline), nothing inside it used from outside but its
result, and at least two layers. Blocks within a block become calls in its helper.

Imports: `graph`; nothing of torch (the text only).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ...graph.ir import Graph, Group
from .ops import MODULE_NAMES
from .writer import Step

Lines = Callable[[str, Step, list[str]], list[str]]  # a layer's lines, as `source` writes them
DEF_USE = re.compile(r"([A-Za-z_]\w*)(?:\(.*\))?", re.DOTALL)
SELF_ATTR = re.compile(r"\bself\.([A-Za-z_]\w*)")


@dataclass(frozen=True)
class Use:
    """A use of a block rendered with names of its own: its helper's body, the network's
    attributes it takes (in its parameters' order) and its inputs from outside."""

    body: tuple[str, ...]
    params: tuple[str, ...]  # the helper's parameter names
    attrs: tuple[str, ...]  # the network's attributes passed for them, in order
    inputs: tuple[int, ...]  # nodes before the block that it reads


class Blocks:
    """Which uses of which blocks become helper calls, and the helpers' text."""

    def __init__(self, graph: Graph, steps: dict[int, Step], attrs: dict[int, str],
                 lines: Lines, width: int) -> None:
        self.graph, self.steps, self.attrs, self.lines, self.width = \
            graph, steps, attrs, lines, width
        self.owner = {attr: index for index, step in steps.items() for attr in step.modules}
        self.candidates = self._candidates()
        self.helpers = self._decide()  # def name -> method name, for the blocks kept
        self.chosen = [g for g in self.candidates if _def(g) in self.helpers]

    # -- which blocks ------------------------------------------------------------------------
    def _candidates(self) -> list[Group]:
        """Block uses of two layers or more whose inside nothing outside reads."""
        readers: dict[int, set[int]] = {}
        for node in self.graph.nodes:
            for i in node.inputs:
                readers.setdefault(i, set()).add(node.index)
        outputs = set(self.graph.outputs)
        by_range: dict[tuple[int, int], Group] = {}
        for group in self.graph.groups:  # inner before outer: an outer one of the same
            inside = range(group.start, group.stop)  # range replaces it
            if group.count != 1 or _def(group) is None or len(inside) < 2:
                continue
            sealed = all(readers.get(i, set()) <= set(inside) and i not in outputs
                         for i in inside[:-1])
            if sealed:
                by_range[group.start, group.stop] = group
        return sorted(by_range.values(), key=lambda g: (g.start, -g.stop))

    def _decide(self) -> dict[str, str]:
        """Each block whose uses all render alike becomes a helper, deepest first (a
        block's text depends on which blocks inside it are calls)."""
        decided: dict[str, bool] = {}
        names = {_def(g) for g in self.candidates}
        taken = set(self.attrs.values()) | MODULE_NAMES | {"forward"}
        helpers: dict[str, str] = {}
        while len(decided) < len(names):
            ready = [n for n in sorted(names - set(decided))
                     if all(_def(inner) in decided for g in self.candidates if _def(g) == n
                            for inner in self._inner(g))]
            if not ready:  # cannot happen: blocks do not contain themselves
                break
            for name in ready:
                self.helpers = helpers
                self.chosen = [g for g in self.candidates if _def(g) in helpers]
                bodies = {self.use(g).body for g in self.candidates if _def(g) == name}
                decided[name] = len(bodies) == 1
                if decided[name]:
                    method = name if name not in taken else f"{name}_block"
                    while method in taken:
                        method += "_"
                    taken.add(method)
                    helpers[name] = method
        return helpers

    def _inner(self, group: Group) -> list[Group]:
        return [g for g in self.candidates if group.start <= g.start and g.stop <= group.stop
                and (g.start, g.stop) != (group.start, group.stop)]

    # -- text ------------------------------------------------------------------------------
    def render(self, start: int, stop: int, names: dict[int, str],
               target: Callable[[int], str] | None = None) -> list[str]:
        """The lines computing nodes start..stop-1: a helper call for each outermost
        chosen block inside, a layer's lines for the rest. `target(node)` names each
        value assigned (default: `names`), and records it in `names`."""
        out: list[str] = []
        index = start
        outer = (start, stop)
        while index < stop:
            block = next((g for g in self.chosen if g.start == index and g.stop <= stop
                          and (g.start, g.stop) != outer), None)
            last = block.stop - 1 if block else index
            if target is not None:
                names[last] = target(last)
            if block is None:
                node = self.graph.nodes[index]
                if node.kind != "input":
                    out += self.lines(names[index], self.steps[index],
                                      [names[i] for i in node.inputs])
                index += 1
                continue
            use = self.use(block)
            args = [names[i] for i in use.inputs] + [f"self.{a}" for a in use.attrs]
            out += wrapped(f"{names[last]} = self.{self.helpers[_def(block)]}(", args, ")",
                           self.width)
            index = block.stop
        return out

    def use(self, group: Group) -> Use:
        """The block's use with names of its own: `x` (or `x1`, `x2`...) for its inputs,
        `h1`, `h2`... for its values, its modules by kind (`conv1`, `batchnorm2`)."""
        inside = range(group.start, group.stop)
        inputs = tuple(dict.fromkeys(i for n in inside for i in self.graph.nodes[n].inputs
                                     if i < group.start))
        names = {i: ("x" if len(inputs) == 1 else f"x{k + 1}") for k, i in enumerate(inputs)}
        counter = iter(range(1, len(inside) + 1))
        body = self.render(group.start, group.stop, names, lambda _: f"h{next(counter)}")
        body.append(f"return {names[group.stop - 1]}")
        kinds: dict[str, int] = {}
        local: dict[int, str] = {}
        for index in inside:
            if self.steps.get(index) and self.steps[index].modules:
                kind = self.graph.nodes[index].kind
                kinds[kind] = kinds.get(kind, 0) + 1
                local[index] = f"{kind}{kinds[kind]}"
        attrs: dict[str, str] = {}  # the network's attribute -> the helper's parameter

        def param(match: re.Match) -> str:
            attr = match[1]
            node = self.owner.get(attr)
            if node is None or node not in inside:
                return match[0]  # a helper (`self.cbr`) or another block's
            if attr not in attrs:
                attrs[attr] = local[node] + attr[len(self.attrs[node]):]
            return attrs[attr]
        body = [SELF_ATTR.sub(param, line) for line in body]
        return Use(tuple(body), tuple(attrs.values()), tuple(attrs), inputs)

    def methods(self) -> list[str]:
        """Each helper method's lines (indented for the class), in the order of first use."""
        out: list[str] = []
        done: set[str] = set()
        for group in self.chosen:
            name = _def(group)
            if name in done:
                continue
            done.add(name)
            use = self.use(group)
            shown = " ".join(group.text.split()).replace('"' * 3, "'" * 3)
            inputs = ["x"] if len(use.inputs) == 1 else [f"x{k + 1}"
                                                         for k in range(len(use.inputs))]
            head = wrapped(f"def {self.helpers[name]}(", ["self", *inputs, *use.params],
                           "):", self.width + 4)
            out += ["", *(f"    {line}" for line in head),
                    f'        """`{name}`, a block of the spec: one use is `{shown}`."""',
                    *(f"        {line}" for line in use.body)]
        return out


def wrapped(start: str, args: list[str], end: str, width: int) -> list[str]:
    """`start` + args joined + `end` on one line if it fits, else the arguments on lines
    of their own, indented by four."""
    one = start + ", ".join(args) + end
    if len(one) <= width:
        return [one]
    lines, current = [start], "    "
    for arg in args:
        piece = arg + ","
        if len(current) + len(piece) + 1 > width and current.strip():
            lines.append(current.rstrip())
            current = "    "
        current += piece + " "
    lines.append(current.rstrip().rstrip(",") + end)
    return lines


def _def(group: Group) -> str | None:
    """The block a use names (`project(64, s=1)` -> `project`); None for what is not one."""
    found = DEF_USE.fullmatch(group.text.strip())
    return found[1] if found else None

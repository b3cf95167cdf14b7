"""The IR as `.cnn` text: what `cnndsl import` writes (and later `cnndsl fmt`).

    text = to_text(graph)                     # blocks and repetitions folded
    text = to_text(graph, names=True)         # every layer's `name=` kept, nothing folded

The graph is split into the language's nesting (`structure.decompose`: chains, merges
and their branches), each layer written as its step (`printing.steps`), repeated
sub-chains folded into `def` blocks and `( ... ) * N` (`printing.fold`), and the lines
laid out as a person would (`printing.layout`): the network a stage a line, each line
ending with the shape it makes. A graph that nesting cannot say (several inputs or
outputs, a tensor read across branches) is written with named tensors, its repeated
cells as blocks with tensor parameters (`printing.cells`), or, should that text not read
back (a bug), as `printing.named` writes it. Parsing the text gives the same layers (in
the same order where it nests), so automatic names follow from it; `to_text` reads it
back to make sure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Set

from ...errors import NOWHERE, CnnError
from ...graph.ir import Graph
from ...graph.structure import NotSeriesParallel, decompose
from ...layers import BY_WORD, MERGES
from ...layers.shapes import format_shape
from ...support.escaping import cnn_comment, cnn_name
from .cells import cell_lines
from .check import Mismatch, match
from .fold import Hints, Program, fold_blocks, uses
from .layout import WIDTH, chain_lines
from .named import labels, named_lines, needs_names, tree_lines
from .steps import StepWords
from .terms import (
    Block,
    Call,
    Leaf,
    Merge,
    Repeat,
    Term,
    ends_stage,
    first_node,
    flat_text,
    is_attached,
    terms_of,
    word_text,
)

COMMENT_COLUMN = 64  # shape comments line up here, or two spaces after a longer line


def to_text(graph: Graph, *, fold: bool = True, names: bool = False,
            header: Iterable[str] = (), kept: Set[int] | None = None,
            outputs: Mapping[int, str] | None = None) -> str:
    """The network as `.cnn` text; `header` lines are written first, as comments.

    A graph the nesting cannot say (several inputs or outputs, or a tensor read across
    branches) is written with named tensors instead, cells alike folded into blocks
    (`printing.cells`); unfolded (`printing.named`) if that text does not read back.
    Automatic names follow from the order the text writes the layers in. A graph compiled
    from text keeps its layer names: where the printed text would name a layer otherwise
    (a layer left out of the network leaves a gap: `relu_2` with no `relu_1`; named
    tensors write a layer where it is read; `name=` in the source), it is read back and
    those layers get `name=`. An imported graph has no source text: `kept` says whose
    names are to come back (the model's, where they say more than `KIND_N`); the others
    give way to automatic names. An input kept is named (`name=`) where it is not `input`.
    Blocks and repetitions are folded only while no layer in them needs `name=` (a block
    used twice would repeat it). `outputs` names output tensors as an imported model does
    (`... as logits`, `output @logits, @boxes`)."""
    from ...language.frontend import compile_text  # the printer's own check; not at import time

    if kept is None:
        written = {n.index for n in graph.nodes if n.kind != "input" and n.span != NOWHERE}
        start: set[int] = set()
    else:
        written = {i for i in kept if graph.nodes[i].kind != "input"}
        start = {i for i in kept if graph.nodes[i].kind == "input"
                 and graph.nodes[i].name != "input" and len(graph.inputs) == 1}
    for flat in (False, True):  # nested named tensors; failing that (a bug), one a line
        first = names if names is True else (start or names)
        text = _text(graph, fold, first, header, flat, outputs=outputs)
        if not flat and fold and not names and "@" in text:  # named: cells as blocks
            cells = _text(graph, fold, names, header, cells=True, outputs=outputs)
            text = _checked(graph, cells) or text
        keep: set[int] = set(start)
        for _ in range(3):  # names given grow; those before them settle in one round
            try:
                reparsed = compile_text(text, graph.name)
                twin = match(graph, reparsed)
            except Mismatch:
                break
            except CnnError:  # a name given clashes with an automatic one: give them all
                if keep == written | start:
                    break
                keep = written | start
                text = _text(graph, fold, keep, header, flat, outputs=outputs)
                continue
            wrong = {i for i in written if reparsed.nodes[twin[i]].name != graph.nodes[i].name}
            if names or not wrong - keep:
                return text
            keep |= wrong
            text = _text(graph, fold, keep, header, flat, outputs=outputs)
    return text  # the caller's read-back check says what is wrong


def _checked(graph: Graph, text: str) -> str | None:
    """`text` if it reads back as `graph` (its layers, shapes and wiring), else None."""
    from ...language.frontend import compile_text

    try:
        reparsed = compile_text(text, graph.name)
        match(graph, reparsed)
    except (CnnError, Mismatch):
        return None
    return text


def _text(graph: Graph, fold: bool, names: bool | Set[int], header: Iterable[str],
          flat: bool = False, cells: bool = False,
          outputs: Mapping[int, str] | None = None) -> str:
    """The text, with `name=` on every layer (True) or on the layers of those indices, in
    `cnndsl fmt`'s layout: what `cnndsl import` writes is formatted by construction."""
    from ...formatting import FormatterBug, Unreadable, layout

    text = _lines(graph, fold, names, header, flat, cells, outputs)
    try:
        return layout(text)
    except (Unreadable, FormatterBug):  # a bug; the caller's read-back check says what
        return text


def _lines(graph: Graph, fold: bool, names: bool | Set[int], header: Iterable[str],
           flat: bool, cells: bool, outputs: Mapping[int, str] | None) -> str:
    """`_text` as the printer lays it out."""
    words = StepWords().words
    lines = [f"# {cnn_comment(h, limit=None)}".rstrip() for h in header]
    lines += [""] if lines else []
    try:
        if needs_names(graph):
            raise NotSeriesParallel(-1, -1)
        chain = decompose(graph)
    except NotSeriesParallel:
        if cells:
            label = labels(graph, set(range(len(graph.nodes))), len(graph.inputs) > 1,
                           outputs)
            taken = set(TAKEN)
            found = cell_lines(graph, words, label.__getitem__, taken,
                               lambda chains: _fold_chains(graph, chains, taken))
            return "\n".join(lines + found) + "\n"
        lay = named_lines if flat else tree_lines
        return "\n".join(lines + lay(graph, words, names, outputs)) + "\n"
    program = Program(terms_of(graph, chain, words, names), [])
    layers_named = names is True or bool(names and set(names) - set(graph.inputs))
    if fold and not layers_named:  # a block used twice would repeat its names
        fold_blocks(program, _hints(graph))
    _name_blocks(program)
    lines += _definitions(program)
    head = " ".join(word_text(w) for w in words(graph.input))
    keep_input = names if isinstance(names, bool) else graph.inputs[0] in names
    if keep_input and graph.input.name != "input":
        head += f" name={cnn_name(graph.input.name)}"
    lines.append(head)
    named = (outputs or {}).get(graph.outputs[0])
    lines += _network(graph, program.main, f" as {named}" if named else "")
    return "\n".join(lines) + "\n"


def _hints(graph: Graph) -> Hints:
    return Hints(lambda t: ends_stage(t, graph), _bonds(graph),
                 lambda a, b: graph.nodes[a].in_shapes[0][-1] == graph.nodes[b].shape[-1],
                 lambda t: "@" in flat_text(t) or " as " in flat_text(t))


def _fold_chains(graph: Graph, chains: list[list[Term]], taken: set[str]) -> list[str]:
    """Sub-chains repeated in `chains` (cells' bodies, statements), folded in place into
    blocks; the blocks' definitions. Terms that name tensors stay where they are."""
    program = Program([], [Block("", [], terms, pinned=True) for terms in chains])
    fold_blocks(program, _hints(graph))
    found = Program([], [b for b in program.blocks if not b.pinned])
    _name_blocks(found, taken)
    return _definitions(found)


AUTOMATIC = re.compile(r"[a-z]+(?:_[a-z]+)*(?:_\d+)?")  # conv_3, batch_normalization_2


def _bonds(graph: Graph):
    """`bond(a, b)`: the words two layers' names begin with alike (`block_3_expand`,
    `block_3_expand_BN`: 3); automatic names (`conv_3`, Keras's `conv2d_1`) say nothing
    of how the author grouped layers, so they share none."""
    words = [[] if AUTOMATIC.fullmatch(n.name) else n.name.split("_") for n in graph.nodes]

    def bond(a: int, b: int) -> int:
        same = 0
        for x, y in zip(words[a], words[b]):
            if x != y:
                break
            same += 1
        return same

    return bond


# -- blocks ---------------------------------------------------------------------------------

def _definitions(program: Program) -> list[str]:
    lines: list[str] = []
    for block in program.blocks:
        params = ", ".join(p.name + ("" if p.default is None else f"={p.default}")
                           for p in block.params)
        lead = f"def {block.name}{f'({params})' if params else ''} = "
        body = chain_lines(block.body, lead, 4, first_base=2)
        if len(body) > 1 and lines and lines[-1]:
            lines.append("")
        lines += body
        if len(body) > 1:
            lines.append("")
    if lines and lines[-1]:
        lines.append("")
    return lines


TAKEN = set(BY_WORD) | set(MERGES) | {"id", "residual", "input", "def", "C"}
SINGLE = {"batchnorm": "bnorm", "conv": "cnv", "dwconv": "dw", "sepconv": "sep",
          "dense": "fc", "zeropad": "pad", "dropout": "drop", "activation": "act"}
SINGLE.update(zeropad="zpad", pad="zpad")  # version 3: `pad` is a step's word, no block's


def _name_blocks(program: Program, taken: set[str] | None = None) -> None:
    """Blocks in the order they can be defined (used ones first), named by what they are,
    parameters by what they set (`f` widths, `s` strides, `k` kernels, `n` counts)."""
    program.blocks[:] = _ordered(program.blocks)
    taken = set(TAKEN) if taken is None else taken
    for block in program.blocks:
        base = _block_word(block)
        name, k = base, 2
        while name in taken:
            name, k = f"{base}{k}", k + 1
        taken.add(name)
        block.name = name
        seen: dict[str, int] = {}
        for p in block.params:
            seen[p.role] = seen.get(p.role, 0) + 1
            p.name = p.role if seen[p.role] == 1 else f"{p.role}{seen[p.role]}"


def _block_word(block: Block) -> str:
    first = block.body[0]
    if len(block.body) == 1 and isinstance(first, Leaf):
        return SINGLE.get(word_text(first.words[0]), "step")
    if isinstance(first, Merge):
        return {"residual": "res", "concat": "mixed", "mul": "gate"}.get(first.op, "block")
    return "block"


def _ordered(blocks: list[Block]) -> list[Block]:
    """Each block after the blocks its body uses."""
    done: list[Block] = []

    def place(block: Block) -> None:
        if block in done:
            return
        for used in _called(block.body):
            place(used)
        done.append(block)

    for block in blocks:
        place(block)
    return done


def _called(terms: list[Term]) -> list[Block]:
    out: list[Block] = []
    for t in terms:
        if isinstance(t, Call):
            out.append(t.block)
        elif isinstance(t, Merge):
            for b in t.branches:
                out += _called(b)
        elif isinstance(t, Repeat):
            out += _called(t.body)
    return out


# -- the network ----------------------------------------------------------------------------

def _network(graph: Graph, terms: list[Term], tail: str = "") -> list[str]:
    """A stage a line: a new line where the resolution has dropped (after a strided layer
    and what finishes it), before a block or merge that drops it or changes the width,
    and before the head (`gap`, `flatten`); each line ends with the shape it makes, the
    last after `tail` (the output's name: ` as logits`)."""
    groups: list[list[Term]] = []
    dropped = big = False  # in the current group: a layer that drops, a block or merge
    for term in terms:
        if groups and not _breaks(graph, term, dropped, big):
            groups[-1].append(term)
        else:
            groups.append([term])
            dropped = big = False
        dropped |= isinstance(term, Leaf) and _drops(graph, term)
        big |= not isinstance(term, Leaf)
    out: list[str] = []
    for k, group in enumerate(groups):
        lines = chain_lines(group, "  -> ", 4)
        lines[-1] += tail if k == len(groups) - 1 else ""
        shape = format_shape(graph.nodes[group[-1].last].shape)
        room = max(COMMENT_COLUMN, len(lines[-1]) + 2)
        if room + len(shape) + 2 > WIDTH + 8:
            room = len(lines[-1]) + 2
        lines[-1] = lines[-1].ljust(room) + f"# {shape}"
        out += lines
    return out


def _breaks(graph: Graph, term: Term, dropped: bool, big: bool) -> bool:
    """Whether `term` begins a new line after a group with those properties."""
    if is_attached(term, graph):
        return False
    inp, out = _shapes(graph, term)
    if len(out) < len(inp) or dropped:
        return True  # the head, or after a drop in resolution
    return not isinstance(term, Leaf) and (_drops(graph, term) or (inp[-1] != out[-1]
                                                                   and big))


def _shapes(graph: Graph, term: Term):
    first = graph.nodes[first_node(term)]
    return first.in_shapes[0], graph.nodes[term.last].shape


def _drops(graph: Graph, term: Term) -> bool:
    inp, out = _shapes(graph, term)
    return len(out) == len(inp) and out[:-1] != inp[:-1] and out[0] < inp[0]


__all__ = ["to_text", "uses"]

"""A spec written badly on purpose, for the formatter's tests: the same tokens, separated
by random whitespace (spaces, tabs, line breaks, blank lines), with comments inserted at
random token boundaries; and what must not change when it is formatted (the graph).
"""

from __future__ import annotations

import random

from cnndsl.formatting.tree import read

SEPARATORS = (" ", " ", " ", "   ", "\t", "\n", "\n  ", "\n\n", "\n\n\n    ", " \n\t ")


def scrambled(text: str, seed: int, comments: float = 0.1) -> tuple[str, list[str]]:
    """`text` (which must parse) rewritten with random whitespace between its tokens and
    a comment `# cN` after about `comments` of them; the text and the comments it holds
    (its own first, then the new ones, in no particular order)."""
    rng = random.Random(seed)
    source = read(text)
    kept = sorted(source.comments, key=lambda c: c.start_pos)
    added: list[str] = []
    out: list[str] = []
    at = 0
    for token in source.tokens:
        while at < len(kept) and kept[at].start_pos < token.start_pos:
            out.append(f" {str(kept[at]).rstrip()}\n")  # a comment runs to the line's end
            at += 1
        out.append(str(token))
        if rng.random() < comments:
            added.append(f"# c{len(added)} {rng.choice(['', 'note', '-> x', '{ | }'])}".rstrip())
            out.append((" " if rng.random() < 0.5 else "\n") + added[-1] + "\n")
        out.append(rng.choice(SEPARATORS))
    out += [f"{str(c).rstrip()}\n" for c in kept[at:]]
    return "".join(out), [str(c).rstrip() for c in kept] + added


def signature(graph) -> tuple:
    """What a spec means, as far as formatting could change it: every layer's name, kind,
    attributes, inputs, shape and parameter count, and the named inputs and outputs."""
    return (tuple((n.name, n.kind, repr(n.layer), n.inputs, n.shape,
                   tuple(n.layer.params(n.in_shapes))) for n in graph.nodes),
            graph.inputs, graph.outputs, graph.tensors, graph.listed)


def comments_of(text: str) -> list[str]:
    """The comments a text holds, in order."""
    return [str(c).rstrip() for c in read(text).comments]

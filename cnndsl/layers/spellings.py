"""What an unknown step word probably meant, for its hint.

    globalavgpool            did you mean `gap`?        (Keras's GlobalAvgPool2D)
    Linear                   did you mean `dense`?      (PyTorch's; `linear` is an activation)
    GlobalMaxPooling2D       did you mean `gmp`?
    LeakyReLU                did you mean `leaky_relu`?
    Concatenate              did you mean `concat`? a merge is written `concat { A | B }`
    activation relu          write `relu` by its name alone: ...  (Keras's Activation)

A word is compared with every way a step can be spelt: the language's own words and the
names other frameworks give each kind, which every class of the catalogue lists as
`other_names` beside its definition (there is no separate table to fall out of date).
Frameworks differ in case, in `_`, and in a dimension suffix (`2D`, `2d`), so all of
those are set aside before comparing (`plain`); an exact match of the plain forms wins
over a close one, which is what sends `globalavgpool` to `gap` and not to `avgpool`.
"""

from __future__ import annotations

import re

from ..errors import did_you_mean
from ..syntax import ast
from . import KINDS, MERGES
from .activations import ACTIVATIONS
from .core import ActivationStep, Input

MERGE_WORDS = (*MERGES, "residual")


def plain(name: str) -> str:
    """A name without what frameworks differ in: case, `_`, `-`, a dimension suffix.

    >>> plain("GlobalAveragePooling2D"), plain("global_avg_pool"), plain("ConvTranspose2d")
    ('globalaveragepooling', 'globalavgpool', 'convtranspose')
    >>> plain("relu6"), plain("leaky_relu")
    ('relu6', 'leakyrelu')
    """
    joined = re.sub(r"[_\-\s]", "", name.lower())
    return re.sub(r"(?<=[a-z])[123]d", "", joined)


def _other_names() -> dict[str, str]:
    """Other frameworks' names, as they spell them, to the word that writes the kind
    (ActivationStep's to its kind, `activation`, which no word writes). vars(): a
    class's own names only, since a subclass may be another kind (`crop`, `zeropad`)."""
    return {name: kind.kind for kind in KINDS if kind is not Input
            for name in vars(kind).get("other_names", ())}


def _spellings() -> dict[str, str]:
    """Every plain spelling of a step to the word that writes it; the language's own
    words win over other frameworks' names."""
    table = {plain(name): word for name, word in OTHER_NAMES.items()}
    for kind in KINDS:
        if kind is not Input:  # `input` starts a statement; it is never an unknown step
            table.update({plain(w): w for w in kind.words or (kind.kind,)})
    table[plain("residual")] = "residual"
    return table


OTHER_NAMES = _other_names()
SPELLINGS = _spellings()


def unknown_step_hint(step: ast.Layer, blocks: list[str]) -> str:
    """The hint for `step`, whose word is no step of the catalogue nor a block."""
    if step.word in MERGE_WORDS:
        return f"a merge is written `{step.word} {{ A | B }}`"
    meant = _meant(step.word, blocks)
    if meant is None:
        return "see docs/language.md for the steps"
    if meant == ActivationStep.kind:
        return _activation(step.args)
    if meant in MERGE_WORDS:
        return f"did you mean `{meant}`? a merge is written `{meant} {{ A | B }}`"
    return f"did you mean `{meant}`?"


def _meant(word: str, blocks: list[str]) -> str | None:
    """The word `word` stands for: another framework's name as it spells it (PyTorch's
    `Linear` is `dense`, though `linear` is an activation), the same plain spelling, else
    the closest one."""
    exact = OTHER_NAMES.get(word) or SPELLINGS.get(plain(word))
    if exact is not None:
        return exact
    choices = {**{plain(b): b for b in blocks}, **SPELLINGS}
    close = did_you_mean(plain(word), list(choices))
    return choices[close] if close is not None else None


def _activation(args: tuple[ast.Arg, ...]) -> str:
    """Keras's `Activation("relu")` written `activation relu`: the function's name is the
    step (and a conv's or dense's last argument fuses it)."""
    name = next((_written(a) for a in args if _written(a).split("=")[0] in ACTIVATIONS),
                None)
    example = name or "relu"
    return (f"write {'the activation' if name is None else f'`{name}`'} by its name alone: "
            f"`-> {example}` is an activation step; after a conv's or dense's arguments "
            f"(`conv 3x3 x16 {example}`) it is fused into that layer")


def _written(arg: ast.Arg) -> str:
    """`relu`, `leaky_relu=0.1`: an argument naming an activation, as written."""
    if isinstance(arg, ast.Word):
        return arg.name
    if isinstance(arg, ast.Option) and not isinstance(arg.value, ast.Values):
        value = arg.value
        return f"{arg.key}={value.name if isinstance(value, ast.Word) else value.text}"
    return ""

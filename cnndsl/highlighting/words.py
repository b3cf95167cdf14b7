"""Every word of the `.cnn` language by what it is, read from the layer catalogue.

    conv 3x3/2 x64 same relu bias=false name=stem
    ^^^^           ^^^^ ^^^^ ^^^^       ^^^^
    layer          |    activation      option (every step takes `name=`)
                   constant (a padding; `true`, `false`)

The grammar calls all of these names; what each one means is the catalogue's
(cnndsl/layers). The lexer colours by these lists and the language server completes from
them, so both follow the catalogue and cannot drift apart.

A kind's options and bare flag words (`maxpool 3/2 ceil`) are not listed anywhere: each
kind asks its argument reader for them inside its `read`. So `step_syntax` lets the kind
read a step through a probe, a reader that answers every required number with the
smallest legal value: what the kind asks the probe for is its syntax. A flag counts when
the kind accepts it written alone at one of the input ranks it takes (`causal` only in
1-D, and never on `maxpool`, which asks for it only to refuse it).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from ..errors import CnnError, Span
from ..layers import BY_KIND, BY_WORD, MERGES, Layer, LayerError
from ..layers.activations import VALUED
from ..layers.arguments import BOOLEANS, PADDINGS, ArgReader
from ..layers.core import ActivationStep
from ..layers.spellings import MERGE_WORDS
from ..syntax import ast

# The grammar's reserved words (grammar/cnn.lark: DEF, INPUT, OUTPUT, AS) other than the
# merges; tests/test_highlighting.py holds this list to the grammar.
KEYWORDS = ("def", "input", "output", "as")
IDENTITY = "id"  # a whole merge branch that passes its input on: `add { id | A }`
NAME_OPTION = "name"  # taken by every step, merges and the input included


def layer_words() -> tuple[str, ...]:
    """The words that write a layer step, activations excepted, sorted.

    >>> [w for w in layer_words() if w.startswith("conv") or w.endswith("norm")]
    ['batchnorm', 'conv', 'groupnorm', 'instancenorm', 'layernorm']
    >>> "bn" in layer_words(), "relu" in layer_words(), "input" in layer_words()
    (True, False, False)
    """
    return tuple(sorted(w for w, kind in BY_WORD.items() if kind is not ActivationStep))


def activation_words() -> tuple[str, ...]:
    """The activation functions, fused (`conv 3 x8 relu`) or a step (`-> relu`), sorted;
    aliases included (`swish` is `silu`).

    >>> {"relu", "swish", "hard_silu", "log_softmax"} <= set(activation_words())
    True
    """
    return tuple(sorted(w for w, kind in BY_WORD.items() if kind is ActivationStep))


def valued_activation_words() -> tuple[str, ...]:
    """The activations that may be written with a value: `leaky_relu=0.1`, `clip=-1,1`.

    >>> valued_activation_words()
    ('celu', 'clip', 'elu', 'gelu', 'leaky_relu')
    """
    return tuple(sorted(VALUED))


def merge_words() -> tuple[str, ...]:
    """The merge words, written before branches in braces: `concat { A | B }`.

    >>> merge_words()
    ('add', 'avg', 'concat', 'max', 'mul', 'residual', 'split')
    """
    return tuple(sorted(MERGE_WORDS))


def constant_words() -> tuple[str, ...]:
    """The paddings and the booleans, the words an argument or option value may be.

    >>> constant_words()
    ('false', 'same', 'true', 'valid')
    """
    return tuple(sorted((*PADDINGS, *BOOLEANS)))


def option_names(word: str | None = None) -> tuple[str, ...]:
    """The options (`key=value`) the step `word` takes, `name` included; without a
    word, every step's. Valued activations (`leaky_relu=0.1`) are activations, not here.

    >>> option_names("conv")
    ('bias', 'dilation', 'groups', 'name', 'pad')
    >>> option_names("relu"), option_names("concat")
    (('name',), ('name',))
    >>> {"eps", "momentum", "mean", "outpad", "noise"} <= set(option_names())
    True
    """
    if word is not None:
        return step_syntax(word).options
    return tuple(sorted({o for w in step_words() for o in step_syntax(w).options}))


def flag_words(word: str | None = None) -> tuple[str, ...]:
    """The bare words (`keepdims`, `ceil`, `reflect`) the step `word` accepts besides a
    padding and an activation; without a word, every step's.

    >>> flag_words("maxpool"), flag_words("avgpool"), flag_words("conv")
    (('ceil',), ('ceil', 'include_pad'), ('causal',))
    >>> flag_words("dense")
    ()
    """
    if word is not None:
        return step_syntax(word).flags
    return tuple(sorted({f for w in step_words() for f in step_syntax(w).flags}))


def step_words() -> tuple[str, ...]:
    """Every word that starts a step (layers, activations, merges) and `input`."""
    return (*layer_words(), *activation_words(), *merge_words(), "input")


@dataclass(frozen=True)
class StepSyntax:
    """What a step word takes: its argument forms (`size`, `width`, `count`, `scalar`,
    `padding`, `activation`), its option names and its flag words, each sorted."""

    forms: tuple[str, ...]
    options: tuple[str, ...]
    flags: tuple[str, ...]


@cache
def step_syntax(word: str) -> StepSyntax:
    """The syntax of the step `word`, as its kind reads it (see the module's docstring).

    >>> step_syntax("dwconv").forms
    ('activation', 'padding', 'size', 'width')
    >>> step_syntax("upsample")
    StepSyntax(forms=('size',), options=('name',), flags=('bilinear',))
    >>> step_syntax("conv3d")
    Traceback (most recent call last):
    KeyError: 'no step is written `conv3d`'
    """
    kind = _kind(word)
    forms: set[str] = set()
    options = {NAME_OPTION}
    asked: set[str] = set()
    for rank in kind.ranks:
        probe = _read(kind, word, rank)[0]
        forms.update(probe.asked)
        options.update(probe.options_read)
        asked.update(probe.flags)
    flags = {f for f in asked if any(_read(kind, word, r, f)[1] for r in kind.ranks)}
    return StepSyntax(tuple(sorted(forms)), tuple(sorted(options)), tuple(sorted(flags)))


def _kind(word: str) -> type[Layer]:
    if word == "residual":
        return MERGES["add"]
    kind = BY_WORD.get(word) or MERGES.get(word) or (BY_KIND["input"] if word == "input"
                                                     else None)
    if kind is None:
        raise KeyError(f"no step is written `{word}`")
    return kind


class _Probe(ArgReader):
    """A reader of a step written with at most one bare word: every required number is
    answered with the smallest legal value, so that `read` runs on and asks for each
    option and flag the kind knows. The input is all ones, of the rank probed."""

    def __init__(self, word: str, rank: int, written: str | None) -> None:
        span = Span(1, 1, 0, 0)
        super().__init__(word, [ast.Word(written, span)] if written else [], {}, span)
        self.rank = rank

    def size(self, what, rank, *, example="", stride=False, pairs=False, minimum=1,
             required=True, allow_scalar_only=False):
        self.asked["size"] = (rank, stride, None)
        if rank == 0:  # as many numbers as written: `input`, `reshape` to the same shape
            return (1,) * self.rank, None
        return ((minimum, minimum) if pairs else max(minimum, 1),) * rank, None

    def scalar(self, what, *, example=""):
        self.asked["scalar"] = (0, False, None)
        return 0.0

    def count(self, what, *, example=""):
        self.asked["count"] = (0, False, None)
        return 1

    def width(self, what, *, example="", required=True, default=1):
        self.asked["width"] = (0, False, None)
        return 1 if required else default


def _read(kind: type[Layer], word: str, rank: int,
          written: str | None = None) -> tuple[_Probe, bool]:
    """The probe after `kind` read the step, and whether it accepted what was written."""
    probe = _Probe(word, rank, written)
    try:
        kind.read(probe, ((1,) * rank,))
        probe.finish(kind.options)
    except (LayerError, CnnError):
        return probe, False
    return probe, True


__all__ = ["IDENTITY", "KEYWORDS", "NAME_OPTION", "StepSyntax", "activation_words",
           "constant_words", "flag_words", "layer_words", "merge_words", "option_names",
           "step_syntax", "step_words", "valued_activation_words"]

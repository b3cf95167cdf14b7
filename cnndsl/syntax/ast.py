"""The syntax tree of a `.cnn` file: what was written, before any meaning is given to it.

Nodes are frozen dataclasses with a `span`. Arguments keep their text: sizes such as
`{k}x{k}/2` are split and evaluated later (`cnndsl.layers.arguments`), when block parameters and `C`
are known.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import Span


@dataclass(frozen=True)
class Size:
    """`3`, `3x3/2`, `0:1x0:1`, `{k}x{k}`: one or more dimensions, maybe a stride."""

    text: str
    span: Span


@dataclass(frozen=True)
class Number:
    """A literal with a fraction or exponent: `0.5`, `1.001e-5`."""

    text: str
    span: Span


@dataclass(frozen=True)
class Width:
    """`x64` or `x{2*n}`: a count of filters, units or a depth multiplier (text after `x`)."""

    text: str
    span: Span


@dataclass(frozen=True)
class Word:
    """A bare word argument: `same`, `relu`, `false`."""

    name: str
    span: Span


@dataclass(frozen=True)
class Values:
    """`0.485,0.456,0.406`: a comma list, only ever an option's value."""

    items: tuple[Value, ...]
    span: Span


@dataclass(frozen=True)
class Option:
    """`key=value`, as in `dilation=2`, `bias=false`, `name=stem`, `mean=0.5,0.4`."""

    key: str
    value: Value | Values
    span: Span
    key_span: Span


Value = Size | Number | Word
Arg = Size | Number | Word | Width | Option


@dataclass(frozen=True)
class Layer:
    """A step named by a word: a layer kind, an activation, a block, or `id`."""

    word: str
    args: tuple[Arg, ...]
    span: Span
    word_span: Span


@dataclass(frozen=True)
class Call:
    """A block used with arguments: `block(64, k=5)`."""

    name: str
    args: tuple[Value | Ref, ...]
    kwargs: tuple[Option, ...]
    span: Span
    name_span: Span


@dataclass(frozen=True)
class Merge:
    """`add { A | B }`; `residual { A }` is kept as written and expanded later; `parts`
    are the sizes written after the merge word (`split 24,40 { A | B }`), if any."""

    op: str
    branches: tuple[Chain, ...]
    args: tuple[Arg, ...]
    span: Span
    op_span: Span
    parts: Values | None = None


@dataclass(frozen=True)
class Repeat:
    """`( CHAIN ) * N`."""

    body: Chain
    count: Value
    span: Span


@dataclass(frozen=True)
class Ref:
    """`@NAME`: a named tensor, as a step (the chain goes on from it), at the start of a
    merge branch, or as a block's tensor argument."""

    name: str
    span: Span


@dataclass(frozen=True)
class Bound:
    """`STEP as NAME`: names the tensor `step` ends with."""

    step: Layer | Call | Merge | Repeat | Ref
    name: str
    span: Span
    name_span: Span


Step = Layer | Call | Merge | Repeat | Ref | Bound


@dataclass(frozen=True)
class Chain:
    steps: tuple[Step, ...]
    span: Span


@dataclass(frozen=True)
class Param:
    """A block parameter: a number (`n`, `k=3`) or, written `@prev`, a tensor."""

    name: str
    default: Value | None
    span: Span
    tensor: bool = False


@dataclass(frozen=True)
class Definition:
    """`def NAME(PARAMS) = CHAIN`."""

    name: str
    params: tuple[Param, ...]
    body: Chain
    span: Span
    name_span: Span


@dataclass(frozen=True)
class Statement:
    """`input DIMS [as NAME] -> CHAIN`, or a chain that starts from named tensors.

    With `input`, `input` is its first layer, `binding` the name after it (`as image`)
    and the chain may be absent; without, `input` is None and the chain starts with
    `@NAME` or a merge of branches that do."""

    input: Layer | None
    binding: Ref | None
    body: Chain | None
    span: Span


@dataclass(frozen=True)
class Module:
    """A file: blocks, statements, and the outputs if listed (`output @a, @b`)."""

    definitions: tuple[Definition, ...]
    statements: tuple[Statement, ...]
    outputs: tuple[Ref, ...] = ()
    outputs_span: Span | None = None

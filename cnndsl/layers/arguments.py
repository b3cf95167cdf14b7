"""Giving meaning to a step's written arguments: `3x3/2`, `x64`, `same`, `dilation=2`.

A layer kind asks an `ArgReader` for what it takes (`a.kernel(...)`, `a.width(...)`,
`a.option_int("groups", 1)`); the reader evaluates `{expr}`s, checks whole numbers and
dimension counts, and reports any argument nobody asked for as unknown, with a located
error. So each layer's syntax is a few readable lines in its own class.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from fractions import Fraction

from ..errors import CnnError, Span, did_you_mean
from ..support.limits import MAX_WHOLE
from ..syntax import ast
from ..syntax.expr import number
from .activations import ACTIVATIONS, Activation
from .keras_spellings import KerasSpellings
from .shapes import format_shape
from .valued import written_activation
from .values import Env, atom_value, masked_braces, split_top, to_float, whole

PADDINGS = ("same", "valid")
BOOLEANS = {"true": True, "false": False}


def _word_class(word: str) -> str:
    return "activation" if word in ACTIVATIONS else "padding" if word in PADDINGS else word


def _same_kind(a: ast.Arg, b: ast.Arg) -> bool:
    """Two arguments that fill the same slot: both `bias=`, both activations, both sizes."""
    if isinstance(a, ast.Option) and isinstance(b, ast.Option):
        return a.key == b.key
    if isinstance(a, ast.Word) and isinstance(b, ast.Word):
        return _word_class(a.name) == _word_class(b.name)
    return type(a) is type(b) and not isinstance(a, (ast.Option, ast.Word))


def _describe(arg: ast.Arg) -> str:
    if isinstance(arg, ast.Option):
        return f"option `{arg.key}`"
    if isinstance(arg, ast.Word):
        return {"activation": "an activation", "padding": "a padding"}.get(
            _word_class(arg.name), f"`{arg.name}`")
    if isinstance(arg, ast.Width):
        return f"a width (`x{arg.text}`)"
    return f"a size or number (`{arg.text}`)"


def _is_scalar(arg: object) -> bool:
    """A single number: `10`, `0.5`, `{p}`, not `3x3`, `2/2` or `0:1`."""
    if isinstance(arg, ast.Number):
        return True
    if not isinstance(arg, ast.Size):
        return False
    masked = masked_braces(arg.text) if "{" in arg.text else arg.text
    return not any(c in masked for c in "x/:")


class ArgReader(KerasSpellings):
    """Hands a step's arguments to its layer kind, one request at a time."""

    def __init__(self, step: str, args: Iterable[ast.Arg], env: Env, span: Span,
                 rank_word: str = "", lookup: Callable[[str], object] = lambda word: None
                 ) -> None:
        self.step, self.env, self.span = step, env, span
        # The catalogue's lookup of a step word (`maxpool`), for the hint on a missing
        # `->`: given by the caller, as the catalogue's kinds read their arguments through
        # this module, which so cannot import the catalogue itself.
        self.lookup = lookup
        self.rank_word = rank_word  # e.g. "2-D", for messages about dimension counts
        self.args = [a for a in args if not (isinstance(a, ast.Option) and a.key == "name")]
        self.used: set[int] = set()
        self.flags: list[str] = []  # words asked for by `flag`, for did-you-mean hints
        # The forms the layer asked for (`size`, `width`, ...), for Keras spellings' hints;
        # a size's entry is (rank, takes a stride, the argument taken or None).
        self.asked: dict[str, tuple] = {}
        self.input_shape: tuple[int, ...] = ()  # of the `input` step read, if it is one
        self.options_read: set[str] = set()  # the option names the layer asked for

    # -- positional forms ---------------------------------------------------------------
    def _take(self, test) -> ast.Arg | None:
        for i, arg in enumerate(self.args):
            if i not in self.used and test(arg):
                self.used.add(i)
                return arg
        return None

    def _missing(self, what: str, example: str, form: str) -> CnnError:
        """The error for a required argument not written; if it was written in Keras's
        spelling (`filters=32`) or without its mark (`32` for `x32`), say how to write it."""
        for i, arg in enumerate(self.args):
            if i in self.used:
                continue
            if isinstance(arg, ast.Option) and self._keras_form(arg) == form:
                return self._keras_spelling(arg, what)
            if form == "width" and _is_scalar(arg):
                assert isinstance(arg, (ast.Size, ast.Number))
                return CnnError(f"`{self.step}` writes its {what} with an `x`: `x{arg.text}`",
                                arg.span, f"write `{self._rewritten(arg, 'x' + arg.text)}`")
        return CnnError(f"`{self.step}` needs a {what}", self.span, f"write it as `{example}`")

    def size(self, what: str, rank: int, *, example: str, stride: bool = False,
             pairs: bool = False, minimum: int = 1, required: bool = True,
             allow_scalar_only: bool = False):
        """A size such as `3x3/2`: returns (dims, stride-or-None), one entry per dimension.

        With `pairs`, each dimension may be `B:A` and dims are (before, after) pairs.
        """
        arg = self._take(lambda a: isinstance(a, ast.Size))
        self.asked["size"] = (rank, stride, arg)  # (dimensions, takes a stride, taken)
        if arg is None:
            if required:
                raise self._missing(what, example, "size")
            return None, None
        assert isinstance(arg, ast.Size)
        parts = split_top(arg.text, "/")
        if len(parts) > 1 and not stride:
            raise CnnError(f"{what} of `{self.step}` takes no stride", arg.span.shifted(
                parts[1][1] - 1, len(parts[1][0]) + 1), f"remove `/{parts[1][0]}`")
        dims = self._dims(parts[0][0], parts[0][1], arg.span, what, rank, pairs, minimum)
        strides = (self._dims(parts[1][0], parts[1][1], arg.span, "stride", rank, False, 1)
                   if len(parts) > 1 else None)
        return dims, strides

    def _dims(self, text: str, offset: int, span: Span, what: str, rank: int, pairs: bool,
              minimum: int) -> tuple:
        values = []
        for dim_text, dim_at in split_top(text, "x"):
            halves = split_top(dim_text, ":")
            if len(halves) > 1 and not pairs:
                raise CnnError(f"{what} takes no `before:after` pair", span.shifted(
                    offset + dim_at, len(dim_text)), "only `zeropad` and `crop` take "
                    "`before:after` pairs (`zeropad 0:1`); write one number here")
            nums = []
            for part, part_at in halves:
                if part.isdigit() and len(part) <= 13 and minimum <= int(part) <= MAX_WHOLE:
                    nums.append(int(part))  # the common case: no span, no Fraction
                    continue
                where = span.shifted(offset + dim_at + part_at, len(part))
                nums.append(whole(atom_value(part, where, self.env), what, where, minimum))
            values.append(tuple(nums) * (2 if len(nums) == 1 and pairs else 1)
                          if pairs else nums[0])
        if rank == 0:  # as many dimensions as written (input, reshape)
            return tuple(values)
        if len(values) == 1 and rank > 1:
            values = values * rank
        if len(values) != rank:
            where = span.shifted(offset, len(text))
            dims = "dimension" if rank == 1 else "dimensions"
            hint = f"write one number, or exactly {rank} joined by `x`"
            if len(self.input_shape) == len(values):  # `input 28x28` then `conv 3x3`
                image = format_shape((*self.input_shape, 1))
                hint = (f"`input {format_shape(self.input_shape)}` has no channel axis, so it "
                        f"is read as {self.rank_word}; for an image with one channel, "
                        f"write `input {image}`")
            raise CnnError(f"{what} `{text}` has {len(values)} numbers, but this "
                           f"{self.rank_word} step has {rank} spatial {dims}", where, hint)
        return tuple(values)

    def scalar(self, what: str, *, example: str) -> float:
        """One required number as a float: `10`, `0.5` or `{p}`."""
        arg = self._take(_is_scalar)
        self.asked["scalar"] = (0, False, arg)
        if arg is None:
            self._no_fractions(what)
            raise self._missing(what, example, "scalar")
        return to_float(self._value(arg), what, arg.span)

    def _no_fractions(self, what: str) -> None:
        """Refuse `1/255` where a number is wanted: it reads as a size and a stride."""
        for i, arg in enumerate(self.args):
            if i not in self.used and isinstance(arg, ast.Size) and "/" in arg.text \
                    and not any(c in arg.text for c in "x:{"):
                raise CnnError(f"`{arg.text}` is a size and a stride, not the {what}",
                               arg.span, f"write a fraction as an `{{expr}}`: "
                               f"`{self.step} {{{arg.text}}}`")

    def count(self, what: str, *, example: str) -> int:
        """A required positive whole number written as a bare number: `dense 10`."""
        arg = self._take(_is_scalar)
        self.asked["count"] = (0, False, arg)
        if arg is None:
            raise self._missing(what, example, "count")
        return whole(self._value(arg), what, arg.span)

    def width(self, what: str, *, example: str, required: bool = True, default: int = 1) -> int:
        """`x64` / `x{2*n}`."""
        arg = self._take(lambda a: isinstance(a, ast.Width))
        self.asked["width"] = (0, False, arg)
        if arg is None:
            if required:
                raise self._missing(what, example, "width")
            return default
        assert isinstance(arg, ast.Width)
        where = arg.span.shifted(1, len(arg.text))
        return whole(atom_value(arg.text, where, self.env), what, where)

    def padding(self) -> str:
        arg = self._take(lambda a: isinstance(a, ast.Word) and a.name in PADDINGS)
        self.asked["padding"] = (0, False, arg)
        return arg.name if isinstance(arg, ast.Word) else "valid"

    def activation(self) -> Activation | None:
        """A fused activation word (`relu`) or one with a value (`leaky_relu=0.1`)."""
        arg = self._take(lambda a: (isinstance(a, ast.Word) and a.name in ACTIVATIONS) or (
            isinstance(a, ast.Option) and a.key in ACTIVATIONS))
        self.asked["activation"] = (0, False, arg)
        if arg is None:
            return None
        assert isinstance(arg, (ast.Word, ast.Option))
        return written_activation(arg, self._value)

    def flag(self, word: str) -> bool:
        """Whether the bare word `word` (`keepdims`) is written."""
        self.flags.append(word)
        return self._take(lambda a: isinstance(a, ast.Word) and a.name == word) is not None

    # -- options ------------------------------------------------------------------------
    def _option(self, key: str) -> ast.Option | None:
        self.options_read.add(key)
        arg = self._take(lambda a: isinstance(a, ast.Option) and a.key == key)
        return arg if isinstance(arg, ast.Option) else None

    def option_int(self, key: str, default: int) -> int:
        opt = self._option(key)
        return default if opt is None else whole(self._value(opt.value), key, opt.value.span)

    def option_float(self, key: str, default: float) -> float:
        opt = self._option(key)
        if opt is None:
            return default
        return to_float(self._value(opt.value), key, opt.value.span)

    def option_bool(self, key: str, default: bool) -> bool:
        opt = self._option(key)
        if opt is None:
            return default
        if isinstance(opt.value, ast.Word) and opt.value.name in BOOLEANS:
            return BOOLEANS[opt.value.name]
        raise CnnError(f"`{key}` must be `true` or `false`", opt.value.span,
                       f"e.g. `{key}=false`")

    def option_size(self, key: str, rank: int, default: int, minimum: int = 1):
        opt = self._option(key)
        if opt is None:
            return (default,) * rank
        if not isinstance(opt.value, ast.Size):
            raise CnnError(f"`{key}` must be a size like `2` or `2x1`", opt.value.span,
                           f"one whole number, or one per dimension joined by `x`: `{key}=2`")
        return self._dims(opt.value.text, 0, opt.value.span, key, rank, False, minimum)

    def option_pairs(self, key: str, rank: int):
        """`key=1`, `key=1x2`, `key=0:1x1:2`: (before, after) per dimension, and where."""
        opt = self._option(key)
        if opt is None:
            return None
        if not isinstance(opt.value, ast.Size) or "/" in opt.value.text:
            raise CnnError(f"`{key}` must be a size like `1`, `1x2` or `0:1x1:2`",
                           opt.value.span, f"per dimension, or `before:after`: `{key}=1`")
        return self._dims(opt.value.text, 0, opt.value.span, key, rank, True, 0), opt.span

    def option_numbers(self, key: str) -> list[tuple[float, Span]] | None:
        """`key=0.5` or the comma list `key=0.485,0.456,0.406`: each value with its span."""
        opt = self._option(key)
        if opt is None:
            return None
        items = opt.value.items if isinstance(opt.value, ast.Values) else (opt.value,)
        return [(to_float(self._value(v), key, v.span), v.span) for v in items]

    def option_shape(self, key: str) -> tuple[tuple[int, ...], Span] | None:
        """`key=1x1x8`: positive whole numbers, as many as written, and where they are."""
        opt = self._option(key)
        if opt is None:
            return None
        if not isinstance(opt.value, ast.Size) or "/" in opt.value.text:
            raise CnnError(f"`{key}` must be a shape like `1x1x8`", opt.value.span,
                           f"one whole number per axis, joined by `x`: `{key}=1x1x8`")
        return self._dims(opt.value.text, 0, opt.value.span, key, 0, False, 1), opt.value.span

    def _value(self, arg: ast.Arg | ast.Values) -> int | Fraction:
        if isinstance(arg, ast.Number):
            return number(arg.text, arg.span)
        if isinstance(arg, ast.Size) and _is_scalar(arg):
            return atom_value(arg.text, arg.span, self.env)
        raise CnnError("expected a number here", arg.span,
                       "a number like `0.5` or `1e-3`, or an `{expr}` of the block's parameters")

    def finish(self, known_options: Iterable[str] = ()) -> None:
        """Reject whatever the layer kind did not ask for."""
        for i, arg in enumerate(self.args):
            if i not in self.used:
                twin = self._twin(arg)
                if twin is not None:
                    raise CnnError(f"{_describe(arg)} is given twice", arg.span,
                                   "give each argument once", [f"first given at line "
                                                              f"{twin.span.line}, column "
                                                              f"{twin.span.column}"])
                if isinstance(arg, ast.Option) and self._keras_known(arg, known_options):
                    raise self._keras_spelling(arg, "")
                raise self._unknown(arg, list(known_options))

    def _twin(self, arg: ast.Arg) -> ast.Arg | None:
        """An argument of the same kind the layer already took, if any."""
        for i in sorted(self.used):
            if _same_kind(arg, self.args[i]):
                return self.args[i]
        return None

    def _unknown(self, arg: ast.Arg, known: list[str]) -> CnnError:
        if isinstance(arg, ast.Option):
            if arg.key in ACTIVATIONS:
                return CnnError(f"`{self.step}` cannot take an activation", arg.span,
                                f"write it as a step of its own: `-> {arg.key}=...`")
            guess = did_you_mean(arg.key, known + ["name"])
            hint = f"did you mean `{guess}`?" if guess else (
                f"`{self.step}` takes " + (", ".join(f"`{k}=`" for k in known + ["name"])))
            return CnnError(f"unknown option `{arg.key}` for `{self.step}`", arg.key_span, hint)
        if isinstance(arg, ast.Word):
            if arg.name in ACTIVATIONS:
                return CnnError(f"`{self.step}` cannot take an activation", arg.span,
                                f"write it as a step of its own: `-> {arg.name}`")
            if arg.name in PADDINGS:
                return CnnError(f"`{self.step}` takes no padding", arg.span, "remove it")
            kind = self.lookup(arg.name)
            if getattr(kind, "looks_fusable", False):  # `conv 3 x16 prelu`
                return CnnError(f"`{arg.name}` has weights, so it is a step of its own, "
                                f"not an activation fused into `{self.step}`", arg.span,
                                f"write `{self._rewritten(arg, '-> ' + arg.name)}`")
            if kind is not None:
                return CnnError(f"`{arg.name}` is a layer, not an argument of `{self.step}`: "
                                f"a `->` is probably missing before it", arg.span,
                                f"`->` missing: write `{self._rewritten(arg, '-> ' + arg.name)}`"
                                " (a new statement starts with `input` or `@NAME`)")
            guess = did_you_mean(arg.name, list(ACTIVATIONS) + list(PADDINGS) + self.flags)
            hint = f"did you mean `{guess}`?" if guess else "remove it"
            return CnnError(f"`{self.step}` does not take `{arg.name}`", arg.span, hint)
        text = getattr(arg, "text", "")
        shown = f"x{text}" if isinstance(arg, ast.Width) else text
        return CnnError(f"`{self.step}` does not take `{shown}` here", arg.span,
                        "each kind of argument may be given once; see docs/language.md")

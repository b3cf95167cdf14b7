"""Explicit padding, PyTorch's way (version 3): `pad=1`, `pad=1x2`, `pad=0:1x1:2` and 1-D
`causal` on windows, and the `pad` step (`pad 2 reflect`, `pad 1 replicate`, `pad 1`).

`same` and `valid` are Keras's words: the padding follows from the sizes. PyTorch and
ONNX write the padding itself, before and after each spatial dimension, so a layer
keeps its `padding` word (`"explicit"` or `"causal"` for these) and, beside it, the
pads as (before, after) pairs. `explicit_pads` gives the pairs of any layer whatever
its word, which is all a backend that pads by itself (NumPy, ONNX) needs to know.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..syntax import ast
from .arguments import ArgReader
from .base import LayerError
from .core import ZeroPad
from .shapes import Shape, effective_kernel, format_shape, padded_length, same_padding

Pads = tuple[tuple[int, int], ...]
EXPLICIT, CAUSAL = "explicit", "causal"


def read_padding(a: ArgReader, rank: int, *, causal: bool = False) -> tuple[str, Pads]:
    """(the padding word, the pads `pad=` writes, else ()): `same`, `valid`, `pad=` or,
    where `causal` is allowed (1-D convolutions), `causal`; one of them at most."""
    word = a.padding()
    written = a.asked["padding"][2]
    pairs = a.option_pairs("pad", rank)
    is_causal = a.flag(CAUSAL)
    if is_causal and not causal:
        instead = "" if a.step == "deconv" else ("; pad explicitly instead: `pad=2:0` pads "
                                                 "2 before, none after")
        raise LayerError(f"`{a.step}` takes no `causal`", "causal padding (all of it "
                         f"before) is for `conv`, `dwconv` and `sepconv` in 1-D{instead}",
                         written_at(a, CAUSAL))
    if is_causal and rank != 1:
        raise LayerError(f"`causal` padding is for 1-D steps; this `{a.step}` is "
                         f"{rank}-D", "pad explicitly instead: `pad=2:0x2:0` pads 2 "
                         "before each dimension and none after", written_at(a, CAUSAL))
    if pairs is not None and (written is not None or is_causal):
        other = written.name if written is not None else CAUSAL
        raise LayerError(f"`pad=` and `{other}` both say how to pad", f"keep one: `pad=` "
                         "pads exactly what it says before and after each dimension "
                         f"(PyTorch's `padding=`), `{other}` pads as Keras does", pairs[1])
    if is_causal and written is not None:
        raise LayerError(f"`causal` and `{written.name}` both say how to pad",
                         "keep one of them", written_at(a, CAUSAL))
    if pairs is not None:
        return EXPLICIT, pairs[0]
    return (CAUSAL, ()) if is_causal else (word, ())


def causal_pads(kernel: Shape, dilation: Shape) -> Pads:
    """Everything before: D·(K-1), none after, so no output sees a later input."""
    return tuple((effective_kernel(k, d) - 1, 0) for k, d in zip(kernel, dilation))


def explicit_pads(layer, sizes: Shape) -> Pads:
    """The (before, after) pairs `layer` pads its input of spatial `sizes` with, whatever
    its padding word: TensorFlow's for `same` (the odd one after), none for `valid`."""
    if layer.padding == "same":
        dilation = getattr(layer, "dilation", (1,) * len(sizes))
        return tuple(same_padding(n, k, s, d) for n, k, s, d in
                     zip(sizes, layer.kernel, layer.stride, dilation))
    if layer.padding in (EXPLICIT, CAUSAL):
        return layer.pads
    return ((0, 0),) * len(sizes)


def pool_pads(layer, sizes: Shape) -> tuple[Pads, bool]:
    """The (before, after) pairs a pooling `layer` over spatial `sizes` pads with, widened
    after by what a `ceil` window overhangs so that every window fits, and whether the
    average counts the padding (`include_pad`; never the overhang, which is past the
    padded input). What a backend that pads by itself (NumPy, ONNX) needs.

    >>> from cnndsl import compile_text
    >>> pool = compile_text("input 6x3 -> avgpool 3/2 pad=1 ceil include_pad").nodes[-1]
    >>> pool_pads(pool.layer, (6,))  # 4 windows, the last on [5, 8) of the padded [-1, 7)
    (((1, 2),), True)
    """
    widened = []
    for n, k, s, (b, a) in zip(sizes, layer.kernel, layer.stride, explicit_pads(layer, sizes)):
        covered = (padded_length(n, k, s, b, a, ceil=layer.ceil) - 1) * s + k
        widened.append((b, max(a, covered - n - b)))
    return tuple(widened), layer.include_pad


def pads_text(pads: Pads) -> str:
    """`1`, `1x2`, `0:1x1:2`: as `pad=` is written, shortest first.

    >>> pads_text(((1, 1), (1, 1))), pads_text(((1, 1), (2, 2))), pads_text(((0, 1),))
    ('1', '1x2', '0:1')
    """
    texts = [f"{b}" if b == a else f"{b}:{a}" for b, a in pads]
    return texts[0] if len(set(texts)) == 1 else "x".join(texts)


def sizes_text(sizes: Shape) -> str:
    """`2` when every dimension has it, else `2x1`.

    >>> sizes_text((2, 2)), sizes_text((1, 0))
    ('2', '1x0')
    """
    return str(sizes[0]) if len(set(sizes)) == 1 else format_shape(sizes)


def describe_padding(padding: str, pads: Pads) -> str:
    """` same`, ` pad=1`, ` causal` or nothing (`valid`), as the layer is described."""
    if padding == EXPLICIT:
        return f" pad={pads_text(pads)}"
    return f" {padding}" if padding in ("same", CAUSAL) else ""


def too_small(what: str, sizes: Shape, pads: Pads) -> LayerError:
    """A window larger than the padded input."""
    if not any(b or e for b, e in pads):  # `ceil` alone: nothing padded
        return LayerError(f"{what} is larger than the {format_shape(sizes)} input",
                          "pad it (`pad=1`), or use a smaller window")
    padded = format_shape(tuple(n + b + e for n, (b, e) in zip(sizes, pads)))
    return LayerError(f"{what} is larger than the {format_shape(sizes)} input padded by "
                      f"`pad={pads_text(pads)}` ({padded})",
                      "pad more, or use a smaller window")


def written_at(a: ArgReader, name: str):
    """Where the word `name` or the option `name=` is written among a step's arguments."""
    return next(arg.span for arg in a.args if (isinstance(arg, ast.Word) and arg.name == name)
                or (isinstance(arg, ast.Option) and arg.key == name))


@dataclass(frozen=True)
class Pad(ZeroPad):
    """`pad 2 reflect`, `pad 1 replicate`, `pad 1` (zeros, as `zeropad`): PyTorch's
    ReflectionPad, ReplicationPad and ZeroPad, ONNX's Pad in its three modes."""

    mode: str = "zeros"

    kind = "pad"
    other_names = ("ReflectionPad2d", "ReplicationPad2d", "ConstantPad2d")

    @classmethod
    def read(cls, a, inputs):
        pads, _ = a.size("padding", len(inputs[0]) - 1, example="pad 1 reflect", pairs=True,
                         minimum=0)
        modes = [mode for mode in PAD_MODES if a.flag(mode)]
        if len(modes) > 1:
            raise LayerError(f"`{modes[0]}` and `{modes[1]}` are two ways to pad", "keep one:"
                             " `reflect` mirrors the input, `replicate` repeats its edge, "
                             "neither pads with zeros")
        return cls(pads, modes[0] if modes else "zeros")

    def output_shape(self, inputs):
        sizes = inputs[0][:-1]
        if self.mode == "reflect":
            for axis, (n, (b, e)) in enumerate(zip(sizes, self.pads), 1):
                if max(b, e) >= n:
                    raise LayerError(f"`{self.describe()}` mirrors {max(b, e)} positions of "
                                     f"the {n} along dimension {axis} of the "
                                     f"{format_shape(sizes)} input", "a reflection repeats no"
                                     f" edge, so it pads fewer than the size: at most {n - 1}"
                                     " here (PyTorch's and ONNX's rule), or `replicate`")
        return super().output_shape(inputs)

    def describe(self):
        return super().describe() + ("" if self.mode == "zeros" else f" {self.mode}")


PAD_MODES = ("reflect", "replicate")


__all__ = ["Pad", "CAUSAL", "EXPLICIT", "Pads", "causal_pads", "describe_padding",
           "explicit_pads", "pads_text", "pool_pads", "read_padding", "sizes_text", "too_small",
           "written_at"]

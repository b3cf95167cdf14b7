"""The front end in one call: source text to a typed `Graph`."""

from __future__ import annotations

from pathlib import Path

from ..errors import CnnError, Span, as_text
from ..graph.ir import Graph
from ..support.limits import MAX_SOURCE_BYTES, MAX_STEPS_WRITTEN
from ..support.util import no_gc
from ..syntax import ast
from ..syntax.parser import parse
from .expand import expand


def decode(data: bytes) -> str:
    """UTF-8 text, or a located error at the first byte that is not UTF-8."""
    if len(data) > MAX_SOURCE_BYTES:
        raise CnnError(f"the file is {len(data) / 2**20:.1f} MiB, over the limit of "
                       f"{MAX_SOURCE_BYTES // 2**20} MiB for a spec", Span(1, 1, 0, 1),
                       "is this the right file? a 100,000-layer network is about 3 MB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        good = data[: e.start].decode("utf-8")
        line = good.count("\n") + 1
        column = len(good) - (good.rfind("\n") + 1) + 1
        raise CnnError(f"the file is not UTF-8 text (byte 0x{data[e.start]:02x})",
                       Span(line, column, len(good), len(good) + 1),
                       "save the file as UTF-8") from None
    if "\x00" in text:
        at = text.index("\x00")
        line = text.count("\n", 0, at) + 1
        raise CnnError("the file contains a NUL character",
                       Span(line, at - (text.rfind("\n", 0, at) + 1) + 1, at, at + 1),
                       "is this a binary file?")
    # Editors end lines at \r\n, \r or \n; the parser counts \n, so make them agree.
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def compile_text(text: str, name: str = "model") -> Graph:
    """Parse, expand and type `text`; raises `CnnError` for any problem in it."""
    return compile_tree(parse_text(text), text, name)


def parse_text(text: str) -> ast.Module:
    """`compile_text`'s first half: the syntax tree of `text`, its size checked first.
    The language server keeps the tree of a text that parses but does not compile."""
    check_size(text)
    with no_gc():
        return parse(text)


def compile_tree(module: ast.Module, text: str, name: str = "model") -> Graph:
    """`compile_text`'s second half: the typed graph of a parsed `text`."""
    with no_gc():
        return expand(module, text, name)


def check_size(text: str) -> None:
    """Refuse, before parsing, texts whose size alone puts them beyond the limits."""
    if len(text) > MAX_SOURCE_BYTES:
        raise CnnError(f"the spec has {len(text):,} characters, over the limit of "
                       f"{MAX_SOURCE_BYTES:,}", Span(1, 1, 0, 1),
                       "is this the right text? a 100,000-layer network is about 3 MB")
    if text.count("->") > MAX_STEPS_WRITTEN:
        at = -1
        for _ in range(MAX_STEPS_WRITTEN + 1):
            at = text.find("->", at + 1)
        line = text.count("\n", 0, at) + 1
        column = at - (text.rfind("\n", 0, at) + 1) + 1
        raise CnnError(f"the spec has more than {MAX_STEPS_WRITTEN:,} steps", Span(
            line, column, at, at + 2), "a network is limited to "
            f"{MAX_STEPS_WRITTEN:,} layers; use `( ... ) * N` for repetition")


def compile_file(path: str | Path, name: str | None = None) -> tuple[Graph, str]:
    """The graph of a `.cnn` file and its text (for rendering errors and warnings)."""
    path = Path(path)
    text = decode(path.read_bytes())
    return compile_text(text, name or as_text(path.stem)), text

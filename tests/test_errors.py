"""Every error the language promises (LANGUAGE.md § Errors), end to end through the CLI.

Each row writes a .cnn file, runs `cnndsl check` on it through `cnndsl.cli.main` and checks
the rendering editors rely on::

    FILE:LINE:COL: error: MESSAGE
        the source line
        ^~~~ under column COL
    note: ...            (optional)
    hint: ...            (required: what was expected or what to write instead)

with exit status 1 and never a traceback. Line and column are 1-based and count
characters, as editors do.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from outcomes import cli

from cnndsl import CnnError, compile_text
from cnndsl.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


# ---- running the CLI and reading what it printed ----------------------------------------

@dataclass
class Run:
    rc: int
    out: str
    err: str
    path: str
    data: bytes

    @property
    def text(self) -> str:
        """The file as the user sees it (undecodable bytes shown as U+FFFD, no BOM)."""
        return self.data.decode("utf-8", errors="replace").removeprefix("\ufeff")


def run(tmp_path: Path, source: str | bytes, *args: str, command: str = "check",
        name: str = "net.cnn") -> Run:
    path = tmp_path / name
    data = source if isinstance(source, bytes) else source.encode("utf-8")
    path.write_bytes(data)
    rc, out, err = cli(command, path, *args)
    return Run(rc, out, err, str(path), data)


@dataclass
class Diagnostic:
    severity: str
    line: int
    column: int
    message: str
    source_line: str
    caret_line: str
    notes: list[str] = field(default_factory=list)
    hint: str | None = None


def parse_diagnostics(r: Run) -> list[Diagnostic]:
    """Every `FILE:LINE:COL: severity: message` block on stderr, with what follows it."""
    head = re.compile(rf"^{re.escape(r.path)}:(\d+):(\d+): (error|warning): (.*)$")
    lines = r.err.split("\n")
    found = []
    for i, line in enumerate(lines):
        m = head.match(line)
        if not m:
            continue
        assert i + 2 < len(lines), f"diagnostic without source and caret lines:\n{r.err}"
        d = Diagnostic(m.group(3), int(m.group(1)), int(m.group(2)), m.group(4),
                       lines[i + 1], lines[i + 2])
        for extra in lines[i + 3:]:
            if extra.startswith("note: "):
                d.notes.append(extra[len("note: "):])
            elif extra.startswith("hint: "):
                d.hint = extra[len("hint: "):]
            else:
                break
        found.append(d)
    return found


def file_line(text: str, number: int) -> str:
    """Line `number` of `text` as editors number lines (\\n, \\r\\n or \\r end a line)."""
    lines = re.split(r"\r\n|\r|\n", text)
    assert 1 <= number <= len(lines), f"line {number} is not in the file"
    return lines[number - 1]


def shown(line: str) -> str:
    """A line as an error shows it: control characters (NUL, form feed, escape, C1, the
    bidirectional overrides...) become spaces, so they cannot move the terminal's cursor or
    reorder the line, and the caret stays aligned."""
    return re.sub("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e"
                  "\u2066-\u2069\ufff9-\ufffb]", " ", line)


def check_rendering(d: Diagnostic, text: str) -> None:
    """The source line is the file's line LINE and the caret sits under column COL.

    A line over 500 characters is shown as a window of it around the column, marked
    with `…`; the caret must still sit under the character at COL."""
    source = shown(file_line(text, d.line))
    if len(source) > 500:
        window = d.source_line[4:]
        assert len(window) <= 502 and window.strip("…") in source, window
        at = d.caret_line.index("^") - 4
        assert window[at] == source[d.column - 1], (window[at - 5:at + 5], d.column)
        return
    assert d.source_line == "    " + source, (
        f"second line should be line {d.line} of the file, indented 4: "
        f"{d.source_line!r} vs {source!r}")
    assert d.column >= 1
    assert d.column <= len(source) + 1, f"column {d.column} is past the end of {source!r}"
    caret = d.caret_line
    assert "^" in caret, f"no caret in {caret!r}"
    at = caret.index("^")
    assert at == 4 + d.column - 1, f"caret at offset {at - 4}, column says {d.column}"
    assert caret[:at].strip(" \t") == "", f"junk before the caret: {caret!r}"
    assert re.fullmatch(r"\^~*", caret[at:]), f"caret line should be ^~~~: {caret!r}"


def the_error(r: Run) -> Diagnostic:
    """The one error of a failed run, checked for exit status 1 and its rendering."""
    assert r.rc == 1, f"expected exit 1, got {r.rc}; stderr:\n{r.err}"
    assert r.out == "", "nothing goes to stdout on an error"
    first = r.err.split("\n")[0]
    assert re.match(rf"^{re.escape(r.path)}:\d+:\d+: error: ", first), \
        f"first stderr line is not FILE:LINE:COL: error: ...:\n{r.err}"
    errors = [d for d in parse_diagnostics(r) if d.severity == "error"]
    assert len(errors) == 1, r.err
    check_rendering(errors[0], r.text)
    return errors[0]


def contains(message: str, word) -> bool:
    """`word` is a string, or a tuple of alternatives any of which may appear."""
    return any(w in message for w in (word if isinstance(word, tuple) else (word,)))


# ---- the error table --------------------------------------------------------------------

def row(id, source, line, col, words, hint=None, notes=()):
    """`line`/`col` may be a set where several positions are equally right."""
    return pytest.param(source, line, col, words, hint, notes, id=id)


NEST = 300
ADDS = "input 8x8x4 -> " + "add { id | " * NEST + "relu" + " }" * NEST + "\n"
PARENS = "input 8x8x4 -> " + "( " * NEST + "relu" + " ) * 1" * NEST + "\n"
BLOCKS = "def b0 = relu\n" + "".join(f"def b{i} = b{i - 1}\n" for i in range(1, 400)) \
    + "input 8x8x3 -> b399\n"

ROWS = [
    # -- syntax ------------------------------------------------------------------------------
    row("syntax error", "input 6x6x1 -> -> conv 3x3 x2\n", 1, 16, ["unexpected", "`->`"]),
    row("syntax error on line 3", "# a comment\ninput 6x6x1\n  -> conv 3x3 x2 -> )\n",
        3, 21, ["unexpected", "`)`"]),
    row("unexpected end", "input 6x6x1 ->\n", 1, 15, ["unexpected end"]),
    row("unexpected end, multi-line", "input 6x6x1\n  -> conv 3x3 x2 ->\n\n\n", 2, 20,
        ["unexpected end"]),
    row("unclosed merge", "input 6x6x1 -> add { id | relu\n", 1, 31, ["unexpected end"]),
    row("unexpected character", "input 6x6x1 -> conv 3x3 x2 $\n", 1, 28, ["$"]),
    row("network before a def", "input 6 -> relu\ndef b = relu\n", 2, 1, ["`def`"]),
    row("two inputs, unnamed", "input 6 -> relu\ninput 6 -> relu\n", 2, 1,
        ["`input`", "named"], hint="as NAME"),
    row("two inputs, the second unnamed", "input 6 as a -> relu\ninput 6 -> relu\n", 2, 1,
        ["`input`", "named"], hint="as NAME"),
    row("two inputs, the first unnamed", "input 6 -> relu\ninput 6 as b -> relu\n", 1, 1,
        ["`input`", "named"], hint="as NAME"),
    row("no input", "conv 3 x2\n", 1, 1, ["`conv`"], hint="input"),
    row("empty file", "", 1, 1, [("end of file", "empty")], hint="input"),
    row("only a comment", "# nothing here\n", 1, (1, 15), [("end of file", "empty")],
        hint="input"),
    # -- unknown words -------------------------------------------------------------------------
    row("unknown step comv", "input 6x6x1 -> comv 3x3 x2\n", 1, 16, ["`comv`"],
        hint="did you mean `conv`?"),
    row("unknown step, tab indent", "input 6x6x1\n\t-> comv 3x3 x2\n", 2, 5, ["`comv`"],
        hint="did you mean `conv`?"),
    row("unknown step after BOM", "\ufeffinput 6x6x1 -> comv 3 x2\n", 1, 16, ["`comv`"],
        hint="did you mean `conv`?"),
    row("unknown step after non-ASCII", "input 6x6x1 # é ü\n-> comv 3 x2 # café\n", 2, 4,
        ["`comv`"], hint="did you mean `conv`?"),
    # issue 19 item 26: other frameworks' names, exactly as spelt there or as people guess
    row("globalavgpool is gap", "input 8x8x3 -> globalavgpool\n", 1, 16,
        ["unknown step `globalavgpool`"], hint="did you mean `gap`?"),
    row("Keras's GlobalMaxPooling2D", "input 8x8x3 -> GlobalMaxPooling2D\n", 1, 16,
        ["`GlobalMaxPooling2D`"], hint="did you mean `gmp`?"),
    row("PyTorch's Linear is dense, not the linear activation", "input 8 -> Linear 4\n", 1,
        12, ["`Linear`"], hint="did you mean `dense`?"),
    row("Keras's Concatenate is a merge", "input 8 -> Concatenate\n", 1, 12,
        ["`Concatenate`"], hint="did you mean `concat`? a merge is written `concat { A | B }`"),
    row("Keras's activation relu", "input 4 -> activation relu\n", 1, 12,
        ["unknown step `activation`"], hint="write `relu` by its name alone: `-> relu` is an "
        "activation step; after a conv's or dense's arguments (`conv 3x3 x16 relu`) it is "
        "fused into that layer"),
    row("unknown option", "input 6x6x1 -> conv 3x3 x2 dilatoin=2\n", 1, 28,
        ["unknown option", "`dilatoin`"], hint="did you mean `dilation`?"),
    row("unknown option of dense", "input 6 -> dense 4 bais=false\n", 1, 20,
        ["`bais`"], hint="did you mean `bias`?"),
    row("unknown word argument", "input 6x6x1 -> conv 3x3 x2 smae\n", 1, 28, ["`smae`"],
        hint="did you mean `same`?"),
    # -- shapes --------------------------------------------------------------------------------
    row("kernel larger than input", "input 6x6x1 -> conv 7x7 x2\n", 1, 16,
        ["kernel 7x7 is larger than the 6x6 input with valid padding"], hint="`same`"),
    row("pool window larger than input", "input 6x6x1 -> maxpool 7\n", 1, 16,
        ["7x7", "6x6"], hint="`same`"),
    row("merge branches disagree", "input 8x8x3 -> add { id | conv 3x3 x4 }\n", 1, 16,
        ["8x8x3", "6x6x4"]),
    row("concat of three disagreeing branches",
        "input 8x8x3 -> concat { id | conv 3 x2 | maxpool 2 }\n", 1, 16,
        ["8x8x3", "6x6x2", "4x4x3"]),
    row("merge of different ranks", "input 6x6x4 -> add { gap | id }\n", 1, 16,
        ["4", "6x6x4"]),
    row("3 numbers in 2-D", "input 8x8x3 -> conv 3x3x3 x4\n", 1, 21, ["`3x3x3`", "2-D"]),
    row("2 numbers in 1-D", "input 100x3 -> maxpool 2x2\n", 1, 24, ["`2x2`", "1-D"]),
    row("2 numbers in 3-D stride", "input 8x8x8x1 -> conv 3/2x2 x4\n", 1, 25, ["`2x2`"]),
    row("conv after flatten", "input 8x8x3 -> flatten -> conv 3 x4\n", 1, 27,
        ["`conv`", "vector"]),
    row("gap on a vector", "input 10 -> gap\n", 1, 13, ["`gap`", "vector"]),
    row("zero kernel", "input 8x8x3 -> conv 0x3 x4\n", 1, 21, ["positive", "0"]),
    row("negative kernel", "input 8x8x3 -> conv -1 x4\n", 1, 21, ["positive", "-1"]),
    row("zero input size", "input 0x8x3\n", 1, 7, ["positive", "0"]),
    row("zero filters", "input 8x8x3 -> conv 3 x0\n", 1, 24, ["positive", "0"]),
    row("zero stride", "input 8x8x3 -> maxpool 2/0\n", 1, 26, ["positive", "0"]),
    row("zero units", "input 10 -> dense 0\n", 1, 19, ["positive", "0"]),
    row("dropout 1", "input 10 -> dropout 1\n", 1, (13, 21), ["dropout", "[0, 1)"]),
    row("dropout negative", "input 10 -> dropout -0.1\n", 1, (13, 21),
        ["dropout", "[0, 1)"]),
    row("dropout 1.5", "input 10 -> dropout 1.5\n", 1, (13, 21), ["dropout", "[0, 1)"]),
    row("reshape count mismatch", "input 6x6x1 -> reshape 5\n", 1, (16, 24), ["36", "5"]),
    row("tensor over 2^31 elements", "input 32768x32768x1 -> conv 1 x4\n", 1, 24,
        ["32768x32768x4", "2^31"]),
    row("input over 2^31 elements", "input 65536x65536x1\n", 1, (1, 7),
        ["65536x65536x1", "2^31"]),
    row("more than 100,000 layers", "input 8x8x4 -> ( conv 1 x1 ) * 1000000000\n", 1,
        (16, 18, 32, 34), [("100,000", "100000"), "layers"]),
    row("more than 100,000 layers via a block",
        "def b(n) = ( relu ) * {n}\ninput 8 -> ( b(1000) ) * 1000\n", (1, 2),
        {12, 14, 21, 23, 25, 27}, [("100,000", "100000"), "layers"]),
    # -- blocks --------------------------------------------------------------------------------
    row("undefined block", "input 8x8x3 -> blok(3)\n", 1, 16,
        ["`blok`", ("unknown", "undefined", "not defined")]),
    row("undefined block, close to a def", "def block(n) = conv 3 x{n} same\n"
        "input 8x8x3 -> blokc(3)\n", 2, 16, ["`blokc`"], hint="did you mean `block`?"),
    row("recursive block", "def a(n) = conv 3 x{n} same -> a(n)\ninput 8x8x3 -> a(4)\n",
        1, 32, ["recursive"]),
    row("mutually recursive blocks", "def a(n) = b(n)\ndef b(n) = a(n)\ninput 8x8x3 -> b(4)\n",
        1, 12, ["recursive"]),
    row("too many block arguments",
        "def blk(n) = conv 3 x{n} same\ninput 8x8x3 -> blk(4, 5)\n", 2, (16, 23),
        ["`blk`", "1", "2"], hint="blk(n)"),
    row("missing block argument",
        "def blk(n) = conv 3 x{n} same\ninput 8x8x3 -> blk\n", 2, 16, ["`blk`", "`n`"],
        hint="blk(n)"),
    row("arguments without parentheses", "def b = relu\ninput 6 -> b 3\n", 2, 14, ["`b`"],
        hint="b("),
    row("unknown keyword argument",
        "def blk(n, k=3) = conv {k} x{n} same\ninput 8x8x3 -> blk(4, kk=5)\n", 2, 23,
        ["`kk`"], hint="did you mean `k`?"),
    row("duplicate layer name",
        "input 8x8x3 -> conv 3 x4 same name=a -> conv 3 x4 same name=a\n", 1, 61,
        ["duplicate", "`a`"], notes=["line 1"]),
    row("duplicate automatic name", "input 6 -> relu -> relu name=relu_1\n", 1, 30,
        ["`relu_1`"]),
    row("duplicate name from a block used twice",
        "def a = dense 3 name=x\ninput 6 -> a -> a\n", 1, 22, ["`x`"]),
    row("duplicate def", "def b(n) = conv 3 x{n}\ndef b(n) = conv 3 x{n}\ninput 8x8x3 -> b(2)\n",
        2, 5, ["`b`", ("twice", "already", "duplicate")], hint="line 1"),
    row("def named like a step", "def relu = tanh\ninput 6 -> relu\n", 1, 5, ["`relu`"]),
    row("parameter named C", "def b(C) = conv 3 x{C}\ninput 8x8x3 -> b(2)\n", 1, 7, ["`C`"]),
    row("parameter listed twice", "def b(n, n) = relu\ninput 6 -> b(1, 2)\n", 1, 10, ["`n`"]),
    # -- {expr} --------------------------------------------------------------------------------
    row("fractional width", "input 8x8x4 -> conv 1 x{C/3}\n", 1, 24, ["whole"],
        hint="`//`"),
    row("fractional units from a default", "def b(n=2.5) = dense {n}\ninput 6 -> b\n", 1, 22,
        ["whole", "2.5"]),
    row("fractional repeat count", "input 6 -> ( relu ) * 2.5\n", 1, 23, ["whole", "2.5"]),
    row("division by zero", "def b(n) = conv 1 x{n/0}\ninput 8x8x4 -> b(2)\n", 1, 22,
        ["division by zero"]),
    row("floor division by zero", "input 6 -> dense {C//0}\n", 1, 20, ["division by zero"]),
    row("unknown name in expr", "def b(n) = dense {m}\ninput 6 -> b(3)\n", 1, 19, ["`m`"],
        hint="`n`"),
    row("bad expr", "input 6 -> dense {10**12}\n", 1, 22, ["`*`"]),
    row("id outside a merge", "input 6x6x1 -> id\n", 1, 16, ["`id`"]),
    # -- limits --------------------------------------------------------------------------------
    row("merges nested too deep", ADDS, 1, {16 + 11 * i for i in range(NEST)}, ["nest"]),
    row("repeats nested too deep", PARENS, 1, {16 + 2 * i for i in range(NEST)}, ["nest"]),
    row("blocks nested too deep", BLOCKS, set(range(2, 402)), {12, 16}, ["nest"]),
    # -- options -------------------------------------------------------------------------------
    row("bn eps=-1", "input 6x6x4 -> bn eps=-1\n", 1, 16, ["eps", "positive", "-1"],
        hint="eps=0.001"),
    row("bn eps=0", "input 6x6x4 -> batchnorm eps=0\n", 1, 16, ["eps", "positive"],
        hint="eps=0.001"),
    row("bn momentum=2", "input 6x6x4 -> bn momentum=2\n", 1, 16, ["momentum", "[0, 1]"],
        hint="momentum=0.99"),
    row("bn momentum=-0.5", "input 6x6x4 -> bn momentum=-0.5\n", 1, 16, ["momentum"],
        hint="momentum=0.99"),
    row("groups not dividing", "input 6x6x4 -> conv 3 x6 groups=3\n", 1, 16,
        ["groups=3", "4 input channels", "6 filters"], hint="`groups=1` or `groups=2`"),
    row("groups with nothing in common", "input 6x6x3 -> conv 3 x5 groups=5\n", 1, 16,
        ["groups=5"], hint="leave `groups=` out"),
    row("groups=0", "input 6x6x4 -> conv 3 x4 groups=0\n", 1, 33, ["positive"]),
    row("bias not a boolean", "input 6 -> dense 3 bias=maybe\n", 1, 25, ["`true` or `false`"],
        hint="`bias=false`"),
    row("dilation not a size", "input 8x8x3 -> conv 3 x4 dilation=true\n", 1, 35, ["size"],
        hint="`dilation=2`"),
    row("eps not a number", "input 6x6x4 -> bn eps=x2\n", 1, 23, ["number"], hint="`0.5`"),
    row("a pair outside zeropad", "input 8x8x3 -> conv 1:2 x4\n", 1, 21, ["`before:after`"],
        hint="zeropad"),
    row("block parameter given twice", "def b(n) = dense {n}\ninput 6 -> b(3, n=4)\n", 2, 17,
        ["`n`", "twice"], hint="once"),
    row("block argument not a number", "def b(n) = dense {n}\ninput 6 -> b(3x3)\n", 2, 14,
        ["block argument"], hint="`block(64)`"),
    row("layer name not a word", "input 6 -> dense 3 name=3\n", 1, 25, ["layer name"],
        hint="`name=stem`"),
    # errors that had no test (the survivors of issue 9's baseline mutation run)
    row("stride with dilation", "input 8x8x3 -> conv 3/2 x4 dilation=2\n", 1, 16,
        ["stride", "dilation"], hint="one or the other"),
    row("stride with dilation, 1-D dwconv", "input 20x3 -> dwconv 3/2 dilation=2\n", 1, 15,
        ["stride", "dilation"]),
    row("residual with two branches", "input 8x8x3 -> residual { relu | tanh }\n", 1, 16,
        ["`residual`", "one branch"], hint="add { id | A | B }"),
    row("def named id", "def id = relu\ninput 6 -> add { id | relu }\n", 1, 5, ["`id`"]),
    row("def named residual", "def residual = relu\ninput 6 -> relu\n", 1, 5,
        ["`residual`"]),
    row("block keyword given twice", "def b(n) = dense {n}\ninput 6 -> b(n=3, n=4)\n", 2, 19,
        ["`n`", "twice"]),
    row("name= given twice", "input 6 -> dense 3 name=a name=b\n", 1, (20, 27),
        ["`name`", "twice"], hint="one name"),
    row("concat of two disagreeing branches", "input 8x8x3 -> concat { id | conv 3 x2 }\n",
        1, 16, ["8x8x3", "6x6x2"]),
    # -- version 2 steps and options ----------------------------------------------------------
    row("negative variance", "input 8x8x3 -> normalize mean=0.5 variance=-1\n", 1, 44,
        ["variance", "at least 0", "-1"], hint="variance=0.0625"),
    row("negative variance in a list",
        "input 8x8x3 -> normalize mean=0,0,0 variance=1,-0.5,1\n", 1, 48, ["-0.5"],
        hint="variance="),
    row("mean without variance", "input 8x8x3 -> normalize mean=0.5\n", 1, 31,
        ["`mean=`", "no `variance=`"], hint="give both"),
    row("variance without mean", "input 8x8x3 -> normalize variance=0.5\n", 1, 35,
        ["`variance=`", "no `mean=`"], hint="give both"),
    row("mean list not one per channel", "input 8x8x3 -> normalize mean=1,2 variance=1,2\n", 1,
        31, ["`mean=`", "2 values", "3 channels"], hint="exactly 3 joined by `,`"),
    row("mean and variance of different lengths",
        "input 8x8x3 -> normalize mean=1,2,3 variance=1\n", 1, 46, ["3 values", "1"],
        hint="both one per channel"),
    row("a list where one number goes", "input 8x8x3 -> bn eps=1,2\n", 1, 23,
        ["expected a number"], hint="`0.5`"),
    row("a list as a layer name", "input 8 -> dense 3 name=a,b\n", 1, 25, ["layer name"],
        hint="`name=stem`"),
    row("a list of more than 4,096 values",
        "input 8x8x3 -> normalize mean=" + ",".join(["1"] * 5000) + " variance=1\n", 1,
        31 + 2 * 4096, ["more than 4,096 values"], hint="one value per channel"),
    row("crop too large", "input 6x6x1 -> crop 3\n", 1, 16,
        ["`crop 3:3x3:3`", "6 of the 6", "dimension 1"], hint="crop less"),
    row("crop too large before and after", "input 6x6x1 -> crop 0x2:4\n", 1, 16,
        ["6 of the 6", "dimension 2"], hint="at least one position must remain"),
    row("crop on a vector", "input 8 -> crop 1\n", 1, 12, ["`crop`", "vector"]),
    row("noise shape of the wrong rank", "input 8x8x4 -> dropout 0.2 noise=1x1\n", 1, 34,
        ["`noise=1x1`", "2 axes", "8x8x4", "3"], hint="`noise=1x1x4`"),
    row("noise shape neither 1 nor the size", "input 8x8x4 -> dropout 0.2 noise=1x1x2\n",
        1, 34, ["`noise=1x1x2`", "1 or the input's size"], hint="`noise=1x1x4`"),
    row("noise shape not a shape", "input 8x8x4 -> dropout 0.2 noise=0.5\n", 1, 34,
        ["`noise`", "shape"], hint="`noise=1x1x8`"),
    row("noise shape with a zero", "input 8x8x4 -> dropout 0.2 noise=1x0x1\n", 1, 36,
        ["positive", "0"]),
    row("rescale 1/255", "input 8x8x3 -> rescale 1/255\n", 1, 24,
        ["`1/255`", "size and a stride"], hint="`rescale {1/255}`"),
    row("rescale without a scale", "input 8x8x3 -> rescale\n", 1, 16, ["`rescale`", "scale"],
        hint="`rescale {1/255}`"),
    row("layernorm eps=0", "input 8x8x3 -> layernorm eps=0\n", 1, 16, ["eps", "positive"],
        hint="eps=0.001"),
    row("layernorm scale not a boolean", "input 8x8x3 -> layernorm scale=maybe\n", 1, 32,
        ["`true` or `false`"], hint="`scale=false`"),
    row("batchnorm option misspelt", "input 8x8x3 -> bn centre=false\n", 1, 19,
        ["`centre`"], hint="did you mean `center`?"),
    row("keepdims misspelt", "input 8x8x3 -> gap keepdim\n", 1, 20, ["`keepdim`"],
        hint="did you mean `keepdims`?"),
    row("hard_swish misspelt", "input 8 -> hard_swich\n", 1, 12, ["`hard_swich`"],
        hint="did you mean `hard_swish`?"),
    row("unknown function in expr", "input 8x8x3 -> conv 1 x{maxi(C, 8)}\n", 1, 25,
        ["unknown function `maxi`"], hint="min(a, b, ...)"),
    row("function with too many arguments", "def b(n) = dense {floor(n, 2)}\ninput 4 -> b(3)\n",
        1, 19, ["`floor`", "exactly 1 argument", "got 2"], hint="`floor(x)`",
        notes=["in block `b`"]),
    row("function with too few arguments", "input 8x8x3 -> conv 1 x{min(C)}\n", 1, 25,
        ["`min`", "at least 2 arguments", "got 1"], hint="`min(a, b)`"),
    row("comma outside a function", "input 8x8x3 -> conv 1 x{(C, 8)}\n", 1, 27,
        ["`,`"], hint="min, max, floor, ceil and round"),
    # -- bytes ---------------------------------------------------------------------------------
    row("not UTF-8", b"input 6x6x1 -> conv 3x3 x2 # caf\xe9\n", 1, 33, ["UTF-8"]),
    row("not UTF-8 on line 2", b"# fine\ninput 6x6x1 \xff-> conv 3x3 x2\n", 2, 13,
        ["UTF-8"]),
    row("NUL byte", "input 8x8x4 -> \x00relu\n", 1, 16, ["NUL"]),
    # -- a new user's first tries (issue 12): Keras's spellings, each answered with what
    # cnndsl writes instead, in that layer's syntax; a missing `->`; a bare filter count
    row("missing -> before a layer", "input 28x28x1 -> conv 3x3 x32 relu maxpool 2\n", 1, 36,
        ["`maxpool`", "`->` is probably missing"], hint="`conv 3x3 x32 relu -> maxpool 2`"),
    row("keras activation=", "input 28x28x1 -> conv 3 x32 activation=relu\n", 1, 29,
        ["`activation=`", "after the arguments", "`relu`"], hint="`conv 3 x32 relu`"),
    row("keras activation= where none is fused", "input 8x8x1 -> maxpool 2 activation=relu\n",
        1, 26, ["cannot take an activation"], hint="`-> relu`"),
    row("keras stride=", "input 28x28x1 -> conv 3 x32 stride=2\n", 1, 29, ["`stride=`", "`/`"],
        hint="`conv 3/2 x32`"),
    row("keras strides= on a pool", "input 8x8x1 -> maxpool 2 strides=1 same\n", 1, 26,
        ["`strides=`"], hint="`maxpool 2/1 same`"),
    row("keras padding=same", "input 28x28x1 -> conv 3 x32 padding=same\n", 1, 29,
        ["`padding=`", "`same`"], hint="`conv 3 x32 same`"),
    row("keras filters=", "input 28x28x1 -> conv 3x3 filters=32\n", 1, 27,
        ["`filters=`", "number of filters", "`x32`"], hint="`conv 3x3 x32`"),
    row("keras kernel_size=", "input 28x28x1 -> conv kernel_size=3 x32\n", 1, 23,
        ["`kernel_size=`", "`3x3`"], hint="`conv 3x3 x32`"),
    row("keras kernel_size= in 1-D", "input 100x2 -> conv kernel_size=5 x4\n", 1, 21,
        ["`kernel_size=`", "as `5`"], hint="`conv 5 x4`"),
    row("keras units=", "input 10 -> dense units=4\n", 1, 19, ["`units=`", "`4`"],
        hint="`dense 4`"),
    row("keras use_bias=", "input 8x8x1 -> conv 3 x2 use_bias=False\n", 1, 26,
        ["`use_bias=`", "`bias=false`"], hint="`conv 3 x2 bias=false`"),
    row("keras filters= beside x", "input 8x8x1 -> conv 3 x2 filters=8\n", 1, 26,
        ["`filters=`", "`x2`"], hint="remove it"),
    # the same forms for other kinds, from the catalogue's requests (no list per kind)
    row("keras filters= on sepconv", "input 8x8x2 -> sepconv 3 filters=8\n", 1, 26,
        ["`x8`"], hint="`sepconv 3 x8`"),
    row("keras strides= on deconv", "input 8x8x2 -> deconv 2 x4 strides=2\n", 1, 28,
        ["`strides=`"], hint="`deconv 2/2 x4`"),
    row("keras size= on upsample", "input 8x8x2 -> upsample size=2\n", 1, 25, ["`2x2`"],
        hint="`upsample 2x2`"),
    row("keras padding=1 on zeropad", "input 8x8x2 -> zeropad padding=1\n", 1, 24, ["`1x1`"],
        hint="`zeropad 1x1`"),
    row("keras depth_multiplier=", "input 8x8x2 -> dwconv 3 depth_multiplier=2\n", 1, 25,
        ["`x2`"], hint="`dwconv 3 x2`"),
    row("keras epsilon=", "input 8x8x2 -> bn epsilon=0.01\n", 1, 19, ["`eps=0.01`"],
        hint="`bn eps=0.01`"),
    row("keras rate=", "input 8 -> dropout rate=0.5\n", 1, 20, ["`0.5`"],
        hint="`dropout 0.5`"),
    row("bare filter count", "input 28x28x1 -> conv 3x3 32 relu\n", 1, 27, ["`x32`"],
        hint="`conv 3x3 x32 relu`"),
    row("2-D step on an input without channels", "input 28x28 -> conv 3x3 x8\n", 1, 21,
        ["`3x3`", "1-D"], hint="`input 28x28x1`"),
    # -- version 3: rearranging -----------------------------------------------------------------
    row("pixel_shuffle 2 on 6 channels", "input 4x4x6 -> pixel_shuffle 2\n", 1, 16,
        ["divisible by 2² = 4", "has 6"], hint="x4 or x8"),
    row("pixel_shuffle on a 1-D input", "input 16x4 -> pixel_shuffle 2\n", 1, 15,
        ["`pixel_shuffle`", "2-D"]),
    row("pixel_unshuffle on an odd height", "input 5x4x8 -> pixel_unshuffle 2\n", 1, 16,
        ["height and width divisible by 2", "5x4x8"], hint="4x4"),
    row("pixel_shuffle without a factor", "input 4x4x8 -> pixel_shuffle\n", 1, 16,
        ["`pixel_shuffle`", "factor"], hint="`pixel_shuffle 2`"),
    row("channel_shuffle not dividing the channels", "input 4x4x6 -> channel_shuffle 4\n",
        1, 16, ["divisible by 4", "has 6"], hint="`channel_shuffle 3`"),
    row("split sizes that do not add up", "input 4x4x64 -> split 24,30 { id | relu }\n", 1,
        23, ["`split 24,30`", "54 channels", "has 64"], hint="`split 32,32 { ... }`"),
    row("split with more sizes than branches",
        "input 4x4x64 -> split 24,30,10 { id | relu }\n", 1, 23,
        ["3 sizes for 2 branches"], hint="one size per branch"),
    row("split with one size for two branches", "input 4x4x64 -> split 64 { id | relu }\n",
        1, 23, ["gives 1 size for 2 branches"], hint="one size per branch"),
    row("split into unequal parts", "input 4x4x63 -> split { id | relu }\n", 1, 17,
        ["63", "not divisible by 2"], hint="`split 31,32 { ... }`"),
    row("split into more parts than channels", "input 4x4x2 -> split { id | id | id }\n", 1,
        16, ["2 channels", "3 equal parts"], hint="at least 3 channels"),
    row("split with a zero size", "input 4x4x8 -> split 0,8 { id | relu }\n", 1, 22,
        ["size", "positive"]),
    row("sizes on another merge", "input 4x4x8 -> add 4,4 { id | relu }\n", 1, 20,
        ["`add` takes no sizes"], hint="`split 4,4 { ... }`"),
    row("split branch from a named tensor",
        "input 4x4x8 as x -> split { @x | relu }\n", 1, 29, ["`@x`"], hint="`concat`"),
    row("split starting a statement",
        "input 4x4x8 as x\ninput 4x4x8 as y\nsplit { @x | @y }\n", 3, 1,
        ["`split`", "cannot start a statement"], hint="`concat { @a | @b }`"),
    row("split branches that disagree", "input 4x4x8 -> split { id | maxpool 2 }\n", 1, 16,
        ["`split` branches disagree", "4x4x4, 2x2x4"]),
    row("bilinear upsampling in 1-D", "input 16x4 -> upsample 2 bilinear\n", 1, 15,
        ["bilinear", "2-D"], hint="nearest"),
    row("flatten in an unknown order", "input 4x4x8 -> flatten hwc\n", 1, 24, ["`hwc`"],
        hint="`chw`"),
    row("sepconv mult=0", "input 8x8x2 -> sepconv 3 x4 mult=0\n", 1, 34, ["mult", "positive"]),
    row("keras depth_multiplier= on sepconv",
        "input 8x8x2 -> sepconv 3 x4 depth_multiplier=2\n", 1, 29, ["`mult=2`"],
        hint="`sepconv 3 x4 mult=2`"),

    # -- version 3: padding --------------------------------------------------------------------
    row("pad= beside same", "input 8x8x3 -> conv 3 x4 pad=1 same\n", 1, 26,
        ["`pad=`", "`same`"], hint="keep one"),
    row("pad= beside valid on a pool", "input 8x8x3 -> maxpool 2 valid pad=1\n", 1, 32,
        ["`pad=`", "`valid`"], hint="keep one"),
    row("causal in 2-D", "input 8x8x3 -> conv 3 x4 causal\n", 1, 26,
        ["`causal`", "1-D", "2-D"], hint="`pad=2:0x2:0`"),
    row("causal on a pool", "input 8x3 -> maxpool 2 causal\n", 1, 24,
        ["`maxpool` takes no `causal`"], hint="`pad=2:0`"),
    row("causal on deconv", "input 8x3 -> deconv 2 x4 causal\n", 1, 26,
        ["`deconv` takes no `causal`"], hint="in 1-D"),
    row("causal beside same", "input 8x3 -> conv 3 x4 causal same\n", 1, 24,
        ["`causal`", "`same`"], hint="keep one"),
    row("causal beside pad=", "input 8x3 -> conv 3 x4 pad=1 causal\n", 1, 24,
        ["`pad=`", "`causal`"], hint="keep one"),
    row("outpad as large as the stride", "input 8x8x3 -> deconv 3/2 x4 pad=1 outpad=2\n",
        1, 36, ["`outpad=2`", "smaller than the stride 2"], hint="at most 1"),
    row("outpad per dimension", "input 8x8x3 -> deconv 3/2x1 x4 pad=1 outpad=1x1\n", 1, 38,
        ["`outpad=1`", "stride 2x1"], hint="at most 0"),
    row("outpad beside same", "input 8x8x3 -> deconv 3/2 x4 same outpad=1\n", 1, 35,
        ["`outpad=`", "not `same`'s"], hint="`pad=1 outpad=1`"),
    row("include_pad on maxpool", "input 8x8x3 -> maxpool 3/2 pad=1 include_pad\n", 1, 34,
        ["`include_pad`", "`avgpool`"], hint="minus infinity"),
    row("ceil beside same", "input 8x8x3 -> maxpool 3/2 same ceil\n", 1, 33,
        ["`ceil`", "`same`"], hint="`ceil_mode`"),
    row("pool pad as wide as the window", "input 8x8x3 -> maxpool 2 pad=2\n", 1, 26,
        ["`pad=2`", "smaller than the window 2x2"], hint="at most 1"),
    row("pool pad after as wide as the window", "input 8x8x3 -> avgpool 3 pad=0:3\n", 1, 26,
        ["`pad=0:3`", "window 3x3"], hint="at most 2"),
    row("kernel larger than the padded input", "input 2x2x1 -> conv 5 x4 pad=1\n", 1, 16,
        ["kernel 5x5", "2x2 input", "`pad=1`", "(4x4)"], hint="pad more"),
    row("dilated kernel larger than the padded input",
        "input 4x1 -> conv 3 x1 dilation=3 pad=0:1\n", 1, 14,
        ["dilated kernel 7 (3)", "`pad=0:1`", "(5)"], hint="pad more"),
    row("window larger than the padded input", "input 2x2x1 -> maxpool 5 pad=1\n", 1, 16,
        ["window 5x5", "`pad=1`"], hint="pad more"),
    row("ceil window larger than the input", "input 1x1x2 -> avgpool 3/2 ceil\n", 1, 16,
        ["window 3x3 is larger than the 1x1 input"], hint="`pad=1`"),
    row("deconv pads cutting everything", "input 1x1x1 -> deconv 3 x1 pad=2\n", 1, 16,
        ["`pad=2`", "cuts all of the 3x3"], hint="pad less"),
    row("reflect as wide as the input", "input 3x3x1 -> pad 3 reflect\n", 1, 16,
        ["`pad 3:3x3:3 reflect`", "3 positions of the 3", "dimension 1"], hint="at most 2"),
    row("reflect after as wide as the input", "input 5x2x1 -> pad 1x0:2 reflect\n", 1, 16,
        ["2 positions of the 2", "dimension 2"], hint="at most 1"),
    row("reflect and replicate", "input 3x3x1 -> pad 1 reflect replicate\n", 1, 16,
        ["`reflect` and `replicate`"], hint="keep one"),
    row("pad step without its size", "input 3x3x1 -> pad reflect\n", 1, 16,
        ["`pad` needs a padding"], hint="`pad 1 reflect`"),
    row("pad step on a vector", "input 8 -> pad 1\n", 1, 12, ["`pad`", "vector"]),
    row("pad= as a word", "input 8x8x3 -> conv 3 x4 pad=same\n", 1, 30,
        ["`pad` must be a size"], hint="`pad=1`"),
    row("negative pad=", "input 8x8x3 -> conv 3 x4 pad=-1\n", 1, 30,
        ["pad must be at least 0, got -1"], hint="at least 0"),
    row("pad= with a stride", "input 8x8x3 -> conv 3 x4 pad=1/2\n", 1, 30,
        ["`pad` must be a size"]),
    row("pad= with a dimension too many", "input 8x8x3 -> conv 3 x4 pad=1x2x3\n", 1, 30,
        ["`1x2x3` has 3 numbers", "2 spatial dimensions"]),
    row("pad= given twice", "input 8x8x3 -> conv 3 x4 pad=1 pad=2\n", 1, 32,
        ["option `pad` is given twice"], hint="once"),
    row("PyTorch's padding=1", "input 8x8x3 -> conv 3 x4 padding=1\n", 1, 26,
        ["`padding=`", "`pad=1`"], hint="`conv 3 x4 pad=1`"),
    row("PyTorch's padding=1 on a pool", "input 8x8x3 -> maxpool 3/2 padding=1\n", 1, 28,
        ["`padding=`", "`pad=1`"], hint="`maxpool 3/2 pad=1`"),
    row("ceil on a convolution", "input 8x8x3 -> conv 3 x4 ceil\n", 1, 26,
        ["`conv` does not take `ceil`"]),
    row("pad= on dense", "input 8 -> dense 4 pad=1\n", 1, 20, ["unknown option `pad`"]),

    # -- version 3: normalisation and activations ----------------------------------------------
    row("groupnorm 5 on 64 channels", "input 8x8x64 -> groupnorm 5\n", 1, 17,
        ["`groupnorm 5`", "divisible by 5", "64 channels"],
        hint="`groupnorm 4` or `groupnorm 8` on 64 channels"),
    row("more groups than channels", "input 8x8x4 -> groupnorm 8\n", 1, 16,
        ["divisible by 8", "4 channels"], hint="`groupnorm 4` on 4 channels"),
    row("groupnorm without groups", "input 8x8x4 -> groupnorm\n", 1, 16,
        ["`groupnorm` needs a number of groups"], hint="`groupnorm 32`"),
    row("groupnorm eps=0", "input 8x8x4 -> groupnorm 2 eps=0\n", 1, 16,
        ["eps must be positive"], hint="`eps=0.001`"),
    row("instancenorm affine=maybe", "input 8x8x4 -> instancenorm affine=maybe\n", 1, 36,
        ["`affine` must be `true` or `false`"], hint="`affine=false`"),
    row("instancenorm on a vector", "input 10 -> instancenorm\n", 1, 13,
        ["`instancenorm`", "vector of 10 values"], hint="`flatten`"),
    row("lrn without a size", "input 8x8x4 -> lrn\n", 1, 16,
        ["`lrn` needs a number of channels in the window"], hint="`lrn 5`"),
    row("lrn k=0", "input 8x8x4 -> lrn 5 k=0\n", 1, 16, ["k must be positive"],
        hint="`k=1`"),
    row("lrn with a negative alpha", "input 8x8x4 -> lrn 5 alpha=-1\n", 1, 16,
        ["alpha must be at least 0"], hint="`alpha=0.0001`"),
    row("prelu fused into a conv", "input 8x8x4 -> conv 3 x16 prelu\n", 1, 27,
        ["`prelu` has weights", "step of its own"], hint="`conv 3 x16 -> prelu`"),
    row("prelu share", "input 8x8x4 -> prelu share\n", 1, 22, ["`share`"],
        hint="did you mean `shared`?"),
    row("clip without bounds", "input 8x8x4 -> clip\n", 1, 16, ["`clip` needs its bounds"],
        hint="`clip=-1,1`"),
    row("clip fused without bounds", "input 8x8x4 -> conv 1 x2 clip\n", 1, 26,
        ["`clip` needs its bounds"], hint="`clip=LO,HI`"),
    row("clip bounds reversed", "input 8x8x4 -> clip=6,0\n", 1, 21,
        ["lower bound must be below", "`clip=6,0`"], hint="`clip=0,6`"),
    row("clip with one bound", "input 8x8x4 -> dense 2 clip=6\n", 1, 29,
        ["`clip=` takes two numbers"], hint="`clip=0,6`"),
    row("gelu=erf", "input 8x8x4 -> gelu=erf\n", 1, 21, ["gelu's only value is `tanh`"],
        hint="`gelu=tanh`"),
    row("celu=0", "input 8x8x4 -> conv 1 x2 celu=0\n", 1, 31, ["celu's alpha must not be 0"],
        hint="`celu`"),
    row("elu with two values", "input 8x8x4 -> elu=1,2\n", 1, 20, ["takes one value"],
        hint="`elu=0.5`"),
    row("mish with a value", "input 8x8x4 -> mish=1\n", 1, 16, ["`mish` takes no value"],
        hint="`gelu=tanh`"),
]


def _in(value: int, expected) -> bool:
    return value in expected if isinstance(expected, (set, tuple, frozenset)) else \
        value == expected


@pytest.mark.parametrize("source, line, col, words, hint, notes", ROWS)
def test_error(tmp_path, source, line, col, words, hint, notes):
    check_row(tmp_path, source, line, col, words, hint, notes)


def check_row(tmp_path, source, line, col, words, hint, notes) -> None:
    """One row of an error table: its one error where the row says, naming its words,
    with a hint (containing `hint`, if given) and the notes."""
    r = run(tmp_path, source)
    d = the_error(r)
    assert _in(d.line, line) and _in(d.column, col), \
        f"error at {d.line}:{d.column}, expected {line}:{col}:\n{r.err}"
    for word in words:
        assert contains(d.message, word), f"{word!r} not in message {d.message!r}"
    assert d.hint, f"no `hint:` line (what to write instead):\n{r.err}"
    if hint:
        assert hint in d.hint, f"{hint!r} not in hint {d.hint!r}"
    for note in notes:
        assert any(note in n for n in d.notes), f"{note!r} not in notes {d.notes}"


@pytest.mark.parametrize("source, line, col, words, hint, notes", [
    r for r in ROWS if r.id in ("syntax error", "unknown step comv", "kernel larger than input",
                                "merge branches disagree", "not UTF-8", "NUL byte")])
def test_shapes_renders_errors_like_check(tmp_path, source, line, col, words, hint,
                                          notes):
    for fmt in ("table", "json"):
        r = run(tmp_path, source, "--format", fmt, command="shapes")
        d = the_error(r)
        assert _in(d.line, line) and _in(d.column, col)


# ---- specific promises --------------------------------------------------------------------

def test_kernel_error_is_rendered_exactly(tmp_path):
    r = run(tmp_path, "input 6x6x1 -> conv 7x7 x2\n")
    lines = r.err.rstrip("\n").split("\n")
    assert r.rc == 1
    assert lines[0] == (f"{r.path}:1:16: error: kernel 7x7 is larger than the 6x6 input with "
                        "valid padding")
    assert lines[1] == "    input 6x6x1 -> conv 7x7 x2"
    assert lines[2].startswith("    " + " " * 15 + "^")
    assert lines[-1].startswith("hint: ") and "`same`" in lines[-1]


def test_merge_error_names_every_branch(tmp_path):
    r = run(tmp_path, "input 8x8x3 -> concat { id | conv 3 x2 | maxpool 2 }\n")
    d = the_error(r)
    text = d.message + "\n" + "\n".join(d.notes)
    for shape in ("8x8x3", "6x6x2", "4x4x3"):
        assert shape in text


def test_nesting_never_overflows_the_stack(tmp_path):
    deep = 100_000
    r = run(tmp_path, "input 8x8x4 -> " + "( " * deep + "relu" + " ) * 1" * deep)
    d = the_error(r)
    assert "nest" in d.message
    assert "RecursionError" not in r.err and "too large to process" not in r.err


@pytest.mark.parametrize("source", [
    "input 6 -> dense {" + "(" * 490 + "3" + ")" * 490 + "}\n",
    "input 6 -> dense {" + "-" * 998 + "3}\n",
])
def test_deep_expressions_do_not_overflow(tmp_path, source):
    # The evaluator has no recursion: nesting up to the 1,000-character limit is fine.
    r = run(tmp_path, source)
    assert r.rc == 0, r.err
    assert r.out == "ok: 2 layers, 21 params\n"


@pytest.mark.parametrize("source", [
    "input 6 -> dense {" + "(" * 5000 + "3" + ")" * 5000 + "}\n",
    "input 6 -> dense {" + "-" * 5000 + "3}\n",
])
def test_overlong_expressions_are_refused(tmp_path, source):
    d = the_error(run(tmp_path, source))
    assert (d.line, d.column) == (1, 18)
    assert "longer than 1,000 characters" in d.message and d.hint


def test_missing_file(tmp_path, capsys):
    path = tmp_path / "nope.cnn"
    rc = main(["check", str(path)])
    captured = capsys.readouterr()
    assert rc == 1
    assert captured.out == ""
    assert "Traceback" not in captured.err
    first = captured.err.split("\n")[0]
    assert re.match(rf"^{re.escape(str(path))}(:\d+:\d+)?: error: ", first), captured.err
    assert "no such file" in captured.err.lower() and "\nhint: " in captured.err


def test_directory_instead_of_file(tmp_path, capsys):
    rc = main(["check", str(tmp_path)])
    captured = capsys.readouterr()
    assert rc == 1
    assert "Traceback" not in captured.err
    assert captured.err.startswith(f"{tmp_path}") and ": error: " in captured.err
    assert "\nhint: " in captured.err


@pytest.mark.parametrize("source, written", [
    ("input 6 -> dense 3 bias=false bias=true\n", "bias"),
    ("input 6x6x1 -> conv 3 x2 same valid\n", "valid"),
    ("input 6x6x1 -> conv 3 x2 relu tanh\n", "tanh"),
    ("input 6x6x4 -> add { id | id } relu\n", "relu"),
])
def test_hint_never_suggests_what_was_written(tmp_path, source, written):
    # A word that is known but given twice (or not allowed here) is not a misspelling.
    r = run(tmp_path, source)
    d = the_error(r)
    assert f"did you mean `{written}`?" not in (d.hint or ""), r.err
    assert not d.message.startswith(f"unknown option `{written}`"), r.err


def test_name_given_twice_is_an_error(tmp_path):
    # Which of two names would the layer get? Each argument may be given once.
    r = run(tmp_path, "input 6 -> dense 3 name=a name=b\n")
    d = the_error(r)
    assert d.line == 1 and d.column in (20, 27)
    assert "name" in d.message


@pytest.mark.parametrize("source", [
    "input 6 -> dropout 1e400\n",
    "input 6 -> dropout -1e400\n",
    "input 6 -> bn eps=1e400\n",
    "input 6 -> bn momentum=1e400\n",
    "input 6 -> leaky_relu=1e400\n",
    "input 6 -> dense 4 leaky_relu=1e400\n",
    "input 6 -> dense {1e400/7}\n",
    "input 6 -> dense {1e300/7*1e300}\n",
    pytest.param("input 6 -> dense {" + "*".join(["1e400"] * 12) + "}\n", id="1e400**12"),
    pytest.param("input 6 -> dense {" + "*".join(["1e400"] * 40) + "}\n", id="1e400**40"),
    "input 6 -> dense 1e401\n",
    "input 6 -> ( relu ) * 1e400\n",
], ids=lambda source: source.strip().removeprefix("input 6 -> "))
def test_huge_numbers_give_a_located_error(tmp_path, source):
    r = run(tmp_path, source)
    d = the_error(r)
    assert d.line == 1
    assert d.hint, r.err


def test_every_other_frameworks_name_hints_its_own_kind(tmp_path):
    """Each name a catalogue class lists (`GlobalAveragePooling2D`) is answered with that
    class's word, and not with another kind's word that differs from it only in case or
    `_` (PyTorch's `Linear` beside the activation `linear`): the table cannot shadow
    itself."""
    from cnndsl.layers import KINDS

    for kind in KINDS:
        word = (kind.words or (kind.kind,))[0]
        for name in vars(kind).get("other_names", ()):
            r = run(tmp_path, f"input 8x8x3 -> {name}\n")
            d = the_error(r)
            if kind.kind == "activation":  # Keras's Activation layer: write the function
                assert d.hint and d.hint.startswith("write the activation by its name"), name
            else:
                assert d.hint and d.hint.startswith(f"did you mean `{word}`?"), (name, d.hint)


@pytest.mark.parametrize("separator", [
    pytest.param("\x0c", id="form feed"), pytest.param("\x0b", id="vertical tab"),
    pytest.param("\x1c", id="file separator"), pytest.param("\x1d", id="group separator"),
    pytest.param("\x1e", id="record separator"), pytest.param("\x85", id="NEL"),
    pytest.param("\u2028", id="LINE SEPARATOR"), pytest.param("\u2029", id="PARA SEPARATOR"),
])
def test_odd_characters_in_a_comment_do_not_shift_the_caret(tmp_path, separator):
    # Comments may hold any character but a newline; the error on the next line must still
    # show that line with the caret under `comv`.
    r = run(tmp_path, f"input 6x6x1 # page{separator}break\n-> comv 3 x2\n")
    d = the_error(r)
    assert (d.line, d.column) == (2, 4)
    assert d.source_line == "    -> comv 3 x2"


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_caret_points_at_the_offending_word_whatever_the_line_endings(tmp_path, newline):
    r = run(tmp_path, f"input 6x6x1{newline}-> comv 3 x2{newline}")
    d = the_error(r)
    at = d.caret_line.index("^")
    assert d.source_line[at:at + 4] == "comv", r.err
    assert d.hint and "did you mean `conv`?" in d.hint


def test_form_feed_as_whitespace(tmp_path):
    # \f is whitespace in the grammar, so the caret must still land on `comv`.
    r = run(tmp_path, "input 6x6x1\x0c-> comv 3 x2\n")
    d = the_error(r)
    at = d.caret_line.index("^")
    assert d.source_line[at:at + 4] == "comv", r.err
    assert d.source_line == "    input 6x6x1 -> comv 3 x2"


def test_error_in_a_block_points_into_the_block(tmp_path):
    r = run(tmp_path, "def a(n) = conv {n}x{n} x2\ninput 6x6x1 -> a(7)\n")
    d = the_error(r)
    assert (d.line, d.column) == (1, 12)
    assert "7x7" in d.message


# ---- every error has a hint ---------------------------------------------------------------

PACKAGE = Path(__file__).resolve().parent.parent / "cnndsl"
# The errors users see, and where their hint goes: (positional index, keyword).
HINTED = {"CnnError": (2, "hint"), "LayerError": (1, "hint"), "FileError": (2, "hint"),
          "_fail": (4, "hint")}


def _missing_hints(tree: ast.AST, source: str) -> list[str]:
    """Calls making a user error without a hint (or with `hint=None`), and `UserError`s
    whose text is neither a rendered error nor has a `hint:` line."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", getattr(node.func, "attr", None))
        if name in HINTED:
            index, keyword = HINTED[name]
            given = [k.value for k in node.keywords if k.arg == keyword]
            given += node.args[index:index + 1]
            if not given or (isinstance(given[0], ast.Constant) and not given[0].value):
                found.append(f"line {node.lineno}: {ast.get_source_segment(source, node)}")
        elif name == "UserError" and node.args:
            text = ast.get_source_segment(source, node.args[0]) or ""
            if ".render(" not in text and "hint: " not in text:
                found.append(f"line {node.lineno}: {text}")
    return found


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")),
                         ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_every_error_the_code_makes_has_a_hint(path):
    """Read off the source, so that an error no test reaches cannot lack a hint either:
    every `CnnError`, `LayerError` and `FileError` is made with one, and every message the
    CLI prints itself ends with a `hint:` line."""
    source = path.read_text(encoding="utf-8")
    assert _missing_hints(ast.parse(source), source) == []


def test_the_hint_scan_would_catch_a_missing_hint():
    source = ('CnnError("a", span)\nCnnError("a", span, None)\nLayerError("a")\n'
              'CnnError("a", span, hint="fine")\nUserError(f"{x}: error: no")\n'
              'UserError(e.render())\n')
    assert len(_missing_hints(ast.parse(source), source)) == 4


def test_a_directory_or_unreadable_spec_has_a_hint(tmp_path, capsys, monkeypatch):
    rc = main(["check", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 1 and err == (f"{tmp_path}: error: is a directory, not a file\n"
                               "hint: give a .cnn file, or `-` and the spec on standard input\n")
    spec = tmp_path / "locked.cnn"
    spec.write_text("input 6 -> relu\n", encoding="utf-8")
    real_open = os.open

    def refuse(path, *args, **kwargs):  # root reads anything: as if it were mode 000
        if str(path) == str(spec):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    rc = main(["check", str(spec)])
    err = capsys.readouterr().err
    assert rc == 1 and err == (f"{spec}: error: cannot read the file: Permission denied\n"
                               "hint: check the file's permissions\n")


def test_a_fifo_as_spec_is_refused_not_waited_on(tmp_path):
    """`open()` of a FIFO waits for a writer, forever if none comes; `-` reads a pipe."""
    fifo = tmp_path / "net.cnn"
    os.mkfifo(fifo)
    result = subprocess.run([sys.executable, "-m", "cnndsl", "check", str(fifo)],
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(PACKAGE.parent)})
    assert result.returncode == 1
    assert result.stderr == (f"{fifo}: error: is a named pipe (FIFO), not a regular file\n"
                             "hint: give a .cnn file, or `-` and the spec on standard input\n")


def test_out_of_memory_has_a_hint(tmp_path, capsys, monkeypatch):
    import cnndsl.language.frontend

    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(cnndsl.language.frontend, "compile_text", exhausted)
    spec = tmp_path / "net.cnn"
    spec.write_text("input 6 -> relu\n", encoding="utf-8")
    assert main(["check", str(spec)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{spec}: error: out of memory\nhint: ")


# ---- warnings -----------------------------------------------------------------------------

WARNINGS = [
    pytest.param("input 8x8x4 -> dense 10\n", 1, 16, ["`dense`", "8x8x4"], "flatten",
                 "ok: 2 layers, 50 params", id="dense on rank 3"),
    pytest.param("input 100x3 -> dense 10 -> flatten -> dense 2\n", 1, 16, ["`dense`"],
                 "flatten", "ok: 4 layers, 2,042 params", id="dense on rank 2"),
    pytest.param("input 10 -> softmax -> dense 3\n", 1, 13, ["softmax"], None,
                 "ok: 3 layers, 33 params", id="softmax not last"),
    pytest.param("input 10 -> dense 4 softmax -> dense 3\n", 1, 13, ["softmax"], None,
                 "ok: 3 layers, 59 params", id="fused softmax not last"),
    pytest.param("input 10 -> dropout 0.95 -> dense 3\n", 1, 13, ["0.95"], None,
                 "ok: 3 layers, 33 params", id="dropout above 0.9"),
    # flatten of 784 values, then dense 784*2 + 2 = 1,570
    pytest.param("input 28x28x1 -> flatten -> flatten -> dense 2\n", 1, 29,
                 ["`flatten`", "vector"], "remove it", "ok: 4 layers, 1,570 params",
                 id="flatten of a vector"),
    # legal (a 1-D conv over 28 positions of 28 channels: 3*28*8 + 8 = 680), but a grey
    # image without its channel axis is likelier
    pytest.param("input 28x28 -> conv 3 x8\n", 1, 1, ["`input 28x28`", "no channel axis"],
                 "`input 28x28x1`", "ok: 2 layers, 680 params", id="square input, no channels"),
]


@pytest.mark.parametrize("source, line, col, words, hint, ok", WARNINGS)
def test_warning(tmp_path, source, line, col, words, hint, ok):
    r = run(tmp_path, source)
    assert r.rc == 0, r.err
    assert r.out == ok + "\n"
    first = r.err.split("\n")[0]
    assert re.match(rf"^{re.escape(r.path)}:\d+:\d+: warning: ", first), r.err
    found = parse_diagnostics(r)
    assert [d.severity for d in found] == ["warning"], r.err
    d = found[0]
    check_rendering(d, r.text)
    assert (d.line, d.column) == (line, col), r.err
    for word in words:
        assert word in d.message
    if hint:
        assert d.hint and hint in d.hint


def test_warnings_come_before_the_report(tmp_path):
    r = run(tmp_path, "input 10 -> dropout 0.95 -> dense 3\n", "--format", "json",
            command="shapes")
    assert r.rc == 0
    assert "warning:" in r.err and r.out.lstrip().startswith("{")


@pytest.mark.parametrize("source", [
    "input 10 -> dense 4 softmax\n",
    "input 10 -> dropout 0.9 -> dense 3\n",
    "input 10 -> dropout 0.5 -> dense 3 softmax\n",
    "input 8x8x4 -> flatten -> dense 10 softmax\n",
    "input 100x12 -> conv 5 x8 -> gap -> dense 2\n",  # a 1-D signal: 100 steps, 12 channels
    "input 28x28 -> flatten -> dense 2\n",  # no window slides over it
])
def test_no_warning_for_ordinary_networks(tmp_path, source):
    r = run(tmp_path, source)
    assert r.rc == 0 and r.err == ""


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.cnn")), ids=lambda p: p.stem)
def test_examples_have_no_errors(capsys, path):
    assert main(["check", str(path)]) == 0
    assert "error" not in capsys.readouterr().err


def test_an_unknown_block_called_like_keras_activation_gets_the_activation_hint():
    """`Activation(...)` written as a block use (a word with arguments in parentheses):
    no such block, and the hint says how cnndsl writes an activation, as for the step
    word (found by mutation testing: the call's unknown step was read with no arguments
    only by chance)."""
    with pytest.raises(CnnError) as caught:
        compile_text("input 8 -> Activation(2)\n", "t")
    assert "unknown step `Activation`" in str(caught.value)
    assert "by its name alone" in (caught.value.hint or "")

"""Specs beyond the limits are refused with a located error (cnndsl/support/limits.py), never by
exhausting memory or the stack. How fast is measured by benchmarks/bench_limits.py."""

import random
import re
from itertools import islice

import pytest
from outcomes import cli

from cnndsl import CnnError, compile_text
from cnndsl.cli import main
from cnndsl.language import blocks
from cnndsl.language.sizing import Sizer
from cnndsl.support.limits import (
    MAX_ARGUMENTS,
    MAX_BRANCHES,
    MAX_DEFINITIONS,
    MAX_EXPRESSION_STEPS,
    MAX_LAYERS,
    MAX_LIST_VALUES,
    MAX_NAME_CHARS,
    MAX_NESTING,
    MAX_SOURCE_BYTES,
    MAX_STEPS_WRITTEN,
    MAX_TOKENS,
)
from cnndsl.syntax import guard
from cnndsl.syntax.parser import parse

DOUBLING = "def b0 = conv 1 x1 -> conv 1 x1\n" + "".join(
    f"def b{i} = b{i - 1} -> b{i - 1}\n" for i in range(1, 40)) + "input 4x4x1 -> b39\n"

CASES = [
    pytest.param("input 6x6x1 -> ( conv 1 x1 ) * 1000000000\n", (1, 16),
                 "more than 100,000 layers", id="repeat a billion times"),
    pytest.param(DOUBLING, (41, 16), "more than 100,000 layers", id="blocks doubling 39 times"),
    pytest.param("input 4x4x1 " + "-> relu " * (MAX_LAYERS + 5) + "\n", (1, 800013),
                 "more than 100,000 steps", id="100,005 steps written out"),
    pytest.param("input 4x4x1 -> ( relu ) * 100000\n", (1, 16), "more than 100,000 layers",
                 id="exactly one layer too many"),
    pytest.param("input 8x8x4 -> " + "add { id | " * 10_000 + "relu" + " }" * 10_000 + "\n",
                 None, "nest", id="merges 10,000 deep"),
    pytest.param("input 8x8x4 -> " + "( " * 10_000 + "relu" + " ) * 2" * 10_000 + "\n",
                 None, "nest", id="repeats 10,000 deep"),
    pytest.param("input 65536x65536x2\n", (1, 1), "over the limit of 2^31", id="2^33 inputs"),
    pytest.param("input 4096x4096x1 -> conv 3 x256 same\n", (1, 22), "2^31",
                 id="a conv output over 2^31"),
    pytest.param("input 8 -> dense {" + "1+" * 600 + "1}\n", (1, 18), "1,000 characters",
                 id="a 1,201-character expression"),
    # Literals past Python's 4,300-digit int() limit were internal errors (exit 3).
    pytest.param("input 8 -> dense " + "1" * 5000 + "\n", (1, 18), "too long",
                 id="a 5,000-digit width"),
    pytest.param("input 8 -> dropout 0." + "1" * 5000 + "\n", (1, 20), "too long",
                 id="a 5,002-character rate"),
    pytest.param("input 8 -> dropout 1e-" + "0" * 5000 + "1\n", (1, 20), "too long",
                 id="an exponent with 5,000 leading zeros"),
    pytest.param("input 8 -> (relu) * " + "1" * 5000 + "\n", (1, 21), "too long",
                 id="a 5,000-digit repeat count"),
    pytest.param("input 8 -> dense {" + "9" * 900 + "}\n", (1, 19), "too long",
                 id="a 900-digit number in an expression"),
    pytest.param("input 8x" + "7" * 5000 + "\n", (1, 9), "too long",
                 id="a 5,000-digit input size"),
]


@pytest.mark.parametrize("source, where, words", CASES)
def test_beyond_a_limit(tmp_path, capsys, source, where, words):
    path = tmp_path / "net.cnn"
    path.write_text(source)
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    first = err.splitlines()[0]
    assert first.startswith(f"{path}:") and ": error: " in first and words in first, err
    if where:
        assert first.startswith(f"{path}:{where[0]}:{where[1]}: error: "), first
    assert "Traceback" not in err and "RecursionError" not in err


def test_a_huge_file_is_refused_before_it_is_read_as_text(tmp_path, capsys):
    path = tmp_path / "huge.cnn"
    with open(path, "wb") as f:
        f.write(b"input 8x8x1 -> relu\n")
        f.write(b"#" * (50 * 2**20) + b"\n")
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{path}:1:1: error: the file is over the limit of "
                          f"{MAX_SOURCE_BYTES // 2**20} MiB")
    assert "\nhint: " in err


def test_just_within_the_layer_limit_compiles(tmp_path, capsys):
    path = tmp_path / "net.cnn"
    path.write_text(f"input 4x4x1 -> ( relu ) * {MAX_LAYERS - 1}\n")
    assert main(["check", str(path)]) == 0
    assert capsys.readouterr().out == "ok: 100,000 layers, 0 params\n"


# ---- issue 10: limits checked while reading ------------------------------------------------
# Each construct is repeated just past its limit (small specs: the error and where it points),
# and to the 8 MiB size limit and to just under the word limit (the hostile sizes: answered by
# the limits, not by minutes of parsing; how fast is benchmarks/bench_limits.py's job).

WORD = re.compile(r"#[^\n]*|->|[A-Za-z0-9_.]+|\S")  # the word count, written plainly
FULL = MAX_SOURCE_BYTES - 64


def fill(head: str, unit: str, tail: str = "\n", size: int = FULL) -> str:
    return head + unit * ((size - len(head) - len(tail)) // len(unit)) + tail


def under_words(head: str, unit: str, words: int, tail: str = "\n") -> str:
    """`unit` (of `words` words and symbols) repeated to just under the word limit."""
    return head + unit * ((MAX_TOKENS - 100) // words) + tail


def numbered(head: str, unit: str, tail: str, count: int, size: int = FULL) -> str:
    """`unit` numbered 0, 1, ... `count` times at most, within `size` characters."""
    parts, used = [head], len(head) + len(tail)
    for i in range(count):
        piece = unit.format(i=i)
        used += len(piece)
        if used > size:
            break
        parts.append(piece)
    return "".join(parts) + tail


def column_of(source: str, at: int) -> tuple[int, int]:
    return source.count("\n", 0, at) + 1, at - (source.rfind("\n", 0, at) + 1) + 1


def nth(source: str, pattern: str, n: int) -> int:
    """Offset of the n-th (1-based) match of `pattern`."""
    return next(islice(re.finditer(pattern, source), n - 1, None)).start()


def word_after_limit(source: str) -> tuple[int, int]:
    """Where the first word past MAX_TOKENS is, by the plain count."""
    return column_of(source, next(islice(WORD.finditer(source), MAX_TOKENS, None)).start())


ARGS = " ".join(f"o{i}=1" for i in range(MAX_ARGUMENTS + 1))
ONE_OVER = [
    pytest.param("input 8 -> dense 1 " + ARGS + "\n", ("o63=1", 1),
                 f"more than {MAX_ARGUMENTS} arguments", id="65 arguments after a step"),
    pytest.param("input" + " 1" * (MAX_ARGUMENTS + 1) + "\n", ("(?<= )1", MAX_ARGUMENTS + 1),
                 f"more than {MAX_ARGUMENTS} arguments", id="65 arguments of input"),
    pytest.param("input 8 -> add { id | relu }" + " 1" * (MAX_ARGUMENTS + 1) + "\n",
                 ("(?<= )1", MAX_ARGUMENTS + 1), f"more than {MAX_ARGUMENTS} arguments",
                 id="65 arguments after a merge"),
    pytest.param("def b(n) = relu\ninput 8 -> b(" + ",".join(["1"] * (MAX_ARGUMENTS + 1))
                 + ")\n", (r"(?<=,)1", MAX_ARGUMENTS), f"a block use has more than "
                 f"{MAX_ARGUMENTS} arguments", id="65 arguments of a block use"),
    pytest.param("def b(" + ",".join(f"p{i}" for i in range(MAX_ARGUMENTS + 1)) + ") = relu\n"
                 "input 8 -> relu\n", ("p64", 1), f"a block has more than {MAX_ARGUMENTS} "
                 "parameters", id="65 parameters of a block"),
    pytest.param("input 8 -> normalize mean=0," + ",".join(["1"] * MAX_LIST_VALUES) + "\n",
                 (r"(?<=,)1", MAX_LIST_VALUES), f"a list has more than {MAX_LIST_VALUES:,} "
                 "values", id="4,097 values in a list"),
    pytest.param("input 8 -> add{id" + "|id" * MAX_BRANCHES + "}\n", (r"(?<=\|)id",
                 MAX_BRANCHES), f"a merge has more than {MAX_BRANCHES:,} branches",
                 id="10,001 branches"),
    pytest.param(numbered("", "def d{i} = relu\n", "input 8 -> relu\n", MAX_DEFINITIONS + 1),
                 ("d10000", 1), f"defines more than {MAX_DEFINITIONS:,} blocks",
                 id="10,001 defs"),
    pytest.param("input 8 -> " + "(" * (MAX_NESTING + 1) + "\n", (r"\(", MAX_NESTING + 1),
                 f"nesting is deeper than {MAX_NESTING} levels", id="201 unclosed ("),
    pytest.param("input 8 -> " + "add{" * (MAX_NESTING + 1) + "\n", ("add", MAX_NESTING + 1),
                 f"nesting is deeper than {MAX_NESTING} levels", id="201 unclosed add{"),
    pytest.param("input 8 -> relu -> " + "a" * (MAX_NAME_CHARS + 1) + "\n", ("a", 1),
                 f"a word of {MAX_NAME_CHARS + 1:,} characters is too long",
                 id="a 1,001-character name"),
    pytest.param("input 8 -> relu\n" + "#\n" * MAX_TOKENS, (r"#", MAX_TOKENS - 3),
                 f"more than {MAX_TOKENS:,} words and symbols", id="1,000,001 words"),
    # `{expr}` counts of numbers alone are known before expanding, as plain ones are.
    pytest.param("input 8 -> ( relu ) * {1000000000}\n", ("relu", 1),
                 "would have more than 100,000 layers", id="repeat {a billion}"),
    pytest.param("input 8 -> ( relu ) * {10*10000}\n", ("relu", 1),
                 "would have more than 100,000 layers", id="repeat {one layer too many}"),
    pytest.param("def b0 = conv 1 x1\n"
                 + "".join(f"def b{i} = ( b{i - 1} ) * {{2}}\n" for i in range(1, 40))
                 + "input 4x4x1 -> b39\n", ("b39", 2),
                 "would have more than 100,000 layers", id="blocks doubling by {2}"),
    # Counts from block parameters are known from the use, before its layers are made.
    pytest.param("def b0 = conv 1 x1 -> conv 1 x1\n"
                 + "".join(f"def b{i}(n=2) = ( b{i - 1} ) * {{n}}\n" for i in range(1, 40))
                 + "input 4x4x1 -> b39\n", ("b39", 2),
                 "would have more than 100,000 layers", id="doubling by a default"),
    pytest.param("def b0 = conv 1 x1 -> conv 1 x1\n"
                 + "".join(f"def b{i}(n) = ( b{i - 1}(n) ) * {{n}}\n" for i in range(1, 40))
                 + "input 4x4x1 -> b39(2)\n", (r"b39\(2\)", 1),
                 "would have more than 100,000 layers", id="doubling by an argument"),
    # A count from `C` is known only at the use; the repeat it reaches is refused there.
    pytest.param("def b(n) = ( conv 1 x1 ) * {n}\ndef r = b({C*100000})\n"
                 "input 4x4x2 -> r\n", (r"\( conv", 1),
                 "would have more than 100,000 layers", id="a count from C"),
]


@pytest.mark.parametrize("source, where, words", ONE_OVER)
def test_one_past_a_limit_of_reading(tmp_path, source, where, words):
    """Refused where the first item too many is written, with a hint."""
    pattern, n = where
    line, column = column_of(source, nth(source, pattern, n))
    if pattern == "relu":  # a repeat's error points at the repeat, the `(` before it
        column -= 2
    err = check_error(tmp_path, source, words)
    assert err.startswith(f"{tmp_path / 'net.cnn'}:{line}:{column}: error: "), err


def check_error(tmp_path, source: str, words: str) -> str:
    """Run `check` on `source`: exit 1, one located error naming `words`, with its line,
    a caret and a hint; never a traceback."""
    path = tmp_path / "net.cnn"
    path.write_text(source)
    rc, out, err = cli("check", path)
    lines = err.splitlines()
    assert rc == 1 and out == "", err[:500]
    assert lines[0].startswith(f"{path}:") and ": error: " in lines[0], err[:500]
    assert words in lines[0], lines[0][:500]
    assert lines[2].lstrip(" \t").startswith("^") and lines[-1].startswith("hint: "), err[:500]
    assert "Traceback" not in err
    return err


# (the spec, what the error says): each construct to the 8 MiB size limit ...
EIGHT_MIB = [
    pytest.param(lambda: fill("input 8 -> dense", " 1"), id="1 arguments after a step"),
    pytest.param(lambda: fill("input 8 -> dense", " x1"), id="x1 widths after a step"),
    pytest.param(lambda: fill("input", " 1"), id="arguments of input"),
    pytest.param(lambda: numbered("input 8 -> dense 1", " o{i}=1", "\n", 10**7),
                 id="options after a step"),
    pytest.param(lambda: "input 32x32x4 " + "".join(
        f"-> conv 3x3/1 x4 same relu bias=false dilation=1 groups=1 name=c{i:06d} "
        for i in range(MAX_LAYERS - 1)) + "\n", id="99,999 layers with every option"),
    pytest.param(lambda: fill("input 8 -> ", "("), id="unclosed ("),
    pytest.param(lambda: fill("input 8 -> ", "add{"), id="unclosed add{"),
    pytest.param(lambda: fill("input 8 -> add{id", "|id", "}\n"), id="id branches"),
    pytest.param(lambda: fill("input 8 -> concat{relu", "|relu", "}\n"), id="relu branches"),
    pytest.param(lambda: numbered("", "def d{i}=relu\n", "input 8 -> relu\n", 10**6),
                 id="defs"),
    pytest.param(lambda: fill("def b(n)=relu\ninput 8 -> b(1", ",1", ")\n"),
                 id="arguments of a block use"),
    pytest.param(lambda: numbered("def b(p", ",p{i}", ")=relu\ninput 8 -> b\n", 10**7),
                 id="parameters of a block"),
    pytest.param(lambda: fill("input 8 -> normalize mean=0", ",0"), id="a comma list"),
    pytest.param(lambda: fill("input 8 -> relu\n", "#\n"), id="comment lines"),
    pytest.param(lambda: fill("input 8 -> dense {1", "+1", "}\n"), id="a long {expr}"),
]


@pytest.mark.parametrize("make", EIGHT_MIB)
def test_a_construct_filling_the_size_limit_is_refused_by_the_word_count(tmp_path, make):
    source = make()
    assert len(source) <= MAX_SOURCE_BYTES
    err = check_error(tmp_path, source, f"more than {MAX_TOKENS:,} words and symbols")
    line, column = word_after_limit(source)
    assert err.startswith(f"{tmp_path / 'net.cnn'}:{line}:{column}: error: "), err[:300]


# ... and 8 MiB specs of few words, which other limits answer.
FEW_WORDS = [
    pytest.param(lambda: fill("input 8 -> ", "a"), f"a word of {FULL - 12:,} characters",
                 id="one long name"),
    pytest.param(lambda: fill("input 8x8x1 -> conv 1", "x1"),
                 f"more than {MAX_ARGUMENTS} arguments", id="one long size"),
    pytest.param(lambda: fill("input 8 -> relu\n", "\n", "->"), "unexpected end of file",
                 id="blank lines, then an error"),
    pytest.param(lambda: fill("input 8 -> relu\n#", " ->"),
                 f"more than {MAX_STEPS_WRITTEN:,} steps", id="arrows in a comment"),
]


@pytest.mark.parametrize("make, words", FEW_WORDS)
def test_an_8_mib_spec_of_few_words_is_answered(tmp_path, make, words):
    check_error(tmp_path, make(), words)


# ... and to just under the word limit, so the construct's own limit answers.
UNDER_WORDS = [
    pytest.param(lambda: under_words("input 8 -> dense", " 1", 1),
                 f"more than {MAX_ARGUMENTS} arguments", id="1 arguments after a step"),
    pytest.param(lambda: under_words("input 8 -> ", "(", 1),
                 f"deeper than {MAX_NESTING} levels", id="unclosed ("),
    pytest.param(lambda: under_words("input 8 -> ", "add{", 2),
                 f"deeper than {MAX_NESTING} levels", id="unclosed add{"),
    pytest.param(lambda: under_words("input 8 -> add{id", "|id", 2, "}\n"),
                 f"more than {MAX_BRANCHES:,} branches", id="id branches"),
    pytest.param(lambda: numbered("", "def d{i}=relu\n", "input 8 -> relu\n",
                                  (MAX_TOKENS - 100) // 4),
                 f"more than {MAX_DEFINITIONS:,} blocks", id="defs"),
    pytest.param(lambda: under_words("def b(n)=relu\ninput 8 -> b(1", ",1", 2, ")\n"),
                 f"more than {MAX_ARGUMENTS} arguments", id="arguments of a block use"),
    pytest.param(lambda: under_words("input 8 -> normalize variance=1", ",1", 2),
                 f"more than {MAX_LIST_VALUES:,} values", id="a comma list"),
    pytest.param(lambda: numbered("def b(p", ",p{i}", ")=relu\ninput 8 -> b\n",
                                  (MAX_TOKENS - 100) // 2),
                 f"more than {MAX_ARGUMENTS} parameters", id="parameters of a block"),
]


@pytest.mark.parametrize("make, words", UNDER_WORDS)
def test_a_construct_just_under_the_word_limit_is_refused_by_its_own_limit(
        tmp_path, make, words):
    source = make()
    assert len(WORD.findall(source)) <= MAX_TOKENS
    check_error(tmp_path, source, words)


# ---- work that small text can ask for ----------------------------------------------------

def test_id_branches_count_as_layers_while_expanding(tmp_path):
    # 1,000 `id`s used 200 times through a parameter: counted from the block's argument.
    source = ("def b = add{id" + "|id" * 999 + "}\ndef r(n) = ( b ) * {n}\n"
              "input 8 -> r(200)\n")
    err = check_error(tmp_path, source, f"more than {MAX_LAYERS:,} layers")
    assert "each `id` branch counts as a layer" in err


def test_a_merge_counts_as_a_layer_before_expanding(tmp_path):
    """Issue 20: `add { relu | relu }` is three layers, so 33,334 of them and the input
    are 100,003, refused at the repetition before any is made (a merge counted as no
    layer made the estimate 66,669, and 100,000 layers were made before being refused)."""
    source = "input 8 -> ( add { relu | relu } ) * 33334\n"
    err = check_error(tmp_path, source, "would have more than 100,000 layers")
    assert err.startswith(f"{tmp_path / 'net.cnn'}:1:12: error: "), err


def test_expressions_evaluated_again_and_again_are_bounded(tmp_path):
    # `C` changes at every use, so no value can be kept: 500 steps, 100,000 times.
    source = "def b = dense {C+1" + "*1" * 497 + "}\ninput 8 -> ( b ) * {99999}\n"
    check_error(tmp_path, source, f"more than {MAX_EXPRESSION_STEPS:,} steps")


def test_an_expression_under_the_same_values_is_evaluated_once(tmp_path, capsys):
    # The same 500-step expression at 10,000 uses (5,000,000 steps if evaluated at each).
    path = tmp_path / "net.cnn"
    path.write_text("def b = dense {8+0" + "*1" * 490 + "}\ninput 8 -> ( b ) * {10000}\n")
    assert main(["check", str(path)]) == 0
    assert capsys.readouterr().out == f"ok: 10,001 layers, {10_000 * (8 * 8 + 8):,} params\n"


# ---- the estimate made before expanding (cnndsl/language/sizing.py) ------------------------
# A lower bound of the layers each statement's chain makes, counted by hand below; one too
# low lets a hopeless file be expanded until the limit (seconds, megabytes), one too high
# refuses a network within the limits. Found by mutation testing (docs/testing.md).

def estimate(text: str) -> list[int]:
    """The estimate of each statement's chain (the input itself not counted)."""
    module = parse(text)
    definitions = blocks.definitions(module)
    sizer = Sizer({name: (d.index, d.node) for name, d in definitions.items()}, blocks.value)
    scope = len(module.definitions)
    return [sizer.chain(s.body, {}, scope) for s in module.statements if s.body is not None]


BIG = 1_000_000_000
DEPTH = "def b0 = relu -> relu\n" + "".join(f"def b{i} = b{i - 1}\n" for i in range(1, 201))


@pytest.mark.parametrize("text, layers", [
    ("input 8 -> conv 3 x8 -> add { relu | relu -> relu }\n", 1 + (1 + 1 + 2)),
    ("input 8 -> add { id | relu }\n", 3),  # an `id` branch counts as a layer
    ("input 8 as x -> relu\n@x -> relu -> relu\n", [1, 2]),  # `@x` makes no layer
    ("input 8 -> relu as a -> ( relu as b ) * 3\n", 1 + 3),
    ("def b = relu -> relu\ninput 8 -> b -> b()\n", 2 + 2),
    ("def b(n) = ( relu ) * {n}\ninput 8 -> b(2) -> b(5) -> b(n=4)\n", 2 + 5 + 4),
    ("def b(n=3) = ( relu ) * {n}\ninput 8 -> b -> b(5) -> b(n=4)\n", 3 + 5 + 4),
    ("def b(n, m=2) = ( relu ) * {n*m}\ninput 8 -> b(3, m=5) -> b(m=4, n=2) -> b(2)\n",
     15 + 8 + 4),
    # A count that is not a whole number of at least 1, or uses `C`, counts once.
    ("input 8 -> ( relu ) * {5/2} -> ( relu ) * 0 -> ( relu ) * {-3} -> (relu) * {2*C}\n", 4),
    # A block used before it is defined, or inside itself, is refused later: one layer.
    ("def b = relu -> b\ninput 8 -> b\n", 1 + 1),
    ("def a = b -> relu\ndef b = relu -> relu\ninput 8 -> a\n", 1 + 1),
    # Counts stop just past the limit, however large the repeat.
    (f"input 8 -> ( relu ) * {BIG} -> relu\n", MAX_LAYERS + 1),
    (f"input 8 -> ( ( relu ) * {BIG} ) * 2\n", MAX_LAYERS + 1),
    # 200 block uses deep is counted; one deeper, the expansion refuses, counted as one.
    (DEPTH.replace("def b200 = b199\n", "") + "input 8 -> b199\n", 2),
    (DEPTH + "input 8 -> b200\n", 1),
])
def test_the_estimate_before_expanding_counts_each_construct(text, layers):
    assert estimate(text) == (layers if isinstance(layers, list) else [layers])


# ---- the counting itself ---------------------------------------------------------------------

def test_the_word_count_agrees_with_the_plain_pattern():
    text = ("def b(n=2, k=3) = conv {k}x{k}/2 x{n*C} same relu -> add{id|bn} # a -> (b)\n"
            "input 8x8x3->b(4)->( dropout 0.1e-3 ) * 2 -> dense 10 softmax\n-1 x64 -> > -")
    assert guard._WORD_OR_SYMBOL.findall(text) == WORD.findall(text)


def test_exactly_the_word_limit_passes_the_count():
    guard.check_words("(" * MAX_TOKENS)
    with pytest.raises(CnnError) as e:
        guard.check_words("(" * (MAX_TOKENS + 1))
    assert e.value.span.column == MAX_TOKENS + 1


def test_the_word_count_is_exact_across_counting_chunks(monkeypatch):
    # 1.5 MB (six chunks) of words, arrows, symbols and comments: wherever a chunk ends,
    # the limit set to the plain count passes, and one less is refused at the last word.
    rng = random.Random(10)
    pieces = ["relu", "->", "3x3/2", "(", "{C*2}", "# a (comment) -> b\n", "x" * 300,
              "0.5e-3", "|", "-", ">", "\n", "  ", "a_b.c"]
    text = " ".join(rng.choice(pieces) for _ in range(60_000))
    words = WORD.findall(text)
    monkeypatch.setattr(guard, "MAX_TOKENS", len(words))
    guard.check_words(text)
    monkeypatch.setattr(guard, "MAX_TOKENS", len(words) - 1)
    with pytest.raises(CnnError) as e:
        guard.check_words(text)
    last = list(WORD.finditer(text))[-1].start()
    assert (e.value.span.line, e.value.span.column) == column_of(text, last)


def test_a_comment_across_counting_chunks_is_one_word():
    # 1.2 MB of comment holding 600,000 words: one word, however it is cut into chunks.
    text = "input 8 -> relu # " + "a " * 600_000 + "\n-> relu\n"
    guard.check_words(text)
    assert len(compile_text(text)) == 3


def test_long_names_in_comments_are_not_names():
    text = "input 8 -> relu # " + "a" * 5000 + "\n-> relu\n"
    assert len(compile_text(text)) == 3


def test_every_repetition_of_the_grammar_has_its_limit():
    # Found by what they repeat: a grammar change must not silently drop a limit.
    from cnndsl.syntax.parser import _parser

    found = guard.repetitions(_parser().rules)
    assert sorted(limit for limit, *_ in found.values()) == sorted(
        [MAX_ARGUMENTS, MAX_ARGUMENTS, MAX_ARGUMENTS, MAX_BRANCHES, MAX_DEFINITIONS,
         MAX_LIST_VALUES])

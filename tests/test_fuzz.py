"""Fuzzing the front end through the CLI: whatever the file holds, cnndsl either succeeds
(exit 0) or reports a located error (exit 1, `FILE:LINE:COL: error: ...`). Exit 3 (an
internal error) or an exception escaping `cnndsl.cli.main` is always a bug.

Inputs: random bytes (mostly not UTF-8), soups of the language's own tokens, randomly
built but grammatical programs (so that expansion, shape inference and the reports run),
mutations of every file in examples/, and constructs repeated to just short of, at or
just past each limit of cnndsl/support/limits.py.

About 450 examples in all by default, deterministic from run to run. For a long hunt:
`CNNDSL_HYPOTHESIS_PROFILE=thorough pytest tests/test_fuzz.py` (20 times as many, random).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mutation import mutate, pieces

from cnndsl.cli import main
from cnndsl.support.limits import (
    MAX_ARGUMENTS,
    MAX_BRANCHES,
    MAX_DEFINITIONS,
    MAX_ELEMENTS,
    MAX_EXPRESSION_CHARS,
    MAX_NAME_CHARS,
    MAX_NESTING,
    MAX_NUMBER_CHARS,
    MAX_TOKENS,
    MAX_WHOLE,
)

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.cnn"))

# ---- profiles -----------------------------------------------------------------------------
# Registered here rather than in conftest.py; applied per test (never `load_profile`), so
# other test files keep their own settings.
settings.register_profile(
    "cnndsl-fuzz", max_examples=100, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much])
settings.register_profile(
    "thorough", max_examples=2000, deadline=None, derandomize=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much])
_PROFILE_NAME = os.environ.get("CNNDSL_HYPOTHESIS_PROFILE", "cnndsl-fuzz")
PROFILE = settings.get_profile(_PROFILE_NAME if _PROFILE_NAME == "thorough" else "cnndsl-fuzz")


def budget(share: float) -> settings:
    """This test's share of the profile's examples (the profile's 100 -> `share * 100`)."""
    return settings(PROFILE, max_examples=max(1, round(PROFILE.max_examples * share)))


# ---- running a file and judging the outcome -----------------------------------------------

COMMANDS = {
    "check": ["check"],
    "json": ["shapes", "--format", "json"],
    "table": ["shapes"],
}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def run_file(workdir: Path, data: bytes, command: str = "check") -> None:
    """Run one command on `data` and assert the outcome is allowed."""
    path = workdir / "fuzz.cnn"
    path.write_bytes(data)
    argv = [COMMANDS[command][0], str(path), *COMMANDS[command][1:]]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)  # an exception escaping main fails the test by itself
    judge(rc, out.getvalue(), err.getvalue(), str(path), data, command)


def judge(rc: int, out: str, err: str, path: str, data: bytes, command: str) -> None:
    context = f"\ninput: {data!r}\ncommand: {command}\nexit {rc}\nstderr:\n{err}"
    assert rc in (0, 1), "only exit 0 or 1 is allowed" + context
    assert "Traceback" not in err + out, context
    head = re.compile(rf"^{re.escape(path)}:(\d+):(\d+): (error|warning): ")
    lines = err.split("\n")
    if err:
        assert head.match(lines[0]), "stderr must start with FILE:LINE:COL: ..." + context
    located = [(i, head.match(line)) for i, line in enumerate(lines) if head.match(line)]
    errors = [(i, m) for i, m in located if m.group(3) == "error"]
    text = data.decode("utf-8", errors="replace")
    n_lines = max(text.count("\n"), len(text.splitlines())) + 1
    for i, m in located:
        line, col = int(m.group(1)), int(m.group(2))
        assert 1 <= line <= n_lines and col >= 1, "position outside the file" + context
        assert i + 2 < len(lines) and "^" in lines[i + 2], "no source/caret lines" + context
    if rc == 1:
        assert out == "", "an error prints nothing on stdout" + context
        assert len(errors) == 1, "exactly one located error" + context
    else:
        assert not errors, context
        if command == "check":
            assert re.fullmatch(r"ok: \d+ layers, [\d,]+ params\n", out), out + context
        elif command == "json":
            doc = json.loads(out)
            rows = {layer["name"]: layer for layer in doc["layers"]}
            assert doc["layers"] and doc["output_shape"] == doc["outputs"][0]["shape"]
            for end in doc["inputs"] + doc["outputs"]:  # each input and output is a row
                assert rows[end["layer"]]["output_shape"] == end["shape"], context
            assert doc["total"]["params"] == sum(layer["params"] for layer in doc["layers"])
        else:
            assert out.strip(), context


# ---- random bytes -------------------------------------------------------------------------

@budget(0.8)
@given(data=st.one_of(
    st.binary(max_size=200),
    st.text(max_size=120).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.tuples(st.sampled_from([b"input 8x8x3 -> ", b"input 10 -> ", b""]),
              st.binary(max_size=60)).map(b"".join),
))
def test_random_bytes(workdir, data):
    run_file(workdir, data)


# ---- token soups --------------------------------------------------------------------------

TOKENS = [
    "input", "def", "->", "{", "}", "|", "(", ")", "*", "=", ",", ":", "/", "x", "-", "#",
    "3", "3x3", "3x3/2", "1x7", "7/2", "0:1x0:1", "2x2x2", "0", "-1", "1", "2", "10", "64",
    "0.5", "0.95", "1e-3", "1e400", "2.5", "1000000", "x64", "x{n}", "x{C*2}", "x{C/3}",
    "x0", "{k}x{k}", "{2*n}", "{C//2}", "{1/0}", "{n", "n}",
    "conv", "dwconv", "sepconv", "deconv", "dense", "maxpool", "avgpool", "gap", "gmp",
    "flatten", "dropout", "bn", "batchnorm", "zeropad", "upsample", "reshape", "relu",
    "relu6", "softmax", "tanh", "swish", "leaky_relu", "linear", "same", "valid", "add",
    "mul", "concat", "avg", "max", "residual", "id", "name", "bias", "false", "true",
    "dilation", "groups", "eps", "momentum", "C", "n", "k", "b", "block", "stem", "comv",
    "name=a", "bias=false", "dilation=2", "groups=2", "leaky_relu=0.1", "eps=1e-5",
    # language version 2
    "as", "a", "@a", "@b", "@C", "output", "@", "layernorm", "rescale", "{1/255}",
    "normalize", "mean=0.5", "variance=2,3", "crop", "keepdims", "noise=1x1x3",
    "hard_swish", "scale=false", "center=false", "{min(n,2)}", "{round(C/3)}",
]
SEPARATORS = [" ", " ", " ", "\n", "", "\t", "\r\n"]


@st.composite
def soups(draw, prefix: bool) -> bytes:
    pieces = draw(st.lists(st.tuples(st.sampled_from(TOKENS), st.sampled_from(SEPARATORS)),
                           max_size=30))
    text = "".join(tok + sep for tok, sep in pieces)
    if prefix:
        shape = draw(st.sampled_from(["8x8x3", "6x6x1", "32x3", "10", "4x8x8x2"]))
        text = f"input {shape} -> " + text
    return text.encode("utf-8")


@budget(1.2)
@given(data=st.one_of(soups(prefix=False), soups(prefix=True)))
def test_token_soup_check(workdir, data):
    run_file(workdir, data, "check")


@budget(0.5)
@given(data=soups(prefix=True), command=st.sampled_from(["json", "table"]))
def test_token_soup_shapes(workdir, data, command):
    run_file(workdir, data, command)


# ---- grammatical programs -----------------------------------------------------------------

SIZES = ["1", "2", "3", "3x3", "3/2", "3x3/2", "2x2", "1x7", "7x1", "5", "0", "-1", "{k}",
         "{k}x{k}", "{n}", "1:2", "0:1x0:1", "3x3x3", "2/3", "{C}", "{n//2}"]
WIDTHS = ["x1", "x2", "x4", "x16", "x0", "x{n}", "x{C}", "x{C*2}", "x{C//2}", "x{C/3}",
          "x{2*n}", "x{n-4}"]
NUMBERS = ["0", "1", "2", "10", "0.5", "0.95", "1.5", "-1", "2.5", "1e-3", "1e400", "{n}",
           "{1/0}", "1000000000000", "{C}"]
OPTIONS = ["same", "valid", "relu", "softmax", "tanh", "leaky_relu=0.1", "leaky_relu=1e400",
           "bias=false", "bias=maybe", "dilation=2", "dilation=0", "groups=2", "eps=1e-5",
           "eps=0", "momentum=0.9", "name=a", "name=b", "nmae=x", "relu6", "swish", "linear"]
WORDS = ["conv", "conv", "dwconv", "sepconv", "deconv", "dense", "dense", "maxpool",
         "avgpool", "gap", "gmp", "flatten", "dropout", "bn", "batchnorm", "zeropad",
         "upsample", "reshape", "relu", "softmax", "leaky_relu", "comv", "id"]
CALLS = ["b0", "b0(2)", "b0(4, k=1)", "b1(3)", "b1(n=2)", "b2", "b0(1, 2, 3)", "b0(q=1)"]
INPUTS = ["input 8x8x3", "input 16x16x4", "input 6x6x1", "input 32x3", "input 10",
          "input 4x8x8x2", "input 1x1x1", "input 7x5x2"]
MERGES = ["add", "mul", "avg", "max", "concat"]

layers = st.builds(lambda word, args: " ".join([word, *args]), st.sampled_from(WORDS),
                   st.lists(st.one_of(st.sampled_from(SIZES), st.sampled_from(WIDTHS),
                                      st.sampled_from(NUMBERS), st.sampled_from(OPTIONS)),
                            max_size=4))
steps = st.one_of(layers, layers, st.sampled_from(CALLS))


def _structures(inner):
    chain = st.lists(inner, min_size=1, max_size=4).map(" -> ".join)
    merge = st.builds(lambda op, branches: f"{op} {{ {' | '.join(branches)} }}",
                      st.sampled_from(MERGES),
                      st.lists(st.one_of(st.just("id"), chain), min_size=1, max_size=3))
    residual = chain.map(lambda c: f"residual {{ {c} }}")
    repeat = st.builds(lambda c, n: f"( {c} ) * {n}", chain,
                       st.sampled_from(["1", "2", "3", "0", "{n}", "2.5", "-1"]))
    return st.one_of(chain, merge, residual, repeat)


chains = st.recursive(steps, _structures, max_leaves=10)
definitions = st.lists(chains, max_size=3).map(
    lambda bodies: "".join(f"def b{i}(n=4, k=3) = {body}\n" for i, body in enumerate(bodies)))
programs = st.builds(lambda defs, head, body: f"{defs}{head} -> {body}\n".encode(),
                     definitions, st.sampled_from(INPUTS), chains)


@budget(0.8)
@given(data=programs, command=st.sampled_from(["check", "json", "table"]))
def test_grammatical_programs(workdir, data, command):
    run_file(workdir, data, command)


# ---- mostly valid programs: every kind, merges, blocks, then the reports ------------------

ACTS = ["", "", " relu", " tanh", " sigmoid", " swish", " leaky_relu=0.1", " gelu", " relu6"]
valid_layers = st.one_of(
    st.builds("conv {}/{} x{} same{}{}".format, st.sampled_from([1, 2, 3, 5]),
              st.sampled_from([1, 1, 2]), st.sampled_from([1, 4, 8, "{C}", "{C*2}", "{C//2+1}"]),
              st.sampled_from(ACTS), st.sampled_from(["", " bias=false"])),
    st.builds("conv 3 x{} same dilation={}".format, st.sampled_from([2, 6]),
              st.sampled_from([1, 2])),
    st.builds("dwconv {}/{} x{} same{}".format, st.sampled_from([1, 3]),
              st.sampled_from([1, 2]), st.sampled_from([1, 2]), st.sampled_from(ACTS)),
    st.builds("sepconv {} x{} same{}".format, st.sampled_from([1, 3]),
              st.sampled_from([3, 8]), st.sampled_from(ACTS)),
    st.builds("deconv {}/{} x{} {}".format, st.sampled_from([1, 2, 3]),
              st.sampled_from([1, 2]), st.sampled_from([2, 5]),
              st.sampled_from(["same", "valid"])),
    st.sampled_from(["maxpool 2 same", "avgpool 3/1 same", "maxpool 1", "avgpool 2/1 same",
                     "zeropad 1", "upsample 2", "bn", "batchnorm eps=1e-5 momentum=0.9",
                     "dropout 0.3", "dropout {1/3}", "relu", "softmax", "leaky_relu=0.2",
                     "linear", "dense 6", "dense {C} bias=false", "blk", "blk(4)",
                     "blk(2, k=1)", "widen(2)"]),
)


def _grows(chain: str) -> bool:
    return any(word in chain for word in ("upsample", "deconv", "zeropad", "/2"))


def _valid_structures(inner):
    chain = st.lists(inner, min_size=1, max_size=3).map(" -> ".join)
    return st.one_of(
        chain,
        chain.map(lambda c: f"residual {{ {c} }}" if not _grows(c) else c),
        chain.map(lambda c: f"add {{ id | {c} }}" if not _grows(c) else c),
        st.lists(chain, min_size=1, max_size=3).map(
            lambda cs: "concat { id | " + " | ".join(cs) + " }"
            if not any(_grows(c) for c in cs) else cs[0]),
        chain.map(lambda c: f"mul {{ id | {c} -> conv 1 x1 same sigmoid }}"
                  if not _grows(c) else c),
        st.builds("( {} ) * {}".format, chain, st.sampled_from([1, 2, 3, "{C//C+1}"])),
    )


valid_chains = st.recursive(valid_layers, _valid_structures, max_leaves=8)
VALID_HEADER = ("def blk(n=8, k=3) = conv {k} x{n} same -> bn -> relu\n"
                "def widen(t=2) = conv 1 x{C*t} same -> bn -> relu6\n")
valid_programs = st.builds(
    lambda head, body, tail: f"{VALID_HEADER}{head} -> {body}{tail}\n".encode(),
    st.sampled_from(["input 8x8x3", "input 12x3", "input 4x6x6x2", "input 9x7x5"]),
    valid_chains,
    st.sampled_from(["", " -> gap -> dense 10 softmax", " -> flatten -> dense 3",
                     " -> gmp -> dropout 0.95"]))


@budget(0.6)
@given(data=valid_programs, command=st.sampled_from(["json", "table", "check"]))
def test_mostly_valid_programs(workdir, data, command):
    run_file(workdir, data, command)


# ---- mutations of the examples ------------------------------------------------------------

REPLACEMENTS = ["0", "-1", str(10**12), "2.5"]


@st.composite
def mutants(draw) -> tuple[str, bytes]:
    path = draw(st.sampled_from(EXAMPLES))
    text = mutate(draw, path.read_text(encoding="utf-8"), 1, REPLACEMENTS)
    return path.stem, text.encode("utf-8")


def test_examples_tokenise_losslessly():
    for path in EXAMPLES:
        text = path.read_text(encoding="utf-8")
        assert "".join(pieces(text)) == text, path.name


@budget(1.0)
@given(mutant=mutants(), command=st.sampled_from(["check", "check", "json", "table"]))
def test_mutated_examples(workdir, mutant, command):
    _, data = mutant
    run_file(workdir, data, command)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_unmutated_examples_pass_the_judge(workdir, path, command):
    data = path.read_bytes()
    out, err = io.StringIO(), io.StringIO()
    target = workdir / path.name
    target.write_bytes(data)
    argv = [COMMANDS[command][0], str(target), *COMMANDS[command][1:]]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    assert rc == 0
    judge(rc, out.getvalue(), err.getvalue(), str(target), data, command)


# ---- near every limit ---------------------------------------------------------------------
# A construct repeated to just short of, at or just past a limit (`head`, then `unit` N
# times, `middle`, `closer` N times, `tail`; `{i}` in a unit numbers it), then sometimes an
# odd ending: the answer is a success or a located error, however the count falls. Limits
# whose specs take seconds to accept (100,000 steps or layers, a million comments) are
# left to tests/test_limits.py.

NEAR = [  # (head, unit, middle, closer, tail, limit)
    ("input 8x8x3 -> conv 3 x4", " 1", "", "", "\n", MAX_ARGUMENTS),
    ("input 8x8x3 -> dense 1", " o{i}=1", "", "", "\n", MAX_ARGUMENTS),
    ("input", " 8", "", "", "\n", MAX_ARGUMENTS),
    ("input 8x8x3 -> add { id | relu }", " name=a{i}", "", "", "\n", MAX_ARGUMENTS),
    ("def b(n=1) = relu\ninput 8 -> b(1", ", 1", "", "", ")\n", MAX_ARGUMENTS),
    ("def b(p", ", p{i}", "", "", ") = relu\ninput 8 -> b\n", MAX_ARGUMENTS),
    ("input 8x8x3 -> ", "( ", "relu", " ) * 1", "\n", MAX_NESTING),
    ("input 8x8x3 -> ", "add { id | ", "relu", " }", "\n", MAX_NESTING),
    ("input 8x8x3 -> ", "(", "", "", "\n", MAX_NESTING),
    ("input 8x8x3 -> ", "concat{", "", "", "\n", MAX_NESTING),
    ("input 8x8x3 -> add { id", " | id", "", "", " }\n", MAX_BRANCHES),
    ("input 8x8x3 -> concat { relu", " | relu", "", "", " }\n", MAX_BRANCHES),
    ("", "def d{i} = relu\n", "", "", "input 8 -> d0\n", MAX_DEFINITIONS),
    ("input 8 -> ", "a", "", "", " -> relu\n", MAX_NAME_CHARS),
    ("input 8 -> dense {1", "+1", "", "", "}\n", MAX_EXPRESSION_CHARS // 2),
    ("input 8 -> dense 1", "0", "", "", "\n", MAX_NUMBER_CHARS),
    ("input 8 -> dropout 0.", "1", "", "", "\n", MAX_NUMBER_CHARS),
    ("input 8 -> ", "(", "", "", "\n", MAX_TOKENS - 6),  # refused by nesting or words
    ("input 8 -> dense", " 1", "", "", "\n", MAX_TOKENS - 4),
]
ODD_ENDINGS = ["", "", "", " ->", ")", "}", " relu", "|", ",", " #", "\x00"]


@st.composite
def near_limits(draw) -> bytes:
    head, unit, middle, closer, tail, limit = draw(st.sampled_from(NEAR))
    count = limit + draw(st.integers(-2, 2))
    body = "".join(unit.format(i=i) for i in range(count)) if "{i}" in unit else unit * count
    odd = draw(st.sampled_from(ODD_ENDINGS))
    return (head + body + middle + closer * count + odd + tail).encode()


@st.composite
def repeated_soups(draw) -> bytes:
    """A random fragment of the language's tokens repeated about as often as a limit."""
    fragment = " ".join(draw(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=3)))
    limit = draw(st.sampled_from([MAX_ARGUMENTS, MAX_NESTING, MAX_BRANCHES]))
    count = limit + draw(st.integers(-2, 2))
    head = draw(st.sampled_from(["input 8x8x3 -> ", "input 8x8x3 -> conv 1 x2 ", "",
                                 "input 8 -> add { id ", "def b(n) = relu\ninput 8 -> b("]))
    return (head + (fragment + " ") * count + "\n").encode()


# Values next to the limits on numbers: 2^40 for sizes, 2^31 elements for a tensor.
SIDE = 46341  # 46341^2 is just past 2^31
near_values = st.builds(
    lambda form, delta: form.format(n=MAX_WHOLE + delta, e=MAX_ELEMENTS + delta,
                                    s=SIDE + delta).encode(),
    st.sampled_from(["input 8 -> dense {n}\n", "input {n}\n", "input {e}\n",
                     "input {s}x{s}\n", "input 8x8x1 -> ( relu ) * {n}\n",
                     "input {s}x{s}x1 -> conv 1 x1\n", "input 2x2x1 -> upsample {s}\n"]),
    st.integers(-2, 2))


@budget(0.6)
@given(data=st.one_of(near_limits(), near_limits(), repeated_soups(), near_values))
def test_near_every_limit(workdir, data):
    run_file(workdir, data)

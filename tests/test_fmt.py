"""`cnndsl fmt`: the layout rules (golden files written and checked by hand), idempotence,
and that formatting never changes what a spec means or drops a comment.

Golden files: tests/golden/fmt/NAME.cnn is badly written on purpose, NAME.expected.cnn is
the layout the rules in docs/editors.md give it. Each rule has a case: spacing, arguments
and options, long chains, the author's line breaks, merges and repeats, comments and blank
lines, a `def` body on its own line, named tensors.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scrambled import comments_of, scrambled, signature

from cnndsl.errors import CnnError
from cnndsl.formatting import WIDTH, format_text, layout
from cnndsl.language.frontend import compile_text

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "fmt"
CASES = sorted(p.name.removesuffix(".cnn") for p in GOLDEN.glob("*.cnn")
               if not p.name.endswith(".expected.cnn"))
EXAMPLES = sorted(ROOT.glob("examples/*.cnn"))
THOROUGH = os.environ.get("CNNDSL_HYPOTHESIS_PROFILE") == "thorough"


@pytest.mark.parametrize("case", CASES)
def test_golden_layouts(case):
    written = (GOLDEN / f"{case}.cnn").read_text(encoding="utf-8")
    expected = (GOLDEN / f"{case}.expected.cnn").read_text(encoding="utf-8")
    assert format_text(written) == expected
    assert format_text(expected) == expected
    assert signature(compile_text(expected)) == signature(compile_text(written))


def test_there_is_a_golden_case_for_each_rule():
    assert set(CASES) >= {"spacing", "arguments", "long_chains", "kept_breaks", "merges",
                          "comments", "own_line_def", "named"}


def test_the_lesson_is_one_line_spaced_as_the_whiteboard():
    assert format_text("input 6x6x1->conv 3x3/1 x2  ->maxpool 2->flatten->dense 10") == (
        "input 6x6x1 -> conv 3x3/1 x2 -> maxpool 2 -> flatten -> dense 10\n")


def test_a_long_chain_breaks_before_the_arrow_that_would_pass_the_width():
    steps = [f"conv 3 x{8 + k} same" for k in range(12)]
    out = format_text("input 32x32x3 -> " + " -> ".join(steps))
    lines = out.splitlines()
    assert len(lines) > 1 and all(len(line) <= WIDTH for line in lines)
    assert all(line.startswith("  -> ") for line in lines[1:])
    # each line is as full as it can be: the next line's first step would not fit on it
    for line, after in zip(lines, lines[1:]):
        assert len(line) + len(" -> " + after.removeprefix("  -> ").split(" -> ")[0]) > WIDTH


def test_merge_written_over_lines_is_laid_out_with_its_bars_aligned():
    out = format_text("input 8x8x4 -> add { conv 1 x4\n| conv 3 x4 same -> relu } -> relu")
    assert out == ("input 8x8x4 -> add {\n"
                   "    conv 1 x4\n"
                   "  | conv 3 x4 same -> relu\n"
                   "  } -> relu\n")


def test_comments_keep_their_side_of_the_code_and_their_column():
    """An own-line comment ends a column of end-of-line comments; a comment keeps the
    column its author gave it if it is two spaces clear of the code, else it moves."""
    text = ("# head\ninput 8x8x1  # eol one\n  # own line\n  -> conv 3 x2   # eol two\n"
            "# tail\n")
    assert format_text(text) == text
    assert format_text(text.replace("x2   #", "x2 #")) == text.replace("x2   #", "x2  #")


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_is_formatted(example):
    """CI also runs `cnndsl fmt --check examples/`."""
    text = example.read_text(encoding="utf-8")
    assert format_text(text) == text


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_an_example_written_badly_formats_to_the_same_network(example):
    text = example.read_text(encoding="utf-8")
    bad, comments = scrambled(text, seed=len(text))
    assert bad != text
    out = format_text(bad)
    assert format_text(out) == out
    assert signature(compile_text(out)) == signature(compile_text(text))
    assert sorted(comments_of(out)) == sorted(comments)
    _well_formed(out)


@settings(max_examples=200 if THOROUGH else 25)
@given(example=st.sampled_from(EXAMPLES), seed=st.integers(0, 2**32 - 1),
       density=st.sampled_from([0.0, 0.05, 0.3, 1.0]))
def test_comments_at_random_token_boundaries_all_survive(example, seed, density):
    """Any whitespace, a comment after any token: the same tokens and graph come out,
    every comment with them, and formatting again changes nothing."""
    text = example.read_text(encoding="utf-8")
    bad, comments = scrambled(text, seed, density)
    out = layout(bad)
    assert layout(out) == out
    assert sorted(comments_of(out)) == sorted(comments)
    assert signature(compile_text(out)) == signature(compile_text(text))
    _well_formed(out)


def _well_formed(out: str) -> None:
    lines = out.split("\n")
    assert out.endswith("\n") and not out.endswith("\n\n") and lines[0].strip()
    assert all(line == line.rstrip() for line in lines), "trailing whitespace"
    assert "\n\n\n" not in out and "\t" not in out.replace("\t#", "")


def _docs_programs() -> list[tuple[str, str]]:
    """(where, text) of each ```cnn block of the docs and the README that is a program."""
    try:
        from markdown_it import MarkdownIt
    except ImportError:  # the editor extra; the test below is then skipped
        return []
    found = []
    for page in [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]:
        for tok in MarkdownIt("commonmark").parse(page.read_text(encoding="utf-8")):
            if tok.type == "fence" and tok.info.strip() == "cnn" and tok.map:
                try:
                    compile_text(tok.content)
                except CnnError:
                    continue  # a fragment (`conv 3x3/2 x64`), or an error shown on purpose
                found.append((f"{page.name}:{tok.map[0] + 1}", tok.content))
    return found


DOCS_PROGRAMS = _docs_programs()


@pytest.mark.skipif(not DOCS_PROGRAMS, reason="reading the docs needs markdown-it-py "
                    "(pip install 'cnndsl[editor]')")
@pytest.mark.parametrize("where, text", DOCS_PROGRAMS, ids=[w for w, _ in DOCS_PROGRAMS])
def test_every_program_in_the_docs_is_formatted(where, text):
    assert format_text(text) == text


def test_a_spec_with_an_error_is_not_formatted():
    with pytest.raises(CnnError) as e:
        format_text("input 4x4x1 -> conv 5\n")
    assert (e.value.span.line, e.value.span.column) == (1, 16)
    with pytest.raises(CnnError):
        format_text("input 4x4x1 -> -> relu\n")


def test_line_endings_and_a_byte_order_mark_do_not_survive():
    from cnndsl.language.frontend import decode

    text = decode("\ufeffinput 8x8x1\r\n  -> relu\r\n".encode())
    assert format_text(text) == "input 8x8x1\n  -> relu\n"


def test_deep_nesting_at_the_limit_formats():
    """MAX_NESTING merges inside each other: the formatter's recursion stays in bounds."""
    from cnndsl.support.limits import MAX_NESTING

    depth = MAX_NESTING - 1
    text = "input 4x4x1 -> " + "add { " * depth + "relu" + " }" * depth + "\n"
    out = format_text(text)
    assert format_text(out) == out
    assert signature(compile_text(out)) == signature(compile_text(text))

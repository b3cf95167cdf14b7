"""Mutations of the example specs, shared by the fuzz tests (tests/test_fuzz.py feeds
them to `check` and `shapes`, tests/test_fuzz_files.py to `run` and `compile`).

A spec is cut into pieces (comments, whitespace, `{...}`, arrows, words, numbers, any
other character) that join back to the exact text; a mutation deletes, duplicates or
swaps tokens, or replaces a number inside one.
"""

from __future__ import annotations

import re

from hypothesis import strategies as st

_PIECE = re.compile(r"#[^\n]*|\s+|\{[^{}\n]*\}|->|[A-Za-z_][A-Za-z0-9_]*|[0-9][0-9A-Za-z_.:/{}*+-]*"
                    r"|\S")
_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def pieces(text: str) -> list[str]:
    return _PIECE.findall(text)


def is_token(piece: str) -> bool:
    return not piece.isspace() and not piece.startswith("#")


def mutate(draw, text: str, least: int, replacements: list[str]) -> str:
    """`text` after `least` to 3 random mutations, drawn with Hypothesis's `draw`."""
    parts = pieces(text)
    for _ in range(draw(st.integers(least, 3))):
        tokens = [i for i, p in enumerate(parts) if is_token(p)]
        if not tokens:
            break
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "number"]))
        i = tokens[draw(st.integers(0, len(tokens) - 1))]
        if op == "delete":
            parts[i] = ""
        elif op == "duplicate":
            parts[i] = parts[i] + " " + parts[i]
        elif op == "swap":
            j = tokens[draw(st.integers(0, len(tokens) - 1))]
            parts[i], parts[j] = parts[j], parts[i]
        else:
            numbered = [k for k in tokens if _NUMBER.search(parts[k])]
            if not numbered:
                continue
            k = numbered[draw(st.integers(0, len(numbered) - 1))]
            found = list(_NUMBER.finditer(parts[k]))
            m = found[draw(st.integers(0, len(found) - 1))]
            new = draw(st.sampled_from(replacements))
            parts[k] = parts[k][:m.start()] + new + parts[k][m.end():]
    return "".join(parts)

"""Completion: what may be written where the cursor is, read from the text before it.

    input 32x32x3 as image -> conv 3 x8 same re|     activations, `same`, `bias=`, ...
    ... -> max|                                      step words: `maxpool`, `max`, blocks
    concat { @im|                                    the `@NAME`s bound before, in scope

The text is usually half-written while completing, so nothing here needs it to parse:
the context is the few tokens before the cursor, the names in scope are the `as NAME`s
written before it in the same scope (the file's statements, or one block's body and its
tensor parameters). The words come from the catalogue through `highlighting.words`, as
the lexer's colours do, so neither can drift from the language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..highlighting import words

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_TENSOR = re.compile(r"@[A-Za-z0-9_]*\Z")
_TOKEN = re.compile(r"#[^\n]*|->|[{}|()=,]|@?[A-Za-z_][A-Za-z0-9_]*|[^\s{}|()=,#]+")
_NAMES = re.compile(r"#[^\n]*|\b(def|input|as)\b\s*([A-Za-z_][A-Za-z0-9_]*)?")
_PARAM = re.compile(r"@([A-Za-z_][A-Za-z0-9_]*)")
_DEF = re.compile(r"#[^\n]*|\bdef\b\s*([A-Za-z_][A-Za-z0-9_]*)")
_DEF_HEAD = re.compile(r"\s*[A-Za-z_][A-Za-z0-9_]*\s*(\([^()]*\))?")
_STEP_AFTER = ("->", "{", "|")
LOOK_BACK = 2000  # characters of a step's arguments read back from the cursor
FUNCTIONS = ("C", "ceil", "floor", "max", "min", "round")


@dataclass(frozen=True)
class Item:
    """One completion: `label` replaces the text from `start` to the cursor (`insert`
    if given, as `bias=` for the option `bias`); `kind` says what it is."""

    label: str
    kind: str  # layer, activation, merge, block, option, flag, constant, tensor, keyword
    detail: str
    start: int
    insert: str | None = None


def complete(text: str, offset: int) -> list[Item]:
    """What may be written at `offset` of `text`, for the word being typed there."""
    before = text[:offset]
    line = before[before.rfind("\n") + 1:]
    if "#" in line:  # in a comment
        return []
    tensor = _TENSOR.search(line)
    if tensor is not None:
        return tensors(text, offset, offset - len(tensor.group()))
    typed = m.group() if (m := _WORD.search(line)) else ""
    start, head = offset - len(typed), line[:len(line) - len(typed)]
    if head.rfind("{") > head.rfind("}"):  # in an `{expr}`
        return [Item(f, "function" if f != "C" else "constant",
                     "channels entering the step" if f == "C" else "function", start)
                for f in FUNCTIONS]
    tokens = _TOKEN.findall(text[max(0, start - LOOK_BACK):start])
    tokens = [t for t in tokens if not t.startswith("#")]
    last = tokens[-1] if tokens else ""
    if last in ("as", "def") or (last == "=" and len(tokens) > 1 and tokens[-2] == "name"):
        return []  # a new name
    if not tokens:  # the file's first word
        return [Item(k, "keyword", "", start) for k in ("def", "input")]
    if _starts_step(tokens):
        return steps(text, start, after_branch=last in ("{", "|"))
    if last == "=":
        return [Item(w, "constant", "", start) for w in words.constant_words()
                if w in ("true", "false")]
    out = arguments(tokens, start)
    if not head.strip():  # the first word of its line
        out += [Item(k, "keyword", "", start) for k in ("def", "input", "output")]
    return out


def _starts_step(tokens: list[str]) -> bool:
    """Whether the next word starts a step: after `->`, `{`, `|`, a repetition's `(`,
    a block's `def NAME(...) =`, or at the very start."""
    if not tokens or tokens[-1] in _STEP_AFTER:
        return True
    if tokens[-1] == "(":  # `( conv ... ) * 3`, not a block use `cell(`
        return len(tokens) < 2 or not re.match(r"[A-Za-z_]", tokens[-2])
    if tokens[-1] == "=":  # `def name =`, `def name(k=3) =`, not `bias=`
        depth, i = 0, len(tokens) - 2
        if i >= 0 and tokens[i] == ")":
            while i >= 0 and not (tokens[i] == "(" and depth == 1):
                depth += {")": 1, "(": -1}.get(tokens[i], 0)
                i -= 1
            i -= 1
        return i >= 1 and tokens[i - 1] == "def"
    return False


def steps(text: str, start: int, after_branch: bool = False) -> list[Item]:
    """The words that start a step: layers, activations, merges, the file's blocks."""
    out = [Item(w, "layer", "layer", start) for w in words.layer_words()]
    out += [Item(w, "activation", "activation", start) for w in words.activation_words()]
    out += [Item(w, "merge", "merge: " + w + " { A | B }", start)
            for w in words.merge_words()]
    out += [Item(name, "block", "block (def)", start) for name in block_names(text)]
    if after_branch:
        out.append(Item(words.IDENTITY, "keyword", "the branch's input, unchanged", start))
    return out


def arguments(tokens: list[str], start: int) -> list[Item]:
    """The options, flags, paddings and activations of the step being written."""
    i = len(tokens) - 1
    while i >= 0 and tokens[i] not in (*_STEP_AFTER, "(", ")", "}"):
        i -= 1
    if i >= 0 and tokens[i] in ("(", ")", "}"):
        return []  # in a block use's arguments, or after one
    written = tokens[i + 1:]
    if not written or written[0] in ("def", "output"):
        return []
    try:
        syntax = words.step_syntax(written[0])
    except KeyError:
        return []
    given = {written[k - 1] for k in range(1, len(written)) if written[k] == "="}
    out = [Item(o, "option", f"option of `{written[0]}`", start, o + "=")
           for o in syntax.options if o not in given]
    out += [Item(f, "flag", f"`{written[0]}` {f}", start) for f in syntax.flags]
    if "padding" in syntax.forms:
        out += [Item(p, "constant", "padding", start) for p in ("same", "valid")]
    if "activation" in syntax.forms:
        out += [Item(w, "activation", "fused activation", start)
                for w in words.activation_words()]
    return out


def block_names(text: str) -> list[str]:
    """The names of the blocks the text defines, in order."""
    return [m.group(1) for m in _DEF.finditer(text) if m.group(1)]


def tensors(text: str, offset: int, start: int) -> list[Item]:
    """The `@NAME`s in scope at `offset`: bound before it in its block's body (with the
    block's tensor parameters), or in the file's statements."""
    bound: dict[str, str] = {}
    in_file, line, counted = False, 1, 0
    for m in _NAMES.finditer(text, 0, start):
        keyword, name = m.group(1), m.group(2)
        if keyword == "def":  # a block's body: its tensor parameters and its own names
            head = _DEF_HEAD.match(text, m.end(1))
            params = (head.group(1) or "") if head else ""
            bound = {p: "tensor parameter" for p in _PARAM.findall(params)}
        elif keyword == "input" and not in_file:  # the statements: the file's names
            bound, in_file = {}, True
        elif keyword == "as" and name is not None:
            line, counted = line + text.count("\n", counted, m.start()), m.start()
            bound[name] = f"bound at line {line}"
    return [Item("@" + n, "tensor", detail, start) for n, detail in bound.items()]

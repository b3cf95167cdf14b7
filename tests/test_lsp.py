"""`cnndsl lsp` end to end: a real client (pytest-lsp) talks to the server over stdio.

The server is started as an editor starts it, `python -m cnndsl lsp`, once for this module
(and once more, configured with inlay hints on at start, for the tests that need it).
Each test opens its own document. Expected numbers are worked out by hand, and the
diagnostics are compared with what `cnndsl check` prints for the same text. The
robustness test (tests/test_lsp_edits.py) edits files into half-written states.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import re
import sys

import pytest

pytest.importorskip("pygls", reason="the language server needs pygls: pip install 'cnndsl[lsp]'")
pytest.importorskip("pytest_lsp", reason="the language server's tests need pytest-lsp: "
                    "pip install 'cnndsl[editor]'")

import pytest_lsp  # noqa: E402
from lsprotocol import types as t  # noqa: E402
from pygls.protocol import default_converter  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient  # noqa: E402
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features  # noqa: E402

from cnndsl.cli import main  # noqa: E402

pytestmark = pytest.mark.asyncio(loop_scope="module")


def recording_client() -> LanguageClient:
    """pytest-lsp's client, which also keeps every diagnostics notification, with its
    document version, in `published` (waiting for the next one could miss one that comes
    right after another)."""
    client = LanguageClient(converter_factory=default_converter)
    client.published = []

    def published(client: LanguageClient, params: t.PublishDiagnosticsParams) -> None:
        client.diagnostics[params.uri] = params.diagnostics
        client.published.append(params)

    register_lsp_features(client, {**DEFAULT_CLIENT_FEATURES,
                                   t.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS: published})
    return client


SERVER = ClientServerConfig(server_command=[sys.executable, "-m", "cnndsl", "lsp"],
                            client_factory=recording_client)
OPTIONS = t.FormattingOptions(tab_size=4, insert_spaces=True)
LESSON = "input 6x6x1 -> conv 3x3/1 x2 -> maxpool 2 -> flatten -> dense 10"
_numbers = itertools.count(1)


def capabilities() -> t.ClientCapabilities:
    """What an editor such as VS Code declares, for the features under test."""
    return t.ClientCapabilities(
        text_document=t.TextDocumentClientCapabilities(
            hover=t.HoverClientCapabilities(content_format=[t.MarkupKind.Markdown]),
            document_symbol=t.DocumentSymbolClientCapabilities(
                hierarchical_document_symbol_support=True),
            completion=t.CompletionClientCapabilities(),
            inlay_hint=t.InlayHintClientCapabilities(),
            publish_diagnostics=t.PublishDiagnosticsClientCapabilities(version_support=True)),
        workspace=t.WorkspaceClientCapabilities(
            inlay_hint=t.InlayHintWorkspaceClientCapabilities(refresh_support=True)))


async def start(client: LanguageClient, options: object = None) -> None:
    client.refreshes = 0

    @client.feature(t.WORKSPACE_INLAY_HINT_REFRESH)
    def refreshed(params):
        client.refreshes += 1

    await client.initialize_session(t.InitializeParams(
        capabilities=capabilities(), initialization_options=options))


@pytest_lsp.fixture(scope="module", config=SERVER)
async def client(lsp_client: LanguageClient):
    await start(lsp_client)
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(scope="module", config=SERVER)
async def hinting(lsp_client: LanguageClient):
    """A server told at start to show shapes as inlay hints."""
    await start(lsp_client, {"inlayHints": {"shapes": True}})
    yield
    await lsp_client.shutdown_session()


async def diagnosed(client: LanguageClient, uri: str, version: int) -> list[t.Diagnostic]:
    """The diagnostics the server publishes for `uri` at `version` (within 30 s)."""
    for _ in range(3000):
        for params in client.published:
            if params.uri == uri and params.version == version:
                return list(params.diagnostics)
        await asyncio.sleep(0.01)
    raise AssertionError(f"no diagnostics for {uri} at version {version}")


async def opened(client: LanguageClient, text: str) -> tuple[str, list[t.Diagnostic]]:
    """A new document with `text`, and its first diagnostics."""
    uri = f"file:///work/lsp_test_{next(_numbers)}.cnn"
    client.text_document_did_open(t.DidOpenTextDocumentParams(
        text_document=t.TextDocumentItem(uri=uri, language_id="cnn", version=1, text=text)))
    return uri, await diagnosed(client, uri, 1)


async def changed(client: LanguageClient, uri: str, version: int, text: str
                  ) -> list[t.Diagnostic]:
    """The whole text replaced (a change without a range), and the new diagnostics."""
    client.text_document_did_change(t.DidChangeTextDocumentParams(
        text_document=t.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[t.TextDocumentContentChangeWholeDocument(text=text)]))
    return await diagnosed(client, uri, version)


def at(text: str, marked: str) -> t.Position:
    """The position of the last `|` in `marked`, a part of `text` written with it."""
    mark = marked.rindex("|")
    offset = text.index(marked[:mark] + marked[mark + 1:]) + mark
    line = text.count("\n", 0, offset)
    return t.Position(line=line, character=offset - (text.rfind("\n", 0, offset) + 1))


async def hover(client: LanguageClient, uri: str, text: str, marked: str) -> str:
    found = await client.text_document_hover_async(t.HoverParams(
        text_document=t.TextDocumentIdentifier(uri=uri), position=at(text, marked)))
    assert found is not None, marked
    return found.contents.value


def check_says(text: str, capsys, tmp_path) -> list[tuple[int, int, str, str, str | None]]:
    """What `cnndsl check` prints for `text`: (line, column, severity, message, hint)."""
    path = tmp_path / f"t{next(_numbers)}.cnn"
    path.write_text(text, encoding="utf-8")
    capsys.readouterr()
    main(["check", str(path)])
    err = capsys.readouterr().err
    found = []
    head = re.compile(re.escape(str(path)) + r":(\d+):(\d+): (error|warning): (.*)")
    for line in err.splitlines():
        if (m := head.match(line)) is not None:
            found.append([int(m[1]), int(m[2]), m[3], m[4], None])
        elif line.startswith("hint: ") and found:
            found[-1][4] = line[len("hint: "):]
    return [tuple(f) for f in found]


# -- diagnostics ------------------------------------------------------------------------
BAD = [
    "input 6x6x1 -> conv 7x7 x2",
    "input 6x6x1\n  -> comv 3 x2",
    "# a comment\ninput 6x6x1 -> conv 3 x2 - relu",
    "input 6x6x1 -> conv 3 x2 ->",
    "def b(n) = conv 1 x{n}\ninput 4x4x8 -> b(2) -> b(k=3)",
    "input 6x6x1 -> conv 3 x2 padding=same",
    "input 8x8x3 -> add { id | conv 3 x4 same }",
]


@pytest.mark.parametrize("text", BAD)
async def test_an_error_is_where_the_cli_puts_it(client, text, capsys, tmp_path):
    ((line, column, severity, message, hint),) = check_says(text, capsys, tmp_path)
    _, found = await opened(client, text)
    (d,) = found
    assert severity == "error" and d.severity == t.DiagnosticSeverity.Error
    assert (d.range.start.line, d.range.start.character) == (line - 1, column - 1)
    assert (d.range.end.line, d.range.end.character) >= (line - 1, column - 1)
    lines = d.message.split("\n")
    assert lines[0] == message
    assert hint is not None and lines[1] == f"hint: {hint}"
    assert d.source == "cnndsl"


async def test_a_warning_and_then_none_when_fixed(client, capsys, tmp_path):
    text = "input 5x5x32 -> conv 1 x32\n  -> dense 10"
    ((line, column, severity, message, hint),) = check_says(text, capsys, tmp_path)
    uri, (d,) = await opened(client, text)
    assert severity == "warning" and d.severity == t.DiagnosticSeverity.Warning
    assert (d.range.start.line, d.range.start.character) == (line - 1, column - 1) == (1, 5)
    assert d.message == f"{message}\nhint: {hint}"
    assert await changed(client, uri, 2, "input 5x5x32 -> conv 1 x32\n  -> flatten -> dense 10"
                         ) == []


async def test_every_warning_the_cli_gives(client, capsys, tmp_path):
    text = "input 5x5x32 -> conv 1 x32\n  -> dense 10 softmax -> dropout 0.95 -> dense 4\n"
    expected = check_says(text, capsys, tmp_path)
    assert len(expected) == 4
    _, found = await opened(client, text)
    assert [(d.range.start.line + 1, d.range.start.character + 1, "warning",
             *d.message.split("\n")[0:1], d.message.split("\n")[1].removeprefix("hint: "))
            for d in found] == expected
    assert {d.severity for d in found} == {t.DiagnosticSeverity.Warning}


async def test_an_error_comes_and_goes_with_the_edits(client):
    uri, found = await opened(client, LESSON)
    assert found == []
    (d,) = await changed(client, uri, 2, LESSON.replace("maxpool", "maxpol"))
    assert "unknown step `maxpol`" in d.message and "did you mean `maxpool`?" in d.message
    assert await changed(client, uri, 3, LESSON) == []


# -- hover ------------------------------------------------------------------------------
async def test_hover_on_the_lessons_steps(client):
    uri, _ = await opened(client, LESSON)
    conv = await hover(client, uri, LESSON, "con|v 3x3/1")
    # 4x4x2: (6 - 3) + 1 = 4 per side, 2 filters; 3*3*1*2 weights + 2 biases = 20 params;
    # 4*4*2 outputs of 3*3*1 multiply-adds each = 288 MACs; each output sees 3x3.
    assert "conv_1" in conv and "| 4x4x2 | 128B | 20 | 288 | 608 | 3x3 |" in conv
    pool = await hover(client, uri, LESSON, "maxpool |2")
    assert "maxpool_1" in pool and "| 2x2x2 |" in pool and "| 4x4 |" in pool
    dense = await hover(client, uri, LESSON, "dense 1|0")
    assert "dense_1" in dense and "| 10 | 40B | 90 | 80 |" in dense  # 8*10 + 10 params


BLOCKS = """\
def unit(f) = conv 3 x{f} same -> relu
input 8x8x3 -> unit(4) as a -> unit(8)
  -> conv 1 x{C//4}
  -> add { id | @a -> conv 1 x2 }
"""


async def test_hover_on_a_block_use_sums_what_it_made(client):
    uri, _ = await opened(client, BLOCKS)
    first = await hover(client, uri, BLOCKS, "|unit(4)")
    # conv 3 x4 same on 8x8x3: 3*3*3*4 + 4 = 112 params, 8*8*4 * 27 = 6,912 MACs; and a relu.
    assert "`unit(4)`" in first and "| 2 | 112 | 6.91K | 8x8x4 |" in first
    second = await hover(client, uri, BLOCKS, "unit(|8)")
    # conv 3 x8 same on 8x8x4: 3*3*4*8 + 8 = 296 params, 8*8*8 * 36 = 18,432 MACs.
    assert "| 2 | 296 | 18.4K | 8x8x8 |" in second


async def test_hover_on_a_block_used_as_a_step(client):
    text = "def stem = conv 3 x8 same -> relu\ninput 8x8x3 -> stem -> gap"
    uri, _ = await opened(client, text)
    found = await hover(client, uri, text, "-> st|em")
    # conv 3 x8 same on 8x8x3: 3*3*3*8 + 8 = 224 params, 8*8*8 * 27 = 13,824 MACs.
    assert "`stem`" in found and "| 2 | 224 | 13.8K | 8x8x8 |" in found


async def test_hover_on_a_step_of_a_block_gives_each_use(client):
    uri, _ = await opened(client, BLOCKS)
    found = await hover(client, uri, BLOCKS, "con|v 3 x{f}")
    assert "2 layers, one per use" in found
    assert "| **conv_1** | line 2 | 8x8x4 |" in found and "| **conv_2** | line 2 | 8x8x8 |" in found


async def test_hover_on_a_name_says_where_it_is_bound_and_its_shape(client):
    uri, _ = await opened(client, BLOCKS)
    for marked in ("@|a ->", "as |a"):
        found = await hover(client, uri, BLOCKS, marked)
        assert "**@a**: bound at line 2 by `unit(4)`" in found and "`8x8x4`" in found


async def test_hover_on_C_gives_the_channels_there(client):
    uri, _ = await opened(client, BLOCKS)
    found = await hover(client, uri, BLOCKS, "x{|C//4}")
    assert "`C` = **8**" in found  # unit(8) made 8 channels
    # in a parameter's default, `C` is read where the block is used: at each use
    text = "def se(c={C}) = mul { id | gap keepdims -> conv 1 x{c} sigmoid }\n" \
           "input 8x8x3 -> se -> conv 1 x5 -> se\n"
    uri, _ = await opened(client, text)
    found = await hover(client, uri, text, "c={|C}")
    assert found == "`C`: the channels entering here: **3** in 1 use, **5** in 1 use"


async def test_hover_on_a_def_lists_its_uses(client):
    uri, _ = await opened(client, BLOCKS)
    found = await hover(client, uri, BLOCKS, "def |unit")
    assert "**def** `unit(f)`: 2 uses" in found and "| line 2 | 2 | 296 | 18.4K | 8x8x8 |" in found


async def test_a_half_written_file_answers_from_the_last_one_that_compiled(client):
    uri, _ = await opened(client, BLOCKS)
    broken = BLOCKS.replace("x{C//4}\n", "x{C//4} -> (\n")
    (d,) = await changed(client, uri, 2, broken)
    assert d.severity == t.DiagnosticSeverity.Error
    before = await hover(client, uri, broken, "|unit(8)")
    assert "| 2 | 296 | 18.4K | 8x8x8 |" in before
    after = await hover(client, uri, broken, "a|dd {")  # 5 characters further on now
    assert "**add_1**" in after and "| 8x8x2 |" in after
    found = await client.text_document_document_symbol_async(t.DocumentSymbolParams(
        text_document=t.TextDocumentIdentifier(uri=uri)))
    merge = found[1].children[-1]
    assert merge.name == "add" and merge.selection_range.start == at(broken, "|add {")


# -- navigation -------------------------------------------------------------------------
def span(text: str, marked: str) -> tuple[int, int, int, int]:
    """The range of the word after `marked`'s last `|`, as (line, column) pairs."""
    start = at(text, marked)
    word = re.match(r"@?\w+", marked[marked.rindex("|") + 1:]).group()
    return start.line, start.character, start.line, start.character + len(word)


def ranges(locations) -> list[tuple[int, int, int, int]]:
    return sorted((x.range.start.line, x.range.start.character, x.range.end.line,
                   x.range.end.character) for x in locations)


async def test_go_to_a_def_and_to_where_a_name_is_bound(client):
    uri, _ = await opened(client, BLOCKS)
    for use, target in (("un|it(8)", "def |unit"), ("@|a ->", "as |a")):
        found = await client.text_document_definition_async(t.DefinitionParams(
            text_document=t.TextDocumentIdentifier(uri=uri), position=at(BLOCKS, use)))
        assert found is not None and found.uri == uri
        assert ranges([found]) == [span(BLOCKS, target)]


async def test_references_of_a_block_and_of_a_name(client):
    uri, _ = await opened(client, BLOCKS)
    for marked, expected in (("|unit(4)", ["def |unit", "|unit(4)", "|unit(8)"]),
                             ("as |a", ["as |a", "|@a ->"])):
        found = await client.text_document_references_async(t.ReferenceParams(
            text_document=t.TextDocumentIdentifier(uri=uri), position=at(BLOCKS, marked),
            context=t.ReferenceContext(include_declaration=True)))
        assert ranges(found) == sorted(span(BLOCKS, e) for e in expected)


async def test_a_tensor_parameter_is_its_blocks_own_name(client):
    text = ("def cell(@prev, f) = conv 1 x{f} as h -> @prev -> add { id | @h }\n"
            "input 8x8x4 as h -> cell(@h, 4)\n")
    uri, found = await opened(client, text)
    assert found == []
    definition = await client.text_document_definition_async(t.DefinitionParams(
        text_document=t.TextDocumentIdentifier(uri=uri), position=at(text, "@|prev ->")))
    assert ranges([definition]) == [span(text, "cell(|@prev")]
    inner = await client.text_document_references_async(t.ReferenceParams(
        text_document=t.TextDocumentIdentifier(uri=uri), position=at(text, "@|h }"),
        context=t.ReferenceContext(include_declaration=True)))
    assert ranges(inner) == sorted([span(text, "as |h ->"), span(text, "|@h }")])
    outer = await client.text_document_definition_async(t.DefinitionParams(
        text_document=t.TextDocumentIdentifier(uri=uri), position=at(text, "cell(@|h")))
    assert ranges([outer]) == [span(text, "input 8x8x4 as |h")]  # the file's own `h`
    shapes = await hover(client, uri, text, "|@prev ->")
    assert "tensor parameter of block `cell`" in shapes and "`8x8x4`" in shapes


# -- completion -------------------------------------------------------------------------
async def labels(client: LanguageClient, uri: str, position: t.Position) -> list[str]:
    found = await client.text_document_completion_async(t.CompletionParams(
        text_document=t.TextDocumentIdentifier(uri=uri), position=position))
    items = found.items if isinstance(found, t.CompletionList) else found
    return [i.label for i in items]


async def test_complete_a_step_word(client):
    text = "input 6x6x1 -> max"
    uri, _ = await opened(client, text)
    found = await labels(client, uri, t.Position(line=0, character=len(text)))
    assert "maxpool" in found and "relu" in found and "concat" in found


async def test_complete_options_after_a_step(client):
    text = "def stem = conv 3 x8 same\ninput 6x6x1 -> conv 3 x2 bias=false "
    uri, _ = await opened(client, text)
    found = await labels(client, uri, t.Position(line=1, character=len(text.split("\n")[1])))
    assert {"dilation", "groups", "same", "relu"} <= set(found) and "bias" not in found
    steps = await labels(client, uri, at(text, "input 6x6x1 -> |conv"))
    assert "stem" in steps and "conv" in steps  # the file's blocks are steps too


async def test_complete_the_names_in_scope(client):
    text = ("def cell(@prev) = conv 1 x4 as h -> add { id | @ }\n"
            "input 8x8x4 as image -> conv 1 x4 as f -> concat { @ | @f }\n")
    uri, _ = await opened(client, text)
    in_file = await labels(client, uri, at(text, "concat { @|"))
    assert in_file == ["@image", "@f"]
    in_block = await labels(client, uri, at(text, "id | @|"))
    assert in_block == ["@prev", "@h"]


# -- formatting, outline, inlay hints ---------------------------------------------------
@pytest.mark.skipif(importlib.util.find_spec("cnndsl.formatting") is None,
                    reason="the formatter (cnndsl.formatting) is not there yet")
async def test_formatting_gives_what_the_formatter_gives(client):
    from cnndsl.formatting import format_text

    text = "input 6x6x1->conv 3x3/1 x2   ->maxpool 2\n\n\n->flatten->dense 10\n"
    uri, _ = await opened(client, text)
    edits = await client.text_document_formatting_async(t.DocumentFormattingParams(
        text_document=t.TextDocumentIdentifier(uri=uri), options=OPTIONS))
    (edit,) = edits
    assert edit.new_text == format_text(text)
    assert (edit.range.start.line, edit.range.start.character) == (0, 0)
    assert (edit.range.end.line, edit.range.end.character) == (4, 0)
    broken = await opened(client, "input 6x6x1 -> conv 9 x2")
    assert await client.text_document_formatting_async(t.DocumentFormattingParams(
        text_document=t.TextDocumentIdentifier(uri=broken[0]), options=OPTIONS)) is None


async def test_the_outline_has_blocks_and_statements_with_their_steps(client):
    uri, _ = await opened(client, BLOCKS)
    found = await client.text_document_document_symbol_async(t.DocumentSymbolParams(
        text_document=t.TextDocumentIdentifier(uri=uri)))
    assert [s.name for s in found] == ["unit", "input 8x8x3"]
    block, statement = found
    assert block.detail == "(f)" and [c.name for c in block.children] == ["conv 3 x{f} same",
                                                                        "relu"]
    assert [c.name for c in statement.children] == [
        "input 8x8x3", "unit(4) as a", "unit(8)", "conv 1 x{C//4}", "add"]
    assert [c.detail for c in statement.children][:3] == ["8x8x3", "8x8x4", "8x8x8"]
    merge = statement.children[-1]
    assert [b.name for b in merge.children] == ["branch 1", "branch 2"]
    assert [s.name for s in merge.children[1].children] == ["@a", "conv 1 x2"]


async def test_inlay_hints_are_off_until_the_setting_is_on(client):
    text = "input 6x6x1\n  -> conv 3x3/1 x2 -> maxpool 2  # pooled\n  -> flatten -> dense 10\n"
    uri, _ = await opened(client, text)
    whole = t.Range(start=t.Position(line=0, character=0), end=t.Position(line=3, character=0))
    params = t.InlayHintParams(text_document=t.TextDocumentIdentifier(uri=uri), range=whole)
    assert not await client.text_document_inlay_hint_async(params)
    client.workspace_did_change_configuration(t.DidChangeConfigurationParams(
        settings={"cnndsl": {"inlayHints": {"shapes": True}}}))
    found = await client.text_document_inlay_hint_async(params)
    ends = [len(line) for line in text.split("\n")]  # after the comment, at the line's end
    assert [(h.position.line, h.position.character, h.label) for h in found] == [
        (1, ends[1], "4x4x2 → 2x2x2"), (2, ends[2], "8 → 10")]
    assert client.refreshes == 1
    client.workspace_did_change_configuration(t.DidChangeConfigurationParams(
        settings={"cnndsl": {"inlayHints": {"shapes": False}}}))
    assert not await client.text_document_inlay_hint_async(params)


async def test_inlay_hints_on_from_the_start(hinting):
    uri, _ = await opened(hinting, BLOCKS)
    found = await hinting.text_document_inlay_hint_async(t.InlayHintParams(
        text_document=t.TextDocumentIdentifier(uri=uri),
        range=t.Range(start=t.Position(line=1, character=0),
                      end=t.Position(line=2, character=0))))
    assert [(h.position.line, h.label) for h in found] == [
        (1, "8x8x4 → 8x8x8"), (2, "8x8x2")]

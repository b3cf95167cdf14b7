"""The language server on half-written files: every request answered, the server alive.

Hypothesis draws an example and a sequence of edits (a stretch deleted, a token or a few
random characters inserted, anywhere), sends each as an incremental `didChange`, and after
each asks for hover, completion, definition, references, the outline and the inlay hints
at random positions (some past the end of a line or of the file), and at the end for the
file formatted. Every request must be
answered, without an error response, an internal error in the client's log, or the
server's exit. At the end the server's diagnostics must be those `cnndsl check` gives for
the text the client holds: the incremental edits were applied as the client applied them.

25 edit sequences by default, the same on every run (a few seconds);
`CNNDSL_HYPOTHESIS_PROFILE=thorough` draws 300 fresh ones (half a minute).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import sys
from pathlib import Path

import pytest

pytest.importorskip("pygls", reason="the language server needs pygls: pip install 'cnndsl[lsp]'")
pytest.importorskip("pytest_lsp", reason="the language server's tests need pytest-lsp: "
                    "pip install 'cnndsl[editor]'")

import pytest_lsp  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from lsprotocol import types as t  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient  # noqa: E402
from test_lsp import recording_client  # noqa: E402

from cnndsl.errors import CnnError  # noqa: E402
from cnndsl.language.frontend import compile_text, decode  # noqa: E402

pytestmark = pytest.mark.asyncio(loop_scope="module")
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FILES = ("seed.cnn", "image_and_meta.cnn", "se_resnet_small.cnn", "inception_block.cnn",
         "resnet50.cnn", "shufflenet_v2.cnn")
TOKENS = ("->", " -> ", "{", "}", " | ", "(", ")", " * 2", "@", "@x", " as x", "def ",
          "def b(@p, k=3) = ", "input ", "input 4 as i", "output @x", "x64", "x{C//2}",
          "3x3/2", "conv", "max", "residual {", "add { id | ", "split 2,2 {", "relu", "same",
          "bias=false", "name=", "=", ",", "\n", "# ", "\r\n", "\t", "é", "𝄞", "\x00", "C")
THOROUGH = os.environ.get("CNNDSL_HYPOTHESIS_PROFILE") == "thorough"
_numbers = itertools.count(1)


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(
    server_command=[sys.executable, "-m", "cnndsl", "lsp"], client_factory=recording_client))
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(t.InitializeParams(
        capabilities=t.ClientCapabilities(), initialization_options={"inlayHints": {
            "shapes": True}}))
    yield
    await lsp_client.shutdown_session()


_BREAK = re.compile(r"\r\n|\r|\n")


def position(text: str, offset: int) -> t.Position:
    """An offset as the protocol counts: lines broken at \\r\\n, \\r or \\n, columns in
    UTF-16 code units (written here apart from the server's own conversion)."""
    line, start = 0, 0
    for m in _BREAK.finditer(text, 0, offset):
        if m.end() > offset:  # inside a \r\n: the \r's line
            break
        line, start = line + 1, m.end()
    return t.Position(line=line, character=len(text[start:offset].encode("utf-16-le")) // 2)


edits = st.lists(st.tuples(
    st.floats(0, 1), st.integers(0, 12),
    st.one_of(st.sampled_from(TOKENS), st.text(max_size=3), st.just(""))), min_size=1,
    max_size=10)
probes = st.lists(st.tuples(st.floats(0, 1), st.integers(0, 3)), min_size=1, max_size=3)


@settings(max_examples=300 if THOROUGH else 25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(file=st.sampled_from(FILES), edits=edits, data=st.data())
async def test_every_request_on_a_half_written_file_is_answered(client, file, edits, data):
    text = (EXAMPLES / file).read_text(encoding="utf-8")
    uri = f"file:///work/edited_{next(_numbers)}.cnn"
    client.text_document_did_open(t.DidOpenTextDocumentParams(text_document=t.TextDocumentItem(
        uri=uri, language_id="cnn", version=1, text=text)))
    doc = t.TextDocumentIdentifier(uri=uri)
    for version, (where, length, inserted) in enumerate(edits, start=2):
        start = int(where * len(text))
        end = min(len(text), start + length)
        change = t.TextDocumentContentChangePartial(
            range=t.Range(start=position(text, start), end=position(text, end)), text=inserted)
        if start > 0 and text[start - 1] == "\r" and text[start:start + 1] == "\n":
            change.range.start = position(text, start - 1)  # never half a line break
            start -= 1
        text = text[:start] + inserted + text[end:]
        client.text_document_did_change(t.DidChangeTextDocumentParams(
            text_document=t.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[change]))
        for fraction, beyond in data.draw(probes):
            at = position(text, int(fraction * len(text)))
            at = t.Position(line=at.line + (beyond == 3), character=at.character + 2 * beyond)
            await ask(client, doc, at)
    await client.text_document_formatting_async(t.DocumentFormattingParams(
        text_document=doc, options=t.FormattingOptions(tab_size=4, insert_spaces=True)))
    await agree_with_check(client, uri, len(edits) + 1, text)
    errors = [m.message for m in client.log_messages if m.type == t.MessageType.Error]
    assert not errors, errors[0]


async def ask(client: LanguageClient, doc: t.TextDocumentIdentifier, at: t.Position) -> None:
    """Every request a position can be asked about; each must be answered."""
    await client.text_document_hover_async(t.HoverParams(text_document=doc, position=at))
    await client.text_document_completion_async(t.CompletionParams(text_document=doc,
                                                                   position=at))
    await client.text_document_definition_async(t.DefinitionParams(text_document=doc,
                                                                   position=at))
    await client.text_document_references_async(t.ReferenceParams(
        text_document=doc, position=at, context=t.ReferenceContext(include_declaration=True)))
    await client.text_document_document_symbol_async(t.DocumentSymbolParams(text_document=doc))
    await client.text_document_inlay_hint_async(t.InlayHintParams(text_document=doc, range=t.Range(
        start=t.Position(line=0, character=0), end=t.Position(line=at.line + 1, character=0))))


async def agree_with_check(client: LanguageClient, uri: str, version: int, text: str) -> None:
    """The diagnostics of the last version are `cnndsl check`'s for the client's text."""
    for _ in range(1000):
        found = [p for p in client.published if p.uri == uri and p.version == version]
        if found:
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError(f"no diagnostics for version {version}")
    said = sorted(d.message.split("\n")[0] for d in found[-1].diagnostics)
    try:
        graph = compile_text(decode(text.encode("utf-8", "surrogatepass")), "t")
        expected = sorted(w.message for w in graph.warnings)
    except CnnError as e:
        expected = [e.message]
    assert said == expected

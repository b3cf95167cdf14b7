"""The language server's wiring: pygls speaks the protocol, the modules beside this one answer.

Each handler turns the request's positions into offsets of the text it answers from,
asks the module of its feature, and turns the offsets of the answer back into the
editor's positions. Nothing here knows the language.

A request never fails: an internal error is logged (standard error and the client's log)
and answered with nothing, so a half-written file, or a bug, costs one answer and never
the server. The analysis of a version is made once, when diagnostics are published or a
request needs it first; diagnostics wait after a change as long as the last analysis
took, so that a burst of keystrokes on a large file is analysed once, not once per key.

pygls and lsprotocol (`pip install 'cnndsl[lsp]'`) are imported when the server is built,
so this module imports without them.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
import traceback
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from ..errors import MissingExtra, as_text
from . import completion, diagnostics, hints, hover, navigation, symbols
from .document import Document
from .positions import Shift
from .settings import Settings
from .symbols import Symbol

log = logging.getLogger("cnndsl.lsp")
MAX_WAIT = 0.5  # seconds diagnostics wait after a change, at most


def require() -> None:
    """`MissingExtra` unless pygls and lsprotocol can be imported."""
    try:
        import lsprotocol.types  # noqa: F401
        import pygls.lsp.server  # noqa: F401
    except ImportError:
        raise MissingExtra("`cnndsl lsp` needs pygls and lsprotocol, which are not "
                           "installed", "lsp") from None


def serve(version: str = "") -> None:
    """Run the server over standard input and output until the client says `exit`."""
    require()
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                        format="cnndsl lsp: %(levelname)s: %(message)s")
    build(version).start_io()


def document_name(uri: str) -> str:
    """The model's name for a document: its file's stem, as the CLI names it.

    >>> document_name("file:///home/me/nets/res%20net.cnn"), document_name("untitled:1")
    ('res net', '1')
    """
    stem = Path(unquote(urlparse(uri).path)).stem
    return as_text(stem) if stem else "model"


class Server:
    """The documents open, the settings, and the handlers over them."""

    def __init__(self, t: Any, ls: Any) -> None:
        self.t, self.ls = t, ls  # lsprotocol.types, the pygls server
        self.documents: dict[str, Document] = {}
        self.settings = Settings()
        self.pending: dict[str, asyncio.TimerHandle] = {}
        c = t.CompletionItemKind
        self.item_kinds = {"layer": c.Class, "activation": c.Function, "merge": c.Struct,
                           "block": c.Module, "option": c.Property, "flag": c.EnumMember,
                           "constant": c.Constant, "tensor": c.Variable, "keyword": c.Keyword,
                           "function": c.Function}
        k = t.SymbolKind
        self.symbol_kinds = {"block": k.Function, "statement": k.Namespace, "step": k.Field,
                             "merge": k.Struct, "branch": k.Array, "use": k.Module,
                             "repeat": k.Array, "tensor": k.Variable, "outputs": k.Interface}

    # -- errors -----------------------------------------------------------------------
    def report(self, what: str) -> None:
        """An internal error: to standard error and to the client's log."""
        message = f"internal error in {what}:\n{traceback.format_exc()}"
        log.error("%s", message)
        try:
            self.ls.window_log_message(self.t.LogMessageParams(
                type=self.t.MessageType.Error, message=message))
        except Exception:  # noqa: BLE001 - a closed client is no reason to stop
            log.exception("cannot send the error to the client")

    def guarded(self, what: str, default: Any = None):
        """A handler whose internal errors are reported and answered with `default`."""
        def wrap(handler):
            @functools.wraps(handler)
            def run(params):
                try:
                    return handler(params)
                except Exception:  # noqa: BLE001 - one answer lost, never the server
                    self.report(what)
                    return default
            return run
        return wrap

    # -- positions --------------------------------------------------------------------
    def position(self, doc: Document, offset: int):
        line, column = doc.lines.position(offset)
        return self.t.Position(line=line, character=column)

    def range(self, doc: Document, region: tuple[int, int], shift: Shift | None = None):
        start, end = shift.region_to_new(*region) if shift is not None else region
        return self.t.Range(start=self.position(doc, start), end=self.position(doc, end))

    def moved(self, region: tuple[int, int], shift: Shift) -> bool:
        """Whether an old region is still there, untouched by the edits since."""
        return shift.to_new(region[0]) is not None and shift.to_new(region[1]) is not None

    def offset(self, doc: Document, position) -> int:
        return doc.lines.offset(position.line, position.character)

    # -- documents --------------------------------------------------------------------
    def opened(self, uri: str, text: str, version: int | None) -> None:
        kind = getattr(self.ls.workspace, "position_encoding", None)  # what pygls agreed
        encoding = str(getattr(kind, "value", kind) or "utf-16")
        self.documents[uri] = Document(document_name(uri), text, version, encoding)
        self.publish(uri)

    def changed(self, uri: str, text: str, version: int | None) -> None:
        doc = self.documents.get(uri)
        if doc is None:
            return self.opened(uri, text, version)
        doc.update(text, version)
        pending = self.pending.pop(uri, None)
        if pending is not None:
            pending.cancel()
        wait = min(doc.took, MAX_WAIT)  # as long as its last analysis took
        self.pending[uri] = asyncio.get_running_loop().call_later(
            wait, self.guarded("diagnostics")(self.publish), uri)

    def closed(self, uri: str) -> None:
        self.documents.pop(uri, None)
        pending = self.pending.pop(uri, None)
        if pending is not None:
            pending.cancel()
        self.ls.text_document_publish_diagnostics(self.t.PublishDiagnosticsParams(
            uri=uri, diagnostics=[]))

    def publish(self, uri: str) -> None:
        """The current version's errors and warnings, as `cnndsl check` gives them."""
        self.pending.pop(uri, None)
        doc = self.documents.get(uri)
        if doc is None:
            return
        analysis = doc.current
        t = self.t
        severity = {diagnostics.ERROR: t.DiagnosticSeverity.Error,
                    diagnostics.WARNING: t.DiagnosticSeverity.Warning}
        found = [t.Diagnostic(range=self.range(doc, (d.start, d.end)), message=d.message,
                              severity=severity[d.severity], source="cnndsl")
                 for d in diagnostics.diagnostics(analysis)]
        self.ls.text_document_publish_diagnostics(t.PublishDiagnosticsParams(
            uri=uri, diagnostics=found, version=doc.version))

    def view(self, uri: str, graph: bool):
        """The document, the analysis to answer from and its shift, or None."""
        doc = self.documents.get(uri)
        if doc is None:
            return None
        seen = doc.view(graph) or (doc.view(False) if graph else None)
        return (doc, *seen) if seen is not None else None

    def located(self, params, graph: bool):
        """The document, the analysis to answer from, its shift, and the request's
        position as an offset in that analysis's text; or None (no such document, or a
        position the analysed text does not have)."""
        found = self.view(params.text_document.uri, graph)
        if found is None:
            return None
        doc, analysis, shift = found
        at = shift.to_old(self.offset(doc, params.position))
        return None if at is None else (doc, analysis, shift, at)

    # -- features ---------------------------------------------------------------------
    def hover(self, params):
        found = self.located(params, graph=True)
        if found is None:
            return None
        doc, analysis, shift, at = found
        answer = hover.hover(analysis, at)
        if answer is None:
            return None
        text, region = answer
        t = self.t
        return t.Hover(contents=t.MarkupContent(kind=t.MarkupKind.Markdown, value=text),
                       range=self.range(doc, region, shift) if self.moved(region, shift)
                       else None)

    def definition(self, params):
        found = self.located(params, graph=False)
        if found is None:
            return None
        doc, analysis, shift, at = found
        region = navigation.definition(analysis, at)
        if region is None or not self.moved(region, shift):
            return None
        return self.t.Location(uri=params.text_document.uri,
                               range=self.range(doc, region, shift))

    def references(self, params):
        found = self.located(params, graph=False)
        if found is None:
            return []
        doc, analysis, shift, at = found
        declaration = bool(params.context and params.context.include_declaration)
        return [self.t.Location(uri=params.text_document.uri, range=self.range(doc, r, shift))
                for r in navigation.references(analysis, at, declaration)
                if self.moved(r, shift)]

    def completion(self, params):
        doc = self.documents.get(params.text_document.uri)
        if doc is None:
            return None
        t = self.t
        offset = self.offset(doc, params.position)
        items = [t.CompletionItem(label=i.label, kind=self.item_kinds.get(i.kind),
                                  detail=i.detail or None, text_edit=t.TextEdit(
                                      range=self.range(doc, (i.start, offset)),
                                      new_text=i.insert or i.label))
                 for i in completion.complete(doc.text, offset)]
        return t.CompletionList(is_incomplete=False, items=items)

    def symbols(self, params):
        found = self.view(params.text_document.uri, graph=False)
        if found is None:
            return []
        doc, analysis, shift = found
        if analysis is not doc.current:  # offsets moved: converted anew each time
            return [self.symbol(doc, s, shift) for s in symbols.symbols(analysis)]
        if "outline" not in analysis.memo:  # 10,000 steps take a while: once a version
            analysis.memo["outline"] = [self.symbol(doc, s, shift)
                                        for s in symbols.symbols(analysis)]
        return analysis.memo["outline"]

    def symbol(self, doc: Document, s: Symbol, shift: Shift):
        t = self.t
        region = self.range(doc, s.region, shift)
        selection = region if s.selection == s.region else self.range(doc, s.selection, shift)
        return t.DocumentSymbol(name=s.name, kind=self.symbol_kinds[s.kind], range=region,
                                selection_range=selection, detail=s.detail or None,
                                children=[self.symbol(doc, c, shift) for c in s.children])

    def inlay_hints(self, params):
        if not self.settings.shape_hints:
            return []
        found = self.view(params.text_document.uri, graph=True)
        if found is None or found[1].graph is None:
            return []
        doc, analysis, shift = found
        first, last = params.range.start.line, params.range.end.line
        # An old text's lines may have moved: ask it for all of them.
        asked = (first, last) if analysis is doc.current else (0, len(analysis.lines))
        out = []
        for offset, label in hints.hints(analysis, *asked):
            at = shift.to_new(offset)
            if at is not None and first <= doc.lines.position(at)[0] <= last:
                out.append(self.t.InlayHint(position=self.position(doc, at), label=label,
                                            kind=self.t.InlayHintKind.Type,
                                            padding_left=True))
        return out

    def formatting(self, params):
        from ..formatting import layout

        doc = self.documents.get(params.text_document.uri)
        if doc is None or doc.current.graph is None:
            return None  # a file with an error is not formatted (the diagnostics say why)
        formatted = layout(doc.text)  # `format_text`, the compile already done
        if formatted == doc.text:
            return []
        source = self.ls.workspace.get_text_document(params.text_document.uri).source
        if "\r\n" in source:
            formatted = formatted.replace("\n", "\r\n")
        return [self.t.TextEdit(range=self.range(doc, (0, len(doc.text))), new_text=formatted)]

    def configure(self, settings: Any) -> None:
        hints_before = self.settings.shape_hints
        self.settings.configured(settings)
        capabilities = self.ls.client_capabilities
        refresh = getattr(getattr(getattr(capabilities, "workspace", None), "inlay_hint",
                                  None), "refresh_support", False)
        if refresh and hints_before != self.settings.shape_hints:
            self.ls.workspace_inlay_hint_refresh(None)


def build(version: str = "") -> Any:
    """The pygls server with every feature registered; `start_io()` runs it."""
    from lsprotocol import types as t
    from pygls.lsp.server import LanguageServer

    ls = LanguageServer("cnndsl", version)  # incremental changes, the default
    server = Server(t, ls)
    guarded = server.guarded

    @ls.feature(t.INITIALIZE)
    @guarded("initialize")
    def initialize(params):
        server.settings.initialized(params.initialization_options)

    @ls.feature(t.WORKSPACE_DID_CHANGE_CONFIGURATION)
    @guarded("didChangeConfiguration")
    def did_change_configuration(params):
        server.configure(params.settings)

    @ls.feature(t.TEXT_DOCUMENT_DID_OPEN)
    @guarded("didOpen")
    def did_open(params):
        d = params.text_document
        server.opened(d.uri, d.text, d.version)

    @ls.feature(t.TEXT_DOCUMENT_DID_CHANGE)
    @guarded("didChange")
    def did_change(params):
        d = params.text_document
        server.changed(d.uri, ls.workspace.get_text_document(d.uri).source, d.version)

    @ls.feature(t.TEXT_DOCUMENT_DID_CLOSE)
    @guarded("didClose")
    def did_close(params):
        server.closed(params.text_document.uri)

    features: list[tuple[str, Any, Any, Any]] = [
        (t.TEXT_DOCUMENT_HOVER, server.hover, None, None),
        (t.TEXT_DOCUMENT_DEFINITION, server.definition, None, None),
        (t.TEXT_DOCUMENT_REFERENCES, server.references, [], None),
        (t.TEXT_DOCUMENT_COMPLETION, server.completion, None,
         t.CompletionOptions(trigger_characters=["@"])),
        (t.TEXT_DOCUMENT_DOCUMENT_SYMBOL, server.symbols, [], None),
        (t.TEXT_DOCUMENT_INLAY_HINT, server.inlay_hints, [],
         t.InlayHintOptions(resolve_provider=False)),
        (t.TEXT_DOCUMENT_FORMATTING, server.formatting, None, None),
    ]
    for method, handler, default, options in features:
        ls.feature(method, options)(guarded(method, default)(handler))
    return ls

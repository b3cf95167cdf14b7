"""`cnndsl lsp`: a language server for `.cnn` files, spoken over standard input and output.

An editor opens a file and, as it is typed, gets the CLI's errors and warnings at their
line and column, each step's layer, shape, parameters and costs on hover, go to definition
and references for blocks and `@NAME`s, completion of step words, options and names in
scope, formatting, an outline, and shapes at the end of lines as inlay hints.

The modules below answer in plain Python values (offsets, strings, small dataclasses), so
they import and run without the `lsp` extra; only `server` turns them into the protocol's
types, importing pygls and lsprotocol when the server starts:

    positions    offsets of a text as the editor counts positions; an old text mapped to a new
    spans        nested regions of a text, found by offset in O(log n)
    names        the blocks and `@NAME`s of a syntax tree: where each is bound and used
    document     one text analysed once per version (tree, graph, statistics, indexes)
    diagnostics  the CLI's errors and warnings as the editor's
    hover        the report's row of a step, a block use's totals, a tensor's, `C`
    navigation   definition and references
    completion   step words, options, block names, `@NAME`s in scope
    symbols      the outline: blocks and statements, their steps nested
    hints        each line's output shapes, as inlay hints
    settings     the server's settings, from the client's options
    server       pygls wiring only
"""

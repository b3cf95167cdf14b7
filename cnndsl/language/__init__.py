"""The language's meaning: a syntax tree to a typed graph.

`frontend.compile_text` is the one entry point (text -> `syntax` -> here -> `graph`):
`expand` walks the tree once, binding blocks (`blocks`), named tensors (`scopes`),
repetition and naming, reading each step's arguments through the catalogue and typing
it as it goes; `sizing` counts the layers a chain will make before making any;
`pruning` keeps the layers on a path from an input to an output.

Imports: `graph`, `layers`, `syntax`, `support`.
"""

"""Syntax: `.cnn` text to a syntax tree, and the `{expr}` evaluator.

`parser` loads the Lark grammar (top-level `grammar/cnn.lark`, LALR) and builds `ast`
nodes; `guard` bounds what any text can cost while Lark reads it; `expr` evaluates
`{expr}` with its own small evaluator (no Python is ever evaluated). Nothing here knows
the list of layer kinds: the grammar knows argument forms, the catalogue knows steps.

Imports: `support` (and `cnndsl.errors`).
"""

"""The words of the `.cnn` language for editors: colouring (a Pygments lexer) and, later,
the language server's completion.

Both need to know which words are layers (`conv`), activations (`relu`), merges
(`concat`), options (`bias=`) and constants (`same`, `false`). The grammar does not know
(to it they are all names); the layer catalogue does. `words` reads them from the
catalogue, so a new layer kind is coloured and completed without touching this package,
and the two editors can never disagree about a word.

`words` imports nothing outside cnndsl; `lexer` imports Pygments and is loaded by Pygments
itself, through the `pygments.lexers` entry point (`pygmentize -l cnn`), so this package
stays importable where Pygments is not installed.
"""

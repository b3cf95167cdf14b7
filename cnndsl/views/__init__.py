"""Views: the typed graph turned into something to read.

`report` (the `shapes` table, JSON, Markdown, CSV) with `outline` (its tree of merges)
and `report_html`; `notebook` (what a notebook shows of a `Network`); `drawing/` (the
diagram as SVG, dot or Mermaid, and PNG/PDF through the `render` extra); `pictures/`
(feature maps, through matplotlib); `printing/` (the graph back as `.cnn` text, what
`cnndsl import` writes).

Imports: `language` (the printer checks its own text by compiling it), `graph`,
`layers`, `syntax`, `support`; never `backends`: a view reads shapes and numbers, it
runs nothing (feature maps are computed by the caller).
"""

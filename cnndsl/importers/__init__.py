"""Importers: something else turned into cnndsl's IR (a typed `Graph`).

They mirror the backends: a backend turns the IR into something, an importer turns
something into the IR, and the printer (`cnndsl.views.printing.printer`) turns the IR
into `.cnn` text.
An importer never writes text itself.

Imports: `backends` (to load a `.keras` file safely), `graph`, `layers`, `support`.
"""

"""Support: what every layer of the package leans on, and nothing of cnndsl's own meaning.

`files` writes outputs atomically and reads `.npz` without pickle, `paths` checks a
command's outputs against its inputs, `signals` ends a command cleanly on Ctrl-C or
SIGTERM, `console` prints results and errors, `escaping` makes names safe in every text
format cnndsl writes, `limits` holds every limit in one place, `util` the rest.

Imports: nothing of cnndsl but `cnndsl.errors` (which is of this layer too).
"""

"""Collection for the whole tree (the doctests in cnndsl/ included): a module that exists
only for an optional extra is not collected where that extra is not installed."""

import importlib.util

collect_ignore = []
if importlib.util.find_spec("pygments") is None:  # the `editor` extra: Pygments loads it
    collect_ignore.append("cnndsl/highlighting/lexer.py")

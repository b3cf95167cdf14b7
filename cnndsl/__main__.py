"""`python -m cnndsl` is the `cnndsl` command."""

from .cli import entry

entry()
